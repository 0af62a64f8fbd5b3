/* http.h - the evhttp front: route table, request -> worker job -> reply, request log, draining. */
#ifndef MC_HTTP_H
#define MC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* Bind and register the request callback. */
mc_err http_start(app *a, char *why, size_t whycap);
/* Stop accepting new connections; requests already read are finished (a->draining set). */
void http_stop_accepting(app *a);
void http_free(app *a);
/* Send j's reply, log it and free j (loop thread): how an asynchronous handler ends. */
void http_finish(http_job *j);

struct evkeyvalq;
/* Initialise q and parse j's query string into it (evhttp); false, with a 400 problem in j->out, when
 * it cannot be parsed. The caller frees q with evhttp_clear_headers in either case. */
bool http_query(http_job *j, struct evkeyvalq *q);
/* True when s is min..max ASCII digits. */
bool http_digits(const char *s, size_t min, size_t max);

#endif
