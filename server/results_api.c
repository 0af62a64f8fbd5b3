/* results_api.c - the digital-results repository: ward keys and trust loaded once at start, issuing a
 * signed result from a stored dossier (in the caller's transaction), and the HTTP handlers for reading,
 * listing, revoking and publicly verifying results. SQL is in db/results.c, signing in sign.c, the one
 * strict verifier in xverify.c. */
#include "results_api.h"

#include <dirent.h>
#include <sys/queue.h> /* TAILQ_INIT for evkeyvalq */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "audit.h"
#include "dossier_api.h"
#include "calendar.h"
#include "hex.h"
#include "http.h"
#include "dossier_xml.h"
#include "log.h"
#include "pid.h"
#include "results.h"
#include "reuse_sql.h"
#include "rmark.h"
#include "sign.h"
#include "tfmt.h"
#include "xmlsafe.h"
#include "xverify.h"

#define MAX_CANDIDATES 1024      /* certificate files looked at in sign_dir */
#define REASON_MAX 500           /* result.revoked_reason */
#define WHY_CAP 512
#define VERIFY_TYPE_BASE "https://motcua.danang.gov.vn/problems/signature/"

/* The signing key of one ward, chosen at start among its certificates. */
typedef struct ward_key {
    char ward[9];
    char file[64];               /* certificate file name, for logs */
    sign_ctx *master;            /* only ever sign_ctx_dup'ed, never signs itself */
} ward_key;

/* One worker thread's private copies, made on its first signature for each ward. */
typedef struct thread_signers {
    struct thread_signers *next;
    sign_ctx *ctx[RESULTS_MAX_KEYS];
} thread_signers;

struct results_svc {
    xverify_trust *trust;        /* NULL: verification unavailable (trust_why says why) */
    char trust_why[WHY_CAP];
    ward_key keys[RESULTS_MAX_KEYS];
    size_t nkeys;
    char keys_why[WHY_CAP];      /* set when nkeys == 0 */
    pthread_key_t tls;
    bool tls_ok;
    pthread_mutex_t mu;          /* guards threads and the sign_ctx_dup of a master */
    thread_signers *threads;
    auth_limiter *verify_limit;
    size_t verify_max;
    bool marks_on;               /* a mark key and a trust fingerprint: verification marks (rmark.h) */
    rmark_key mark_key;
    unsigned char mark_epoch[32]; /* marks are made and accepted under it: trust fingerprint and key */
};

/* ---------------- start-up: trust and keys ---------------- */

typedef struct candidate {
    char ward[9];
    int gen;                     /* 0 for ward-<w>.crt, n for ward-<w>.<n>.crt */
    time_t not_before, not_after;
    char name[64];
} candidate;

/* "ward-<1..8 digits>[.<1..4 digits>].crt" -> ward, gen. */
static bool parse_cert_name(const char *n, candidate *out)
{
    size_t len = strlen(n), i = 5, w = 0;
    if (len >= sizeof(out->name) || strncmp(n, "ward-", 5) != 0 || len < 10 || strcmp(n + len - 4, ".crt") != 0)
        return false;
    while (i < len - 4 && n[i] >= '0' && n[i] <= '9' && w < 8) out->ward[w++] = n[i++];
    out->ward[w] = '\0';
    if (w == 0) return false;
    out->gen = 0;
    if (i < len - 4) {
        size_t g = 0;
        if (n[i++] != '.') return false;
        while (i < len - 4 && n[i] >= '0' && n[i] <= '9' && g < 4) out->gen = out->gen * 10 + (n[i++] - '0'), g++;
        if (g == 0 || i != len - 4 || out->gen == 0) return false;
    }
    snprintf(out->name, sizeof(out->name), "%s", n);
    return true;
}

static bool cert_window(const char *path, time_t *nb, time_t *na)
{
    FILE *f = fopen(path, "r");
    X509 *x = NULL;
    struct tm a, b;
    bool ok = false;
    if (!f) return false;
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x && ASN1_TIME_to_tm(X509_get0_notBefore(x), &b) == 1 && ASN1_TIME_to_tm(X509_get0_notAfter(x), &a) == 1) {
        *nb = timegm(&b);
        *na = timegm(&a);
        ok = true;
    }
    X509_free(x);
    return ok;
}

/* Preferred first: per ward, the latest notBefore, then the highest generation. */
static int cand_cmp(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    int c = strcmp(a->ward, b->ward);
    if (c) return c;
    if (a->not_before != b->not_before) return a->not_before > b->not_before ? -1 : 1;
    return b->gen - a->gen;
}

/* A key is used only if what it signs verifies under the configured trust (catches a revoked or
 * foreign certificate at start instead of in every result). */
static bool self_check(results_svc *s, sign_ctx *ctx, const char *ward, char *why, size_t whycap)
{
    if (!s->trust) return true;
    sign_result_fields f = {.result_id = "selfcheck", .result_type = "KQ.SELFCHECK", .procedure = "0.000000",
                            .dossier_code = "selfcheck", .issuer_agency_id = ward, .issuer_name = "self-check",
                            .holder_personal_id = "000000000000", .holder_full_name = "self-check",
                            .issued_at = time(NULL)};
    char *xml = NULL;
    size_t len = 0;
    xverify_report *rep = NULL;
    bool ok = false;
    if (sign_result(ctx, &f, time(NULL), &xml, &len, why, whycap)) goto out;
    if (!(rep = malloc(sizeof(*rep)))) {
        snprintf(why, whycap, "out of memory");
        goto out;
    }
    if (xverify_result(s->trust, xml, len, rep) == MC_OK) ok = true;
    else snprintf(why, whycap, "its signature would not verify: %.40s (%.160s)", rep->slug, rep->why);
out:
    free(rep);
    free(xml);
    return ok;
}

