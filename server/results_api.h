/* results_api.h - the digital-results repository over HTTP (GET /v1/results/{id}, GET /v1/results,
 * POST /v1/results/{id}/revocation, public POST /v1/verify) and issuing a signed result from a
 * stored dossier. Process-wide state (ward keys, trust anchors, verify limiter) is one results_svc,
 * loaded once at start; signing uses one sign_ctx per worker thread (sign_ctx_dup, thread-specific). */
#ifndef MC_RESULTS_API_H
#define MC_RESULTS_API_H

#include <stddef.h>
#include "app.h"

#define RESULTS_MAX_KEYS 256       /* wards with a signing key */
#define RESULTS_ID_CAP 65          /* result id incl. NUL */
#define RESULTS_PAGE_DEFAULT 50
#define RESULTS_PAGE_MAX 100

typedef struct results_svc results_svc;
struct xverify_trust;

/* Load what is available, once: the signing key of every ward found in cfg->sign_dir (file naming in
 * docs/signing.md "Repository"), the trust anchors cfg->trust_ca_file (+ cfg->crl_file, the result
 * XSD in cfg->schemas_dir) and the verify limiter. A missing or unusable part is not an error: it is
 * logged, and what needs it answers 503 (MC_ERR_RESULTS_UNAVAILABLE) with the reason. Needs
 * sign_global_init first. Returns MC_OK with *out owned by the caller (results_api_svc_free), or
 * MC_ERR_NOMEM / MC_ERR_INTERNAL with *out untouched and why set. */
mc_err results_api_svc_new(const mc_config *cfg, results_svc **out, char *why, size_t whycap);
/* Frees the keys, every per-thread signing context and the trust. Call after the threads that
 * signed have stopped (db_pool_free). NULL is fine. */
void results_api_svc_free(results_svc *s);
/* The trust anchors the strict verifier uses (once-only reuse re-verifies with them), or NULL when
 * they are not loaded (or s is NULL). Borrowed: lives as long as s. */
const struct xverify_trust *results_api_trust(const results_svc *s);
struct rmark_key;
/* The verification-mark key and (in *epoch) the epoch marks are made and accepted under (a hash of
 * the trust fingerprint and the key), or NULL when marks are off (no mark_key_file, no trust).
 * Borrowed: lives as long as s. */
const struct rmark_key *results_api_marks(const results_svc *s, const unsigned char **epoch);
/* `motcua-admin result mark`: verify every unrevoked result (missing_only: those without a mark of the
 * current epoch) and mark those that pass (after a change of trust anchors, CRL entries or mark key,
 * or for results stored before marks existed), one transaction per page. Counts what it saw, marked
 * and refused (each refusal logged). MC_ERR_RESULTS_UNAVAILABLE when marks are off. */
mc_err results_api_mark_all(const results_svc *s, db_conn *c, bool missing_only, long *seen, long *marked,
                            long *refused);
/* Number of wards that can sign. */
size_t results_api_svc_wards(const results_svc *s);

/* Issue the result of a stored dossier, inside the caller's open transaction on c: read the dossier
 * (locked), build the fields (result type from the catalog, issuer from units.json, holder = the
 * applicant, content = every leaf of the dossier XML's <declaration>, e.g. the birth-registration
 * extract fields; validUntil when the catalog gives the result a validity, counted from the local
 * issue date on cal), sign with the ward's key on this thread, insert the row. The result id is
 * "KQ-" + dossier code ("-2", "-3", ... after a revocation). On success result_id (cap >= 65) holds
 * it; the caller commits. Errors (why says what; result_id untouched; the caller rolls back):
 * MC_ERR_NOT_FOUND (no such dossier), MC_ERR_CONFLICT (the dossier has a result not revoked),
 * MC_ERR_RESULTS_UNAVAILABLE (no key for the ward), MC_ERR_UNKNOWN_PROCEDURE / MC_ERR_UNKNOWN_UNIT,
 * MC_ERR_BAD_REQUEST (a field sign_result refuses), database errors. */
mc_err results_api_issue(results_svc *s, const catalog *cat, const calendar *cal, db_conn *c, const char *dossier_code,
                         char *result_id, size_t cap, char *why, size_t whycap);

/* Route handlers (server/http.c). Scoping: officials see every result (they check results
 * presented for reuse in any ward); portal and national clients only results of dossiers they
 * submitted; anything else is 404 so ids do not leak. Revocation: officials of the issuing ward only
 * (others 404). */
void results_api_get(http_job *j, db_conn *c);
void results_api_list(http_job *j, db_conn *c);
void results_api_revoke(http_job *j, db_conn *c);
void results_api_verify(http_job *j, db_conn *c);

#endif
