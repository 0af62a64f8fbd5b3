/* reuse.h - once-only reuse (docs/reuse.md): components the state already holds are not asked for.
 * `population` components are met by the identity check; `result:<type>` components are linked to a
 * signed result of the right holder found in the repository and re-verified with the one strict
 * verifier (xverify). Verified signatures are cached by the SHA-256 of the signed bytes (bounded,
 * process-wide); revocation and expiry are read from the row on every use. Also the portal's preview
 * (GET /v1/citizens/{id}/evidence) and the savings figures (GET /v1/stats). */
#ifndef MC_REUSE_H
#define MC_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "app.h"
#include "catalog.h"
#include "db.h"
#include "dossier_xml.h"

#define REUSE_CACHE_SLOTS 32768   /* verified signatures remembered (~5 MiB) ... */
#define REUSE_CACHE_WAYS 4        /* ... in sets of this many */
#define REUSE_MAX_CANDIDATES 16   /* results fetched per dossier, newest first */
#define REUSE_MAX_REFUSED 4       /* refused (tampered) results reported per dossier */
#define REUSE_ID_CAP 65

struct results_svc;

/* How one plan item was met by reuse (parallel to catalog_plan_list.items). */
typedef struct reuse_link {
    bool reusable;                /* the catalog lets the state supply it (population or result) */
    bool linked;                  /* a result was linked */
    bool declined;                /* preview only: the citizen declined it */
    char result_id[REUSE_ID_CAP];
    char result_type[CATALOG_TYPE_CAP];
    char issuer_agency[32];
    char issuer_ward[9];
    char issued_at[32];           /* UTC DATETIME text from the row */
    char holder_role[DOSSIER_ROLE_CAP]; /* whose result: "applicant", "father", ... */
} reuse_link;

/* A stored result that failed re-verification: logged and audited by the caller's transaction. */
typedef struct reuse_refusal {
    char result_id[REUSE_ID_CAP];
    char detail[192];             /* audit detail: result id and reason, never a personal ID */
} reuse_refusal;

typedef struct reuse_outcome {
    reuse_link links[CATALOG_MAX_COMPONENTS];
    reuse_refusal refused[REUSE_MAX_REFUSED];
    size_t n_refused;
    size_t verified;              /* full verifications run */
    size_t cache_hits;            /* found verified in this process's cache */
    size_t marks;                 /* accepted on the strength of this server's verification mark */
    bool deferred;                /* a quick pass stopped at a first verification (reuse_link_quick) */
    size_t resume_item, resume_row; /* where: plan item and candidate row the full pass goes on from */
} reuse_outcome;

/* Roles whose results may satisfy component comp of procedure p (docs/reuse.md has the table):
 * writes at most cap role names (static strings; "applicant" means the applicant) into roles and
 * returns how many. Pure. */
size_t reuse_holder_roles(const catalog_proc *p, const catalog_component *comp, const char **roles, size_t cap);

/* Resolve every `result` item of plan (of procedure p) for dossier d: one query for the candidate results of all
 * holders, newest first; each re-verified (or found in the cache, or accepted on its verification
 * mark), revoked/expired/other holders' skipped; the first valid one linked (item ref = its id). Items
 * left without a result become CATALOG_HOW_MISSING. declined (may be NULL) is a list of n_declined
 * component codes the citizen declined (preview): they are not reused and become CATALOG_HOW_UPLOAD.
 * rs without trust anchors (results_api_trust NULL): nothing can be verified, so nothing is linked. request_id is for logs. out is overwritten. Errors: database
 * errors (plan and out then undefined: the caller refuses the request). */
mc_err reuse_resolve(const struct results_svc *rs, db_conn *c, const calendar *cal, const catalog_proc *p,
                     const dossier_doc *d, const char *const *declined, size_t n_declined, const char *request_id,
                     catalog_plan_list *plan, reuse_outcome *out);

/* One dossier to resolve in a batch (reuse_resolve_many). */
typedef struct reuse_request {
    const catalog_proc *p;
    const dossier_doc *d;
    const char *const *declined;
    size_t n_declined;
    const char *request_id;
    catalog_plan_list *plan;
    reuse_outcome *out;
} reuse_request;
/* reuse_resolve for n dossiers with ONE candidate query for all of them; each dossier still links
 * only results of its own holders. */
mc_err reuse_resolve_many(const struct results_svc *rs, db_conn *c, const calendar *cal, reuse_request *reqs,
                          size_t n);
