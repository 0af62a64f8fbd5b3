/* http.c - the evhttp front. The loop thread matches the route, copies what the handler needs out of
 * the request, and queues a job on the database worker pool; the worker authenticates, checks the
 * role and rate, and runs the handler; the loop sends the reply and writes one log line. */
#include "http.h"
#include "hex.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "actions_api.h"
#include "attach_api.h"
#include "dossier_api.h"
#include "identity.h"
#include "intake.h"
#include "log.h"
#include "results_api.h"
#include "reuse.h"

typedef struct route {
    const char *method;
    const char *pattern;   /* "{}" matches one path segment */
    unsigned roles;        /* 0: public, no key */
    route_fn fn;           /* runs on a worker; may hand over to the loop with j->then */
} route;

#define BODY_SLICE 65536

static const route routes[] = {
    {"POST", "/v1/dossiers", ROLE_PORTAL | ROLE_NATIONAL, intake_post},
    {"GET", "/v1/dossiers/{}", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, dossier_api_get},
    {"GET", "/v1/dossiers/{}/history", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, dossier_api_history},
    {"GET", "/readyz", 0, dossier_api_ready},
    {"GET", "/v1/citizens/{}/prefill", ROLE_PORTAL, identity_prefill},
    {"GET", "/v1/citizens/{}/evidence", ROLE_PORTAL, reuse_api_evidence},
    {"GET", "/v1/stats", ROLE_MONITOR | ROLE_OFFICIAL, reuse_api_stats},
    {"GET", "/v1/results", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, results_api_list},
    {"GET", "/v1/results/{}", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, results_api_get},
    {"POST", "/v1/results/{}/revocation", ROLE_OFFICIAL, results_api_revoke},
    {"POST", "/v1/verify", 0, results_api_verify}, /* public: rate-limited per client IP in the handler */
    {"POST", "/v1/dossiers/{}/attachments", ROLE_PORTAL | ROLE_NATIONAL, attach_api_post},
    {"GET", "/v1/dossiers/{}/attachments", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, attach_api_list},
    {"GET", "/v1/dossiers/{}/attachments/{}", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, attach_api_get},
    {"POST", "/v1/dossiers/{}/actions/{}", ROLE_PORTAL | ROLE_NATIONAL | ROLE_OFFICIAL, actions_api_post},
    {"POST", "/v1/dossiers/{}/apology", ROLE_OFFICIAL, actions_api_apology},
    {"GET", "/v1/queue", ROLE_OFFICIAL, actions_api_queue},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static bool seg_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

/* Match path against pattern; on success copy the {} segments (at most two) into params. */
static bool match(const char *pattern, const char *path, char params[2][64])
{
    const char *p = pattern, *s = path;
    int k = 0;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *e = strchr(s, '/');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (!seg_ok(s, n) || n >= 64 || k >= 2) return false;
            memcpy(params[k], s, n);
            params[k++][n] = '\0';
            s += n;
            p += 2;
        } else if (*p++ != *s++) {
            return false;
        }
    }
    return !*p && !*s;
}

/* 12 random bytes as 24 hex digits (cap >= 25). */
static void new_request_id(char *out, size_t cap)
{
    if (cap >= 25) hex_random(12, out);
    else if (cap) out[0] = '\0';
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void log_request(const http_job *j)
{
    char cl[32] = "-";
    if (j->client.id) snprintf(cl, sizeof(cl), "%llu", (unsigned long long)j->client.id);
    log_msg(j->out.status >= 500 ? LOG_WARN : LOG_INFO,
            "req=%s method=%s route=%s status=%d ms=%.2f client=%s dossier=%s%s%s", j->request_id, j->method,
            j->route ? j->route->pattern : j->path, j->out.status, ms_since(&j->start), cl,
            j->out.dossier_code[0] ? j->out.dossier_code : "-", j->out.err ? " problem=" : "",
            j->out.err ? mc_err_name(j->out.err) : "");
}

static void job_free(http_job *j)
{
    if (!j) return;
    reply_clear(&j->out);
    free(j->body);
    free(j);
}

/* Loop thread: send, log, release. */
static void finish(http_job *j)
{
    reply_send(j->req, &j->out, j->request_id);
    log_request(j);
    j->app->in_flight--;
    j->app->served++;
    job_free(j);
}

void http_finish(http_job *j) { finish(j); }

bool http_query(http_job *j, struct evkeyvalq *q)
{
    TAILQ_INIT(q);
    if (evhttp_parse_query_str(j->query, q) == 0) return true;
    reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "the query string cannot be parsed", NULL);
    return false;
}

