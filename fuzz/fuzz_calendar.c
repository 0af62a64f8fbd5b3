/* fuzz_calendar.c - the holiday-file parser (calendar_load_buf) and, on every table it accepts, the
 * due-time arithmetic. Input: 16 parameter bytes (UTC offset, office windows, an instant, a rule), then
 * the holiday file. Checked: a refused file keeps the old table and says "line N: ..."; the clock
 * starts no earlier than receipt; WORKING_DAYS n ends exactly n working days of time after the start. */
#include "calendar.h"
#include "fuzz.h"

#define PARAM_BYTES 16

static uint64_t rd(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prm[PARAM_BYTES] = {0};
    calendar *cal = NULL;
    char why[256], fmt[CALENDAR_FMT_CAP];
    size_t k = size < PARAM_BYTES ? size : PARAM_BYTES;

    memcpy(prm, data, k);
    if (!(cal = calendar_new()))
        return 0;
    mc_err rc = calendar_load_buf(cal, (const char *)data + k, size - k, why, sizeof(why));
    if (rc != MC_OK) {
        if (rc != MC_ERR_CONFIG || strncmp(why, "line ", 5) != 0 || calendar_entry_count(cal) != 0)
            fuzz_fail("rc %d why \"%s\"", rc, why);
        goto out;
    }
    size_t n = calendar_entry_count(cal), nu = calendar_unconfirmed_count(cal);
    if (n > CALENDAR_MAX_ENTRIES || nu > n)
        fuzz_fail("counts %zu %zu", n, nu);
    for (size_t i = 0; i < nu; i++) {
        int y, m, d;
        char kind;
        if (!calendar_unconfirmed_get(cal, i, &y, &m, &d, &kind) || (kind != 'H' && kind != 'C' && kind != 'W'))
            fuzz_fail("unconfirmed %zu", i);
        /* H/C only on weekdays and W only on weekends: the kind decides whether the day works. */
        if (calendar_is_working_day(cal, y, m, d) != (kind == 'W'))
            fuzz_fail("%04d-%02d-%02d %c", y, m, d, kind);
    }
    (void)calendar_unconfirmed_get(cal, nu, NULL, NULL, NULL, NULL);

    /* Configuration within its documented bounds (the setters refuse the rest). */
    (void)calendar_set_utc_offset(cal, (int)(rd(prm, 2) % (28 * 3600 + 1)) - 14 * 3600);
    int a0 = prm[2] * 6, a1 = a0 + 1 + prm[3] * 2, p0 = a1 + prm[4] * 2, p1 = p0 + 1 + prm[5] * 2;
    long dw = 8 * 3600; /* one working day of the default windows, in seconds */
    if (calendar_set_windows(cal, a0, a1, p0, p1, a0 + (p1 - a0) * prm[6] / 255) == MC_OK)
        dw = 60L * ((a1 - a0) + (p1 - p0));
    time_t t = (time_t)(rd(prm + 7, 5) % ((uint64_t)CALENDAR_TIME_MAX + 1));
    calendar_rule rule = {(calendar_rule_kind)(prm[12] % 4), (int)(rd(prm + 13, 2) % 4000) - 100};

    time_t start = calendar_clock_start(cal, t);
    if (start < t)
        fuzz_fail("clock starts at %lld before receipt %lld", (long long)start, (long long)t);
    bool has = false;
    time_t due = calendar_due(cal, rule, t, &has);
    if (has != (rule.kind == CAL_RULE_SAME_DAY || rule.kind == CAL_RULE_WORKING_DAYS))
        fuzz_fail("has_due %d for kind %d", has, rule.kind);
    if (rule.kind == CAL_RULE_WORKING_DAYS && due < CALENDAR_TIME_MAX - 400 * 86400L) {
        int days = rule.days < 0 ? 0 : rule.days > CALENDAR_MAX_DAYS ? CALENDAR_MAX_DAYS : rule.days;
        long got = calendar_working_seconds_between(cal, start, due);
        if (due < start || got != days * dw)
            fuzz_fail("due %lld start %lld worked %ld for %d days", (long long)due, (long long)start, got, days);
    }
    long w = calendar_working_seconds_between(cal, t, due);
    time_t back = calendar_add_working_seconds(cal, t, w);
    if (w < 0 || back > (due > t ? due : t))
        fuzz_fail("add(%lld, %ld) = %lld past %lld", (long long)t, w, (long long)back, (long long)due);
    calendar_format_local(cal, due, fmt, sizeof(fmt));
    if (strlen(fmt) != CALENDAR_FMT_CAP - 1)
        fuzz_fail("format \"%s\"", fmt);
    char date[CALENDAR_DATE_CAP];
    calendar_local_date_text(cal, t, prm[15] % 121, date, sizeof(date));
    if (strlen(date) != CALENDAR_DATE_CAP - 1 && t < CALENDAR_TIME_MAX - 3700L * 86400)
        fuzz_fail("date \"%s\"", date);
out:
    calendar_free(cal);
    return 0;
}
