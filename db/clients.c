/* clients.c - SQL for the api_client table. Keys are never stored: only their SHA-256. */
#include "clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mc_err clients_insert(db_conn *c, const char *name, const char *role, const char *ward, const char *prefix,
                      const unsigned char hash[32], uint64_t *id)
{
    db_param p[] = {db_str(name), db_str(role), db_str_opt(ward), db_str(prefix),
                    db_blob(hash, 32)};
    return db_exec(c,
                   "INSERT INTO api_client (name, role, ward, key_prefix, key_hash, created_at)"
                   " VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6))",
                   p, 5, NULL, id);
}

static void copy(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

mc_err clients_find_by_hash(db_conn *c, const unsigned char hash[32], client_row *out)
{
    db_rows *r = NULL;
    db_param p[] = {db_blob(hash, 32)};
    mc_err rc = db_query(c,
                         "SELECT id, name, role, ward, key_prefix, revoked_at IS NOT NULL"
                         " FROM api_client WHERE key_hash = ?",
                         p, 1, &r);
    if (rc) return rc;
    if (db_rows_count(r) == 0) {
        db_rows_free(r);
        return MC_ERR_NOT_FOUND;
    }
    memset(out, 0, sizeof(*out));
    out->id = strtoull(db_rows_get(r, 0, 0, NULL), NULL, 10);
    copy(out->name, sizeof(out->name), db_rows_get(r, 0, 1, NULL));
    copy(out->role, sizeof(out->role), db_rows_get(r, 0, 2, NULL));
    copy(out->ward, sizeof(out->ward), db_rows_get(r, 0, 3, NULL));
    copy(out->prefix, sizeof(out->prefix), db_rows_get(r, 0, 4, NULL));
    out->revoked = strcmp(db_rows_get(r, 0, 5, NULL), "1") == 0;
    db_rows_free(r);
    return MC_OK;
}

mc_err clients_list(db_conn *c, db_rows **out)
{
    return db_query(c,
                    "SELECT id, name, role, COALESCE(ward, ''), key_prefix, created_at, COALESCE(revoked_at, '')"
                    " FROM api_client ORDER BY id",
                    NULL, 0, out);
}

mc_err clients_revoke(db_conn *c, uint64_t id)
{
    uint64_t n = 0;
    db_param p[] = {db_i64((long long)id)};
    mc_err rc = db_exec(c, "UPDATE api_client SET revoked_at = UTC_TIMESTAMP(6) WHERE id = ? AND revoked_at IS NULL",
                        p, 1, &n, NULL);
    if (!rc && n == 0) rc = MC_ERR_NOT_FOUND;
    return rc;
}
