/* actions_api.c - workflow actions, apology slips and the officials' queue over HTTP. Each action is
 * one transaction on the dossier row locked FOR UPDATE: If-Match is compared under that lock, the
 * state machine (workflow.h) decides, and state, national status, version, history (and the signed
 * result on approve) commit together or not at all. */
#include "actions_api.h"
#include "hex.h"

#include <sys/queue.h> /* TAILQ_* for evkeyvalq */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions.h"
#include "audit.h"
#include "http.h"
#include "dossier_api.h"
#include "dossiers.h"
#include "log.h"
#include "results_api.h"
#include "tfmt.h"
#include "utf8.h"
#include "workflow.h"


#define ACTIONS_ATTEMPTS 3 /* deadlock / lock-wait retries of one action's transaction */
#define DB_TIME_CAP 32

/* ---------------- pure helpers ---------------- */

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

mc_err actions_if_match(const char *header, unsigned version)
{
    if (!header) return MC_ERR_PRECONDITION_REQUIRED;
    const char *p = header;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p || (p[0] == '*' && strspn(p + 1, " \t") == strlen(p + 1))) return MC_ERR_PRECONDITION_REQUIRED;
    char want[24];
    snprintf(want, sizeof(want), "\"v%u\"", version);
    size_t wl = strlen(want);
    while (*p) { /* entity-tag list: [W/]"v<n>" separated by commas */
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        if (p[0] == 'W' && p[1] == '/') p += 2;
        const char *e = p;
        if (*e == '"') {
            e = strchr(e + 1, '"');
            e = e ? e + 1 : p + strlen(p);
        } else {
            e += strcspn(e, ",");
        }
        if ((size_t)(e - p) == wl && memcmp(p, want, wl) == 0) return MC_OK;
        p = e;
    }
    return MC_ERR_PRECONDITION_FAILED;
}

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

