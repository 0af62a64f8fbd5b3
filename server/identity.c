/* identity.c - the identity-check sweeper: claim (DB job) -> verify every person (popdb, on the loop)
 * -> record (DB job). Nothing here blocks the loop; a remote outage parks dossiers with backoff and
 * they complete by themselves when the remote returns. */
#include "identity.h"
#include "hex.h"

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "idstore.h"
#include "log.h"
#include "pid.h"
#include "popdb.h"
#include "tfmt.h"
#include "workflow.h"

#define MAX_PERSONS (1 + DOSSIER_MAX_PERSONS)
#define MAX_ACTIVE_FACTOR 4 /* dossiers in flight at most identity_batch * this */

typedef struct check_dossier check_dossier;

typedef struct {
    check_dossier *d;
    int seq;                    /* 0 applicant, else dossier_person.seq */
    char role[16];
    char pid[13];
    char name[401];
    char birth[9];              /* yyyyMMdd */
    char gender;
    popdb_outcome out;
} check_person;

struct check_dossier {
    identity *id;
    uint64_t dossier_id;
    char code[64], procedure[16], agency[32], state[32], token[33];
    int attempts;
    check_person persons[MAX_PERSONS];
    int n, pending;
    /* the outcome to record */
    idstore_outcome rec;
    char reason[1000], next_at[32], evidence[100], note[300];
    char *checks_json;
    mc_err record_rc;
    check_dossier *prev, *next;  /* the active list, so identity_free can release what is in flight */
};

struct identity {
    app *a;
    popdb *pop;
    auth_limiter *prefill_limit;   /* per client: look-ups are personal data, and cost the gateway */
    struct event *timer;
    bool claiming, stopping;
    unsigned active;
    check_dossier *list;
    /* the claim job's results (one claim at a time) */
    char token[33];
    int claimed;
    db_rows *rows, *persons;
    mc_err claim_rc;
};

static void schedule(identity *id, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (!id->stopping) evtimer_add(id->timer, &tv);
}

static void dossier_free(check_dossier *d)
{
    if (!d) return;
    identity *id = d->id;
    if (d->prev) d->prev->next = d->next;
    else id->list = d->next;
    if (d->next) d->next->prev = d->prev;
    id->active--;
    free(d->checks_json);
    free(d);
}

/* ---- record ---- */

static const char *role_vi(const char *role)
{
    static const struct { const char *en, *vi; } t[] = {
        {"applicant", "người nộp hồ sơ"}, {"father", "cha"}, {"mother", "mẹ"}, {"spouse", "vợ/chồng"},
        {"deceased", "người đã mất"}, {"child", "con"}, {"subject", "người được cấp"},
        {"household_head", "chủ hộ"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(role, t[i].en) == 0) return t[i].vi;
    return role;
}

static void fields_text(unsigned f, bool vi, char *out, size_t cap)
{
    static const struct { unsigned bit; const char *vi, *en; } t[] = {
        {POPDB_F_NAME, "họ tên", "full name"}, {POPDB_F_BIRTH_DATE, "ngày sinh", "date of birth"},
        {POPDB_F_GENDER, "giới tính", "gender"}, {POPDB_F_MARITAL, "tình trạng hôn nhân", "marital status"},
        {POPDB_F_RESIDENCE, "nơi cư trú", "residence"}};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (f & t[i].bit)
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? ", " : "", vi ? t[i].vi : t[i].en);
}

static void fields_csv(unsigned f, char *out, size_t cap)
{
    static const struct { unsigned bit; const char *name; } t[] = {
        {POPDB_F_NAME, "name"}, {POPDB_F_BIRTH_DATE, "birth_date"}, {POPDB_F_GENDER, "gender"},
        {POPDB_F_MARITAL, "marital"}, {POPDB_F_RESIDENCE, "residence"}};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (f & t[i].bit) len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", len ? "," : "", t[i].name);
}

/* A person's definite answer as the word stored, or NULL when it is a failure to answer. */
static const char *outcome_word(const check_person *p)
{
    switch (p->out.status) {
    case POPDB_VERIFIED: return "verified";
    case POPDB_MISMATCH: return "mismatch";
    case POPDB_NOT_FOUND: return "not_found";
    case POPDB_DECEASED: return "deceased";
    default: return NULL;
    }
}

