/* reuse.c - once-only reuse: who may hold the result a component asks for, finding and re-verifying the
 * candidates of a dossier (one query, a bounded cache of verified signatures keyed by the SHA-256 of
 * the signed bytes), the receipt/preview JSON, the dossier view's reuse facts, and the preview and
 * stats handlers. SQL is in db/reuse_sql.c; the verifier is xverify.c (the one /v1/verify uses). */
#include "reuse.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h> /* TAILQ_INIT for evkeyvalq */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "audit.h"
#include "dossiers.h"
#include "hex.h"
#include "http.h"
#include "log.h"
#include "pid.h"
#include "results_api.h"
#include "reuse_sql.h"
#include "rmark.h"
#include "xverify.h"

/* ---------------- who may hold the result ---------------- */

/* Results a component asks for and whose they may be (docs/reuse.md). `subject_field` names a content
 * field of the signed result that must carry the personal ID of `subject_role` (a death extract used
 * as proof that the declared spouse died must be about that spouse). */
static const struct holder_rule {
    const char *procedure, *component;
    const char *roles[3];
    const char *subject_field, *subject_role;
} holder_rules[] = {
    /* birth registration: the parents' marriage certificate, held by the parent who registered it */
    {"1.001193", "TP4", {"father", "mother", NULL}, NULL, NULL},
    /* marital status confirmation: the death extract of the former spouse, registered by the applicant */
    {"1.004873", "TP2", {"applicant", NULL, NULL}, "deceased.personalId", "spouse"},
    /* marriage registration: either party's marital status confirmation */
    {"1.000894", "TP3", {"applicant", "spouse", NULL}, NULL, NULL},
};

static const struct holder_rule *rule_for(const catalog_proc *p, const catalog_component *comp)
{
    for (size_t i = 0; i < sizeof(holder_rules) / sizeof(holder_rules[0]); i++)
        if (strcmp(holder_rules[i].procedure, p->code) == 0 && strcmp(holder_rules[i].component, comp->code) == 0)
            return &holder_rules[i];
    return NULL;
}

size_t reuse_holder_roles(const catalog_proc *p, const catalog_component *comp, const char **roles, size_t cap)
{
    const struct holder_rule *r = rule_for(p, comp);
    size_t n = 0;
    if (!r) { /* any other result component: the applicant's own results only */
        if (cap) roles[n++] = "applicant";
        return n;
    }
    for (size_t i = 0; i < 3 && r->roles[i] && n < cap; i++) roles[n++] = r->roles[i];
    return n;
}

/* The nth person of role in d ("applicant": the applicant), or NULL. */
static const dossier_person *person(const dossier_doc *d, const char *role, size_t nth)
{
    if (strcmp(role, "applicant") == 0) return nth == 0 ? &d->applicant : NULL;
    for (size_t i = 0; i < d->n_persons; i++)
        if (strcmp(d->persons[i].role, role) == 0 && nth-- == 0) return &d->persons[i];
    return NULL;
}

/* ---------------- cache of verified signatures ---------------- */

static const char *col(db_rows *r, size_t i, size_t c) { return db_rows_get(r, i, c, NULL); }

/* A verified document's facts (rmark.h: only successful verifications are kept; a verified signature
 * over identical bytes stays valid under the same trust; revocation and expiry are checked per use). */
typedef struct centry {
    rmark m;
    bool used;
} centry;

/* Set-associative: REUSE_CACHE_WAYS entries per set, so a few hot documents hashing to one set do not
 * evict each other; within a full set the oldest insertion goes first. */
#define CACHE_SETS (REUSE_CACHE_SLOTS / REUSE_CACHE_WAYS)
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static centry cache[CACHE_SETS][REUSE_CACHE_WAYS];
static unsigned char cache_next[CACHE_SETS]; /* the way the next insertion into a full set replaces */
static reuse_counters counters;             /* guarded by cache_mu */

static size_t set_of(const unsigned char sha[32])
{
    uint32_t v = (uint32_t)sha[0] | (uint32_t)sha[1] << 8 | (uint32_t)sha[2] << 16 | (uint32_t)sha[3] << 24;
    return v % CACHE_SETS;
}

static bool cache_get(const unsigned char sha[32], rmark *out)
{
    bool hit = false;
    pthread_mutex_lock(&cache_mu);
    centry *set = cache[set_of(sha)];
    for (size_t w = 0; w < REUSE_CACHE_WAYS && !hit; w++)
        if (set[w].used && memcmp(set[w].m.sha, sha, 32) == 0) {
            *out = set[w].m;
            hit = true;
        }
    if (hit) counters.cache_hits++;
    pthread_mutex_unlock(&cache_mu);
    return hit;
}

