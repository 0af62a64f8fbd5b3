/* test_actions_api.c - the pure helpers of the workflow API: If-Match against "v<version>", the time
 * parser of queue filters and apology dates, the queue cursor, the supplement resume rule across a
 * weekend and holidays of the real holiday file, and the overdue rule. Tables of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "actions_api.h"

#define HOLIDAYS "schemas/calendar/holidays-vn.txt"

/* "YYYY-MM-DD HH:MM" local (+07:00) -> time_t, independent of the module. */
static time_t L(const char *s)
{
    struct tm tm = {0};
    if (sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min) != 5)
        fail_msg("bad test time '%s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm) - 7 * 3600;
}

static void test_if_match(void **state)
{
    (void)state;
    static const struct {
        const char *h;
        unsigned v;
        mc_err want;
    } cases[] = {
        {NULL, 3, MC_ERR_PRECONDITION_REQUIRED},
        {"", 3, MC_ERR_PRECONDITION_REQUIRED},
        {"   ", 3, MC_ERR_PRECONDITION_REQUIRED},
        {"*", 3, MC_ERR_PRECONDITION_REQUIRED},
        {" * ", 3, MC_ERR_PRECONDITION_REQUIRED},
        {"\"v3\"", 3, MC_OK},
        {"W/\"v3\"", 3, MC_OK},
        {"\"v2\", \"v3\"", 3, MC_OK},
        {"\"v2\"", 3, MC_ERR_PRECONDITION_FAILED},
        {"\"v30\"", 3, MC_ERR_PRECONDITION_FAILED},
        {"\"v3", 3, MC_ERR_PRECONDITION_FAILED},
        {"v3", 3, MC_ERR_PRECONDITION_FAILED},
        {"\"v3\"x", 3, MC_OK}, /* the first tag matches; trailing junk is another (non-matching) tag */
        {"*, \"v1\"", 1, MC_OK},
        {"\"V3\"", 3, MC_ERR_PRECONDITION_FAILED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mc_err got = actions_if_match(cases[i].h, cases[i].v);
        if (got != cases[i].want) fail_msg("case %zu '%s': got %d want %d", i, cases[i].h ? cases[i].h : "(null)", got, cases[i].want);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        mc_err want;
        const char *local; /* expected, as local +07:00 */
    } cases[] = {
        {"2026-12-01T17:00:00+07:00", MC_OK, "2026-12-01 17:00"},
        {"2026-12-01T10:00:00Z", MC_OK, "2026-12-01 17:00"},
        {"2026-12-01T03:00:00-07:00", MC_OK, "2026-12-01 17:00"},
        {"2026-12-01", MC_OK, "2026-12-01 00:00"},
        {"2024-02-29", MC_OK, "2024-02-29 00:00"},
        {"2026-02-29", MC_ERR_BAD_REQUEST, NULL},
        {"2026-13-01", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-01T24:00:00Z", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-01T17:00:00", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-01T17:00:00+7:00", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-01 17:00:00Z", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-1", MC_ERR_BAD_REQUEST, NULL},
        {"", MC_ERR_BAD_REQUEST, NULL},
        {NULL, MC_ERR_BAD_REQUEST, NULL},
        {"1969-12-31", MC_ERR_BAD_REQUEST, NULL},
        {"2026-12-01T17:00:00+15:00", MC_ERR_BAD_REQUEST, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        time_t t = 42;
        mc_err got = actions_parse_time(cases[i].s, 7 * 3600, &t);
        if (got != cases[i].want) fail_msg("case %zu '%s': got %d", i, cases[i].s ? cases[i].s : "(null)", got);
        if (cases[i].local) assert_int_equal(t, L(cases[i].local));
        else assert_int_equal(t, 42);
    }
}

static void test_cursor(void **state)
{
    (void)state;
    char tok[ACTIONS_CURSOR_CAP], key[32];
    uint64_t id = 0;
    actions_cursor_encode("2026-11-25 10:00:00.000000", 12345, tok, sizeof(tok));
    assert_true(tok[0]);
    assert_int_equal(actions_cursor_decode(tok, key, sizeof(key), &id), MC_OK);
    assert_string_equal(key, "2026-11-25 10:00:00.000000");
    assert_int_equal(id, 12345);
    actions_cursor_encode("9999-12-31 23:59:59.000000", UINT64_MAX / 10, tok, sizeof(tok));
    assert_int_equal(actions_cursor_decode(tok, key, sizeof(key), &id), MC_OK);
    assert_int_equal(id, UINT64_MAX / 10);
    char small[8];
    actions_cursor_encode("2026-11-25 10:00:00.000000", 1, small, sizeof(small));
    assert_string_equal(small, "");

    /* tokens encode never writes */
    char bad[ACTIONS_CURSOR_CAP];
    static const char *raws[] = {"2026-11-25 10:00:00.000000", "2026-11-25 10:00:00.000000|", "x|1",
                                 "2026-11-25 10:00:00.00000X|1", "2026-11-25 10:00:00.000000|1a",
                                 /* digits in the right places but no real time; an id over BIGINT */
                                 "2026-13-45 99:99:99.000000|1", "2026-02-30 10:00:00.000000|1",
                                 "2026-11-25 24:00:00.000000|1", "2026-11-25 10:00:00.000000|9999999999999999999"};
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        size_t n = strlen(raws[i]);
        for (size_t k = 0; k < n; k++) snprintf(bad + 2 * k, 3, "%02x", (unsigned char)raws[i][k]);
        id = 7;
        if (actions_cursor_decode(bad, key, sizeof(key), &id) != MC_ERR_BAD_REQUEST) fail_msg("raw %zu accepted", i);
        assert_int_equal(id, 7);
    }
    /* a NUL inside the decoded bytes: the id would end there and the rest go unchecked */
    assert_int_equal(actions_cursor_decode("323032362d31312d32352031303a30303a30302e3030303030307c313233006a756e6b", key,
                                           sizeof(key), &id), MC_ERR_BAD_REQUEST);
    static const char *toks[] = {"", "abc", "zz", "ABCD", NULL};
    for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++)
        assert_int_equal(actions_cursor_decode(toks[i], key, sizeof(key), &id), MC_ERR_BAD_REQUEST);
}

static void test_resumed_due(void **state)
{
    (void)state;
    char why[256];
    calendar *cal = calendar_new();
    assert_non_null(cal);
    assert_int_equal(calendar_load_file(cal, HOLIDAYS, why, sizeof(why)), MC_OK);
    static const struct {
        const char *old_due, *paused, *resumed, *want;
    } cases[] = {
        /* Fri 15:00 -> Thu 09:00 across the weekend, Mon 08-31 (C), Tue-Wed 09-01/02 (H): 2 h + 2 h
         * waited; due Fri 17:00 + 4 h = Thu 07:00 + 4 h */
        {"2026-08-28 17:00", "2026-08-28 15:00", "2026-09-03 09:00", "2026-09-03 11:00"},
        /* paused and resumed the same morning: 1 h, within the window */
        {"2026-11-26 17:00", "2026-11-25 08:00", "2026-11-25 09:00", "2026-11-27 08:00"},
        /* waited only outside office hours (Sat -> Sun): the due time does not move */
        {"2026-12-01 17:00", "2026-11-28 09:00", "2026-11-29 16:00", "2026-12-01 17:00"},
        /* the Tết break 2026 (Feb 16-20) and both weekends: Fri 13 16:00 -> Mon 23 08:00 = 1 h + 1 h */
        {"2026-02-13 17:00", "2026-02-13 16:00", "2026-02-23 08:00", "2026-02-23 09:00"},
        /* resumed before paused (clock skew): nothing moves */
        {"2026-11-26 17:00", "2026-11-25 10:00", "2026-11-25 09:00", "2026-11-26 17:00"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        time_t got = actions_resumed_due(cal, L(cases[i].old_due), L(cases[i].paused), L(cases[i].resumed));
        if (got != L(cases[i].want)) {
            char b[CALENDAR_FMT_CAP];
            calendar_format_local(cal, got, b, sizeof(b));
            fail_msg("case %zu: got %s want %s", i, b, cases[i].want);
        }
    }
    calendar_free(cal);
}

static void test_overdue(void **state)
{
    (void)state;
    static const struct {
        time_t due, finished, paused, now;
        bool want;
    } cases[] = {
        {0, 0, 0, 1000, false},      /* no due time: never overdue */
        {0, 5000, 0, 1000, false},
        {100, 0, 0, 99, false},      /* running, before due */
        {100, 0, 0, 100, false},     /* exactly at due: not late */
        {100, 0, 0, 101, true},      /* running, past due */
        {100, 90, 0, 1000, false},   /* finished in time, even if now is later */
        {100, 150, 0, 120, true},    /* finished late */
        {100, 0, 50, 1000, false},   /* paused before due: the clock stopped */
        {100, 0, 150, 1000, true},   /* paused after due */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (actions_overdue(cases[i].due, cases[i].finished, cases[i].paused, cases[i].now) != cases[i].want)
            fail_msg("case %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_if_match),   cmocka_unit_test(test_parse_time), cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_resumed_due), cmocka_unit_test(test_overdue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
