/* intake.c - dossier intake. Everything that can refuse a dossier runs first, on the request's worker,
 * so a refusal changes nothing. The worker then hands the dossier (and its request's pool job,
 * db_pool_defer) to the writer and goes on to the next request. The writer thread, with its own
 * connection, takes every dossier waiting at that moment (up to BATCH_MAX) as a batch - group commit.
 * Phase 1: one reuse candidate query for the batch; members whose candidates need a full verification
 * are linked by pool workers on their connections, in parallel. Phase 2, one transaction: one sequence
 * bump per agency and day (first: it orders concurrent batches of other processes), the codes spliced
 * into the receipts, one array-bound INSERT per table (dossiers, idempotency keys, components, named
 * persons, first history rows), the audit rows, COMMIT. Then the writer answers each request and ends
 * its job, and the loop thread sends the answers. A batch costs the same dozen round trips whatever its
 * size. A batch that fails on a duplicate key (an Idempotency-Key twin) is rolled back and its dossiers
 * are written one by one. */
#include "intake.h"

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "audit.h"
#include "dossier_xml.h"
#include "dossiers.h"
#include "log.h"
#include "pid.h"
#include "results_api.h"
#include "reuse.h"
#include "reuse_sql.h"
#include "tfmt.h"

#define STATE_SUBMITTED "submitted"
#define NATIONAL_NEW 1
#define CHANNEL_ONLINE 2
#define TXN_ATTEMPTS 8
#define CODE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_"

/* Everything the transaction needs, decided before it starts. */
typedef struct {
    const catalog_proc *proc;
    const catalog_unit *unit;
    dossier_doc doc;
    catalog_plan_list plan;
    unsigned char sha[32];
    time_t received;
    long received_us;
    bool has_due;
    time_t due;
    reuse_outcome reuse;     /* once-only: what was linked, what was refused (reuse.h) */
    size_t declared;         /* declared fields (dossier_xml_declared_fields) */
    /* filled by the writer */
    const char *source;
    char code[64];
    char received_db[32], due_db[32], gender[2]; /* the dossier row's formatted values */
    char *receipt_body;      /* the receipt but its code (receipt_body) */
    char *receipt;           /* the 201 body, also stored with its Idempotency-Key for replays */
} intake_ctx;

#define IDEM_KEY_MAX 128 /* idempotency_key.idem_key */

/* Absent (empty) or 1..128 visible ASCII characters. */
static bool idem_key_ok(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if (k[n] < 0x21 || k[n] > 0x7e) return false;
    return n <= IDEM_KEY_MAX;
}

static bool content_type_ok(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return (n == 15 && strncasecmp(ct, "application/xml", 15) == 0) || (n == 8 && strncasecmp(ct, "text/xml", 8) == 0);
}

/* o's members - its compact JSON without the braces - to f (o stolen); false when out of memory. */
static bool put_members(FILE *f, json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (n > 2) fwrite(s + 1, 1, n - 2, f);
    free(s);
    json_decref(o);
    return s != NULL;
}

/* The receipt without its code, "{...}": built on the dossier's own thread before the transaction,
 * so the batch's writer only splices the code in (receipt_with_code). The catalog's parts (procedure,
 * receiving unit, each component's names) were rendered once at start (catalog.h); the parts that
 * depend on the dossier are rendered here, every value by jansson, and the members joined. */
static char *receipt_body(const app *a, const intake_ctx *x)
{
    char t[40], masked[16], *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) return NULL;
    json_t *o = json_object(), *ap = json_object(), *ct = json_object();
    json_object_set_new(ap, "personalId", json_string(pid_mask(x->doc.applicant.pid, masked, sizeof(masked))));
    json_object_set_new(ap, "fullName", json_string(x->doc.applicant.full_name));
    if (x->doc.phone[0]) json_object_set_new(ct, "phone", json_string(x->doc.phone));
    if (x->doc.email[0]) json_object_set_new(ct, "email", json_string(x->doc.email));
    if (x->doc.address[0]) json_object_set_new(ct, "address", json_string(x->doc.address));
    json_object_set_new(ap, "contact", ct);
    json_object_set_new(o, "applicant", ap);
    json_object_set_new(o, "channel", json_integer(CHANNEL_ONLINE));
    json_object_set_new(o, "source", json_string(x->source));
    calendar_format_local(a->cal, x->received, t, sizeof(t));
    json_object_set_new(o, "receivedAt", json_string(t));
    if (x->has_due) {
        calendar_format_local(a->cal, x->due, t, sizeof(t));
        json_object_set_new(o, "dueAt", json_string(t));
    } else {
        json_object_set_new(o, "dueAt", json_null());
        json_object_set_new(o, "note", json_string("Không có thời hạn trả kết quả cố định / no fixed return date"));
    }
    json_object_set_new(o, "state", json_string(STATE_SUBMITTED));
    json_object_set_new(o, "nationalStatus", json_integer(NATIONAL_NEW));
    fprintf(f, "{\"procedure\":%s,\"receivingUnit\":%s,", x->proc->json, x->unit->json);
    bool ok = put_members(f, o);
    fputs(",\"components\":[", f);
    for (size_t i = 0; i < x->plan.count; i++) { /* population / result / upload / missing (reuse.h) */
        fprintf(f, "%s{%s,", i ? "," : "", x->plan.items[i].component->json_members);
        ok = put_members(f, reuse_item_state_json(a, &x->plan.items[i], &x->reuse.links[i])) && ok;
        fputc('}', f);
    }
    fputs("]}", f);
    ok = !ferror(f) && ok;
    if (fclose(f) != 0 || !ok) {
        free(out);
        return NULL;
    }
    return out;
}

