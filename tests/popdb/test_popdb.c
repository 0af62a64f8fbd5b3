/* test_popdb.c - the population database adapter against a real popdb-sim over HTTPS.
 * Usage: test_popdb SIM_EXE CITIZENS_JSON CERT_DIR (ctest passes them; see CMakeLists.txt).
 * The sim is forked per group; expected answers come from the generated citizens file. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "popdb.h"

#define SECRET "popdb-test-secret"
#define CLIENT_ID "motcua-test"

static struct {
    const char *sim_exe, *data_file, *cert_dir;
    char ca[1024], evil_ca[1024], cert[1024], key[1024];
    pid_t pid;
    int port;
    char url[128], admin[128];
    json_t *data;             /* the generated file */
} E;

/* ---- log capture ----------------------------------------------------------------------- */

static char log_lines[512][512];
static size_t n_log_lines;

static void capture_log(void *arg, const char *line)
{
    (void)arg;
    if(n_log_lines < 512)
        snprintf(log_lines[n_log_lines++], sizeof(log_lines[0]), "%s", line);
}

/* ---- simulator process and its admin endpoint ------------------------------------------ */

static pid_t sim_start(const char *extra1, const char *extra2, int *port)
{
    int fds[2];
    pid_t pid;
    char line[256] = "";
    struct pollfd pfd;
    size_t n = 0;
    const char *p = NULL;

    if(pipe(fds) != 0)
        return -1;
    pid = fork();
    if(pid == 0) {
        const char *argv[20] = {E.sim_exe, "--port", "0", "--data", E.data_file, "--cert", E.cert,
                                "--key", E.key, "--client-id", CLIENT_ID, "--secret", SECRET,
                                extra1, extra2, NULL};
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(E.sim_exe, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    /* The sim prints its port once it listens. */
    while(n + 1 < sizeof(line) && !strchr(line, '\n') && poll(&pfd, 1, 10000) == 1) {
        ssize_t r = read(fds[0], line + n, sizeof(line) - 1 - n);

        if(r <= 0)
            break;
        n += (size_t)r;
        line[n] = '\0';
    }
    close(fds[0]);
    p = strstr(line, "127.0.0.1:");
    if(pid < 0 || !p) {
        fprintf(stderr, "popdb-sim did not start: '%s'\n", line);
        return -1;
    }
    *port = atoi(p + 10);
    return pid;
}

/* SIGTERM, wait, and report its exit code (ASan/LSan failures in the sim show up here). */
static int sim_stop(pid_t pid)
{
    int status = 0;

    if(pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    if(waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static size_t admin_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), n = size * nmemb;

    if(have + n >= 65536)
        return 0;
    memcpy(buf + have, ptr, n);
    buf[have + n] = '\0';
    return n;
}

/* Blocking call to /_sim/... (tests only, outside any loop). Returns the parsed JSON reply.
 * One kept-alive handle, so admin calls add a single connection to the sim's count. */
static CURL *admin_handle;

static json_t *sim_admin(const char *method, const char *path, const char *body)
{
    static char buf[65536];
    char url[256];
    CURL *c = admin_handle;
    long status = 0;

    buf[0] = '\0';
    snprintf(url, sizeof(url), "%s%s", E.admin, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, E.ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, admin_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
    if(strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    else
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    return json_loads(buf, 0, NULL);
}

static void sim_reset(void)
{
    json_decref(sim_admin("POST", "/_sim/reset", NULL));
}

static void sim_faults(const char *json)
{
    json_decref(sim_admin("POST", "/_sim/faults", json));
}

static long long sim_stat(const char *section, const char *key)
{
    json_t *st = sim_admin("GET", "/_sim/stats", NULL);
    json_t *v = section ? json_object_get(json_object_get(st, section), key)
                        : json_object_get(st, key);
    long long n = json_integer_value(v);

    json_decref(st);
    return n;
}

/* ---- data ------------------------------------------------------------------------------ */

static const json_t *citizen_by_id(const char *pid)
{
    size_t i = 0;
    json_t *c = NULL;

    json_array_foreach(json_object_get(E.data, "citizens"), i, c) {
        if(strcmp(json_string_value(json_object_get(c, "personal_id")), pid) == 0)
            return c;
    }
    fail_msg("citizen %s not in the data file", pid);
    return NULL;
}

static const json_t *known(const char *set, size_t i)
{
    json_t *ids = json_object_get(json_object_get(E.data, "known"), set);

    assert_true(i < json_array_size(ids));
    return citizen_by_id(json_string_value(json_array_get(ids, i)));
}

static const char *S(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A query that declares exactly what the record says. Strings point into the data. */
static popdb_query query_for(const json_t *c)
{
    popdb_query q;

    memset(&q, 0, sizeof(q));
    q.service_code = "1.001193";
    q.unit = "H17.40.12";
    q.officer = "canbo.test";
    q.personal_id = S(c, "personal_id");
    q.full_name = S(c, "full_name");
    q.birth_date = S(c, "birth_date");
    q.gender = strcmp(S(c, "gender"), "M") == 0 ? POPDB_GENDER_MALE : POPDB_GENDER_FEMALE;
    return q;
}

/* ---- running calls on a loop ----------------------------------------------------------- */

typedef struct run {
    struct event_base *base;
    popdb *db;
    int pending;
    bool timed_out;
} run;

typedef struct slot {
    run *r;
    bool done;
    popdb_outcome out;
    bool has_rec;
    popdb_citizen rec;
    struct timespec at;
} slot;

static void on_done(const popdb_outcome *out, const popdb_citizen *rec, void *arg)
{
    slot *s = arg;

    assert_false(s->done); /* exactly once */
    s->done = true;
    s->out = *out;
    if(rec) {
        s->has_rec = true;
        s->rec = *rec;
    }
    clock_gettime(CLOCK_MONOTONIC, &s->at);
    if(--s->r->pending == 0)
        event_base_loopexit(s->r->base, NULL);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    run *r = arg;

    (void)fd;
    (void)what;
    r->timed_out = true;
    event_base_loopbreak(r->base);
}

/* Dispatch until every submitted call reported (or max_ms passed: a test failure). */
static void run_wait(run *r, long max_ms)
{
    struct timeval tv = {max_ms / 1000, (max_ms % 1000) * 1000};
    struct event *deadline = evtimer_new(r->base, on_deadline, r);

    evtimer_add(deadline, &tv);
    if(r->pending > 0)
        event_base_dispatch(r->base);
    event_free(deadline);
    assert_false(r->timed_out);
    assert_int_equal(r->pending, 0);
}

static void run_sleep(run *r, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    event_base_loopexit(r->base, &tv);
    event_base_dispatch(r->base);
}

static void cfg_base(popdb_config *cfg)
{
    popdb_config_defaults(cfg);
    cfg->base_url = E.url;
    cfg->client_id = CLIENT_ID;
    cfg->secret = SECRET;
    cfg->ca_file = E.ca;
    cfg->backoff_base_ms = 10;
    cfg->backoff_cap_ms = 40;
    cfg->jitter_seed = 48;
    cfg->log = capture_log;
}

static void run_open(run *r, const popdb_config *cfg)
{
    memset(r, 0, sizeof(*r));
    r->base = event_base_new();
    assert_non_null(r->base);
    assert_int_equal(popdb_gateway_new(r->base, cfg, &r->db), MC_OK);
}

static void run_close(run *r)
{
    popdb_free(r->db);
    event_base_free(r->base);
}

static mc_err submit(run *r, popdb_op op, const popdb_query *q, slot *s)
{
    mc_err err = MC_OK;

    memset(s, 0, sizeof(*s));
    s->r = r;
    switch(op) {
    case POPDB_OP_VERIFY: err = popdb_verify(r->db, q, on_done, s); break;
    case POPDB_OP_LOOKUP: err = popdb_lookup(r->db, q, on_done, s); break;
    case POPDB_OP_VERIFY_MARITAL: err = popdb_verify_marital(r->db, q, on_done, s); break;
    case POPDB_OP_VERIFY_RESIDENCE: err = popdb_verify_residence(r->db, q, on_done, s); break;
    }
    if(err == MC_OK)
        r->pending++;
    return err;
}

/* One call, start to finish, with cfg. */
static slot call1(const popdb_config *cfg, popdb_op op, const popdb_query *q)
{
    run r;
    slot s;

    run_open(&r, cfg);
    assert_int_equal(submit(&r, op, q, &s), MC_OK);
    assert_false(s.done); /* never reported from inside the submit */
    run_wait(&r, 20000);
    run_close(&r);
    return s;
}

static int group_setup(void **state)
{
    (void)state;
    E.pid = sim_start(NULL, NULL, &E.port);
    if(E.pid <= 0)
        return -1;
    snprintf(E.url, sizeof(E.url), "https://localhost:%d/v1", E.port);
    snprintf(E.admin, sizeof(E.admin), "https://localhost:%d", E.port);
    admin_handle = curl_easy_init();
    return admin_handle ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_easy_cleanup(admin_handle);
    return sim_stop(E.pid) == 0 ? 0 : -1;
}

static int test_setup(void **state)
{
    (void)state;
    sim_reset();
    n_log_lines = 0;
    return 0;
}

/* ---- pure functions -------------------------------------------------------------------- */

static void test_sign_vector(void **state)
{
    char sig[65];

    (void)state;
    /* Expected values computed independently with Python's hmac/hashlib. */
    assert_int_equal(popdb_sign("k3y", "POST", "/v1/citizen/verify", 1700000000, "{\"a\":1}", 7, sig),
                     MC_OK);
    assert_string_equal(sig, "f7c852d165a1d2a1c4ab6b2c91a503a6db7fc4aec8e3ddae0b6b346badb4bf9a");
    assert_int_equal(popdb_sign("k3y", "POST", "/v1/citizen/verify", 1700000000, NULL, 0, sig), MC_OK);
    assert_string_equal(sig, "e27947ee648ad39bc7cdfa68397c7254436448de6130c8127eb487a3f23a66c3");
}

static void test_mask_id(void **state)
{
    char m[13];

    (void)state;
    popdb_mask_id("048090001123", m);
    assert_string_equal(m, "048******123");
    popdb_mask_id("04809", m);
    assert_string_equal(m, "*****");
    popdb_mask_id(NULL, m);
    assert_string_equal(m, "");
}

static void test_query_check(void **state)
{
    static const struct {
        popdb_op op;
        const char *field;
        const char *value;
    } bad[] = {
        {POPDB_OP_VERIFY, "personal_id", "04809000112"},
        {POPDB_OP_VERIFY, "personal_id", "04809000112x"},
        {POPDB_OP_VERIFY, "personal_id", NULL},
        {POPDB_OP_VERIFY, "full_name", ""},
        {POPDB_OP_VERIFY, "full_name", "Nguyễn\r\nX-Evil: 1"},
        {POPDB_OP_VERIFY, "birth_date", "1990-01-01"},
        {POPDB_OP_VERIFY, "birth_date", "199"},
        {POPDB_OP_VERIFY, "service_code", NULL},
        {POPDB_OP_VERIFY, "unit", ""},
        {POPDB_OP_VERIFY, "officer", NULL},
        {POPDB_OP_VERIFY, "request_id", "has space"},
        {POPDB_OP_VERIFY_RESIDENCE, "ward", "2024"},
        {POPDB_OP_VERIFY_RESIDENCE, "province", NULL},
    };
    popdb_query ok = {.service_code = "1.001193", .unit = "U", .officer = "o",
                      .personal_id = "048090001123", .full_name = "Nguyễn Văn An",
                      .birth_date = "1990", .province = "48", .ward = "20242",
                      .marital = POPDB_MARITAL_SINGLE};

    (void)state;
    for(popdb_op op = POPDB_OP_VERIFY; op <= POPDB_OP_VERIFY_RESIDENCE; op++)
        assert_int_equal(popdb_query_check(op, &ok), MC_OK);
    for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        popdb_query q = ok;
        const char **f = strcmp(bad[i].field, "personal_id") == 0    ? &q.personal_id
                         : strcmp(bad[i].field, "full_name") == 0    ? &q.full_name
                         : strcmp(bad[i].field, "birth_date") == 0   ? &q.birth_date
                         : strcmp(bad[i].field, "service_code") == 0 ? &q.service_code
                         : strcmp(bad[i].field, "unit") == 0         ? &q.unit
                         : strcmp(bad[i].field, "officer") == 0      ? &q.officer
                         : strcmp(bad[i].field, "request_id") == 0   ? &q.request_id
                         : strcmp(bad[i].field, "ward") == 0         ? &q.ward
                                                                     : &q.province;
        *f = bad[i].value;
        if(popdb_query_check(bad[i].op, &q) != MC_ERR_BAD_REQUEST)
            fail_msg("case %zu (%s) accepted", i, bad[i].field);
    }
    ok.marital = POPDB_MARITAL_UNSET;
    assert_int_equal(popdb_query_check(POPDB_OP_VERIFY_MARITAL, &ok), MC_ERR_BAD_REQUEST);
}

static void test_parse_response(void **state)
{
    static const struct {
        popdb_op op;
        const char *body;
        popdb_status status;
        unsigned mismatched;
    } cases[] = {
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":false}", POPDB_NOT_FOUND, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":true,\"match\":true,\"deceased\":false}",
         POPDB_VERIFIED, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":true,\"match\":true,\"deceased\":true}",
         POPDB_DECEASED, 0},
        {POPDB_OP_VERIFY,
         "{\"request_id\":\"r\",\"found\":true,\"match\":false,\"mismatched\":[\"full_name\","
         "\"gender\",\"future_field\"]}",
         POPDB_MISMATCH, POPDB_F_NAME | POPDB_F_GENDER},
        /* protocol violations */
        {POPDB_OP_VERIFY, "{\"request_id\":\"other\",\"found\":false}", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"found\":false}", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":\"no\"}", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":true}", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":true,\"match\":true,\"mismatched\":[\"gender\"]}",
         POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"request_id\":\"r\",\"found\":false,\"found\":true}", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "{\"request_id\": \"", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "", POPDB_ERROR, 0},
        {POPDB_OP_VERIFY, "[]", POPDB_ERROR, 0},
        {POPDB_OP_LOOKUP, "{\"request_id\":\"r\",\"found\":true,\"match\":true}", POPDB_ERROR, 0},
        {POPDB_OP_LOOKUP,
         "{\"request_id\":\"r\",\"found\":true,\"match\":true,\"citizen\":{\"personal_id\":\"1\"}}",
         POPDB_ERROR, 0},
    };

    (void)state;
    for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        popdb_outcome out;
        mc_err err;

        memset(&out, 0, sizeof(out));
        err = popdb_parse_response(cases[i].op, "r", cases[i].body, strlen(cases[i].body), &out, NULL);
        if(out.status != cases[i].status || out.mismatched != cases[i].mismatched ||
           (err == MC_OK) != (cases[i].status != POPDB_ERROR))
            fail_msg("case %zu: got %s mismatched=%#x err=%d", i, popdb_status_name(out.status),
                     out.mismatched, err);
        if(out.status == POPDB_ERROR)
            assert_int_equal(out.reason, POPDB_R_MALFORMED);
    }
}

/* ---- answers --------------------------------------------------------------------------- */

static void test_verify_match(void **state)
{
    popdb_config cfg;
    const json_t *c = known("alive", 0);
    popdb_query q = query_for(c);
    slot s;

    (void)state;
    cfg_base(&cfg);
    q.request_id = "test-match-1";
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_int_equal(s.out.matched, POPDB_F_NAME | POPDB_F_BIRTH_DATE | POPDB_F_GENDER);
    assert_int_equal(s.out.mismatched, 0);
    assert_string_equal(s.out.request_id, "test-match-1");
    assert_int_equal(s.out.attempts, 1);
    assert_int_equal(s.out.http_status, 200);
    assert_false(s.has_rec);
    /* Without a caller id the adapter makes a UUID. */
    q.request_id = NULL;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_int_equal(strlen(s.out.request_id), 36);
    assert_int_equal(s.out.request_id[14], '4');
    assert_int_equal(sim_stat("verify_by_id", S(c, "personal_id")), 2);
}

static void test_verify_mismatch(void **state)
{
    const json_t *c = known("alive", 1);
    char wrong_name[256], wrong_day[16], wrong_year[16], right_year[5];
    const struct {
        const char *what;
        const char *name;
        const char *dob;
        bool flip_gender;
        popdb_status status;
        unsigned mismatched;
    } cases[] = {
        {"name", wrong_name, NULL, false, POPDB_MISMATCH, POPDB_F_NAME},
        {"birth date", NULL, wrong_day, false, POPDB_MISMATCH, POPDB_F_BIRTH_DATE},
        {"gender digit", NULL, NULL, true, POPDB_MISMATCH, POPDB_F_GENDER},
        {"year only, right", NULL, right_year, false, POPDB_VERIFIED, 0},
        {"year only, wrong", NULL, wrong_year, false, POPDB_MISMATCH, POPDB_F_BIRTH_DATE},
        {"name and date", wrong_name, wrong_day, false, POPDB_MISMATCH,
         POPDB_F_NAME | POPDB_F_BIRTH_DATE},
    };
    popdb_config cfg;

    (void)state;
    cfg_base(&cfg);
    snprintf(wrong_name, sizeof(wrong_name), "%s Anh", S(c, "full_name"));
    snprintf(wrong_day, sizeof(wrong_day), "%.6s%02u", S(c, "birth_date"),
             (unsigned)(atoi(S(c, "birth_date") + 6) % 28 + 1));
    snprintf(right_year, sizeof(right_year), "%.4s", S(c, "birth_date"));
    snprintf(wrong_year, sizeof(wrong_year), "%04u", (unsigned)(atoi(right_year) - 1) % 10000u);
    for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        popdb_query q = query_for(c);
        slot s;

        if(cases[i].name)
            q.full_name = cases[i].name;
        if(cases[i].dob)
            q.birth_date = cases[i].dob;
        if(cases[i].flip_gender)
            q.gender = q.gender == POPDB_GENDER_MALE ? POPDB_GENDER_FEMALE : POPDB_GENDER_MALE;
        s = call1(&cfg, POPDB_OP_VERIFY, &q);
        if(s.out.status != cases[i].status || s.out.mismatched != cases[i].mismatched)
            fail_msg("%s: got %s mismatched=%#x", cases[i].what, popdb_status_name(s.out.status),
                     s.out.mismatched);
        assert_int_equal(s.out.attempts, 1);
    }
}

static void test_not_found_and_deceased(void **state)
{
    popdb_config cfg;
    const json_t *dead = known("deceased", 0);
    popdb_query q = query_for(known("alive", 2));
    char unknown[13];
    slot s;

    (void)state;
    cfg_base(&cfg);
    /* An ID of the right shape that the data file does not hold. */
    for(int n = 0;; n++) {
        size_t i = 0;
        json_t *c = NULL;
        bool used = false;

        snprintf(unknown, sizeof(unknown), "048090%06d", n % 1000000);
        json_array_foreach(json_object_get(E.data, "citizens"), i, c) {
            used = used || strcmp(S(c, "personal_id"), unknown) == 0;
        }
        if(!used)
            break;
    }
    q.personal_id = unknown;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_NOT_FOUND);
    assert_int_equal(s.out.reason, POPDB_R_NONE);

    q = query_for(dead);
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_DECEASED);
    /* A mismatched query learns nothing about the death. */
    q.full_name = "Nguyễn Văn Không Có";
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_MISMATCH);
}

