/* popdb_sim.c - popdb-sim: a simulator of the national population database gateway for
 * development, tests and benchmarks. A real HTTPS server (evhttp + bufferevent_openssl) that
 * checks the gateway HMAC, answers from a synthetic citizens file and injects faults on demand. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "popdb.h"

#define SIM_MAX_BODY ((size_t)64 * 1024)
#define SIM_HANG_MS (3600L * 1000) /* "hang": answer only at shutdown or after an hour */

enum { SIM_OP_VERIFY, SIM_OP_LOOKUP, SIM_OP_MARITAL, SIM_OP_RESIDENCE, SIM_OP_COUNT };
static const char *const sim_op_path[SIM_OP_COUNT] = {
    "/v1/citizen/verify", "/v1/citizen/lookup", "/v1/citizen/verify-marital",
    "/v1/citizen/verify-residence"};
static const char *const sim_op_name[SIM_OP_COUNT] = {"verify", "lookup", "verify_marital",
                                                      "verify_residence"};

typedef struct sim_faults {
    long latency_ms;      /* delay before answering */
    double error_rate;    /* < 0: unset */
    int status;           /* 0: unset */
    bool hang;
    bool malformed;
    bool bad_hmac;
    long count;           /* global faults only: apply to this many requests, 0 = until reset */
} sim_faults;

typedef struct sim sim;

/* A reply waiting for its latency timer (or for shutdown, when hung). */
typedef struct sim_pending {
    sim *s;
    struct evhttp_request *req;
    struct event timer;
    int status;
    char *body;
    struct sim_pending *prev, *next;
} sim_pending;

struct sim {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    json_t *by_id;              /* personal_id -> citizen record */
    size_t n_citizens;
    const char *client_id;
    const char *secret;
    long max_skew_s;
    sim_faults faults;          /* global, from POST /_sim/faults */
    uint64_t rng;
    unsigned long calls[SIM_OP_COUNT];
    unsigned long rej_signature, rej_skew, rej_client, rej_missing, bad_request, injected;
    json_t *verify_by_id;       /* personal_id -> number of verify calls */
    unsigned in_flight, max_concurrent;
    unsigned long connections;  /* accepted TCP connections: shows whether clients reuse them */
    sim_pending *pending;
};

static void sim_faults_clear(sim_faults *f)
{
    memset(f, 0, sizeof(*f));
    f->error_rate = -1.0;
}

