/* dossiers.c - SQL behind dossier intake and reads. Prepared statements only. */
#include "dossiers.h"

#include <stdlib.h>
#include <string.h>

/* One array-bound INSERT per table (dossiers_table order); the bodies travel as bytes, not as text. */
static const struct {
    const char *sql;
    size_t cols;
} inserts[] = {
    [DOSSIERS_T_DOSSIER] = {"INSERT INTO dossier (code, procedure_code, ward, agency_id, channel, source, client_id,"
                            " applicant_pid, applicant_name, applicant_birth, applicant_gender, contact_phone,"
                            " contact_email, contact_address, summary, state, national_status, received_at, due_at,"
                            " body_sha256, body, declared_fields)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING code, id",
                            DOSSIERS_ROW_COLS},
    [DOSSIERS_T_COMPONENT] = {"INSERT INTO dossier_component (dossier_id, code, name_vi, required, plan, file_ref,"
                              " file_name, result_ref, reuse_source, reused, replaced_by_result, satisfied_at,"
                              " evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                              " IF(? IS NULL, NULL, UTC_TIMESTAMP(6)), ?)",
                              COMPONENT_ROW_COLS},
    [DOSSIERS_T_PERSON] = {"INSERT INTO dossier_person (dossier_id, seq, role, pid, full_name, birth_date)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           PERSON_ROW_COLS},
    [DOSSIERS_T_HISTORY] = {"INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state,"
                            " national_status, actor_client_id, note, request_id)"
                            " VALUES (?, UTC_TIMESTAMP(6), ?, NULL, ?, ?, ?, ?, ?)",
                            HISTORY_ROW_COLS},
    [DOSSIERS_T_IDEM] = {"INSERT INTO idempotency_key (client_id, idem_key, body_sha256, dossier_id, receipt,"
                         " created_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
                         IDEM_ROW_COLS},
};

mc_err dossiers_insert(db_conn *c, dossiers_table t, const db_param *rows, size_t n)
{
    if ((size_t)t >= sizeof(inserts) / sizeof(inserts[0]) || t == DOSSIERS_T_DOSSIER) return MC_ERR_INTERNAL;
    return db_exec_bulk(c, inserts[t].sql, rows, inserts[t].cols, n, NULL);
}

mc_err dossiers_insert_dossiers(db_conn *c, const db_param *rows, size_t n, uint64_t *ids)
{
    db_rows *r = NULL;
    mc_err rc = db_query_bulk(c, inserts[DOSSIERS_T_DOSSIER].sql, rows, DOSSIERS_ROW_COLS, n, &r);
    if (rc) return rc;
    /* matched by code, not by position: nothing promises the rows come back in the order they went in */
    for (size_t i = 0; i < n; i++) ids[i] = 0;
    for (size_t k = 0; k < db_rows_count(r); k++) {
        size_t len = 0;
        const char *code = db_rows_get(r, k, 0, &len), *id = db_rows_get(r, k, 1, NULL);
        for (size_t i = 0; code && id && i < n; i++) {
            const db_param *p = &rows[i * DOSSIERS_ROW_COLS]; /* column 0: the code */
            if (ids[i] == 0 && p->len == len && memcmp(p->ptr, code, len) == 0) {
                ids[i] = strtoull(id, NULL, 10);
                break;
            }
        }
    }
    if (db_rows_count(r) != n) rc = MC_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == 0) rc = MC_ERR_INTERNAL;
    db_rows_free(r);
    return rc;
}

mc_err dossiers_idem_find(db_conn *c, uint64_t client_id, const char *key, db_rows **out)
{
    db_param p[] = {db_i64((long long)client_id), db_str(key)};
    mc_err rc = db_query(c,
                         "SELECT k.body_sha256, d.code, k.receipt FROM idempotency_key k"
                         " JOIN dossier d ON d.id = k.dossier_id WHERE k.client_id = ? AND k.idem_key = ?",
                         p, 2, out);
    if (!rc && db_rows_count(*out) == 0) {
        db_rows_free(*out);
        *out = NULL;
        rc = MC_ERR_NOT_FOUND;
    }
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

#define DOSSIER_VIEW_SELECT                                                                                     \
    "SELECT " ACTIONS_SELECT_COLS ", agency_id, channel, source, applicant_pid, applicant_name, received_at,"  \
    " summary, reuse_flag, reuse_flagged_at, declared_fields FROM dossier WHERE code = ?"

mc_err dossiers_get(db_conn *c, const char *code, db_rows **out)
{
    db_param p[] = {db_str(code)};
    return db_query(c, DOSSIER_VIEW_SELECT, p, 1, out);
}

mc_err dossiers_lock(db_conn *c, const char *code, db_rows **out)
{
    db_param p[] = {db_str(code)};
    return db_query(c, DOSSIER_VIEW_SELECT " FOR UPDATE", p, 1, out);
}

mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c,
                    "SELECT dc.code, dc.name_vi, dc.required, dc.plan, dc.file_ref, dc.file_name, dc.result_ref,"
                    " dc.satisfied_at, dc.evidence, dc.reuse_source, dc.reused, dc.replaced_by_result, r.result_type,"
                    " r.issuer_agency, r.issuer_ward, r.issued_at, r.revoked_at FROM dossier_component dc"
                    " LEFT JOIN result r ON r.result_id = dc.replaced_by_result WHERE dc.dossier_id = ? ORDER BY dc.code",
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