/* {"dossierCode":code, <body's members>, "href":"/v1/dossiers/code"}: the same document a single
 * jansson object would give (members in insertion order). Codes are agency id, date and number:
 * nothing in them needs escaping, which is checked. */
static char *receipt_with_code(const char *body, const char *code)
{
    size_t blen = strlen(body), clen = strlen(code);
    if (blen < 2 || body[0] != '{' || body[blen - 1] != '}' || strspn(code, CODE_CHARS) != clen) return NULL;
    size_t cap = blen + 2 * clen + 64;
    char *s = malloc(cap);
    if (!s) return NULL;
    snprintf(s, cap, "{\"dossierCode\":\"%s\"%s%.*s,\"href\":\"/v1/dossiers/%s\"}", code, blen > 2 ? "," : "",
             (int)(blen - 2), body + 1, code);
    return s;
}

/* Refusals before any write. Returns MC_OK with x filled, or fills j->out. */
static mc_err check(http_job *j, intake_ctx *x)
{
    app *a = j->app;
    xmlDocPtr doc = NULL;
    json_t *errors = NULL;
    char why[512] = "", code[DOSSIER_CODE_CAP];
    mc_err rc;

    if (!content_type_ok(j->content_type)) {
        snprintf(why, sizeof(why), "Content-Type must be application/xml, got '%.100s'",
                 j->content_type[0] ? j->content_type : "(none)");
        rc = MC_ERR_MEDIA_TYPE;
        goto refuse;
    }
    if (!idem_key_ok(j->idem_key)) {
        snprintf(why, sizeof(why), "Idempotency-Key must be 1 to %d visible ASCII characters", IDEM_KEY_MAX);
        rc = MC_ERR_BAD_REQUEST;
        goto refuse;
    }
    if ((rc = xmlsafe_parse(j->body ? j->body : "", j->body_len, &a->xml, &doc, why, sizeof(why)))) goto refuse;
    if ((rc = dossier_xml_procedure(doc, code, sizeof(code)))) {
        snprintf(why, sizeof(why), "the root must be <dossier xmlns=\"%s\" procedure=\"d.dddddd\">", DOSSIER_XML_NS);
        goto refuse;
    }
    if (!(x->proc = catalog_find(a->cat, code))) {
        snprintf(why, sizeof(why), "procedure '%s' is not in the catalog", code);
        rc = MC_ERR_UNKNOWN_PROCEDURE;
        goto refuse;
    }
    if ((rc = catalog_validate(x->proc, doc, &errors))) {
        snprintf(why, sizeof(why), "the dossier does not match the schema of procedure %s", code);
        goto refuse;
    }
    if ((rc = dossier_xml_extract(doc, &x->doc, why, sizeof(why)))) goto refuse;
    if (!(x->unit = catalog_find_unit(a->cat, x->doc.ward))) {
        snprintf(why, sizeof(why), "receiving unit '%s' is not known", x->doc.ward);
        rc = MC_ERR_UNKNOWN_UNIT;
        goto refuse;
    }
    if ((rc = pid_check(x->doc.applicant.pid, x->doc.applicant.birth_date, x->doc.applicant.gender, why,
                        sizeof(why))))
        goto refuse;
    for (size_t i = 0; i < x->doc.n_persons; i++) {
        const dossier_person *p = &x->doc.persons[i];
        char pw[400];
        if (!p->pid[0] || !p->birth_date[0] || !p->gender) continue;
        if ((rc = pid_check(p->pid, p->birth_date, p->gender, pw, sizeof(pw)))) {
            snprintf(why, sizeof(why), "%s: %s", p->role, pw);
            goto refuse;
        }
    }
    if ((rc = catalog_plan(x->proc, &x->doc, &x->plan, why, sizeof(why)))) {
        rc = MC_ERR_COMPONENTS;
        goto refuse;
    }
    unsigned int n = 32;
    EVP_Digest(j->body, j->body_len, x->sha, &n, EVP_sha256(), NULL);
    x->declared = dossier_xml_declared_fields(doc);
    xmlFreeDoc(doc);
    return MC_OK;
refuse: {
    json_t *extra = NULL;
    if (errors) {
        extra = json_object();
        json_object_set_new(extra, "errors", errors);
    }
    reply_problem(&j->out, rc, j->path, why, extra);
    xmlFreeDoc(doc);
    return rc;
}
}

