/* reuse_sql.h - SQL of once-only reuse (db/migrations/006_reuse.sql, docs/reuse.md): the candidate
 * results of one dossier in one query, the reuse marks of a batch's components in one statement, the
 * flag raised on dossiers whose reused result is revoked, and the read side (dossier view, stats).
 * Callers own transactions. */
#ifndef MC_REUSE_SQL_H
#define MC_REUSE_SQL_H

#include <stdint.h>
#include "db.h"

#define REUSE_SQL_MAX_PIDS 4     /* holders looked up per dossier (applicant + named persons) */
#define REUSE_SQL_MAX_TYPES 4    /* result types looked up per dossier */

/* Columns of reuse_sql_candidates, in order. */
enum {
    RQ_RESULT_ID, RQ_TYPE, RQ_HOLDER, RQ_AGENCY, RQ_WARD, RQ_ISSUED_AT, RQ_VALID_UNTIL, RQ_SHA256,
    /* the verification mark of those bytes (db/migrations/008_result_marks.sql), all NULL if none */
    RQ_MARK_TRUST, RQ_MARK_RESULT_ID, RQ_MARK_TYPE, RQ_MARK_HOLDER, RQ_MARK_VALID_UNTIL, RQ_MARK_DECEASED,
    RQ_MARK_MAC
};
/* Unrevoked results held by one of pids (JSON array of personal IDs) of one of types (JSON array of
 * result type codes) whose row is not expired on local date today ("YYYY-MM-DD"), newest first, at
 * most per_holder rows per (holder, type), with
 * the SHA-256 (hex) of the signed bytes as stored now, computed by MariaDB, and the verification mark
 * kept for that hash: the bytes themselves are fetched only when that hash is neither in the
 * verification cache nor carries a valid mark. *out owned by the caller. */
mc_err reuse_sql_candidates(db_conn *c, const char *pids_json, const char *types_json, const char *today,
                            long per_holder, db_rows **out);

/* The signed bytes of one result. Rows: signed_xml (none when unknown). */
mc_err reuse_sql_bytes(db_conn *c, const char *result_id, db_rows **out);

/* In the revocation's transaction: every dossier that reused result_id gets reuse_flag = note, a
 * version bump and a history row (action "reused_result_revoked", actor, note, request_id).
 * *flagged (may be NULL) gets the number of dossiers. */
mc_err reuse_sql_flag_revoked(db_conn *c, const char *result_id, uint64_t actor, const char *note,
                              const char *request_id, uint64_t *flagged);

/* Columns of reuse_sql_stats, in order: one row per procedure. */
enum {
    ST_PROCEDURE, ST_DOSSIERS, ST_ASKED, ST_POPULATION, ST_POPULATION_PENDING, ST_RESULT, ST_UPLOADED, ST_MISSING,
    ST_FINISHED_ON_TIME, ST_OVERDUE, ST_FLAGGED, ST_DECLARED, ST_PREFILLABLE
};
/* Aggregates over every dossier, or one ward's (ward NULL: all). */
mc_err reuse_sql_stats(db_conn *c, const char *ward, db_rows **out);

#endif
