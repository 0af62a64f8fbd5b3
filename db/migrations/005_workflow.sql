-- 005_workflow: what the officials' workflow actions record (POST /v1/dossiers/{code}/actions/{action}).
-- The dossier row carries the current facts (assignee, paused clock, fee, outcome, finish time); the
-- supplement requests and apology slips are their own rows so that each round keeps its due times.

ALTER TABLE dossier
  ADD COLUMN assignee        VARCHAR(100)  NULL,      -- officer the dossier is assigned to
  ADD COLUMN paused_at       DATETIME(6)   NULL,      -- clock paused since (supplement requested)
  ADD COLUMN fee_vnd         BIGINT        NULL,      -- fee requested (catalog_fee_total)
  ADD COLUMN paid_at         DATETIME(6)   NULL,
  ADD COLUMN payment_ref     VARCHAR(128)  NULL,
  ADD COLUMN outcome_reason  VARCHAR(1000) NULL,      -- reject / refuse / stop / withdraw reason
  ADD COLUMN result_id       VARCHAR(64)   NULL,      -- the signed result issued on approve
  ADD COLUMN finished_at     DATETIME(6)   NULL,      -- approve / reject: overdue when > due_at
  ADD COLUMN rescheduled_to  DATETIME(6)   NULL,      -- latest apology slip's new date (form 04)
  ADD KEY ix_ward_due_id (ward, due_at, id),
  ADD KEY ix_ward_assignee (ward, assignee);

-- Old and new due times of the transition (supplement resume moves the due time).
ALTER TABLE dossier_history
  ADD COLUMN due_before DATETIME(6) NULL,
  ADD COLUMN due_after  DATETIME(6) NULL;

CREATE TABLE supplement_request (
  id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dossier_id    BIGINT UNSIGNED NOT NULL,
  requested_at  DATETIME(6)   NOT NULL,               -- the clock paused here
  requested_by  BIGINT UNSIGNED NOT NULL,
  reason        VARCHAR(1000) NOT NULL,
  components    VARCHAR(1000) NOT NULL,               -- JSON array of component codes asked for
  old_due_at    DATETIME(6)   NULL,
  resumed_at    DATETIME(6)   NULL,                   -- the citizen supplemented; NULL while open
  resumed_by    BIGINT UNSIGNED NULL,
  supplied      VARCHAR(1000) NULL,                   -- JSON array of component codes supplied
  new_due_at    DATETIME(6)   NULL,
  KEY ix_dossier (dossier_id, id),
  CONSTRAINT fk_supp_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;

-- Form 04: apology and new appointment for a dossier that will be late.
CREATE TABLE apology_slip (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dossier_id  BIGINT UNSIGNED NOT NULL,
  at          DATETIME(6)   NOT NULL,
  by_client   BIGINT UNSIGNED NOT NULL,
  due_at      DATETIME(6)   NULL,                     -- the due time being missed
  new_date    DATETIME(6)   NOT NULL,                 -- the new appointment
  note        VARCHAR(1000) NOT NULL,
  KEY ix_dossier (dossier_id, id),
  CONSTRAINT fk_apology_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;
