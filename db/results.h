/* results.h - SQL of the digital-results repository (table `result`, db/migrations/002_results.sql):
 * insert a signed result, read one, list by holder, revoke once. Rows are append-only except the
 * revocation columns (the migration's triggers refuse anything else). Callers own transactions. */
#ifndef MC_RESULTS_H
#define MC_RESULTS_H

#include <stdint.h>
#include "db.h"

/* What results_insert stores; every string borrowed for the call. Times are UTC DATETIME text. */
typedef struct results_row {
    const char *result_id;
    const char *result_type;
    const char *procedure;
    const char *holder_pid;
    uint64_t dossier_id;
    const char *dossier_code;
    const char *issuer_agency;
    const char *issuer_ward;
    const char *signer_cert_sha256;   /* 64 lowercase hex */
    const char *issued_at;            /* "YYYY-MM-DD HH:MM:SS.uuuuuu" */
    const char *signed_at;            /* "YYYY-MM-DD HH:MM:SS" */
    const char *valid_until;          /* "YYYY-MM-DD" or NULL */
    const char *xml;                  /* the signed bytes */
    size_t xml_len;
    const unsigned char *sha256;      /* 32 bytes: SHA-256 of xml */
} results_row;

/* Insert one result. MC_ERR_CONFLICT if result_id exists; *row_id (may be NULL) gets the row id. */
mc_err results_insert(db_conn *c, const results_row *row, uint64_t *row_id);

/* Columns of results_dossier_source, in order. */
enum { RS_ID, RS_CODE, RS_PROCEDURE, RS_WARD, RS_AGENCY, RS_PID, RS_NAME, RS_BODY, RS_RESULTS, RS_ACTIVE };
/* The stored dossier a result is issued from, locked FOR UPDATE (issuing the same dossier twice
 * serialises on it), with the count of its results (RS_RESULTS) and of those not revoked (RS_ACTIVE)
 * in the same statement. 0 rows when unknown. *out owned by the caller. */
mc_err results_dossier_source(db_conn *c, const char *dossier_code, db_rows **out);

/* Columns of results_get and results_list, in order (RC_XML only in results_get). */
enum {
    RC_ID, RC_RESULT_ID, RC_TYPE, RC_PROCEDURE, RC_HOLDER, RC_DOSSIER_CODE, RC_AGENCY, RC_WARD, RC_CERT,
    RC_ISSUED_AT, RC_SIGNED_AT, RC_VALID_UNTIL, RC_REVOKED_AT, RC_REVOKED_REASON, RC_SUBMITTER, RC_XML
};
/* One result by its result id (0 or 1 row); RC_SUBMITTER is the client that submitted the dossier. */
mc_err results_get(db_conn *c, const char *result_id, db_rows **out);
/* Results of holder_pid, optionally of one type (NULL: any) and only of dossiers submitted by
 * submitter (0: any), with row id > after_id, oldest first, at most limit rows (no RC_XML). */
mc_err results_list(db_conn *c, const char *holder_pid, const char *type, uint64_t submitter, uint64_t after_id,
                    long limit, db_rows **out);
/* Mark result_id revoked now. *affected is 0 when it is unknown or already revoked. */
mc_err results_revoke(db_conn *c, const char *result_id, const char *reason, uint64_t by, uint64_t *affected);

/* A verification mark (db/migrations/008_result_marks.sql; made and checked by server/rmark.c). */
typedef struct results_mark_row {
    const unsigned char *sha256;  /* 32 bytes: SHA-256 of the signed bytes verified */
    const unsigned char *trust;   /* 32 bytes: the verifier's trust fingerprint */
    const char *result_id, *result_type, *holder_pid, *valid_until, *deceased_pid; /* "" when absent */
    const unsigned char *mac;     /* 32 bytes */
} results_mark_row;
/* Store the mark of the bytes with hash m->sha256, replacing an older one of the same bytes. */
mc_err results_mark_put(db_conn *c, const results_mark_row *m);
/* Unrevoked results with row id > after_id, by id, at most limit rows: id, result_id, signed_xml; with
 * unmarked_in (32 bytes, may be NULL: all) only those without a mark of that epoch. */
mc_err results_page_bytes(db_conn *c, uint64_t after_id, const unsigned char *unmarked_in, long limit,
                          db_rows **out);

#endif
