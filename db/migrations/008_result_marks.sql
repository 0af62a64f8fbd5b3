-- 008_result_marks: the strict verifier's verdict on signed bytes, kept by their content hash so that
-- reusing a result after a restart need not verify it again (docs/reuse.md, "Verification marks").
-- A mark says: the bytes whose SHA-256 is `sha256` passed xverify in the epoch `trust` (a hash of the
-- trust fingerprint - anchors, CRL entries, result XSD, skew - and of the mark key) and say these facts. `mac` is HMAC-SHA256 under the
-- server's mark key over all of it, so a row written or edited by anyone without the key is worthless;
-- bytes edited in `result` hash differently and find no mark. Revocation is not here: it is read from
-- `result` on every use.
CREATE TABLE result_mark (
  sha256       BINARY(32)  NOT NULL PRIMARY KEY,
  trust        BINARY(32)  NOT NULL,
  result_id    VARCHAR(64) NOT NULL,             -- as signed (the document's resultId)
  result_type  VARCHAR(32) NOT NULL,
  holder_pid   CHAR(12)    NOT NULL,
  valid_until  CHAR(10)    NOT NULL DEFAULT '',  -- the document's validUntil, '' if none
  deceased_pid CHAR(12)    NOT NULL DEFAULT '',  -- content field deceased.personalId, '' if none
  mac          BINARY(32)  NOT NULL,
  marked_at    DATETIME(6) NOT NULL
) ENGINE=InnoDB;