mc_err actions_parse_time(const char *s, int utc_offset_s, time_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0, off = utc_offset_s;
    if (!s) return MC_ERR_BAD_REQUEST;
    size_t n = strlen(s);
    if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
        return MC_ERR_BAD_REQUEST;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return MC_ERR_BAD_REQUEST;
    if (n > 10) {
        const char *t = s + 10;
        if ((*t != 'T' && *t != 't') || n < 20 || !digits(t + 1, 2, &h) || t[3] != ':' || !digits(t + 4, 2, &mi) ||
            t[6] != ':' || !digits(t + 7, 2, &se) || h > 23 || mi > 59 || se > 59)
            return MC_ERR_BAD_REQUEST;
        const char *z = t + 9;
        int oh, om;
        if ((z[0] == 'Z' || z[0] == 'z') && !z[1]) off = 0;
        else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 && digits(z + 1, 2, &oh) && z[3] == ':' &&
                 digits(z + 4, 2, &om) && oh <= 14 && om <= 59)
            off = (z[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        else
            return MC_ERR_BAD_REQUEST;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
    *out = timegm(&tm) - off;
    return MC_OK;
}

void actions_cursor_encode(const char *key, uint64_t id, char *out, size_t cap)
{
    char raw[64];
    int n = snprintf(raw, sizeof(raw), "%s|%llu", key ? key : "", (unsigned long long)id);
    if (cap) out[0] = '\0';
    if (n < 0 || (size_t)n >= sizeof(raw) || (size_t)n * 2 + 1 > cap) return;
    hex_encode((const unsigned char *)raw, (size_t)n, out);
}

mc_err actions_cursor_decode(const char *cursor, char *key, size_t keycap, uint64_t *id)
{
    char raw[64];
    size_t n = cursor ? strlen(cursor) : 0;
    if (n == 0 || n % 2 || n / 2 >= sizeof(raw)) return MC_ERR_BAD_REQUEST;
    if (!hex_decode(cursor, n / 2, (unsigned char *)raw) || memchr(raw, '\0', n / 2)) return MC_ERR_BAD_REQUEST;
    raw[n / 2] = '\0';
    char *bar = strchr(raw, '|');
    if (!bar || bar - raw != 26 || (size_t)(bar - raw) >= keycap) return MC_ERR_BAD_REQUEST;
    *bar = '\0';
    const char *ids = bar + 1;
    size_t il = strlen(ids);
    static const char shape[] = "dddd-dd-dd dd:dd:dd.dddddd"; /* exactly what the queue's sort key is */
    for (size_t i = 0; i < sizeof(shape) - 1; i++)
        if (shape[i] == 'd' ? !is_digit(raw[i]) : raw[i] != shape[i]) return MC_ERR_BAD_REQUEST;
    if (il == 0 || il > 19 || strspn(ids, "0123456789") != il) return MC_ERR_BAD_REQUEST;
    /* a real time: one that formats back to itself (timegm would take month 13 or hour 99) */
    time_t t = tfmt_db_parse(raw);
    char back[32];
    if (t == (time_t)-1) return MC_ERR_BAD_REQUEST;
    tfmt_db(t, 0, back, sizeof(back));
    if (memcmp(back, raw, 19) != 0) return MC_ERR_BAD_REQUEST;
    unsigned long long v = strtoull(ids, NULL, 10);
    if (v > INT64_MAX) return MC_ERR_BAD_REQUEST; /* row ids are BIGINT: bound as a signed 64-bit value */
    memcpy(key, raw, 27);
    *id = v;
    return MC_OK;
}

time_t actions_resumed_due(const calendar *cal, time_t old_due, time_t paused_at, time_t resumed_at)
{
    return calendar_add_working_seconds(cal, old_due, calendar_working_seconds_between(cal, paused_at, resumed_at));
}

bool actions_overdue(time_t due, time_t finished, time_t paused, time_t now)
{
    if (due <= 0) return false;
    if (finished > 0) return finished > due;
    return (paused > 0 ? paused : now) > due;
}

/* ---------------- shared pieces of the handlers ---------------- */

static const char *col(db_rows *r, size_t row, size_t c) { return db_rows_get(r, row, c, NULL); }

/* UTC DATETIME text -> time_t; 0 for NULL or bad text. */
static time_t db_t(const char *s)
{
    time_t t = s ? tfmt_db_parse(s) : (time_t)-1;
    return t == (time_t)-1 ? 0 : t;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* The local offset the calendar renders times in (from its "+HH:MM" suffix). */
static int local_offset(const calendar *cal)
{
    char buf[CALENDAR_FMT_CAP + 8];
    int oh = 0, om = 0;
    calendar_format_local(cal, 86400 * 365, buf, sizeof(buf));
    size_t n = strlen(buf);
    if (n < 6 || !digits(buf + n - 5, 2, &oh) || !digits(buf + n - 2, 2, &om)) return 0;
    return (buf[n - 6] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
}

static workflow_role client_role(const http_job *j)
{
    workflow_role r = WORKFLOW_ROLE__COUNT;
    if (workflow_role_parse(auth_role_name(j->client.role), &r)) return WORKFLOW_ROLE__COUNT;
    return r;
}

/* The actions this client may take from state, as a JSON array. */
static json_t *allowed_json(workflow_state st, workflow_role role)
{
    workflow_action acts[WORKFLOW_ACT__COUNT];
    size_t n = workflow_allowed(st, role, acts, WORKFLOW_ACT__COUNT);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < WORKFLOW_ACT__COUNT; i++) json_array_append_new(arr, json_string(workflow_action_name(acts[i])));
    return arr;
}

/* Workflow facts of a dossier (a row with actions_lock's columns first) for the reply. */
static json_t *workflow_json(const http_job *j, db_rows *r)
{
    json_t *o = json_object();
    workflow_state st;
    time_t now = time(NULL);
    bool overdue = actions_overdue(db_t(col(r, 0, AC_DUE)), db_t(col(r, 0, AC_FINISHED)), db_t(col(r, 0, AC_PAUSED)), now);
    json_object_set_new(o, "assignee", str_or_null(col(r, 0, AC_ASSIGNEE)));
    json_object_set_new(o, "pausedAt", reply_local_time(j->app->cal, col(r, 0, AC_PAUSED)));
    json_object_set_new(o, "feeVnd", col(r, 0, AC_FEE) ? json_integer(atoll(col(r, 0, AC_FEE))) : json_null());
    json_object_set_new(o, "paidAt", reply_local_time(j->app->cal, col(r, 0, AC_PAID)));
    json_object_set_new(o, "paymentRef", str_or_null(col(r, 0, AC_PAYMENT_REF)));
    json_object_set_new(o, "outcomeReason", str_or_null(col(r, 0, AC_OUTCOME_REASON)));
    json_object_set_new(o, "resultId", str_or_null(col(r, 0, AC_RESULT_ID)));
    if (col(r, 0, AC_RESULT_ID)) json_object_set_new(o, "resultHref", json_pack("s+", "/v1/results/", col(r, 0, AC_RESULT_ID)));
    json_object_set_new(o, "finishedAt", reply_local_time(j->app->cal, col(r, 0, AC_FINISHED)));
    json_object_set_new(o, "rescheduledTo", reply_local_time(j->app->cal, col(r, 0, AC_RESCHEDULED)));
    json_object_set_new(o, "overdue", json_boolean(overdue));
    if (workflow_state_parse(col(r, 0, AC_STATE), &st) == MC_OK)
        json_object_set_new(o, "allowedActions", allowed_json(st, client_role(j)));
    return o;
}

void actions_api_facts(const http_job *j, db_rows *r, json_t *o)
{
    if (db_rows_count(r) > 0) json_object_set_new(o, "workflow", workflow_json(j, r));
}

/* Reply with the dossier view of GET /v1/dossiers/{code} (workflow facts included) and new ETag. */
static void reply_view(http_job *j, db_conn *c, const char *code)
{
    snprintf(j->param, sizeof(j->param), "%s", code);
    /* the body, ETag and scoping exactly as GET; the action's own audit row covers this read */
    dossier_api_view(j, c, false);
}

/* Trimmed text of at most max bytes without control characters into out (cap > max). */
static bool text_field(json_t *in, const char *name, size_t max, char *out, size_t cap)
{
    json_t *v = json_object_get(in, name);
    if (!json_is_string(v)) return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (n == 0 || n > max || n >= cap) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t') return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

/* A positive integer field, default def when absent. */
static bool int_field(json_t *in, const char *name, int def, int *out)
{
    json_t *v = json_object_get(in, name);
    if (!v) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 10000) return false;
    *out = (int)json_integer_value(v);
    return true;
}

/* What an action's body carries (workflow_action_inputs says which are required). */
typedef struct {
    char reason[ACTIONS_TEXT_MAX + 1];
    char note[ACTIONS_TEXT_MAX + 1];
    char officer[ACTIONS_OFFICER_MAX + 1];
    char payment_ref[ACTIONS_PAYREF_MAX + 1];
    char components[CATALOG_MAX_COMPONENTS][CATALOG_COMP_CODE_CAP];
    size_t n_components;
    int copies, pages;
} action_input;

static bool comp_code_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CATALOG_COMP_CODE_CAP) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '.' || s[i] == '_'))
            return false;
    return true;
}

