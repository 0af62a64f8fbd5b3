/* test_calendar.c - table-driven tests of the working-day calendar against the real
 * schemas/calendar/holidays-vn.txt. Expected times were worked out by hand from the rules in
 * DOMAIN.md (comments show the sums); local times are converted with timegm, not the module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar.h"

#define HOLIDAYS "schemas/calendar/holidays-vn.txt"
#define H8 (8L * 3600)

/* "YYYY-MM-DD HH:MM[:SS]" local (+07:00) -> time_t, independent of the module. */
static time_t L(const char *s)
{
    struct tm tm = {0};
    int sec = 0;
    int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &sec);
    if (n < 5) {
        fail_msg("bad test time '%s'", s);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_sec = sec;
    return timegm(&tm) - 7 * 3600;
}

static int setup_real(void **state)
{
    char why[256];
    calendar *cal = calendar_new();
    if (!cal)
        return -1;
    mc_err rc = calendar_load_file(cal, HOLIDAYS, why, sizeof(why));
    if (rc != MC_OK) {
        fprintf(stderr, "load %s: %s\n", HOLIDAYS, why);
        calendar_free(cal);
        return -1;
    }
    *state = cal;
    return 0;
}

static int teardown_cal(void **state)
{
    calendar_free(*state);
    return 0;
}

static void expect_time(const calendar *cal, const char *what, time_t got, time_t want)
{
    if (got != want) {
        char g[CALENDAR_FMT_CAP], w[CALENDAR_FMT_CAP];
        calendar_format_local(cal, got, g, sizeof(g));
        calendar_format_local(cal, want, w, sizeof(w));
        fail_msg("%s: got %s, want %s", what, g, w);
    }
}

/* ---- start of the clock ---- */

static const struct {
    const char *received, *start, *why;
} clock_cases[] = {
    {"2025-03-10 06:30", "2025-03-10 07:00", "Mon before opening"},
    {"2025-03-10 09:15", "2025-03-10 09:15", "Mon in the morning window"},
    {"2025-03-10 11:30", "2025-03-10 13:30", "Mon at the lunch close"},
    {"2025-03-10 12:00", "2025-03-10 13:30", "Mon lunch break"},
    {"2025-03-10 13:30", "2025-03-10 13:30", "Mon afternoon opening"},
    {"2025-03-10 16:59:59", "2025-03-10 16:59:59", "Mon just before close"},
    {"2025-03-10 17:00", "2025-03-11 07:00", "Mon at close"},
    {"2025-03-10 18:00", "2025-03-11 07:00", "Mon evening"},
    {"2025-03-14 17:30", "2025-03-17 07:00", "Fri evening -> Mon"},
    {"2025-03-15 10:00", "2025-03-17 07:00", "Saturday"},
    {"2025-03-16 23:59", "2025-03-17 07:00", "Sunday night"},
    {"2026-01-01 10:00", "2026-01-05 07:00", "New Year H, 01-02 C, weekend"},
    {"2025-12-31 17:30", "2026-01-05 07:00", "New Year's eve after close"},
    {"2026-01-10 09:00", "2026-01-10 09:00", "make-up Saturday 2026-01-10 works"},
    {"2026-01-09 18:00", "2026-01-10 07:00", "Fri evening -> make-up Saturday"},
    {"2026-04-27 08:00", "2026-04-28 07:00", "Hung Kings 2026 observed Mon 04-27"},
    {"2026-04-29 17:05", "2026-05-04 07:00", "30/4-1/5 2026 then weekend"},
    {"2026-08-21 17:30", "2026-08-22 07:00", "Fri -> make-up Sat 2026-08-22"},
    {"2026-08-28 17:30", "2026-09-03 07:00", "2 Sep 2026 block: 08-31 C, 09-01, 09-02"},
    {"2025-04-25 17:30", "2025-04-26 07:00", "Fri -> make-up Sat 2025-04-26"},
    {"2025-04-26 12:00", "2025-04-26 13:30", "lunch on make-up Sat 2025-04-26"},
    {"2025-04-07 09:00", "2025-04-08 07:00", "Hung Kings 2025"},
    {"2026-02-13 16:00", "2026-02-13 16:00", "Fri before Tet 2026, in hours"},
    {"2026-02-16 09:00", "2026-02-23 07:00", "inside Tet 2026"},
};

