/* audit.c - the hash-chained audit trail. Appends lock the one-row chain head, compute each row's
 * SHA-256 over a length-prefixed canonical encoding (docs/audit.md) chained to the previous row, and
 * insert the rows in one array-bound statement; verify recomputes the same encoding from what is stored. */
#include "audit.h"
#include "utf8.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIT_TAG "motcua-audit-v1"   /* domain separation: these bytes hash nothing else */
#define AUDIT_MANY_MAX 4096           /* rows per append call (a group-commit batch is far smaller) */
#define VERIFY_PAGE 1000              /* rows per query while walking */
#define NFIELDS 11

/* The canonical fields of one row, in hashing order: id, at, actor_client_id, role, ward, action,
 * dossier_code, before_state, after_state, request_id, detail. NULL pointer = SQL NULL. */
typedef struct {
    const char *v[NFIELDS];
    size_t len[NFIELDS];
} canon;

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* row_hash = SHA-256(tag NUL || for each field: 0x00 (NULL) or 0x01 len32be bytes || prev_hash). */
static mc_err canon_hash(const canon *k, const unsigned char prev[32], unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    mc_err rc = MC_ERR_INTERNAL;
    unsigned int outlen = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) goto out;
    if (EVP_DigestUpdate(ctx, AUDIT_TAG, sizeof(AUDIT_TAG)) != 1) goto out; /* includes the NUL */
    for (int i = 0; i < NFIELDS; i++) {
        unsigned char hdr[5] = {0, 0, 0, 0, 0};
        if (!k->v[i]) {
            if (EVP_DigestUpdate(ctx, hdr, 1) != 1) goto out;
            continue;
        }
        if (k->len[i] > UINT32_MAX) goto out;
        hdr[0] = 1;
        put_be32(hdr + 1, (uint32_t)k->len[i]);
        if (EVP_DigestUpdate(ctx, hdr, 5) != 1 || EVP_DigestUpdate(ctx, k->v[i], k->len[i]) != 1) goto out;
    }
    if (EVP_DigestUpdate(ctx, prev, 32) != 1 || EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) goto out;
    rc = MC_OK;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Check one optional text field against its cap (detail is cut instead). */
static mc_err field_ok(const char *s, size_t cap, bool required, bool cut, size_t *len)
{
    *len = 0;
    if (!s) return required ? MC_ERR_INVALID_FIELD : MC_OK;
    size_t n = strlen(s);
    if (n > cap) {
        if (!cut) return MC_ERR_INVALID_FIELD;
        n = utf8_cut(s, n, cap);
    }
    *len = n;
    return MC_OK;
}

/* Fill k from e (id and at given as text); the text pointers borrow from e, idbuf, actorbuf and at. */
static mc_err canon_from_entry(const audit_entry *e, const char *idbuf, const char *actorbuf, const char *at, canon *k)
{
    static const size_t caps[NFIELDS] = {0, 0, 0, AUDIT_ROLE_MAX, AUDIT_WARD_MAX, AUDIT_ACTION_MAX,
                                         AUDIT_CODE_MAX, AUDIT_STATE_MAX, AUDIT_STATE_MAX, AUDIT_REQID_MAX,
                                         AUDIT_DETAIL_MAX};
    const char *src[NFIELDS] = {idbuf, at, actorbuf, e->role, e->ward, e->action, e->dossier_code,
                                e->before_state, e->after_state, e->request_id, e->detail};
    for (int i = 0; i < NFIELDS; i++) {
        k->v[i] = src[i];
        if (i < 3) {
            k->len[i] = strlen(src[i]);
            continue;
        }
        mc_err rc = field_ok(src[i], caps[i], i == 3 || i == 5, i == 10, &k->len[i]);
        if (rc) return rc;
    }
    return MC_OK;
}

