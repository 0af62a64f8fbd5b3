/* intake.c - dossier intake. Everything that can refuse a dossier runs first, on the request's worker,
 * so a refusal changes nothing. Accepted dossiers are then written by group commit: the first worker
 * to arrive becomes the leader and writes every dossier waiting at that moment (up to BATCH_MAX) in one
 * transaction: one sequence bump per agency and day (first: it orders concurrent batches), then one
 * set-based INSERT per table (dossiers with their codes and receipts, idempotency keys, components,
 * named persons, first history rows), then COMMIT - while the others wait for the outcome. A batch
 * costs the same eight round trips whatever its size. A batch that fails on a duplicate key (an
 * Idempotency-Key twin) is rolled back and its dossiers are written one by one. */
#include "intake.h"
#include "hex.h"

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <pthread.h>
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
    char *receipt;           /* the 201 body, also stored for Idempotency-Key replays */
} intake_ctx;

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v && *v) json_object_set_new(o, k, json_string(v));
}

/* Append x's component rows (keyed by dossier code) to arr, for one JSON_TABLE insert per batch. */
static void component_rows(const intake_ctx *x, json_t *arr)
{
    for (size_t i = 0; i < x->plan.count; i++) {
        const catalog_plan_item *it = &x->plan.items[i];
        const dossier_component *dc = it->dossier_index >= 0 ? &x->doc.components[it->dossier_index] : NULL;
        json_t *o = json_object();
        json_object_set_new(o, "dossier", json_string(x->code));
        json_object_set_new(o, "code", json_string(it->component->code));
        json_object_set_new(o, "name", json_string(it->component->name_vi));
        json_object_set_new(o, "required", json_integer(it->component->required));
        json_object_set_new(o, "plan", json_string(catalog_how_name(it->how)));
        if (it->how == CATALOG_HOW_UPLOAD) set_opt(o, "file_ref", it->ref);
        if (dc && dc->kind == DOSSIER_COMP_FILE) set_opt(o, "file_name", dc->file_name);
        if (it->how == CATALOG_HOW_RESULT) set_opt(o, "result_ref", it->ref);
        reuse_component_fields(it, &x->reuse.links[i], o);
        json_array_append_new(arr, o);
    }
}

static void person_rows(const intake_ctx *x, json_t *arr)
{
    for (size_t i = 0; i < x->doc.n_persons; i++) {
        const dossier_person *p = &x->doc.persons[i];
        json_t *o = json_object();
        json_object_set_new(o, "dossier", json_string(x->code));
        json_object_set_new(o, "seq", json_integer((json_int_t)i + 1));
        json_object_set_new(o, "role", json_string(p->role));
        set_opt(o, "pid", p->pid);
        set_opt(o, "name", p->full_name);
        set_opt(o, "birth_date", p->birth_date);
        json_array_append_new(arr, o);
    }
}

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

/* Per component: population / result (id, type, issuer, issued at) / upload / missing (reuse.h). */
static json_t *plan_json(const app *a, const intake_ctx *x)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < x->plan.count; i++)
        json_array_append_new(arr, reuse_item_json(a, &x->plan.items[i], &x->reuse.links[i]));
    return arr;
}