static void cache_put(const rmark *m)
{
    size_t s = set_of(m->sha), way = REUSE_CACHE_WAYS;
    pthread_mutex_lock(&cache_mu);
    centry *set = cache[s];
    for (size_t w = 0; w < REUSE_CACHE_WAYS && way == REUSE_CACHE_WAYS; w++)
        if (!set[w].used || memcmp(set[w].m.sha, m->sha, 32) == 0) way = w;
    if (way == REUSE_CACHE_WAYS) {
        way = cache_next[s];
        cache_next[s] = (unsigned char)((way + 1) % REUSE_CACHE_WAYS);
    }
    set[way] = (centry){*m, true};
    pthread_mutex_unlock(&cache_mu);
}

static void count(size_t *field)
{
    pthread_mutex_lock(&cache_mu);
    (*field)++;
    pthread_mutex_unlock(&cache_mu);
}

void reuse_counters_get(reuse_counters *out)
{
    pthread_mutex_lock(&cache_mu);
    *out = counters;
    pthread_mutex_unlock(&cache_mu);
}

/* The 64 hex digits of a 32-byte value from a candidate row (SHA-256, trust epoch, MAC) into out. */
static bool unhex32(const char *hex, unsigned char out[32])
{
    return hex && strlen(hex) == 64 && hex_decode(hex, 32, out);
}

/* The candidate row's verification mark (result_mark, joined on the hash of the bytes as stored now),
 * if it is one this server made in the current epoch (trust and key). Anything else - no mark, a mark
 * of another epoch (anchors, CRL entries or key changed since), a mark that does not authenticate
 * (written or edited without the key) - sends the caller to a full verification. */
static bool mark_accepted(const struct results_svc *rs, db_rows *rows, size_t i, const unsigned char sha[32],
                          rmark *m, const char *request_id)
{
    const unsigned char *epoch = NULL;
    const rmark_key *key = results_api_marks(rs, &epoch);
    const char *trust = col(rows, i, RQ_MARK_TRUST), *mac_hex = col(rows, i, RQ_MARK_MAC);
    unsigned char mac[32];
    if (!key || !trust || !mac_hex) return false;
    memset(m, 0, sizeof(*m));
    memcpy(m->sha, sha, 32);
    if (!unhex32(trust, m->trust) || memcmp(m->trust, epoch, 32) != 0) {
        count(&counters.marks_stale);
        return false;
    }
    snprintf(m->result_id, sizeof(m->result_id), "%s", col(rows, i, RQ_MARK_RESULT_ID));
    snprintf(m->result_type, sizeof(m->result_type), "%s", col(rows, i, RQ_MARK_TYPE));
    snprintf(m->holder, sizeof(m->holder), "%s", col(rows, i, RQ_MARK_HOLDER));
    snprintf(m->valid_until, sizeof(m->valid_until), "%s", col(rows, i, RQ_MARK_VALID_UNTIL));
    snprintf(m->deceased, sizeof(m->deceased), "%s", col(rows, i, RQ_MARK_DECEASED));
    if (!unhex32(mac_hex, mac) || !rmark_authentic(key, m, mac)) {
        count(&counters.marks_rejected);
        log_msg(LOG_WARN, "req=%s reuse: the verification mark of stored result %s does not authenticate (written "
                "or edited without the mark key): verifying it in full",
                request_id ? request_id : "-", col(rows, i, RQ_RESULT_ID));
        return false;
    }
    count(&counters.marks_accepted);
    return true;
}

/* Candidate row i, a stored result known to MariaDB by the SHA-256 of its bytes as stored now: found
 * verified in the cache, or carrying this server's mark for those bytes, or its bytes fetched and
 * verified in full (then cached under the hash of the bytes actually verified). true with *m filled;
 * false with slug set. Tampered bytes hash differently, so they never meet a cache entry or a mark
 * made for the genuine document. c NULL (a quick pass, reuse_link_quick): no full verification, false
 * with out->deferred set instead; full_only: the quick pass already looked at the cache and the mark. */
static bool verified(const struct results_svc *rs, db_conn *c, db_rows *rows, size_t i, bool full_only, rmark *m,
                     const char **slug, const char *request_id, reuse_outcome *out)
{
    const char *rid = col(rows, i, RQ_RESULT_ID), *sha_hex = col(rows, i, RQ_SHA256);
    unsigned char sha[32];
    db_rows *r = NULL;
    xverify_report *rep = NULL;
    bool ok = false, known = unhex32(sha_hex, sha);
    if (!full_only && known && cache_get(sha, m)) {
        out->cache_hits++;
        return true;
    }
    if (!full_only && known && mark_accepted(rs, rows, i, sha, m, request_id)) {
        cache_put(m); /* in memory too: the next use costs no MAC */
        out->marks++;
        return true;
    }
    if (!c) {
        out->deferred = true;
        return false;
    }
    size_t len = 0;
    const char *xml = NULL;
    if (reuse_sql_bytes(c, rid, &r) || !(xml = db_rows_get(r, 0, 0, &len))) {
        *slug = "not-readable";
        goto out;
    }
    if (!(rep = malloc(sizeof(*rep)))) {
        *slug = "out-of-memory";
        goto out;
    }
    out->verified++;
    count(&counters.full_verifications);
    mc_err rc = xverify_result(results_api_trust(rs), xml, len, rep);
    ok = rc == MC_OK && rep->reason == XVERIFY_OK;
    if (ok) {
        unsigned int n = 32;
        EVP_Digest(xml, len, sha, &n, EVP_sha256(), NULL);
        rmark_from_report(m, sha, NULL, rep);
        cache_put(m);
    } else {
        *slug = rep->slug;
    }
out:
    free(rep);
    db_rows_free(r);
    return ok;
}

