/* identity.h - identity checks against the national population database, after intake has committed.
 * A sweeper on the loop claims due dossiers (a DB job: FOR UPDATE SKIP LOCKED + lease), verifies the
 * applicant and every named person with a personal ID through the popdb adapter (libcurl multi on the
 * same loop), and records the outcome (a DB job): identity_verified, identity_mismatch with a
 * citizen-readable reason, or identity_pending (parked) with a backed-off next attempt. */
#ifndef MC_IDENTITY_H
#define MC_IDENTITY_H

#include <stddef.h>

#include "err.h"

struct app;
typedef struct identity identity;

/* With cfg.popdb_url empty, *out is NULL and MC_OK is returned: checks are off (logged). */
mc_err identity_new(struct app *a, identity **out, char *why, size_t whycap);
/* Stop claiming (loop thread, before the worker pool is drained). */
void identity_stop(identity *id);
/* Drop calls in flight (their leases expire and the dossiers are claimed again) and free. */
void identity_free(identity *id);

struct http_job;
struct db_conn;
/* GET /v1/citizens/{id}/prefill?consent=true&fullName=...&birthDate=YYYY-MM-DD (portal): the fields a
 * form can be prefilled with, from the population database's look-up, returned and never stored.
 * A route handler (worker thread) that continues on the loop for the remote call. */
void identity_prefill(struct http_job *j, struct db_conn *c);

#endif