static void reply_receipt(http_job *j, const char *code, const char *receipt, bool replayed)
{
    snprintf(j->out.location, sizeof(j->out.location), "/v1/dossiers/%s", code);
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", code);
    j->out.replayed = replayed;
    reply_json_text(&j->out, 201, receipt, strlen(receipt));
}

/* Same key seen before: same body -> the stored receipt, other body -> 409. */
static mc_err replay(http_job *j, db_conn *c, const intake_ctx *x)
{
    db_rows *r = NULL;
    size_t hlen = 0;
    mc_err rc = dossiers_idem_find(c, j->client.id, j->idem_key, &r);
    if (rc) return rc;
    const char *h = db_rows_get(r, 0, 0, &hlen), *code = db_rows_get(r, 0, 1, NULL),
               *receipt = db_rows_get(r, 0, 2, NULL);
    if (!h || hlen != 32 || !code || !receipt) rc = MC_ERR_INTERNAL;
    else if (memcmp(h, x->sha, 32) != 0)
        reply_problem(&j->out, MC_ERR_IDEMPOTENCY_CONFLICT, j->path,
                      "this Idempotency-Key was used with a different body; nothing was stored", NULL);
    else reply_receipt(j, code, receipt, true);
    db_rows_free(r);
    return rc;
}

/* ---- group commit ---- */

#define BATCH_MAX 64 /* dossiers in one transaction */
#define BATCH_BYTES (4u << 20) /* XML bytes in one transaction: its statements stay under max_allowed_packet */
#define SPARE_MAX BATCH_MAX /* pendings kept for reuse instead of freed */

/* A dossier from its checks to its answer. The worker that checked it hands it to the writer and goes
 * on to the next request; the writer answers it and ends its pool job. */
typedef struct pending {
    http_job *j;
    db_deferred *job;         /* the request's pool job (db_pool_defer), ended by the writer */
    mc_err rc;
    struct pending *next;
    uint64_t id;              /* the dossier row's id, once inserted */
    /* phase 1 of a batch: the writer fetched the reuse candidates once; a pool worker links a member's
     * candidates that need a full verification */
    reuse_request req;
    db_rows *rows;
    const char *today;
    bool link_failed;         /* that worker had no connection: the writer links them itself */
    intake_ctx x;             /* last: ~45 KiB, mostly the dossier */
} pending;

static pthread_mutex_t batch_mu = PTHREAD_MUTEX_INITIALIZER;
static pending *wait_head, *wait_tail;
static pending *spare;           /* SPARE_MAX at most */
static size_t n_spare;
static intake_stats stats;       /* under batch_mu */
/* The writer (intake_start): sleeps on wake when the queue is empty; inflight counts the dossiers
 * queued or in its batch; resolving counts the slow members of phase 1 still being linked, the last of
 * them posts resolved. Under batch_mu. Lock order: batch_mu, then the pool's. */
static struct {
    bool running, stopping, sleeping;
    pthread_t thread;
    sem_t wake, resolved;
    size_t inflight, inflight_max, resolving; /* dossiers queued or in the batch; their cap */
    db_dsn dsn;
    int timeout_s;
} writer;

/* A cleared pending, but its dossier: dossier_xml_extract clears that itself, nothing reads it
 * before, and it is most of the ~45 KiB (callgrind: clearing it twice was ~4% of an intake). */
static pending *pending_new(void)
{
    pthread_mutex_lock(&batch_mu);
    pending *p = spare;
    if (p) {
        spare = p->next;
        n_spare--;
    }
    pthread_mutex_unlock(&batch_mu);
    if (!p && !(p = malloc(sizeof(*p)))) return NULL;
    size_t doc_at = offsetof(pending, x.doc), doc_end = doc_at + sizeof(p->x.doc);
    memset(p, 0, doc_at);
    memset((char *)p + doc_end, 0, sizeof(*p) - doc_end);
    return p;
}

/* Caller holds batch_mu. */
static void pending_free_locked(pending *p)
{
    free(p->x.receipt);
    free(p->x.receipt_body);
    if (n_spare >= SPARE_MAX) {
        free(p);
        return;
    }
    p->next = spare;
    spare = p;
    n_spare++;
}

static void pending_free(pending *p)
{
    pthread_mutex_lock(&batch_mu);
    pending_free_locked(p);
    pthread_mutex_unlock(&batch_mu);
}

