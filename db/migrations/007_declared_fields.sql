-- 007_declared_fields: how many fields the citizen declared (leaf elements with text under <applicant>
-- and <declaration>), so /v1/stats can set them against the fields the population record confirmed
-- and a portal could have prefilled.
ALTER TABLE dossier ADD COLUMN declared_fields SMALLINT UNSIGNED NOT NULL DEFAULT 0;
