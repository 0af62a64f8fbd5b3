-- 004_audit_attachments: the hash-chained audit trail (docs/audit.md) and dossier attachments.
-- audit_log is append-only (triggers below); audit_head is the one row every append locks FOR UPDATE,
-- which serialises appends into a single chain and hands out gapless ids.

CREATE TABLE audit_log (
  id              BIGINT UNSIGNED NOT NULL PRIMARY KEY, -- assigned by the appender: head.last_id + 1
  at              DATETIME(6)   NOT NULL,               -- UTC
  actor_client_id BIGINT UNSIGNED NOT NULL,             -- api_client id, 0 = system
  role            VARCHAR(16)   NOT NULL,               -- official | portal | national | system
  ward            VARCHAR(8)    NULL,
  action          VARCHAR(48)   NOT NULL,
  dossier_code    VARCHAR(48)   NULL,
  before_state    VARCHAR(32)   NULL,
  after_state     VARCHAR(32)   NULL,
  request_id      VARCHAR(64)   NULL,
  detail          VARCHAR(1000) NULL,                   -- short, never a personal ID in clear
  prev_hash       BINARY(32)    NOT NULL,               -- row_hash of row id-1 (zeros for row 1)
  row_hash        BINARY(32)    NOT NULL,               -- SHA-256 of the canonical encoding (docs/audit.md)
  KEY ix_dossier (dossier_code, id),
  KEY ix_actor (actor_client_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_head (
  one       TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  last_id   BIGINT UNSIGNED  NOT NULL,
  last_hash BINARY(32)       NOT NULL,
  CONSTRAINT ck_audit_head_one CHECK (one = 1)
) ENGINE=InnoDB;

INSERT INTO audit_head (one, last_id, last_hash) VALUES (1, 0, UNHEX(REPEAT('00', 32)));

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log rows are append-only';

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log rows are append-only';

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit chain head cannot be deleted';

-- The head only moves forward.
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head FOR EACH ROW
BEGIN
  IF NEW.one <> OLD.one OR NEW.last_id <= OLD.last_id THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the audit chain head only moves forward';
  END IF;
END;

-- Files a portal attached to a dossier. Bytes live in MariaDB (docs/attachments.md: stateless motcuad,
-- one backup, one transaction with the audit row).
CREATE TABLE attachment (
  id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dossier_id     BIGINT UNSIGNED NOT NULL,
  component_code VARCHAR(16)   NULL,
  file_name      VARCHAR(255)  NOT NULL,
  content_type   VARCHAR(32)   NOT NULL,   -- detected from the bytes, never taken from the client
  size_bytes     BIGINT UNSIGNED NOT NULL,
  sha256         BINARY(32)    NOT NULL,
  uploaded_by    BIGINT UNSIGNED NOT NULL, -- api_client id
  uploaded_at    DATETIME(6)   NOT NULL,
  request_id     VARCHAR(64)   NULL,
  bytes          LONGBLOB      NOT NULL,
  KEY ix_dossier (dossier_id, id),
  CONSTRAINT fk_attachment_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;