/* Take each (agency, day) sequence once for the whole batch, give every dossier its code and receipt.
 * This is the first statement of the transaction: the sequence row's lock orders concurrent batches,
 * so nothing they do afterwards can deadlock on it. */
static mc_err assign_codes(db_conn *c, pending **items, size_t n)
{
    char days[BATCH_MAX][8];
    bool done[BATCH_MAX] = {false};
    mc_err rc = MC_OK;
    for (size_t i = 0; i < n; i++) {
        int y, m, d;
        calendar_local_date(items[i]->j->app->cal, items[i]->x.received, &y, &m, &d);
        snprintf(days[i], sizeof(days[i]), "%02d%02d%02d", y % 100, m, d);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (done[i]) continue;
        const char *agency = items[i]->x.unit->agency_id;
        long count = 0, last = 0;
        for (size_t k = i; k < n; k++)
            if (!done[k] && strcmp(days[k], days[i]) == 0 && strcmp(items[k]->x.unit->agency_id, agency) == 0) count++;
        if ((rc = dossiers_next_seq(c, agency, days[i], count, &last))) break;
        long next = last - count + 1;
        for (size_t k = i; k < n; k++) {
            intake_ctx *x = &items[k]->x;
            if (done[k] || strcmp(days[k], days[i]) != 0 || strcmp(x->unit->agency_id, agency) != 0) continue;
            done[k] = true;
            snprintf(x->code, sizeof(x->code), "%s-%s-%04ld", agency, days[k], next++);
            if (!x->receipt_body || !(x->receipt = receipt_with_code(x->receipt_body, x->code))) {
                rc = MC_ERR_NOMEM;
                break;
            }
        }
    }
    return rc;
}

/* p's dossier row for dossiers_insert; the formatted times live in p's context until the insert. */
static void dossier_row(pending *p, db_param *row)
{
    const http_job *j = p->j;
    intake_ctx *x = &p->x;
    tfmt_db(x->received, x->received_us, x->received_db, sizeof(x->received_db));
    if (x->has_due) tfmt_db(x->due, 0, x->due_db, sizeof(x->due_db));
    x->gender[0] = x->doc.applicant.gender;
    x->gender[1] = '\0';
    const db_param r[DOSSIERS_ROW_COLS] = {
        db_str(x->code), db_str(x->proc->code), db_str(x->doc.ward), db_str(x->unit->agency_id),
        db_i64(CHANNEL_ONLINE), db_str(x->source), db_i64((long long)j->client.id), db_str(x->doc.applicant.pid),
        db_str(x->doc.applicant.full_name), db_str(x->doc.applicant.birth_date), db_str(x->gender),
        db_str_opt(x->doc.phone), db_str_opt(x->doc.email), db_str_opt(x->doc.address), db_str(x->doc.summary),
        db_str(STATE_SUBMITTED), db_i64(NATIONAL_NEW), db_str(x->received_db),
        x->has_due ? db_str(x->due_db) : db_null(), db_blob(x->sha, 32), db_blob(j->body, j->body_len),
        db_i64((long long)x->declared)};
    memcpy(row, r, sizeof(r));
}

/* p's component rows from row on (COMPONENT_ROW_COLS each, evidence one slot per row); returns the count. */
static size_t component_rows(const pending *p, db_param *row, char (*evidence)[REUSE_EVIDENCE_CAP])
{
    const intake_ctx *x = &p->x;
    for (size_t i = 0; i < x->plan.count; i++, row += COMPONENT_ROW_COLS) {
        const catalog_plan_item *it = &x->plan.items[i];
        const dossier_component *dc = it->dossier_index >= 0 ? &x->doc.components[it->dossier_index] : NULL;
        db_param reuse[4];
        reuse_component_params(it, &x->reuse.links[i], evidence[i], reuse);
        const db_param r[COMPONENT_ROW_COLS] = {
            db_i64((long long)p->id), db_str(it->component->code), db_str(it->component->name_vi),
            db_i64(it->component->required), db_str(catalog_how_name(it->how)),
            it->how == CATALOG_HOW_UPLOAD ? db_str_opt(it->ref) : db_null(),
            dc && dc->kind == DOSSIER_COMP_FILE ? db_str_opt(dc->file_name) : db_null(),
            it->how == CATALOG_HOW_RESULT ? db_str_opt(it->ref) : db_null(),
            reuse[0], reuse[1].type == DB_P_NULL ? db_i64(0) : reuse[1], reuse[2], reuse[2], reuse[3]};
        memcpy(row, r, sizeof(r));
    }
    return x->plan.count;
}

