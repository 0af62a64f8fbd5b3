/* dossiers.c - SQL behind dossier intake and reads. Prepared statements only. */
#include "dossiers.h"

#include <stdlib.h>
#include <string.h>

/* One set-based statement whose only parameter is a JSON array of rows (JSON_TABLE). */
static mc_err exec_json(db_conn *c, const char *sql, const char *json)
{
    db_param p[] = {db_str(json)};
    return db_exec(c, sql, p, 1, NULL, NULL);
}

mc_err dossiers_insert_rows(db_conn *c, const char *json)
{
    return exec_json(c,
                   "INSERT INTO dossier (code, procedure_code, ward, agency_id, channel, source, client_id,"
                   " applicant_pid, applicant_name, applicant_birth, applicant_gender, contact_phone, contact_email,"
                   " contact_address, summary, state, national_status, received_at, due_at, body_sha256, body,"
                   " receipt, declared_fields) SELECT jt.code, jt.procedure_code, jt.ward, jt.agency_id, jt.channel, jt.source,"
                   " jt.client_id, jt.pid, jt.name, jt.birth, jt.gender, jt.phone, jt.email, jt.address, jt.summary,"
                   " jt.state, jt.national, jt.received, jt.due, UNHEX(jt.sha), jt.body, jt.receipt, jt.declared"
                   " FROM JSON_TABLE(?, '$[*]' COLUMNS (code VARCHAR(48) PATH '$.code',"
                   " procedure_code VARCHAR(16) PATH '$.procedure', ward VARCHAR(8) PATH '$.ward',"
                   " agency_id VARCHAR(32) PATH '$.agency', channel INT PATH '$.channel',"
                   " source VARCHAR(16) PATH '$.source', client_id BIGINT UNSIGNED PATH '$.client',"
                   " pid CHAR(12) PATH '$.pid', name VARCHAR(200) PATH '$.name', birth DATE PATH '$.birth',"
                   " gender CHAR(1) PATH '$.gender', phone VARCHAR(32) PATH '$.phone',"
                   " email VARCHAR(254) PATH '$.email', address VARCHAR(400) PATH '$.address',"
                   " summary VARCHAR(1000) PATH '$.summary', state VARCHAR(32) PATH '$.state',"
                   " national INT PATH '$.national', received DATETIME(6) PATH '$.received',"
                   " due DATETIME(6) PATH '$.due', sha CHAR(64) PATH '$.sha', body LONGTEXT PATH '$.body',"
                   " receipt LONGTEXT PATH '$.receipt', declared INT PATH '$.declared')) AS jt",
                   json);
}

mc_err dossiers_insert_components(db_conn *c, const char *json)
{
    return exec_json(c,
                   "INSERT INTO dossier_component (dossier_id, code, name_vi, required, plan, file_ref, file_name,"
                   " result_ref, reuse_source, reused, replaced_by_result, satisfied_at, evidence)"
                   " SELECT d.id, jt.code, jt.name_vi, jt.required, jt.plan, jt.file_ref, jt.file_name,"
                   " jt.result_ref, jt.source, COALESCE(jt.reused, 0), jt.result,"
                   " IF(jt.result IS NULL, NULL, UTC_TIMESTAMP(6)), jt.evidence"
                   " FROM JSON_TABLE(?, '$[*]' COLUMNS (dossier VARCHAR(48) PATH '$.dossier',"
                   " code VARCHAR(16) PATH '$.code', name_vi VARCHAR(300) PATH '$.name',"
                   " required INT PATH '$.required', plan VARCHAR(16) PATH '$.plan',"
                   " file_ref VARCHAR(128) PATH '$.file_ref', file_name VARCHAR(255) PATH '$.file_name',"
                   " result_ref VARCHAR(128) PATH '$.result_ref', source VARCHAR(16) PATH '$.source',"
                   " reused INT PATH '$.reused', result VARCHAR(64) PATH '$.result',"
                   " evidence VARCHAR(200) PATH '$.evidence')) AS jt JOIN dossier d ON d.code = jt.dossier",
                   json);
}

mc_err dossiers_insert_persons(db_conn *c, const char *json)
{
    return exec_json(c,
                   "INSERT INTO dossier_person (dossier_id, seq, role, pid, full_name, birth_date)"
                   " SELECT d.id, jt.seq, jt.role, jt.pid, jt.full_name, jt.birth_date FROM JSON_TABLE(?, '$[*]'"
                   " COLUMNS (dossier VARCHAR(48) PATH '$.dossier', seq INT PATH '$.seq',"
                   " role VARCHAR(16) PATH '$.role', pid CHAR(12) PATH '$.pid', full_name VARCHAR(200) PATH '$.name',"
                   " birth_date DATE PATH '$.birth_date')) AS jt JOIN dossier d ON d.code = jt.dossier",
                   json);
}