/* The applicant must be alive; a named person may be recorded as deceased (the deceased of a death
 * registration, a late spouse in a marital-status confirmation, a parent): the identity still matches. */
static bool person_ok(const check_person *p)
{
    return p->out.status == POPDB_VERIFIED || (p->out.status == POPDB_DECEASED && p->seq != 0);
}

static void append_reason(check_dossier *d, const check_person *p)
{
    char vi[160], en[160], line[500];
    size_t len = strlen(d->reason);
    if (p->out.status == POPDB_MISMATCH) {
        fields_text(p->out.mismatched, true, vi, sizeof(vi));
        fields_text(p->out.mismatched, false, en, sizeof(en));
        snprintf(line, sizeof(line), "%s: %s không khớp với Cơ sở dữ liệu quốc gia về dân cư / %s: %s does not match the national population database",
                 role_vi(p->role), vi, p->role, en);
    } else if (p->out.status == POPDB_NOT_FOUND) {
        snprintf(line, sizeof(line), "%s: không tìm thấy số định danh cá nhân trong Cơ sở dữ liệu quốc gia về dân cư / %s: personal ID not found in the national population database",
                 role_vi(p->role), p->role);
    } else {
        snprintf(line, sizeof(line), "%s: Cơ sở dữ liệu quốc gia về dân cư ghi nhận đã mất / %s: recorded as deceased in the national population database",
                 role_vi(p->role), p->role);
    }
    snprintf(d->reason + len, sizeof(d->reason) - len, "%s%s", len ? "; " : "", line);
}

/* Take the transition through the workflow table (role system): its target state and national
 * status. False when the table does not allow it from the dossier's state (then nothing is recorded). */
static bool transition(check_dossier *d, workflow_action act)
{
    workflow_state from, next;
    char why[WORKFLOW_WHY_CAP];
    if (workflow_state_parse(d->state, &from) != MC_OK) return false;
    if (workflow_apply(from, act, WORKFLOW_ROLE_SYSTEM, &next, why, sizeof(why)) != MC_OK) {
        log_msg(LOG_WARN, "identity dossier=%s: %s", d->code, why);
        return false;
    }
    d->rec.to_state = workflow_state_name(next);
    d->rec.national_status = workflow_national_status(next);
    return true;
}

/* Decide the outcome to record; false when there is nothing to record. */
static bool decide(check_dossier *d)
{
    const mc_config *cfg = &d->id->a->cfg;
    bool unavailable = false, mismatch = false;
    for (int i = 0; i < d->n; i++) {
        if (!outcome_word(&d->persons[i])) unavailable = true;
        else if (!person_ok(&d->persons[i])) mismatch = true;
    }
    d->rec = (idstore_outcome){.dossier_id = d->dossier_id, .token = d->token, .from_state = d->state};
    if (unavailable) { /* park: no definite answer for someone; try again later, whatever else we learnt */
        long delay = (long)cfg->identity_backoff_base_s << (d->attempts < 16 ? d->attempts : 16);
        if (delay > cfg->identity_backoff_cap_s) delay = cfg->identity_backoff_cap_s;
        delay = delay / 2 + (long)((unsigned)rand() % (unsigned)(delay / 2 + 1)); /* jitter: half to full */
        tfmt_db(time(NULL) + delay, 0, d->next_at, sizeof(d->next_at));
        d->rec.next_at = d->next_at;
        if (strcmp(d->state, "identity_pending") == 0) { /* parked again: same state, no history row */
            d->rec.to_state = d->state;
            d->rec.national_status = 1;
        } else if (!transition(d, WORKFLOW_ACT_IDENTITY_PARK)) {
            return false;
        }
        snprintf(d->reason, sizeof(d->reason), "Đang chờ xác thực với Cơ sở dữ liệu quốc gia về dân cư (tạm thời không phản hồi) / waiting for the national population database (temporarily unavailable)");
        d->rec.reason = d->reason;
        if (strcmp(d->state, "identity_pending") != 0) {
            snprintf(d->note, sizeof(d->note), "population database unavailable: parked, next attempt at %s UTC", d->next_at);
            d->rec.history_note = d->note;
        }
        return true;
    }
    json_t *arr = json_array();
    for (int i = 0; i < d->n; i++) {
        const check_person *p = &d->persons[i];
        char m[100], mm[100];
        fields_csv(p->out.matched, m, sizeof(m));
        fields_csv(p->out.mismatched, mm, sizeof(mm));
        json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "seq", p->seq, "role", p->role, "outcome",
                                             outcome_word(p), "matched", m, "mismatched", mm, "request_id",
                                             p->out.request_id));
        if (!person_ok(p)) append_reason(d, p);
    }
    d->checks_json = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    d->rec.checks_json = d->checks_json;
    if (mismatch) { /* the dossier stops here with the reason (national status from the table: 3) */
        if (!transition(d, WORKFLOW_ACT_IDENTITY_MISMATCH)) return false;
        d->rec.reason = d->reason;
        snprintf(d->note, sizeof(d->note), "identity check failed: the dossier is stopped, see the reason");
    } else {
        if (!transition(d, WORKFLOW_ACT_IDENTITY_OK)) return false;
        snprintf(d->evidence, sizeof(d->evidence), "population:%s", d->persons[0].out.request_id);
        d->rec.evidence = d->evidence;
        snprintf(d->note, sizeof(d->note), "identity verified against the national population database");
    }
    d->rec.history_note = d->note;
    return true;
}

