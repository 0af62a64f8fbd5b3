/* idstore.h - SQL of the identity checks: claiming dossiers with a lease (FOR UPDATE SKIP LOCKED),
 * reading what to check, and recording an outcome in one transaction guarded by the lease. */
#ifndef MC_IDSTORE_H
#define MC_IDSTORE_H

#include <stdint.h>
#include "db.h"

/* Claim up to `limit` dossiers due for a check, leasing them to `token` for lease_s seconds.
 * Returns the count claimed in *n (0 is fine). */
mc_err idstore_claim(db_conn *c, const char *token, int limit, int lease_s, int *n);
/* The claimed dossiers. Rows: id, code, procedure_code, agency_id, state, identity_attempts,
 * applicant_pid, applicant_name, applicant_birth, applicant_gender. */
mc_err idstore_claimed(db_conn *c, const char *token, db_rows **out);
/* Named persons with a personal ID of the claimed dossiers. Rows: dossier_id, seq, role, pid,
 * full_name, birth_date. */
mc_err idstore_claimed_persons(db_conn *c, const char *token, db_rows **out);

typedef struct {
    uint64_t dossier_id;
    const char *token;
    const char *from_state, *to_state;
    int national_status;
    const char *reason;          /* citizen-readable, NULL when verified */
    const char *next_at;         /* parked: UTC DATETIME of the next attempt, else NULL */
    const char *checks_json;     /* [{seq, role, outcome, matched, mismatched, request_id}] or NULL */
    const char *evidence;        /* verified: evidence for population components, else NULL */
    const char *history_note;    /* NULL: no history row (a parked dossier parked again) */
} idstore_outcome;
/* Record it in one transaction. MC_ERR_CONFLICT when the lease was lost or the state moved on since
 * the claim (nothing written). */
mc_err idstore_record(db_conn *c, const idstore_outcome *o);

/* The recorded checks of a dossier. Rows: seq, role, outcome, matched, mismatched, request_id, source,
 * checked_at. */
mc_err idstore_checks(db_conn *c, uint64_t dossier_id, db_rows **out);

#endif