static double sim_rand01(sim *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

/* "latency=2000,error_rate=0.5,status=503,hang,malformed,bad_hmac" over f. false = bad knob. */
static bool sim_faults_parse(const char *spec, sim_faults *f)
{
    char buf[256];
    char *save = NULL;
    size_t n = strlen(spec);

    if(n >= sizeof(buf))
        return false;
    memcpy(buf, spec, n + 1);
    for(char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *val = strchr(tok, '=');
        char *end = NULL;

        while(*tok == ' ')
            tok++;
        if(val)
            *val++ = '\0';
        if(strcmp(tok, "latency") == 0 && val) {
            f->latency_ms = strtol(val, &end, 10);
            if(*end || f->latency_ms < 0 || f->latency_ms > SIM_HANG_MS)
                return false;
        } else if(strcmp(tok, "error_rate") == 0 && val) {
            f->error_rate = strtod(val, &end);
            if(*end || !(f->error_rate >= 0.0 && f->error_rate <= 1.0))
                return false;
        } else if(strcmp(tok, "status") == 0 && val) {
            f->status = (int)strtol(val, &end, 10);
            if(*end || f->status < 100 || f->status > 599)
                return false;
        } else if(strcmp(tok, "hang") == 0 && !val) {
            f->hang = true;
        } else if(strcmp(tok, "malformed") == 0 && !val) {
            f->malformed = true;
        } else if(strcmp(tok, "bad_hmac") == 0 && !val) {
            f->bad_hmac = true;
        } else {
            return false;
        }
    }
    return true;
}

static bool sim_faults_from_json(const json_t *o, sim_faults *f)
{
    const char *key = NULL;
    json_t *v = NULL;

    if(!json_is_object(o))
        return false;
    sim_faults_clear(f);
    json_object_foreach((json_t *)o, key, v) {
        if(strcmp(key, "latency") == 0 && json_is_integer(v))
            f->latency_ms = (long)json_integer_value(v);
        else if(strcmp(key, "error_rate") == 0 && json_is_number(v))
            f->error_rate = json_number_value(v);
        else if(strcmp(key, "status") == 0 && json_is_integer(v))
            f->status = (int)json_integer_value(v);
        else if(strcmp(key, "hang") == 0 && json_is_boolean(v))
            f->hang = json_is_true(v);
        else if(strcmp(key, "malformed") == 0 && json_is_boolean(v))
            f->malformed = json_is_true(v);
        else if(strcmp(key, "bad_hmac") == 0 && json_is_boolean(v))
            f->bad_hmac = json_is_true(v);
        else if(strcmp(key, "count") == 0 && json_is_integer(v))
            f->count = (long)json_integer_value(v);
        else
            return false;
    }
    return f->latency_ms >= 0 && f->latency_ms <= SIM_HANG_MS && f->error_rate <= 1.0 &&
           (f->status == 0 || (f->status >= 100 && f->status <= 599)) && f->count >= 0;
}

/* ---- replies ------------------------------------------------------------------------- */

static void sim_send_now(sim *s, struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *out = evbuffer_new();

    if(out)
        evbuffer_add(out, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
    if(s->in_flight)
        s->in_flight--;
}

static void sim_pending_unlink_free(sim_pending *p)
{
    sim *s = p->s;

    event_del(&p->timer);
    if(p->prev)
        p->prev->next = p->next;
    else
        s->pending = p->next;
    if(p->next)
        p->next->prev = p->prev;
    free(p->body);
    free(p);
}

static void sim_pending_fire(evutil_socket_t fd, short what, void *arg)
{
    sim_pending *p = arg;

    (void)fd;
    (void)what;
    sim_send_now(p->s, p->req, p->status, p->body);
    sim_pending_unlink_free(p);
}

/* Reply after delay_ms without blocking the loop; body is copied. */
static void sim_reply(sim *s, struct evhttp_request *req, int status, const char *body,
                      long delay_ms)
{
    sim_pending *p = NULL;
    struct timeval tv;

    if(delay_ms <= 0)
        goto now;
    p = calloc(1, sizeof(*p));
    if(!p)
        goto now;
    p->body = strdup(body);
    if(!p->body) {
        free(p);
        goto now;
    }
    p->s = s;
    p->req = req;
    p->status = status;
    evtimer_assign(&p->timer, s->base, sim_pending_fire, p);
    tv.tv_sec = delay_ms / 1000;
    tv.tv_usec = (delay_ms % 1000) * 1000;
    evtimer_add(&p->timer, &tv);
    p->next = s->pending;
    if(s->pending)
        s->pending->prev = p;
    s->pending = p;
    return;
now:
    sim_send_now(s, req, status, body);
}

static void sim_reply_json(sim *s, struct evhttp_request *req, int status, json_t *j, long delay_ms)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    sim_reply(s, req, status, text ? text : "{\"error\":\"INTERNAL\"}", delay_ms);
    free(text);
}

static void sim_reply_error(sim *s, struct evhttp_request *req, int status, const char *code,
                            const char *rid, long delay_ms)
{
    json_t *j = json_pack("{s:s}", "error", code);

    if(j && rid)
        json_object_set_new(j, "request_id", json_string(rid));
    sim_reply_json(s, req, status, j, delay_ms);
    json_decref(j);
}

/* ---- matching ------------------------------------------------------------------------ */

/* Trim and collapse runs of spaces; names are compared byte-exact after this. */
static void sim_norm_name(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    bool space = false;

    for(; *in && n + 1 < cap; in++) {
        if(*in == ' ' || *in == '\t') {
            space = n > 0;
            continue;
        }
        if(space && n + 2 < cap)
            out[n++] = ' ';
        space = false;
        out[n++] = *in;
    }
    out[n] = '\0';
}

static const char *sim_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Compare the identity fields every operation carries. Appends names to matched/mismatched. */
static void sim_compare_identity(const json_t *rec, const json_t *q, json_t *matched,
                                 json_t *mismatched)
{
    char a[512], b[512];
    const char *dob = sim_str(q, "birth_date");
    const char *rdob = sim_str(rec, "birth_date");
    const char *gender = sim_str(q, "gender");
    bool dob_ok = false;

    sim_norm_name(sim_str(q, "full_name"), a, sizeof(a));
    sim_norm_name(sim_str(rec, "full_name"), b, sizeof(b));
    json_array_append_new(strcmp(a, b) == 0 ? matched : mismatched, json_string("full_name"));
    if(strlen(dob) == 4)
        dob_ok = strncmp(dob, rdob, 4) == 0;
    else
        dob_ok = strcmp(dob, rdob) == 0;
    json_array_append_new(dob_ok ? matched : mismatched, json_string("birth_date"));
    if(gender)
        json_array_append_new(strcmp(gender, sim_str(rec, "gender")) == 0 ? matched : mismatched,
                              json_string("gender"));
}

/* The record subset a lookup returns: enough for prefill, no parents or spouse. */
static json_t *sim_citizen_view(const json_t *rec)
{
    static const char *const keys[] = {"personal_id", "family_name", "middle_name",
                                       "given_name", "full_name", "gender", "birth_date",
                                       "ethnicity", "marital_status", "household_head_id",
                                       "deceased"};
    json_t *o = json_object();

    for(size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(rec, keys[i]);

        if(v)
            json_object_set(o, keys[i], v);
    }
    for(int k = 0; o && k < 2; k++) {
        const char *name = k ? "current_residence" : "permanent_residence";
        json_t *src = json_object_get(rec, name);
        json_t *a = json_object();

        if(!a)
            continue;
        json_object_set(a, "province", json_object_get(src, "province"));
        json_object_set(a, "ward", json_object_get(src, "ward"));
        json_object_set(a, "detail", json_object_get(src, "detail"));
        if(json_object_get(src, "district"))
            json_object_set(a, "district", json_object_get(src, "district"));
        json_object_set_new(o, name, a);
    }
    return o;
}

/* Answer a well-formed, authenticated operation request. */
static json_t *sim_answer(sim *s, int op, const json_t *q)
{
    const char *pid = sim_str(q, "personal_id");
    const json_t *rec = json_object_get(s->by_id, pid);
    json_t *matched = json_array();
    json_t *mismatched = json_array();
    json_t *resp = json_pack("{s:O}", "request_id", json_object_get(q, "request_id"));
    bool match = false;

    if(!matched || !mismatched || !resp)
        goto out;
    if(!rec) {
        json_object_set_new(resp, "found", json_false());
        goto out;
    }
    sim_compare_identity(rec, q, matched, mismatched);
    if(op == SIM_OP_MARITAL) {
        const char *m = sim_str(q, "marital_status");

        json_array_append_new(strcmp(m, sim_str(rec, "marital_status")) == 0 ? matched : mismatched,
                              json_string("marital_status"));
    } else if(op == SIM_OP_RESIDENCE) {
        const json_t *want = json_object_get(q, "current_residence");
        const json_t *have = json_object_get(rec, "current_residence");
        bool same = strcmp(sim_str(want, "province"), sim_str(have, "province")) == 0 &&
                    strcmp(sim_str(want, "ward"), sim_str(have, "ward")) == 0;

        json_array_append_new(same ? matched : mismatched, json_string("current_residence"));
    }
    match = json_array_size(mismatched) == 0;
    json_object_set_new(resp, "found", json_true());
    json_object_set_new(resp, "match", json_boolean(match));
    json_object_set(resp, "matched", matched);
    json_object_set(resp, "mismatched", mismatched);
    /* Deceased status and data only go to a caller who already knows who this is. */
    if(match) {
        json_object_set(resp, "deceased", json_object_get(rec, "deceased"));
        if(op == SIM_OP_LOOKUP)
            json_object_set_new(resp, "citizen", sim_citizen_view(rec));
    }
out:
    json_decref(matched);
    json_decref(mismatched);
    return resp;
}

/* Request body fields: required strings, and their shapes. NULL = fine, else a detail. */
static const char *sim_check_request(int op, const json_t *q)
{
    static const char *const req[] = {"request_id", "service_code", "unit", "officer",
                                      "personal_id", "full_name", "birth_date"};
    const char *dob = NULL, *g = NULL;

    if(!json_is_object(q))
        return "body is not a JSON object";
    for(size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        const char *v = sim_str(q, req[i]);

        if(!v || !v[0])
            return req[i];
    }
    if(strlen(sim_str(q, "personal_id")) != 12)
        return "personal_id";
    dob = sim_str(q, "birth_date");
    if(strlen(dob) != 8 && strlen(dob) != 4)
        return "birth_date";
    g = sim_str(q, "gender");
    if(json_object_get(q, "gender") && (!g || (strcmp(g, "M") != 0 && strcmp(g, "F") != 0)))
        return "gender";
    if(op == SIM_OP_MARITAL && !sim_str(q, "marital_status"))
        return "marital_status";
    if(op == SIM_OP_RESIDENCE) {
        const json_t *r = json_object_get(q, "current_residence");

        if(!sim_str(r, "province") || !sim_str(r, "ward"))
            return "current_residence";
    }
    return NULL;
}

/* ---- request handling ---------------------------------------------------------------- */

static char *sim_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *body = NULL;

    if(n > SIM_MAX_BODY)
        return NULL;
    body = malloc(n + 1);
    if(!body)
        return NULL;
    evbuffer_copyout(in, body, n);
    body[n] = '\0';
    *len = n;
    return body;
}