static void test_clock_start(void **state)
{
    const calendar *cal = *state;
    for (size_t i = 0; i < sizeof(clock_cases) / sizeof(clock_cases[0]); i++)
        expect_time(cal, clock_cases[i].why, calendar_clock_start(cal, L(clock_cases[i].received)),
                    L(clock_cases[i].start));
}

/* ---- months after a date (result validity) ---- */

static void test_add_months(void **state)
{
    (void)state;
    static const struct {
        int y, m, d, months, wy, wm, wd;
    } cases[] = {
        {2026, 1, 15, 6, 2026, 7, 15},   /* same day six months on */
        {2026, 8, 31, 6, 2027, 2, 28},   /* clamped to the end of February */
        {2027, 8, 31, 6, 2028, 2, 29},   /* leap year */
        {2026, 12, 15, 6, 2027, 6, 15},  /* across the year */
        {2026, 3, 31, 1, 2026, 4, 30},   /* 30-day month */
        {2026, 11, 26, 0, 2026, 11, 26}, /* nothing added */
        {2026, 11, 30, 120, 2036, 11, 30},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int y = cases[i].y, m = cases[i].m, d = cases[i].d;
        calendar_add_months(&y, &m, &d, cases[i].months);
        if (y != cases[i].wy || m != cases[i].wm || d != cases[i].wd)
            fail_msg("case %zu: %04d-%02d-%02d + %d months = %04d-%02d-%02d, want %04d-%02d-%02d", i, cases[i].y,
                     cases[i].m, cases[i].d, cases[i].months, y, m, d, cases[i].wy, cases[i].wm, cases[i].wd);
    }
}

/* The local date as text: 23:30 local on 31 August is still 31 August (UTC is 16:30). */
static void test_local_date_text(void **state)
{
    const calendar *cal = *state;
    char buf[CALENDAR_DATE_CAP], small[10] = "x";
    calendar_local_date_text(cal, L("2026-08-31 23:30"), 0, buf, sizeof(buf));
    assert_string_equal(buf, "2026-08-31");
    calendar_local_date_text(cal, L("2026-08-31 23:30"), 6, buf, sizeof(buf));
    assert_string_equal(buf, "2027-02-28");
    calendar_local_date_text(cal, L("2026-09-01 00:10"), 0, buf, sizeof(buf));
    assert_string_equal(buf, "2026-09-01");
    calendar_local_date_text(cal, L("2026-08-31 23:30"), 0, small, sizeof(small));
    assert_string_equal(small, "");
}

/* ---- due dates ---- */

#define SD CAL_RULE_SAME_DAY
#define WD CAL_RULE_WORKING_DAYS

