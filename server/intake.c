/* intake.c - dossier intake. Everything that can refuse a dossier runs before the transaction, so a
 * refusal changes nothing; the transaction writes the dossier, its components, named persons, the
 * first history row and the idempotency key, and bumps the agency's daily sequence last (short lock). */
#include "intake.h"

#include <libxml/tree.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "dossier_xml.h"
#include "dossiers.h"
#include "log.h"
#include "pid.h"
#include "tfmt.h"

#define STATE_SUBMITTED "submitted"
#define NATIONAL_NEW 1
#define CHANNEL_ONLINE 2
#define TXN_ATTEMPTS 5

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
    char *components_json;   /* rows for dossier_component, one statement */
    char *persons_json;      /* rows for dossier_person */
} intake_ctx;

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v && *v) json_object_set_new(o, k, json_string(v));
}

/* The rows of dossier_component (or dossier_person) as a JSON array for one JSON_TABLE insert. */
static char *rows_json(const intake_ctx *x, bool persons)
{
    json_t *arr = json_array();
    if (persons) {
        for (size_t i = 0; i < x->doc.n_persons; i++) {
            const dossier_person *p = &x->doc.persons[i];
            json_t *o = json_object();
            json_object_set_new(o, "seq", json_integer((json_int_t)i + 1));
            json_object_set_new(o, "role", json_string(p->role));
            set_opt(o, "pid", p->pid);
            set_opt(o, "name", p->full_name);
            set_opt(o, "birth_date", p->birth_date);
            json_array_append_new(arr, o);
        }
    } else {
        for (size_t i = 0; i < x->plan.count; i++) {
            const catalog_plan_item *it = &x->plan.items[i];
            const dossier_component *dc = it->dossier_index >= 0 ? &x->doc.components[it->dossier_index] : NULL;
            json_t *o = json_object();
            json_object_set_new(o, "code", json_string(it->component->code));
            json_object_set_new(o, "name", json_string(it->component->name_vi));
            json_object_set_new(o, "required", json_integer(it->component->required));
            json_object_set_new(o, "plan", json_string(catalog_how_name(it->how)));
            if (it->how == CATALOG_HOW_UPLOAD) set_opt(o, "file_ref", it->ref);
            if (dc && dc->kind == DOSSIER_COMP_FILE) set_opt(o, "file_name", dc->file_name);
            if (it->how == CATALOG_HOW_RESULT) set_opt(o, "result_ref", it->ref);
            json_array_append_new(arr, o);
        }
    }
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static bool content_type_ok(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return (n == 15 && strncasecmp(ct, "application/xml", 15) == 0) || (n == 8 && strncasecmp(ct, "text/xml", 8) == 0);
}

static json_t *plan_json(const intake_ctx *x)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < x->plan.count; i++) {
        const catalog_plan_item *it = &x->plan.items[i];
        json_t *o = json_object();
        json_object_set_new(o, "code", json_string(it->component->code));
        json_object_set_new(o, "name", json_string(it->component->name_vi));
        json_object_set_new(o, "nameEn", json_string(it->component->name_en));
        json_object_set_new(o, "required", json_boolean(it->component->required));
        json_object_set_new(o, "satisfiedBy", json_string(catalog_how_name(it->how)));
        if (it->how == CATALOG_HOW_UPLOAD) json_object_set_new(o, "fileRef", json_string(it->ref));
        if (it->how == CATALOG_HOW_RESULT) {
            json_object_set_new(o, "resultType", json_string(it->component->result_type));
            if (it->ref[0]) json_object_set_new(o, "requestedResultId", json_string(it->ref));
        }
        json_array_append_new(arr, o);
    }
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
    json_object_set_new(o, "components", plan_json(x));
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
    if (!(x->components_json = rows_json(x, false)) || !(x->persons_json = rows_json(x, true))) {
        rc = MC_ERR_NOMEM;
        goto refuse;
    }
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