/* Parse and check the body against the action's required inputs; on failure j->out is set. */
static bool parse_input(http_job *j, workflow_action act, action_input *in)
{
    json_t *o = NULL;
    bool ok = false;
    const char *bad = NULL;
    unsigned need = workflow_action_inputs(act);
    memset(in, 0, sizeof(*in));
    if (j->body_len) {
        json_error_t jerr;
        o = json_loadb(j->body, j->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(o)) {
            reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "the body must be a JSON object", NULL);
            goto out;
        }
    } else {
        o = json_object();
    }
    if (json_object_get(o, "note") && !text_field(o, "note", ACTIONS_TEXT_MAX, in->note, sizeof(in->note))) {
        bad = "'note', when given, is a non-empty string of at most 1000 bytes";
        goto fail;
    }
    if ((need & WORKFLOW_IN_REASON) && !text_field(o, "reason", ACTIONS_TEXT_MAX, in->reason, sizeof(in->reason))) {
        bad = "'reason' is required: a non-empty string of at most 1000 bytes";
        goto fail;
    }
    if ((need & WORKFLOW_IN_OFFICER) &&
        !text_field(o, "officer", ACTIONS_OFFICER_MAX, in->officer, sizeof(in->officer))) {
        bad = "'officer' is required: a non-empty string of at most 100 bytes";
        goto fail;
    }
    if ((need & WORKFLOW_IN_PAYMENT_REF) &&
        !text_field(o, "paymentRef", ACTIONS_PAYREF_MAX, in->payment_ref, sizeof(in->payment_ref))) {
        bad = "'paymentRef' is required: a non-empty string of at most 128 bytes";
        goto fail;
    }
    if ((need & WORKFLOW_IN_FEE) && (!int_field(o, "copies", 1, &in->copies) || !int_field(o, "pages", 1, &in->pages))) {
        bad = "'copies' and 'pages', when given, are integers 1..10000";
        goto fail;
    }
    if (need & WORKFLOW_IN_COMPONENTS) {
        json_t *arr = json_object_get(o, "components"), *v;
        size_t i;
        if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > CATALOG_MAX_COMPONENTS) {
            bad = "'components' is required: an array of 1..16 component codes such as \"TP1\"";
            goto fail;
        }
        json_array_foreach(arr, i, v) {
            if (!json_is_string(v) || !comp_code_ok(json_string_value(v))) {
                bad = "'components' holds component codes such as \"TP1\"";
                goto fail;
            }
            for (size_t k = 0; k < in->n_components; k++)
                if (strcmp(in->components[k], json_string_value(v)) == 0) {
                    bad = "'components' names a component twice";
                    goto fail;
                }
            snprintf(in->components[in->n_components++], CATALOG_COMP_CODE_CAP, "%s", json_string_value(v));
        }
    }
    ok = true;
    goto out;
fail:
    reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path, bad, NULL);
out:
    json_decref(o);
    return ok;
}

/* The components as compact JSON text; caller frees; NULL when out of memory. */
static char *components_text(const action_input *in)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < in->n_components; i++) json_array_append_new(arr, json_string(in->components[i]));
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

static void now_db(struct timespec *ts, char *buf, size_t cap)
{
    clock_gettime(CLOCK_REALTIME, ts);
    tfmt_db(ts->tv_sec, ts->tv_nsec / 1000, buf, cap);
}

/* One action's transaction, its outcome for the reply. */
typedef struct {
    http_job *j;
    db_conn *c;
    const char *code;
    workflow_action act;
    workflow_role role;
    const action_input *in;
    mc_err err;
    char detail[512];
    json_t *extra;       /* owned until handed to reply_problem */
    char from[40], to[40];
    db_rows *after;      /* on success: the dossier row as committed (owned) */
} action_tx;

static mc_err tx_fail(action_tx *t, mc_err err, const char *detail)
{
    t->err = err;
    snprintf(t->detail, sizeof(t->detail), "%s", detail);
    return err;
}

/* The audit row of the change; audit_append wants to be the last statement before COMMIT. */
static mc_err audit_row(action_tx *t, const char *action, const char *before, const char *after, const char *detail)
{
    const http_job *j = t->j;
    audit_entry e = {.actor_client_id = j->client.id, .role = auth_role_name(j->client.role),
                     .ward = j->client.ward[0] ? j->client.ward : NULL, .action = action, .dossier_code = t->code,
                     .before_state = before, .after_state = after, .request_id = j->request_id, .detail = detail};
    return audit_append(t->c, &e);
}

/* Every requested component must be in the supplement (the citizen answers the whole request). */
static mc_err check_supplied(action_tx *t, const char *requested_json)
{
    json_error_t jerr;
    json_t *req = json_loads(requested_json ? requested_json : "[]", 0, &jerr), *v;
    size_t i;
    mc_err rc = MC_OK;
    if (!json_is_array(req)) {
        json_decref(req);
        return tx_fail(t, MC_ERR_INTERNAL, "the supplement request cannot be read");
    }
    json_array_foreach(req, i, v) {
        bool found = false;
        for (size_t k = 0; k < t->in->n_components && json_is_string(v); k++)
            found = found || strcmp(t->in->components[k], json_string_value(v)) == 0;
        if (!found) {
            char d[128];
            snprintf(d, sizeof(d), "the supplement must include component %s, which the ward asked for",
                     json_is_string(v) ? json_string_value(v) : "?");
            rc = tx_fail(t, MC_ERR_INVALID_FIELD, d);
            break;
        }
    }
    json_decref(req);
    return rc;
}