static const struct {
    const char *received;
    calendar_rule_kind kind;
    int days;
    const char *due, *why;
} due_cases[] = {
    /* same day, 15:00 cut-off */
    {"2025-03-10 06:00", SD, 0, "2025-03-10 17:00", "before opening"},
    {"2025-03-10 14:59", SD, 0, "2025-03-10 17:00", "before 15:00"},
    {"2025-03-10 15:00", SD, 0, "2025-03-10 17:00", "at 15:00"},
    {"2025-03-10 15:01", SD, 0, "2025-03-11 17:00", "after 15:00"},
    {"2025-03-10 12:15", SD, 0, "2025-03-10 17:00", "lunch break"},
    {"2025-03-10 17:30", SD, 0, "2025-03-11 17:00", "after close"},
    {"2025-03-14 15:30", SD, 0, "2025-03-17 17:00", "Fri after 15:00 -> Mon"},
    {"2025-03-15 09:00", SD, 0, "2025-03-17 17:00", "Saturday"},
    {"2026-02-13 16:00", SD, 0, "2026-02-23 17:00", "Fri before Tet 2026 after 15:00"},
    {"2026-01-10 09:00", SD, 0, "2026-01-10 17:00", "make-up Saturday 2026-01-10"},
    {"2026-01-01 09:00", SD, 0, "2026-01-05 17:00", "New Year; 01-02 is off"},
    {"2025-12-31 15:30", SD, 0, "2026-01-05 17:00", "New Year's eve after 15:00"},
    {"2025-04-25 16:00", SD, 0, "2025-04-26 17:00", "-> make-up Sat 2025-04-26"},
    {"2026-04-29 15:30", SD, 0, "2026-05-04 17:00", "before 30/4-1/5 2026"},
    {"2026-04-24 16:00", SD, 0, "2026-04-28 17:00", "Fri before Hung Kings 2026 (Mon 04-27 off)"},
    {"2026-08-21 16:00", SD, 0, "2026-08-22 17:00", "-> make-up Sat 2026-08-22"},
    {"2026-08-28 15:10", SD, 0, "2026-09-03 17:00", "before 2 Sep 2026 block"},
    {"2026-11-23 16:00", SD, 0, "2026-11-25 17:00", "11-24 H? applied"},
    /* working days, 8 h each */
    {"2025-03-10 07:00", WD, 1, "2025-03-10 17:00", "full day ends 17:00, not 07:00 next"},
    {"2025-03-10 08:00", WD, 1, "2025-03-11 08:00", "7 h Mon + 1 h Tue"},
    {"2025-03-10 12:00", WD, 1, "2025-03-11 11:30", "3.5 h Mon pm + 4.5 h Tue am"},
    {"2025-03-10 18:00", WD, 1, "2025-03-11 17:00", "starts Tue 07:00"},
    {"2025-03-14 17:30", WD, 3, "2025-03-19 17:00", "Mon, Tue, Wed"},
    /* Tet 2026: 1 h Fri 13 + 8 Mon 23 + 8 Tue 24 + 7 Wed 25 (4.5 am, 2.5 pm) */
    {"2026-02-13 16:00", WD, 3, "2026-02-25 16:00", "3 working days across Tet 2026"},
    /* 6 Wed 11 + 8 Thu + 8 Fri = 22; Mon 23..Thu 26 = 54; 2 h Fri 27 */
    {"2026-02-11 09:00", WD, 7, "2026-02-27 09:00", "7 working days across Tet 2026"},
    {"2026-01-10 09:00", WD, 1, "2026-01-12 09:00", "6 h on make-up Sat + 2 h Mon"},
    {"2025-04-25 17:30", WD, 2, "2025-04-28 17:00", "make-up Sat 2025-04-26 + Mon"},
    {"2026-04-24 10:00", WD, 1, "2026-04-28 10:00", "5 h Fri, Mon 04-27 off, 3 h Tue"},
    {"2026-04-29 07:00", WD, 2, "2026-05-04 17:00", "Wed, then 30/4, 1/5, weekend, Mon"},
    {"2026-08-20 13:30", WD, 2, "2026-08-22 11:30", "3.5 Thu + 8 Fri + 4.5 make-up Sat"},
    {"2026-08-28 08:00", WD, 2, "2026-09-04 08:00", "7 h Fri, 08-31..09-02 off, 8 Thu, 1 Fri"},
    {"2026-08-30 10:00", WD, 1, "2026-09-03 17:00", "Sunday before the 2 Sep block"},
    {"2025-12-31 14:00", WD, 2, "2026-01-06 14:00", "3 h Wed, 8 Mon 01-05, 5 Tue"},
    {"2025-01-24 08:00", WD, 5, "2025-02-07 08:00", "7 h Fri, Tet 2025, 4 days + 1 h"},
    {"2025-08-29 16:00", WD, 1, "2025-09-03 16:00", "1 h Fri, 09-01/09-02 off, 7 h Wed"},
    {"2027-02-03 17:30", WD, 1, "2027-02-11 17:00", "Tet 2027 guess 02-04..02-10"},
    {"2030-01-07 07:00", WD, 10, "2030-01-18 17:00", "beyond the table: two weeks"},
    {"2030-01-07 07:00", WD, 500, "2031-12-05 17:00", "beyond the table: 100 weeks"},
    {"2025-03-15 10:00", WD, 0, "2025-03-17 07:00", "0 days = clock start"},
};