static size_t person_rows(const pending *p, db_param *row)
{
    const intake_ctx *x = &p->x;
    for (size_t i = 0; i < x->doc.n_persons; i++, row += PERSON_ROW_COLS) {
        const dossier_person *dp = &x->doc.persons[i];
        const db_param r[PERSON_ROW_COLS] = {db_i64((long long)p->id), db_i64((long long)i + 1), db_str(dp->role),
                                             db_str_opt(dp->pid), db_str_opt(dp->full_name),
                                             db_str_opt(dp->birth_date)};
        memcpy(row, r, sizeof(r));
    }
    return x->doc.n_persons;
}

/* Every row of the batch, one array-bound INSERT per table; child rows carry their dossier's id, which
 * the dossier rows' INSERT returns. */
static mc_err insert_rows(db_conn *c, pending **items, size_t n)
{
    db_param rows[BATCH_MAX][DOSSIERS_ROW_COLS], hist[BATCH_MAX][HISTORY_ROW_COLS], keys[BATCH_MAX][IDEM_ROW_COLS];
    db_param (*comps)[COMPONENT_ROW_COLS] = NULL, (*persons)[PERSON_ROW_COLS] = NULL;
    char (*evidence)[REUSE_EVIDENCE_CAP] = NULL;
    uint64_t ids[BATCH_MAX];
    size_t nc = 0, np = 0, nk = 0;
    mc_err rc = MC_ERR_NOMEM;
    if (n == 0 || n > BATCH_MAX) return MC_ERR_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        nc += items[i]->x.plan.count;
        np += items[i]->x.doc.n_persons;
    }
    if (!(comps = malloc((nc + 1) * sizeof(*comps))) || !(persons = malloc((np + 1) * sizeof(*persons))) ||
        !(evidence = malloc((nc + 1) * sizeof(*evidence))))
        goto done;
    for (size_t i = 0; i < n; i++) dossier_row(items[i], rows[i]);
    if ((rc = dossiers_insert_dossiers(c, rows[0], n, ids))) goto done;
    nc = np = 0;
    for (size_t i = 0; i < n; i++) {
        http_job *j = items[i]->j;
        intake_ctx *x = &items[i]->x;
        items[i]->id = ids[i];
        nc += component_rows(items[i], comps[nc], &evidence[nc]);
        np += person_rows(items[i], persons[np]);
        const db_param h[HISTORY_ROW_COLS] = {db_i64((long long)items[i]->id), db_str("submit"), db_str(STATE_SUBMITTED),
                                              db_i64(NATIONAL_NEW), db_i64((long long)j->client.id),
                                              db_str("dossier received online"), db_str(j->request_id)};
        memcpy(hist[i], h, sizeof(h));
        if (j->idem_key[0]) {
            const db_param k[IDEM_ROW_COLS] = {db_i64((long long)j->client.id), db_str(j->idem_key),
                                               db_blob(x->sha, 32), db_i64((long long)items[i]->id),
                                               db_str(x->receipt)};
            memcpy(keys[nk++], k, sizeof(k));
        }
    }
    rc = dossiers_insert(c, DOSSIERS_T_IDEM, keys[0], nk);
    if (!rc) rc = dossiers_insert(c, DOSSIERS_T_COMPONENT, comps[0], nc);
    if (!rc) rc = dossiers_insert(c, DOSSIERS_T_PERSON, persons[0], np);
    if (!rc) rc = dossiers_insert(c, DOSSIERS_T_HISTORY, hist[0], n);
done:
    free(comps);
    free(persons);
    free(evidence);
    return rc;
}

/* One chained audit row per dossier of the batch, all under one lock of the chain head and one insert
 * (docs/audit.md). Last statement before COMMIT, so the head is held only for the commit itself. */
static mc_err audit_rows(db_conn *c, pending **items, size_t n)
{
    audit_entry e[BATCH_MAX * (1 + REUSE_MAX_REFUSED)];
    char detail[BATCH_MAX][48];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const intake_ctx *x = &items[i]->x;
        snprintf(detail[i], sizeof(detail[i]), "procedure %s", x->proc->code);
        e[k++] = (audit_entry){.actor_client_id = items[i]->j->client.id, .role = x->source, .ward = x->doc.ward,
                               .action = "submit", .dossier_code = x->code, .after_state = STATE_SUBMITTED,
                               .request_id = items[i]->j->request_id, .detail = detail[i]};
        /* stored results that failed re-verification (tampered bytes): not reused, audited */
        for (size_t r = 0; r < x->reuse.n_refused; r++)
            e[k++] = (audit_entry){.actor_client_id = items[i]->j->client.id, .role = x->source,
                                   .ward = x->doc.ward, .action = "reuse_result_refused", .dossier_code = x->code,
                                   .request_id = items[i]->j->request_id, .detail = x->reuse.refused[r].detail};
    }
    return audit_append_many(c, e, k);
}