/* Start the transaction of an action on t->code: lock the dossier row, check visibility (404), If-Match
 * against its version (428/412) and read its state. On error t says why; the caller rolls back and
 * frees *r (which may be set). */
static mc_err tx_open(action_tx *t, db_rows **r, workflow_state *st, unsigned *version)
{
    char why[160];
    mc_err rc = db_begin(t->c);
    if (rc) return tx_fail(t, rc, "could not start the transaction");
    if ((rc = dossiers_lock(t->c, t->code, r))) return tx_fail(t, rc, "could not read the dossier");
    if (db_rows_count(*r) == 0 || !auth_sees_dossier(&t->j->client, col(*r, 0, AC_WARD), col(*r, 0, AC_CLIENT)))
        return tx_fail(t, MC_ERR_NOT_FOUND, "no dossier with this code is visible to this client");
    *version = (unsigned)strtoul(col(*r, 0, AC_VERSION), NULL, 10);
    if ((rc = actions_if_match(t->j->if_match, *version))) {
        snprintf(why, sizeof(why), "If-Match does not name the current version of the dossier (ETag \"v%u\")", *version);
        return tx_fail(t, rc, why);
    }
    if (workflow_state_parse(col(*r, 0, AC_STATE), st)) return tx_fail(t, MC_ERR_INTERNAL, "the dossier is in an unknown state");
    return MC_OK;
}

/* The locked dossier row r as the update to write: every column as it is, the version to expect,
 * and the given state with its national status; callers change what their action changes. */
static actions_row row_of(db_rows *r, unsigned version, const char *state, workflow_state st)
{
    const char *fee_s = col(r, 0, AC_FEE);
    return (actions_row){.id = strtoull(col(r, 0, AC_ID), NULL, 10), .expect_version = version, .state = state,
                         .national_status = workflow_national_status(st), .due_at = col(r, 0, AC_DUE),
                         .assignee = col(r, 0, AC_ASSIGNEE), .paused_at = col(r, 0, AC_PAUSED),
                         .fee_vnd = fee_s ? atoll(fee_s) : -1, .paid_at = col(r, 0, AC_PAID),
                         .payment_ref = col(r, 0, AC_PAYMENT_REF), .outcome_reason = col(r, 0, AC_OUTCOME_REASON),
                         .result_id = col(r, 0, AC_RESULT_ID), .finished_at = col(r, 0, AC_FINISHED),
                         .rescheduled_to = col(r, 0, AC_RESCHEDULED), .status_reason = col(r, 0, AC_STATUS_REASON)};
}

/* The locked row r as w wrote it, for the reply: the lock held until COMMIT means nothing else
 * changed it, so it need not be read again. Values are copied first: w borrows some from r. */
static mc_err row_written(db_rows *r, const actions_row *w)
{
    char version[16], national[16], fee[24];
    snprintf(version, sizeof(version), "%u", w->expect_version + 1);
    snprintf(national, sizeof(national), "%d", w->national_status);
    snprintf(fee, sizeof(fee), "%lld", w->fee_vnd);
    const struct {
        size_t col;
        const char *val;
    } set[] = {{AC_STATE, w->state}, {AC_NATIONAL, national}, {AC_VERSION, version}, {AC_DUE, w->due_at},
               {AC_ASSIGNEE, w->assignee}, {AC_PAUSED, w->paused_at}, {AC_FEE, w->fee_vnd < 0 ? NULL : fee},
               {AC_PAID, w->paid_at}, {AC_PAYMENT_REF, w->payment_ref}, {AC_OUTCOME_REASON, w->outcome_reason},
               {AC_RESULT_ID, w->result_id}, {AC_FINISHED, w->finished_at}, {AC_RESCHEDULED, w->rescheduled_to},
               {AC_STATUS_REASON, w->status_reason}};
    enum { N = sizeof(set) / sizeof(set[0]) };
    char *copy[N] = {NULL};
    mc_err rc = MC_OK;
    for (size_t i = 0; i < N && !rc; i++)
        if (set[i].val && !(copy[i] = strdup(set[i].val))) rc = MC_ERR_NOMEM;
    for (size_t i = 0; i < N && !rc; i++) rc = db_rows_set(r, 0, set[i].col, copy[i]);
    for (size_t i = 0; i < N; i++) free(copy[i]);
    return rc;
}

static void fault_point(const char *name, const http_job *j, const char *code)
{
    const char *f = getenv(ACTIONS_FAULT_ENV);
    if (f && strcmp(f, name) == 0) {
        log_msg(LOG_WARN, "req=%s dossier=%s test fault %s: exiting before COMMIT", j->request_id, code, name);
        _exit(1);
    }
}

