-- 009_receipt_with_key: the 201 receipt is kept where a replay reads it - with its Idempotency-Key -
-- and no longer in every dossier row: a dossier submitted without a key is never replayed, and its
-- receipt (about 1.5 KB) was a third of the row that every intake writes (docs/benchmarks.md).
-- Each step can run again: DDL commits on its own, so a failure half-way leaves the earlier steps done.
ALTER TABLE idempotency_key ADD COLUMN IF NOT EXISTS receipt MEDIUMTEXT NULL;
UPDATE idempotency_key k JOIN dossier d ON d.id = k.dossier_id SET k.receipt = d.receipt WHERE k.receipt IS NULL;
ALTER TABLE dossier DROP COLUMN IF EXISTS receipt;