/* ---------------- resolving a dossier ---------------- */

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] && strcmp(list[i], s) == 0) return true;
    return false;
}

static bool add_unique(const char **list, size_t cap, const char *s)
{
    for (size_t i = 0; i < cap; i++) {
        if (!list[i]) {
            list[i] = s;
            return true;
        }
        if (strcmp(list[i], s) == 0) return true;
    }
    return false;
}

static void refuse(reuse_outcome *out, const char *result_id, const char *slug, const char *holder,
                   const char *request_id)
{
    char masked[16];
    for (size_t i = 0; i < out->n_refused; i++)
        if (strcmp(out->refused[i].result_id, result_id) == 0) return;
    log_msg(LOG_WARN, "req=%s reuse: stored result %s refused on re-verification (%s), holder %s: not reused",
            request_id ? request_id : "-", result_id, slug, pid_mask(holder, masked, sizeof(masked)));
    if (out->n_refused >= REUSE_MAX_REFUSED) return;
    reuse_refusal *r = &out->refused[out->n_refused++];
    snprintf(r->result_id, sizeof(r->result_id), "%s", result_id);
    snprintf(r->detail, sizeof(r->detail), "stored result %.64s failed re-verification: %.60s", result_id, slug);
}

/* Link the first valid candidate for plan item it, newest first, from candidate row `from` on (resume:
 * that row was deferred by a quick pass, which already looked at its cache entry and mark). */
static void link_item(const struct results_svc *rs, db_conn *c, const catalog_proc *p, const dossier_doc *d,
                      db_rows *rows, const char *today, const char *request_id, catalog_plan_item *it,
                      reuse_link *l, reuse_outcome *out, size_t from, bool resume)
{
    const char *roles[3];
    size_t nroles = reuse_holder_roles(p, it->component, roles, 3);
    const struct holder_rule *rule = rule_for(p, it->component);
    const dossier_person *subject = rule && rule->subject_role ? person(d, rule->subject_role, 0) : NULL;
    if (rule && rule->subject_role && (!subject || !subject->pid[0])) return; /* about nobody named */
    for (size_t i = from; i < db_rows_count(rows); i++) {
        const char *rid = col(rows, i, RQ_RESULT_ID), *holder = col(rows, i, RQ_HOLDER);
        if (strcmp(col(rows, i, RQ_TYPE), it->component->result_type) != 0) continue;
        if (it->ref[0] && strcmp(it->ref, rid) != 0) continue; /* the dossier named another result */
        const char *role = NULL;
        for (size_t r = 0; r < nroles && !role; r++)
            for (size_t nth = 0; nth < DOSSIER_MAX_PERSONS; nth++) {
                const dossier_person *ps = person(d, roles[r], nth);
                if (!ps) break;
                if (ps->pid[0] && strcmp(ps->pid, holder) == 0) {
                    role = roles[r];
                    break;
                }
            }
        if (!role) continue; /* another holder's result: never linked */
        rmark e;
        const char *slug = "unknown";
        if (!verified(rs, c, rows, i, resume && i == from, &e, &slug, request_id, out)) {
            if (out->deferred) { /* a quick pass met a first verification: the full pass goes on here */
                out->resume_row = i;
                return;
            }
            refuse(out, rid, slug, holder, request_id);
            continue;
        }
        /* the row must describe the document it stores (a copied or edited row is refused too) */
        if (strcmp(e.result_id, rid) != 0 || strcmp(e.result_type, col(rows, i, RQ_TYPE)) != 0 ||
            strcmp(e.holder, holder) != 0) {
            refuse(out, rid, "row-does-not-match-signed-document", holder, request_id);
            continue;
        }
        if (e.valid_until[0] && strcmp(e.valid_until, today) < 0) continue; /* expired as signed */
        if (subject && strcmp(e.deceased, subject->pid) != 0) continue;     /* about someone else */
        l->linked = true;
        snprintf(l->result_id, sizeof(l->result_id), "%s", rid);
        snprintf(l->result_type, sizeof(l->result_type), "%s", col(rows, i, RQ_TYPE));
        snprintf(l->issuer_agency, sizeof(l->issuer_agency), "%s", col(rows, i, RQ_AGENCY));
        snprintf(l->issuer_ward, sizeof(l->issuer_ward), "%s", col(rows, i, RQ_WARD));
        snprintf(l->issued_at, sizeof(l->issued_at), "%s", col(rows, i, RQ_ISSUED_AT));
        snprintf(l->holder_role, sizeof(l->holder_role), "%s", role);
        return;
    }
}