static void load_keys(results_svc *s, const char *dir)
{
    DIR *d = opendir(dir);
    candidate *cands = NULL;
    size_t n = 0;
    char path[1100], keypath[1100], why[WHY_CAP];
    time_t now = time(NULL);
    struct dirent *e;
    if (!d) {
        snprintf(s->keys_why, sizeof(s->keys_why), "sign_dir '%.400s' cannot be opened", dir);
        return;
    }
    if (!(cands = calloc(MAX_CANDIDATES, sizeof(*cands)))) {
        snprintf(s->keys_why, sizeof(s->keys_why), "out of memory loading keys");
        goto out;
    }
    while ((e = readdir(d)) && n < MAX_CANDIDATES) {
        candidate c;
        if (!parse_cert_name(e->d_name, &c)) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, c.name);
        if (!cert_window(path, &c.not_before, &c.not_after)) {
            log_msg(LOG_WARN, "results: %s is not a readable PEM certificate; skipped", path);
            continue;
        }
        if (now < c.not_before || now >= c.not_after) {
            log_msg(LOG_INFO, "results: %s is not valid now; not used for signing", c.name);
            continue;
        }
        cands[n++] = c;
    }
    qsort(cands, n, sizeof(*cands), cand_cmp);
    for (size_t i = 0; i < n && s->nkeys < RESULTS_MAX_KEYS; i++) {
        if (s->nkeys && strcmp(s->keys[s->nkeys - 1].ward, cands[i].ward) == 0) continue; /* ward has one */
        sign_ctx *ctx = NULL;
        snprintf(path, sizeof(path), "%s/%s", dir, cands[i].name);
        snprintf(keypath, sizeof(keypath), "%s/%.*s.key", dir, (int)(strlen(cands[i].name) - 4), cands[i].name);
        if (sign_ctx_new(keypath, path, &ctx, why, sizeof(why)) || !self_check(s, ctx, cands[i].ward, why, sizeof(why))) {
            log_msg(LOG_WARN, "results: %s not used: %s", cands[i].name, why);
            sign_ctx_free(ctx);
            continue;
        }
        ward_key *k = &s->keys[s->nkeys++];
        snprintf(k->ward, sizeof(k->ward), "%s", cands[i].ward);
        snprintf(k->file, sizeof(k->file), "%s", cands[i].name);
        k->master = ctx;
        log_msg(LOG_INFO, "results: ward %s signs with %s (cert sha256 %.16s...)", k->ward, k->file,
                sign_ctx_cert_sha256(ctx));
    }
    if (s->nkeys == 0) snprintf(s->keys_why, sizeof(s->keys_why), "no usable ward-<ward>.key/.crt in sign_dir '%.400s'", dir);
out:
    free(cands);
    closedir(d);
}

/* The verification-mark key: missing (or mark_key_file empty) turns marks off, a key file that is
 * there but unfit refuses start-up (config error naming the key). */
static mc_err load_mark_key(results_svc *s, const mc_config *cfg, char *why, size_t whycap)
{
    char kwhy[400] = "";
    mc_err rc = cfg->mark_key_file[0] ? rmark_key_load(cfg->mark_key_file, &s->mark_key, kwhy, sizeof(kwhy))
                                      : MC_ERR_NOT_FOUND;
    if (rc == MC_ERR_NOT_FOUND) {
        log_msg(LOG_WARN, "results: no mark key (mark_key_file %s): verification marks off, every first reuse of a "
                "result after a start is verified in full", cfg->mark_key_file[0] ? cfg->mark_key_file : "empty");
        return MC_OK;
    }
    if (rc) {
        snprintf(why, whycap, "mark_key_file: %s", kwhy);
        return MC_ERR_CONFIG;
    }
    /* the epoch marks are made and accepted under: the trust fingerprint and (a hash of) the key, so a
     * mark of an earlier trust or key is stale (verified in full, quietly), and only a mark that claims
     * the current epoch but does not authenticate is a forgery worth a warning */
    static const char tag[] = "motcua-rmark-epoch-v1";
    unsigned char in[sizeof(tag) + 64]; /* tag, trust fingerprint, SHA-256 of the key */
    unsigned int n = 32;
    memcpy(in, tag, sizeof(tag));
    bool ok = s->trust && xverify_trust_fingerprint(s->trust, in + sizeof(tag)) &&
              EVP_Digest(s->mark_key.k, s->mark_key.len, in + sizeof(tag) + 32, &n, EVP_sha256(), NULL) == 1 &&
              EVP_Digest(in, sizeof(in), s->mark_epoch, &n, EVP_sha256(), NULL) == 1;
    if (!ok) {
        log_msg(LOG_WARN, "results: no trust to make verification marks under: marks off");
        return MC_OK;
    }
    s->marks_on = true;
    char epoch[17];
    hex_encode(s->mark_epoch, 8, epoch);
    /* every motcuad of a deployment should print the same epoch: same anchors, CRL entries and key */
    log_msg(LOG_INFO, "results: verification marks on, epoch %s (mark_key_file %s)", epoch, cfg->mark_key_file);
    return MC_OK;
}