static mc_err action_run(action_tx *t)
{
    http_job *j = t->j;
    db_conn *c = t->c;
    db_rows *r = NULL, *supp = NULL;
    char *comps = NULL;
    char why[WORKFLOW_WHY_CAP + 64] = "", now[DB_TIME_CAP], due_new[DB_TIME_CAP], rid[RESULTS_ID_CAP] = "";
    char note[ACTIONS_TEXT_MAX * 2 + 256] = "", loc_a[CALENDAR_FMT_CAP + 8], loc_b[CALENDAR_FMT_CAP + 8];
    struct timespec ts;
    workflow_state st, next;
    unsigned version = 0;
    bool due_moved = false;
    mc_err rc = tx_open(t, &r, &st, &version);
    if (rc) goto out;
    if ((rc = workflow_apply(st, t->act, t->role, &next, why, sizeof(why)))) {
        tx_fail(t, rc, why);
        if (rc == MC_ERR_CONFLICT)
            t->extra = json_pack("{s:s, s:o}", "currentState", workflow_state_name(st), "allowedActions",
                                 allowed_json(st, t->role));
        goto out;
    }
    snprintf(t->from, sizeof(t->from), "%s", workflow_state_name(st));
    snprintf(t->to, sizeof(t->to), "%s", workflow_state_name(next));
    now_db(&ts, now, sizeof(now));
    uint64_t id = strtoull(col(r, 0, AC_ID), NULL, 10);
    actions_row row = row_of(r, version, t->to, next);
    const action_input *in = t->in;
    const catalog_proc *proc = catalog_find(j->app->cat, col(r, 0, AC_PROCEDURE));
    switch (t->act) {
    case WORKFLOW_ACT_REFUSE:
    case WORKFLOW_ACT_WITHDRAW:
    case WORKFLOW_ACT_STOP:
    case WORKFLOW_ACT_REJECT:
        row.outcome_reason = in->reason;
        row.status_reason = in->reason;
        row.finished_at = now;
        snprintf(note, sizeof(note), "%s", in->reason);
        break;
    case WORKFLOW_ACT_ASSIGN:
        row.assignee = in->officer;
        snprintf(note, sizeof(note), "assigned to %s", in->officer);
        break;
    case WORKFLOW_ACT_REQUEST_SUPPLEMENT:
        for (size_t i = 0; i < in->n_components; i++)
            if (!proc || !catalog_find_component(proc, in->components[i])) {
                snprintf(why, sizeof(why), "component %s is not part of procedure %s", in->components[i],
                         col(r, 0, AC_PROCEDURE));
                rc = tx_fail(t, MC_ERR_INVALID_FIELD, why);
                goto out;
            }
        if (!(comps = components_text(in))) {
            rc = tx_fail(t, MC_ERR_NOMEM, "out of memory");
            goto out;
        }
        row.paused_at = now;
        row.status_reason = in->reason;
        if ((rc = actions_supplement_open(c, id, now, j->client.id, in->reason, comps, col(r, 0, AC_DUE)))) {
            tx_fail(t, rc, "could not record the supplement request");
            goto out;
        }
        snprintf(note, sizeof(note), "%s; components %s; clock paused", in->reason, comps);
        break;
    case WORKFLOW_ACT_SUPPLEMENT: {
        if ((rc = actions_supplement_current(c, id, &supp))) {
            tx_fail(t, rc, "could not read the supplement request");
            goto out;
        }
        if (db_rows_count(supp) && (rc = check_supplied(t, col(supp, 0, 2)))) goto out;
        if (!(comps = components_text(in))) {
            rc = tx_fail(t, MC_ERR_NOMEM, "out of memory");
            goto out;
        }
        time_t paused = db_t(col(r, 0, AC_PAUSED)), due = db_t(col(r, 0, AC_DUE));
        if (due && paused) {
            time_t nd = actions_resumed_due(j->app->cal, due, paused, ts.tv_sec);
            tfmt_db(nd, 0, due_new, sizeof(due_new));
            row.due_at = due_new;
            due_moved = true;
            calendar_format_local(j->app->cal, due, loc_a, sizeof(loc_a));
            calendar_format_local(j->app->cal, nd, loc_b, sizeof(loc_b));
            snprintf(note, sizeof(note), "supplied %s; due %s -> %s", comps, loc_a, loc_b);
        } else {
            snprintf(note, sizeof(note), "supplied %s", comps);
        }
        row.paused_at = NULL;
        row.status_reason = NULL;
        if (db_rows_count(supp) &&
            (rc = actions_supplement_close(c, strtoull(col(supp, 0, 0), NULL, 10), now, j->client.id, comps,
                                           due_moved ? due_new : col(r, 0, AC_DUE)))) {
            tx_fail(t, rc, "could not close the supplement request");
            goto out;
        }
        break;
    }
    case WORKFLOW_ACT_REQUEST_PAYMENT: {
        long fee = 0;
        if (!proc || proc->fee.kind == CATALOG_FEE_NONE) {
            rc = tx_fail(t, MC_ERR_CONFLICT, "the procedure charges no fee");
            goto out;
        }
        if ((rc = catalog_fee_total(&proc->fee, in->copies, in->pages, &fee))) {
            rc = tx_fail(t, MC_ERR_INVALID_FIELD, "'copies' and 'pages' must be 1..10000");
            goto out;
        }
        row.fee_vnd = fee;
        row.paid_at = NULL;
        row.payment_ref = NULL;
        snprintf(note, sizeof(note), "fee %ld VND (%d copies, %d pages)", fee, in->copies, in->pages);
        break;
    }
    case WORKFLOW_ACT_MARK_PAID:
        row.paid_at = now;
        row.payment_ref = in->payment_ref;
        snprintf(note, sizeof(note), "paid, reference %s", in->payment_ref);
        break;
    case WORKFLOW_ACT_APPROVE:
        /* Sign and store the result in this transaction: it commits with the state change or not at all. */
        if ((rc = results_api_issue(j->app->results, j->app->cat, j->app->cal, c, t->code, rid, sizeof(rid), why, sizeof(why)))) {
            tx_fail(t, rc, why[0] ? why : "could not issue the result");
            goto out;
        }
        fault_point("crash_after_sign", j, t->code);
        row.result_id = rid;
        row.finished_at = now;
        snprintf(note, sizeof(note), "result %s signed", rid);
        break;
    default:
        break;
    }
    if (in->note[0]) {
        size_t nl = strlen(note);
        snprintf(note + nl, sizeof(note) - nl, "%s%s", nl ? "; " : "", in->note);
    }
    note[utf8_cut(note, strlen(note), ACTIONS_TEXT_MAX)] = '\0'; /* history notes are VARCHAR(1000) */
    if ((rc = actions_update(c, &row))) {
        tx_fail(t, rc == MC_ERR_CONFLICT ? MC_ERR_PRECONDITION_FAILED : rc, "the dossier changed meanwhile");
        rc = t->err;
        goto out;
    }
    if ((rc = actions_history(c, id, now, workflow_action_name(t->act), t->from, t->to, row.national_status,
                              j->client.id, note[0] ? note : NULL, j->request_id,
                              due_moved ? col(r, 0, AC_DUE) : NULL, due_moved ? due_new : NULL))) {
        tx_fail(t, rc, "could not write the history");
        goto out;
    }
    if ((rc = audit_row(t, workflow_action_name(t->act), t->from, t->to, rid[0] ? rid : (due_moved ? "due moved" : NULL)))) {
        tx_fail(t, rc, "could not write the audit trail");
        goto out;
    }
    if ((rc = db_commit(c))) {
        tx_fail(t, rc, "could not commit");
        goto out;
    }
    if (row_written(r, &row) == MC_OK) { /* else the reply reads the row again */
        t->after = r;
        r = NULL;
    }
out:
    if (rc) db_rollback(c);
    free(comps);
    db_rows_free(supp);
    db_rows_free(r);
    return rc;
}