/* Step 1 of resolving (pure): declines, and the holders and result types to look up for d, added to
 * the sets pids/types (caps npids/ntypes). false when nothing of d can be reused from the repository. */
static bool prepare(const catalog_proc *p, const dossier_doc *d, const char *const *declined, size_t n_declined,
                    catalog_plan_list *plan, reuse_outcome *out, const char **pids, size_t npids, const char **types,
                    size_t ntypes)
{
    bool any = false;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < plan->count; i++) {
        catalog_plan_item *it = &plan->items[i];
        out->links[i].reusable = it->component->satisfy != CATALOG_SATISFY_UPLOAD;
        if (in_list(declined, n_declined, it->component->code)) {
            out->links[i].declined = true;
            it->how = CATALOG_HOW_UPLOAD; /* the citizen hands it in */
            it->ref[0] = '\0';
            continue;
        }
        if (it->how != CATALOG_HOW_RESULT) continue;
        const char *roles[3];
        size_t nroles = reuse_holder_roles(p, it->component, roles, 3);
        for (size_t r = 0; r < nroles; r++)
            for (size_t nth = 0; nth < DOSSIER_MAX_PERSONS; nth++) {
                const dossier_person *ps = person(d, roles[r], nth);
                if (!ps) break;
                if (ps->pid[0] && add_unique(pids, npids, ps->pid)) any = true;
            }
        add_unique(types, ntypes, it->component->result_type);
    }
    return any;
}

/* Step 2: link from the candidate rows (which may hold other dossiers' holders too: link_item only
 * takes rows of d's own holders), then items left without a result become missing. c NULL: a quick
 * pass that stops, deferred, at the first candidate needing a full verification; the pass with a
 * connection that follows goes on from exactly there, so nothing is looked at or counted twice. */
static void link_all(const struct results_svc *rs, db_conn *c, const catalog_proc *p, const dossier_doc *d,
                     db_rows *rows, const char *today, const char *request_id, catalog_plan_list *plan,
                     reuse_outcome *out)
{
    bool resume = c && out->deferred;
    size_t from = resume ? out->resume_item : 0;
    out->deferred = false;
    for (size_t i = from; rows && i < plan->count; i++) {
        if (plan->items[i].how != CATALOG_HOW_RESULT) continue;
        link_item(rs, c, p, d, rows, today, request_id, &plan->items[i], &out->links[i], out,
                  resume && i == from ? out->resume_row : 0, resume && i == from);
        if (out->deferred) {
            out->resume_item = i;
            return;
        }
    }
    for (size_t i = 0; i < plan->count; i++) {
        catalog_plan_item *it = &plan->items[i];
        if (it->how != CATALOG_HOW_RESULT) continue;
        if (out->links[i].linked) {
            snprintf(it->ref, sizeof(it->ref), "%s", out->links[i].result_id);
        } else { /* nothing valid to link: upload required */
            it->how = CATALOG_HOW_MISSING;
            it->ref[0] = '\0';
        }
    }
}

static bool no_trust(const struct xverify_trust *trust, const char *request_id)
{
    if (trust) return false;
    log_msg(LOG_WARN, "req=%s reuse: no trust anchors loaded, stored results cannot be re-verified: none reused",
            request_id ? request_id : "-");
    return true;
}

mc_err reuse_resolve(const struct results_svc *rs, db_conn *c, const calendar *cal, const catalog_proc *p,
                     const dossier_doc *d, const char *const *declined, size_t n_declined, const char *request_id,
                     catalog_plan_list *plan, reuse_outcome *out)
{
    reuse_request one = {p, d, declined, n_declined, request_id, plan, out};
    return reuse_resolve_many(rs, c, cal, &one, 1);
}

mc_err reuse_fetch_many(const struct results_svc *rs, db_conn *c, const calendar *cal, reuse_request *reqs,
                        size_t n, db_rows **rows, char today[16])
{
    json_t *pids = json_array(), *types = json_array();
    bool any = false;
    mc_err rc = MC_OK;
    *rows = NULL;
    calendar_local_date_text(cal, time(NULL), 0, today, 16);
    for (size_t k = 0; k < n; k++) {
        reuse_request *q = &reqs[k];
        const char *pl[REUSE_SQL_MAX_PIDS] = {NULL}, *tl[REUSE_SQL_MAX_TYPES] = {NULL};
        if (!prepare(q->p, q->d, q->declined, q->n_declined, q->plan, q->out, pl, REUSE_SQL_MAX_PIDS, tl,
                     REUSE_SQL_MAX_TYPES))
            continue;
        any = true;
        for (size_t i = 0; i < REUSE_SQL_MAX_PIDS && pl[i]; i++) json_array_append_new(pids, json_string(pl[i]));
        for (size_t i = 0; i < REUSE_SQL_MAX_TYPES && tl[i]; i++) json_array_append_new(types, json_string(tl[i]));
    }
    if (any && !no_trust(results_api_trust(rs), reqs[0].request_id)) {
        char *pj = json_dumps(pids, JSON_COMPACT), *tj = json_dumps(types, JSON_COMPACT);
        rc = pj && tj ? reuse_sql_candidates(c, pj, tj, today, REUSE_MAX_CANDIDATES, rows) : MC_ERR_NOMEM;
        free(pj);
        free(tj);
    }
    json_decref(pids);
    json_decref(types);
    return rc;
}

