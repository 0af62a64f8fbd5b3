-- 006_reuse: once-only reuse (docs/reuse.md). Per component: whether the catalog lets it be reused and
-- from where, whether it was (DuocTaiSuDung) and which signed result replaced it (MaKetQuaThayThe), for
-- the national sync. Per dossier: the flag raised when a reused result is revoked after submission.

ALTER TABLE dossier_component
  ADD COLUMN reuse_source       VARCHAR(16) NULL,               -- population | result (catalog), NULL: upload only
  ADD COLUMN reused             BOOLEAN     NOT NULL DEFAULT 0, -- DuocTaiSuDung
  ADD COLUMN replaced_by_result VARCHAR(64) NULL,               -- MaKetQuaThayThe: result.result_id
  ADD KEY ix_replaced_by (replaced_by_result);

ALTER TABLE dossier
  ADD COLUMN reuse_flag       VARCHAR(300) NULL,                -- why the official must look again
  ADD COLUMN reuse_flagged_at DATETIME(6)  NULL,
  ADD KEY ix_procedure_ward (procedure_code, ward);