static char *build_receipt(app *a, const intake_ctx *x, const char *code, const char *source)
{
    char t[40], masked[16];
    json_t *o = json_object(), *proc = json_object(), *unit = json_object(), *ap = json_object(), *ct = json_object();
    json_object_set_new(o, "dossierCode", json_string(code));
    json_object_set_new(proc, "code", json_string(x->proc->code));
    json_object_set_new(proc, "name", json_string(x->proc->name_vi));
    json_object_set_new(proc, "nameEn", json_string(x->proc->name_en));
    json_object_set_new(o, "procedure", proc);
    json_object_set_new(unit, "code", json_string(x->unit->code));
    json_object_set_new(unit, "name", json_string(x->unit->name));
    json_object_set_new(unit, "agencyId", json_string(x->unit->agency_id));
    json_object_set_new(o, "receivingUnit", unit);
    json_object_set_new(ap, "personalId", json_string(pid_mask(x->doc.applicant.pid, masked, sizeof(masked))));
    json_object_set_new(ap, "fullName", json_string(x->doc.applicant.full_name));
    if (x->doc.phone[0]) json_object_set_new(ct, "phone", json_string(x->doc.phone));
    if (x->doc.email[0]) json_object_set_new(ct, "email", json_string(x->doc.email));
    if (x->doc.address[0]) json_object_set_new(ct, "address", json_string(x->doc.address));
    json_object_set_new(ap, "contact", ct);
    json_object_set_new(o, "applicant", ap);
    json_object_set_new(o, "channel", json_integer(CHANNEL_ONLINE));
    json_object_set_new(o, "source", json_string(source));
    calendar_format_local(a->cal, x->received, t, sizeof(t));
    json_object_set_new(o, "receivedAt", json_string(t));
    if (x->has_due) {
        calendar_format_local(a->cal, x->due, t, sizeof(t));
        json_object_set_new(o, "dueAt", json_string(t));
    } else {
        json_object_set_new(o, "dueAt", json_null());
        json_object_set_new(o, "note", json_string("Không có thời hạn trả kết quả cố định / no fixed return date"));
    }
    json_object_set_new(o, "components", plan_json(a, x));
    json_object_set_new(o, "state", json_string(STATE_SUBMITTED));
    json_object_set_new(o, "nationalStatus", json_integer(NATIONAL_NEW));
    char loc[96];
    snprintf(loc, sizeof(loc), "/v1/dossiers/%s", code);
    json_object_set_new(o, "href", json_string(loc));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
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
    unsigned char h[32];
    uint64_t id = 0;
    db_rows *r = NULL;
    mc_err rc = dossiers_idem_find(c, j->client.id, j->idem_key, h, &id);
    if (rc) return rc;
    if (memcmp(h, x->sha, 32) != 0) {
        reply_problem(&j->out, MC_ERR_IDEMPOTENCY_CONFLICT, j->path,
                      "this Idempotency-Key was used with a different body; nothing was stored", NULL);
        return MC_OK;
    }
    if ((rc = dossiers_receipt(c, id, &r))) return rc;
    const char *code = db_rows_get(r, 0, 0, NULL), *receipt = db_rows_get(r, 0, 1, NULL);
    if (code && receipt) reply_receipt(j, code, receipt, true);
    else rc = MC_ERR_INTERNAL;
    db_rows_free(r);
    return rc;
}

/* ---- group commit ---- */

#define BATCH_MAX 64      /* dossiers in one transaction */
#define BATCH_BYTES (4u << 20) /* XML bytes in one transaction: its statements stay under max_allowed_packet */
#define MAX_WRITERS 1     /* batches at a time per process: they queue on the sequence row anyway */

typedef struct pending {
    http_job *j;
    intake_ctx *x;
    db_conn *c;               /* the waiting worker's connection: it links its own reuse candidates */
    mc_err rc;
    bool done;
    pthread_cond_t cv;        /* its own: waking only the waiters concerned, not the whole herd */
    struct pending *next;
    /* phase 1 of a batch: the leader fetched the reuse candidates once; each member links its own */
    bool resolve;
    reuse_request req;
    db_rows *rows;
    const char *today;
    size_t *left;             /* members still linking (the leader's counter) */
    struct pending *leader;
} pending;

static pthread_mutex_t batch_mu = PTHREAD_MUTEX_INITIALIZER;
static pending *wait_head, *wait_tail;
static int writers;

