/* dossiers.h - SQL for dossiers, their components, named persons, history, idempotency keys and the
 * per-agency daily sequence. Callers own the transaction (db_begin/db_commit). */
#ifndef MC_DOSSIERS_H
#define MC_DOSSIERS_H

#include <stdint.h>
#include "actions.h"
#include "db.h"

/* Intake's multi-row inserts go in by array binding (db_exec_bulk): one round trip per table whatever
 * the number of rows, values as bytes. dossiers_insert takes n rows of the table's _ROW_COLS values
 * (row-major); child rows carry their dossier's id, which dossiers_insert_dossiers returns (RETURNING).
 * dossier: code, procedure_code, ward, agency_id, channel, source, client_id, applicant_pid,
 *   applicant_name, applicant_birth, applicant_gender, contact_phone, contact_email, contact_address,
 *   summary, state, national_status, received_at, due_at, body_sha256 (32 bytes), body, declared_fields
 * component: dossier id, code, name_vi, required, plan, file_ref, file_name, result_ref, reuse_source,
 *   reused, replaced_by_result, the same result again (non-NULL: satisfied now), evidence
 * person: dossier id, seq, role, pid, full_name, birth_date
 * history (from_state NULL, at now): dossier id, action, to_state, national_status, actor, note,
 *   request_id
 * idempotency key: client_id, idem_key, body_sha256 (32 bytes), dossier id, receipt (the 201 body, kept
 *   for replays; only keyed dossiers can be replayed); MC_ERR_CONFLICT when one exists */
typedef enum { DOSSIERS_T_DOSSIER, DOSSIERS_T_COMPONENT, DOSSIERS_T_PERSON, DOSSIERS_T_HISTORY, DOSSIERS_T_IDEM } dossiers_table;
#define DOSSIERS_ROW_COLS 22
#define COMPONENT_ROW_COLS 13
#define PERSON_ROW_COLS 6
#define HISTORY_ROW_COLS 7
#define IDEM_ROW_COLS 5
/* Child tables (not DOSSIERS_T_DOSSIER). */
mc_err dossiers_insert(db_conn *c, dossiers_table t, const db_param *rows, size_t n);
/* The n dossier rows in one round trip (INSERT ... RETURNING): ids[i] gets the id of row i, whose code
 * (its first column) must be a db_str. */
mc_err dossiers_insert_dossiers(db_conn *c, const db_param *rows, size_t n, uint64_t *ids);
/* The client's key: one row of body_sha256 (32 bytes), the dossier's code, the receipt to replay;
 * MC_ERR_NOT_FOUND when unknown. */
mc_err dossiers_idem_find(db_conn *c, uint64_t client_id, const char *key, db_rows **out);
/* Take `count` numbers from the day's sequence of agency; *last gets the highest (the batch owns
 * last-count+1 .. last). Gapless: rolled back with the transaction. */
mc_err dossiers_next_seq(db_conn *c, const char *agency_id, const char *day, long count, long *last);

/* Columns of dossiers_get and dossiers_lock, in order: the workflow columns first (AC_*), so the
 * dossier view reads its workflow facts from the same row, then the rest. */
enum {
    DC_ID = AC_ID, DC_CODE = AC_CODE, DC_PROCEDURE = AC_PROCEDURE, DC_WARD = AC_WARD, DC_CLIENT = AC_CLIENT,
    DC_STATE = AC_STATE, DC_NATIONAL = AC_NATIONAL, DC_VERSION = AC_VERSION, DC_DUE = AC_DUE,
    DC_REASON = AC_STATUS_REASON,
    DC_AGENCY = AC__COUNT, DC_CHANNEL, DC_SOURCE, DC_PID, DC_NAME, DC_RECEIVED, DC_SUMMARY, DC_REUSE_FLAG,
    DC_REUSE_FLAGGED_AT, DC_DECLARED
};
mc_err dossiers_get(db_conn *c, const char *code, db_rows **out);
/* dossiers_get's row locked FOR UPDATE until the caller's transaction ends: an action on a dossier
 * starts here, so actions on one dossier serialise on it. 0 rows when unknown. */
mc_err dossiers_lock(db_conn *c, const char *code, db_rows **out);
/* Columns of dossiers_components, one row per component in code order: the component, then its reuse
 * facts (source, reused, the linked result and that result's type, issuer, issue and revocation time). */
enum {
    DP_CODE, DP_NAME, DP_REQUIRED, DP_PLAN, DP_FILE_REF, DP_FILE_NAME, DP_RESULT_REF, DP_SATISFIED_AT, DP_EVIDENCE,
    DP_REUSE_SOURCE, DP_REUSED, DP_RESULT_ID, DP_RESULT_TYPE, DP_RESULT_AGENCY, DP_RESULT_WARD, DP_ISSUED_AT,
    DP_REVOKED_AT
};
mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out);
/* Rows: at, action, from_state, to_state, national_status, actor_client_id, note. */
mc_err dossiers_history(db_conn *c, uint64_t id, db_rows **out);

#endif