mc_err results_api_svc_new(const mc_config *cfg, results_svc **out, char *why, size_t whycap)
{
    results_svc *s = calloc(1, sizeof(*s));
    char xsd[600], twhy[WHY_CAP] = "";
    if (!s) {
        snprintf(why, whycap, "out of memory");
        return MC_ERR_NOMEM;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_key_create(&s->tls, NULL) != 0) {
        snprintf(why, whycap, "cannot create thread-specific storage");
        results_api_svc_free(s);
        return MC_ERR_INTERNAL;
    }
    s->tls_ok = true;
    s->verify_max = (size_t)cfg->verify_max_bytes;
    if (!(s->verify_limit = auth_limiter_new(cfg->verify_rate_rps, cfg->verify_rate_rps))) {
        snprintf(why, whycap, "out of memory");
        results_api_svc_free(s);
        return MC_ERR_NOMEM;
    }
    snprintf(xsd, sizeof(xsd), "%s/result.xsd", cfg->schemas_dir);
    if (xverify_trust_new(cfg->trust_ca_file, cfg->crl_file[0] ? cfg->crl_file : NULL, xsd, &s->trust, twhy,
                          sizeof(twhy))) {
        snprintf(s->trust_why, sizeof(s->trust_why), "trust anchors not loaded (trust_ca_file/crl_file): %.400s", twhy);
        log_msg(LOG_WARN, "results: %s; POST /v1/verify answers 503", s->trust_why);
    }
    load_keys(s, cfg->sign_dir);
    if (!s->nkeys) log_msg(LOG_WARN, "results: %s; issuing results is unavailable", s->keys_why);
    mc_err rc = load_mark_key(s, cfg, why, whycap);
    if (rc) {
        results_api_svc_free(s);
        return rc;
    }
    *out = s;
    return MC_OK;
}

void results_api_svc_free(results_svc *s)
{
    if (!s) return;
    for (thread_signers *t = s->threads, *next; t; t = next) {
        next = t->next;
        for (size_t i = 0; i < RESULTS_MAX_KEYS; i++) sign_ctx_free(t->ctx[i]);
        free(t);
    }
    for (size_t i = 0; i < s->nkeys; i++) sign_ctx_free(s->keys[i].master);
    if (s->tls_ok) pthread_key_delete(s->tls);
    xverify_trust_free(s->trust);
    auth_limiter_free(s->verify_limit);
    OPENSSL_cleanse(&s->mark_key, sizeof(s->mark_key));
    pthread_mutex_destroy(&s->mu);
    free(s);
}

size_t results_api_svc_wards(const results_svc *s) { return s ? s->nkeys : 0; }

const struct xverify_trust *results_api_trust(const results_svc *s) { return s ? s->trust : NULL; }

const rmark_key *results_api_marks(const results_svc *s, const unsigned char **epoch)
{
    if (!s || !s->marks_on) return NULL;
    *epoch = s->mark_epoch;
    return &s->mark_key;
}

/* Verify the signed bytes xml strictly and, when they pass, store their verification mark (in the
 * caller's transaction, if any). sha: their SHA-256 when the caller has it, else NULL. *marked says
 * whether one was stored; *slug (static) is the verifier's refusal, or "marks-off" when marks are off
 * (then nothing is verified). Errors: database errors, MC_ERR_NOMEM, MC_ERR_INTERNAL. */
static mc_err mark_bytes(const results_svc *s, db_conn *c, const char *xml, size_t len, const unsigned char *sha,
                         bool *marked, const char **slug)
{
    xverify_report *rep = NULL;
    unsigned char own[32], mac[32];
    unsigned int n = 32;
    rmark m;
    mc_err rc = MC_OK;
    *marked = false;
    *slug = "marks-off";
    if (!s || !s->marks_on) return MC_OK;
    if (!(rep = malloc(sizeof(*rep)))) return MC_ERR_NOMEM;
    if (xverify_result(s->trust, xml, len, rep) != MC_OK || rep->reason != XVERIFY_OK) {
        *slug = rep->slug;
        goto out;
    }
    if (!sha) {
        EVP_Digest(xml, len, own, &n, EVP_sha256(), NULL);
        sha = own;
    }
    rmark_from_report(&m, sha, s->mark_epoch, rep);
    if (!rmark_seal(&s->mark_key, &m, mac)) {
        rc = MC_ERR_INTERNAL;
        goto out;
    }
    results_mark_row row = {.sha256 = m.sha, .trust = m.trust, .result_id = m.result_id,
                            .result_type = m.result_type, .holder_pid = m.holder, .valid_until = m.valid_until,
                            .deceased_pid = m.deceased, .mac = mac};
    if (!(rc = results_mark_put(c, &row))) {
        *marked = true;
        *slug = "ok";
    }
out:
    free(rep);
    return rc;
}

mc_err results_api_mark_all(const results_svc *s, db_conn *c, bool missing_only, long *seen, long *marked,
                            long *refused)
{
    db_rows *r = NULL;
    uint64_t after = 0;
    mc_err rc = MC_OK;
    *seen = *marked = *refused = 0;
    if (!s || !s->marks_on) return MC_ERR_RESULTS_UNAVAILABLE;
    for (;;) { /* a page per transaction: an interrupted run keeps what it marked */
        if ((rc = results_page_bytes(c, after, missing_only ? s->mark_epoch : NULL, 200, &r)) ||
            db_rows_count(r) == 0)
            break;
        if ((rc = db_begin(c))) break;
        for (size_t i = 0; i < db_rows_count(r) && !rc; i++) {
            size_t len = 0;
            const char *xml = db_rows_get(r, i, 2, &len), *slug = NULL;
            bool ok = false;
            after = strtoull(db_rows_get(r, i, 0, NULL), NULL, 10);
            (*seen)++;
            if ((rc = mark_bytes(s, c, xml, len, NULL, &ok, &slug))) break;
            if (ok) (*marked)++;
            else {
                (*refused)++;
                log_msg(LOG_WARN, "result mark: stored result %s refused by the strict verifier (%s): not marked",
                        db_rows_get(r, i, 1, NULL), slug);
            }
        }
        rc = rc ? rc : db_commit(c);
        if (rc) db_rollback(c);
        db_rows_free(r);
        r = NULL;
        if (rc) break;
    }
    db_rows_free(r);
    return rc;
}