static void test_due(void **state)
{
    const calendar *cal = *state;
    for (size_t i = 0; i < sizeof(due_cases) / sizeof(due_cases[0]); i++) {
        calendar_rule rule = {due_cases[i].kind, due_cases[i].days};
        bool has_due = false;
        time_t got = calendar_due(cal, rule, L(due_cases[i].received), &has_due);
        assert_true(has_due);
        expect_time(cal, due_cases[i].why, got, L(due_cases[i].due));
    }
}

static void test_due_none(void **state)
{
    const calendar *cal = *state;
    bool has_due = true;
    calendar_rule none = {CAL_RULE_NONE, 5};
    assert_int_equal(calendar_due(cal, none, L("2025-03-10 09:00"), &has_due), 0);
    assert_false(has_due);
    has_due = true;
    calendar_rule bogus = {(calendar_rule_kind)42, 1};
    assert_int_equal(calendar_due(cal, bogus, L("2025-03-10 09:00"), &has_due), 0);
    assert_false(has_due);
}

/* ---- working days ---- */

static const struct {
    int y, m, d;
    bool working;
} day_cases[] = {
    {2025, 4, 26, true},   /* make-up Saturday */
    {2025, 4, 27, false},  /* plain Sunday */
    {2025, 5, 2, false},   /* bridge day */
    {2026, 1, 2, false},   /* C */
    {2026, 1, 10, true},   /* W */
    {2026, 1, 17, false},  /* plain Saturday */
    {2026, 2, 13, true},   /* Friday before Tet */
    {2026, 2, 18, false},  /* Tet */
    {2026, 2, 23, true},
    {2026, 4, 27, false},
    {2026, 8, 22, true},
    {2026, 8, 31, false},
    {2026, 9, 3, true},
    {2027, 2, 4, false},   /* H? applied as given */
    {2027, 5, 3, false},
    {2027, 9, 3, false},   /* C? */
    {2028, 2, 29, true},   /* leap day, beyond the table */
    {2026, 2, 30, false},  /* invalid date */
    {2026, 13, 1, false},  /* invalid date */
};

static void test_working_day(void **state)
{
    const calendar *cal = *state;
    for (size_t i = 0; i < sizeof(day_cases) / sizeof(day_cases[0]); i++) {
        bool got = calendar_is_working_day(cal, day_cases[i].y, day_cases[i].m, day_cases[i].d);
        if (got != day_cases[i].working)
            fail_msg("%04d-%02d-%02d: got %d", day_cases[i].y, day_cases[i].m, day_cases[i].d,
                     got);
    }
}

/* Whole years, counted by hand: 261 weekdays each; 2025: -12 H/C +1 W; 2026: -14 +2;
 * 2027: -12 +0. */
static void test_year_totals(void **state)
{
    const calendar *cal = *state;
    assert_int_equal(calendar_working_seconds_between(cal, L("2025-01-01 00:00"),
                                                      L("2026-01-01 00:00")),
                     250 * H8);
    assert_int_equal(calendar_working_seconds_between(cal, L("2026-01-01 00:00"),
                                                      L("2027-01-01 00:00")),
                     249 * H8);
    assert_int_equal(calendar_working_seconds_between(cal, L("2027-01-01 00:00"),
                                                      L("2028-01-01 00:00")),
                     249 * H8);
}

/* ---- supplement pause ---- */

