-- 003_identity: identity checks against the national population database.
-- A dossier waits in 'submitted' (first check) or 'identity_pending' (parked: remote unavailable) until
-- a sweeper claims it with SELECT ... FOR UPDATE SKIP LOCKED and a lease, so several motcuad processes
-- never check one dossier at the same moment. Only the outcome is stored, never the population record.

ALTER TABLE dossier
  ADD COLUMN status_reason VARCHAR(1000) NULL,
  ADD COLUMN identity_attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN identity_next_at DATETIME(6) NULL,
  ADD COLUMN identity_lease_until DATETIME(6) NULL,
  ADD COLUMN identity_lease_token CHAR(32) NULL,
  ADD KEY ix_identity_due (state, identity_next_at),
  ADD KEY ix_identity_lease (identity_lease_token);

ALTER TABLE dossier_component
  ADD COLUMN satisfied_at DATETIME(6) NULL,
  ADD COLUMN evidence VARCHAR(200) NULL;

CREATE TABLE identity_check (
  dossier_id  BIGINT UNSIGNED NOT NULL,
  seq         TINYINT UNSIGNED NOT NULL,     -- 0 the applicant, else dossier_person.seq
  role        VARCHAR(16)  NOT NULL,
  outcome     VARCHAR(16)  NOT NULL,         -- verified | mismatch | not_found | deceased
  matched     VARCHAR(100) NOT NULL,         -- fields the remote confirmed, comma-separated
  mismatched  VARCHAR(100) NOT NULL,         -- fields the remote contradicted
  request_id  VARCHAR(64)  NOT NULL,         -- the id sent to the gateway, for its audit
  source      VARCHAR(32)  NOT NULL,
  checked_at  DATETIME(6)  NOT NULL,
  PRIMARY KEY (dossier_id, seq),
  CONSTRAINT fk_idcheck_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;
