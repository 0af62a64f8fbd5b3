/* idstore.c - SQL behind identity checks. Prepared statements only. */
#include "idstore.h"

#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mc_err idstore_claim(db_conn *c, const char *token, int limit, int lease_s, int *n)
{
    db_rows *r = NULL;
    char *ids = NULL;
    mc_err rc = db_begin(c);
    *n = 0;
    if (rc) return rc;
    db_param p[] = {db_i64(limit)};
    /* SKIP LOCKED: a row another process is claiming right now is simply not ours this time */
    rc = db_query(c,
                  "SELECT id FROM dossier WHERE state IN ('submitted', 'identity_pending')"
                  " AND (identity_next_at IS NULL OR identity_next_at <= UTC_TIMESTAMP(6))"
                  " AND (identity_lease_until IS NULL OR identity_lease_until < UTC_TIMESTAMP(6))"
                  " ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                  p, 1, &r);
    size_t rows = db_rows_count(r), cap = 3 + rows * 21; /* '[' ']' NUL, and 20 digits + ',' an id */
    if (!rc && rows > 0 && !(ids = malloc(cap))) rc = MC_ERR_NOMEM;
    if (!rc && rows > 0) {
        size_t len = 0;
        ids[len++] = '[';
        for (size_t i = 0; i < rows; i++) /* every id claimed is leased: none left locked but idle */
            len += (size_t)snprintf(ids + len, cap - len, "%s%.20s", i ? "," : "", db_rows_get(r, i, 0, NULL));
        ids[len++] = ']';
        ids[len] = '\0';
        uint64_t affected = 0;
        db_param q[] = {db_str(ids), db_i64(lease_s), db_str(token)};
        rc = db_exec(c,
                     "UPDATE dossier d JOIN JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) AS jt"
                     " ON d.id = jt.id SET d.identity_lease_until = UTC_TIMESTAMP(6) + INTERVAL ? SECOND,"
                     " d.identity_lease_token = ?",
                     q, 3, &affected, NULL);
        if (!rc) *n = (int)affected;
    }
    free(ids);
    db_rows_free(r);
    if (rc) {
        db_rollback(c);
        *n = 0;
        return rc;
    }
    return db_commit(c);
}

mc_err idstore_claimed(db_conn *c, const char *token, db_rows **out)
{
    db_param p[] = {db_str(token)};
    return db_query(c,
                    "SELECT id, code, procedure_code, agency_id, state, identity_attempts, applicant_pid,"
                    " applicant_name, DATE_FORMAT(applicant_birth, '%Y%m%d'), applicant_gender"
                    " FROM dossier WHERE identity_lease_token = ? ORDER BY id",
                    p, 1, out);
}

mc_err idstore_claimed_persons(db_conn *c, const char *token, db_rows **out)
{
    db_param p[] = {db_str(token)};
    return db_query(c,
                    "SELECT p.dossier_id, p.seq, p.role, p.pid, p.full_name, DATE_FORMAT(p.birth_date, '%Y%m%d')"
                    " FROM dossier_person p JOIN dossier d ON d.id = p.dossier_id"
                    " WHERE d.identity_lease_token = ? AND p.pid IS NOT NULL ORDER BY p.dossier_id, p.seq",
                    p, 1, out);
}

/* The audit row of an outcome that changed the dossier (system actor; the note names no person). */
static mc_err record_audit(db_conn *c, const idstore_outcome *o)
{
    db_rows *r = NULL;
    db_param p[] = {db_i64((long long)o->dossier_id)};
    mc_err rc = db_query(c, "SELECT code, ward FROM dossier WHERE id = ?", p, 1, &r);
    if (!rc && db_rows_count(r) != 1) rc = MC_ERR_INTERNAL;
    if (!rc) {
        audit_entry e = {.actor_client_id = 0, .role = "system", .ward = db_rows_get(r, 0, 1, NULL),
                         .action = "identity_check", .dossier_code = db_rows_get(r, 0, 0, NULL),
                         .before_state = o->from_state, .after_state = o->to_state, .detail = o->history_note};
        rc = audit_append(c, &e);
    }
    db_rows_free(r);
    return rc;
}

mc_err idstore_record(db_conn *c, const idstore_outcome *o)
{
    uint64_t n = 0;
    mc_err rc = db_begin(c);
    if (rc) return rc;
    db_param up[] = {db_str(o->to_state), db_i64(o->national_status), db_str(o->reason), db_str(o->next_at),
                     db_i64((long long)o->dossier_id), db_str(o->token), db_str(o->from_state)};
    rc = db_exec(c,
                 "UPDATE dossier SET state = ?, national_status = ?, status_reason = ?, identity_next_at = ?,"
                 " identity_attempts = identity_attempts + 1, identity_lease_until = NULL,"
                 " identity_lease_token = NULL, version = version + 1"
                 " WHERE id = ? AND identity_lease_token = ? AND state = ?",
                 up, 7, &n, NULL);
    /* the lease expired and someone else holds it now, or an official acted meanwhile (e.g. refused) */
    if (!rc && n == 0) rc = MC_ERR_CONFLICT;
    if (!rc && o->checks_json) {
        db_param p[] = {db_i64((long long)o->dossier_id), db_str(o->checks_json)};
        rc = db_exec(c,
                     "REPLACE INTO identity_check (dossier_id, seq, role, outcome, matched, mismatched, request_id,"
                     " source, checked_at) SELECT ?, jt.seq, jt.role, jt.outcome, jt.matched, jt.mismatched,"
                     " jt.request_id, 'csdlqg-dancu', UTC_TIMESTAMP(6) FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                     " seq INT PATH '$.seq', role VARCHAR(16) PATH '$.role', outcome VARCHAR(16) PATH '$.outcome',"
                     " matched VARCHAR(100) PATH '$.matched', mismatched VARCHAR(100) PATH '$.mismatched',"
                     " request_id VARCHAR(64) PATH '$.request_id')) AS jt",
                     p, 2, NULL, NULL);
    }
    if (!rc && o->evidence) {
        db_param p[] = {db_str(o->evidence), db_i64((long long)o->dossier_id)};
        rc = db_exec(c,
                     "UPDATE dossier_component SET satisfied_at = UTC_TIMESTAMP(6), evidence = ?"
                     " WHERE dossier_id = ? AND plan = 'population'",
                     p, 2, NULL, NULL);
    }
    if (!rc && o->history_note) {
        db_param p[] = {db_i64((long long)o->dossier_id), db_str(o->from_state), db_str(o->to_state),
                        db_i64(o->national_status), db_str(o->history_note)};
        rc = db_exec(c,
                     "INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state, national_status,"
                     " actor_client_id, note, request_id) VALUES (?, UTC_TIMESTAMP(6), 'identity_check', ?, ?, ?,"
                     " NULL, ?, NULL)",
                     p, 5, NULL, NULL);
    }
    if (!rc && o->history_note) rc = record_audit(c, o); /* last: it locks the audit chain head */
    if (rc) {
        db_rollback(c);
        return rc;
    }
    return db_commit(c);
}

mc_err idstore_checks(db_conn *c, uint64_t dossier_id, db_rows **out)
{
    db_param p[] = {db_i64((long long)dossier_id)};
    return db_query(c,
                    "SELECT seq, role, outcome, matched, mismatched, request_id, source, checked_at"
                    " FROM identity_check WHERE dossier_id = ? ORDER BY seq",
                    p, 1, out);
}