mc_err dossiers_insert_history_rows(db_conn *c, const char *json)
{
    return exec_json(c,
                   "INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state, national_status,"
                   " actor_client_id, note, request_id) SELECT d.id, UTC_TIMESTAMP(6), jt.action, NULL,"
                   " jt.to_state, jt.national_status, jt.actor, jt.note, jt.request_id FROM JSON_TABLE(?, '$[*]'"
                   " COLUMNS (dossier VARCHAR(48) PATH '$.dossier', action VARCHAR(32) PATH '$.action',"
                   " to_state VARCHAR(32) PATH '$.to_state', national_status INT PATH '$.national_status',"
                   " actor BIGINT UNSIGNED PATH '$.actor', note VARCHAR(1000) PATH '$.note',"
                   " request_id VARCHAR(64) PATH '$.request_id')) AS jt JOIN dossier d ON d.code = jt.dossier",
                   json);
}

mc_err dossiers_idem_insert_rows(db_conn *c, const char *json)
{
    return exec_json(c,
                   "INSERT INTO idempotency_key (client_id, idem_key, body_sha256, dossier_id, created_at)"
                   " SELECT jt.client, jt.idem_key, UNHEX(jt.sha), d.id, UTC_TIMESTAMP(6) FROM JSON_TABLE(?, '$[*]'"
                   " COLUMNS (client BIGINT UNSIGNED PATH '$.client', idem_key VARCHAR(128) PATH '$.key',"
                   " sha CHAR(64) PATH '$.sha', dossier VARCHAR(48) PATH '$.dossier')) AS jt"
                   " JOIN dossier d ON d.code = jt.dossier",
                   json);
}

mc_err dossiers_idem_find(db_conn *c, uint64_t client_id, const char *key, unsigned char hash[32],
                          uint64_t *dossier_id)
{
    db_rows *r = NULL;
    db_param p[] = {db_i64((long long)client_id), db_str(key)};
    mc_err rc = db_query(c, "SELECT body_sha256, dossier_id FROM idempotency_key WHERE client_id = ? AND idem_key = ?",
                         p, 2, &r);
    if (rc) return rc;
    size_t len = 0;
    const char *h = db_rows_get(r, 0, 0, &len);
    if (!h || len != 32) rc = MC_ERR_NOT_FOUND;
    else {
        memcpy(hash, h, 32);
        *dossier_id = strtoull(db_rows_get(r, 0, 1, NULL), NULL, 10);
    }
    db_rows_free(r);
    return rc;
}

mc_err dossiers_next_seq(db_conn *c, const char *agency_id, const char *day, long count, long *last)
{
    uint64_t v = 0, n = 0;
    db_param up[] = {db_i64(count), db_str(agency_id), db_str(day)};
    /* UPDATE first: it takes the row's X lock at once. INSERT ... ON DUPLICATE KEY UPDATE would take an
     * S lock on the duplicate and then upgrade it, which deadlocks two concurrent bumps. */
    mc_err rc = db_exec(c, "UPDATE dossier_seq SET last = LAST_INSERT_ID(last + ?) WHERE agency_id = ? AND day = ?",
                        up, 3, &n, &v);
    if (rc) return rc;
    if (n == 0) { /* first dossier of the day for this agency; a concurrent twin insert makes this a retry */
        db_param ins[] = {db_str(agency_id), db_str(day), db_i64(count)};
        rc = db_exec(c, "INSERT INTO dossier_seq (agency_id, day, last) VALUES (?, ?, LAST_INSERT_ID(?))", ins, 3,
                     NULL, &v);
        if (rc == MC_ERR_CONFLICT) rc = MC_ERR_DB_RETRY;
        if (rc) return rc;
    }
    *last = (long)v;
    return MC_OK;
}

mc_err dossiers_receipt(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c, "SELECT code, receipt FROM dossier WHERE id = ?", p, 1, out);
}

mc_err dossiers_get(db_conn *c, const char *code, db_rows **out)
{
    db_param p[] = {db_str(code)};
    return db_query(c,
                    "SELECT id, code, procedure_code, ward, agency_id, channel, source, client_id, applicant_pid,"
                    " applicant_name, state, national_status, received_at, due_at, version, summary, status_reason"
                    " FROM dossier WHERE code = ?",
                    p, 1, out);
}

mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c,
                    "SELECT code, name_vi, required, plan, file_ref, file_name, result_ref, satisfied_at, evidence"
                    " FROM dossier_component WHERE dossier_id = ? ORDER BY code",
                    p, 1, out);
}

mc_err dossiers_history(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c,
                    "SELECT at, action, from_state, to_state, national_status, actor_client_id, note"
                    " FROM dossier_history WHERE dossier_id = ? ORDER BY id",
                    p, 1, out);
}
