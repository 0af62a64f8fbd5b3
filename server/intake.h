/* intake.h - POST /v1/dossiers: hardened parse, XSD, personal-ID check, one transaction, receipt. */
#ifndef MC_INTAKE_H
#define MC_INTAKE_H

#include "app.h"

void intake_post(http_job *j, db_conn *c);

/* Start the group commit's writer thread with its own connection (dsn is copied). Call it from the
 * main thread: the writer keeps that thread's nice value, above the database workers'. Without it
 * every intake answers 500. Past inflight_max dossiers handed to it and not yet answered, intake
 * answers 503. */
mc_err intake_start(const db_dsn *dsn, int timeout_s, size_t inflight_max);
/* Let the writer write whatever still waits, then join it. */
void intake_stop(void);

/* The group commit's figures since start: batches written, the dossiers they stored, and the time
 * their transactions took (microseconds, each batch from its first statement to COMMIT's return,
 * retries included). */
typedef struct {
    unsigned long long batches, dossiers, write_us;
} intake_stats;
intake_stats intake_stats_get(void);

#endif