static void test_lookup(void **state)
{
    popdb_config cfg;
    const json_t *c = known("moved", 0);
    const json_t *cur = json_object_get(c, "current_residence");
    const json_t *perm = json_object_get(c, "permanent_residence");
    popdb_query q = query_for(c);
    slot s;

    (void)state;
    cfg_base(&cfg);
    s = call1(&cfg, POPDB_OP_LOOKUP, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_true(s.has_rec);
    assert_string_equal(s.rec.personal_id, S(c, "personal_id"));
    assert_string_equal(s.rec.family_name, S(c, "family_name"));
    assert_string_equal(s.rec.middle_name, S(c, "middle_name"));
    assert_string_equal(s.rec.given_name, S(c, "given_name"));
    assert_string_equal(s.rec.birth_date, S(c, "birth_date"));
    assert_string_equal(popdb_marital_name(s.rec.marital), S(c, "marital_status"));
    assert_string_equal(s.rec.current.ward, S(cur, "ward"));
    assert_string_equal(s.rec.permanent.ward, S(perm, "ward"));
    assert_string_equal(s.rec.permanent.detail, S(perm, "detail"));
    assert_string_equal(s.rec.permanent.district, S(perm, "district") ? S(perm, "district") : "");
    assert_string_equal(s.rec.household_head_id, S(c, "household_head_id"));
    assert_int_equal(s.rec.is_household_head,
                     strcmp(S(c, "household_head_id"), S(c, "personal_id")) == 0);
    /* Wrong name: no record comes back. */
    q.full_name = "Trần Thị Sai";
    s = call1(&cfg, POPDB_OP_LOOKUP, &q);
    assert_int_equal(s.out.status, POPDB_MISMATCH);
    assert_false(s.has_rec);
    assert_int_equal(sim_stat("calls", "lookup"), 2);
}

static void test_verify_marital_and_residence(void **state)
{
    popdb_config cfg;
    const json_t *married = known("married", 0);
    const json_t *moved = known("moved", 1);
    popdb_query q = query_for(married);
    slot s;

    (void)state;
    cfg_base(&cfg);
    q.marital = POPDB_MARITAL_MARRIED;
    s = call1(&cfg, POPDB_OP_VERIFY_MARITAL, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_true(s.out.matched & POPDB_F_MARITAL);
    q.marital = POPDB_MARITAL_SINGLE;
    s = call1(&cfg, POPDB_OP_VERIFY_MARITAL, &q);
    assert_int_equal(s.out.status, POPDB_MISMATCH);
    assert_int_equal(s.out.mismatched, POPDB_F_MARITAL);

    q = query_for(moved);
    q.province = S(json_object_get(moved, "current_residence"), "province");
    q.ward = S(json_object_get(moved, "current_residence"), "ward");
    s = call1(&cfg, POPDB_OP_VERIFY_RESIDENCE, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    /* Declaring the permanent address as current one: it differs for a "moved" citizen. */
    q.ward = S(json_object_get(moved, "permanent_residence"), "ward");
    s = call1(&cfg, POPDB_OP_VERIFY_RESIDENCE, &q);
    assert_int_equal(s.out.status, POPDB_MISMATCH);
    assert_int_equal(s.out.mismatched, POPDB_F_RESIDENCE);
}

/* ---- authentication and TLS ------------------------------------------------------------ */

static void test_auth_rejected_not_retried(void **state)
{
    static const char *const fault_hdr[] = {"X-Sim-Fault: bad_hmac"};
    popdb_config cfg;
    popdb_query q = query_for(known("alive", 3));
    slot s;

    (void)state;
    cfg_base(&cfg);
    cfg.secret = "not-the-secret";
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_ERROR);
    assert_int_equal(s.out.reason, POPDB_R_AUTH);
    assert_int_equal(s.out.http_status, 401);
    assert_string_equal(s.out.remote_code, "BAD_SIGNATURE");
    assert_int_equal(s.out.attempts, 1);

    cfg_base(&cfg);
    cfg.clock_offset_s = -301; /* just past the gateway's 300 s window */
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_ERROR);
    assert_int_equal(s.out.reason, POPDB_R_AUTH);
    assert_string_equal(s.out.remote_code, "TIMESTAMP_SKEW");
    assert_int_equal(s.out.attempts, 1);
    cfg.clock_offset_s = 120; /* within the window: fine */
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);

    /* The header fault knob: right secret, sim pretends the signature is wrong. */
    cfg_base(&cfg);
    cfg.extra_headers = fault_hdr;
    cfg.n_extra_headers = 1;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.reason, POPDB_R_AUTH);
    assert_int_equal(s.out.attempts, 1);

    assert_int_equal(sim_stat("calls", "verify"), 4);
    assert_int_equal(sim_stat("rejected", "bad_signature"), 2);
    assert_int_equal(sim_stat("rejected", "timestamp_skew"), 1);
    /* Rejected requests never reached the database. */
    assert_int_equal(sim_stat("verify_by_id", q.personal_id), 1);
}

