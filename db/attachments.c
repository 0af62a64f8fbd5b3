/* attachments.c - SQL behind dossier attachments. Prepared statements only; the bytes go to MariaDB as
 * one bound BLOB parameter (no copy on our side). */
#include "attachments.h"

#include <stdio.h>

#include <stdlib.h>

mc_err attachments_lock_dossier(db_conn *c, uint64_t dossier_id, uint64_t *used, char *state, size_t statecap)
{
    db_rows *r = NULL;
    db_param p[] = {db_i64((long long)dossier_id)};
    *used = 0;
    mc_err rc = db_query(c, "SELECT id, state FROM dossier WHERE id = ? FOR UPDATE", p, 1, &r);
    if (!rc && db_rows_count(r) != 1) rc = MC_ERR_NOT_FOUND;
    if (!rc) snprintf(state, statecap, "%s", db_rows_get(r, 0, 1, NULL));
    db_rows_free(r);
    r = NULL;
    if (!rc) rc = db_query(c, "SELECT COALESCE(SUM(size_bytes), 0) FROM attachment WHERE dossier_id = ?", p, 1, &r);
    if (!rc && db_rows_count(r) == 1 && db_rows_get(r, 0, 0, NULL))
        *used = strtoull(db_rows_get(r, 0, 0, NULL), NULL, 10);
    db_rows_free(r);
    return rc;
}

mc_err attachments_insert(db_conn *c, const attachments_new *a, uint64_t *id)
{
    db_param p[] = {db_i64((long long)a->dossier_id), db_str(a->component), db_str(a->file_name),
                    db_str(a->content_type), db_i64((long long)a->len), db_blob(a->sha256, 32),
                    db_i64((long long)a->uploaded_by), db_str(a->request_id), db_blob(a->bytes, a->len)};
    return db_exec(c,
                   "INSERT INTO attachment (dossier_id, component_code, file_name, content_type, size_bytes, sha256,"
                   " uploaded_by, uploaded_at, request_id, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), ?, ?)",
                   p, 9, NULL, id);
}

mc_err attachments_list(db_conn *c, uint64_t dossier_id, db_rows **out)
{
    db_param p[] = {db_i64((long long)dossier_id)};
    return db_query(c,
                    "SELECT id, component_code, file_name, content_type, size_bytes, LOWER(HEX(sha256)), uploaded_at,"
                    " uploaded_by FROM attachment WHERE dossier_id = ? ORDER BY id",
                    p, 1, out);
}

mc_err attachments_get(db_conn *c, uint64_t dossier_id, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id), db_i64((long long)dossier_id)};
    return db_query(c,
                    "SELECT id, component_code, file_name, content_type, size_bytes, LOWER(HEX(sha256)), uploaded_at,"
                    " uploaded_by, bytes FROM attachment WHERE id = ? AND dossier_id = ?",
                    p, 2, out);
}
