/* auth.c - API key generation/hashing, the verified-key cache and per-client rate limiting. */
#include "auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients.h"

#define CACHE_SLOTS 4096 /* open addressing; the table is cleared when it fills */

typedef struct {
    bool used;
    unsigned char hash[32];
    auth_client client;
    bool valid;            /* false: a negative entry (unknown/revoked key) */
    double expires;
} key_slot;

typedef struct {
    uint64_t client_id;
    double tokens, last;
} bucket_slot;

struct auth_cache {
    pthread_mutex_t mu;
    int ttl_s, rps, burst;
    size_t nkeys, nbuckets;
    key_slot keys[CACHE_SLOTS];
    bucket_slot buckets[CACHE_SLOTS];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void auth_key_hash(const char *key, size_t len, unsigned char hash[32])
{
    unsigned int n = 32;
    EVP_Digest(key, len, hash, &n, EVP_sha256(), NULL);
}

mc_err auth_key_new(char *key, size_t cap, char prefix[13], unsigned char hash[32])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char rnd[43];
    if (cap < AUTH_KEY_LEN + 1 || RAND_bytes(rnd, sizeof(rnd)) != 1) return MC_ERR_INTERNAL;
    memcpy(key, "mck_", 4);
    for (size_t i = 0; i < sizeof(rnd); i++) key[4 + i] = b64[rnd[i] & 63]; /* 6 bits each: 258 bits */
    key[AUTH_KEY_LEN] = '\0';
    memcpy(prefix, key, 12);
    prefix[12] = '\0';
    auth_key_hash(key, AUTH_KEY_LEN, hash);
    return MC_OK;
}

static const struct { auth_role role; const char *name; } role_names[] = {
    {ROLE_PORTAL, "portal"}, {ROLE_NATIONAL, "national"}, {ROLE_OFFICIAL, "official"}, {ROLE_MONITOR, "monitor"}};

bool auth_sees_dossier(const auth_client *cl, const char *ward, const char *submitter)
{
    if (cl->role == ROLE_OFFICIAL) return cl->ward[0] && ward && strcmp(cl->ward, ward) == 0;
    if (cl->role == ROLE_PORTAL || cl->role == ROLE_NATIONAL)
        return submitter && strtoull(submitter, NULL, 10) == cl->id;
    return false;
}

auth_role auth_role_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (name && strcmp(name, role_names[i].name) == 0) return role_names[i].role;
    return ROLE_NONE;
}

const char *auth_role_name(auth_role r)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i].role == r) return role_names[i].name;
    return "none";
}

auth_cache *auth_cache_new(int ttl_s, int rate_rps, int rate_burst)
{
    auth_cache *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->ttl_s = ttl_s;
    a->rps = rate_rps;
    a->burst = rate_burst;
    return a;
}

void auth_cache_free(auth_cache *a)
{
    if (!a) return;
    pthread_mutex_destroy(&a->mu);
    free(a);
}

static size_t slot_of(const unsigned char *h)
{
    size_t v;
    memcpy(&v, h, sizeof(v));
    return v % CACHE_SLOTS;
}

/* Caller holds a->mu. Returns the slot for hash (existing or the empty one to fill). */
static key_slot *key_find(auth_cache *a, const unsigned char hash[32])
{
    for (size_t i = slot_of(hash), n = 0; n < CACHE_SLOTS; i = (i + 1) % CACHE_SLOTS, n++) {
        key_slot *s = &a->keys[i];
        if (!s->used || memcmp(s->hash, hash, 32) == 0) return s;
    }
    return NULL;
}

static void key_store(auth_cache *a, const unsigned char hash[32], const auth_client *cl, bool valid)
{
    pthread_mutex_lock(&a->mu);
    if (a->nkeys >= CACHE_SLOTS / 2) { /* keep probing short: start over */
        memset(a->keys, 0, sizeof(a->keys));
        a->nkeys = 0;
    }
    key_slot *s = key_find(a, hash);
    if (s) {
        if (!s->used) a->nkeys++;
        s->used = true;
        memcpy(s->hash, hash, 32);
        if (cl) s->client = *cl;
        s->valid = valid;
        s->expires = now_s() + a->ttl_s;
    }
    pthread_mutex_unlock(&a->mu);
}

static const char *extract_key(const char *header)
{
    if (!header) return NULL;
    if (strncasecmp(header, "Bearer ", 7) == 0) header += 7;
    while (*header == ' ') header++;
    return *header ? header : NULL;
}