static void test_tls_wrong_ca_fails_closed(void **state)
{
    popdb_config cfg;
    popdb_query q = query_for(known("alive", 4));
    slot s;

    (void)state;
    cfg_base(&cfg);
    cfg.ca_file = E.evil_ca;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_ERROR);
    assert_int_equal(s.out.reason, POPDB_R_TLS);
    assert_int_equal(s.out.attempts, 1);
    assert_int_equal(s.out.http_status, 0);
    assert_int_equal(sim_stat("calls", "total"), 0);
    /* Plain http is refused unless explicitly allowed. */
    cfg_base(&cfg);
    cfg.base_url = "http://localhost:1/v1";
    {
        run r;

        memset(&r, 0, sizeof(r));
        r.base = event_base_new();
        assert_int_equal(popdb_gateway_new(r.base, &cfg, &r.db), MC_ERR_CONFIG);
        event_base_free(r.base);
    }
}

/* ---- retries and the breaker ----------------------------------------------------------- */

static void test_retry_policy(void **state)
{
    popdb_config cfg;
    const json_t *c = known("alive", 5);
    popdb_query q = query_for(c);
    slot s;

    (void)state;
    cfg_base(&cfg);
    /* One 503, then success: retried once, the database saw one verify. */
    sim_faults("{\"status\":503,\"count\":1}");
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_int_equal(s.out.attempts, 2);
    assert_int_equal(sim_stat("calls", "verify"), 2);
    assert_int_equal(sim_stat("verify_by_id", q.personal_id), 1);

    /* Always 503: 1 + max_retries attempts, then UNAVAILABLE. */
    sim_reset();
    sim_faults("{\"status\":503}");
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_UNAVAILABLE);
    assert_int_equal(s.out.reason, POPDB_R_RETRIES_EXHAUSTED);
    assert_int_equal(s.out.attempts, 4);
    assert_int_equal(s.out.http_status, 503);
    assert_string_equal(s.out.remote_code, "SIM_FAULT");
    assert_int_equal(sim_stat("calls", "verify"), 4);

    /* 4xx and a malformed 200 are definite: never retried. */
    sim_reset();
    sim_faults("{\"status\":429}");
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_ERROR);
    assert_int_equal(s.out.reason, POPDB_R_REJECTED);
    assert_int_equal(s.out.attempts, 1);
    sim_reset();
    sim_faults("{\"malformed\":true}");
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_ERROR);
    assert_int_equal(s.out.reason, POPDB_R_MALFORMED);
    assert_int_equal(s.out.attempts, 1);

    /* A timeout is retried: the first answer comes after 600 ms, the attempt gives up at 200. */
    sim_reset();
    sim_faults("{\"latency\":600,\"count\":1}");
    cfg.timeout_ms = 200;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_VERIFIED);
    assert_int_equal(s.out.attempts, 2);

    /* A remote that never answers: every attempt times out. The sim still holds those
     * requests; it must answer and free them at shutdown (its exit status is checked). */
    {
        static const char *const hang_hdr[] = {"X-Sim-Fault: hang"};

        sim_reset();
        cfg_base(&cfg);
        cfg.extra_headers = hang_hdr;
        cfg.n_extra_headers = 1;
        cfg.timeout_ms = 150;
        cfg.max_retries = 1;
        s = call1(&cfg, POPDB_OP_VERIFY, &q);
        assert_int_equal(s.out.status, POPDB_UNAVAILABLE);
        assert_int_equal(s.out.reason, POPDB_R_RETRIES_EXHAUSTED);
        assert_int_equal(s.out.attempts, 2);
        assert_int_equal(s.out.curl_code, CURLE_OPERATION_TIMEDOUT);
    }

    /* Connection refused (nothing listens): retried, then UNAVAILABLE. */
    cfg_base(&cfg);
    cfg.base_url = "https://localhost:1/v1";
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(s.out.status, POPDB_UNAVAILABLE);
    assert_int_equal(s.out.reason, POPDB_R_RETRIES_EXHAUSTED);
    assert_int_equal(s.out.attempts, 4);
    assert_int_equal(s.out.http_status, 0);

    /* Logs name the request and mask the ID. */
    {
        char masked[13];
        bool saw_masked = false;

        popdb_mask_id(q.personal_id, masked);
        assert_true(n_log_lines > 0);
        for(size_t i = 0; i < n_log_lines; i++) {
            assert_null(strstr(log_lines[i], q.personal_id));
            saw_masked = saw_masked || strstr(log_lines[i], masked);
        }
        assert_true(saw_masked);
    }
}