/* "/v1/dossiers/<code>/..." -> code. */
static bool path_code(const char *path, char *code, size_t cap)
{
    static const char pre[] = "/v1/dossiers/";
    if (strncmp(path, pre, sizeof(pre) - 1) != 0) return false;
    const char *s = path + sizeof(pre) - 1, *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 0 || n >= cap) return false;
    memcpy(code, s, n);
    code[n] = '\0';
    return true;
}

void actions_api_post(http_job *j, db_conn *c)
{
    char code[64];
    const char *act_name = strrchr(j->path, '/');
    workflow_action act;
    action_input *in = NULL;
    if (!path_code(j->path, code, sizeof(code)) || !act_name || workflow_action_parse(act_name + 1, &act)) {
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no such action (see docs/workflow.md)", NULL);
        return;
    }
    workflow_role role = client_role(j);
    if (role == WORKFLOW_ROLE__COUNT || !(workflow_action_roles(act) & (1u << role))) {
        char d[128];
        snprintf(d, sizeof(d), "role '%s' may never take action '%s'", auth_role_name(j->client.role), act_name + 1);
        reply_problem(&j->out, MC_ERR_FORBIDDEN, j->path, d, NULL);
        return;
    }
    if (actions_if_match(j->if_match, 0) == MC_ERR_PRECONDITION_REQUIRED) {
        reply_problem(&j->out, MC_ERR_PRECONDITION_REQUIRED, j->path,
                      "send If-Match with the dossier's ETag (GET /v1/dossiers/{code})", NULL);
        return;
    }
    if (!(in = malloc(sizeof(*in)))) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        return;
    }
    if (!parse_input(j, act, in)) goto out;
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", code);
    action_tx t = {.j = j, .c = c, .code = code, .act = act, .role = role, .in = in};
    mc_err rc = MC_OK;
    for (int attempt = 0; attempt < ACTIONS_ATTEMPTS; attempt++) {
        json_decref(t.extra);
        t.extra = NULL;
        if ((rc = action_run(&t)) != MC_ERR_DB_RETRY) break;
    }
    if (rc) {
        reply_problem(&j->out, t.err ? t.err : rc, j->path, t.detail, t.extra);
        goto out;
    }
    log_msg(LOG_INFO, "req=%s dossier=%s action=%s %s -> %s by client %llu", j->request_id, code,
            workflow_action_name(act), t.from, t.to, (unsigned long long)j->client.id);
    if (t.after) /* the action's own audit row covers this read */
        dossier_api_view_row(j, c, t.after);
    else
        reply_view(j, c, code);
    db_rows_free(t.after);
out:
    free(in);
}

/* ---------------- apology slip (form 04) ---------------- */

static bool clock_running(workflow_state st)
{
    return st == WORKFLOW_ST_RECEIVED || st == WORKFLOW_ST_PROCESSING || st == WORKFLOW_ST_SUPPLEMENT_REQUESTED ||
           st == WORKFLOW_ST_PAYMENT_REQUIRED;
}