/* Now in UTC as DATETIME(6) text, the form audit_verify reads back ("YYYY-MM-DD HH:MM:SS.ffffff"). */
static void now_text(char out[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 8, ".%06u", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

/* Every text of the row is stored in utf8mb4 columns: strict UTF-8 or the append is refused. */
static bool canon_utf8(const canon *k)
{
    for (int i = 0; i < NFIELDS; i++)
        if (k->v[i] && utf8_valid_prefix((const unsigned char *)k->v[i], k->len[i]) != k->len[i]) return false;
    return true;
}

#define AUDIT_COLS (NFIELDS + 2) /* the canonical fields, prev_hash, row_hash */

mc_err audit_append_many(db_conn *c, const audit_entry *e, size_t n)
{
    db_rows *head = NULL;
    db_param (*rows)[AUDIT_COLS] = NULL;
    char (*nums)[2][24] = NULL;      /* each row's id and actor as text */
    unsigned char (*hash)[32] = NULL; /* hash[0] = the head's, hash[i + 1] = row i's */
    mc_err rc = MC_ERR_INVALID_FIELD;
    if (!c || !e || n == 0 || n > AUDIT_MANY_MAX) return rc;
    /* validate before taking the lock: a bad entry must not hold up everyone's appends */
    for (size_t i = 0; i < n; i++) {
        canon k;
        if ((rc = canon_from_entry(&e[i], "0", "0", "", &k))) return rc;
        if (!canon_utf8(&k)) return MC_ERR_INVALID_FIELD;
    }
    if (!(rows = malloc(n * sizeof(*rows))) || !(nums = malloc(n * sizeof(*nums))) ||
        !(hash = malloc((n + 1) * sizeof(*hash)))) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    rc = db_query(c, "SELECT last_id, last_hash FROM audit_head WHERE one = 1 FOR UPDATE", NULL, 0, &head);
    if (rc) goto out;
    size_t hlen = 0;
    const char *last_id = db_rows_count(head) == 1 ? db_rows_get(head, 0, 0, NULL) : NULL;
    const char *last_hash = last_id ? db_rows_get(head, 0, 1, &hlen) : NULL;
    if (!last_id || !last_hash || hlen != 32) {
        rc = MC_ERR_INTERNAL; /* the migration made the head; without it there is no chain */
        goto out;
    }
    uint64_t id = strtoull(last_id, NULL, 10);
    memcpy(hash[0], last_hash, 32);
    char at[40];
    now_text(at); /* taken under the lock, so ids and times rise together */
    for (size_t i = 0; i < n; i++) {
        canon k;
        snprintf(nums[i][0], sizeof(nums[i][0]), "%llu", (unsigned long long)(id + 1 + i));
        snprintf(nums[i][1], sizeof(nums[i][1]), "%llu", (unsigned long long)e[i].actor_client_id);
        if ((rc = canon_from_entry(&e[i], nums[i][0], nums[i][1], at, &k)) || (rc = canon_hash(&k, hash[i], hash[i + 1])))
            goto out;
        for (int f = 0; f < NFIELDS; f++)
            rows[i][f] = k.v[f] ? (db_param){DB_P_STR, k.v[f], k.len[f], 0} : db_null();
        rows[i][NFIELDS] = db_blob(hash[i], 32);
        rows[i][NFIELDS + 1] = db_blob(hash[i + 1], 32);
    }
    rc = db_exec_bulk(c,
                      "INSERT INTO audit_log (id, at, actor_client_id, role, ward, action, dossier_code, before_state,"
                      " after_state, request_id, detail, prev_hash, row_hash)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      rows[0], AUDIT_COLS, n, NULL);
    if (rc) goto out;
    db_param h[] = {db_i64((long long)(id + n)), db_blob(hash[n], 32)};
    uint64_t affected = 0;
    rc = db_exec(c, "UPDATE audit_head SET last_id = ?, last_hash = ? WHERE one = 1", h, 2, &affected, NULL);
    if (!rc && affected != 1) rc = MC_ERR_INTERNAL;
out:
    free(rows);
    free(nums);
    free(hash);
    db_rows_free(head);
    return rc;
}

mc_err audit_append(db_conn *c, const audit_entry *e) { return audit_append_many(c, e, 1); }

/* ---- group commit of standalone entries (audit_append_alone) ---- */

#define ALONE_BATCH 64    /* entries per transaction */
#define ALONE_ATTEMPTS 5  /* deadlock/lock-wait retries of one group */

typedef struct waiter {
    const audit_entry *e;
    mc_err rc;
    bool done;
    pthread_cond_t cv;
    struct waiter *next;
} waiter;

static pthread_mutex_t alone_mu = PTHREAD_MUTEX_INITIALIZER;
static waiter *alone_head, *alone_tail;
static bool alone_leading;

mc_err audit_append_own(db_conn *c, const audit_entry *e, size_t n)
{
    mc_err rc = MC_ERR_DB_RETRY;
    for (int attempt = 0; attempt < ALONE_ATTEMPTS && rc == MC_ERR_DB_RETRY; attempt++) {
        if ((rc = db_begin(c))) continue;
        if (!(rc = audit_append_many(c, e, n))) rc = db_commit(c);
        if (rc) db_rollback(c);
    }
    return rc;
}

mc_err audit_append_alone(db_conn *c, const audit_entry *e)
{
    canon k;
    mc_err rc = canon_from_entry(e, "0", "0", "", &k);
    if (rc) return rc;
    if (!canon_utf8(&k)) return MC_ERR_INVALID_FIELD; /* checked here, so a bad entry fails alone */
    waiter me = {.e = e};
    pthread_cond_init(&me.cv, NULL);
    pthread_mutex_lock(&alone_mu);
    if (alone_tail) alone_tail->next = &me;
    else alone_head = &me;
    alone_tail = &me;
    while (!me.done) {
        if (alone_leading || alone_head != &me) {
            pthread_cond_wait(&me.cv, &alone_mu);
            continue;
        }
        waiter *batch[ALONE_BATCH];
        audit_entry entries[ALONE_BATCH];
        size_t n = 0;
        for (; alone_head && n < ALONE_BATCH; alone_head = alone_head->next) {
            batch[n] = alone_head;
            entries[n++] = *alone_head->e;
        }
        if (!alone_head) alone_tail = NULL;
        alone_leading = true;
        pthread_mutex_unlock(&alone_mu);
        rc = audit_append_own(c, entries, n);
        pthread_mutex_lock(&alone_mu);
        alone_leading = false;
        for (size_t i = 0; i < n; i++) {
            batch[i]->rc = rc;
            batch[i]->done = true;
            if (batch[i] != &me) pthread_cond_signal(&batch[i]->cv);
        }
        if (alone_head) pthread_cond_signal(&alone_head->cv);
    }
    pthread_mutex_unlock(&alone_mu);
    pthread_cond_destroy(&me.cv);
    return me.rc;
}

enum { AV_ID, AV_AT, AV_ACTOR, AV_ROLE, AV_WARD, AV_ACTION, AV_CODE, AV_BEFORE, AV_AFTER, AV_REQID, AV_DETAIL,
       AV_PREV, AV_HASH };

/* Check one page of rows; *next_id and prev advance over the rows that pass. */
static mc_err verify_page(db_rows *r, uint64_t *next_id, unsigned char prev[32], uint64_t *checked,
                          uint64_t *first_bad, char *why, size_t whycap)
{
    for (size_t i = 0; i < db_rows_count(r); i++) {
        uint64_t id = strtoull(db_rows_get(r, i, AV_ID, NULL), NULL, 10);
        canon k;
        size_t plen = 0, hlen = 0;
        const char *ph = db_rows_get(r, i, AV_PREV, &plen), *rh = db_rows_get(r, i, AV_HASH, &hlen);
        unsigned char calc[32];
        *first_bad = id;
        if (id != *next_id) {
            *first_bad = *next_id;
            snprintf(why, whycap, "row %llu is missing (next row found is %llu)", (unsigned long long)*next_id,
                     (unsigned long long)id);
            return MC_ERR_CONFLICT;
        }
        if (!ph || !rh || plen != 32 || hlen != 32 || CRYPTO_memcmp(ph, prev, 32) != 0) {
            snprintf(why, whycap, "row %llu: prev_hash is not the hash of row %llu (link broken)",
                     (unsigned long long)id, (unsigned long long)(id - 1));
            return MC_ERR_CONFLICT;
        }
        for (int f = 0; f < NFIELDS; f++) k.v[f] = db_rows_get(r, i, (size_t)f, &k.len[f]);
        if (canon_hash(&k, prev, calc)) {
            snprintf(why, whycap, "row %llu: could not hash", (unsigned long long)id);
            return MC_ERR_INTERNAL;
        }
        if (CRYPTO_memcmp(calc, rh, 32) != 0) {
            snprintf(why, whycap, "row %llu: contents do not match its row_hash (row altered)", (unsigned long long)id);
            return MC_ERR_CONFLICT;
        }
        memcpy(prev, calc, 32);
        (*next_id)++;
        (*checked)++;
    }
    *first_bad = 0;
    return MC_OK;
}

mc_err audit_verify(db_conn *c, uint64_t *rows_checked, uint64_t *first_bad_id, char *why, size_t whycap)
{
    db_rows *head = NULL, *r = NULL;
    unsigned char prev[32] = {0};
    uint64_t next_id = 1, head_id = 0;
    size_t hlen = 0;
    *rows_checked = 0;
    *first_bad_id = 0;
    if (whycap) why[0] = '\0';
    mc_err rc = db_begin(c); /* one snapshot for the head and every page */
    if (rc) {
        snprintf(why, whycap, "cannot start a transaction: %s", db_conn_error(c));
        return rc;
    }
    if ((rc = db_query(c, "SELECT last_id, last_hash FROM audit_head WHERE one = 1", NULL, 0, &head))) {
        snprintf(why, whycap, "cannot read the chain head: %s", db_conn_error(c));
        goto out;
    }
    const char *hid = db_rows_count(head) == 1 ? db_rows_get(head, 0, 0, NULL) : NULL;
    const char *hh = hid ? db_rows_get(head, 0, 1, &hlen) : NULL;
    if (!hid || !hh || hlen != 32) {
        rc = MC_ERR_CONFLICT;
        snprintf(why, whycap, "the chain head row is missing or malformed");
        goto out;
    }
    head_id = strtoull(hid, NULL, 10);
    for (;;) {
        db_param p[] = {db_i64((long long)next_id), db_i64(VERIFY_PAGE)};
        if ((rc = db_query(c,
                           "SELECT id, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), actor_client_id, role, ward, action,"
                           " dossier_code, before_state, after_state, request_id, detail, prev_hash, row_hash"
                           " FROM audit_log WHERE id >= ? ORDER BY id LIMIT ?",
                           p, 2, &r))) {
            snprintf(why, whycap, "cannot read audit rows: %s", db_conn_error(c));
            goto out;
        }
        size_t n = db_rows_count(r);
        if ((rc = verify_page(r, &next_id, prev, rows_checked, first_bad_id, why, whycap))) goto out;
        db_rows_free(r);
        r = NULL;
        if (n < VERIFY_PAGE) break;
    }
    /* rows deleted at the tail leave an intact but short chain: the head still names the last row */
    if (*rows_checked < head_id) {
        rc = MC_ERR_CONFLICT;
        *first_bad_id = *rows_checked + 1;
        snprintf(why, whycap, "rows %llu..%llu are missing: the chain head names row %llu",
                 (unsigned long long)*first_bad_id, (unsigned long long)head_id, (unsigned long long)head_id);
    } else if (*rows_checked > head_id) {
        rc = MC_ERR_CONFLICT;
        *first_bad_id = head_id + 1;
        snprintf(why, whycap, "row %llu lies beyond the chain head (row %llu)", (unsigned long long)*first_bad_id,
                 (unsigned long long)head_id);
    } else if (CRYPTO_memcmp(prev, hh, 32) != 0) {
        rc = MC_ERR_CONFLICT;
        *first_bad_id = head_id ? head_id : 1;
        snprintf(why, whycap, "the chain head's hash is not row %llu's row_hash", (unsigned long long)head_id);
    }
out:
    db_rollback(c);
    db_rows_free(r);
    db_rows_free(head);
    return rc;
}