static const struct {
    const char *paused, *resumed;
    long secs;
    const char *old_due, *new_due, *why;
} pause_cases[] = {
    /* 2 h Fri + 2 h Mon; old due Wed 10:00 + 4 h = 1.5 am + 2.5 pm */
    {"2025-03-14 15:00", "2025-03-17 09:00", 4 * 3600, "2025-03-19 10:00", "2025-03-19 16:00",
     "across a weekend"},
    /* 1 h Wed + 30/4, 1/5, weekend + 1.5 h Mon; old due Thu 16:30 + 2.5 h */
    {"2026-04-29 16:00", "2026-05-04 08:30", 9000, "2026-05-07 16:30", "2026-05-08 09:00",
     "across 30/4-1/5 2026"},
    /* 5 h Thu + 8 Fri + 8 Mon 23 + 3 Tue 24 = 24 h = 3 days */
    {"2026-02-12 10:00", "2026-02-24 10:00", 24 * 3600, "2026-02-27 17:00", "2026-03-04 17:00",
     "across Tet 2026"},
    {"2025-03-14 17:10", "2025-03-17 06:50", 0, "2025-03-19 10:00", "2025-03-19 10:00",
     "pause outside office hours"},
    {"2025-03-10 11:00", "2025-03-10 14:00", 3600, "2025-03-10 17:00", "2025-03-11 08:00",
     "same day over lunch; due at close moves to next morning"},
    {"2025-03-10 14:00", "2025-03-10 11:00", 0, "2025-03-12 09:00", "2025-03-12 09:00",
     "resumed before paused"},
    /* 2.5 h Fri 08-21 + 8 make-up Sat 08-22 + 2 Mon = 12.5 h; old due Fri 08-28 16:00:
     * 1 h Fri, 08-31..09-02 off, 8 h Thu 09-03, 3.5 h Fri 09-04 */
    {"2026-08-21 14:30", "2026-08-24 09:00", 12 * 3600 + 1800, "2026-08-28 16:00",
     "2026-09-04 10:30", "make-up Sat in the pause, 2 Sep 2026 block after it"},
};

static void test_pause(void **state)
{
    const calendar *cal = *state;
    for (size_t i = 0; i < sizeof(pause_cases) / sizeof(pause_cases[0]); i++) {
        long secs = calendar_working_seconds_between(cal, L(pause_cases[i].paused),
                                                     L(pause_cases[i].resumed));
        if (secs != pause_cases[i].secs)
            fail_msg("%s: paused %ld s, want %ld", pause_cases[i].why, secs, pause_cases[i].secs);
        expect_time(cal, pause_cases[i].why,
                    calendar_add_working_seconds(cal, L(pause_cases[i].old_due), secs),
                    L(pause_cases[i].new_due));
    }
}

/* Slow reference: walk minute by minute through local time. */
static long ref_between(const calendar *cal, time_t a, time_t b)
{
    long n = 0;
    for (time_t t = a; t < b; t += 60) {
        time_t lt = t + 7 * 3600;
        struct tm tm;
        gmtime_r(&lt, &tm);
        int mins = tm.tm_hour * 60 + tm.tm_min;
        bool in = (mins >= 420 && mins < 690) || (mins >= 810 && mins < 1020);
        if (in && calendar_is_working_day(cal, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday))
            n += 60;
    }
    return n;
}

static void test_against_reference(void **state)
{
    const calendar *cal = *state;
    unsigned seed = 12345;
    time_t base = L("2024-12-20 00:00");
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        time_t a = base + (time_t)((seed >> 8) % (1100u * 1440u)) * 60; /* up to 2027-12 */
        seed = seed * 1103515245u + 12345u;
        time_t b = a + (time_t)((seed >> 8) % (25u * 1440u)) * 60;
        long want = ref_between(cal, a, b);
        assert_int_equal(calendar_working_seconds_between(cal, a, b), want);
        if (want > 0) {
            /* the earliest instant with `want` seconds worked since a is inside or at the
             * close of a window, and b is at or after it */
            time_t end = calendar_add_working_seconds(cal, a, want);
            assert_true(end <= b);
            assert_int_equal(calendar_working_seconds_between(cal, a, end), want);
            assert_int_equal(calendar_working_seconds_between(cal, a, end - 60), want - 60);
        }
    }
}