void reuse_link_one(const struct results_svc *rs, db_conn *c, reuse_request *req, db_rows *rows,
                    const char *today)
{
    link_all(rs, c, req->p, req->d, rows, today, req->request_id, req->plan, req->out);
}

void reuse_link_none(reuse_request *req)
{
    const char *pl[REUSE_SQL_MAX_PIDS] = {NULL}, *tl[REUSE_SQL_MAX_TYPES] = {NULL};
    prepare(req->p, req->d, req->declined, req->n_declined, req->plan, req->out, pl, REUSE_SQL_MAX_PIDS, tl,
            REUSE_SQL_MAX_TYPES);
    link_all(NULL, NULL, req->p, req->d, NULL, NULL, req->request_id, req->plan, req->out);
}

bool reuse_linked_any(const reuse_outcome *o)
{
    for (size_t i = 0; i < CATALOG_MAX_COMPONENTS; i++)
        if (o->links[i].linked) return true;
    return o->n_refused > 0 || o->deferred;
}

bool reuse_link_quick(const struct results_svc *rs, reuse_request *req, db_rows *rows, const char *today)
{
    link_all(rs, NULL, req->p, req->d, rows, today, req->request_id, req->plan, req->out);
    return !req->out->deferred;
}

mc_err reuse_resolve_many(const struct results_svc *rs, db_conn *c, const calendar *cal, reuse_request *reqs,
                          size_t n)
{
    db_rows *rows = NULL;
    char today[16];
    mc_err rc = reuse_fetch_many(rs, c, cal, reqs, n, &rows, today);
    if (!rc)
        for (size_t k = 0; k < n; k++) reuse_link_one(rs, c, &reqs[k], rows, today);
    db_rows_free(rows);
    return rc;
}

/* ---------------- JSON ---------------- */

static json_t *result_json(const app *a, const char *id, const char *type, const char *ward, const char *agency,
                           const char *issued_at)
{
    json_t *o = json_object(), *iss = json_object();
    json_object_set_new(o, "resultId", json_string(id));
    json_object_set_new(o, "resultType", type ? json_string(type) : json_null());
    json_object_set_new(iss, "ward", ward ? json_string(ward) : json_null());
    json_object_set_new(iss, "agencyId", agency ? json_string(agency) : json_null());
    json_object_set_new(o, "issuer", iss);
    json_object_set_new(o, "issuedAt", reply_local_time(a->cal, issued_at));
    json_object_set_new(o, "href", json_pack("s+", "/v1/results/", id));
    return o;
}

json_t *reuse_item_json(const app *a, const catalog_plan_item *it, const reuse_link *l)
{
    json_t *o = catalog_component_json(it->component), *state = reuse_item_state_json(a, it, l);
    json_object_update(o, state);
    json_decref(state);
    return o;
}

json_t *reuse_item_state_json(const app *a, const catalog_plan_item *it, const reuse_link *l)
{
    json_t *o = json_object();
    json_object_set_new(o, "satisfiedBy", json_string(catalog_how_name(it->how)));
    json_object_set_new(o, "reused", json_boolean(it->how == CATALOG_HOW_POPULATION || l->linked));
    if (l->declined) json_object_set_new(o, "declined", json_true());
    if (it->how == CATALOG_HOW_UPLOAD && it->ref[0]) json_object_set_new(o, "fileRef", json_string(it->ref));
    if (l->linked) {
        json_t *r = result_json(a, l->result_id, l->result_type, l->issuer_ward, l->issuer_agency, l->issued_at);
        json_object_set_new(r, "holder", json_string(l->holder_role));
        json_object_set_new(o, "result", r);
    }
    if (it->how == CATALOG_HOW_MISSING && l->reusable)
        json_object_set_new(o, "uploadRequired", json_true()); /* nothing valid in the repository */
    return o;
}

void reuse_component_params(const catalog_plan_item *it, const reuse_link *l, char *evidence, db_param out[4])
{
    out[0] = out[1] = out[2] = out[3] = db_null();
    if (!l->reusable) return;
    out[0] = db_str(it->component->satisfy == CATALOG_SATISFY_POPULATION ? "population" : "result");
    out[1] = db_i64(it->how == CATALOG_HOW_POPULATION || l->linked);
    if (l->linked) {
        snprintf(evidence, REUSE_EVIDENCE_CAP, "result:%s", l->result_id);
        out[2] = db_str(l->result_id);
        out[3] = db_str(evidence);
    }
}