/* The calling thread's signing context for key k, made once per thread with sign_ctx_dup. */
static sign_ctx *thread_signer(results_svc *s, size_t k, char *why, size_t whycap)
{
    thread_signers *t = pthread_getspecific(s->tls);
    if (!t) {
        if (!(t = calloc(1, sizeof(*t)))) {
            snprintf(why, whycap, "out of memory");
            return NULL;
        }
        pthread_mutex_lock(&s->mu);
        t->next = s->threads; /* owned by s from here on: freed in results_api_svc_free */
        s->threads = t;
        pthread_mutex_unlock(&s->mu);
        if (pthread_setspecific(s->tls, t) != 0) {
            snprintf(why, whycap, "cannot set thread-specific storage");
            return NULL;
        }
    }
    if (!t->ctx[k]) {
        pthread_mutex_lock(&s->mu);
        mc_err rc = sign_ctx_dup(s->keys[k].master, &t->ctx[k], why, whycap);
        pthread_mutex_unlock(&s->mu);
        if (rc) return NULL;
    }
    return t->ctx[k];
}

/* ---------------- issuing ---------------- */

#define FIELD_NAME_CAP 128

typedef struct content {
    char names[SIGN_MAX_FIELDS][FIELD_NAME_CAP];
    char values[SIGN_MAX_FIELDS][SIGN_MAX_TEXT];
    sign_field fields[SIGN_MAX_FIELDS];
    size_t n;
} content;

/* Text of a leaf with runs of whitespace folded to one space and trimmed (sign_result refuses
 * control characters; the stored dossier may be pretty-printed). false if it does not fit. */
static bool fold_text(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    bool space = false;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = o > 0;
            continue;
        }
        if (space) {
            if (o + 1 >= cap) return false;
            out[o++] = ' ';
            space = false;
        }
        if (o + 1 >= cap) return false;
        out[o++] = (char)*p;
    }
    out[o] = '\0';
    return true;
}

/* Every leaf element under node becomes a field named by its path ("child.fullName"). */
static mc_err walk_leaves(xmlNodePtr node, const char *prefix, content *ct, char *why, size_t whycap)
{
    for (xmlNodePtr n = node->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        char name[FIELD_NAME_CAP];
        int w = snprintf(name, sizeof(name), "%s%s%s", prefix, prefix[0] ? "." : "", (const char *)n->name);
        if (w < 0 || (size_t)w >= sizeof(name)) {
            snprintf(why, whycap, "content field name too long under '%s'", prefix);
            return MC_ERR_BAD_REQUEST;
        }
        bool leaf = true;
        for (xmlNodePtr k = n->children; k; k = k->next)
            if (k->type == XML_ELEMENT_NODE) leaf = false;
        if (!leaf) {
            mc_err rc = walk_leaves(n, name, ct, why, whycap);
            if (rc) return rc;
            continue;
        }
        xmlChar *txt = xmlNodeGetContent(n);
        if (!txt) return MC_ERR_NOMEM;
        bool fits = ct->n < SIGN_MAX_FIELDS && fold_text((const char *)txt, ct->values[ct->n], SIGN_MAX_TEXT);
        xmlFree(txt);
        if (!fits) {
            snprintf(why, whycap, "content field '%s' is too long or there are more than %d", name, SIGN_MAX_FIELDS);
            return MC_ERR_BAD_REQUEST;
        }
        if (!ct->values[ct->n][0]) continue;
        memcpy(ct->names[ct->n], name, sizeof(name));
        ct->fields[ct->n] = (sign_field){ct->names[ct->n], ct->values[ct->n]};
        ct->n++;
    }
    return MC_OK;
}

/* The <declaration> leaves of the stored dossier XML (already validated at intake). */
static mc_err dossier_content(const char *body, size_t len, content *ct, char *why, size_t whycap)
{
    xmlDocPtr doc = NULL;
    mc_err rc = xmlsafe_parse(body, len, NULL, &doc, why, whycap);
    if (rc) return rc == MC_ERR_NOMEM ? rc : MC_ERR_INTERNAL; /* it parsed at intake: this is our fault */
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST "declaration") == 0 && n->ns &&
            xmlStrcmp(n->ns->href, BAD_CAST DOSSIER_XML_NS) == 0) {
            rc = walk_leaves(n, "", ct, why, whycap);
            break;
        }
    xmlFreeDoc(doc);
    return rc;
}

static const ward_key *find_key(const results_svc *s, const char *ward, size_t *idx)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].ward, ward) == 0) {
            *idx = i;
            return &s->keys[i];
        }
    return NULL;
}

/* The last local date the result of proc issued at t is valid, into buf ("YYYY-MM-DD"), or NULL when
 * the catalog sets no end (e.g. a marital status confirmation: 6 months from its issue date, Decree
 * 123/2015/ND-CP art. 23). */