/* ---- holiday file ---- */

static void test_unconfirmed(void **state)
{
    const calendar *cal = *state;
    static const struct {
        int y, m, d;
        char kind;
    } want[] = {
        {2026, 11, 24, 'H'}, {2027, 2, 4, 'H'}, {2027, 2, 5, 'H'},  {2027, 2, 8, 'H'},
        {2027, 2, 9, 'H'},   {2027, 2, 10, 'H'}, {2027, 9, 3, 'C'}, {2027, 11, 24, 'H'},
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    assert_int_equal(calendar_unconfirmed_count(cal), n);
    assert_int_equal(calendar_entry_count(cal), 13 + 16 + 12);
    for (size_t i = 0; i < n; i++) {
        int y = 0, m = 0, d = 0;
        char kind = 0;
        assert_true(calendar_unconfirmed_get(cal, i, &y, &m, &d, &kind));
        assert_int_equal(y, want[i].y);
        assert_int_equal(m, want[i].m);
        assert_int_equal(d, want[i].d);
        assert_int_equal(kind, want[i].kind);
    }
    int y = -1;
    assert_false(calendar_unconfirmed_get(cal, n, &y, NULL, NULL, NULL));
    assert_int_equal(y, -1);
}

static const struct {
    const char *text, *why_prefix;
} bad_cases[] = {
    {"# header\n\n2026-01-01 H\n2026-01-05 X\n", "line 4: unknown kind"},
    {"2026-01-01 H\n2026-13-01 H\n", "line 2: no such date"},
    {"2026-02-30 H  # Feb 30\n", "line 1: no such date"},
    {"2025-02-29 H\n", "line 1: no such date"},
    {"\n\n26-01-05 H\n", "line 3: expected a date"},
    {"2026-1-5 H\n", "line 1: expected a date"},
    {"2026-01-01H\n", "line 1: expected a blank"},
    {"2026-01-01\n", "line 1: expected a blank"},
    {"2026-01-01 H extra\n", "line 1: unexpected text"},
    {"2026-01-01 H??\n", "line 1: unexpected text"},
    {"2026-01-01 h\n", "line 1: unknown kind"},
    {"2026-01-03 H\n", "line 1: 2026-01-03 is a weekend day"},
    {"2026-01-05 W\n", "line 1: 2026-01-05 is a weekday"},
    {"2026-01-01 H\n# x\n2026-01-01 C\n", "line 3: date already listed on line 1"},
    {"1969-12-31 H\n", "line 1: no such date"},
};

static void test_bad_lines(void **state)
{
    calendar *cal = *state;
    size_t before = calendar_entry_count(cal);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char why[128] = "";
        mc_err rc = calendar_load_buf(cal, bad_cases[i].text, strlen(bad_cases[i].text), why,
                                      sizeof(why));
        assert_int_equal(rc, MC_ERR_CONFIG);
        if (strncmp(why, bad_cases[i].why_prefix, strlen(bad_cases[i].why_prefix)) != 0)
            fail_msg("case %zu: why '%s', want '%s...'", i, why, bad_cases[i].why_prefix);
        /* a failed load keeps the previous table */
        assert_int_equal(calendar_entry_count(cal), before);
        assert_false(calendar_is_working_day(cal, 2026, 1, 2));
    }
}