void reuse_savings_view(db_rows *comps, long declared, long confirmed, json_t *o)
{
    long asked = 0, pop = 0, pending = 0, res = 0, upl = 0, miss = 0;
    for (size_t i = 0; i < db_rows_count(comps); i++) {
        const char *plan = col(comps, i, DP_PLAN);
        bool required = strcmp(col(comps, i, DP_REQUIRED), "1") == 0, reusable = col(comps, i, DP_REUSE_SOURCE);
        bool reused = col(comps, i, DP_REUSED) && strcmp(col(comps, i, DP_REUSED), "1") == 0;
        if (required || strcmp(plan, "missing") != 0 || reusable) asked++;
        if (strcmp(plan, "population") == 0) col(comps, i, DP_SATISFIED_AT) ? pop++ : pending++;
        if (strcmp(plan, "result") == 0 && reused) res++;
        if (strcmp(plan, "upload") == 0) upl++;
        if (strcmp(plan, "missing") == 0 && (required || reusable)) miss++;
    }
    json_t *s = json_object();
    json_object_set_new(s, "componentsAsked", json_integer(asked));
    json_object_set_new(s, "satisfiedWithoutUpload", json_pack("{s:I, s:I, s:I}", "population", (json_int_t)pop,
                                                               "result", (json_int_t)res, "total",
                                                               (json_int_t)(pop + res)));
    json_object_set_new(s, "populationPending", json_integer(pending));
    json_object_set_new(s, "uploaded", json_integer(upl));
    json_object_set_new(s, "missing", json_integer(miss));
    json_object_set_new(s, "shareAvoided", json_real(asked ? (double)(pop + res) / (double)asked : 0.0));
    json_object_set_new(s, "declaredFields", json_integer(declared));
    json_object_set_new(s, "declaredFieldsPrefillable", json_integer(confirmed));
    json_object_set_new(o, "onceOnly", s);
}

void reuse_component_view(const app *a, db_rows *comps, size_t i, json_t *target)
{
    bool reused = col(comps, i, DP_REUSED) && strcmp(col(comps, i, DP_REUSED), "1") == 0;
    const char *rid = col(comps, i, DP_RESULT_ID);
    json_object_set_new(target, "reused", json_boolean(reused));
    if (col(comps, i, DP_REUSE_SOURCE))
        json_object_set_new(target, "reusableFrom", json_string(col(comps, i, DP_REUSE_SOURCE)));
    if (rid) {
        json_t *res = result_json(a, rid, col(comps, i, DP_RESULT_TYPE), col(comps, i, DP_RESULT_WARD),
                                  col(comps, i, DP_RESULT_AGENCY), col(comps, i, DP_ISSUED_AT));
        json_object_set_new(res, "revoked", json_boolean(col(comps, i, DP_REVOKED_AT) != NULL));
        if (col(comps, i, DP_REVOKED_AT))
            json_object_set_new(res, "revokedAt", reply_local_time(a->cal, col(comps, i, DP_REVOKED_AT)));
        json_object_set_new(target, "result", res);
    }
    /* the national sync's per-component flags */
    json_object_set_new(target, "sync", json_pack("{s:i, s:o}", "DuocTaiSuDung", reused ? 1 : 0, "MaKetQuaThayThe",
                                                  rid ? json_string(rid) : json_null()));
}

void reuse_flag_view(const app *a, const char *flag, const char *flagged_at, json_t *o)
{
    if (flag)
        json_object_set_new(o, "reuseFlag",
                            json_pack("{s:s, s:o}", "reason", flag, "flaggedAt", reply_local_time(a->cal, flagged_at)));
}

/* ---------------- preview ---------------- */

/* Audit refusals found outside intake (preview) in their own short transaction. */
static void audit_refusals(http_job *j, db_conn *c, const reuse_outcome *o)
{
    if (!o->n_refused) return;
    audit_entry e[REUSE_MAX_REFUSED];
    for (size_t i = 0; i < o->n_refused; i++)
        e[i] = (audit_entry){.actor_client_id = j->client.id, .role = auth_role_name(j->client.role),
                             .action = "reuse_result_refused", .request_id = j->request_id,
                             .detail = o->refused[i].detail};
    mc_err rc = db_begin(c);
    if (!rc && !(rc = audit_append_many(c, e, o->n_refused))) rc = db_commit(c);
    else if (!rc) db_rollback(c);
    if (rc) log_msg(LOG_WARN, "req=%s reuse: could not audit %zu refused result(s): %s", j->request_id, o->n_refused,
                    mc_err_name(rc));
}

/* Declared person elements whose name, birth date and gender the population record gives. */
static const struct {
    const char *procedure, *elements[2];
} person_elements[] = {
    {"1.001193", {"father", "mother"}}, {"1.000894", {"party", NULL}},     {"1.004873", {"spouse", NULL}},
    {"1.000656", {"deceased", NULL}},   {"2.000635", {"subject", NULL}},   {"1.004222", {"householdHead", NULL}},
};