static void test_breaker(void **state)
{
    popdb_config cfg;
    popdb_query q = query_for(known("alive", 6));
    run r;
    slot s[3];

    (void)state;
    cfg_base(&cfg);
    cfg.max_retries = 0;
    cfg.breaker_threshold = 3;
    cfg.breaker_cooldown_ms = 300;
    run_open(&r, &cfg);
    sim_faults("{\"status\":500}");
    for(int i = 0; i < 3; i++) {
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
        run_wait(&r, 5000);
        assert_int_equal(s[0].out.reason, POPDB_R_RETRIES_EXHAUSTED);
    }
    /* Open: fails fast, nothing sent. */
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
    assert_false(s[0].done);
    run_wait(&r, 5000);
    assert_int_equal(s[0].out.status, POPDB_UNAVAILABLE);
    assert_int_equal(s[0].out.reason, POPDB_R_BREAKER_OPEN);
    assert_int_equal(s[0].out.attempts, 0);
    assert_int_equal(sim_stat("calls", "verify"), 3);

    /* The remote recovers; still open until the cool-down passes. */
    sim_reset();
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
    run_wait(&r, 5000);
    assert_int_equal(s[0].out.reason, POPDB_R_BREAKER_OPEN);
    run_sleep(&r, 350);
    /* Half-open: exactly one probe goes through, the others still fail fast. */
    for(int i = 0; i < 3; i++)
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[i]), MC_OK);
    run_wait(&r, 5000);
    {
        int verified = 0, fast = 0;

        for(int i = 0; i < 3; i++) {
            verified += s[i].out.status == POPDB_VERIFIED;
            fast += s[i].out.reason == POPDB_R_BREAKER_OPEN;
        }
        assert_int_equal(verified, 1);
        assert_int_equal(fast, 2);
    }
    /* The probe succeeded: closed again. */
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
    run_wait(&r, 5000);
    assert_int_equal(s[0].out.status, POPDB_VERIFIED);
    assert_int_equal(sim_stat("calls", "verify"), 2);

    /* A failed probe re-opens it for another cool-down. */
    sim_faults("{\"status\":503}");
    for(int i = 0; i < 3; i++) {
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
        run_wait(&r, 5000);
    }
    run_sleep(&r, 350);
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
    run_wait(&r, 5000);
    assert_int_equal(s[0].out.reason, POPDB_R_RETRIES_EXHAUSTED); /* the probe, failed */
    sim_reset();
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
    run_wait(&r, 5000);
    assert_int_equal(s[0].out.reason, POPDB_R_BREAKER_OPEN);
    run_close(&r);
}

