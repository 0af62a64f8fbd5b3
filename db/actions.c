/* actions.c - SQL behind workflow actions and the officials' queue. Prepared statements only; sets
 * (the queue's states) go in as JSON through JSON_TABLE. */
#include "actions.h"

mc_err actions_update(db_conn *c, const actions_row *r)
{
    uint64_t n = 0;
    db_param p[] = {db_str(r->state),          db_i64(r->national_status),
                    db_str(r->due_at),         db_str(r->assignee),
                    db_str(r->paused_at),      r->fee_vnd >= 0 ? db_i64(r->fee_vnd) : db_null(),
                    db_str(r->paid_at),        db_str(r->payment_ref),
                    db_str(r->outcome_reason), db_str(r->result_id),
                    db_str(r->finished_at),    db_str(r->rescheduled_to),
                    db_str(r->status_reason),  db_i64((long long)r->id),
                    db_i64(r->expect_version)};
    mc_err rc = db_exec(c,
                        "UPDATE dossier SET state = ?, national_status = ?, version = version + 1, due_at = ?,"
                        " assignee = ?, paused_at = ?, fee_vnd = ?, paid_at = ?, payment_ref = ?, outcome_reason = ?,"
                        " result_id = ?, finished_at = ?, rescheduled_to = ?, status_reason = ?"
                        " WHERE id = ? AND version = ?",
                        p, sizeof(p) / sizeof(p[0]), &n, NULL);
    if (rc) return rc;
    return n == 1 ? MC_OK : MC_ERR_CONFLICT;
}

mc_err actions_history(db_conn *c, uint64_t id, const char *at, const char *action, const char *from_state,
                       const char *to_state, int national_status, uint64_t actor, const char *note,
                       const char *request_id, const char *due_before, const char *due_after)
{
    db_param p[] = {db_i64((long long)id), db_str(at), db_str(action), db_str(from_state), db_str(to_state),
                    db_i64(national_status), actor ? db_i64((long long)actor) : db_null(), db_str(note),
                    db_str(request_id), db_str(due_before), db_str(due_after)};
    return db_exec(c,
                   "INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state, national_status,"
                   " actor_client_id, note, request_id, due_before, due_after) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   p, sizeof(p) / sizeof(p[0]), NULL, NULL);
}

mc_err actions_supplement_open(db_conn *c, uint64_t id, const char *at, uint64_t by, const char *reason,
                               const char *components, const char *old_due)
{
    db_param p[] = {db_i64((long long)id), db_str(at), db_i64((long long)by), db_str(reason), db_str(components),
                    db_str(old_due)};
    return db_exec(c,
                   "INSERT INTO supplement_request (dossier_id, requested_at, requested_by, reason, components,"
                   " old_due_at) VALUES (?,?,?,?,?,?)",
                   p, 6, NULL, NULL);
}

mc_err actions_supplement_current(db_conn *c, uint64_t id, db_rows **out)
{
    db_param p[] = {db_i64((long long)id)};
    return db_query(c,
                    "SELECT id, requested_at, components, old_due_at FROM supplement_request"
                    " WHERE dossier_id = ? AND resumed_at IS NULL ORDER BY id DESC LIMIT 1",
                    p, 1, out);
}

mc_err actions_supplement_close(db_conn *c, uint64_t req_id, const char *at, uint64_t by, const char *supplied,
                                const char *new_due)
{
    db_param p[] = {db_str(at), db_i64((long long)by), db_str(supplied), db_str(new_due), db_i64((long long)req_id)};
    return db_exec(c,
                   "UPDATE supplement_request SET resumed_at = ?, resumed_by = ?, supplied = ?, new_due_at = ?"
                   " WHERE id = ? AND resumed_at IS NULL",
                   p, 5, NULL, NULL);
}

mc_err actions_apology_insert(db_conn *c, uint64_t id, const char *at, uint64_t by, const char *due_at,
                              const char *new_date, const char *note)
{
    db_param p[] = {db_i64((long long)id), db_str(at), db_i64((long long)by), db_str(due_at), db_str(new_date),
                    db_str(note)};
    return db_exec(c,
                   "INSERT INTO apology_slip (dossier_id, at, by_client, due_at, new_date, note) VALUES (?,?,?,?,?,?)",
                   p, 6, NULL, NULL);
}

mc_err actions_queue(db_conn *c, const actions_queue_filter *f, db_rows **out)
{
    db_param p[] = {db_str(f->now),        db_str(f->ward),       db_str(f->states_json), db_str(f->procedure),
                    db_str(f->procedure),  db_str(f->assignee),   db_str(f->assignee),    db_str(f->due_from),
                    db_str(f->due_from),   db_str(f->due_before), db_str(f->due_before),  db_i64(f->overdue),
                    db_str(f->now),        db_i64(f->overdue),    db_str(f->after_key),   db_str(f->after_key),
                    db_i64((long long)f->after_id), db_i64(f->limit)};
    /* The sort key maps "no due time" to the far future so that it pages like any other value. */
    return db_query(
        c,
        "SELECT d.id, d.code, d.procedure_code, d.state, d.national_status, d.received_at, d.due_at, d.assignee,"
        " d.version, d.paused_at, d.finished_at, d.rescheduled_to,"
        " (d.due_at IS NOT NULL AND COALESCE(d.finished_at, d.paused_at, CAST(? AS DATETIME(6))) > d.due_at),"
        " DATE_FORMAT(COALESCE(d.due_at, TIMESTAMP'9999-12-31 23:59:59'), '%Y-%m-%d %H:%i:%s.%f')"
        " FROM dossier d WHERE d.ward = ?"
        " AND d.state IN (SELECT jt.s FROM JSON_TABLE(?, '$[*]' COLUMNS (s VARCHAR(32) PATH '$')) AS jt)"
        " AND (? IS NULL OR d.procedure_code = ?)"
        " AND (? IS NULL OR d.assignee = ?)"
        " AND (? IS NULL OR d.due_at >= CAST(? AS DATETIME(6)))"
        " AND (? IS NULL OR d.due_at < CAST(? AS DATETIME(6)))"
        " AND (? < 0 OR (d.due_at IS NOT NULL"
        "  AND COALESCE(d.finished_at, d.paused_at, CAST(? AS DATETIME(6))) > d.due_at) = ?)"
        " AND (? IS NULL OR (COALESCE(d.due_at, TIMESTAMP'9999-12-31 23:59:59'), d.id) > (CAST(? AS DATETIME(6)), ?))"
        " ORDER BY COALESCE(d.due_at, TIMESTAMP'9999-12-31 23:59:59'), d.id LIMIT ?",
        p, sizeof(p) / sizeof(p[0]), out);
}