static mc_err write_dossier(http_job *j, db_conn *c, intake_ctx *x, char *code, size_t codecap, char **receipt)
{
    app *a = j->app;
    char recv[32], due[32], gender[2] = {x->doc.applicant.gender, 0}, day[8];
    const char *source = j->client.role == ROLE_NATIONAL ? "national" : "portal";
    uint64_t id = 0;
    long seq = 0;
    mc_err rc;
    tfmt_db(x->received, x->received_us, recv, sizeof(recv));
    if (x->has_due) tfmt_db(x->due, 0, due, sizeof(due));
    dossier_new d = {x->proc->code, x->doc.ward, x->unit->agency_id, source, CHANNEL_ONLINE, j->client.id,
                     x->doc.applicant.pid, x->doc.applicant.full_name, x->doc.applicant.birth_date, gender,
                     x->doc.phone, x->doc.email, x->doc.address, x->doc.summary, STATE_SUBMITTED, NATIONAL_NEW,
                     recv, x->has_due ? due : NULL, x->sha, j->body, j->body_len};
    if ((rc = db_begin(c))) return rc;
    if ((rc = dossiers_insert(c, &d, &id))) goto fail;
    /* The key row is taken early: a concurrent twin waits here, then sees the duplicate. */
    if (j->idem_key[0] && (rc = dossiers_idem_insert(c, j->client.id, j->idem_key, x->sha, id))) goto fail;
    if ((rc = dossiers_insert_components(c, id, x->components_json))) goto fail;
    if (x->doc.n_persons && (rc = dossiers_insert_persons(c, id, x->persons_json))) goto fail;
    if ((rc = dossiers_insert_history(c, id, "submit", NULL, STATE_SUBMITTED, NATIONAL_NEW, j->client.id,
                                      "dossier received online", j->request_id)))
        goto fail;
    int y, m, dd;
    calendar_local_date(a->cal, x->received, &y, &m, &dd);
    snprintf(day, sizeof(day), "%02d%02d%02d", y % 100, m, dd);
    if ((rc = dossiers_next_seq(c, x->unit->agency_id, day, &seq))) goto fail;
    snprintf(code, codecap, "%s-%s-%04ld", x->unit->agency_id, day, seq);
    if (!(*receipt = build_receipt(a, x, code, source))) {
        rc = MC_ERR_NOMEM;
        goto fail;
    }
    if ((rc = dossiers_set_code(c, id, code, *receipt))) goto fail;
    if ((rc = db_commit(c))) goto fail_nocommit;
    return MC_OK;
fail:
    db_rollback(c);
fail_nocommit:
    free(*receipt);
    *receipt = NULL;
    return rc;
}

void intake_post(http_job *j, db_conn *c)
{
    intake_ctx *x = calloc(1, sizeof(*x)); /* ~40 KiB: too big for a worker's stack frame budget */
    char *receipt = NULL, code[64] = "";
    mc_err rc;
    if (!x) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        return;
    }
    if (check(j, x)) goto out;
    if (j->idem_key[0]) {
        rc = replay(j, c, x);
        if (rc != MC_ERR_NOT_FOUND) {
            if (rc) reply_problem(&j->out, rc, j->path, "could not read the Idempotency-Key record", NULL);
            goto out;
        }
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    x->received = tv.tv_sec;
    x->received_us = tv.tv_usec;
    calendar_rule rule = {(calendar_rule_kind)x->proc->time_limit.kind, x->proc->time_limit.days};
    x->due = calendar_due(j->app->cal, rule, x->received, &x->has_due);

    for (int attempt = 0;; attempt++) {
        rc = write_dossier(j, c, x, code, sizeof(code), &receipt);
        if (rc == MC_ERR_CONFLICT && j->idem_key[0]) { /* a twin with the same key committed first */
            rc = replay(j, c, x);
            if (rc) reply_problem(&j->out, rc, j->path, "could not read the Idempotency-Key record", NULL);
            goto out;
        }
        if (rc != MC_ERR_DB_RETRY || attempt + 1 >= TXN_ATTEMPTS) break;
    }
    if (rc) {
        log_msg(LOG_WARN, "req=%s intake failed: %s (%s)", j->request_id, mc_err_name(rc), db_conn_error(c));
        reply_problem(&j->out, rc == MC_ERR_CONFLICT ? MC_ERR_INTERNAL : rc, j->path,
                      rc == MC_ERR_DB_UNAVAILABLE ? "the database became unavailable; nothing was stored"
                                                  : "the dossier could not be stored; nothing was stored",
                      NULL);
        goto out;
    }
    reply_receipt(j, code, receipt, false);
out:
    free(receipt);
    free(x->components_json);
    free(x->persons_json);
    free(x);
}
