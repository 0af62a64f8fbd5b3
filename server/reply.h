/* reply.h - the response a handler builds (on any thread) and the one function that sends it (on the
 * loop thread). Problems are RFC 9457 application/problem+json built from the mc_err table. */
#ifndef MC_REPLY_H
#define MC_REPLY_H

#include <jansson.h>
#include <stddef.h>
#include "err.h"

struct evhttp_request;
struct calendar;

typedef struct reply {
    int status;
    mc_err err;                 /* MC_OK for success replies */
    const char *ctype;          /* static string */
    char *body;                 /* owned */
    size_t len;
    char location[192];
    char etag[48];
    char allow[64];             /* for 405 */
    char dossier_code[64];      /* for the request log line */
    char disposition[1100];     /* Content-Disposition, "" = none (attach_disposition fits in it) */
    int retry_after;            /* seconds, 0 = none */
    int replayed;               /* Idempotency-Key replay */
} reply;

/* Problem reply for err with a human detail; extra (stolen, may be NULL) is merged in, e.g.
 * {"errors": [...]}. instance is the request path. */
void reply_problem(reply *r, mc_err err, const char *instance, const char *detail, json_t *extra);
/* JSON reply; obj is stolen. */
void reply_json(reply *r, int status, json_t *obj);
/* Raw JSON text reply (copied). */
void reply_json_text(reply *r, int status, const char *text, size_t len);
/* Send r on req (loop thread only) and release r's body. Adds X-Request-Id. */
void reply_send(struct evhttp_request *req, reply *r, const char *request_id);
void reply_clear(reply *r);
/* A UTC DATETIME text read from MariaDB as a local-time JSON string ("…+07:00", calendar_format_local);
 * JSON null when it is NULL or unreadable. */
json_t *reply_local_time(const struct calendar *cal, const char *db_utc);

#endif