mc_err auth_resolve(auth_cache *a, db_conn *c, const char *header, auth_client *out)
{
    const char *key = extract_key(header);
    unsigned char hash[32];
    if (!key || strlen(key) != AUTH_KEY_LEN || strncmp(key, "mck_", 4) != 0) return MC_ERR_UNAUTHORIZED;
    auth_key_hash(key, AUTH_KEY_LEN, hash);

    pthread_mutex_lock(&a->mu);
    key_slot *s = key_find(a, hash);
    if (s && s->used && s->expires > now_s()) {
        bool valid = s->valid;
        if (valid) *out = s->client;
        pthread_mutex_unlock(&a->mu);
        return valid ? MC_OK : MC_ERR_UNAUTHORIZED;
    }
    pthread_mutex_unlock(&a->mu);

    if (!c) return MC_ERR_DB_UNAVAILABLE;
    client_row row;
    mc_err rc = clients_find_by_hash(c, hash, &row);
    if (rc == MC_ERR_NOT_FOUND || (!rc && row.revoked)) {
        key_store(a, hash, NULL, false);
        return MC_ERR_UNAUTHORIZED;
    }
    if (rc) return rc;
    memset(out, 0, sizeof(*out));
    out->id = row.id;
    out->role = auth_role_parse(row.role);
    snprintf(out->ward, sizeof(out->ward), "%s", row.ward);
    snprintf(out->name, sizeof(out->name), "%s", row.name);
    key_store(a, hash, out, true);
    return MC_OK;
}

bool auth_rate_take(auth_cache *a, uint64_t client_id)
{
    if (a->rps <= 0) return true;
    bool ok = false;
    double t = now_s();
    pthread_mutex_lock(&a->mu);
    if (a->nbuckets >= CACHE_SLOTS / 2) {
        memset(a->buckets, 0, sizeof(a->buckets));
        a->nbuckets = 0;
    }
    for (size_t i = client_id % CACHE_SLOTS, n = 0; n < CACHE_SLOTS; i = (i + 1) % CACHE_SLOTS, n++) {
        bucket_slot *b = &a->buckets[i];
        if (b->client_id == 0) {
            *b = (bucket_slot){client_id, a->burst, t};
            a->nbuckets++;
        }
        if (b->client_id != client_id) continue;
        b->tokens += (t - b->last) * a->rps;
        if (b->tokens > a->burst) b->tokens = a->burst;
        b->last = t;
        if (b->tokens >= 1.0) {
            b->tokens -= 1.0;
            ok = true;
        }
        break;
    }
    pthread_mutex_unlock(&a->mu);
    return ok;
}

/* ---- keyed limiter (no API key: per client IP) ---- */

#define LIMITER_SLOTS 4096 /* open addressing; cleared when half full, like the client buckets */
#define LIMITER_KEY 64

typedef struct {
    char key[LIMITER_KEY]; /* "" = free */
    double tokens, last;
} limiter_slot;

struct auth_limiter {
    pthread_mutex_t mu;
    int rps, burst;
    size_t used;
    limiter_slot slots[LIMITER_SLOTS];
};

auth_limiter *auth_limiter_new(int rps, int burst)
{
    auth_limiter *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->rps = rps;
    l->burst = burst < 1 ? 1 : burst;
    return l;
}

void auth_limiter_free(auth_limiter *l)
{
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

bool auth_limiter_take(auth_limiter *l, const char *key)
{
    if (!l || l->rps <= 0) return true;
    char k[LIMITER_KEY];
    snprintf(k, sizeof(k), "%s", key && *key ? key : "-");
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = k; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    bool ok = false;
    double t = now_s();
    pthread_mutex_lock(&l->mu);
    if (l->used >= LIMITER_SLOTS / 2) { /* many distinct keys: forget them all (bounded memory) */
        memset(l->slots, 0, sizeof(l->slots));
        l->used = 0;
    }
    for (size_t i = h % LIMITER_SLOTS, n = 0; n < LIMITER_SLOTS; i = (i + 1) % LIMITER_SLOTS, n++) {
        limiter_slot *b = &l->slots[i];
        if (!b->key[0]) {
            memcpy(b->key, k, sizeof(k));
            b->tokens = l->burst;
            b->last = t;
            l->used++;
        }
        if (strcmp(b->key, k) != 0) continue;
        b->tokens += (t - b->last) * l->rps;
        if (b->tokens > l->burst) b->tokens = l->burst;
        b->last = t;
        if (b->tokens >= 1.0) {
            b->tokens -= 1.0;
            ok = true;
        }
        break;
    }
    pthread_mutex_unlock(&l->mu);
    return ok;
}
