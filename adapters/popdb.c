/* popdb.c - population database adapter: the ops-table front, and the HTTP gateway backend
 * (JSON over HTTPS through curlev, HMAC-signed, retried with full-jitter backoff on transient
 * failures only, behind a circuit breaker). Everything runs on the caller's libevent loop. */
#include "popdb.h"
#include "hex.h"

#include <ctype.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curlev.h"

struct popdb {
    const popdb_ops *ops;
    void *impl;
};

/* ---- pure helpers --------------------------------------------------------------------- */

void popdb_config_defaults(popdb_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->timeout_ms = 3000;
    cfg->max_retries = 3;
    cfg->backoff_base_ms = 100;
    cfg->backoff_cap_ms = 2000;
    cfg->breaker_threshold = 5;
    cfg->breaker_cooldown_ms = 10000;
    cfg->max_inflight = 256;
    cfg->max_pending = 4096;
}

const char *popdb_status_name(popdb_status s)
{
    static const char *const names[] = {"VERIFIED", "MISMATCH", "NOT_FOUND", "DECEASED",
                                        "UNAVAILABLE", "ERROR"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

const char *popdb_reason_name(popdb_reason r)
{
    static const char *const names[] = {"NONE", "BREAKER_OPEN", "RETRIES_EXHAUSTED", "TLS", "AUTH",
                                        "REJECTED", "BAD_STATUS", "MALFORMED", "INTERNAL"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

const char *popdb_marital_name(popdb_marital m)
{
    static const char *const names[] = {"", "SINGLE", "MARRIED", "DIVORCED", "WIDOWED"};
    return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "";
}

static popdb_marital popdb_marital_parse(const char *s)
{
    for(popdb_marital m = POPDB_MARITAL_SINGLE; m <= POPDB_MARITAL_WIDOWED; m++) {
        if(strcmp(s, popdb_marital_name(m)) == 0)
            return m;
    }
    return POPDB_MARITAL_UNSET;
}

void popdb_mask_id(const char *pid, char out[13])
{
    size_t n = pid ? strnlen(pid, 12) : 0;

    if(n == 12 && !pid[12]) {
        memcpy(out, pid, 3);
        memset(out + 3, '*', 6);
        memcpy(out + 9, pid + 9, 3);
        out[12] = '\0';
        return;
    }
    /* Not a well-formed ID: show nothing of it. */
    memset(out, '*', n);
    out[n] = '\0';
}

static bool popdb_all_digits(const char *s, size_t n)
{
    if(!s || strlen(s) != n)
        return false;
    for(size_t i = 0; i < n; i++) {
        if(!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Non-empty, at most max bytes, no control characters. */
static bool popdb_text_ok(const char *s, size_t max)
{
    size_t n = 0;

    if(!s)
        return false;
    n = strnlen(s, max + 1);
    if(n == 0 || n > max)
        return false;
    for(size_t i = 0; i < n; i++) {
        if((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

static bool popdb_request_id_ok(const char *s)
{
    size_t n = s ? strnlen(s, POPDB_REQUEST_ID_MAX) : 0;

    if(n == 0 || n >= POPDB_REQUEST_ID_MAX)
        return false;
    for(size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if(!isalnum(c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

mc_err popdb_query_check(popdb_op op, const popdb_query *q)
{
    if(!q)
        return MC_ERR_BAD_REQUEST;
    if(q->request_id && !popdb_request_id_ok(q->request_id))
        return MC_ERR_BAD_REQUEST;
    if(!popdb_text_ok(q->service_code, 64) || !popdb_text_ok(q->unit, 64) ||
       !popdb_text_ok(q->officer, 64))
        return MC_ERR_BAD_REQUEST;
    if(!popdb_all_digits(q->personal_id, 12))
        return MC_ERR_BAD_REQUEST;
    if(!popdb_text_ok(q->full_name, 200))
        return MC_ERR_BAD_REQUEST;
    if(!popdb_all_digits(q->birth_date, 8) && !popdb_all_digits(q->birth_date, 4))
        return MC_ERR_BAD_REQUEST;
    if(q->gender > POPDB_GENDER_FEMALE)
        return MC_ERR_BAD_REQUEST;
    switch(op) {
    case POPDB_OP_VERIFY:
    case POPDB_OP_LOOKUP:
        return MC_OK;
    case POPDB_OP_VERIFY_MARITAL:
        return q->marital >= POPDB_MARITAL_SINGLE && q->marital <= POPDB_MARITAL_WIDOWED
                   ? MC_OK
                   : MC_ERR_BAD_REQUEST;
    case POPDB_OP_VERIFY_RESIDENCE:
        return popdb_all_digits(q->province, 2) && popdb_all_digits(q->ward, 5)
                   ? MC_OK
                   : MC_ERR_BAD_REQUEST;
    }
    return MC_ERR_BAD_REQUEST;
}

mc_err popdb_sign(const char *secret, const char *method, const char *path, long long timestamp,
                  const char *body, size_t body_len, char out[65])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char body_hex[2 * SHA256_DIGEST_LENGTH + 1];
    char *msg = NULL;
    int n = 0;
    mc_err err = MC_ERR_INTERNAL;

    if(!secret || !method || !path || (!body && body_len))
        return MC_ERR_INTERNAL;
    SHA256((const unsigned char *)(body ? body : ""), body_len, digest);
    hex_encode(digest, sizeof(digest), body_hex);
    n = snprintf(NULL, 0, "%s\n%s\n%lld\n%s", method, path, timestamp, body_hex);
    if(n < 0)
        return MC_ERR_INTERNAL;
    msg = malloc((size_t)n + 1);
    if(!msg)
        return MC_ERR_NOMEM;
    snprintf(msg, (size_t)n + 1, "%s\n%s\n%lld\n%s", method, path, timestamp, body_hex);
    if(!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n, mac,
             &mac_len) ||
       mac_len != SHA256_DIGEST_LENGTH)
        goto out;
    hex_encode(mac, mac_len, out);
    err = MC_OK;
out:
    free(msg);
    return err;
}

/* ---- response parsing (pure) ---------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned bit;
} popdb_fields[] = {
    {"full_name", POPDB_F_NAME},
    {"birth_date", POPDB_F_BIRTH_DATE},
    {"gender", POPDB_F_GENDER},
    {"marital_status", POPDB_F_MARITAL},
    {"current_residence", POPDB_F_RESIDENCE},
};

/* OR the bits of a JSON array of field names; unknown names are ignored (a newer gateway may
 * compare more), non-strings are malformed. NULL array = 0. */
static bool popdb_field_bits(const json_t *arr, unsigned *bits)
{
    size_t i = 0;
    json_t *v = NULL;

    *bits = 0;
    if(!arr)
        return true;
    if(!json_is_array(arr))
        return false;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(v);

        if(!s)
            return false;
        for(size_t k = 0; k < sizeof(popdb_fields) / sizeof(popdb_fields[0]); k++) {
            if(strcmp(s, popdb_fields[k].name) == 0)
                *bits |= popdb_fields[k].bit;
        }
    }
    return true;
}

/* Copy string member key of obj into dst[cap]; missing/null -> "" when optional. Too long or
 * not a string -> false: personal data is never silently truncated. */
static bool popdb_copy_str(const json_t *obj, const char *key, char *dst, size_t cap, bool optional)
{
    json_t *v = json_object_get(obj, key);
    const char *s = NULL;
    size_t n = 0;

    dst[0] = '\0';
    if(!v || json_is_null(v))
        return optional;
    s = json_string_value(v);
    if(!s)
        return false;
    n = json_string_length(v);
    if(n >= cap || strlen(s) != n)
        return false;
    memcpy(dst, s, n + 1);
    return true;
}

static bool popdb_parse_address(const json_t *obj, popdb_address *a)
{
    if(!json_is_object(obj))
        return false;
    return popdb_copy_str(obj, "province", a->province, sizeof(a->province), false) &&
           popdb_copy_str(obj, "district", a->district, sizeof(a->district), true) &&
           popdb_copy_str(obj, "ward", a->ward, sizeof(a->ward), false) &&
           popdb_copy_str(obj, "detail", a->detail, sizeof(a->detail), true);
}

static bool popdb_parse_citizen(const json_t *obj, popdb_citizen *rec)
{
    char gender[4];
    char marital[16];

    memset(rec, 0, sizeof(*rec));
    if(!json_is_object(obj))
        return false;
    if(!popdb_copy_str(obj, "personal_id", rec->personal_id, sizeof(rec->personal_id), false) ||
       !popdb_copy_str(obj, "family_name", rec->family_name, sizeof(rec->family_name), false) ||
       !popdb_copy_str(obj, "middle_name", rec->middle_name, sizeof(rec->middle_name), true) ||
       !popdb_copy_str(obj, "given_name", rec->given_name, sizeof(rec->given_name), false) ||
       !popdb_copy_str(obj, "full_name", rec->full_name, sizeof(rec->full_name), false) ||
       !popdb_copy_str(obj, "gender", gender, sizeof(gender), false) ||
       !popdb_copy_str(obj, "birth_date", rec->birth_date, sizeof(rec->birth_date), false) ||
       !popdb_copy_str(obj, "ethnicity", rec->ethnicity, sizeof(rec->ethnicity), true) ||
       !popdb_copy_str(obj, "marital_status", marital, sizeof(marital), false) ||
       !popdb_copy_str(obj, "household_head_id", rec->household_head_id,
                       sizeof(rec->household_head_id), true))
        return false;
    if(strcmp(gender, "M") == 0)
        rec->gender = POPDB_GENDER_MALE;
    else if(strcmp(gender, "F") == 0)
        rec->gender = POPDB_GENDER_FEMALE;
    else
        return false;
    rec->marital = popdb_marital_parse(marital);
    if(rec->marital == POPDB_MARITAL_UNSET)
        return false;
    if(!popdb_all_digits(rec->personal_id, 12) || !popdb_all_digits(rec->birth_date, 8))
        return false;
    if(!popdb_parse_address(json_object_get(obj, "permanent_residence"), &rec->permanent) ||
       !popdb_parse_address(json_object_get(obj, "current_residence"), &rec->current))
        return false;
    rec->is_household_head = strcmp(rec->household_head_id, rec->personal_id) == 0;
    rec->deceased = json_is_true(json_object_get(obj, "deceased"));
    return true;
}

mc_err popdb_parse_response(popdb_op op, const char *request_id, const char *body, size_t len,
                            popdb_outcome *out, popdb_citizen *rec)
{
    json_t *root = NULL;
    json_t *found = NULL, *match = NULL, *deceased = NULL;
    const char *rid = NULL;
    unsigned matched = 0, mismatched = 0;
    mc_err err = MC_ERR_BAD_REQUEST;

    out->status = POPDB_ERROR;
    out->reason = POPDB_R_MALFORMED;
    out->matched = out->mismatched = 0;
    root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    if(!json_is_object(root))
        goto out;
    /* An answer to someone else's question is not an answer. */
    rid = json_string_value(json_object_get(root, "request_id"));
    if(!rid || !request_id || strcmp(rid, request_id) != 0)
        goto out;
    found = json_object_get(root, "found");
    if(!json_is_boolean(found))
        goto out;
    if(json_is_false(found)) {
        out->status = POPDB_NOT_FOUND;
        out->reason = POPDB_R_NONE;
        err = MC_OK;
        goto out;
    }
    match = json_object_get(root, "match");
    deceased = json_object_get(root, "deceased");
    if(!json_is_boolean(match) || (deceased && !json_is_boolean(deceased)))
        goto out;
    if(!popdb_field_bits(json_object_get(root, "matched"), &matched) ||
       !popdb_field_bits(json_object_get(root, "mismatched"), &mismatched))
        goto out;
    if(json_is_false(match)) {
        out->status = POPDB_MISMATCH;
    } else {
        if(mismatched)
            goto out; /* "match" with mismatched fields contradicts itself */
        out->status = json_is_true(deceased) ? POPDB_DECEASED : POPDB_VERIFIED;
        if(op == POPDB_OP_LOOKUP) {
            popdb_citizen tmp;

            if(!popdb_parse_citizen(json_object_get(root, "citizen"), &tmp)) {
                out->status = POPDB_ERROR;
                goto out;
            }
            if(rec)
                *rec = tmp;
        }
    }
    out->reason = POPDB_R_NONE;
    out->matched = matched;
    out->mismatched = mismatched;
    err = MC_OK;
out:
    json_decref(root);
    return err;
}

/* ---- the ops-table front -------------------------------------------------------------- */

mc_err popdb_new(const popdb_ops *ops, void *impl, popdb **out)
{
    popdb *db = NULL;

    if(!ops || !ops->verify || !ops->lookup || !ops->verify_marital || !ops->verify_residence ||
       !ops->free || !out)
        return MC_ERR_INTERNAL;
    db = malloc(sizeof(*db));
    if(!db)
        return MC_ERR_NOMEM;
    db->ops = ops;
    db->impl = impl;
    *out = db;
    return MC_OK;
}

void popdb_free(popdb *db)
{
    if(!db)
        return;
    db->ops->free(db->impl);
    free(db);
}

mc_err popdb_verify(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg)
{
    mc_err err = popdb_query_check(POPDB_OP_VERIFY, q);

    if(err)
        return err;
    return db && done ? db->ops->verify(db->impl, q, done, arg) : MC_ERR_INTERNAL;
}

mc_err popdb_lookup(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg)
{
    mc_err err = popdb_query_check(POPDB_OP_LOOKUP, q);

    if(err)
        return err;
    return db && done ? db->ops->lookup(db->impl, q, done, arg) : MC_ERR_INTERNAL;
}

mc_err popdb_verify_marital(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg)
{
    mc_err err = popdb_query_check(POPDB_OP_VERIFY_MARITAL, q);

    if(err)
        return err;
    return db && done ? db->ops->verify_marital(db->impl, q, done, arg) : MC_ERR_INTERNAL;
}

mc_err popdb_verify_residence(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg)
{
    mc_err err = popdb_query_check(POPDB_OP_VERIFY_RESIDENCE, q);

    if(err)
        return err;
    return db && done ? db->ops->verify_residence(db->impl, q, done, arg) : MC_ERR_INTERNAL;
}

/* ---- HTTP gateway backend ------------------------------------------------------------- */

typedef enum popdb_breaker {
    POPDB_BREAKER_CLOSED,
    POPDB_BREAKER_OPEN,
    POPDB_BREAKER_HALF_OPEN
} popdb_breaker;

typedef struct popdb_gw popdb_gw;

typedef struct popdb_call {
    popdb_gw *gw;
    popdb_op op;
    char masked_id[13];
    char *body;                /* request JSON, the same bytes on every attempt */
    size_t body_len;
    struct event timer;        /* next attempt (first one, backoff) */
    bool is_probe;             /* this attempt is the breaker's half-open probe */
    popdb_outcome out;
    popdb_done_fn done;
    void *arg;
    struct popdb_call *prev, *next;
} popdb_call;

struct popdb_gw {
    struct event_base *base;
    curlev *cv;
    char *base_url;
    char *base_path;           /* path part of base_url, for the signature */
    char *client_id, *secret, *api_key;
    char **extra_headers;
    size_t n_extra_headers;
    popdb_config cfg;          /* numbers only; its strings are not used after new */
    uint64_t rng;
    popdb_breaker breaker;
    unsigned consecutive_failures;
    long long opened_at_ms;
    bool probe_inflight;
    popdb_call *calls;
    unsigned n_calls;
};

static const char *const popdb_op_path[] = {
    "/citizen/verify", "/citizen/lookup", "/citizen/verify-marital", "/citizen/verify-residence"};
static const char *const popdb_op_name[] = {"verify", "lookup", "verify_marital",
                                            "verify_residence"};

static long long popdb_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t popdb_rand(popdb_gw *gw)
{
    /* splitmix64: enough for jitter, no need for a CSPRNG */
    uint64_t z = (gw->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void popdb_log(popdb_gw *gw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void popdb_log(popdb_gw *gw, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if(gw->cfg.log)
        gw->cfg.log(gw->cfg.log_arg, line);
    else
        fprintf(stderr, "%s\n", line);
}

static void popdb_breaker_success(popdb_gw *gw)
{
    gw->consecutive_failures = 0;
    if(gw->breaker != POPDB_BREAKER_CLOSED) {
        gw->breaker = POPDB_BREAKER_CLOSED;
        popdb_log(gw, "popdb: breaker closed (remote answered)");
    }
}

static void popdb_breaker_failure(popdb_gw *gw)
{
    if(gw->cfg.breaker_threshold == 0)
        return;
    gw->consecutive_failures++;
    if(gw->breaker == POPDB_BREAKER_HALF_OPEN ||
       (gw->breaker == POPDB_BREAKER_CLOSED &&
        gw->consecutive_failures >= gw->cfg.breaker_threshold)) {
        gw->breaker = POPDB_BREAKER_OPEN;
        gw->opened_at_ms = popdb_now_ms();
        popdb_log(gw, "popdb: breaker open after %u consecutive failures, cool-down %u ms",
                  gw->consecutive_failures, gw->cfg.breaker_cooldown_ms);
    }
}

/* May an attempt go out now? Sets *probe when it is the single half-open probe. */
static bool popdb_breaker_allow(popdb_gw *gw, bool *probe)
{
    *probe = false;
    switch(gw->breaker) {
    case POPDB_BREAKER_CLOSED:
        return true;
    case POPDB_BREAKER_OPEN:
        if(popdb_now_ms() - gw->opened_at_ms < (long long)gw->cfg.breaker_cooldown_ms)
            return false;
        gw->breaker = POPDB_BREAKER_HALF_OPEN;
        popdb_log(gw, "popdb: breaker half-open, sending one probe");
        break;
    case POPDB_BREAKER_HALF_OPEN:
        if(gw->probe_inflight)
            return false;
        break;
    }
    gw->probe_inflight = true;
    *probe = true;
    return true;
}

static void popdb_call_free(popdb_call *c)
{
    if(!c)
        return;
    event_del(&c->timer);
    free(c->body);
    free(c);
}

static void popdb_call_unlink(popdb_gw *gw, popdb_call *c)
{
    if(c->prev)
        c->prev->next = c->next;
    else
        gw->calls = c->next;
    if(c->next)
        c->next->prev = c->prev;
    gw->n_calls--;
}

/* Report the outcome and free the call. Only ever reached from a loop callback. */
static void popdb_call_finish(popdb_call *c, const popdb_citizen *rec)
{
    popdb_gw *gw = c->gw;

    if(c->out.status == POPDB_UNAVAILABLE || c->out.status == POPDB_ERROR)
        popdb_log(gw, "popdb: rid=%s op=%s id=%s outcome=%s reason=%s attempts=%u http=%ld curl=%d%s%s",
                  c->out.request_id, popdb_op_name[c->op], c->masked_id,
                  popdb_status_name(c->out.status), popdb_reason_name(c->out.reason),
                  c->out.attempts, c->out.http_status, c->out.curl_code,
                  c->out.remote_code[0] ? " code=" : "", c->out.remote_code);
    popdb_call_unlink(gw, c);
    c->done(&c->out, rec, c->arg);
    popdb_call_free(c);
}

static void popdb_fail(popdb_call *c, popdb_status status, popdb_reason reason)
{
    c->out.status = status;
    c->out.reason = reason;
    popdb_call_finish(c, NULL);
}

static void popdb_on_http(const curlev_result *res, void *arg);

/* Send one attempt (timer callback: first attempt and every retry). */
static void popdb_attempt(evutil_socket_t fd, short what, void *arg)
{
    popdb_call *c = arg;
    popdb_gw *gw = c->gw;
    char url[1024];
    char path[512];
    char sig[65];
    char h_client[300], h_ts[64], h_sig[96], h_rid[POPDB_REQUEST_ID_MAX + 16], h_key[300];
    const char *headers[8 + 64];
    size_t nh = 0;
    long long ts = (long long)time(NULL) + gw->cfg.clock_offset_s;
    curlev_request req;
    mc_err err = MC_OK;

    (void)fd;
    (void)what;
    if(!popdb_breaker_allow(gw, &c->is_probe)) {
        popdb_fail(c, POPDB_UNAVAILABLE, POPDB_R_BREAKER_OPEN);
        return;
    }
    snprintf(url, sizeof(url), "%s%s", gw->base_url, popdb_op_path[c->op]);
    snprintf(path, sizeof(path), "%s%s", gw->base_path, popdb_op_path[c->op]);
    err = popdb_sign(gw->secret, "POST", path, ts, c->body, c->body_len, sig);
    if(err)
        goto fail;
    snprintf(h_client, sizeof(h_client), "X-Client-Id: %s", gw->client_id);
    snprintf(h_ts, sizeof(h_ts), "X-Timestamp: %lld", ts);
    snprintf(h_sig, sizeof(h_sig), "X-Signature: %s", sig);
    snprintf(h_rid, sizeof(h_rid), "X-Request-Id: %s", c->out.request_id);
    headers[nh++] = "Content-Type: application/json";
    headers[nh++] = "Accept: application/json";
    headers[nh++] = h_client;
    headers[nh++] = h_ts;
    headers[nh++] = h_sig;
    headers[nh++] = h_rid;
    if(gw->api_key) {
        snprintf(h_key, sizeof(h_key), "X-Api-Key: %s", gw->api_key);
        headers[nh++] = h_key;
    }
    for(size_t i = 0; i < gw->n_extra_headers; i++)
        headers[nh++] = gw->extra_headers[i];
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = url;
    req.headers = headers;
    req.n_headers = nh;
    req.body = c->body;
    req.body_len = c->body_len;
    req.timeout_ms = gw->cfg.timeout_ms;
    err = curlev_submit(gw->cv, &req, popdb_on_http, c);
    if(err)
        goto fail;
    c->out.attempts++;
    return;

fail:
    if(c->is_probe)
        gw->probe_inflight = false;
    popdb_fail(c, POPDB_ERROR, POPDB_R_INTERNAL);
}

static void popdb_retry_or_give_up(popdb_call *c)
{
    popdb_gw *gw = c->gw;
    unsigned n = c->out.attempts;
    uint64_t ceiling = gw->cfg.backoff_cap_ms;
    uint64_t delay = 0;
    struct timeval tv;

    if(n > gw->cfg.max_retries) {
        popdb_fail(c, POPDB_UNAVAILABLE, POPDB_R_RETRIES_EXHAUSTED);
        return;
    }
    if(gw->breaker == POPDB_BREAKER_OPEN) {
        /* This call's failures just opened it: waiting out a backoff would not help. */
        popdb_fail(c, POPDB_UNAVAILABLE, POPDB_R_BREAKER_OPEN);
        return;
    }
    /* Full jitter: uniform in [0, min(cap, base * 2^(n-1))]. */
    if(n - 1 < 32 && (uint64_t)gw->cfg.backoff_base_ms << (n - 1) < ceiling)
        ceiling = (uint64_t)gw->cfg.backoff_base_ms << (n - 1);
    delay = popdb_rand(gw) % (ceiling + 1);
    popdb_log(gw, "popdb: rid=%s op=%s id=%s attempt %u failed (http=%ld curl=%d), retry in %llu ms",
              c->out.request_id, popdb_op_name[c->op], c->masked_id, n, c->out.http_status,
              c->out.curl_code, (unsigned long long)delay);
    tv.tv_sec = (time_t)(delay / 1000);
    tv.tv_usec = (suseconds_t)((delay % 1000) * 1000);
    evtimer_add(&c->timer, &tv);
}

static void popdb_remote_code(popdb_call *c, const curlev_result *res)
{
    json_t *root = json_loadb(res->body, res->body_len, 0, NULL);
    const char *code = json_string_value(json_object_get(root, "error"));

    if(code)
        snprintf(c->out.remote_code, sizeof(c->out.remote_code), "%s", code);
    json_decref(root);
}

static void popdb_on_http(const curlev_result *res, void *arg)
{
    popdb_call *c = arg;
    popdb_gw *gw = c->gw;
    popdb_citizen rec;

    if(c->is_probe) {
        gw->probe_inflight = false;
        c->is_probe = false;
    }
    c->out.http_status = res->status;
    c->out.curl_code = res->curl_code;
    c->out.remote_code[0] = '\0';
    if(res->curl_code != 0) {
        if(res->body_too_large) {
            popdb_breaker_success(gw);
            popdb_fail(c, POPDB_ERROR, POPDB_R_MALFORMED);
        } else if(curlev_code_is_tls(res->curl_code)) {
            /* Fail closed and do not retry: a wrong certificate will not fix itself in
             * milliseconds, and it may be an interception. It does count against the breaker. */
            popdb_breaker_failure(gw);
            popdb_fail(c, POPDB_ERROR, POPDB_R_TLS);
        } else if(curlev_code_is_transient(res->curl_code)) {
            popdb_breaker_failure(gw);
            popdb_retry_or_give_up(c);
        } else {
            popdb_fail(c, POPDB_ERROR, POPDB_R_INTERNAL);
        }
        return;
    }
    if(res->status >= 500 && res->status <= 599) {
        popdb_remote_code(c, res);
        popdb_breaker_failure(gw);
        popdb_retry_or_give_up(c);
        return;
    }
    /* Any other HTTP answer shows the remote is up. */
    popdb_breaker_success(gw);
    if(res->status == 200) {
        memset(&rec, 0, sizeof(rec));
        if(popdb_parse_response(c->op, c->out.request_id, res->body, res->body_len, &c->out,
                                &rec) != MC_OK) {
            popdb_fail(c, POPDB_ERROR, POPDB_R_MALFORMED);
            return;
        }
        popdb_call_finish(c, c->op == POPDB_OP_LOOKUP && (c->out.status == POPDB_VERIFIED ||
                                                          c->out.status == POPDB_DECEASED)
                                 ? &rec
                                 : NULL);
        return;
    }
    popdb_remote_code(c, res);
    if(res->status == 401 || res->status == 403)
        popdb_fail(c, POPDB_ERROR, POPDB_R_AUTH);
    else if(res->status >= 400 && res->status <= 499)
        popdb_fail(c, POPDB_ERROR, POPDB_R_REJECTED);
    else
        popdb_fail(c, POPDB_ERROR, POPDB_R_BAD_STATUS);
}

static void popdb_new_request_id(char out[POPDB_REQUEST_ID_MAX], popdb_gw *gw)
{
    unsigned char b[16];

    if(RAND_bytes(b, sizeof(b)) != 1) {
        uint64_t r1 = popdb_rand(gw), r2 = popdb_rand(gw);

        memcpy(b, &r1, 8);
        memcpy(b + 8, &r2, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* UUID version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, POPDB_REQUEST_ID_MAX,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

static json_t *popdb_request_json(popdb_op op, const char *rid, const popdb_query *q)
{
    json_t *o = json_object();

    if(!o)
        return NULL;
    if(json_object_set_new(o, "request_id", json_string(rid)) ||
       json_object_set_new(o, "service_code", json_string(q->service_code)) ||
       json_object_set_new(o, "unit", json_string(q->unit)) ||
       json_object_set_new(o, "officer", json_string(q->officer)) ||
       json_object_set_new(o, "personal_id", json_string(q->personal_id)) ||
       json_object_set_new(o, "full_name", json_string(q->full_name)) ||
       json_object_set_new(o, "birth_date", json_string(q->birth_date)))
        goto fail;
    if(q->gender != POPDB_GENDER_UNSET &&
       json_object_set_new(o, "gender", json_string(q->gender == POPDB_GENDER_MALE ? "M" : "F")))
        goto fail;
    if(op == POPDB_OP_VERIFY_MARITAL &&
       json_object_set_new(o, "marital_status", json_string(popdb_marital_name(q->marital))))
        goto fail;
    if(op == POPDB_OP_VERIFY_RESIDENCE &&
       json_object_set_new(o, "current_residence",
                           json_pack("{s:s, s:s}", "province", q->province, "ward", q->ward)))
        goto fail;
    return o;
fail:
    json_decref(o); /* e.g. full_name not valid UTF-8: json_string returned NULL */
    return NULL;
}

static mc_err popdb_gw_submit(popdb_gw *gw, popdb_op op, const popdb_query *q, popdb_done_fn done,
                              void *arg)
{
    popdb_call *c = NULL;
    json_t *j = NULL;
    struct timeval now = {0, 0};
    mc_err err = MC_ERR_NOMEM;

    if(gw->n_calls >= gw->cfg.max_pending)
        return MC_ERR_BUSY;
    c = calloc(1, sizeof(*c));
    if(!c)
        return MC_ERR_NOMEM;
    c->gw = gw;
    c->op = op;
    c->done = done;
    c->arg = arg;
    evtimer_assign(&c->timer, gw->base, popdb_attempt, c);
    popdb_mask_id(q->personal_id, c->masked_id);
    if(q->request_id)
        snprintf(c->out.request_id, sizeof(c->out.request_id), "%s", q->request_id);
    else
        popdb_new_request_id(c->out.request_id, gw);
    j = popdb_request_json(op, c->out.request_id, q);
    if(!j) {
        err = MC_ERR_BAD_REQUEST;
        goto fail;
    }
    c->body = json_dumps(j, JSON_COMPACT);
    if(!c->body)
        goto fail;
    c->body_len = strlen(c->body);
    /* The first attempt goes through the loop too, so done is never called from here. */
    evtimer_add(&c->timer, &now);
    c->next = gw->calls;
    if(gw->calls)
        gw->calls->prev = c;
    gw->calls = c;
    gw->n_calls++;
    json_decref(j);
    return MC_OK;

fail:
    json_decref(j);
    popdb_call_free(c);
    return err;
}

static mc_err popdb_gw_verify(void *impl, const popdb_query *q, popdb_done_fn done, void *arg)
{
    return popdb_gw_submit(impl, POPDB_OP_VERIFY, q, done, arg);
}

static mc_err popdb_gw_lookup(void *impl, const popdb_query *q, popdb_done_fn done, void *arg)
{
    return popdb_gw_submit(impl, POPDB_OP_LOOKUP, q, done, arg);
}

static mc_err popdb_gw_verify_marital(void *impl, const popdb_query *q, popdb_done_fn done,
                                      void *arg)
{
    return popdb_gw_submit(impl, POPDB_OP_VERIFY_MARITAL, q, done, arg);
}

static mc_err popdb_gw_verify_residence(void *impl, const popdb_query *q, popdb_done_fn done,
                                        void *arg)
{
    return popdb_gw_submit(impl, POPDB_OP_VERIFY_RESIDENCE, q, done, arg);
}

static void popdb_gw_free(void *impl)
{
    popdb_gw *gw = impl;
    popdb_call *c = NULL;

    if(!gw)
        return;
    curlev_free(gw->cv); /* first: no transfer may call back into a freed call */
    while((c = gw->calls)) {
        popdb_call_unlink(gw, c);
        popdb_call_free(c);
    }
    for(size_t i = 0; i < gw->n_extra_headers; i++)
        free(gw->extra_headers[i]);
    free(gw->extra_headers);
    free(gw->base_url);
    free(gw->base_path);
    free(gw->client_id);
    if(gw->secret) {
        OPENSSL_cleanse(gw->secret, strlen(gw->secret));
        free(gw->secret);
    }
    free(gw->api_key);
    free(gw);
}

static const popdb_ops popdb_gateway_ops = {
    .verify = popdb_gw_verify,
    .lookup = popdb_gw_lookup,
    .verify_marital = popdb_gw_verify_marital,
    .verify_residence = popdb_gw_verify_residence,
    .free = popdb_gw_free,
};

/* Header text must not be able to inject another header. */
static bool popdb_header_value_ok(const char *s, size_t max)
{
    return popdb_text_ok(s, max);
}

/* Path part of url ("" for none), via libcurl's URL parser. */
static mc_err popdb_url_path(const char *url, bool allow_plain, char **out)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *path = NULL;
    mc_err err = MC_ERR_CONFIG;

    if(!u)
        return MC_ERR_NOMEM;
    if(curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
       curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
       curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        goto out;
    if(strcmp(scheme, "https") != 0 && !(allow_plain && strcmp(scheme, "http") == 0))
        goto out;
    if(strchr(url, '?') || strchr(url, '#'))
        goto out;
    /* "/" alone means no prefix; otherwise keep it without a trailing slash. */
    {
        size_t n = strlen(path);

        while(n > 0 && path[n - 1] == '/')
            n--;
        *out = strndup(path, n);
    }
    err = *out ? MC_OK : MC_ERR_NOMEM;
out:
    curl_free(scheme);
    curl_free(path);
    curl_url_cleanup(u);
    return err;
}

mc_err popdb_gateway_new(struct event_base *base, const popdb_config *cfg, popdb **out)
{
    popdb_gw *gw = NULL;
    popdb *db = NULL;
    curlev_opts co;
    size_t n = 0;
    mc_err err = MC_ERR_CONFIG;

    if(!base || !cfg || !out)
        return MC_ERR_INTERNAL;
    if(!popdb_header_value_ok(cfg->base_url, 900) || !popdb_header_value_ok(cfg->client_id, 256) ||
       !popdb_header_value_ok(cfg->secret, 1024) ||
       (cfg->api_key && !popdb_header_value_ok(cfg->api_key, 256)) || cfg->timeout_ms <= 0 ||
       cfg->max_inflight == 0 || cfg->max_pending == 0 || cfg->max_retries > 10 ||
       cfg->backoff_cap_ms < cfg->backoff_base_ms || cfg->n_extra_headers > 64 ||
       (cfg->n_extra_headers && !cfg->extra_headers))
        return MC_ERR_CONFIG;
    for(size_t i = 0; i < cfg->n_extra_headers; i++) {
        if(!popdb_header_value_ok(cfg->extra_headers[i], 512) || !strchr(cfg->extra_headers[i], ':'))
            return MC_ERR_CONFIG;
    }
    gw = calloc(1, sizeof(*gw));
    if(!gw)
        return MC_ERR_NOMEM;
    gw->base = base;
    gw->cfg = *cfg;
    gw->rng = cfg->jitter_seed ? cfg->jitter_seed : (uint64_t)popdb_now_ms() ^ (uintptr_t)gw;
    err = popdb_url_path(cfg->base_url, cfg->allow_plain, &gw->base_path);
    if(err)
        goto fail;
    err = MC_ERR_NOMEM;
    n = strlen(cfg->base_url);
    while(n > 0 && cfg->base_url[n - 1] == '/')
        n--;
    gw->base_url = strndup(cfg->base_url, n);
    gw->client_id = strdup(cfg->client_id);
    gw->secret = strdup(cfg->secret);
    gw->api_key = cfg->api_key ? strdup(cfg->api_key) : NULL;
    if(!gw->base_url || !gw->client_id || !gw->secret || (cfg->api_key && !gw->api_key))
        goto fail;
    if(cfg->n_extra_headers) {
        gw->extra_headers = calloc(cfg->n_extra_headers, sizeof(char *));
        if(!gw->extra_headers)
            goto fail;
        for(size_t i = 0; i < cfg->n_extra_headers; i++) {
            gw->extra_headers[i] = strdup(cfg->extra_headers[i]);
            if(!gw->extra_headers[i])
                goto fail;
            gw->n_extra_headers = i + 1;
        }
    }
    memset(&co, 0, sizeof(co));
    co.ca_file = cfg->ca_file;
    co.client_cert = cfg->client_cert;
    co.client_key = cfg->client_key;
    co.max_inflight = cfg->max_inflight;
    co.max_queued = cfg->max_pending; /* never below the calls we accept */
    co.allow_plain = cfg->allow_plain;
    err = curlev_new(base, &co, &gw->cv);
    if(err)
        goto fail;
    err = popdb_new(&popdb_gateway_ops, gw, &db);
    if(err)
        goto fail;
    *out = db;
    return MC_OK;

fail:
    popdb_gw_free(gw);
    return err;
}
