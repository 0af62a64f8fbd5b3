/* curlev.h - libcurl's multi interface driven by a libevent event_base (pattern of curl's
 * docs/examples/multi-event.c), so that no remote call ever blocks the loop. A curlev is bound to
 * one event_base; each adapter owns its own (own caps, TLS identity and connection pool, so a
 * stalled remote cannot take another's slots), and several share the same base. */
#ifndef MC_CURLEV_H
#define MC_CURLEV_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct event_base;

typedef struct curlev curlev;

#define CURLEV_DEFAULT_MAX_INFLIGHT 256u
#define CURLEV_DEFAULT_MAX_QUEUED 4096u
#define CURLEV_DEFAULT_MAX_BODY ((size_t)256 * 1024)
#define CURLEV_DEFAULT_TIMEOUT_MS 3000L
#define CURLEV_DEFAULT_START_BURST 4u

typedef struct curlev_opts {
    const char *ca_file;      /* PEM bundle peers are verified against; required unless allow_plain */
    const char *client_cert;  /* optional PEM client certificate (mTLS) */
    const char *client_key;   /* its key; required iff client_cert is set */
    unsigned max_inflight;    /* transfers running at once; 0 = CURLEV_DEFAULT_MAX_INFLIGHT */
    unsigned max_queued;      /* waiting beyond that; 0 = CURLEV_DEFAULT_MAX_QUEUED */
    unsigned start_burst;     /* transfers started per loop iteration, the rest wait for the
                                 next one: a burst of cold TLS connections (~1 ms of CPU each)
                                 must not stall the loop; 0 = CURLEV_DEFAULT_START_BURST */
    size_t max_body;          /* response body cap in bytes; 0 = CURLEV_DEFAULT_MAX_BODY */
    bool allow_plain;         /* also allow http:// (benchmarks against a --plain simulator) */
} curlev_opts;

typedef struct curlev_request {
    const char *method;             /* "GET" or "POST" */
    const char *url;
    const char *const *headers;     /* "Name: value" lines, n_headers of them */
    size_t n_headers;
    const char *body;               /* POST body (copied), may be NULL with body_len 0 */
    size_t body_len;
    long timeout_ms;                /* whole transfer; <= 0 = CURLEV_DEFAULT_TIMEOUT_MS */
} curlev_request;

typedef struct curlev_result {
    int curl_code;          /* CURLcode; 0 = a complete HTTP response arrived */
    long status;            /* HTTP status, 0 if none was received */
    const char *body;       /* NUL-terminated, body_len bytes; valid only during the callback */
    size_t body_len;
    bool body_too_large;    /* the body exceeded max_body (curl_code is then CURLE_WRITE_ERROR) */
    const char *error;      /* curl's error text, "" when curl_code == 0; valid during the callback */
    long elapsed_ms;        /* from start of the transfer (not counting time queued) */
} curlev_result;

/* Called exactly once per accepted request, on the loop thread, never from inside curlev_submit.
 * The callback may submit new requests; it must not call curlev_free. */
typedef void (*curlev_done_fn)(const curlev_result *res, void *arg);

/* Create a curlev on base. opts is copied (its strings too). On success *out owns a new
 * handle (free with curlev_free); on error *out is unchanged. Returns MC_ERR_CONFIG for a bad
 * option (missing CA file, key without cert), MC_ERR_NOMEM, MC_ERR_INTERNAL if libcurl fails. */
mc_err curlev_new(struct event_base *base, const curlev_opts *opts, curlev **out);

/* Stop every transfer without calling its callback and free cv. Accepts NULL.
 * Must not be called from inside a completion callback. */
void curlev_free(curlev *cv);

/* Start req (copied), or queue it when max_inflight transfers are running or this loop
 * iteration's start_burst is spent (queued ones start FIFO). On MC_OK, done(arg)
 * will be called once later. MC_ERR_BUSY when the queue is full too, MC_ERR_BAD_REQUEST for a
 * bad method/URL, MC_ERR_NOMEM; on error nothing is started and done is never called. */
mc_err curlev_submit(curlev *cv, const curlev_request *req, curlev_done_fn done, void *arg);

/* Transfers running now / waiting in the queue. */
unsigned curlev_inflight(const curlev *cv);
unsigned curlev_queued(const curlev *cv);

/* True for CURLcodes that mean "the remote did not answer" (timeout, connect, send/recv):
 * worth a retry. TLS verification failures are not in this set (they fail closed). */
bool curlev_code_is_transient(int curl_code);

/* True for CURLcodes raised by TLS set-up or peer verification. */
bool curlev_code_is_tls(int curl_code);

#endif