static void forget_writes(pending **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i]->x.receipt);
        items[i]->x.receipt = NULL;
        items[i]->x.code[0] = '\0';
    }
}

/* One transaction for the n dossiers; on any error all of it is rolled back. */
static mc_err write_batch(db_conn *c, pending **items, size_t n)
{
    mc_err rc = db_begin(c);
    if (!rc) rc = assign_codes(c, items, n);
    if (!rc) rc = insert_rows(c, items, n);
    if (!rc) rc = audit_rows(c, items, n);
    if (!rc) rc = db_commit(c);
    else db_rollback(c);
    if (rc) forget_writes(items, n);
    return rc;
}

static mc_err write_retrying(db_conn *c, pending **items, size_t n)
{
    mc_err rc;
    for (int attempt = 0;; attempt++) {
        rc = write_batch(c, items, n);
        if (rc != MC_ERR_DB_RETRY || attempt + 1 >= TXN_ATTEMPTS) return rc;
        /* jittered backoff so the transactions that collided do not collide again */
        struct timespec ts = {0, (long)(1 + (unsigned)rand() % (2u << attempt)) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* A member's share of phase 1 when a candidate needs a full verification: finish linking its reuse
 * candidates (the batch's shared rows) on connection c, then build its receipt but the code. */
static void prepare(pending *p, db_conn *c)
{
    reuse_link_one(p->j->app->results, c, &p->req, p->rows, p->today);
    free(p->x.receipt_body);
    p->x.receipt_body = receipt_body(p->j->app, &p->x);
}

static void sleep_on(sem_t *s)
{
    while (sem_wait(s) != 0 && errno == EINTR) continue;
}

/* One slow member is linked (or left to the writer): the last one wakes the writer. */
static void linked(void)
{
    pthread_mutex_lock(&batch_mu);
    bool last = --writer.resolving == 0;
    pthread_mutex_unlock(&batch_mu);
    if (last) sem_post(&writer.resolved);
}

/* Pool job: link a slow member on this worker's connection, in parallel with the others. */
static void link_work(db_conn *c, void *arg)
{
    pending *p = arg;
    if (c) prepare(p, c);
    else p->link_failed = true;
    linked();
}

/* Phase 1 of a batch: one candidate query for every dossier of the batch, then the writer links every
 * member's candidates found in the verification cache or carrying a mark and builds their receipts
 * itself; members with a candidate that needs a full verification are linked by pool workers, ahead
 * of the queue and in parallel, while the writer waits (it links them itself when no worker can). */
static mc_err resolve_batch(db_conn *c, pending **items, size_t n)
{
    app *a = items[0]->j->app;
    reuse_request reqs[BATCH_MAX];
    bool slow[BATCH_MAX];
    db_rows *rows = NULL;
    char today[16];
    for (size_t i = 0; i < n; i++) {
        intake_ctx *x = &items[i]->x;
        reqs[i] = (reuse_request){x->proc, &x->doc, NULL, 0, items[i]->j->request_id, &x->plan, &x->reuse};
    }
    mc_err rc = reuse_fetch_many(a->results, c, a->cal, reqs, n, &rows, today);
    if (rc) return rc;
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        items[i]->req = reqs[i];
        items[i]->rows = rows;
        items[i]->today = today;
        slow[i] = !reuse_link_quick(a->results, &items[i]->req, rows, today);
        if (slow[i]) left++;
        else if (!items[i]->x.receipt_body || reuse_linked_any(&items[i]->x.reuse)) {
            free(items[i]->x.receipt_body); /* built for "nothing to reuse" (intake_post): not so */
            items[i]->x.receipt_body = receipt_body(a, &items[i]->x);
        }
    }
    if (left > 0) {
        pthread_mutex_lock(&batch_mu);
        writer.resolving = left;
        pthread_mutex_unlock(&batch_mu);
        for (size_t i = 0; i < n; i++) {
            if (!slow[i] || db_pool_submit_first(a->pool, link_work, NULL, items[i]) == MC_OK) continue;
            items[i]->link_failed = true;
            linked();
        }
        sleep_on(&writer.resolved); /* the last member linked posts it */
        for (size_t i = 0; i < n; i++)
            if (slow[i] && items[i]->link_failed) prepare(items[i], c);
    }
    db_rows_free(rows);
    return MC_OK;
}

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Phase 2: write the batch; a duplicate key (an Idempotency-Key twin) sends its members one by
 * one so only the twin sees the conflict. */
static void write_phase(db_conn *c, pending **items, size_t n)
{
    long long t0 = now_us();
    mc_err rc = write_retrying(c, items, n);
    if (rc == MC_ERR_CONFLICT && n > 1)
        for (size_t i = 0; i < n; i++) items[i]->rc = write_retrying(c, &items[i], 1);
    else
        for (size_t i = 0; i < n; i++) items[i]->rc = rc;
    long long took = now_us() - t0;
    size_t stored = 0;
    for (size_t i = 0; i < n; i++) stored += items[i]->rc == MC_OK;
    pthread_mutex_lock(&batch_mu);
    stats.batches++;
    stats.dossiers += stored;
    stats.write_us += (unsigned long long)took;
    pthread_mutex_unlock(&batch_mu);
}

/* The writer's work on a batch: phase 1 (reuse look-up and receipts), then phase 2 (the transaction). */
static void lead(db_conn *c, pending **items, size_t n)
{
    /* once-only, before anything is written: link valid results of the right holders */
    mc_err rc = resolve_batch(c, items, n);
    if (rc) {
        log_msg(LOG_WARN, "reuse look-up for a batch of %zu failed: %s (%s)", n, mc_err_name(rc), db_conn_error(c));
        db_rollback(c); /* the look-up's transaction (db_conn_implicit): the next batch gets a fresh view */
        for (size_t i = 0; i < n; i++) items[i]->rc = rc;
        return;
    }
    write_phase(c, items, n);
}

/* The writer answers its batch: receipts, problems, Idempotency-Key replays (on its own connection),
 * and ends each request's pool job, so the loop thread sends the answers. */
static void answer(db_conn *c, pending **items, size_t n)
{
    bool read = false;
    for (size_t i = 0; i < n; i++) {
        pending *p = items[i];
        http_job *j = p->j;
        mc_err rc = p->rc;
        if (rc == MC_ERR_CONFLICT && j->idem_key[0] && c) { /* the key was taken (a twin, or a retry): replay */
            read = true;
            if ((rc = replay(j, c, &p->x)))
                reply_problem(&j->out, rc, j->path, "could not read the Idempotency-Key record", NULL);
        } else if (rc) {
            log_msg(LOG_WARN, "req=%s intake failed: %s (%s)", j->request_id, mc_err_name(rc), db_conn_error(c));
            reply_problem(&j->out, rc == MC_ERR_CONFLICT ? MC_ERR_INTERNAL : rc, j->path,
                          rc == MC_ERR_DB_UNAVAILABLE ? "the database became unavailable; nothing was stored"
                                                      : "the dossier could not be stored; nothing was stored",
                          NULL);
        } else {
            reply_receipt(j, p->x.code, p->x.receipt, false);
        }
        db_pool_resume(p->job);
    }
    if (read) db_rollback(c); /* the replays' reads opened a transaction (db_conn_implicit) */
    pthread_mutex_lock(&batch_mu);
    for (size_t i = 0; i < n; i++) pending_free_locked(items[i]);
    writer.inflight -= n;
    pthread_mutex_unlock(&batch_mu);
}

/* Hand p to the writer, and this request's pool job with it; MC_OK when queued, MC_ERR_BUSY when
 * inflight_max dossiers already are. It never waits: the writer may need a worker (link_work). */
static mc_err enqueue(pending *p)
{
    pthread_mutex_lock(&batch_mu);
    mc_err rc = !writer.running || writer.stopping ? MC_ERR_INTERNAL /* intake_start not called, or intake_stop */
              : writer.inflight >= writer.inflight_max ? MC_ERR_BUSY
              : !(p->job = db_pool_defer())        ? MC_ERR_INTERNAL
                                                   : MC_OK;
    if (rc) {
        pthread_mutex_unlock(&batch_mu);
        return rc;
    }
    writer.inflight++;
    p->next = NULL;
    if (wait_tail) wait_tail->next = p;
    else wait_head = p;
    wait_tail = p;
    bool wake = writer.sleeping;
    writer.sleeping = false;
    pthread_mutex_unlock(&batch_mu);
    if (wake) sem_post(&writer.wake);
    return MC_OK;
}

/* The writer thread: a batch of everyone waiting, written and answered, then the next, without
 * sleeping while dossiers wait. It runs at the nice value of the thread that started it (the main
 * thread's), above the database workers, which hold the parse and XSD work: its dozen round trips a
 * batch are everyone's wait. */
static void *writer_main(void *arg)
{
    (void)arg;
    db_conn *c = NULL;
    pthread_mutex_lock(&batch_mu);
    for (;;) {
        while (!wait_head && !writer.stopping) {
            writer.sleeping = true;
            pthread_mutex_unlock(&batch_mu);
            sleep_on(&writer.wake);
            pthread_mutex_lock(&batch_mu);
        }
        if (!wait_head) break; /* stopping, and nobody waits */
        pending *batch[BATCH_MAX];
        size_t n = 0, bytes = 0;
        while (wait_head && n < BATCH_MAX && (n == 0 || bytes + wait_head->j->body_len <= BATCH_BYTES)) {
            bytes += wait_head->j->body_len;
            batch[n++] = wait_head;
            wait_head = wait_head->next;
        }
        if (!wait_head) wait_tail = NULL;
        pthread_mutex_unlock(&batch_mu);
        char why[256];
        if (!(c = db_conn_reopen(c, &writer.dsn, writer.timeout_s, why, sizeof(why))))
            log_msg(LOG_WARN, "intake writer: cannot connect: %s", why);
        else if (db_conn_implicit(c)) { /* it only runs batches: no START TRANSACTION round trip */
            log_msg(LOG_WARN, "intake writer: cannot turn autocommit off: %s", db_conn_error(c));
            db_conn_close(c);
            c = NULL;
        }
        if (c) lead(c, batch, n);
        else
            for (size_t i = 0; i < n; i++) batch[i]->rc = MC_ERR_DB_UNAVAILABLE;
        answer(c, batch, n);
        pthread_mutex_lock(&batch_mu);
    }
    pthread_mutex_unlock(&batch_mu);
    db_conn_close(c);
    db_thread_end();
    return NULL;
}

mc_err intake_start(const db_dsn *dsn, int timeout_s, size_t inflight_max)
{
    pthread_mutex_lock(&batch_mu);
    bool already = writer.running;
    pthread_mutex_unlock(&batch_mu);
    if (already) return MC_OK;
    writer.dsn = *dsn;
    writer.timeout_s = timeout_s;
    writer.inflight_max = inflight_max;
    writer.stopping = writer.sleeping = false;
    sem_init(&writer.wake, 0, 0);
    sem_init(&writer.resolved, 0, 0);
    if (pthread_create(&writer.thread, NULL, writer_main, NULL) != 0) {
        sem_destroy(&writer.wake);
        sem_destroy(&writer.resolved);
        return MC_ERR_INTERNAL;
    }
    pthread_mutex_lock(&batch_mu);
    writer.running = true;
    pthread_mutex_unlock(&batch_mu);
    return MC_OK;
}

void intake_stop(void)
{
    pthread_mutex_lock(&batch_mu);
    bool running = writer.running;
    writer.stopping = true;
    if (writer.sleeping) {
        writer.sleeping = false;
        sem_post(&writer.wake);
    }
    pthread_mutex_unlock(&batch_mu);
    if (!running) return;
    pthread_join(writer.thread, NULL); /* it writes whatever still waits first */
    sem_destroy(&writer.wake);
    sem_destroy(&writer.resolved);
    pthread_mutex_lock(&batch_mu);
    writer.running = false;
    while (spare) {
        pending *p = spare;
        spare = p->next;
        free(p);
    }
    n_spare = 0;
    pthread_mutex_unlock(&batch_mu);
}

intake_stats intake_stats_get(void)
{
    pthread_mutex_lock(&batch_mu);
    intake_stats s = stats;
    pthread_mutex_unlock(&batch_mu);
    return s;
}

/* On a pool worker: every check that can refuse the dossier, its receipt for the likely outcome, then
 * the writer takes it; this worker goes on to the next request and the writer answers this one. */
void intake_post(http_job *j, db_conn *c)
{
    (void)c; /* the writer's connection stores it */
    pending *p = pending_new();
    if (!p) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        return;
    }
    intake_ctx *x = &p->x;
    if (check(j, x)) goto refused;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    x->received = tv.tv_sec;
    x->received_us = tv.tv_usec;
    x->source = j->client.role == ROLE_NATIONAL ? "national" : "portal";
    calendar_rule rule = {(calendar_rule_kind)x->proc->time_limit.kind, x->proc->time_limit.days};
    x->due = calendar_due(j->app->cal, rule, x->received, &x->has_due);

    /* Most citizens hold no stored result of the kind a dossier could reuse: build the receipt for that
     * outcome now, on this thread, while the batch before is being written; the batch's writer keeps it
     * when the look-up agrees (nothing linked, nothing refused) and builds the right one when not. */
    catalog_plan_list plan = x->plan;
    reuse_request none = {x->proc, &x->doc, NULL, 0, j->request_id, &x->plan, &x->reuse};
    reuse_link_none(&none);
    x->receipt_body = receipt_body(j->app, x);
    x->plan = plan;
    p->j = j;
    mc_err rc = enqueue(p);
    if (rc == MC_OK) return;
    if (rc == MC_ERR_BUSY) {
        j->out.retry_after = 1;
        reply_problem(&j->out, rc, j->path, "too many dossiers being stored; nothing was stored, retry shortly", NULL);
    } else {
        log_msg(LOG_WARN, "req=%s intake: the writer is not running", j->request_id);
        reply_problem(&j->out, rc, j->path, "the dossier could not be stored; nothing was stored", NULL);
    }
refused:
    pending_free(p);
}
