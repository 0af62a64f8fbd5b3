/* popdb.h - the national population database (CSDLQG về dân cư) adapter.
 * Callers see a small ops table (verify, lookup, verify marital status, verify residence) with
 * asynchronous outcomes; the HTTP gateway backend runs it over curlev with HMAC-signed requests,
 * retries with full-jitter backoff and a circuit breaker. Wire protocol: docs/adapters/population.md. */
#ifndef MC_POPDB_H
#define MC_POPDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct event_base;

typedef struct popdb popdb;

typedef enum popdb_status {
    POPDB_VERIFIED = 0,   /* exists and every declared field matches (lookup: record attached) */
    POPDB_MISMATCH,       /* exists, some declared field differs: see outcome.mismatched */
    POPDB_NOT_FOUND,      /* no citizen with that personal ID */
    POPDB_DECEASED,       /* exists, declared fields match, recorded as deceased */
    POPDB_UNAVAILABLE,    /* no definite answer: remote down, breaker open, retries exhausted */
    POPDB_ERROR           /* protocol or security failure: see outcome.reason; never retried */
} popdb_status;

typedef enum popdb_reason {
    POPDB_R_NONE = 0,
    POPDB_R_BREAKER_OPEN,      /* UNAVAILABLE: failed fast, nothing was sent */
    POPDB_R_RETRIES_EXHAUSTED, /* UNAVAILABLE: every attempt timed out, failed to connect or got 5xx */
    POPDB_R_TLS,               /* ERROR: TLS handshake / peer verification failed (fails closed) */
    POPDB_R_AUTH,              /* ERROR: gateway refused our credentials (401/403) */
    POPDB_R_REJECTED,          /* ERROR: gateway refused the request (other 4xx) */
    POPDB_R_BAD_STATUS,        /* ERROR: unexpected HTTP status */
    POPDB_R_MALFORMED,         /* ERROR: body is not the documented JSON, or over the size cap */
    POPDB_R_INTERNAL           /* ERROR: local failure (memory, libcurl set-up) */
} popdb_reason;

/* Fields the remote compares; outcome.matched / outcome.mismatched are OR-ed bits. */
#define POPDB_F_NAME       0x01u
#define POPDB_F_BIRTH_DATE 0x02u
#define POPDB_F_GENDER     0x04u  /* declared gender vs the record (and so the ID's G digit) */
#define POPDB_F_MARITAL    0x08u
#define POPDB_F_RESIDENCE  0x10u

#define POPDB_REQUEST_ID_MAX 65   /* 64 chars + NUL */

typedef enum popdb_gender {
    POPDB_GENDER_UNSET = 0,
    POPDB_GENDER_MALE,
    POPDB_GENDER_FEMALE
} popdb_gender;

typedef enum popdb_marital {
    POPDB_MARITAL_UNSET = 0,
    POPDB_MARITAL_SINGLE,
    POPDB_MARITAL_MARRIED,
    POPDB_MARITAL_DIVORCED,
    POPDB_MARITAL_WIDOWED
} popdb_marital;

typedef enum popdb_op {
    POPDB_OP_VERIFY = 0,
    POPDB_OP_LOOKUP,
    POPDB_OP_VERIFY_MARITAL,
    POPDB_OP_VERIFY_RESIDENCE
} popdb_op;

typedef struct popdb_outcome {
    popdb_status status;
    popdb_reason reason;       /* detail for UNAVAILABLE / ERROR, else POPDB_R_NONE */
    unsigned matched;          /* POPDB_F_* the remote confirmed */
    unsigned mismatched;       /* POPDB_F_* the remote contradicted (MISMATCH) */
    char request_id[POPDB_REQUEST_ID_MAX]; /* the id sent with every attempt */
    unsigned attempts;         /* HTTP attempts made; 0 when failed fast */
    long http_status;          /* last HTTP status, 0 if none */
    int curl_code;             /* last transport result (CURLcode), 0 if fine */
    char remote_code[32];      /* gateway's error code from an error body, "" if none */
} popdb_outcome;

