/* app.h - what a running motcuad shares between the loop and the worker threads. Everything here is
 * read-only after start-up except the objects that carry their own locks (auth cache, pool). */
#ifndef MC_APP_H
#define MC_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "auth.h"
#include "calendar.h"
#include "catalog.h"
#include "config.h"
#include "db.h"
#include "reply.h"
#include "xmlsafe.h"

struct event_base;
struct evhttp;
struct evhttp_request;

typedef struct app {
    mc_config cfg;
    catalog *cat;
    calendar *cal;
    auth_cache *auth;
    db_pool *pool;
    struct identity *identity;   /* identity-check sweeper, NULL when popdb_url is empty (identity.h) */
    struct results_svc *results; /* signing keys, trust, verify limiter (results_api.h) */
    xmlsafe_limits xml;
    struct event_base *base;
    struct evhttp *http;
    void *listener;             /* evhttp_bound_socket */
    bool draining;
    uint64_t in_flight;         /* loop thread only */
    uint64_t served;
} app;

/* One HTTP request on its way through a worker. Handlers fill `out` and never send. */
typedef struct http_job http_job;
/* A continuation on the loop thread (remote calls); it must end with http_finish(j). */
typedef void (*loop_fn)(http_job *j);

struct http_job {
    app *app;
    struct evhttp_request *req;
    const struct route *route;
    char method[8];
    char path[256];
    char param[64];             /* the first {} path segment (e.g. the dossier code), if any */
    char param2[64];            /* the second {} segment (e.g. an action name), if any */
    char query[512];
    char request_id[40];
    char peer[64];              /* client address, copied on the loop thread */
    char authorization[160];
    char idem_key[160];
    char content_type[128];
    char file_name[320];        /* X-File-Name, for attachments (attach_api.h; over 255 bytes: refused) */
    char component[64];         /* X-Component, for attachments */
    char if_match[128];         /* If-Match, for workflow actions (actions_api.h) */
    char *body;
    size_t body_len;
    auth_client client;
    reply out;
    loop_fn then;               /* set by a worker handler to continue on the loop, reply unset */
    struct timespec start;
};

/* A route handler: runs on a worker thread with its own connection (never NULL here). */
typedef void (*route_fn)(http_job *j, db_conn *c);

#endif