static const char *valid_until_of(const catalog_proc *proc, const calendar *cal, time_t t, char *buf, size_t cap)
{
    if (!proc->result_valid_months) return NULL;
    calendar_local_date_text(cal, t, proc->result_valid_months, buf, cap);
    return buf;
}

mc_err results_api_issue(results_svc *s, const catalog *cat, const calendar *cal, db_conn *c, const char *dossier_code,
                         char *result_id, size_t cap, char *why, size_t whycap)
{
    db_rows *d = NULL;
    content *ct = NULL;
    char *xml = NULL;
    size_t xml_len = 0, k = 0, body_len = 0;
    char rid[RESULTS_ID_CAP], issued[32], signed_db[32], valid_until[16];
    unsigned char sha[32];
    mc_err rc;
    if (!s || !s->nkeys) {
        snprintf(why, whycap, "%s", s ? s->keys_why : "results are not configured");
        return MC_ERR_RESULTS_UNAVAILABLE;
    }
    if ((rc = results_dossier_source(c, dossier_code, &d))) {
        snprintf(why, whycap, "cannot read dossier %s", dossier_code);
        goto out;
    }
    if (db_rows_count(d) == 0) {
        snprintf(why, whycap, "no dossier %s", dossier_code);
        rc = MC_ERR_NOT_FOUND;
        goto out;
    }
    const char *proc_code = db_rows_get(d, 0, RS_PROCEDURE, NULL), *ward = db_rows_get(d, 0, RS_WARD, NULL);
    const catalog_proc *proc = catalog_find(cat, proc_code);
    const catalog_unit *unit = catalog_find_unit(cat, ward);
    if (!proc || !proc->result_type[0]) {
        snprintf(why, whycap, "procedure %s has no result type in the catalog", proc_code);
        rc = MC_ERR_UNKNOWN_PROCEDURE;
        goto out;
    }
    if (!unit) {
        snprintf(why, whycap, "ward %s is not in units.json", ward);
        rc = MC_ERR_UNKNOWN_UNIT;
        goto out;
    }
    if (!find_key(s, ward, &k)) {
        snprintf(why, whycap, "no signing key for ward %s in sign_dir", ward);
        rc = MC_ERR_RESULTS_UNAVAILABLE;
        goto out;
    }
    uint64_t dossier_id = strtoull(db_rows_get(d, 0, RS_ID, NULL), NULL, 10);
    long total = atol(db_rows_get(d, 0, RS_RESULTS, NULL)), active = atol(db_rows_get(d, 0, RS_ACTIVE, NULL));
    if (active > 0) {
        snprintf(why, whycap, "dossier %s already has a result that is not revoked", dossier_code);
        rc = MC_ERR_CONFLICT;
        goto out;
    }
    int w = total ? snprintf(rid, sizeof(rid), "KQ-%s-%ld", dossier_code, total + 1)
                  : snprintf(rid, sizeof(rid), "KQ-%s", dossier_code);
    if (w < 0 || (size_t)w >= sizeof(rid) || (size_t)w >= cap) {
        snprintf(why, whycap, "result id for %s too long", dossier_code);
        rc = MC_ERR_INTERNAL;
        goto out;
    }
    if (!(ct = calloc(1, sizeof(*ct)))) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    const char *body = db_rows_get(d, 0, RS_BODY, &body_len);
    if ((rc = dossier_content(body, body_len, ct, why, whycap))) goto out;
    sign_ctx *sc = thread_signer(s, k, why, whycap);
    if (!sc) {
        rc = MC_ERR_INTERNAL;
        goto out;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    sign_result_fields f = {.result_id = rid, .result_type = proc->result_type, .procedure = proc->code,
                            .dossier_code = dossier_code, .issuer_agency_id = ward, .issuer_name = unit->name,
                            .holder_personal_id = db_rows_get(d, 0, RS_PID, NULL),
                            .holder_full_name = db_rows_get(d, 0, RS_NAME, NULL), .content = ct->fields,
                            .content_count = ct->n, .issued_at = tv.tv_sec,
                            .valid_until = valid_until_of(proc, cal, tv.tv_sec, valid_until, sizeof(valid_until))};
    if ((rc = sign_result(sc, &f, tv.tv_sec, &xml, &xml_len, why, whycap))) goto out;
    unsigned int shalen = sizeof(sha);
    EVP_Digest(xml, xml_len, sha, &shalen, EVP_sha256(), NULL);
    tfmt_db(tv.tv_sec, tv.tv_usec, issued, sizeof(issued));
    tfmt_db(tv.tv_sec, 0, signed_db, sizeof(signed_db));
    signed_db[19] = '\0'; /* whole seconds, as the signingTime */
    results_row row = {.result_id = rid, .result_type = proc->result_type, .procedure = proc->code,
                       .holder_pid = f.holder_personal_id, .dossier_id = dossier_id, .dossier_code = dossier_code,
                       .issuer_agency = unit->agency_id, .issuer_ward = ward,
                       .signer_cert_sha256 = sign_ctx_cert_sha256(sc), .issued_at = issued, .signed_at = signed_db,
                       .valid_until = f.valid_until, .xml = xml, .xml_len = xml_len, .sha256 = sha};
    if ((rc = results_insert(c, &row, NULL))) {
        snprintf(why, whycap, rc == MC_ERR_CONFLICT ? "result %s exists already" : "cannot store result %s", rid);
        goto out;
    }
    /* the strict verifier's verdict on the bytes just signed, kept as their mark: reusing the result later
     * (in any process, after any restart) need not verify it again under the same trust */
    bool marked = false;
    const char *slug = NULL;
    if ((rc = mark_bytes(s, c, xml, xml_len, sha, &marked, &slug))) {
        snprintf(why, whycap, "cannot store the verification mark of result %s", rid);
        goto out;
    }
    if (!marked && s->marks_on)
        log_msg(LOG_WARN, "result %s signed with the key of ward %s fails the strict verifier (%s): not marked; "
                "check trust_ca_file and crl_file against sign_dir", rid, ward, slug);
    snprintf(result_id, cap, "%s", rid);
out:
    free(xml);
    free(ct);
    db_rows_free(d);
    return rc;
}

/* ---------------- HTTP ---------------- */

static const char *col(db_rows *r, size_t row, size_t c) { return db_rows_get(r, row, c, NULL); }

/* Officials: every result; portal/national: results of dossiers they submitted. */
static bool visible(const http_job *j, db_rows *r, size_t i)
{
    if (j->client.role == ROLE_OFFICIAL) return true;
    if (j->client.role == ROLE_PORTAL || j->client.role == ROLE_NATIONAL)
        return strtoull(col(r, i, RC_SUBMITTER), NULL, 10) == j->client.id;
    return false;
}

static json_t *summary_json(const http_job *j, db_rows *r, size_t i)
{
    char masked[16];
    json_t *o = json_object(), *iss = json_object();
    json_object_set_new(o, "resultId", json_string(col(r, i, RC_RESULT_ID)));
    json_object_set_new(o, "resultType", json_string(col(r, i, RC_TYPE)));
    json_object_set_new(o, "procedure", json_string(col(r, i, RC_PROCEDURE)));
    json_object_set_new(o, "dossierCode", json_string(col(r, i, RC_DOSSIER_CODE)));
    json_object_set_new(o, "holder", json_string(pid_mask(col(r, i, RC_HOLDER), masked, sizeof(masked))));
    json_object_set_new(iss, "ward", json_string(col(r, i, RC_WARD)));
    json_object_set_new(iss, "agencyId", json_string(col(r, i, RC_AGENCY)));
    json_object_set_new(o, "issuer", iss);
    json_object_set_new(o, "issuedAt", reply_local_time(j->app->cal, col(r, i, RC_ISSUED_AT)));
    json_object_set_new(o, "signedAt", reply_local_time(j->app->cal, col(r, i, RC_SIGNED_AT)));
    json_object_set_new(o, "validUntil", col(r, i, RC_VALID_UNTIL) ? json_string(col(r, i, RC_VALID_UNTIL)) : json_null());
    json_object_set_new(o, "signerCertSha256", json_string(col(r, i, RC_CERT)));
    json_object_set_new(o, "revoked", json_boolean(col(r, i, RC_REVOKED_AT) != NULL));
    if (col(r, i, RC_REVOKED_AT)) {
        json_object_set_new(o, "revokedAt", reply_local_time(j->app->cal, col(r, i, RC_REVOKED_AT)));
        json_object_set_new(o, "revocationReason", json_string(col(r, i, RC_REVOKED_REASON)));
    }
    json_object_set_new(o, "href", json_pack("s+", "/v1/results/", col(r, i, RC_RESULT_ID)));
    return o;
}

/* Load the result named by the path and check scope; on failure j->out is set and NULL returned. */
static db_rows *load_visible(http_job *j, db_conn *c)
{
    db_rows *r = NULL;
    mc_err rc = results_get(c, j->param, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the result", NULL);
        return NULL;
    }
    if (db_rows_count(r) == 0 || !visible(j, r, 0)) {
        db_rows_free(r);
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no result with this id is visible to this client", NULL);
        return NULL;
    }
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", col(r, 0, RC_DOSSIER_CODE));
    return r;
}

void results_api_get(http_job *j, db_conn *c)
{
    db_rows *r = load_visible(j, c);
    size_t len = 0;
    if (!r) return;
    char what[RESULTS_ID_CAP + 16];
    snprintf(what, sizeof(what), "GET result %s", col(r, 0, RC_RESULT_ID));
    mc_err rc = dossier_api_audit_read(j, c, col(r, 0, RC_DOSSIER_CODE), what); /* it names and dates the holder */
    if (rc) {
        reply_problem(&j->out, rc, j->path, "the read could not be audited, so the result is not sent", NULL);
        goto out;
    }
    const char *xml = db_rows_get(r, 0, RC_XML, &len);
    char *body = malloc(len + 1);
    if (!body) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        goto out;
    }
    memcpy(body, xml, len);
    body[len] = '\0';
    reply_clear(&j->out); /* the signed bytes, exactly as stored */
    j->out.status = 200;
    j->out.err = MC_OK;
    j->out.ctype = "application/xml";
    j->out.body = body;
    j->out.len = len;
out:
    db_rows_free(r);
}

