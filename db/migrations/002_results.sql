-- 002_results: the digital-results repository. One row per signed result, with the signed bytes
-- exactly as signed. Append-only except revocation (enforced by the triggers below).

CREATE TABLE result (
  id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  result_id          VARCHAR(64)   NOT NULL,     -- the document's resultId (root Id = "R-" + it)
  result_type        VARCHAR(32)   NOT NULL,     -- e.g. KQ.G15.000031 (birth registration extract)
  procedure_code     VARCHAR(16)   NOT NULL,
  holder_pid         CHAR(12)      NOT NULL,
  dossier_id         BIGINT UNSIGNED NOT NULL,
  dossier_code       VARCHAR(48)   NOT NULL,
  issuer_agency      VARCHAR(32)   NOT NULL,     -- units.json agency id, e.g. H17.48.01
  issuer_ward        VARCHAR(8)    NOT NULL,     -- ward code, e.g. 20242 (its officials may revoke)
  signer_cert_sha256 CHAR(64)      NOT NULL,     -- SHA-256 of the signer certificate (DER), hex
  issued_at          DATETIME(6)   NOT NULL,     -- UTC
  signed_at          DATETIME      NOT NULL,     -- UTC, the document's signingTime
  valid_until        DATE          NULL,
  revoked_at         DATETIME(6)   NULL,
  revoked_reason     VARCHAR(500)  NULL,
  revoked_by         BIGINT UNSIGNED NULL,       -- api_client id of the official
  signed_xml         MEDIUMBLOB    NOT NULL,     -- served byte-for-byte by GET /v1/results/{id}
  signed_sha256      BINARY(32)    NOT NULL,
  UNIQUE KEY uk_result_id (result_id),
  KEY ix_holder_type (holder_pid, result_type, id),
  KEY ix_dossier (dossier_id),
  CONSTRAINT fk_result_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id),
  CONSTRAINT ck_revocation CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
) ENGINE=InnoDB;

CREATE TRIGGER result_no_delete BEFORE DELETE ON result FOR EACH ROW
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'result rows are append-only';

-- Only the revocation columns may change, and only once (NULL -> set).
CREATE TRIGGER result_only_revoke BEFORE UPDATE ON result FOR EACH ROW
BEGIN
  IF OLD.revoked_at IS NOT NULL OR NEW.revoked_at IS NULL
     OR NOT (NEW.id <=> OLD.id) OR NOT (NEW.result_id <=> OLD.result_id)
     OR NOT (NEW.result_type <=> OLD.result_type) OR NOT (NEW.procedure_code <=> OLD.procedure_code)
     OR NOT (NEW.holder_pid <=> OLD.holder_pid) OR NOT (NEW.dossier_id <=> OLD.dossier_id)
     OR NOT (NEW.dossier_code <=> OLD.dossier_code) OR NOT (NEW.issuer_agency <=> OLD.issuer_agency)
     OR NOT (NEW.issuer_ward <=> OLD.issuer_ward)
     OR NOT (NEW.signer_cert_sha256 <=> OLD.signer_cert_sha256)
     OR NOT (NEW.issued_at <=> OLD.issued_at) OR NOT (NEW.signed_at <=> OLD.signed_at)
     OR NOT (NEW.valid_until <=> OLD.valid_until) OR NOT (NEW.signed_xml <=> OLD.signed_xml)
     OR NOT (NEW.signed_sha256 <=> OLD.signed_sha256) THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'result rows are append-only except one revocation';
  END IF;
END;