/* Gateway authentication. NULL = accepted, else the error code for a 401. */
static const char *sim_authenticate(sim *s, struct evhttp_request *req, const char *path,
                                    const char *body, size_t len, bool force_bad)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *client = evhttp_find_header(h, "X-Client-Id");
    const char *ts_s = evhttp_find_header(h, "X-Timestamp");
    const char *sig = evhttp_find_header(h, "X-Signature");
    char expect[65];
    char *end = NULL;
    long long ts = 0;

    if(!client || !ts_s || !sig) {
        s->rej_missing++;
        return "MISSING_AUTH";
    }
    if(strcmp(client, s->client_id) != 0) {
        s->rej_client++;
        return "UNKNOWN_CLIENT";
    }
    ts = strtoll(ts_s, &end, 10);
    if(*end || end == ts_s || llabs((long long)time(NULL) - ts) > s->max_skew_s) {
        s->rej_skew++;
        return "TIMESTAMP_SKEW";
    }
    if(popdb_sign(s->secret, evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
                  path, ts, body, len, expect) != MC_OK ||
       strlen(sig) != 64 || CRYPTO_memcmp(sig, expect, 64) != 0 || force_bad) {
        s->rej_signature++;
        return "BAD_SIGNATURE";
    }
    return NULL;
}

