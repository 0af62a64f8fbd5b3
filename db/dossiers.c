/* dossiers.c - SQL behind dossier intake and reads. Prepared statements only. */
#include "dossiers.h"

#include <stdlib.h>
#include <string.h>

static db_param opt(const char *s) { return db_str(s && *s ? s : NULL); }

mc_err dossiers_insert(db_conn *c, const dossier_new *d, uint64_t *id)
{
    db_param p[] = {db_str(d->procedure_code), db_str(d->ward), db_str(d->agency_id), db_i64(d->channel),
                    db_str(d->source), db_i64((long long)d->client_id), db_str(d->pid), db_str(d->name),
                    db_str(d->birth_date), db_str(d->gender), opt(d->phone),
                    opt(d->email), opt(d->address),
                    db_str(d->summary), db_str(d->state), db_i64(d->national_status), db_str(d->received_at),
                    db_str(d->due_at), db_blob(d->body_sha256, 32), db_blob(d->body, d->body_len)};
    return db_exec(c,
                   "INSERT INTO dossier (procedure_code, ward, agency_id, channel, source, client_id,"
                   " applicant_pid, applicant_name, applicant_birth, applicant_gender, contact_phone,"
                   " contact_email, contact_address, summary, state, national_status, received_at, due_at,"
                   " body_sha256, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   p, sizeof(p) / sizeof(p[0]), NULL, id);
}

mc_err dossiers_insert_components(db_conn *c, uint64_t id, const char *json)
{
    db_param p[] = {db_i64((long long)id), db_str(json)};
    return db_exec(c,
                   "INSERT INTO dossier_component (dossier_id, code, name_vi, required, plan, file_ref, file_name,"
                   " result_ref) SELECT ?, jt.code, jt.name_vi, jt.required, jt.plan, jt.file_ref, jt.file_name,"
                   " jt.result_ref FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                   " code VARCHAR(16) PATH '$.code', name_vi VARCHAR(300) PATH '$.name',"
                   " required INT PATH '$.required', plan VARCHAR(16) PATH '$.plan',"
                   " file_ref VARCHAR(128) PATH '$.file_ref', file_name VARCHAR(255) PATH '$.file_name',"
                   " result_ref VARCHAR(128) PATH '$.result_ref')) AS jt",
                   p, 2, NULL, NULL);
}

mc_err dossiers_insert_persons(db_conn *c, uint64_t id, const char *json)
{
    db_param p[] = {db_i64((long long)id), db_str(json)};
    return db_exec(c,
                   "INSERT INTO dossier_person (dossier_id, seq, role, pid, full_name, birth_date)"
                   " SELECT ?, jt.seq, jt.role, jt.pid, jt.full_name, jt.birth_date FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                   " seq INT PATH '$.seq', role VARCHAR(16) PATH '$.role', pid CHAR(12) PATH '$.pid',"
                   " full_name VARCHAR(200) PATH '$.name', birth_date DATE PATH '$.birth_date')) AS jt",
                   p, 2, NULL, NULL);
}

mc_err dossiers_insert_history(db_conn *c, uint64_t id, const char *action, const char *from_state,
                               const char *to_state, int national_status, uint64_t actor, const char *note,
                               const char *request_id)
{
    db_param p[] = {db_i64((long long)id), db_str(action), db_str(from_state), db_str(to_state),
                    db_i64(national_status), actor ? db_i64((long long)actor) : db_null(), db_str(note),
                    db_str(request_id)};
    return db_exec(c,
                   "INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state, national_status,"
                   " actor_client_id, note, request_id) VALUES (?, UTC_TIMESTAMP(6), ?,?,?,?,?,?,?)",
                   p, 8, NULL, NULL);
}

mc_err dossiers_idem_insert(db_conn *c, uint64_t client_id, const char *key, const unsigned char hash[32],
                            uint64_t dossier_id)
{
    db_param p[] = {db_i64((long long)client_id), db_str(key), db_blob(hash, 32), db_i64((long long)dossier_id)};
    return db_exec(c,
                   "INSERT INTO idempotency_key (client_id, idem_key, body_sha256, dossier_id, created_at)"
                   " VALUES (?,?,?,?, UTC_TIMESTAMP(6))",
                   p, 4, NULL, NULL);
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

mc_err dossiers_next_seq(db_conn *c, const char *agency_id, const char *day, long *seq)
{
    uint64_t v = 0;
    db_param p[] = {db_str(agency_id), db_str(day)};
    /* LAST_INSERT_ID(expr) hands the new value back on both the insert and the update path. */
    mc_err rc = db_exec(c,
                        "INSERT INTO dossier_seq (agency_id, day, last) VALUES (?, ?, LAST_INSERT_ID(1))"
                        " ON DUPLICATE KEY UPDATE last = LAST_INSERT_ID(last + 1)",
                        p, 2, NULL, &v);
    if (!rc) *seq = (long)v;
    return rc;
}

mc_err dossiers_set_code(db_conn *c, uint64_t id, const char *code, const char *receipt)
{
    db_param p[] = {db_str(code), db_str(receipt), db_i64((long long)id)};
    return db_exec(c, "UPDATE dossier SET code = ?, receipt = ? WHERE id = ?", p, 3, NULL, NULL);
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
                    " applicant_name, state, national_status, received_at, due_at, version, summary"
                    " FROM dossier WHERE code = ?",
                    p, 1, out);
}

mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c,
                    "SELECT code, name_vi, required, plan, file_ref, file_name, result_ref"
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
