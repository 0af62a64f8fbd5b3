/* intake.h - POST /v1/dossiers: hardened parse, XSD, personal-ID check, one transaction, receipt. */
#ifndef MC_INTAKE_H
#define MC_INTAKE_H

#include "app.h"

void intake_post(http_job *j, db_conn *c);

/* The group commit's figures since start: batches written, the dossiers they stored, and the time
 * their transactions took (microseconds, each batch from its first statement to COMMIT's return,
 * retries included). */
typedef struct {
    unsigned long long batches, dossiers, write_us;
} intake_stats;
intake_stats intake_stats_get(void);

#endif