static json_t *prefill_fields(const catalog_proc *p)
{
    static const char *const applicant[] = {"applicant.fullName", "applicant.birthDate", "applicant.gender",
                                            "applicant.contact.address"};
    static const char *const leaf[] = {"personalId", "fullName", "birthDate", "gender"};
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof(applicant) / sizeof(applicant[0]); i++) json_array_append_new(arr, json_string(applicant[i]));
    for (size_t i = 0; i < sizeof(person_elements) / sizeof(person_elements[0]); i++) {
        if (strcmp(person_elements[i].procedure, p->code) != 0) continue;
        for (size_t e = 0; e < 2 && person_elements[i].elements[e]; e++)
            for (size_t f = 0; f < sizeof(leaf) / sizeof(leaf[0]); f++)
                json_array_append_new(arr, json_pack("s+++", "declaration.", person_elements[i].elements[e], ".",
                                                     leaf[f]));
    }
    return arr;
}

void reuse_api_evidence(http_job *j, db_conn *c)
{
    struct evkeyvalq q;
    struct evkeyval *kv;
    dossier_doc *d = NULL;
    catalog_plan_list *plan = NULL;
    reuse_outcome *o = NULL;
    const char *declined[CATALOG_MAX_COMPONENTS];
    size_t n_declined = 0;
    char why[200];
    if (!http_query(j, &q)) goto out;
    const char *consent = evhttp_find_header(&q, "consent"), *code = evhttp_find_header(&q, "procedure");
    if (!consent || strcmp(consent, "true") != 0) {
        reply_problem(&j->out, MC_ERR_CONSENT_REQUIRED, j->path,
                      "the citizen's consent is required: add consent=true once the citizen agreed", NULL);
        goto out;
    }
    if (!http_digits(j->param, 12, 12)) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path, "the path must carry a 12-digit personal ID", NULL);
        goto out;
    }
    const catalog_proc *p = code ? catalog_find(j->app->cat, code) : NULL;
    if (!p) {
        reply_problem(&j->out, MC_ERR_UNKNOWN_PROCEDURE, j->path, "procedure=<catalog code> is required", NULL);
        goto out;
    }
    if (!(d = calloc(1, sizeof(*d))) || !(plan = calloc(1, sizeof(*plan))) || !(o = malloc(sizeof(*o)))) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        goto out;
    }
    snprintf(d->procedure, sizeof(d->procedure), "%s", p->code);
    snprintf(d->applicant.role, sizeof(d->applicant.role), "applicant");
    snprintf(d->applicant.pid, sizeof(d->applicant.pid), "%.12s", j->param);
    TAILQ_FOREACH(kv, &q, next) {
        bool is_person = strcmp(kv->key, "father") == 0 || strcmp(kv->key, "mother") == 0 ||
                         strcmp(kv->key, "spouse") == 0;
        if (is_person) {
            if (!http_digits(kv->value, 12, 12) || d->n_persons >= DOSSIER_MAX_PERSONS) {
                snprintf(why, sizeof(why), "%.16s must be a 12-digit personal ID", kv->key);
                reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path, why, NULL);
                goto out;
            }
            dossier_person *ps = &d->persons[d->n_persons++];
            snprintf(ps->role, sizeof(ps->role), "%s", kv->key);
            snprintf(ps->pid, sizeof(ps->pid), "%s", kv->value);
        } else if (strcmp(kv->key, "decline") == 0) {
            const catalog_component *cc = catalog_find_component(p, kv->value);
            if (!cc || cc->satisfy == CATALOG_SATISFY_UPLOAD || n_declined >= CATALOG_MAX_COMPONENTS) {
                snprintf(why, sizeof(why), "decline=%.16s is not a reusable component of procedure %s", kv->value,
                         p->code);
                reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path, why, NULL);
                goto out;
            }
            declined[n_declined++] = cc->code;
        }
    }
    /* the plan submission would make for a dossier that asks for every reuse */
    for (size_t i = 0; i < p->n_components; i++) {
        catalog_plan_item *it = &plan->items[i];
        it->component = &p->components[i];
        it->dossier_index = -1;
        it->how = it->component->satisfy == CATALOG_SATISFY_POPULATION ? CATALOG_HOW_POPULATION
                  : it->component->satisfy == CATALOG_SATISFY_RESULT   ? CATALOG_HOW_RESULT
                                                                       : CATALOG_HOW_UPLOAD;
    }
    plan->count = p->n_components;
    mc_err rc = reuse_resolve(j->app->results, c, j->app->cal, p, d, declined, n_declined,
                              j->request_id, plan, o);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not look up the citizen's results", NULL);
        goto out;
    }
    audit_refusals(j, c, o);
    char masked[16];
    long asked = 0, pop = 0, res = 0;
    json_t *body = json_object(), *arr = json_array();
    json_object_set_new(body, "citizen", json_string(pid_mask(j->param, masked, sizeof(masked))));
    json_object_set_new(body, "procedure", catalog_proc_json(p));
    for (size_t i = 0; i < plan->count; i++) {
        const catalog_plan_item *it = &plan->items[i];
        json_array_append_new(arr, reuse_item_json(j->app, it, &o->links[i]));
        if (it->component->required || o->links[i].reusable) asked++;
        if (it->how == CATALOG_HOW_POPULATION) pop++;
        if (o->links[i].linked) res++;
    }
    json_object_set_new(body, "components", arr);
    json_object_set_new(body, "summary", json_pack("{s:I, s:I, s:I, s:I}", "documentsAsked", (json_int_t)asked,
                                                   "byPopulation", (json_int_t)pop, "byResult", (json_int_t)res,
                                                   "uploadsLeft", (json_int_t)(asked - pop - res)));
    json_object_set_new(body, "prefill", json_pack("{s:o, s:s, s:s}", "fields", prefill_fields(p), "source",
                                                   "csdlqg-dancu", "href", "/v1/citizens/{id}/prefill"));
    reply_json(&j->out, 200, body);
