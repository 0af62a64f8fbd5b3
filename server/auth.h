/* auth.h - API keys (generated, hashed), roles, a short-lived cache of verified keys, and per-client
 * token-bucket rate limiting. Keys are "mck_" + 43 URL-safe base64 chars (256 random bits); only their
 * SHA-256 is stored, which is enough for a key of that entropy (no slow hash needed). */
#ifndef MC_AUTH_H
#define MC_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include "db.h"

typedef enum { ROLE_NONE = 0, ROLE_PORTAL = 1, ROLE_NATIONAL = 2, ROLE_OFFICIAL = 4, ROLE_MONITOR = 8 } auth_role;

typedef struct {
    uint64_t id;
    auth_role role;
    char ward[9];
    char name[101];
} auth_client;

#define AUTH_KEY_LEN 47
/* Make a new key: key (cap >= 48), its display prefix (first 12 chars) and SHA-256. */
mc_err auth_key_new(char *key, size_t cap, char prefix[13], unsigned char hash[32]);
void auth_key_hash(const char *key, size_t len, unsigned char hash[32]);
auth_role auth_role_parse(const char *name);
/* Dossier scoping: an official sees its own ward's dossiers, a portal or the national portal the ones
 * it submitted (submitter: the dossier's client_id as text), any other role none. */
bool auth_sees_dossier(const auth_client *cl, const char *ward, const char *submitter);
const char *auth_role_name(auth_role r);

typedef struct auth_cache auth_cache;
auth_cache *auth_cache_new(int ttl_s, int rate_rps, int rate_burst);
void auth_cache_free(auth_cache *a);

/* Resolve an `Authorization: Bearer <key>` (or `X-API-Key: <key>`) value to a client, using the cache
 * and else the database. Thread-safe. MC_ERR_UNAUTHORIZED for a missing, unknown or revoked key. */
mc_err auth_resolve(auth_cache *a, db_conn *c, const char *header, auth_client *out);
/* Take one token from the client's bucket; false means answer 429. Thread-safe. */
bool auth_rate_take(auth_cache *a, uint64_t client_id);

/* A keyed token bucket for requests without an API key (e.g. per client IP on POST /v1/verify):
 * rps tokens per second, at most burst saved. rps <= 0 turns it off (every take succeeds).
 * NULL on allocation failure; free with auth_limiter_free (NULL is fine). */
typedef struct auth_limiter auth_limiter;
auth_limiter *auth_limiter_new(int rps, int burst);
void auth_limiter_free(auth_limiter *l);
/* Take one token from key's bucket (key is cut at 63 bytes); false means answer 429. Thread-safe. */
bool auth_limiter_take(auth_limiter *l, const char *key);

#endif