static void sim_handle_op(sim *s, struct evhttp_request *req, int op, const char *path)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *fault_hdr = evhttp_find_header(h, "X-Sim-Fault");
    sim_faults f = s->faults;
    char *body = NULL;
    size_t len = 0;
    json_t *q = NULL, *resp = NULL;
    const char *rid = NULL, *auth = NULL, *bad = NULL;
    long delay = 0;

    s->calls[op]++;
    s->in_flight++;
    if(s->in_flight > s->max_concurrent)
        s->max_concurrent = s->in_flight;
    if(s->faults.count > 0 && --s->faults.count == 0)
        sim_faults_clear(&s->faults); /* that was the last request the global faults covered */
    if(fault_hdr && !sim_faults_parse(fault_hdr, &f)) {
        s->bad_request++;
        sim_reply_error(s, req, 400, "BAD_SIM_FAULT", NULL, 0);
        return;
    }
    delay = f.hang ? SIM_HANG_MS : f.latency_ms;
    if(f.status && f.error_rate < 0)
        f.error_rate = 1.0;
    if(f.error_rate > 0 && sim_rand01(s) < f.error_rate) {
        s->injected++;
        sim_reply_error(s, req, f.status ? f.status : 503, "SIM_FAULT", NULL, delay);
        return;
    }
    if(evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        sim_reply_error(s, req, 405, "METHOD_NOT_ALLOWED", NULL, delay);
        return;
    }
    body = sim_body(req, &len);
    if(!body) {
        s->bad_request++;
        sim_reply_error(s, req, 413, "TOO_LARGE", NULL, delay);
        return;
    }
    auth = sim_authenticate(s, req, path, body, len, f.bad_hmac);
    if(auth) {
        sim_reply_error(s, req, 401, auth, NULL, delay);
        goto out;
    }
    q = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    bad = sim_check_request(op, q);
    rid = sim_str(q, "request_id");
    if(bad) {
        json_t *e = json_pack("{s:s, s:s}", "error", "BAD_REQUEST", "detail", bad);

        s->bad_request++;
        if(e && rid)
            json_object_set_new(e, "request_id", json_string(rid));
        sim_reply_json(s, req, 400, e, delay);
        json_decref(e);
        goto out;
    }
    if(op == SIM_OP_VERIFY) {
        const char *pid = sim_str(q, "personal_id");
        json_int_t n = json_integer_value(json_object_get(s->verify_by_id, pid));

        json_object_set_new(s->verify_by_id, pid, json_integer(n + 1));
    }
    if(f.malformed) {
        s->injected++;
        sim_reply(s, req, 200, "{\"request_id\": \"", delay);
        goto out;
    }
    resp = sim_answer(s, op, q);
    sim_reply_json(s, req, 200, resp, delay);