typedef struct popdb_address {
    char province[8];          /* e.g. "48" */
    char district[8];          /* only on records made before 2025-07-01, else "" */
    char ward[8];              /* commune/ward code, e.g. "20242" */
    char detail[256];          /* street address */
} popdb_address;

/* What a lookup returns for prefill. Minimal on purpose: no parents, no spouse. */
typedef struct popdb_citizen {
    char personal_id[13];
    char family_name[64];
    char middle_name[96];
    char given_name[64];
    char full_name[256];
    popdb_gender gender;
    char birth_date[9];        /* yyyyMMdd */
    char ethnicity[32];
    popdb_marital marital;
    popdb_address permanent;
    popdb_address current;
    char household_head_id[13];
    bool is_household_head;
    bool deceased;
} popdb_citizen;

/* One question to the database. All strings are borrowed for the duration of the call only. */
typedef struct popdb_query {
    const char *request_id;    /* optional (<= 64 of [A-Za-z0-9._-]); NULL = generate a UUID */
    const char *service_code;  /* procedure served, e.g. "1.001193" */
    const char *unit;          /* calling unit, e.g. "H17.40.12" */
    const char *officer;       /* officer / account on whose behalf the call is made */
    const char *personal_id;   /* 12 digits */
    const char *full_name;     /* UTF-8, as declared */
    const char *birth_date;    /* "yyyyMMdd" or "yyyy" */
    popdb_gender gender;       /* UNSET = not declared (not compared) */
    popdb_marital marital;     /* verify_marital: the claimed status */
    const char *province;      /* verify_residence: claimed current province code */
    const char *ward;          /* verify_residence: claimed current ward code */
} popdb_query;

/* Completion: exactly once per accepted call, on the loop thread, never from inside the
 * submitting function. rec is non-NULL only for a lookup that returned a record (VERIFIED or
 * DECEASED). Both pointers are valid only during the callback. The callback may submit new
 * calls; it must not free the popdb. */
typedef void (*popdb_done_fn)(const popdb_outcome *out, const popdb_citizen *rec, void *arg);

/* A backend. Each function returns MC_OK and later calls done, or returns an error and never
 * calls it. The query has been checked by popdb_query_check before the backend sees it. */
typedef struct popdb_ops {
    mc_err (*verify)(void *impl, const popdb_query *q, popdb_done_fn done, void *arg);
    mc_err (*lookup)(void *impl, const popdb_query *q, popdb_done_fn done, void *arg);
    mc_err (*verify_marital)(void *impl, const popdb_query *q, popdb_done_fn done, void *arg);
    mc_err (*verify_residence)(void *impl, const popdb_query *q, popdb_done_fn done, void *arg);
    void (*free)(void *impl);  /* drops pending calls without calling them back */
} popdb_ops;

/* Log sink: one line per event (retries, breaker changes, failed outcomes), no newline,
 * personal IDs already masked. NULL in the config means stderr. */
typedef void (*popdb_log_fn)(void *arg, const char *line);