static bool code_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '.' || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* An official learns which results a named citizen holds: one read_personal_data row per result on
 * the page, each naming the result and its dossier (so "who looked at this citizen's results" is
 * answerable from the dossiers), no part of the personal ID; committed before the page is sent. */
static mc_err audit_listed(http_job *j, db_conn *c, db_rows *r, size_t n)
{
    audit_entry e[RESULTS_PAGE_MAX];
    char detail[RESULTS_PAGE_MAX][RESULTS_ID_CAP + 16];
    for (size_t i = 0; i < n; i++) {
        snprintf(detail[i], sizeof(detail[i]), "listed result %s", col(r, i, RC_RESULT_ID));
        e[i] = dossier_api_read_entry(j, col(r, i, RC_DOSSIER_CODE), detail[i]);
    }
    return audit_append_own(c, e, n);
}

void results_api_list(http_job *j, db_conn *c)
{
    struct evkeyvalq q;
    db_rows *r = NULL;
    if (!http_query(j, &q)) goto out;
    const char *holder = evhttp_find_header(&q, "holder"), *type = evhttp_find_header(&q, "type");
    const char *limit_s = evhttp_find_header(&q, "limit"), *after_s = evhttp_find_header(&q, "after");
    if (!holder || !http_digits(holder, 12, 12)) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "holder=<12-digit personal ID> is required", NULL);
        goto out;
    }
    if (type && !code_ok(type, 32)) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "type must be a result type code such as KQ.G15.000031",
                      NULL);
        goto out;
    }
    long limit = RESULTS_PAGE_DEFAULT;
    if (limit_s) {
        limit = http_digits(limit_s, 1, 3) ? atol(limit_s) : 0;
        if (limit < 1 || limit > RESULTS_PAGE_MAX) {
            reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "limit must be 1..100", NULL);
            goto out;
        }
    }
    if (after_s && !http_digits(after_s, 1, 19)) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "after must be the 'next' value of a previous page", NULL);
        goto out;
    }
    uint64_t submitter = j->client.role == ROLE_OFFICIAL ? 0 : j->client.id;
    mc_err rc = results_list(c, holder, type, submitter, after_s ? strtoull(after_s, NULL, 10) : 0, limit + 1, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not list results", NULL);
        goto out;
    }
    size_t n = db_rows_count(r);
    if (n > 0 && j->client.role == ROLE_OFFICIAL && (rc = audit_listed(j, c, r, n < (size_t)limit ? n : (size_t)limit))) {
        reply_problem(&j->out, rc, j->path, "the read could not be audited, so the list is not sent", NULL);
        goto out;
    }
    json_t *o = json_object(), *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++) json_array_append_new(arr, summary_json(j, r, i));
    json_object_set_new(o, "results", arr);
    json_object_set_new(o, "next", n > (size_t)limit ? json_string(col(r, (size_t)limit - 1, RC_ID)) : json_null());
    reply_json(&j->out, 200, o);