out:
    json_decref(resp);
    json_decref(q);
    free(body);
}

static json_t *sim_stats_json(sim *s)
{
    json_t *calls = json_object();
    unsigned long total = 0;

    for(int i = 0; calls && i < SIM_OP_COUNT; i++) {
        json_object_set_new(calls, sim_op_name[i], json_integer((json_int_t)s->calls[i]));
        total += s->calls[i];
    }
    if(calls)
        json_object_set_new(calls, "total", json_integer((json_int_t)total));
    return json_pack("{s:o, s:O, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:I}", "calls",
                     calls, "verify_by_id", s->verify_by_id, "rejected", "bad_signature",
                     (json_int_t)s->rej_signature, "timestamp_skew", (json_int_t)s->rej_skew,
                     "unknown_client", (json_int_t)s->rej_client, "missing_auth",
                     (json_int_t)s->rej_missing, "bad_request", (json_int_t)s->bad_request,
                     "faults_injected", (json_int_t)s->injected, "in_flight",
                     (json_int_t)s->in_flight, "max_concurrent", (json_int_t)s->max_concurrent,
                     "citizens", (json_int_t)s->n_citizens, "connections",
                     (json_int_t)s->connections);
}

/* Answer every delayed or hung request now (503), e.g. on reset and at shutdown. */
static void sim_flush_pending(sim *s)
{
    while(s->pending) {
        sim_pending *p = s->pending;

        sim_send_now(s, p->req, 503, "{\"error\":\"SHUTTING_DOWN\"}");
        sim_pending_unlink_free(p);
    }
}

static void sim_handle_admin(sim *s, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    json_t *j = NULL;
    char *body = NULL;
    size_t len = 0;

    if(strcmp(path, "/_sim/stats") == 0 && cmd == EVHTTP_REQ_GET) {
        j = sim_stats_json(s);
        s->in_flight++; /* sim_send_now decrements */
        sim_reply_json(s, req, 200, j, 0);
    } else if(strcmp(path, "/_sim/reset") == 0 && cmd == EVHTTP_REQ_POST) {
        sim_flush_pending(s); /* a clean slate: nothing held over from the last test */
        sim_faults_clear(&s->faults);
        memset(s->calls, 0, sizeof(s->calls));
        s->rej_signature = s->rej_skew = s->rej_client = s->rej_missing = 0;
        s->bad_request = s->injected = 0;
        json_object_clear(s->verify_by_id);
        s->max_concurrent = s->in_flight;
        s->connections = 0;
        s->in_flight++;
        sim_reply(s, req, 200, "{\"ok\":true}", 0);
    } else if(strcmp(path, "/_sim/faults") == 0 && cmd == EVHTTP_REQ_POST) {
        sim_faults f;

        body = sim_body(req, &len);
        j = body ? json_loadb(body, len, 0, NULL) : NULL;
        s->in_flight++;
        if(!sim_faults_from_json(j, &f)) {
            sim_reply(s, req, 400, "{\"error\":\"BAD_SIM_FAULT\"}", 0);
        } else {
            s->faults = f;
            sim_reply(s, req, 200, "{\"ok\":true}", 0);
        }
    } else {
        s->in_flight++;
        sim_reply(s, req, 404, "{\"error\":\"NOT_FOUND\"}", 0);
    }
    json_decref(j);
    free(body);
}

