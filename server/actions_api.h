/* actions_api.h - the officials' workflow over HTTP: POST /v1/dossiers/{code}/actions/{action} (the
 * state machine of workflow.h applied under If-Match, one transaction per action, approve signs the
 * result inside it), POST /v1/dossiers/{code}/apology (form 04) and GET /v1/queue. The small pure
 * helpers below are public so that unit tests call them directly. */
#ifndef MC_ACTIONS_API_H
#define MC_ACTIONS_API_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "app.h"

#define ACTIONS_PAGE_DEFAULT 50
#define ACTIONS_PAGE_MAX 200
#define ACTIONS_TEXT_MAX 1000      /* reason / note bytes (dossier.outcome_reason) */
#define ACTIONS_OFFICER_MAX 100    /* dossier.assignee */
#define ACTIONS_PAYREF_MAX 128     /* dossier.payment_ref */
#define ACTIONS_CURSOR_CAP 96      /* an encoded queue cursor, incl. NUL */
#define ACTIONS_FAULT_ENV "MOTCUA_TEST_FAULT" /* "crash_after_sign": _exit(1) after signing, before COMMIT */

/* Route handlers (server/http.c). Scoping as GET /v1/dossiers/{code}: an official acts only on its
 * ward's dossiers, a portal or national client only on dossiers it submitted; anything else is 404.
 * A role that may never take the action gets 403 before the dossier is looked at. */
void actions_api_post(http_job *j, db_conn *c);
void actions_api_apology(http_job *j, db_conn *c);
void actions_api_queue(http_job *j, db_conn *c);
/* Add the dossier's "workflow" facts (assignee, pause, fee and payment, outcome, result, finished,
 * rescheduled, overdue, the caller's allowed actions) to the dossier view o, from a row whose first
 * columns are actions_lock's (AC_*: dossiers_get's rows are). */
void actions_api_facts(const http_job *j, db_rows *r, json_t *o);

/* Check an If-Match header value against the current version (ETag "v<version>"). Accepts a
 * comma-separated list of entity tags, strong or weak (W/). MC_OK when one names version;
 * MC_ERR_PRECONDITION_REQUIRED when header is NULL, blank or "*" (a wildcard would not stop a lost
 * update); MC_ERR_PRECONDITION_FAILED otherwise. */
mc_err actions_if_match(const char *header, unsigned version);

/* Parse "YYYY-MM-DDTHH:MM:SS" followed by "Z" or "+HH:MM"/"-HH:MM", or a bare "YYYY-MM-DD" (local
 * midnight at utc_offset_s). MC_ERR_BAD_REQUEST on anything else (*out unchanged). */
mc_err actions_parse_time(const char *s, int utc_offset_s, time_t *out);

/* Queue cursor: key (a UTC DATETIME(6) text, at most 26 chars) and id as an opaque token in out
 * (cap >= ACTIONS_CURSOR_CAP; out gets "" when it does not fit). decode: MC_ERR_BAD_REQUEST for a
 * token encode did not write (outputs unchanged); keycap >= 27. */
void actions_cursor_encode(const char *key, uint64_t id, char *out, size_t cap);
mc_err actions_cursor_decode(const char *cursor, char *key, size_t keycap, uint64_t *id);

/* The due time after a supplement pause from paused_at to resumed_at: old_due moved by the working
 * time spent waiting. */
time_t actions_resumed_due(const calendar *cal, time_t old_due, time_t paused_at, time_t resumed_at);

/* Overdue (derived, never stored): a due time exists (due > 0) and the dossier finished after it, or,
 * unfinished (finished == 0), its clock reading passed it: the pause start while paused
 * (paused > 0), else now. */
bool actions_overdue(time_t due, time_t finished, time_t paused, time_t now);

#endif
