/* audit.h - the hash-chained audit trail: who did what to which dossier, appended in the same
 * transaction as the change. Each row carries the SHA-256 of the previous row; audit_verify walks the
 * chain. Encoding and guarantees: docs/audit.md. */
#ifndef MC_AUDIT_H
#define MC_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "db.h"

typedef struct {
    uint64_t actor_client_id;   /* 0 = system */
    const char *role;           /* "official", "portal", "national", "system" */
    const char *ward;           /* may be NULL */
    const char *action;         /* e.g. "approve", "read_personal_data", "revoke_result" */
    const char *dossier_code;   /* may be NULL */
    const char *before_state, *after_state; /* may be NULL */
    const char *request_id;     /* may be NULL */
    const char *detail;         /* short, no personal IDs in clear */
} audit_entry;

/* Column caps (bytes; the columns are VARCHAR of at least as many characters). A longer detail is cut
 * at a UTF-8 boundary; any other field over its cap, a NULL role/action or invalid UTF-8 is
 * MC_ERR_INVALID_FIELD. */
#define AUDIT_ROLE_MAX 16
#define AUDIT_WARD_MAX 8
#define AUDIT_ACTION_MAX 48
#define AUDIT_CODE_MAX 48
#define AUDIT_STATE_MAX 32
#define AUDIT_REQID_MAX 64
#define AUDIT_DETAIL_MAX 1000

/* Append inside the caller's open transaction (hash-chained: each row carries SHA-256 of the previous
 * row; serialised on the chain head). The head row stays locked until the caller commits or rolls
 * back, so call it as the LAST statement before COMMIT: that keeps the lock short and, with every
 * writer taking it last, free of lock-order deadlocks. On error nothing is appended and the caller
 * must roll back (MC_ERR_DB_RETRY: the whole transaction may be retried). */
mc_err audit_append(db_conn *c, const audit_entry *e);

/* Append n entries (n >= 1) as n consecutive chained rows with one head lock and one array-bound insert
 * (group-commit intake writes a batch of dossiers per transaction). Same contract as audit_append. */
mc_err audit_append_many(db_conn *c, const audit_entry *e, size_t n);

/* Append one entry that belongs to no other change (an official's read of personal data) in its own
 * durable transaction, committed together with whatever other such entries are waiting at that moment
 * (group commit: the first waiter appends them all in one transaction, the others wait for it).
 * MC_OK only once the row is committed; an invalid entry fails alone, a database error fails the
 * group it was in (nothing of it is written). Never call it inside an open transaction. */
mc_err audit_append_alone(db_conn *c, const audit_entry *e);

/* Append n entries (n >= 1) that belong to no other change in one durable transaction of their own,
 * retried on deadlock (an official's read of a page of results: one row per result). MC_OK only once
 * committed; on error nothing is written. Never call it inside an open transaction. */
mc_err audit_append_own(db_conn *c, const audit_entry *e, size_t n);

/* Walk the whole chain in id order in one consistent snapshot: ids gapless from 1, each prev_hash the
 * previous row_hash, each row_hash recomputed from the row, and the head pointing at the last row.
 * MC_OK: intact, *rows_checked rows, *first_bad_id 0. MC_ERR_CONFLICT: broken, *first_bad_id is the
 * first row that fails (for rows missing at the end: the first missing id) and why says how.
 * Other errors: the walk could not run (why says so). rows_checked counts rows checked before any
 * failure. Read-only: it does not take the head lock. */
mc_err audit_verify(db_conn *c, uint64_t *rows_checked, uint64_t *first_bad_id, char *why, size_t whycap);

#endif
