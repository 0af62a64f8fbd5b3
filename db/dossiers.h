/* dossiers.h - SQL for dossiers, their components, named persons, history, idempotency keys and the
 * per-agency daily sequence. Callers own the transaction (db_begin/db_commit). */
#ifndef MC_DOSSIERS_H
#define MC_DOSSIERS_H

#include <stdint.h>
#include "db.h"

/* The multi-row inserts take a JSON array and insert it with JSON_TABLE: one round trip whatever the
 * number of rows (group commit writes many dossiers per transaction). Child rows name their dossier
 * by code ("dossier") and find its id by the unique code.
 * dossiers: [{code, procedure, ward, agency, channel, source, client, pid, name, birth, gender, phone?,
 *   email?, address?, summary, state, national, received, due?, sha (hex), body, receipt, declared}] */
mc_err dossiers_insert_rows(db_conn *c, const char *json);
/* components: [{dossier, code, name, required (0/1), plan, file_ref?, file_name?, result_ref?, source?,
 * reused?, result? (the linked result: satisfied now), evidence?}] */
mc_err dossiers_insert_components(db_conn *c, const char *json);
/* persons: [{dossier, seq, role, pid?, name?, birth_date?}] */
mc_err dossiers_insert_persons(db_conn *c, const char *json);
/* history: [{dossier, action, to_state, national_status, actor, note, request_id}] (from_state NULL) */
mc_err dossiers_insert_history_rows(db_conn *c, const char *json);
/* idempotency keys: [{client, key, sha (hex of the body's SHA-256), dossier}]; MC_ERR_CONFLICT when one exists. */
mc_err dossiers_idem_insert_rows(db_conn *c, const char *json);
/* MC_ERR_NOT_FOUND when unknown. */
mc_err dossiers_idem_find(db_conn *c, uint64_t client_id, const char *key, unsigned char hash[32],
                          uint64_t *dossier_id);
/* Take `count` numbers from the day's sequence of agency; *last gets the highest (the batch owns
 * last-count+1 .. last). Gapless: rolled back with the transaction. */
mc_err dossiers_next_seq(db_conn *c, const char *agency_id, const char *day, long count, long *last);
/* Rows: code, receipt. */
mc_err dossiers_receipt(db_conn *c, uint64_t id, db_rows **out);

/* Columns of dossiers_get, in order. */
enum {
    DC_ID, DC_CODE, DC_PROCEDURE, DC_WARD, DC_AGENCY, DC_CHANNEL, DC_SOURCE, DC_CLIENT, DC_PID, DC_NAME,
    DC_STATE, DC_NATIONAL, DC_RECEIVED, DC_DUE, DC_VERSION, DC_SUMMARY, DC_REASON
};
mc_err dossiers_get(db_conn *c, const char *code, db_rows **out);
/* Rows: code, name_vi, required, plan, file_ref, file_name, result_ref, satisfied_at, evidence. */
mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out);
/* Rows: at, action, from_state, to_state, national_status, actor_client_id, note. */
mc_err dossiers_history(db_conn *c, uint64_t id, db_rows **out);

#endif
