/* actions.h - SQL of the officials' workflow on a dossier row locked by dossiers_lock: its new state
 * and workflow facts, the history row with old and new due times, supplement requests, apology slips
 * (form 04), and the ward queue with keyset pagination. Callers own the transaction. */
#ifndef MC_ACTIONS_H
#define MC_ACTIONS_H

#include <stdint.h>
#include "db.h"

/* The workflow columns of a dossier row, in order (ACTIONS_SELECT_COLS); dossiers_get and dossiers_lock
 * read them first, so one row serves the action and the workflow view. Times are UTC DATETIME(6) text
 * or NULL. */
#define ACTIONS_SELECT_COLS                                                                                    \
    "id, code, procedure_code, ward, client_id, state, national_status, version, due_at, assignee,"           \
    " paused_at, fee_vnd, paid_at, payment_ref, outcome_reason, result_id, finished_at, rescheduled_to,"      \
    " status_reason"
enum {
    AC_ID, AC_CODE, AC_PROCEDURE, AC_WARD, AC_CLIENT, AC_STATE, AC_NATIONAL, AC_VERSION, AC_DUE, AC_ASSIGNEE,
    AC_PAUSED, AC_FEE, AC_PAID, AC_PAYMENT_REF, AC_OUTCOME_REASON, AC_RESULT_ID, AC_FINISHED, AC_RESCHEDULED,
    AC_STATUS_REASON, AC__COUNT
};

/* The whole new workflow row; every string borrowed, NULL writes SQL NULL (so the caller passes
 * the current value to keep one). fee_vnd < 0 writes NULL. */
typedef struct {
    uint64_t id;
    unsigned expect_version;      /* the row's version as locked; the update bumps it by one */
    const char *state;
    int national_status;
    const char *due_at, *assignee, *paused_at;
    long long fee_vnd;
    const char *paid_at, *payment_ref, *outcome_reason, *result_id, *finished_at, *rescheduled_to, *status_reason;
} actions_row;
/* Write r. MC_ERR_CONFLICT when the row's version is not expect_version (nothing written). */
mc_err actions_update(db_conn *c, const actions_row *r);

/* One history row at `at` (UTC DATETIME text); from_state, note, request_id, due_* may be NULL;
 * actor 0 writes NULL. */
mc_err actions_history(db_conn *c, uint64_t id, const char *at, const char *action, const char *from_state,
                       const char *to_state, int national_status, uint64_t actor, const char *note,
                       const char *request_id, const char *due_before, const char *due_after);

/* Open a supplement request (components: JSON array text of component codes). */
mc_err actions_supplement_open(db_conn *c, uint64_t id, const char *at, uint64_t by, const char *reason,
                               const char *components, const char *old_due);
/* The open request of the dossier. Rows (0 or 1): id, requested_at, components, old_due_at. */
mc_err actions_supplement_current(db_conn *c, uint64_t id, db_rows **out);
/* Close request req_id: resumed at `at` by `by` with the supplied components and the new due time. */
mc_err actions_supplement_close(db_conn *c, uint64_t req_id, const char *at, uint64_t by, const char *supplied,
                                const char *new_due);

/* Record an apology slip (form 04). */
mc_err actions_apology_insert(db_conn *c, uint64_t id, const char *at, uint64_t by, const char *due_at,
                              const char *new_date, const char *note);

/* Queue filter; NULL / -1 fields do not filter. Times are UTC DATETIME text. */
typedef struct {
    const char *ward;             /* required */
    const char *states_json;      /* JSON array of state names (required, non-empty) */
    const char *procedure, *assignee;
    const char *due_from;         /* due_at >= due_from */
    const char *due_before;       /* due_at < due_before */
    int overdue;                  /* 1 overdue only, 0 not overdue only, -1 either */
    const char *now;              /* the instant overdue is judged at */
    const char *after_key;        /* keyset cursor: sort key and id of the last row of the previous page */
    uint64_t after_id;
    long limit;
} actions_queue_filter;
/* Columns of actions_queue, in order. Sorted by due time (no due time last), then id. */
enum {
    AQ_ID, AQ_CODE, AQ_PROCEDURE, AQ_STATE, AQ_NATIONAL, AQ_RECEIVED, AQ_DUE, AQ_ASSIGNEE, AQ_VERSION, AQ_PAUSED,
    AQ_FINISHED, AQ_RESCHEDULED, AQ_OVERDUE, AQ_SORT_KEY
};
mc_err actions_queue(db_conn *c, const actions_queue_filter *f, db_rows **out);

#endif
