-- 001_init: API clients, catalog copy, dossiers, components, history, idempotency, daily sequence.
-- Times are UTC DATETIME(6); the API renders them in Asia/Ho_Chi_Minh (+07:00).

CREATE TABLE api_client (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(100) NOT NULL,
  role        VARCHAR(16)  NOT NULL,
  ward        VARCHAR(8)   NULL,
  key_prefix  CHAR(12)     NOT NULL,
  key_hash    BINARY(32)   NOT NULL,           -- SHA-256 of the whole key; the key itself is never stored
  created_at  DATETIME(6)  NOT NULL,
  revoked_at  DATETIME(6)  NULL,
  UNIQUE KEY uk_key_hash (key_hash),
  CONSTRAINT ck_role CHECK (role IN ('portal','national','official','monitor'))
) ENGINE=InnoDB;

CREATE TABLE unit (
  code           VARCHAR(8)   NOT NULL PRIMARY KEY,
  agency_id      VARCHAR(32)  NOT NULL,
  name           VARCHAR(200) NOT NULL,
  effective_from DATE         NOT NULL
) ENGINE=InnoDB;

CREATE TABLE procedure_def (
  code            VARCHAR(16)  NOT NULL PRIMARY KEY,
  name_vi         VARCHAR(300) NOT NULL,
  name_en         VARCHAR(300) NOT NULL,
  time_limit_kind TINYINT      NOT NULL,       -- 0 none, 1 same day (15:00 rule), 2 working days
  time_limit_days INT          NOT NULL,
  result_type     VARCHAR(32)  NULL,
  loaded_at       DATETIME(6)  NOT NULL
) ENGINE=InnoDB;

CREATE TABLE procedure_component (
  procedure_code VARCHAR(16)  NOT NULL,
  code           VARCHAR(16)  NOT NULL,
  name_vi        VARCHAR(300) NOT NULL,
  required       BOOLEAN      NOT NULL,
  satisfy        VARCHAR(64)  NOT NULL,        -- upload | population | result:<type code>
  PRIMARY KEY (procedure_code, code)
) ENGINE=InnoDB;

-- One row per agency and local day; the dossier transaction bumps it last so the row lock is short.
CREATE TABLE dossier_seq (
  agency_id VARCHAR(32) NOT NULL,
  day       CHAR(6)     NOT NULL,              -- yyMMdd, local date
  last      INT         NOT NULL,
  PRIMARY KEY (agency_id, day)
) ENGINE=InnoDB;

CREATE TABLE dossier (
  id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code             VARCHAR(48)   NULL,         -- set in the same transaction, after the sequence bump
  procedure_code   VARCHAR(16)   NOT NULL,
  ward             VARCHAR(8)    NOT NULL,
  agency_id        VARCHAR(32)   NOT NULL,
  channel          TINYINT       NOT NULL,     -- 1 in person, 2 online, 3 postal
  source           VARCHAR(16)   NOT NULL,     -- portal | national
  client_id        BIGINT UNSIGNED NOT NULL,
  applicant_pid    CHAR(12)      NOT NULL,
  applicant_name   VARCHAR(200)  NOT NULL,
  applicant_birth  DATE          NOT NULL,
  applicant_gender CHAR(1)       NOT NULL,
  contact_phone    VARCHAR(32)   NULL,
  contact_email    VARCHAR(254)  NULL,
  contact_address  VARCHAR(400)  NULL,
  summary          VARCHAR(1000) NOT NULL,
  state            VARCHAR(32)   NOT NULL,
  national_status  TINYINT       NOT NULL,
  received_at      DATETIME(6)   NOT NULL,
  due_at           DATETIME(6)   NULL,         -- NULL: no fixed return date
  version          INT UNSIGNED  NOT NULL DEFAULT 1,
  body_sha256      BINARY(32)    NOT NULL,
  body             MEDIUMBLOB    NOT NULL,     -- the XML exactly as submitted
  receipt          MEDIUMTEXT    NULL,         -- the 201 body, replayed verbatim for Idempotency-Key
  UNIQUE KEY uk_code (code),
  KEY ix_client (client_id, id),
  KEY ix_ward_state_due (ward, state, due_at),
  KEY ix_applicant (applicant_pid)
) ENGINE=InnoDB;

CREATE TABLE dossier_component (
  dossier_id BIGINT UNSIGNED NOT NULL,
  code       VARCHAR(16)  NOT NULL,
  name_vi    VARCHAR(300) NOT NULL,
  required   BOOLEAN      NOT NULL,
  plan       VARCHAR(16)  NOT NULL,            -- upload | population | result | missing
  file_ref   VARCHAR(128) NULL,
  file_name  VARCHAR(255) NULL,
  result_ref VARCHAR(128) NULL,
  PRIMARY KEY (dossier_id, code),
  CONSTRAINT fk_comp_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;

-- Other persons named in the dossier (parents, spouse, deceased), for identity checks and reuse.
CREATE TABLE dossier_person (
  dossier_id BIGINT UNSIGNED NOT NULL,
  seq        TINYINT UNSIGNED NOT NULL,
  role       VARCHAR(16)  NOT NULL,
  pid        CHAR(12)     NULL,
  full_name  VARCHAR(200) NULL,
  birth_date DATE         NULL,
  PRIMARY KEY (dossier_id, seq),
  CONSTRAINT fk_person_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;

CREATE TABLE dossier_history (
  id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  dossier_id      BIGINT UNSIGNED NOT NULL,
  at              DATETIME(6)  NOT NULL,
  action          VARCHAR(32)  NOT NULL,
  from_state      VARCHAR(32)  NULL,
  to_state        VARCHAR(32)  NOT NULL,
  national_status TINYINT      NOT NULL,
  actor_client_id BIGINT UNSIGNED NULL,
  note            VARCHAR(1000) NULL,
  request_id      VARCHAR(64)  NULL,
  KEY ix_dossier (dossier_id, id),
  CONSTRAINT fk_hist_dossier FOREIGN KEY (dossier_id) REFERENCES dossier (id)
) ENGINE=InnoDB;

CREATE TABLE idempotency_key (
  client_id   BIGINT UNSIGNED NOT NULL,
  idem_key    VARCHAR(128) NOT NULL,
  body_sha256 BINARY(32)   NOT NULL,
  dossier_id  BIGINT UNSIGNED NOT NULL,
  created_at  DATETIME(6)  NOT NULL,
  PRIMARY KEY (client_id, idem_key)
) ENGINE=InnoDB;