/* Run fn with arr as compact JSON text; an empty array is no statement at all. */
static mc_err json_exec(db_conn *c, mc_err (*fn)(db_conn *, const char *), json_t *arr)
{
    if (json_array_size(arr) == 0) return MC_OK;
    char *s = json_dumps(arr, JSON_COMPACT);
    mc_err rc = s ? fn(c, s) : MC_ERR_NOMEM;
    free(s);
    return rc;
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
        calendar_local_date(items[i]->j->app->cal, items[i]->x->received, &y, &m, &d);
        snprintf(days[i], sizeof(days[i]), "%02d%02d%02d", y % 100, m, d);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (done[i]) continue;
        const char *agency = items[i]->x->unit->agency_id;
        long count = 0, last = 0;
        for (size_t k = i; k < n; k++)
            if (!done[k] && strcmp(days[k], days[i]) == 0 && strcmp(items[k]->x->unit->agency_id, agency) == 0) count++;
        if ((rc = dossiers_next_seq(c, agency, days[i], count, &last))) break;
        long next = last - count + 1;
        for (size_t k = i; k < n; k++) {
            intake_ctx *x = items[k]->x;
            if (done[k] || strcmp(days[k], days[i]) != 0 || strcmp(x->unit->agency_id, agency) != 0) continue;
            done[k] = true;
            snprintf(x->code, sizeof(x->code), "%s-%s-%04ld", agency, days[k], next++);
            if (!(x->receipt = build_receipt(items[k]->j->app, x, x->code, x->source))) {
                rc = MC_ERR_NOMEM;
                break;
            }
        }
    }
    return rc;
}

static json_t *dossier_row(const pending *p)
{
    const http_job *j = p->j;
    const intake_ctx *x = p->x;
    char recv[32], due[32], gender[2] = {x->doc.applicant.gender, 0}, sha[65];
    tfmt_db(x->received, x->received_us, recv, sizeof(recv));
    hex_encode(x->sha, 32, sha);
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(x->code));
    json_object_set_new(o, "procedure", json_string(x->proc->code));
    json_object_set_new(o, "ward", json_string(x->doc.ward));
    json_object_set_new(o, "agency", json_string(x->unit->agency_id));
    json_object_set_new(o, "channel", json_integer(CHANNEL_ONLINE));
    json_object_set_new(o, "source", json_string(x->source));
    json_object_set_new(o, "client", json_integer((json_int_t)j->client.id));
    json_object_set_new(o, "pid", json_string(x->doc.applicant.pid));
    json_object_set_new(o, "name", json_string(x->doc.applicant.full_name));
    json_object_set_new(o, "birth", json_string(x->doc.applicant.birth_date));
    json_object_set_new(o, "gender", json_string(gender));
    set_opt(o, "phone", x->doc.phone);
    set_opt(o, "email", x->doc.email);
    set_opt(o, "address", x->doc.address);
    json_object_set_new(o, "summary", json_string(x->doc.summary));
    json_object_set_new(o, "state", json_string(STATE_SUBMITTED));
    json_object_set_new(o, "national", json_integer(NATIONAL_NEW));
    json_object_set_new(o, "received", json_string(recv));
    if (x->has_due) {
        tfmt_db(x->due, 0, due, sizeof(due));
        json_object_set_new(o, "due", json_string(due));
    }
    json_object_set_new(o, "sha", json_string(sha));
    json_object_set_new(o, "declared", json_integer((json_int_t)x->declared));
    /* xmlsafe_parse accepted the body, so it is strict UTF-8 without NULs: a JSON string carries it
     * byte for byte */
    json_object_set_new(o, "body", json_stringn(j->body, j->body_len));
    json_object_set_new(o, "receipt", json_string(x->receipt));
    return o;
}