static void sim_on_request(struct evhttp_request *req, void *arg)
{
    sim *s = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    evutil_socket_t fd = conn ? bufferevent_getfd(evhttp_connection_get_bufferevent(conn)) : -1;
    int one = 1;

    /* TLS records of one reply leave as separate segments: without this, Nagle plus the
     * client's delayed ACK adds 40 ms to every answer on a kept-alive connection. */
    if(fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if(!path)
        path = "";
    if(strncmp(path, "/_sim/", 6) == 0) {
        sim_handle_admin(s, req, path);
        return;
    }
    for(int op = 0; op < SIM_OP_COUNT; op++) {
        if(strcmp(path, sim_op_path[op]) == 0) {
            sim_handle_op(s, req, op, path);
            return;
        }
    }
    s->in_flight++;
    sim_reply(s, req, 404, "{\"error\":\"NOT_FOUND\"}", 0);
}

/* ---- set-up -------------------------------------------------------------------------- */

/* One call per accepted connection: count it and wrap it in TLS unless --plain. */
static struct bufferevent *sim_bevcb(struct event_base *base, void *arg)
{
    sim *s = arg;
    SSL *ssl = NULL;

    s->connections++;
    if(!s->ssl)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    ssl = SSL_new(s->ssl);
    if(!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *sim_ssl_ctx(const char *cert, const char *key, const char *client_ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if(!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if(SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
       SSL_CTX_check_private_key(ctx) != 1)
        goto fail;
    if(client_ca) {
        if(SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1)
            goto fail;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
fail:
    ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return NULL;
}

static bool sim_load(sim *s, const char *file)
{
    json_error_t jerr;
    json_t *root = json_load_file(file, 0, &jerr);
    json_t *list = json_object_get(root, "citizens");
    size_t i = 0;
    json_t *rec = NULL;
    bool ok = false;

    if(!json_is_array(list)) {
        fprintf(stderr, "popdb-sim: %s: %s (line %d)\n", file, root ? "no \"citizens\" array" : jerr.text,
                jerr.line);
        goto out;
    }
    json_array_foreach(list, i, rec) {
        const char *pid = sim_str(rec, "personal_id");

        if(!pid || !sim_str(rec, "full_name") || !sim_str(rec, "birth_date") ||
           !sim_str(rec, "gender") || !sim_str(rec, "marital_status") ||
           !json_is_object(json_object_get(rec, "current_residence"))) {
            fprintf(stderr, "popdb-sim: %s: record %zu is incomplete\n", file, i);
            goto out;
        }
        json_object_set(s->by_id, pid, rec);
    }
    s->n_citizens = json_object_size(s->by_id);
    ok = true;
out:
    json_decref(root);
    return ok;
}

static void sim_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static void sim_usage(void)
{
    fprintf(stderr,
            "usage: popdb-sim --port N --data FILE --client-id ID --secret S\n"
            "                 (--cert CRT --key KEY [--client-ca CA] | --plain | --tls-fail)\n"
            "                 [--bind ADDR] [--max-skew SECONDS] [--seed N]\n"
            "Prints \"popdb-sim listening on ADDR:PORT\" once ready (--port 0 picks one).\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},      {"data", required_argument, NULL, 'd'},
        {"cert", required_argument, NULL, 'c'},      {"key", required_argument, NULL, 'k'},
        {"client-id", required_argument, NULL, 'i'}, {"secret", required_argument, NULL, 's'},
        {"plain", no_argument, NULL, 'P'},           {"client-ca", required_argument, NULL, 'a'},
        {"bind", required_argument, NULL, 'b'},      {"max-skew", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 'S'},      {"tls-fail", no_argument, NULL, 'T'},
        {NULL, 0, NULL, 0}};
    sim s;
    const char *data = NULL, *cert = NULL, *key = NULL, *client_ca = NULL, *bind = "127.0.0.1";
    long port = -1;
    bool plain = false;
    struct evconnlistener *lis = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int rc = 1;
    int c = 0;

    memset(&s, 0, sizeof(s));
    sim_faults_clear(&s.faults);
    s.max_skew_s = 300;
    s.rng = 48;
    while((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch(c) {
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'd': data = optarg; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'i': s.client_id = optarg; break;
        case 's': s.secret = optarg; break;
        case 'P': plain = true; break;
        case 'T': plain = true; break; /* fault: answer a TLS client in plain HTTP, so its handshake fails */
        case 'a': client_ca = optarg; break;
        case 'b': bind = optarg; break;
        case 'm': s.max_skew_s = strtol(optarg, NULL, 10); break;
        case 'S': s.rng = strtoull(optarg, NULL, 10); break;
        default: sim_usage(); return 2;
        }
    }
    if(port < 0 || port > 65535 || !data || !s.client_id || !s.secret ||
       (!plain && (!cert || !key))) {
        sim_usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    s.by_id = json_object();
    s.verify_by_id = json_object();
    s.base = event_base_new();
    if(!s.by_id || !s.verify_by_id || !s.base || !sim_load(&s, data))
        goto out;
    if(!plain) {
        s.ssl = sim_ssl_ctx(cert, key, client_ca);
        if(!s.ssl)
            goto out;
    }
    s.http = evhttp_new(s.base);
    if(!s.http)
        goto out;
    evhttp_set_max_body_size(s.http, (ev_ssize_t)SIM_MAX_BODY);
    evhttp_set_allowed_methods(s.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(s.http, sim_on_request, &s);
    evhttp_set_bevcb(s.http, sim_bevcb, &s);
    /* Our own listener: evhttp's default backlog (128) drops SYNs when 200+ clients connect
     * at once, which costs them a 1 s retransmit. */
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if(inet_pton(AF_INET, bind, &sin.sin_addr) != 1) {
        fprintf(stderr, "popdb-sim: bad --bind %s\n", bind);
        goto out;
    }
    lis = evconnlistener_new_bind(s.base, NULL, NULL,
                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
                                  (struct sockaddr *)&sin, sizeof(sin));
    if(!lis) {
        fprintf(stderr, "popdb-sim: cannot listen on %s:%ld: %s\n", bind, port, strerror(errno));
        goto out;
    }
    if(!evhttp_bind_listener(s.http, lis))
        goto out; /* on failure the listener is still ours (freed below) */
    getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sin, &slen);
    lis = NULL; /* evhttp owns it now */
    sigterm = evsignal_new(s.base, SIGTERM, sim_on_signal, s.base);
    sigint = evsignal_new(s.base, SIGINT, sim_on_signal, s.base);
    if(!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL))
        goto out;
    printf("popdb-sim listening on %s:%u (%s, %zu citizens)\n", bind, ntohs(sin.sin_port),
           plain ? "http" : "https", s.n_citizens);
    fflush(stdout);
    event_base_dispatch(s.base);
    rc = 0;
out:
    /* Answer what is still held (hung or delayed) so evhttp can free those requests. */
    sim_flush_pending(&s);
    if(sigterm)
        event_free(sigterm);
    if(sigint)
        event_free(sigint);
    if(lis)
        evconnlistener_free(lis);
    if(s.http)
        evhttp_free(s.http);
    if(s.ssl)
        SSL_CTX_free(s.ssl);
    if(s.base)
        event_base_free(s.base);
    json_decref(s.by_id);
    json_decref(s.verify_by_id);
    return rc;
}