static void test_good_buf(void **state)
{
    (void)state;
    calendar *cal = calendar_new();
    assert_non_null(cal);
    assert_true(calendar_is_working_day(cal, 2026, 1, 1)); /* empty table */
    static const char text[] = "  # leading comment\r\n"
                               "2028-02-29\tH?\t# leap day, tab separated, CRLF\r\n"
                               "\t\r\n"
                               "2028-03-04 W#no blank before the comment\n"
                               "2028-03-01 C"; /* no final newline, out of order */
    char why[128];
    assert_int_equal(calendar_load_buf(cal, text, strlen(text), why, sizeof(why)), MC_OK);
    assert_string_equal(why, "");
    assert_int_equal(calendar_entry_count(cal), 3);
    assert_int_equal(calendar_unconfirmed_count(cal), 1);
    assert_false(calendar_is_working_day(cal, 2028, 2, 29));
    assert_false(calendar_is_working_day(cal, 2028, 3, 1));
    assert_true(calendar_is_working_day(cal, 2028, 3, 4));
    assert_false(calendar_is_working_day(cal, 2028, 3, 5));
    /* empty input empties the table */
    assert_int_equal(calendar_load_buf(cal, "", 0, why, sizeof(why)), MC_OK);
    assert_int_equal(calendar_entry_count(cal), 0);
    assert_true(calendar_is_working_day(cal, 2028, 2, 29));
    calendar_free(cal);
}

static void test_entry_cap(void **state)
{
    (void)state;
    calendar *cal = calendar_new();
    size_t cap = (CALENDAR_MAX_ENTRIES + 1) * 14 + 1;
    char *buf = malloc(cap);
    assert_non_null(cal);
    assert_non_null(buf);
    size_t len = 0;
    int lines = 0;
    /* every weekday from 2030-01-07 (Mon): 4097 H lines */
    time_t t = timegm(&(struct tm){.tm_year = 130, .tm_mon = 0, .tm_mday = 7, .tm_hour = 12});
    while (lines < CALENDAR_MAX_ENTRIES + 1) {
        struct tm tm;
        gmtime_r(&t, &tm);
        if (tm.tm_wday != 0 && tm.tm_wday != 6) {
            len += (size_t)snprintf(buf + len, cap - len, "%04d-%02d-%02d H\n", tm.tm_year + 1900,
                                    tm.tm_mon + 1, tm.tm_mday);
            lines++;
        }
        t += 86400;
    }
    char why[128];
    assert_int_equal(calendar_load_buf(cal, buf, len, why, sizeof(why)), MC_ERR_CONFIG);
    assert_string_equal(why, "line 4097: more than 4096 entries");
    /* exactly at the cap is fine, and the next working day is after the whole run */
    len -= 13;
    assert_int_equal(calendar_load_buf(cal, buf, len, why, sizeof(why)), MC_OK);
    assert_int_equal(calendar_entry_count(cal), CALENDAR_MAX_ENTRIES);
    time_t start = calendar_clock_start(cal, L("2030-01-07 08:00"));
    int y, m, d;
    calendar_local_date(cal, start, &y, &m, &d);
    assert_true(y >= 2045);
    assert_true(calendar_is_working_day(cal, y, m, d));
    free(buf);
    calendar_free(cal);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    calendar *cal = calendar_new();
    char why[256] = "";
    assert_non_null(cal);
    assert_int_equal(calendar_load_file(cal, "schemas/calendar/no-such-file.txt", why, sizeof(why)),
                     MC_ERR_IO);
    assert_non_null(strstr(why, "no-such-file.txt"));
    calendar_free(cal);
    calendar_free(NULL);
}

/* ---- configuration and formatting ---- */