out:
    free(o);
    free(plan);
    free(d);
    evhttp_clear_headers(&q);
}

/* ---------------- stats ---------------- */

static long num(db_rows *r, size_t i, size_t c)
{
    const char *v = col(r, i, c);
    return v ? atol(v) : 0;
}

static json_t *stats_json(const char *procedure, const char *name, const long v[ST_PREFILLABLE + 1])
{
    long avoided = v[ST_POPULATION] + v[ST_RESULT];
    json_t *o = json_object();
    json_object_set_new(o, "procedure", json_string(procedure));
    if (name) json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "dossiers", json_integer(v[ST_DOSSIERS]));
    json_object_set_new(o, "componentsAsked", json_integer(v[ST_ASKED]));
    json_object_set_new(o, "satisfiedWithoutUpload",
                        json_pack("{s:I, s:I, s:I}", "population", (json_int_t)v[ST_POPULATION], "result",
                                  (json_int_t)v[ST_RESULT], "total", (json_int_t)avoided));
    json_object_set_new(o, "populationPending", json_integer(v[ST_POPULATION_PENDING]));
    json_object_set_new(o, "uploaded", json_integer(v[ST_UPLOADED]));
    json_object_set_new(o, "missing", json_integer(v[ST_MISSING]));
    json_object_set_new(o, "shareAvoided", json_real(v[ST_ASKED] ? (double)avoided / (double)v[ST_ASKED] : 0.0));
    json_object_set_new(o, "finishedOnTime", json_integer(v[ST_FINISHED_ON_TIME]));
    json_object_set_new(o, "overdue", json_integer(v[ST_OVERDUE]));
    json_object_set_new(o, "reuseFlagged", json_integer(v[ST_FLAGGED]));
    json_object_set_new(o, "declaredFields", json_integer(v[ST_DECLARED]));
    json_object_set_new(o, "declaredFieldsPrefillable", json_integer(v[ST_PREFILLABLE]));
    json_object_set_new(o, "shareDeclaredPrefillable",
                        json_real(v[ST_DECLARED] ? (double)v[ST_PREFILLABLE] / (double)v[ST_DECLARED] : 0.0));
    return o;
}

void reuse_api_stats(http_job *j, db_conn *c)
{
    struct evkeyvalq q;
    db_rows *r = NULL;
    if (!http_query(j, &q)) goto out;
    const char *ward = evhttp_find_header(&q, "ward");
    if (ward && !http_digits(ward, 1, 8)) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path, "ward must be a ward code", NULL);
        goto out;
    }
    if (j->client.role == ROLE_OFFICIAL) {
        if (ward && strcmp(ward, j->client.ward) != 0) {
            reply_problem(&j->out, MC_ERR_FORBIDDEN, j->path, "an official sees its own ward's figures only", NULL);
            goto out;
        }
        ward = j->client.ward;
    }
    mc_err rc = reuse_sql_stats(c, ward, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not compute the figures", NULL);
        goto out;
    }
    long total[ST_PREFILLABLE + 1] = {0};
    json_t *o = json_object(), *arr = json_array();
    for (size_t i = 0; i < db_rows_count(r); i++) {
        long v[ST_PREFILLABLE + 1];
        for (size_t k = ST_DOSSIERS; k <= ST_PREFILLABLE; k++) total[k] += (v[k] = num(r, i, k));
        const catalog_proc *p = catalog_find(j->app->cat, col(r, i, ST_PROCEDURE));
        json_array_append_new(arr, stats_json(col(r, i, ST_PROCEDURE), p ? p->name_en : NULL, v));
    }
    json_object_set_new(o, "ward", ward ? json_string(ward) : json_null());
    json_object_set_new(o, "procedures", arr);
    json_object_set_new(o, "total", stats_json("all", NULL, total));
    reuse_counters k;
    reuse_counters_get(&k);
    /* this process since it started: how stored results were re-verified when reused */
    json_object_set_new(o, "reVerification",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "cacheHits", (json_int_t)k.cache_hits, "marksAccepted",
                                  (json_int_t)k.marks_accepted, "marksStale", (json_int_t)k.marks_stale,
                                  "marksRejected", (json_int_t)k.marks_rejected, "fullVerifications",
                                  (json_int_t)k.full_verifications));
    reply_json(&j->out, 200, o);
out:
    db_rows_free(r);
    evhttp_clear_headers(&q);
}
