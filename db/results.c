/* results.c - SQL behind the results repository (db/results.h). Prepared statements only. */
#include "results.h"

#include <stdlib.h>

mc_err results_insert(db_conn *c, const results_row *r, uint64_t *row_id)
{
    db_param p[] = {db_str(r->result_id), db_str(r->result_type), db_str(r->procedure), db_str(r->holder_pid),
                    db_i64((long long)r->dossier_id), db_str(r->dossier_code), db_str(r->issuer_agency),
                    db_str(r->issuer_ward), db_str(r->signer_cert_sha256), db_str(r->issued_at),
                    db_str(r->signed_at), db_str(r->valid_until), db_blob(r->xml, r->xml_len),
                    db_blob(r->sha256, 32)};
    return db_exec(c,
                   "INSERT INTO result (result_id, result_type, procedure_code, holder_pid, dossier_id, dossier_code,"
                   " issuer_agency, issuer_ward, signer_cert_sha256, issued_at, signed_at, valid_until, signed_xml,"
                   " signed_sha256) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   p, sizeof(p) / sizeof(p[0]), NULL, row_id);
}

mc_err results_dossier_source(db_conn *c, const char *dossier_code, db_rows **out)
{
    db_param p[] = {db_str(dossier_code)};
    return db_query(c,
                    "SELECT d.id, d.code, d.procedure_code, d.ward, d.agency_id, d.applicant_pid, d.applicant_name,"
                    " d.body, (SELECT COUNT(*) FROM result r WHERE r.dossier_id = d.id),"
                    " (SELECT COUNT(*) FROM result r WHERE r.dossier_id = d.id AND r.revoked_at IS NULL)"
                    " FROM dossier d WHERE d.code = ? FOR UPDATE",
                    p, 1, out);
}

mc_err results_get(db_conn *c, const char *result_id, db_rows **out)
{
    db_param p[] = {db_str(result_id)};
    return db_query(c,
                    "SELECT r.id, r.result_id, r.result_type, r.procedure_code, r.holder_pid, r.dossier_code,"
                    " r.issuer_agency, r.issuer_ward, r.signer_cert_sha256, r.issued_at, r.signed_at, r.valid_until,"
                    " r.revoked_at, r.revoked_reason, d.client_id, r.signed_xml"
                    " FROM result r JOIN dossier d ON d.id = r.dossier_id WHERE r.result_id = ?",
                    p, 1, out);
}

mc_err results_list(db_conn *c, const char *holder_pid, const char *type, uint64_t submitter, uint64_t after_id,
                    long limit, db_rows **out)
{
    db_param p[] = {db_str(holder_pid), db_str(type), db_str(type), db_i64((long long)submitter),
                    db_i64((long long)submitter), db_i64((long long)after_id), db_i64(limit)};
    return db_query(c,
                    "SELECT r.id, r.result_id, r.result_type, r.procedure_code, r.holder_pid, r.dossier_code,"
                    " r.issuer_agency, r.issuer_ward, r.signer_cert_sha256, r.issued_at, r.signed_at, r.valid_until,"
                    " r.revoked_at, r.revoked_reason, d.client_id"
                    " FROM result r JOIN dossier d ON d.id = r.dossier_id"
                    " WHERE r.holder_pid = ? AND (? IS NULL OR r.result_type = ?) AND (? = 0 OR d.client_id = ?)"
                    " AND r.id > ? ORDER BY r.id LIMIT ?",
                    p, sizeof(p) / sizeof(p[0]), out);
}

mc_err results_revoke(db_conn *c, const char *result_id, const char *reason, uint64_t by, uint64_t *affected)
{
    db_param p[] = {db_str(reason), db_i64((long long)by), db_str(result_id)};
    return db_exec(c,
                   "UPDATE result SET revoked_at = UTC_TIMESTAMP(6), revoked_reason = ?, revoked_by = ?"
                   " WHERE result_id = ? AND revoked_at IS NULL",
                   p, 3, affected, NULL);
}

mc_err results_mark_put(db_conn *c, const results_mark_row *m)
{
    db_param p[] = {db_blob(m->sha256, 32), db_blob(m->trust, 32), db_str(m->result_id), db_str(m->result_type),
                    db_str(m->holder_pid), db_str(m->valid_until), db_str(m->deceased_pid), db_blob(m->mac, 32)};
    /* a re-mark (new trust, new key) replaces the old mark of the same bytes */
    return db_exec(c,
                   "INSERT INTO result_mark (sha256, trust, result_id, result_type, holder_pid, valid_until,"
                   " deceased_pid, mac, marked_at) VALUES (?,?,?,?,?,?,?,?, UTC_TIMESTAMP(6))"
                   " ON DUPLICATE KEY UPDATE trust = VALUES(trust), result_id = VALUES(result_id),"
                   " result_type = VALUES(result_type), holder_pid = VALUES(holder_pid),"
                   " valid_until = VALUES(valid_until), deceased_pid = VALUES(deceased_pid), mac = VALUES(mac),"
                   " marked_at = VALUES(marked_at)",
                   p, sizeof(p) / sizeof(p[0]), NULL, NULL);
}

mc_err results_page_bytes(db_conn *c, uint64_t after_id, const unsigned char *unmarked_in, long limit,
                          db_rows **out)
{
    db_param e = unmarked_in ? db_blob(unmarked_in, 32) : db_null();
    db_param p[] = {db_i64((long long)after_id), e, e, db_i64(limit)};
    /* "unmarked" goes by the stored hash column: a row whose bytes were edited since keeps its old mark
     * here and is skipped, but reuse looks marks up by the hash of the bytes as stored now, finds none
     * and verifies (and refuses) it in full */
    return db_query(c,
                    "SELECT r.id, r.result_id, r.signed_xml FROM result r"
                    " LEFT JOIN result_mark m ON m.sha256 = r.signed_sha256"
                    " WHERE r.id > ? AND r.revoked_at IS NULL AND (? IS NULL OR m.trust IS NULL OR m.trust <> ?)"
                    " ORDER BY r.id LIMIT ?",
                    p, 4, out);
}