static void test_windows(void **state)
{
    (void)state;
    calendar *cal = calendar_new();
    assert_non_null(cal);
    static const int bad[][5] = {
        {420, 420, 810, 1020, 900},  /* empty morning */
        {420, 690, 600, 1020, 900},  /* overlap */
        {420, 690, 810, 1500, 900},  /* past midnight */
        {-1, 690, 810, 1020, 900},   /* negative */
        {420, 690, 810, 1020, 1030}, /* cut-off after close */
        {420, 690, 810, 1020, 400},  /* cut-off before opening */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(calendar_set_windows(cal, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
                                              bad[i][4]),
                         MC_ERR_CONFIG);
    /* still the defaults */
    expect_time(cal, "defaults kept", calendar_clock_start(cal, L("2025-03-10 12:00")),
                L("2025-03-10 13:30"));
    /* 08:00-12:00, 13:00-17:00 (8 h), cut-off 16:00 */
    assert_int_equal(calendar_set_windows(cal, 480, 720, 780, 1020, 960), MC_OK);
    expect_time(cal, "custom lunch", calendar_clock_start(cal, L("2025-03-10 12:30")),
                L("2025-03-10 13:00"));
    calendar_rule sd = {CAL_RULE_SAME_DAY, 0}, wd = {CAL_RULE_WORKING_DAYS, 1};
    expect_time(cal, "custom cut-off", calendar_due(cal, sd, L("2025-03-10 15:30"), NULL),
                L("2025-03-10 17:00"));
    expect_time(cal, "custom 1 day", calendar_due(cal, wd, L("2025-03-10 07:00"), NULL),
                L("2025-03-10 17:00"));
    expect_time(cal, "custom 1 day from 10:00", calendar_due(cal, wd, L("2025-03-10 10:00"), NULL),
                L("2025-03-11 10:00"));
    assert_int_equal(calendar_set_utc_offset(cal, 15 * 3600), MC_ERR_CONFIG);
    calendar_free(cal);
}

static void test_format(void **state)
{
    const calendar *cal = *state;
    char buf[CALENDAR_FMT_CAP];
    calendar_format_local(cal, 0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T07:00:00+07:00");
    calendar_format_local(cal, L("2026-02-13 16:00:05"), buf, sizeof(buf));
    assert_string_equal(buf, "2026-02-13T16:00:05+07:00");
    /* 2026-11-23 17:30 UTC is already the 24th in Vietnam */
    time_t t = timegm(&(struct tm){.tm_year = 126, .tm_mon = 10, .tm_mday = 23, .tm_hour = 17,
                                   .tm_min = 30});
    calendar_format_local(cal, t, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-24T00:30:00+07:00");
    int y, m, d;
    calendar_local_date(cal, t, &y, &m, &d);
    assert_int_equal(y * 10000 + m * 100 + d, 20261124);
    char small[25] = "x";
    calendar_format_local(cal, t, small, sizeof(small));
    assert_string_equal(small, "");

    calendar *neg = calendar_new();
    assert_non_null(neg);
    assert_int_equal(calendar_set_utc_offset(neg, -(3 * 3600 + 1800)), MC_OK);
    calendar_format_local(neg, 0, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T20:30:00-03:30");
    calendar_free(neg);
}

/* Robustness: extreme inputs are clamped, no overflow (UBSan would abort). */
static void test_extremes(void **state)
{
    const calendar *cal = *state;
    time_t far = calendar_add_working_seconds(cal, L("2025-03-10 09:00"), 9000000000000000000L);
    assert_int_equal(far, CALENDAR_TIME_MAX);
    assert_true(calendar_working_seconds_between(cal, (time_t)INT64_MIN, (time_t)INT64_MAX) > 0);
    calendar_rule big = {CAL_RULE_WORKING_DAYS, 2000000000};
    bool has_due = false;
    time_t due = calendar_due(cal, big, L("2025-03-10 09:00"), &has_due);
    assert_true(has_due);
    assert_int_equal(calendar_working_seconds_between(cal, calendar_clock_start(cal, L("2025-03-10 09:00")), due),
                     (long)CALENDAR_MAX_DAYS * H8);
    assert_int_equal(calendar_add_working_seconds(cal, 1000, -5), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clock_start, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_due, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_due_none, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_working_day, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_year_totals, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_pause, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_against_reference, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_unconfirmed, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_bad_lines, setup_real, teardown_cal),
        cmocka_unit_test(test_good_buf),
        cmocka_unit_test(test_add_months),
        cmocka_unit_test_setup_teardown(test_local_date_text, setup_real, teardown_cal),
        cmocka_unit_test(test_entry_cap),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_windows),
        cmocka_unit_test_setup_teardown(test_format, setup_real, teardown_cal),
        cmocka_unit_test_setup_teardown(test_extremes, setup_real, teardown_cal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