static mc_err apology_run(action_tx *t, time_t new_date)
{
    http_job *j = t->j;
    db_conn *c = t->c;
    db_rows *r = NULL;
    char now[DB_TIME_CAP], nd[DB_TIME_CAP], why[160], note[ACTIONS_TEXT_MAX + 96], loc[CALENDAR_FMT_CAP + 8];
    struct timespec ts;
    workflow_state st;
    unsigned version = 0;
    mc_err rc = tx_open(t, &r, &st, &version);
    if (rc) goto out;
    time_t due = db_t(col(r, 0, AC_DUE));
    if (!clock_running(st) || !due) {
        snprintf(why, sizeof(why), "dossier is in state '%s'%s: an apology slip is for a dossier still in process",
                 workflow_state_name(st), due ? "" : " without a due time");
        rc = tx_fail(t, MC_ERR_CONFLICT, why);
        t->extra = json_pack("{s:s}", "currentState", workflow_state_name(st));
        goto out;
    }
    now_db(&ts, now, sizeof(now));
    if (new_date <= due || new_date <= ts.tv_sec) {
        rc = tx_fail(t, MC_ERR_INVALID_FIELD, "'newDate' must be later than both the due time and now");
        goto out;
    }
    snprintf(t->from, sizeof(t->from), "%s", workflow_state_name(st));
    snprintf(t->to, sizeof(t->to), "%s", t->from);
    tfmt_db(new_date, 0, nd, sizeof(nd));
    uint64_t id = strtoull(col(r, 0, AC_ID), NULL, 10);
    actions_row row = row_of(r, version, t->from, st);
    row.rescheduled_to = nd;
    calendar_format_local(j->app->cal, new_date, loc, sizeof(loc));
    snprintf(note, sizeof(note), "form 04: new date %s; %s", loc, t->in->note);
    note[utf8_cut(note, strlen(note), ACTIONS_TEXT_MAX)] = '\0'; /* history notes are VARCHAR(1000) */
    if ((rc = actions_apology_insert(c, id, now, j->client.id, col(r, 0, AC_DUE), nd, t->in->note)) ||
        (rc = actions_update(c, &row)) ||
        (rc = actions_history(c, id, now, "apology_slip", t->from, t->to, row.national_status, j->client.id, note,
                              j->request_id, col(r, 0, AC_DUE), nd)) ||
        (rc = audit_row(t, "apology_slip", t->from, t->to, "form 04"))) {
        tx_fail(t, rc == MC_ERR_CONFLICT ? MC_ERR_PRECONDITION_FAILED : rc, "could not record the apology slip");
        rc = t->err;
        goto out;
    }
    if ((rc = db_commit(c))) tx_fail(t, rc, "could not commit");
out:
    if (rc) db_rollback(c);
    db_rows_free(r);
    return rc;
}

void actions_api_apology(http_job *j, db_conn *c)
{
    action_input *in = NULL;
    json_t *o = NULL;
    time_t new_date = 0;
    if (actions_if_match(j->if_match, 0) == MC_ERR_PRECONDITION_REQUIRED) {
        reply_problem(&j->out, MC_ERR_PRECONDITION_REQUIRED, j->path,
                      "send If-Match with the dossier's ETag (GET /v1/dossiers/{code})", NULL);
        return;
    }
    json_error_t jerr;
    o = j->body_len ? json_loadb(j->body, j->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!json_is_object(o)) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "send a JSON object {\"newDate\": ..., \"note\": ...}", NULL);
        goto out;
    }
    if (!(in = calloc(1, sizeof(*in)))) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        goto out;
    }
    json_t *nd = json_object_get(o, "newDate");
    if (!json_is_string(nd) ||
        actions_parse_time(json_string_value(nd), local_offset(j->app->cal), &new_date) != MC_OK ||
        !text_field(o, "note", ACTIONS_TEXT_MAX, in->note, sizeof(in->note))) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path,
                      "'newDate' (e.g. 2026-12-01T17:00:00+07:00) and 'note' (the apology, at most 1000 bytes) are required",
                      NULL);
        goto out;
    }
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", j->param);
    char code[64];
    snprintf(code, sizeof(code), "%s", j->param);
    action_tx t = {.j = j, .c = c, .code = code, .role = WORKFLOW_ROLE_OFFICIAL, .in = in};
    mc_err rc = MC_OK;
    for (int attempt = 0; attempt < ACTIONS_ATTEMPTS; attempt++) {
        json_decref(t.extra);
        t.extra = NULL;
        if ((rc = apology_run(&t, new_date)) != MC_ERR_DB_RETRY) break;
    }
    if (rc) {
        reply_problem(&j->out, t.err ? t.err : rc, j->path, t.detail, t.extra);
        goto out;
    }
    log_msg(LOG_INFO, "req=%s dossier=%s apology slip recorded by client %llu", j->request_id, code,
            (unsigned long long)j->client.id);
    reply_view(j, c, code);
out:
    free(in);
    json_decref(o);
}

/* ---------------- queue ---------------- */

static bool flag_param(const char *v, int *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) *out = 0;
    else return false;
    return true;
}

static bool code_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '.' ||
              s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* States of the state= filter (comma-separated names), default every non-final state. */
static json_t *states_filter(const char *v, bool *ok)
{
    json_t *arr = json_array();
    *ok = true;
    if (!v) {
        for (int s = 0; s < WORKFLOW_ST__COUNT; s++)
            if (!workflow_is_terminal((workflow_state)s)) json_array_append_new(arr, json_string(workflow_state_name((workflow_state)s)));
        return arr;
    }
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        workflow_state st;
        if (workflow_state_parse(tok, &st) || json_array_size(arr) >= WORKFLOW_ST__COUNT) {
            *ok = false;
            break;
        }
        json_array_append_new(arr, json_string(workflow_state_name(st)));
    }
    if (json_array_size(arr) == 0) *ok = false;
    return arr;
}