#define RECORD_ATTEMPTS 5

static void record_work(db_conn *c, void *arg)
{
    check_dossier *d = arg;
    d->record_rc = MC_ERR_DB_UNAVAILABLE;
    /* a deadlock with a concurrent intake batch or action is retried at once, with a little jitter;
     * anything else waits for the lease to expire and the dossier to be claimed again */
    for (int attempt = 0; c && attempt < RECORD_ATTEMPTS; attempt++) {
        d->record_rc = idstore_record(c, &d->rec);
        if (d->record_rc != MC_ERR_DB_RETRY) break;
        struct timespec ts = {0, (long)(1 + (unsigned)rand() % (2u << attempt)) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void record_done(void *arg)
{
    check_dossier *d = arg;
    char masked[16];
    if (d->record_rc == MC_ERR_CONFLICT)
        log_msg(LOG_WARN, "identity dossier=%s lease lost before recording: another process took it over", d->code);
    else if (d->record_rc) /* the lease expires and the dossier is claimed again */
        log_msg(LOG_WARN, "identity dossier=%s outcome not recorded: %s", d->code, mc_err_name(d->record_rc));
    else
        log_msg(LOG_INFO, "identity dossier=%s applicant=%s state=%s attempts=%d", d->code,
                pid_mask(d->persons[0].pid, masked, sizeof(masked)), d->rec.to_state, d->attempts + 1);
    identity *id = d->id;
    dossier_free(d);
    if (!id->stopping && !id->claiming) schedule(id, 0);
}

/* ---- verify ---- */

static void person_done(const popdb_outcome *out, const popdb_citizen *rec, void *arg)
{
    (void)rec; /* data minimisation: the record itself is never kept */
    check_person *p = arg;
    check_dossier *d = p->d;
    p->out = *out;
    if (--d->pending > 0) return;
    if (!decide(d)) { /* nothing to record: the lease expires by itself */
        dossier_free(d);
        return;
    }
    if (db_pool_submit(d->id->a->pool, record_work, record_done, d)) {
        log_msg(LOG_WARN, "identity dossier=%s: worker queue full, outcome dropped (lease will expire)", d->code);
        dossier_free(d);
    }
}

static void start_checks(identity *id, check_dossier *d)
{
    d->pending = d->n;
    for (int i = 0; i < d->n; i++) {
        check_person *p = &d->persons[i];
        p->d = d;
        popdb_query q = {.service_code = d->procedure, .unit = d->agency, .officer = "motcua-system",
                         .personal_id = p->pid, .full_name = p->name, .birth_date = p->birth,
                         .gender = p->gender == 'M' ? POPDB_GENDER_MALE : p->gender == 'F' ? POPDB_GENDER_FEMALE
                                                                                             : POPDB_GENDER_UNSET};
        mc_err rc = popdb_verify(id->pop, &q, person_done, p);
        if (rc) { /* refused before sending (busy, bad query): no answer for this person */
            popdb_outcome o = {.status = POPDB_UNAVAILABLE};
            bool last = d->pending == 1;
            person_done(&o, NULL, p);
            if (last) return; /* d may be gone */
        }
    }
}

/* ---- claim ---- */

static void claim_work(db_conn *c, void *arg)
{
    identity *id = arg;
    id->claimed = 0;
    id->rows = id->persons = NULL;
    if (!c) {
        id->claim_rc = MC_ERR_DB_UNAVAILABLE;
        return;
    }
    id->claim_rc = idstore_claim(c, id->token, id->a->cfg.identity_batch, id->a->cfg.identity_lease_s, &id->claimed);
    if (!id->claim_rc && id->claimed > 0) {
        id->claim_rc = idstore_claimed(c, id->token, &id->rows);
        if (!id->claim_rc) id->claim_rc = idstore_claimed_persons(c, id->token, &id->persons);
    }
}

static void copy(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

static void claim_done(void *arg)
{
    identity *id = arg;
    id->claiming = false;
    if (id->stopping || id->claim_rc) {
        if (id->claim_rc && !id->stopping) log_msg(LOG_WARN, "identity sweep: %s", mc_err_name(id->claim_rc));
        goto out;
    }
    for (size_t i = 0; i < db_rows_count(id->rows); i++) {
        check_dossier *d = calloc(1, sizeof(*d));
        if (!d) break; /* the lease expires and the dossier is claimed again */
        d->id = id;
        d->next = id->list;
        if (id->list) id->list->prev = d;
        id->list = d;
        id->active++;
        d->dossier_id = strtoull(db_rows_get(id->rows, i, 0, NULL), NULL, 10);
        copy(d->code, sizeof(d->code), db_rows_get(id->rows, i, 1, NULL));
        copy(d->procedure, sizeof(d->procedure), db_rows_get(id->rows, i, 2, NULL));
        copy(d->agency, sizeof(d->agency), db_rows_get(id->rows, i, 3, NULL));
        copy(d->state, sizeof(d->state), db_rows_get(id->rows, i, 4, NULL));
        copy(d->token, sizeof(d->token), id->token);
        d->attempts = atoi(db_rows_get(id->rows, i, 5, NULL));
        check_person *ap = &d->persons[d->n++];
        ap->seq = 0;
        copy(ap->role, sizeof(ap->role), "applicant");
        copy(ap->pid, sizeof(ap->pid), db_rows_get(id->rows, i, 6, NULL));
        copy(ap->name, sizeof(ap->name), db_rows_get(id->rows, i, 7, NULL));
        copy(ap->birth, sizeof(ap->birth), db_rows_get(id->rows, i, 8, NULL));
        ap->gender = db_rows_get(id->rows, i, 9, NULL)[0];
        for (size_t k = 0; k < db_rows_count(id->persons) && d->n < MAX_PERSONS; k++) {
            if (strtoull(db_rows_get(id->persons, k, 0, NULL), NULL, 10) != d->dossier_id) continue;
            const char *ppid = db_rows_get(id->persons, k, 3, NULL);
            if (strcmp(ppid, ap->pid) == 0) continue; /* the applicant named again (e.g. as father) */
            check_person *p = &d->persons[d->n++];
            p->seq = atoi(db_rows_get(id->persons, k, 1, NULL));
            copy(p->role, sizeof(p->role), db_rows_get(id->persons, k, 2, NULL));
            copy(p->pid, sizeof(p->pid), ppid);
            copy(p->name, sizeof(p->name), db_rows_get(id->persons, k, 4, NULL));
            copy(p->birth, sizeof(p->birth), db_rows_get(id->persons, k, 5, NULL));
        }
        start_checks(id, d);
    }
out:
    db_rows_free(id->rows);
    db_rows_free(id->persons);
    id->rows = id->persons = NULL;
    /* a full batch means more may be waiting: sweep again at once */
    if (!id->stopping) schedule(id, id->claimed >= id->a->cfg.identity_batch ? 0 : id->a->cfg.identity_poll_ms);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    identity *id = arg;
    if (id->stopping || id->claiming) return;
    if (id->active >= (unsigned)id->a->cfg.identity_batch * MAX_ACTIVE_FACTOR) {
        schedule(id, id->a->cfg.identity_poll_ms);
        return;
    }
    hex_random(16, id->token); /* the claim's lease token */
    id->claiming = true;
    if (db_pool_submit(id->a->pool, claim_work, claim_done, id)) {
        id->claiming = false;
        schedule(id, id->a->cfg.identity_poll_ms);
    }
}

static void popdb_log(void *arg, const char *line)
{
    (void)arg;
    log_msg(LOG_WARN, "popdb: %s", line);
}

mc_err identity_new(app *a, identity **out, char *why, size_t whycap)
{
    const mc_config *cfg = &a->cfg;
    identity *id = NULL;
    *out = NULL;
    if (!cfg->popdb_url[0]) {
        log_msg(LOG_WARN, "identity checks are off: popdb_url is not set");
        return MC_OK;
    }
    if (!(id = calloc(1, sizeof(*id)))) return MC_ERR_NOMEM;
    id->a = a;
    popdb_config pc;
    popdb_config_defaults(&pc);
    pc.base_url = cfg->popdb_url;
    pc.client_id = cfg->popdb_client_id;
    pc.secret = cfg->popdb_secret;
    pc.ca_file = cfg->popdb_ca_file;
    pc.client_cert = cfg->popdb_client_cert[0] ? cfg->popdb_client_cert : NULL;
    pc.client_key = cfg->popdb_client_key[0] ? cfg->popdb_client_key : NULL;
    pc.timeout_ms = cfg->popdb_timeout_ms;
    pc.max_retries = (unsigned)cfg->popdb_max_retries;
    pc.breaker_threshold = (unsigned)cfg->popdb_breaker_threshold;
    pc.breaker_cooldown_ms = (unsigned)cfg->popdb_breaker_cooldown_ms;
    pc.max_inflight = (unsigned)cfg->popdb_max_inflight;
    pc.log = popdb_log;
    mc_err rc = popdb_gateway_new(a->base, &pc, &id->pop);
    if (rc) {
        snprintf(why, whycap, "population database adapter (popdb_url %s): %s", cfg->popdb_url, mc_err_name(rc));
        free(id);
        return rc;
    }
    if (!(id->timer = evtimer_new(a->base, on_timer, id)) ||
        !(id->prefill_limit = auth_limiter_new(cfg->prefill_rate_rps, cfg->prefill_rate_rps * 2))) {
        identity_free(id);
        return MC_ERR_NOMEM;
    }
    schedule(id, 0);
    *out = id;
    return MC_OK;
}

void identity_stop(identity *id)
{
    if (!id) return;
    id->stopping = true;
    if (id->timer) evtimer_del(id->timer);
}

void identity_free(identity *id)
{
    if (!id) return;
    id->stopping = true;
    popdb_free(id->pop); /* drops calls in flight without calling back */
    while (id->list) dossier_free(id->list);
    if (id->timer) event_free(id->timer);
    auth_limiter_free(id->prefill_limit);
    db_rows_free(id->rows);
    db_rows_free(id->persons);
    free(id);
}

/* ---- prefill ---- */

static json_t *address_json(const popdb_address *a)
{
    json_t *o = json_object();
    json_object_set_new(o, "province", json_string(a->province));
    if (a->district[0]) json_object_set_new(o, "district", json_string(a->district));
    json_object_set_new(o, "ward", json_string(a->ward));
    json_object_set_new(o, "detail", json_string(a->detail));
    return o;
}

static void prefill_done(const popdb_outcome *out, const popdb_citizen *rec, void *arg)
{
    http_job *j = arg;
    if (out->status == POPDB_VERIFIED && rec) {
        char bd[11];
        snprintf(bd, sizeof(bd), "%.4s-%.2s-%.2s", rec->birth_date, rec->birth_date + 4, rec->birth_date + 6);
        json_t *o = json_object();
        json_object_set_new(o, "familyName", json_string(rec->family_name));
        json_object_set_new(o, "middleName", json_string(rec->middle_name));
        json_object_set_new(o, "givenName", json_string(rec->given_name));
        json_object_set_new(o, "fullName", json_string(rec->full_name));
        json_object_set_new(o, "gender", json_string(rec->gender == POPDB_GENDER_FEMALE ? "F" : "M"));
        json_object_set_new(o, "birthDate", json_string(bd));
        json_object_set_new(o, "ethnicity", json_string(rec->ethnicity));
        json_object_set_new(o, "maritalStatus", json_string(popdb_marital_name(rec->marital)));
        json_object_set_new(o, "permanentResidence", address_json(&rec->permanent));
        json_object_set_new(o, "currentResidence", address_json(&rec->current));
        json_object_set_new(o, "isHouseholdHead", json_boolean(rec->is_household_head));
        json_object_set_new(o, "source", json_string("csdlqg-dancu"));
        json_object_set_new(o, "requestId", json_string(out->request_id));
        reply_json(&j->out, 200, o);
    } else if (out->status == POPDB_MISMATCH || out->status == POPDB_NOT_FOUND || out->status == POPDB_DECEASED) {
        /* one answer for all three: a look-up must not reveal which part was wrong, or who exists */
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path,
                      "no citizen matches this personal ID, full name and date of birth", NULL);
    } else {
        reply_problem(&j->out, MC_ERR_UPSTREAM_UNAVAILABLE, j->path,
                      "the national population database is not answering; try again later", NULL);
    }
    http_finish(j);
}

/* Loop thread: ask the gateway (the query was checked by identity_prefill). */
static void prefill_lookup(http_job *j)
{
    identity *id = j->app->identity;
    struct evkeyvalq q;
    char bd8[9] = "";
    (void)http_query(j, &q);
    const char *name = evhttp_find_header(&q, "fullName"), *birth = evhttp_find_header(&q, "birthDate");
    snprintf(bd8, sizeof(bd8), "%.4s%.2s%.2s", birth, birth + 5, birth + 8);
    popdb_query pq = {.service_code = "prefill", .unit = "motcua", .officer = j->client.name,
                      .personal_id = j->param, .full_name = name, .birth_date = bd8};
    mc_err rc = popdb_lookup(id->pop, &pq, prefill_done, j);
    evhttp_clear_headers(&q);
    if (rc == MC_OK) return; /* prefill_done finishes */
    reply_problem(&j->out, MC_ERR_BUSY, j->path, "too many look-ups in flight", NULL);
    http_finish(j);
}

/* Worker thread: checks that need no remote, then continue on the loop. */
void identity_prefill(http_job *j, db_conn *c)
{
    (void)c;
    identity *id = j->app->identity;
    struct evkeyvalq q;
    if (!id) {
        reply_problem(&j->out, MC_ERR_UPSTREAM_UNAVAILABLE, j->path, "identity services are not configured", NULL);
        return;
    }
    char who[24]; /* per client id: names are labels, two clients may share one */
    snprintf(who, sizeof(who), "%llu", (unsigned long long)j->client.id);
    if (!auth_limiter_take(id->prefill_limit, who)) {
        j->out.retry_after = 1;
        reply_problem(&j->out, MC_ERR_RATE_LIMITED, j->path, "prefill look-ups over this client's limit", NULL);
        return;
    }
    if (!http_query(j, &q)) goto out;
    const char *consent = evhttp_find_header(&q, "consent"), *name = evhttp_find_header(&q, "fullName");
    const char *birth = evhttp_find_header(&q, "birthDate");
    if (!consent || strcmp(consent, "true") != 0) {
        reply_problem(&j->out, MC_ERR_CONSENT_REQUIRED, j->path,
                      "the applicant's consent is required: add consent=true once the citizen agreed", NULL);
        goto out;
    }
    if (!name || !name[0] || strlen(name) > 400 || !birth || strlen(birth) != 10 || birth[4] != '-' ||
        birth[7] != '-' || !http_digits(j->param, 12, 12)) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path,
                      "give the 12-digit personal ID in the path, fullName and birthDate (YYYY-MM-DD)", NULL);
        goto out;
    }
    j->then = prefill_lookup;
out:
    evhttp_clear_headers(&q);
}