/* ---- concurrency ----------------------------------------------------------------------- */

typedef struct ticker {
    struct timespec start, last, last_cpu;
    long max_gap_ms;
    long max_gap_at_ms;   /* when the longest gap ended, from start */
    long max_gap_cpu_ms;  /* CPU this process used during it: low = descheduled, not busy */
    long ticks;
} ticker;

static long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    ticker *t = arg;
    struct timespec now, cpu;
    long gap = 0;

    (void)fd;
    (void)what;
    clock_gettime(CLOCK_MONOTONIC, &now);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    gap = ms_between(&t->last, &now);
    if(gap > t->max_gap_ms) {
        t->max_gap_ms = gap;
        t->max_gap_at_ms = ms_between(&t->start, &now);
        t->max_gap_cpu_ms = ms_between(&t->last_cpu, &cpu);
    }
    t->last = now;
    t->last_cpu = cpu;
    t->ticks++;
}

#define N_CONCURRENT 200

static void test_latency_does_not_block_loop(void **state)
{
    static const char *const fault_hdr[] = {"X-Sim-Fault: latency=2000"};
    static slot s[N_CONCURRENT];
    static popdb_query q[N_CONCURRENT];
    json_t *all = json_object_get(E.data, "citizens");
    popdb_config cfg;
    run r;
    ticker t;
    struct event *tick = NULL;
    struct timeval ten_ms = {0, 10000};
    struct timespec start, end;
    size_t n = 0;
    long elapsed = 0;

    (void)state;
    cfg_base(&cfg);
    cfg.extra_headers = fault_hdr;
    cfg.n_extra_headers = 1;
    cfg.timeout_ms = 5000;
    run_open(&r, &cfg);
    memset(&t, 0, sizeof(t));
    tick = event_new(r.base, -1, EV_PERSIST, on_tick, &t);
    clock_gettime(CLOCK_MONOTONIC, &start);
    t.last = t.start = start;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t.last_cpu);
    event_add(tick, &ten_ms);
    for(size_t i = 0; n < N_CONCURRENT && i < json_array_size(all); i++) {
        const json_t *c = json_array_get(all, i);

        if(json_is_true(json_object_get(c, "deceased")))
            continue;
        q[n] = query_for(c);
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q[n], &s[n]), MC_OK);
        n++;
    }
    assert_int_equal(n, N_CONCURRENT);
    run_wait(&r, 15000);
    clock_gettime(CLOCK_MONOTONIC, &end);
    event_free(tick);
    elapsed = ms_between(&start, &end);
    for(size_t i = 0; i < n; i++) {
        if(s[i].out.status != POPDB_VERIFIED)
            fail_msg("call %zu: %s/%s", i, popdb_status_name(s[i].out.status),
                     popdb_reason_name(s[i].out.reason));
        assert_int_equal(s[i].out.attempts, 1);
    }
    print_message("200 x verify with 2 s latency: %ld ms total, max tick gap %ld ms (ending at "
                  "%ld ms, %ld ms CPU in it), %ld ticks, sim max concurrent %lld, connections %lld\n",
                  elapsed, t.max_gap_ms, t.max_gap_at_ms, t.max_gap_cpu_ms, t.ticks,
                  sim_stat(NULL, "max_concurrent"),
                  sim_stat(NULL, "connections"));
    assert_true(elapsed >= 2000);
    assert_true(elapsed < 6000);       /* serial would be 400 s */
    assert_true(t.max_gap_ms < 200);   /* the loop kept ticking */
    assert_true(t.ticks > 100);
    assert_int_equal(sim_stat(NULL, "max_concurrent"), N_CONCURRENT);
    /* No duplicate checks: each citizen verified exactly once. */
    {
        json_t *st = sim_admin("GET", "/_sim/stats", NULL);
        json_t *by_id = json_object_get(st, "verify_by_id");

        assert_int_equal(json_object_size(by_id), N_CONCURRENT);
        for(size_t i = 0; i < n; i++)
            assert_int_equal(json_integer_value(json_object_get(by_id, q[i].personal_id)), 1);
        json_decref(st);
    }
    run_close(&r);
}

