/* reply.c - building and sending responses. reply_send is the only place a response leaves motcuad. */
#include "reply.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "tfmt.h"

void reply_clear(reply *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static void set_body(reply *r, int status, const char *ctype, char *body)
{
    reply_clear(r);
    r->status = status;
    r->ctype = ctype;
    r->body = body;
    r->len = body ? strlen(body) : 0;
}

void reply_problem(reply *r, mc_err err, const char *instance, const char *detail, json_t *extra)
{
    json_t *o = json_object();
    int status = mc_err_status(err);
    json_object_set_new(o, "type", json_string(mc_err_type(err)));
    json_object_set_new(o, "title", json_string(mc_err_title(err)));
    json_object_set_new(o, "status", json_integer(status));
    json_object_set_new(o, "detail", json_string(detail && *detail ? detail : mc_err_title(err)));
    if (instance) json_object_set_new(o, "instance", json_string(instance));
    if (extra) {
        json_object_update(o, extra);
        json_decref(extra);
    }
    r->err = err;
    if (status == 503 && !r->retry_after) r->retry_after = 1;
    set_body(r, status, "application/problem+json", json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII));
    json_decref(o);
}

void reply_json(reply *r, int status, json_t *obj)
{
    r->err = MC_OK;
    set_body(r, status, "application/json", json_dumps(obj, JSON_COMPACT));
    json_decref(obj);
}

void reply_json_text(reply *r, int status, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    r->err = MC_OK;
    set_body(r, status, "application/json", copy);
}

void reply_send(struct evhttp_request *req, reply *r, const char *request_id)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *buf = evbuffer_new();
    if (!r->body) { /* allocation failed while building the reply */
        r->status = 503;
        r->ctype = "application/problem+json";
        r->body = strdup("{\"type\":\"https://motcua.danang.gov.vn/problems/out-of-memory\",\"status\":503}");
        r->len = r->body ? strlen(r->body) : 0;
    }
    evhttp_add_header(h, "Content-Type", r->ctype ? r->ctype : "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (request_id) evhttp_add_header(h, "X-Request-Id", request_id);
    if (r->location[0]) evhttp_add_header(h, "Location", r->location);
    if (r->etag[0]) evhttp_add_header(h, "ETag", r->etag);
    if (r->allow[0]) evhttp_add_header(h, "Allow", r->allow);
    if (r->disposition[0]) evhttp_add_header(h, "Content-Disposition", r->disposition);
    if (r->replayed) evhttp_add_header(h, "Idempotent-Replayed", "true");
    if (r->retry_after) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", r->retry_after);
        evhttp_add_header(h, "Retry-After", ra);
    }
    if (buf && r->body) evbuffer_add(buf, r->body, r->len);
    evhttp_send_reply(req, r->status, NULL, buf);
    if (buf) evbuffer_free(buf);
    reply_clear(r);
}

json_t *reply_local_time(const struct calendar *cal, const char *db_utc)
{
    char buf[CALENDAR_FMT_CAP];
    time_t t = tfmt_db_parse(db_utc);
    if (t == (time_t)-1) return json_null();
    calendar_format_local(cal, t, buf, sizeof(buf));
    return json_string(buf);
}
