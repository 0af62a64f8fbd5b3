/* dossiers.h - SQL for dossiers, their components, named persons, history, idempotency keys and the
 * per-agency daily sequence. Callers own the transaction (db_begin/db_commit). */
#ifndef MC_DOSSIERS_H
#define MC_DOSSIERS_H

#include <stdint.h>
#include "db.h"

typedef struct {
    const char *procedure_code, *ward, *agency_id, *source;
    int channel;
    uint64_t client_id;
    const char *pid, *name, *birth_date, *gender;
    const char *phone, *email, *address, *summary;
    const char *state;
    int national_status;
    const char *received_at;     /* "YYYY-MM-DD HH:MM:SS.ffffff" UTC */
    const char *due_at;          /* NULL: no fixed return date */
    const unsigned char *body_sha256;
    const char *body;
    size_t body_len;
} dossier_new;

mc_err dossiers_insert(db_conn *c, const dossier_new *d, uint64_t *id);
/* All components in one statement: json is an array of {code, name, required (0/1), plan, file_ref?,
 * file_name?, result_ref?} (JSON_TABLE, one round trip whatever the count). */
mc_err dossiers_insert_components(db_conn *c, uint64_t id, const char *json);
/* All named persons in one statement: json is an array of {seq, role, pid?, name?, birth_date?}. */
mc_err dossiers_insert_persons(db_conn *c, uint64_t id, const char *json);
mc_err dossiers_insert_history(db_conn *c, uint64_t id, const char *action, const char *from_state,
                               const char *to_state, int national_status, uint64_t actor, const char *note,
                               const char *request_id);
/* MC_ERR_CONFLICT when (client, key) exists already. */
mc_err dossiers_idem_insert(db_conn *c, uint64_t client_id, const char *key, const unsigned char hash[32],
                            uint64_t dossier_id);
/* MC_ERR_NOT_FOUND when unknown. */
mc_err dossiers_idem_find(db_conn *c, uint64_t client_id, const char *key, unsigned char hash[32],
                          uint64_t *dossier_id);
/* Bump and return the day's sequence for agency (gapless: rolled back with the transaction). */
mc_err dossiers_next_seq(db_conn *c, const char *agency_id, const char *day, long *seq);
mc_err dossiers_set_code(db_conn *c, uint64_t id, const char *code, const char *receipt);
/* Rows: code, receipt. */
mc_err dossiers_receipt(db_conn *c, uint64_t id, db_rows **out);

/* Columns of dossiers_get, in order. */
enum {
    DC_ID, DC_CODE, DC_PROCEDURE, DC_WARD, DC_AGENCY, DC_CHANNEL, DC_SOURCE, DC_CLIENT, DC_PID, DC_NAME,
    DC_STATE, DC_NATIONAL, DC_RECEIVED, DC_DUE, DC_VERSION, DC_SUMMARY
};
mc_err dossiers_get(db_conn *c, const char *code, db_rows **out);
/* Rows: code, name_vi, required, plan, file_ref, file_name, result_ref. */
mc_err dossiers_components(db_conn *c, uint64_t id, db_rows **out);
/* Rows: at, action, from_state, to_state, national_status, actor_client_id, note. */
mc_err dossiers_history(db_conn *c, uint64_t id, db_rows **out);

#endif