/* HTTP gateway backend configuration. Start from popdb_config_defaults(). */
typedef struct popdb_config {
    const char *base_url;          /* e.g. "https://lgsp.example.vn/csdlqgdc/v1" (no trailing /) */
    const char *client_id;         /* X-Client-Id */
    const char *secret;            /* HMAC-SHA256 key */
    const char *ca_file;           /* the only CA trusted for the gateway */
    const char *client_cert;       /* optional mTLS certificate ... */
    const char *client_key;        /* ... and key */
    const char *api_key;           /* optional, sent as X-Api-Key */
    const char *const *extra_headers; /* optional "Name: value" lines sent on every request */
    size_t n_extra_headers;
    long timeout_ms;               /* per attempt; default 3000 */
    unsigned max_retries;          /* attempts after the first; default 3 */
    unsigned backoff_base_ms;      /* default 100 */
    unsigned backoff_cap_ms;       /* default 2000; delay = random(0, min(cap, base * 2^n)) */
    unsigned breaker_threshold;    /* consecutive failures that open it; default 5; 0 = off */
    unsigned breaker_cooldown_ms;  /* open time before one probe; default 10000 */
    unsigned max_inflight;         /* HTTP transfers at once; default 256 */
    unsigned max_pending;          /* accepted, unfinished calls (incl. queued, backing off);
                                      default 4096; beyond it calls return MC_ERR_BUSY */
    long clock_offset_s;           /* added to the local clock in X-Timestamp; default 0 */
    uint64_t jitter_seed;          /* 0 = seed from the clock */
    bool allow_plain;              /* allow http:// base URLs (benchmarks only) */
    popdb_log_fn log;              /* NULL = stderr */
    void *log_arg;
} popdb_config;

/* Fill cfg with the defaults above (strings NULL). */
void popdb_config_defaults(popdb_config *cfg);

/* Wrap a backend: on success *out owns impl (freed with ops->free by popdb_free).
 * On error *out is unchanged and impl still belongs to the caller. */
mc_err popdb_new(const popdb_ops *ops, void *impl, popdb **out);

/* Create the HTTP gateway backend on base (strings in cfg are copied). On error *out is
 * unchanged: MC_ERR_CONFIG for a missing/invalid value, MC_ERR_NOMEM, MC_ERR_INTERNAL. */
mc_err popdb_gateway_new(struct event_base *base, const popdb_config *cfg, popdb **out);

/* Free db and its backend; pending calls are dropped without callbacks. Accepts NULL.
 * Must not be called from inside a completion callback. */
void popdb_free(popdb *db);

/* The four operations. MC_OK: done will be called once. MC_ERR_BAD_REQUEST: the query is
 * malformed; MC_ERR_BUSY: max_pending reached; MC_ERR_NOMEM. On error done is never called. */
mc_err popdb_verify(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg);
mc_err popdb_lookup(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg);
mc_err popdb_verify_marital(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg);
mc_err popdb_verify_residence(popdb *db, const popdb_query *q, popdb_done_fn done, void *arg);

/* Structural check of q for op (digits, lengths, required fields): MC_OK or MC_ERR_BAD_REQUEST.
 * Does not check the ID against gender/birth year: that is the caller's local check. */
mc_err popdb_query_check(popdb_op op, const popdb_query *q);

/* Interpret a 200 response body for op. request_id is the id we sent; out gets status,
 * matched/mismatched (request_id, attempts, http fields untouched); rec (may be NULL) is
 * filled for a lookup that returned a record. Returns MC_OK, or MC_ERR_BAD_REQUEST when the
 * body is not the documented JSON (out->status is then POPDB_ERROR / POPDB_R_MALFORMED). */
mc_err popdb_parse_response(popdb_op op, const char *request_id, const char *body, size_t len,
                            popdb_outcome *out, popdb_citizen *rec);

/* Gateway signature: lowercase hex HMAC-SHA256(secret, method "\n" path "\n" timestamp "\n"
 * hex(sha256(body))) into out (65 bytes incl. NUL). Returns MC_OK or MC_ERR_INTERNAL. */
mc_err popdb_sign(const char *secret, const char *method, const char *path, long long timestamp,
                  const char *body, size_t body_len, char out[65]);

/* "048090001234" -> "048******234" for logs; anything not 12 chars -> "************"-style
 * mask of its length (capped). out must hold 13 bytes. */
void popdb_mask_id(const char *pid, char out[13]);

/* Stable names for logs and tests: "VERIFIED", "BREAKER_OPEN", "SINGLE", ... */
const char *popdb_status_name(popdb_status s);
const char *popdb_reason_name(popdb_reason r);
const char *popdb_marital_name(popdb_marital m);

#endif
