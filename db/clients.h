/* clients.h - API clients: SQL for creating, finding (by key hash), listing and revoking. */
#ifndef MC_CLIENTS_H
#define MC_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include "db.h"

typedef struct {
    uint64_t id;
    char name[101];
    char role[17];
    char ward[9];        /* empty when the client is not scoped to a ward */
    char prefix[13];
    bool revoked;
} client_row;

mc_err clients_insert(db_conn *c, const char *name, const char *role, const char *ward, const char *prefix,
                      const unsigned char hash[32], uint64_t *id);
/* MC_ERR_NOT_FOUND when no client (revoked or not) has this key hash. */
mc_err clients_find_by_hash(db_conn *c, const unsigned char hash[32], client_row *out);
/* Rows: id, name, role, ward, key_prefix, created_at, revoked_at. Caller frees. */
mc_err clients_list(db_conn *c, db_rows **out);
/* MC_ERR_NOT_FOUND if no active client has this id. */
mc_err clients_revoke(db_conn *c, uint64_t id);

#endif
