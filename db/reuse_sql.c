/* reuse_sql.c - SQL behind once-only reuse (db/reuse_sql.h). Prepared statements only. */
#include "reuse_sql.h"

mc_err reuse_sql_candidates(db_conn *c, const char *pids_json, const char *types_json, const char *today,
                            long per_holder, db_rows **out)
{
    db_param p[] = {db_str(pids_json), db_str(types_json), db_str(today), db_i64(per_holder)};
    /* newest `per_holder` rows per (holder, type), so one busy holder cannot crowd out the others of a
     * batch; the IN lists ride ix_holder_type (holder_pid, result_type, id) */
    return db_query(c,
                    "SELECT k.result_id, k.result_type, k.holder_pid, k.issuer_agency, k.issuer_ward, k.issued_at,"
                    " k.valid_until, k.sha, LOWER(HEX(m.trust)), m.result_id, m.result_type, m.holder_pid,"
                    " m.valid_until, m.deceased_pid, LOWER(HEX(m.mac))"
                    " FROM (SELECT result_id, result_type, holder_pid, issuer_agency, issuer_ward, issued_at,"
                    " valid_until, SHA2(signed_xml, 256) AS sha, ROW_NUMBER() OVER (PARTITION BY holder_pid,"
                    " result_type ORDER BY issued_at DESC, id DESC) AS nth FROM result"
                    " WHERE holder_pid IN (SELECT v FROM JSON_TABLE(?, '$[*]' COLUMNS (v CHAR(12) PATH '$')) AS a)"
                    " AND result_type IN (SELECT v FROM JSON_TABLE(?, '$[*]' COLUMNS (v VARCHAR(32) PATH '$')) AS b)"
                    " AND revoked_at IS NULL AND (valid_until IS NULL OR valid_until >= ?)) AS k"
                    /* the mark of the bytes as stored now (result_mark's primary key) */
                    " LEFT JOIN result_mark m ON m.sha256 = UNHEX(k.sha)"
                    " WHERE k.nth <= ? ORDER BY k.issued_at DESC, k.result_id DESC",
                    p, 4, out);
}

mc_err reuse_sql_bytes(db_conn *c, const char *result_id, db_rows **out)
{
    db_param p[] = {db_str(result_id)};
    return db_query(c, "SELECT signed_xml FROM result WHERE result_id = ?", p, 1, out);
}

mc_err reuse_sql_flag_revoked(db_conn *c, const char *result_id, uint64_t actor, const char *note,
                              const char *request_id, uint64_t *flagged)
{
    db_param h[] = {db_i64((long long)actor), db_str(note), db_str(request_id), db_str(result_id)};
    mc_err rc = db_exec(c,
                        "INSERT INTO dossier_history (dossier_id, at, action, from_state, to_state, national_status,"
                        " actor_client_id, note, request_id) SELECT DISTINCT d.id, UTC_TIMESTAMP(6),"
                        " 'reused_result_revoked', d.state, d.state, d.national_status, ?, ?, ? FROM dossier d"
                        " JOIN dossier_component dc ON dc.dossier_id = d.id WHERE dc.replaced_by_result = ?",
                        h, 4, NULL, NULL);
    if (rc) return rc;
    db_param u[] = {db_str(note), db_str(result_id)};
    return db_exec(c,
                   "UPDATE dossier d SET d.reuse_flag = ?, d.reuse_flagged_at = UTC_TIMESTAMP(6),"
                   " d.version = d.version + 1 WHERE d.id IN (SELECT dc.dossier_id FROM dossier_component dc"
                   " WHERE dc.replaced_by_result = ?)",
                   u, 2, flagged, NULL);
}

mc_err reuse_sql_stats(db_conn *c, const char *ward, db_rows **out)
{
    db_param p[] = {db_str(ward), db_str(ward)};
    /* "asked": what the citizen would hand in without reuse - required components plus every
     * component the catalog lets the state supply (docs/reuse.md) */
    return db_query(c,
                    "SELECT d.procedure_code, COUNT(*), SUM(k.asked), SUM(k.pop), SUM(k.pop_pending), SUM(k.res),"
                    " SUM(k.upl), SUM(k.miss),"
                    " SUM(d.finished_at IS NOT NULL AND (d.due_at IS NULL OR d.finished_at <= d.due_at)),"
                    " SUM(d.due_at IS NOT NULL AND COALESCE(d.finished_at, UTC_TIMESTAMP(6)) > d.due_at),"
                    " SUM(d.reuse_flag IS NOT NULL), SUM(d.declared_fields), SUM(COALESCE(ic.confirmed, 0))"
                    " FROM dossier d JOIN (SELECT dossier_id,"
                    " SUM(required OR plan <> 'missing' OR reuse_source IS NOT NULL) AS asked,"
                    " SUM(plan = 'population' AND satisfied_at IS NOT NULL) AS pop,"
                    " SUM(plan = 'population' AND satisfied_at IS NULL) AS pop_pending,"
                    " SUM(plan = 'result' AND reused) AS res, SUM(plan = 'upload') AS upl,"
                    " SUM(plan = 'missing' AND (required OR reuse_source IS NOT NULL)) AS miss"
                    " FROM dossier_component GROUP BY dossier_id) k ON k.dossier_id = d.id"
                    /* declared fields the population record confirmed: what a prefilling portal need not ask */
                    " LEFT JOIN (SELECT dossier_id, SUM(IF(matched = '', 0,"
                    " LENGTH(matched) - LENGTH(REPLACE(matched, ',', '')) + 1)) AS confirmed"
                    " FROM identity_check WHERE outcome = 'verified' GROUP BY dossier_id) ic ON ic.dossier_id = d.id"
                    " WHERE (? IS NULL OR d.ward = ?) GROUP BY d.procedure_code ORDER BY d.procedure_code",
                    p, 2, out);
}