/* Every row of the batch, one set-based statement per table; child rows find their dossier by code. */
static mc_err insert_rows(db_conn *c, pending **items, size_t n)
{
    json_t *dossiers = json_array(), *comps = json_array(), *persons = json_array(), *hist = json_array(),
           *keys = json_array();
    mc_err rc = MC_OK;
    for (size_t i = 0; i < n; i++) {
        http_job *j = items[i]->j;
        intake_ctx *x = items[i]->x;
        json_array_append_new(dossiers, dossier_row(items[i]));
        component_rows(x, comps);
        person_rows(x, persons);
        json_t *h = json_object();
        json_object_set_new(h, "dossier", json_string(x->code));
        json_object_set_new(h, "action", json_string("submit"));
        json_object_set_new(h, "to_state", json_string(STATE_SUBMITTED));
        json_object_set_new(h, "national_status", json_integer(NATIONAL_NEW));
        json_object_set_new(h, "actor", json_integer((json_int_t)j->client.id));
        json_object_set_new(h, "note", json_string("dossier received online"));
        json_object_set_new(h, "request_id", json_string(j->request_id));
        json_array_append_new(hist, h);
        if (j->idem_key[0]) {
            char hex[65];
            json_t *k = json_object();
            hex_encode(x->sha, 32, hex);
            json_object_set_new(k, "client", json_integer((json_int_t)j->client.id));
            json_object_set_new(k, "key", json_string(j->idem_key));
            json_object_set_new(k, "sha", json_string(hex));
            json_object_set_new(k, "dossier", json_string(x->code));
            json_array_append_new(keys, k);
        }
    }
    rc = json_exec(c, dossiers_insert_rows, dossiers);
    if (!rc) rc = json_exec(c, dossiers_idem_insert_rows, keys);
    if (!rc) rc = json_exec(c, dossiers_insert_components, comps);
    if (!rc) rc = json_exec(c, dossiers_insert_persons, persons);
    if (!rc) rc = json_exec(c, dossiers_insert_history_rows, hist);
    json_decref(dossiers);
    json_decref(comps);
    json_decref(persons);
    json_decref(hist);
    json_decref(keys);
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
        const intake_ctx *x = items[i]->x;
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
        free(items[i]->x->receipt);
        items[i]->x->receipt = NULL;
        items[i]->x->code[0] = '\0';
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

/* Leader: write the batch; a duplicate key (an Idempotency-Key twin) sends its members one by one so
 * only the twin sees the conflict. */
/* Phase 1 of a batch: one candidate query for every dossier of the batch (leader), then each member
 * links and re-verifies its own candidates on its own thread and connection, the leader included;
 * the leader waits for them all. Caller holds no lock; items[0] is the leader. */
static mc_err resolve_batch(db_conn *c, pending **items, size_t n)
{
    app *a = items[0]->j->app;
    const struct xverify_trust *trust = results_api_trust(a->results);
    reuse_request reqs[BATCH_MAX];
    db_rows *rows = NULL;
    char today[16];
    for (size_t i = 0; i < n; i++) {
        intake_ctx *x = items[i]->x;
        reqs[i] = (reuse_request){x->proc, &x->doc, NULL, 0, items[i]->j->request_id, &x->plan, &x->reuse};
    }
    mc_err rc = reuse_fetch_many(trust, c, a->cal, reqs, n, &rows, today);
    if (rc) return rc;
    if (!rows || n == 1) { /* nothing to verify, or nobody to share it with */
        for (size_t i = 0; i < n; i++) reuse_link_one(trust, c, &reqs[i], rows, today);
        db_rows_free(rows);
        return MC_OK;
    }
    size_t left = n - 1;
    pthread_mutex_lock(&batch_mu);
    for (size_t i = 1; i < n; i++) {
        items[i]->req = reqs[i];
        items[i]->rows = rows;
        items[i]->today = today;
        items[i]->left = &left;
        items[i]->leader = items[0];
        items[i]->resolve = true;
        pthread_cond_signal(&items[i]->cv);
    }
    pthread_mutex_unlock(&batch_mu);
    reuse_link_one(trust, c, &reqs[0], rows, today);
    pthread_mutex_lock(&batch_mu);
    while (left > 0) pthread_cond_wait(&items[0]->cv, &batch_mu);
    pthread_mutex_unlock(&batch_mu);
    db_rows_free(rows);
    return MC_OK;
}

static void lead(db_conn *c, pending **items, size_t n)
{
    /* once-only, before anything is written: link valid results of the right holders */
    mc_err rc = resolve_batch(c, items, n);
    if (rc) {
        log_msg(LOG_WARN, "reuse look-up for a batch of %zu failed: %s (%s)", n, mc_err_name(rc), db_conn_error(c));
        for (size_t i = 0; i < n; i++) items[i]->rc = rc;
        return;
    }
    rc = write_retrying(c, items, n);
    if (rc == MC_ERR_CONFLICT && n > 1)
        for (size_t i = 0; i < n; i++) items[i]->rc = write_retrying(c, &items[i], 1);
    else
        for (size_t i = 0; i < n; i++) items[i]->rc = rc;
}

/* Queue me for writing and return once some leader (maybe this thread) wrote it. A waiter leads when
 * fewer than MAX_WRITERS batches are being written; a finishing leader wakes its batch one by one and
 * then the new head of the queue, which leads the next batch. */
static mc_err write_grouped(db_conn *c, pending *me)
{
    pthread_cond_init(&me->cv, NULL);
    pthread_mutex_lock(&batch_mu);
    if (wait_tail) wait_tail->next = me;
    else wait_head = me;
    wait_tail = me;
    while (!me->done) {
        if (me->resolve) { /* a leader shared the batch's reuse candidates: link ours, in parallel */
            me->resolve = false;
            pthread_mutex_unlock(&batch_mu);
            reuse_link_one(results_api_trust(me->j->app->results), me->c, &me->req, me->rows, me->today);
            pthread_mutex_lock(&batch_mu);
            if (--*me->left == 0) pthread_cond_signal(&me->leader->cv);
            continue;
        }
        if (writers >= MAX_WRITERS || wait_head != me) {
            pthread_cond_wait(&me->cv, &batch_mu);
            continue;
        }
        pending *batch[BATCH_MAX];
        size_t n = 0, bytes = 0;
        while (wait_head && n < BATCH_MAX && (n == 0 || bytes + wait_head->j->body_len <= BATCH_BYTES)) {
            bytes += wait_head->j->body_len;
            batch[n++] = wait_head;
            wait_head = wait_head->next;
        }
        if (!wait_head) wait_tail = NULL;
        writers++;
        pthread_mutex_unlock(&batch_mu);
        lead(c, batch, n);
        pthread_mutex_lock(&batch_mu);
        writers--;
        for (size_t i = 0; i < n; i++) {
            batch[i]->done = true;
            if (batch[i] != me) pthread_cond_signal(&batch[i]->cv);
        }
        if (wait_head) pthread_cond_signal(&wait_head->cv);
    }
    pthread_mutex_unlock(&batch_mu);
    pthread_cond_destroy(&me->cv);
    return me->rc;
}

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static void ctx_key_make(void) { (void)pthread_key_create(&ctx_key, free); }

/* The calling worker thread's intake context, freed when the thread exits. */
static intake_ctx *thread_ctx(void)
{
    pthread_once(&ctx_once, ctx_key_make);
    intake_ctx *x = pthread_getspecific(ctx_key);
    if (!x && (x = malloc(sizeof(*x))) && pthread_setspecific(ctx_key, x) != 0) {
        free(x);
        x = NULL;
    }
    return x;
}

void intake_post(http_job *j, db_conn *c)
{
    /* ~40 KiB: too big for a stack frame, and calloc/free of it per request costs malloc consolidation;
     * each worker thread keeps one and clears it. */
    intake_ctx *x = thread_ctx();
    mc_err rc;
    if (!x) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        return;
    }
    memset(x, 0, sizeof(*x));
    if (check(j, x)) goto out;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    x->received = tv.tv_sec;
    x->received_us = tv.tv_usec;
    x->source = j->client.role == ROLE_NATIONAL ? "national" : "portal";
    calendar_rule rule = {(calendar_rule_kind)x->proc->time_limit.kind, x->proc->time_limit.days};
    x->due = calendar_due(j->app->cal, rule, x->received, &x->has_due);

    pending me = {.j = j, .x = x, .c = c};
    rc = write_grouped(c, &me);
    if (rc == MC_ERR_CONFLICT && j->idem_key[0]) { /* the key was taken (a twin, or a retry): replay */
        rc = replay(j, c, x);
        if (rc) reply_problem(&j->out, rc, j->path, "could not read the Idempotency-Key record", NULL);
        goto out;
    }
    if (rc) {
        log_msg(LOG_WARN, "req=%s intake failed: %s (%s)", j->request_id, mc_err_name(rc), db_conn_error(c));
        reply_problem(&j->out, rc == MC_ERR_CONFLICT ? MC_ERR_INTERNAL : rc, j->path,
                      rc == MC_ERR_DB_UNAVAILABLE ? "the database became unavailable; nothing was stored"
                                                  : "the dossier could not be stored; nothing was stored",
                      NULL);
        goto out;
    }
    reply_receipt(j, x->code, x->receipt, false);
out:
    free(x->receipt);
    x->receipt = NULL;
}