out:
    db_rows_free(r);
    evhttp_clear_headers(&q);
}

void results_api_revoke(http_job *j, db_conn *c)
{
    db_rows *r = NULL, *after = NULL;
    json_t *in = NULL;
    uint64_t affected = 0;
    mc_err rc = results_get(c, j->param, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the result", NULL);
        goto out;
    }
    if (db_rows_count(r) == 0 || !j->client.ward[0] || strcmp(col(r, 0, RC_WARD), j->client.ward) != 0) {
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no result with this id was issued by this client's ward",
                      NULL);
        goto out;
    }
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", col(r, 0, RC_DOSSIER_CODE));
    json_error_t jerr;
    in = j->body ? json_loadb(j->body, j->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(in)) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "send a JSON object {\"reason\": \"...\"}", NULL);
        goto out;
    }
    json_t *jr = json_object_get(in, "reason");
    const char *reason = json_is_string(jr) ? json_string_value(jr) : NULL;
    char folded[REASON_MAX * 4 + 1];
    if (!reason || !fold_text(reason, folded, sizeof(folded)) || !folded[0] || json_string_length(jr) > REASON_MAX * 4 ||
        strlen(folded) > REASON_MAX) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path,
                      "'reason' is required: a non-empty string of at most 500 bytes", NULL);
        goto out;
    }
    if (col(r, 0, RC_REVOKED_AT)) {
        reply_problem(&j->out, MC_ERR_CONFLICT, j->path, "the result is already revoked", NULL);
        goto out;
    }
    /* the revocation and its audit row commit together (the reason stays in the result row: free text
     * may carry personal data, the audit detail must not) */
    char detail[RESULTS_ID_CAP + 64], note[RESULTS_ID_CAP + 160];
    uint64_t flagged = 0;
    audit_entry ae = {.actor_client_id = j->client.id, .role = "official", .ward = j->client.ward,
                      .action = "revoke_result", .dossier_code = col(r, 0, RC_DOSSIER_CODE),
                      .request_id = j->request_id, .detail = detail};
    /* dossiers that reused this result are flagged for their officials in the same transaction */
    snprintf(note, sizeof(note), "reused result %s was revoked after submission: check the component again",
             j->param);
    if (!(rc = db_begin(c))) {
        rc = results_revoke(c, j->param, folded, j->client.id, &affected);
        if (!rc && affected) rc = reuse_sql_flag_revoked(c, j->param, j->client.id, note, j->request_id, &flagged);
        if (flagged)
            snprintf(detail, sizeof(detail), "result %s; dossiers that reused it flagged: %llu", j->param,
                     (unsigned long long)flagged);
        else
            snprintf(detail, sizeof(detail), "result %s", j->param);
        if (!rc && affected) rc = audit_append(c, &ae);
        if (!rc) rc = db_commit(c);
        else db_rollback(c);
    }
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not revoke the result; nothing changed", NULL);
        goto out;
    }
    if (affected == 0) { /* revoked concurrently */
        reply_problem(&j->out, MC_ERR_CONFLICT, j->path, "the result is already revoked", NULL);
        goto out;
    }
    if ((rc = results_get(c, j->param, &after)) || db_rows_count(after) == 0) {
        reply_problem(&j->out, rc ? rc : MC_ERR_INTERNAL, j->path, "revoked, but could not read it back", NULL);
        goto out;
    }
    log_msg(LOG_INFO, "req=%s result %s revoked by client %llu", j->request_id, j->param,
            (unsigned long long)j->client.id);
    reply_json(&j->out, 200, summary_json(j, after, 0));