static void test_inflight_cap_and_reuse(void **state)
{
    static slot s[32];
    popdb_config cfg;
    popdb_query q = query_for(known("alive", 7));
    run r;
    slot extra;
    struct timespec start, end;

    (void)state;
    cfg_base(&cfg);
    cfg.max_inflight = 8;
    cfg.max_pending = 32;
    run_open(&r, &cfg);
    sim_faults("{\"latency\":150}");
    clock_gettime(CLOCK_MONOTONIC, &start);
    for(int i = 0; i < 32; i++)
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[i]), MC_OK);
    /* Beyond max_pending: refused at once, never called back. */
    assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &extra), MC_ERR_BUSY);
    run_wait(&r, 10000);
    clock_gettime(CLOCK_MONOTONIC, &end);
    for(int i = 0; i < 32; i++)
        assert_int_equal(s[i].out.status, POPDB_VERIFIED);
    assert_false(extra.done);
    assert_int_equal(sim_stat(NULL, "max_concurrent"), 8);
    assert_true(ms_between(&start, &end) >= 4 * 150); /* 32 / 8 = 4 waves */
    /* 8 connections opened once and reused for all four waves and the next calls. */
    sim_faults("{}");
    for(int i = 0; i < 5; i++) {
        assert_int_equal(submit(&r, POPDB_OP_VERIFY, &q, &s[0]), MC_OK);
        run_wait(&r, 5000);
    }
    assert_int_equal(sim_stat(NULL, "connections"), 8);
    run_close(&r);
}