bool http_digits(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (!s || n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

static void job_done(void *arg)
{
    http_job *j = arg;
    if (j->then && !j->out.status) j->then(j); /* the handler continues on the loop (remote calls) */
    else finish(j);
}

/* Worker thread. */
static void job_work(db_conn *c, void *arg)
{
    http_job *j = arg;
    app *a = j->app;
    if (!c) {
        reply_problem(&j->out, MC_ERR_DB_UNAVAILABLE, j->path, "the database cannot be reached; nothing was stored",
                      NULL);
        return;
    }
    if (j->route->roles) {
        mc_err rc = auth_resolve(a->auth, c, j->authorization, &j->client);
        if (rc) {
            reply_problem(&j->out, rc, j->path,
                          rc == MC_ERR_UNAUTHORIZED ? "send a valid API key as 'Authorization: Bearer mck_...'"
                                                    : "could not check the API key",
                          NULL);
            return;
        }
        if (!(j->route->roles & j->client.role)) {
            char d[160];
            snprintf(d, sizeof(d), "role '%s' may not %s %s", auth_role_name(j->client.role), j->method,
                     j->route->pattern);
            reply_problem(&j->out, MC_ERR_FORBIDDEN, j->path, d, NULL);
            return;
        }
        if (!auth_rate_take(a->auth, j->client.id)) {
            j->out.retry_after = 1;
            reply_problem(&j->out, MC_ERR_RATE_LIMITED, j->path, "request rate over this client's limit", NULL);
            return;
        }
    }
    j->route->fn(j, c);
}

/* The header's value into dst ("" when absent); false when it does not fit. */
static bool copy_header(struct evkeyvalq *h, const char *name, char *dst, size_t cap)
{
    const char *v = evhttp_find_header(h, name);
    return (size_t)snprintf(dst, cap, "%s", v ? v : "") < cap;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PATCH: return "PATCH";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    default: return "OTHER";
    }
}

/* Reply from the loop thread without a worker (health, routing errors, overload). */
static void answer_now(http_job *j, int status, mc_err err, const char *detail)
{
    if (err) reply_problem(&j->out, err, j->path, detail, NULL);
    else reply_json_text(&j->out, status, detail, strlen(detail));
    finish(j);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    app *a = arg;
    http_job *j = calloc(1, sizeof(*j));
    if (!j) {
        evhttp_send_error(req, 503, "out of memory");
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    j->app = a;
    j->req = req;
    a->in_flight++;
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    copy_header(h, "X-Request-Id", j->request_id, sizeof(j->request_id));
    if (!seg_ok(j->request_id, strlen(j->request_id))) new_request_id(j->request_id, sizeof(j->request_id));
    snprintf(j->method, sizeof(j->method), "%s", method_name(evhttp_request_get_command(req)));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || strlen(path) >= sizeof(j->path)) {
        snprintf(j->path, sizeof(j->path), "/");
        answer_now(j, 0, MC_ERR_NOT_FOUND, "no such resource");
        return;
    }
    snprintf(j->path, sizeof(j->path), "%s", path);
    if (query && strlen(query) >= sizeof(j->query)) { /* cut, it would silently lose or change parameters */
        answer_now(j, 0, MC_ERR_BAD_REQUEST, "the query string is too long");
        return;
    }
    snprintf(j->query, sizeof(j->query), "%s", query ? query : "");

    if (strcmp(j->path, "/healthz") == 0) { /* process alive: answered by the loop itself */
        answer_now(j, 200, MC_OK, a->draining ? "{\"status\":\"draining\"}" : "{\"status\":\"ok\"}");
        return;
    }
    if (a->draining) {
        j->out.retry_after = 1;
        answer_now(j, 0, MC_ERR_BUSY, "server is shutting down");
        return;
    }
    bool path_known = false;
    char allow[64] = "";
    for (size_t i = 0; i < NROUTES; i++) {
        char params[2][64] = {"", ""};
        if (!match(routes[i].pattern, j->path, params)) continue;
        path_known = true;
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof(allow) - al, "%s%s", al ? ", " : "", routes[i].method);
        if (strcmp(routes[i].method, j->method) == 0) {
            j->route = &routes[i];
            snprintf(j->param, sizeof(j->param), "%s", params[0]);
            snprintf(j->param2, sizeof(j->param2), "%s", params[1]);
        }
    }
    if (!j->route) {
        if (path_known) snprintf(j->out.allow, sizeof(j->out.allow), "%s", allow);
        answer_now(j, 0, path_known ? MC_ERR_METHOD : MC_ERR_NOT_FOUND,
                   path_known ? "method not allowed on this resource" : "no such resource");
        return;
    }
    {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
        snprintf(j->peer, sizeof(j->peer), "%s", addr ? addr : "");
    }
    copy_header(h, "Authorization", j->authorization, sizeof(j->authorization));
    if (!j->authorization[0]) copy_header(h, "X-API-Key", j->authorization, sizeof(j->authorization));
    /* headers whose meaning a cut would change (an If-Match list losing its match, an idempotency key
     * another request's prefix) are refused whole; a cut API key simply does not authenticate (401),
     * a cut Content-Type keeps its media type or no longer names an accepted one (415), and a cut
     * X-File-Name is still over the 255-byte name limit (422) */
    copy_header(h, "Content-Type", j->content_type, sizeof(j->content_type));
    copy_header(h, "X-File-Name", j->file_name, sizeof(j->file_name));
    const char *too_long = !copy_header(h, "Idempotency-Key", j->idem_key, sizeof(j->idem_key)) ? "Idempotency-Key"
                         : !copy_header(h, "X-Component", j->component, sizeof(j->component)) ? "X-Component"
                         : !copy_header(h, "If-Match", j->if_match, sizeof(j->if_match)) ? "If-Match"
                                                                                        : NULL;
    if (too_long) {
        char d[96];
        snprintf(d, sizeof(d), "the %s header is too long", too_long);
        answer_now(j, 0, MC_ERR_BAD_REQUEST, d);
        return;
    }
    if (evhttp_find_header(h, "Idempotency-Key") && !j->idem_key[0]) { /* sent but empty: not "no key" */
        answer_now(j, 0, MC_ERR_BAD_REQUEST, "Idempotency-Key is empty: send 1 to 128 visible ASCII characters or no header");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n) {
        if (!(j->body = malloc(n + 1))) {
            answer_now(j, 0, MC_ERR_NOMEM, "out of memory");
            return;
        }
        /* move it in slices, each drained as it is copied: the body is never held twice in full */
        size_t off = 0;
        while (off < n) {
            int got = evbuffer_remove(in, j->body + off, n - off < BODY_SLICE ? n - off : BODY_SLICE);
            if (got <= 0) break;
            off += (size_t)got;
        }
        if (off != n) { /* a short copy would hand the handler uninitialised bytes */
            answer_now(j, 0, MC_ERR_INTERNAL, "the request body could not be read");
            return;
        }
        j->body[n] = '\0';
        j->body_len = n;
    }
    mc_err rc = db_pool_submit(a->pool, job_work, job_done, j);
    if (rc) {
        j->out.retry_after = 1;
        answer_now(j, 0, rc == MC_ERR_BUSY ? MC_ERR_BUSY : rc, "too many requests in flight; retry shortly");
    }
}

mc_err http_start(app *a, char *why, size_t whycap)
{
    a->http = evhttp_new(a->base);
    if (!a->http) return MC_ERR_NOMEM;
    evhttp_set_max_body_size(a->http, (ev_ssize_t)a->cfg.http_max_body);
    evhttp_set_max_headers_size(a->http, 16384);
    evhttp_set_timeout(a->http, a->cfg.http_timeout_s);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(a->http, on_request, a);
    a->listener = evhttp_bind_socket_with_handle(a->http, a->cfg.listen_addr, (ev_uint16_t)a->cfg.listen_port);
    if (!a->listener) {
        snprintf(why, whycap, "cannot listen on %s:%d", a->cfg.listen_addr, a->cfg.listen_port);
        return MC_ERR_IO;
    }
    return MC_OK;
}

void http_stop_accepting(app *a)
{
    a->draining = true;
    if (a->listener) {
        evhttp_del_accept_socket(a->http, a->listener);
        a->listener = NULL;
    }
}

void http_free(app *a)
{
    if (a->http) evhttp_free(a->http);
    a->http = NULL;
}