out:
    json_decref(in);
    db_rows_free(after);
    db_rows_free(r);
}

static bool xml_content_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return (n == 15 && strncasecmp(ct, "application/xml", 15) == 0) || (n == 8 && strncasecmp(ct, "text/xml", 8) == 0);
}

/* Is the verified document the one in the repository? Same result id, same signer certificate and
 * same signing time: a ward key signs a result id once, so that names one signing. */
static mc_err repository_match(db_conn *c, const xverify_report *rep, db_rows **row)
{
    db_rows *r = NULL;
    mc_err rc = results_get(c, rep->result_id, &r);
    if (rc) return rc;
    if (db_rows_count(r) == 1 && strcmp(col(r, 0, RC_CERT), rep->cert_sha256) == 0 &&
        tfmt_db_parse(col(r, 0, RC_SIGNED_AT)) == rep->signing_time) {
        *row = r;
        return MC_OK;
    }
    db_rows_free(r);
    return MC_OK;
}

void results_api_verify(http_job *j, db_conn *c)
{
    results_svc *s = j->app->results;
    xverify_report *rep = NULL;
    db_rows *row = NULL;
    char masked[16];
    if (!s || !s->trust) {
        reply_problem(&j->out, MC_ERR_RESULTS_UNAVAILABLE, j->path,
                      s ? s->trust_why : "results are not configured on this server", NULL);
        return;
    }
    if (!auth_limiter_take(s->verify_limit, j->peer)) {
        j->out.retry_after = 1;
        reply_problem(&j->out, MC_ERR_RATE_LIMITED, j->path, "verification rate over this client address's limit",
                      NULL);
        return;
    }
    if (!xml_content_type(j->content_type)) {
        reply_problem(&j->out, MC_ERR_MEDIA_TYPE, j->path, "send the result as Content-Type: application/xml", NULL);
        return;
    }
    if (j->body_len > s->verify_max) {
        char d[96];
        snprintf(d, sizeof(d), "a result of at most %zu bytes is accepted", s->verify_max);
        reply_problem(&j->out, MC_ERR_TOO_LARGE, j->path, d, NULL);
        return;
    }
    if (!(rep = malloc(sizeof(*rep)))) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        return;
    }
    mc_err rc = xverify_result(s->trust, j->body ? j->body : "", j->body_len, rep);
    if (rc == MC_ERR_XML_MALFORMED || rc == MC_ERR_XML_FORBIDDEN || rc == MC_ERR_INTERNAL || rc == MC_ERR_NOMEM) {
        /* not a result document at all: a client error (or ours), not an answer about a signature */
        reply_problem(&j->out, rc, j->path, rep->why,
                      json_pack("{s:s, s:s+}", "slug", rep->slug, "reason", VERIFY_TYPE_BASE, rep->slug));
        goto out;
    }
    bool valid = rc == MC_OK && rep->reason == XVERIFY_OK;
    if (valid && (rc = repository_match(c, rep, &row))) {
        reply_problem(&j->out, rc, j->path, "could not look the result up in the repository", NULL);
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "valid", json_boolean(valid));
    json_object_set_new(o, "reason", valid ? json_null() : json_pack("s+", VERIFY_TYPE_BASE, rep->slug));
    json_object_set_new(o, "slug", json_string(rep->slug));
    json_object_set_new(o, "why", json_string(rep->why[0] ? rep->why : (valid ? "every rule holds" : rep->slug)));
    json_object_set_new(o, "inRepository", json_boolean(row != NULL));
    json_object_set_new(o, "revoked", json_boolean(row && col(row, 0, RC_REVOKED_AT)));
    if (row && col(row, 0, RC_REVOKED_AT)) {
        json_object_set_new(o, "revokedAt", reply_local_time(j->app->cal, col(row, 0, RC_REVOKED_AT)));
        json_object_set_new(o, "revocationReason", json_string(col(row, 0, RC_REVOKED_REASON)));
    }
    if (valid) {
        json_t *iss = json_object();
        json_object_set_new(o, "resultId", json_string(rep->result_id));
        json_object_set_new(o, "resultType", json_string(rep->result_type));
        json_object_set_new(o, "dossierCode", json_string(rep->dossier_code));
        json_object_set_new(o, "holder", json_string(pid_mask(rep->holder_personal_id, masked, sizeof(masked))));
        json_object_set_new(iss, "agencyId", json_string(rep->issuer_agency_id));
        json_object_set_new(iss, "name", json_string(rep->issuer_name));
        json_object_set_new(o, "issuer", iss);
        json_object_set_new(o, "signedAt", json_string(rep->signing_time_text));
        json_object_set_new(o, "signerSubject", json_string(rep->cert_subject));
    } else {
        json_object_set_new(o, "resultId", json_null());
        json_object_set_new(o, "resultType", json_null());
        json_object_set_new(o, "holder", json_null());
        json_object_set_new(o, "issuer", json_null());
        json_object_set_new(o, "signedAt", json_null());
    }
    json_object_set_new(o, "signerCertSha256", rep->cert_sha256[0] ? json_string(rep->cert_sha256) : json_null());
    reply_json(&j->out, 200, o);
out:
    db_rows_free(row);
    free(rep);
}