void actions_api_queue(http_job *j, db_conn *c)
{
    struct evkeyvalq q;
    struct evkeyval *kv;
    db_rows *r = NULL;
    json_t *states = NULL;
    char *states_txt = NULL;
    char due_from[DB_TIME_CAP], due_before[DB_TIME_CAP], now[DB_TIME_CAP], key[32], cursor[ACTIONS_CURSOR_CAP];
    struct timespec ts;
    const char *bad = NULL;
    if (!j->client.ward[0]) {
        reply_problem(&j->out, MC_ERR_FORBIDDEN, j->path, "this official's key names no ward", NULL);
        return;
    }
    if (!http_query(j, &q)) goto out;
    static const char *known[] = {"state", "procedure", "assignee", "due_before", "overdue", "due_today", "limit", "cursor"};
    TAILQ_FOREACH(kv, &q, next) {
        bool k = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) k = k || strcmp(kv->key, known[i]) == 0;
        if (!k) {
            bad = "unknown query parameter (state, procedure, assignee, due_before, overdue, due_today, limit, cursor)";
            goto bad;
        }
    }
    now_db(&ts, now, sizeof(now));
    bool ok;
    const char *v;
    actions_queue_filter f = {.ward = j->client.ward, .overdue = -1, .now = now, .limit = ACTIONS_PAGE_DEFAULT};
    states = states_filter(evhttp_find_header(&q, "state"), &ok);
    if (!ok) {
        bad = "state must be a comma-separated list of state names (docs/workflow.md)";
        goto bad;
    }
    if (!(states_txt = json_dumps(states, JSON_COMPACT))) {
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        goto out;
    }
    f.states_json = states_txt;
    if ((v = evhttp_find_header(&q, "procedure")) && !code_ok(v, 16)) {
        bad = "procedure must be a procedure code such as 1.001193";
        goto bad;
    }
    f.procedure = v;
    if ((v = evhttp_find_header(&q, "assignee")) && (!v[0] || strlen(v) > ACTIONS_OFFICER_MAX)) {
        bad = "assignee must be 1..100 bytes";
        goto bad;
    }
    f.assignee = v;
    if ((v = evhttp_find_header(&q, "overdue")) && !flag_param(v, &f.overdue)) {
        bad = "overdue must be true or false";
        goto bad;
    }
    time_t before = 0, from = 0;
    if ((v = evhttp_find_header(&q, "due_before"))) {
        if (actions_parse_time(v, local_offset(j->app->cal), &before)) {
            bad = "due_before must be a time such as 2026-12-01T17:00:00+07:00 or a date";
            goto bad;
        }
    }
    int today = 0;
    if ((v = evhttp_find_header(&q, "due_today")) && !flag_param(v, &today)) {
        bad = "due_today must be true or false";
        goto bad;
    }
    if (today) { /* [local midnight, next local midnight) */
        int y, m, d, off = local_offset(j->app->cal);
        calendar_local_date(j->app->cal, ts.tv_sec, &y, &m, &d);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
        from = timegm(&tm) - off;
        if (!before || before > from + 86400) before = from + 86400;
        tfmt_db(from, 0, due_from, sizeof(due_from));
        f.due_from = due_from;
    }
    if (before) {
        tfmt_db(before, 0, due_before, sizeof(due_before));
        f.due_before = due_before;
    }
    if ((v = evhttp_find_header(&q, "limit"))) {
        f.limit = strspn(v, "0123456789") == strlen(v) && strlen(v) <= 3 ? atol(v) : 0;
        if (f.limit < 1 || f.limit > ACTIONS_PAGE_MAX) {
            bad = "limit must be 1..200";
            goto bad;
        }
    }
    if ((v = evhttp_find_header(&q, "cursor"))) {
        if (actions_cursor_decode(v, key, sizeof(key), &f.after_id)) {
            bad = "cursor must be the 'next' value of a previous page";
            goto bad;
        }
        f.after_key = key;
    }
    long limit = f.limit;
    f.limit = limit + 1; /* one more tells whether a next page exists */
    mc_err rc = actions_queue(c, &f, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the queue", NULL);
        goto out;
    }
    size_t n = db_rows_count(r);
    json_t *o = json_object(), *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++) {
        json_t *e = json_object();
        char etag[32];
        json_object_set_new(e, "dossierCode", json_string(col(r, i, AQ_CODE)));
        json_object_set_new(e, "procedure", json_string(col(r, i, AQ_PROCEDURE)));
        json_object_set_new(e, "state", json_string(col(r, i, AQ_STATE)));
        json_object_set_new(e, "nationalStatus", json_integer(atoi(col(r, i, AQ_NATIONAL))));
        json_object_set_new(e, "receivedAt", reply_local_time(j->app->cal, col(r, i, AQ_RECEIVED)));
        json_object_set_new(e, "dueAt", reply_local_time(j->app->cal, col(r, i, AQ_DUE)));
        json_object_set_new(e, "overdue", json_boolean(strcmp(col(r, i, AQ_OVERDUE), "1") == 0));
        json_object_set_new(e, "assignee", str_or_null(col(r, i, AQ_ASSIGNEE)));
        json_object_set_new(e, "pausedAt", reply_local_time(j->app->cal, col(r, i, AQ_PAUSED)));
        json_object_set_new(e, "finishedAt", reply_local_time(j->app->cal, col(r, i, AQ_FINISHED)));
        json_object_set_new(e, "rescheduledTo", reply_local_time(j->app->cal, col(r, i, AQ_RESCHEDULED)));
        snprintf(etag, sizeof(etag), "\"v%s\"", col(r, i, AQ_VERSION));
        json_object_set_new(e, "etag", json_string(etag));
        json_object_set_new(e, "href", json_pack("s+", "/v1/dossiers/", col(r, i, AQ_CODE)));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "items", arr);
    if (n > (size_t)limit) {
        actions_cursor_encode(col(r, (size_t)limit - 1, AQ_SORT_KEY),
                              strtoull(col(r, (size_t)limit - 1, AQ_ID), NULL, 10), cursor, sizeof(cursor));
        json_object_set_new(o, "next", json_string(cursor));
    } else {
        json_object_set_new(o, "next", json_null());
    }
    json_object_set_new(o, "limit", json_integer(limit));
    reply_json(&j->out, 200, o);
    goto out;
bad:
    reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, bad, NULL);
out:
    free(states_txt);
    json_decref(states);
    db_rows_free(r);
    evhttp_clear_headers(&q);
}