/* The two halves of reuse_resolve_many, so that a batch (the intake writer's) can share one query
 * while its dossiers are linked (and their candidates re-verified) on several threads: fetch prepares
 * every request (declines,
 * holders, types) and runs the one candidate query (*rows NULL when nothing can be reused; caller
 * frees); link_one links one request from those rows (rows is only read, so several threads may link
 * from it at once); c fetches signed bytes on a verification-cache miss. */
mc_err reuse_fetch_many(const struct results_svc *rs, db_conn *c, const calendar *cal, reuse_request *reqs,
                        size_t n, db_rows **rows, char today[16]);
void reuse_link_one(const struct results_svc *rs, db_conn *c, reuse_request *req, db_rows *rows,
                    const char *today);
/* The same without a connection, for a thread that links other dossiers' candidates: true when req is
 * resolved from the verification cache and marks alone; false when a candidate needs a full
 * verification - then reuse_link_one (with a connection) must finish it. */
bool reuse_link_quick(const struct results_svc *rs, reuse_request *req, db_rows *rows, const char *today);
/* What resolving req gives when none of its holders has a candidate (pure): every `result` item
 * missing. For building a receipt ahead of the look-up; req->plan must be restored before the real one. */
void reuse_link_none(reuse_request *req);
/* Whether an outcome differs from reuse_link_none's: something linked, refused or deferred. */
bool reuse_linked_any(const reuse_outcome *o);

/* The preview JSON of one plan item with its link (new object, caller owns): catalog_component_json's
 * members, then reuse_item_state_json's (receipts join the same two, rendered). */
json_t *reuse_item_json(const app *a, const catalog_plan_item *it, const reuse_link *l);
/* The members that depend on the dossier: satisfiedBy, reused, declined, fileRef, result,
 * uploadRequired (new object, caller owns). */
json_t *reuse_item_state_json(const app *a, const catalog_plan_item *it, const reuse_link *l);

/* The reuse facts of one component for its dossier_component row: out[0] source (population | result),
 * out[1] reused (DuocTaiSuDung), out[2] result (MaKetQuaThayThe), out[3] evidence, written into
 * evidence (REUSE_EVIDENCE_CAP), which must outlive the insert. NULLs when the component is not
 * reusable. */
#define REUSE_EVIDENCE_CAP (REUSE_ID_CAP + 8)
void reuse_component_params(const catalog_plan_item *it, const reuse_link *l, char *evidence, db_param out[4]);

/* For a GET /v1/dossiers/{code} body: to component object target, from row i of dossiers_components,
 * "reused", "reusableFrom", the linked "result" (id, type, issuer, issued at, revoked) and the sync
 * flags; and to the body o the dossier's "reuseFlag" when a reused result was revoked (flag NULL:
 * none). */
void reuse_component_view(const app *a, db_rows *comps, size_t i, json_t *target);
/* The dossier's own once-only figures, body key "onceOnly", counted from its dossiers_components rows
 * exactly as GET /v1/stats counts them in SQL (docs/reuse.md "Measured savings"): components asked,
 * satisfied without upload (population, result), population pending, uploaded, missing, the share
 * avoided, and the declared fields with how many the population record confirmed (prefillable). */
void reuse_savings_view(db_rows *comps, long declared, long confirmed, json_t *o);
void reuse_flag_view(const app *a, const char *flag, const char *flagged_at, json_t *o);

/* GET /v1/citizens/{id}/evidence?procedure=...&consent=true[&father=&mother=&spouse=][&decline=TPn]...
 * (portal): what submission would reuse, through the same reuse_resolve. */
void reuse_api_evidence(http_job *j, db_conn *c);
/* GET /v1/stats[?ward=] (monitor: all wards or one; official: its own ward). */
void reuse_api_stats(http_job *j, db_conn *c);

/* How this process re-verified stored results since it started (GET /v1/stats "reVerification"). */
typedef struct reuse_counters {
    size_t cache_hits;            /* found verified in the in-memory cache */
    size_t marks_accepted;        /* this server's mark for the bytes, of the current epoch */
    size_t marks_stale;           /* a mark of another epoch (trust or key): verified in full instead */
    size_t marks_rejected;        /* a mark that does not authenticate (logged): verified in full instead */
    size_t full_verifications;    /* bytes fetched and verified by xverify */
} reuse_counters;
void reuse_counters_get(reuse_counters *out);

#endif