/* ---- mTLS -------------------------------------------------------------------------------- */

static void test_mtls(void **state)
{
    char cert[1100], key[1100];
    int port = 0;
    pid_t pid = sim_start("--client-ca", E.ca, &port);
    char url[128];
    popdb_config cfg;
    popdb_query q = query_for(known("alive", 8));
    slot s;

    slot with;

    (void)state;
    assert_true(pid > 0);
    snprintf(url, sizeof(url), "https://localhost:%d/v1", port);
    snprintf(cert, sizeof(cert), "%s/ward-20242.crt", E.cert_dir);
    snprintf(key, sizeof(key), "%s/ward-20242.key", E.cert_dir);
    cfg_base(&cfg);
    cfg.base_url = url;
    cfg.max_retries = 1;
    s = call1(&cfg, POPDB_OP_VERIFY, &q);
    cfg.client_cert = cert;
    cfg.client_key = key;
    with = call1(&cfg, POPDB_OP_VERIFY, &q);
    assert_int_equal(sim_stop(pid), 0);
    /* Without a client certificate no HTTP answer ever comes. Under TLS 1.3 the server's
     * refusal arrives after the client's handshake finished, so curl reports a receive
     * error (retried, then UNAVAILABLE) rather than a handshake error. */
    assert_int_equal(s.out.http_status, 0);
    assert_true(s.out.status == POPDB_UNAVAILABLE ||
                (s.out.status == POPDB_ERROR && s.out.reason == POPDB_R_TLS));
    assert_int_equal(with.out.status, POPDB_VERIFIED);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_sign_vector),
        cmocka_unit_test(test_mask_id),
        cmocka_unit_test(test_query_check),
        cmocka_unit_test(test_parse_response),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test_setup(test_verify_match, test_setup),
        cmocka_unit_test_setup(test_verify_mismatch, test_setup),
        cmocka_unit_test_setup(test_not_found_and_deceased, test_setup),
        cmocka_unit_test_setup(test_lookup, test_setup),
        cmocka_unit_test_setup(test_verify_marital_and_residence, test_setup),
        cmocka_unit_test_setup(test_auth_rejected_not_retried, test_setup),
        cmocka_unit_test_setup(test_tls_wrong_ca_fails_closed, test_setup),
        cmocka_unit_test_setup(test_retry_policy, test_setup),
        cmocka_unit_test_setup(test_breaker, test_setup),
        cmocka_unit_test_setup(test_latency_does_not_block_loop, test_setup),
        cmocka_unit_test_setup(test_inflight_cap_and_reuse, test_setup),
        cmocka_unit_test_setup(test_mtls, test_setup),
    };
    json_error_t jerr;
    int failed = 0;

    if(argc != 4) {
        fprintf(stderr, "usage: %s SIM_EXE CITIZENS_JSON CERT_DIR\n", argv[0]);
        return 2;
    }
    E.sim_exe = argv[1];
    E.data_file = argv[2];
    E.cert_dir = argv[3];
    snprintf(E.ca, sizeof(E.ca), "%s/ca.crt", E.cert_dir);
    snprintf(E.evil_ca, sizeof(E.evil_ca), "%s/evil-ca.crt", E.cert_dir);
    snprintf(E.cert, sizeof(E.cert), "%s/localhost.crt", E.cert_dir);
    snprintf(E.key, sizeof(E.key), "%s/localhost.key", E.cert_dir);
    E.data = json_load_file(E.data_file, 0, &jerr);
    if(!E.data) {
        fprintf(stderr, "%s: %s\n", E.data_file, jerr.text);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed += cmocka_run_group_tests_name("popdb_pure", pure, NULL, NULL);
    failed += cmocka_run_group_tests_name("popdb_live", live, group_setup, group_teardown);
    curl_global_cleanup();
    json_decref(E.data);
    return failed ? 1 : 0;
}
