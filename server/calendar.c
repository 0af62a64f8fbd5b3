/* calendar.c - working-day calendar: office windows, the holiday table and due-date arithmetic.
 * Days are numbered from 1970-01-01 in local civil time (days-from-civil, no TZ). Counting
 * working days is O(log n): weekdays by arithmetic, corrected by a prefix sum over the sorted
 * holiday table, so long spans and big deadlines cost no day-walk. */
#include "calendar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(long) >= 8, "working seconds are returned as long");

#define DAY_SECS 86400
#define SECS_MAX INT64_C(100000000000) /* add_working_seconds clamps to this (~3000 years) */

typedef struct cal_entry {
    int64_t day;      /* local day number, 0 = 1970-01-01 */
    int line;         /* source line, for duplicate reports */
    char kind;        /* 'H', 'C' or 'W' */
    bool unconfirmed; /* kind had a '?' */
} cal_entry;

struct calendar {
    int offset;                   /* seconds east of UTC */
    int am0, am1, pm0, pm1;       /* windows, seconds from local midnight */
    int cutoff;                   /* same-day cut-off, seconds from local midnight */
    cal_entry *ent;               /* sorted by day, unique */
    int *pre;                     /* pre[i] = sum of deltas of ent[0..i): W +1, H/C -1 */
    size_t n;
    size_t n_unconfirmed;
};

/* ---- civil-date arithmetic (H. Hinnant's days_from_civil / civil_from_days) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = mm;
    *y = (int)(yoe + era * 400 + (mm <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

static bool valid_date(int y, int m, int d)
{
    return y >= 1970 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* Monday = 0 .. Sunday = 6; day 0 (1970-01-01) was a Thursday. */
static int weekday(int64_t day) { return (int)floor_mod(day + 3, 7); }

/* Number of Mon-Fri days in [-3, day), -3 being Monday 1969-12-29; differences count any range. */
static int64_t weekdays_before(int64_t day)
{
    int64_t e = day + 3;
    int64_t r = floor_mod(e, 7);
    return 5 * floor_div(e, 7) + (r < 5 ? r : 5);
}

/* ---- table look-ups ---- */

/* Index of the first entry with ent.day >= day. */
static size_t lower_bound(const calendar *cal, int64_t day)
{
    size_t lo = 0, hi = cal->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->ent[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool day_is_working(const calendar *cal, int64_t day)
{
    size_t i = lower_bound(cal, day);
    if (i < cal->n && cal->ent[i].day == day)
        return cal->ent[i].kind == 'W';
    return weekday(day) < 5;
}

/* Working days in [d0, d1), d0 <= d1. Exact because the loader only accepts H/C on weekdays
 * and W on weekends, so each entry flips exactly one day. */
static int64_t working_days(const calendar *cal, int64_t d0, int64_t d1)
{
    return weekdays_before(d1) - weekdays_before(d0) +
           cal->pre[lower_bound(cal, d1)] - cal->pre[lower_bound(cal, d0)];
}

/* The k-th working day after day (k >= 1). */
static int64_t nth_working_after(const calendar *cal, int64_t day, int64_t k)
{
    /* Any 7 days hold 5 weekdays and each entry removes at most one: hi always qualifies. */
    int64_t lo = day + 1;
    int64_t hi = day + 7 * ((k + (int64_t)cal->n) / 5 + 2);
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (working_days(cal, day + 1, mid + 1) >= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static long day_work(const calendar *cal)
{
    return (long)(cal->am1 - cal->am0) + (cal->pm1 - cal->pm0);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Working seconds of local day `day` before second-of-day sod (0..86400). */
static long work_before(const calendar *cal, int64_t day, int sod)
{
    if (!day_is_working(cal, day))
        return 0;
    return (long)(clampi(sod, cal->am0, cal->am1) - cal->am0) +
           (clampi(sod, cal->pm0, cal->pm1) - cal->pm0);
}

/* Second-of-day at which w working seconds of a day are done, 0 < w <= day_work: a close
 * reached exactly (11:30, 17:00) is kept rather than moved to the next opening. */
static int sod_at_work(const calendar *cal, long w)
{
    long am = cal->am1 - cal->am0;
    return w <= am ? cal->am0 + (int)w : cal->pm0 + (int)(w - am);
}

static time_t clamp_time(time_t t)
{
    return t < CALENDAR_TIME_MIN ? CALENDAR_TIME_MIN : t > CALENDAR_TIME_MAX ? CALENDAR_TIME_MAX : t;
}

static void split_local(const calendar *cal, time_t t, int64_t *day, int *sod)
{
    int64_t lt = (int64_t)clamp_time(t) + cal->offset;
    *day = floor_div(lt, DAY_SECS);
    *sod = (int)(lt - *day * DAY_SECS);
}

static time_t join_local(const calendar *cal, int64_t day, int sod)
{
    return (time_t)(day * DAY_SECS + sod - cal->offset);
}

/* ---- lifecycle and configuration ---- */

calendar *calendar_new(void)
{
    calendar *cal = calloc(1, sizeof(*cal));
    if (!cal)
        goto fail;
    cal->pre = calloc(1, sizeof(*cal->pre)); /* pre[0] = 0 for the empty table */
    if (!cal->pre)
        goto fail;
    cal->offset = 7 * 3600;
    cal->am0 = 7 * 3600;
    cal->am1 = 11 * 3600 + 30 * 60;
    cal->pm0 = 13 * 3600 + 30 * 60;
    cal->pm1 = 17 * 3600;
    cal->cutoff = 15 * 3600;
    return cal;
fail:
    calendar_free(cal);
    return NULL;
}

void calendar_free(calendar *cal)
{
    if (!cal)
        return;
    free(cal->ent);
    free(cal->pre);
    free(cal);
}

mc_err calendar_set_windows(calendar *cal, int am_start, int am_end, int pm_start, int pm_end,
                            int cutoff)
{
    if (!(0 <= am_start && am_start < am_end && am_end <= pm_start && pm_start < pm_end &&
          pm_end <= 1440 && am_start <= cutoff && cutoff <= pm_end))
        return MC_ERR_CONFIG;
    cal->am0 = am_start * 60;
    cal->am1 = am_end * 60;
    cal->pm0 = pm_start * 60;
    cal->pm1 = pm_end * 60;
    cal->cutoff = cutoff * 60;
    return MC_OK;
}

mc_err calendar_set_utc_offset(calendar *cal, int seconds)
{
    if (seconds < -14 * 3600 || seconds > 14 * 3600)
        return MC_ERR_CONFIG;
    cal->offset = seconds;
    return MC_OK;
}

/* ---- holiday file ---- */


static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v;
}

/* Parse one line [p, e) with its comment already cut and blanks trimmed (non-empty). */
static mc_err parse_line(const char *p, const char *e, int line, cal_entry *out, char *why,
                         size_t whycap)
{
    size_t len = (size_t)(e - p);
    if (len < 10 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || !is_digit(p[3]) ||
        p[4] != '-' || !is_digit(p[5]) || !is_digit(p[6]) || p[7] != '-' || !is_digit(p[8]) ||
        !is_digit(p[9])) {
        mc_why(why, whycap, "line %d: expected a date YYYY-MM-DD", line);
        return MC_ERR_CONFIG;
    }
    int y = digits(p, 4), m = digits(p + 5, 2), d = digits(p + 8, 2);
    if (!valid_date(y, m, d)) {
        mc_why(why, whycap, "line %d: no such date %.10s (years 1970-9999)", line, p);
        return MC_ERR_CONFIG;
    }
    const char *q = p + 10;
    if (q == e || !is_blank(*q)) {
        mc_why(why, whycap, "line %d: expected a blank and a kind after the date", line);
        return MC_ERR_CONFIG;
    }
    while (q < e && is_blank(*q))
        q++;
    /* trimmed, so q < e here */
    char kind = *q++;
    if (kind != 'H' && kind != 'C' && kind != 'W') {
        mc_why(why, whycap, "line %d: unknown kind '%c' (H, C or W, optional '?')", line,
                (kind >= 0x20 && kind < 0x7f) ? kind : '?');
        return MC_ERR_CONFIG;
    }
    bool unconfirmed = q < e && *q == '?';
    if (unconfirmed)
        q++;
    if (q != e) {
        mc_why(why, whycap, "line %d: unexpected text after the kind", line);
        return MC_ERR_CONFIG;
    }
    int64_t day = days_from_civil(y, m, d);
    bool weekend = weekday(day) >= 5;
    /* A day off on a weekend or a make-up day on a weekday changes nothing: almost surely a
     * typo for another date, so refuse it (this also keeps working_days() exact). */
    if (kind == 'W' && !weekend) {
        mc_why(why, whycap, "line %d: %.10s is a weekday, W is for a weekend day", line, p);
        return MC_ERR_CONFIG;
    }
    if (kind != 'W' && weekend) {
        mc_why(why, whycap,
                "line %d: %.10s is a weekend day; list its compensatory weekday instead", line,
                p);
        return MC_ERR_CONFIG;
    }
    out->day = day;
    out->line = line;
    out->kind = kind;
    out->unconfirmed = unconfirmed;
    return MC_OK;
}

static int entry_cmp(const void *a, const void *b)
{
    const cal_entry *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

mc_err calendar_load_buf(calendar *cal, const char *buf, size_t len, char *why, size_t whycap)
{
    mc_err rc = MC_OK;
    cal_entry *ent = NULL;
    int *pre = NULL;
    size_t n = 0, cap = 0, n_unconfirmed = 0;
    int line = 0;
    const char *p = buf, *end = buf + len;

    if (why && whycap > 0)
        why[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p, *e = le;
        p = nl ? nl + 1 : end;
        line++;
        const char *hash = memchr(s, '#', (size_t)(e - s));
        if (hash)
            e = hash;
        while (s < e && is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            e--;
        if (s == e)
            continue;
        if (n == CALENDAR_MAX_ENTRIES) {
            mc_why(why, whycap, "line %d: more than %d entries", line, CALENDAR_MAX_ENTRIES);
            rc = MC_ERR_CONFIG;
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            cal_entry *grown = realloc(ent, ncap * sizeof(*grown));
            if (!grown) {
                rc = MC_ERR_NOMEM;
                goto out;
            }
            ent = grown;
            cap = ncap;
        }
        rc = parse_line(s, e, line, &ent[n], why, whycap);
        if (rc)
            goto out;
        n++;
    }
    if (n > 0)
        qsort(ent, n, sizeof(*ent), entry_cmp);
    for (size_t i = 1; i < n; i++) {
        if (ent[i].day == ent[i - 1].day) {
            mc_why(why, whycap, "line %d: date already listed on line %d", ent[i].line,
                    ent[i - 1].line);
            rc = MC_ERR_CONFIG;
            goto out;
        }
    }
    pre = malloc((n + 1) * sizeof(*pre));
    if (!pre) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    pre[0] = 0;
    for (size_t i = 0; i < n; i++) {
        pre[i + 1] = pre[i] + (ent[i].kind == 'W' ? 1 : -1);
        n_unconfirmed += ent[i].unconfirmed;
    }
    /* commit: swap the new table in, free the old one below */
    cal_entry *old_ent = cal->ent;
    int *old_pre = cal->pre;
    cal->ent = ent;
    cal->pre = pre;
    cal->n = n;
    cal->n_unconfirmed = n_unconfirmed;
    ent = old_ent;
    pre = old_pre;
out:
    free(ent);
    free(pre);
    return rc;
}

mc_err calendar_load_file(calendar *cal, const char *path, char *why, size_t whycap)
{
    mc_err rc = MC_OK;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0;
    char eb[128];

    f = fopen(path, "rb");
    if (!f) {
        mc_why(why, whycap, "%s: %s", path, strerror_r(errno, eb, sizeof(eb)));
        rc = MC_ERR_IO;
        goto out;
    }
    buf = malloc(CALENDAR_MAX_FILE + 1);
    if (!buf) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    /* read one byte past the cap to tell "exactly at cap" from "too big" */
    while (len <= CALENDAR_MAX_FILE) {
        size_t got = fread(buf + len, 1, CALENDAR_MAX_FILE + 1 - len, f);
        if (got == 0)
            break;
        len += got;
    }
    if (ferror(f)) {
        mc_why(why, whycap, "%s: read error", path);
        rc = MC_ERR_IO;
        goto out;
    }
    if (len > CALENDAR_MAX_FILE) {
        mc_why(why, whycap, "%s: larger than %u bytes", path, CALENDAR_MAX_FILE);
        rc = MC_ERR_CONFIG;
        goto out;
    }
    rc = calendar_load_buf(cal, buf, len, why, whycap);
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

size_t calendar_entry_count(const calendar *cal) { return cal->n; }

size_t calendar_unconfirmed_count(const calendar *cal) { return cal->n_unconfirmed; }

bool calendar_unconfirmed_get(const calendar *cal, size_t i, int *y, int *m, int *d, char *kind)
{
    for (size_t k = 0; k < cal->n; k++) {
        if (!cal->ent[k].unconfirmed)
            continue;
        if (i-- > 0)
            continue;
        int yy, mm, dd;
        civil_from_days(cal->ent[k].day, &yy, &mm, &dd);
        if (y)
            *y = yy;
        if (m)
            *m = mm;
        if (d)
            *d = dd;
        if (kind)
            *kind = cal->ent[k].kind;
        return true;
    }
    return false;
}

/* ---- queries ---- */

bool calendar_is_working_day(const calendar *cal, int y, int m, int d)
{
    if (!valid_date(y, m, d))
        return false;
    return day_is_working(cal, days_from_civil(y, m, d));
}

time_t calendar_clock_start(const calendar *cal, time_t received)
{
    int64_t day;
    int sod;
    split_local(cal, received, &day, &sod);
    if (day_is_working(cal, day) && sod < cal->pm1) {
        if (sod < cal->am0)
            return join_local(cal, day, cal->am0);
        if (sod >= cal->am1 && sod < cal->pm0)
            return join_local(cal, day, cal->pm0);
        return clamp_time(received);
    }
    return join_local(cal, nth_working_after(cal, day, 1), cal->am0);
}

long calendar_working_seconds_between(const calendar *cal, time_t a, time_t b)
{
    int64_t da, db;
    int sa, sb;
    a = clamp_time(a);
    b = clamp_time(b);
    if (b <= a)
        return 0;
    split_local(cal, a, &da, &sa);
    split_local(cal, b, &db, &sb);
    if (da == db)
        return work_before(cal, db, sb) - work_before(cal, da, sa);
    return work_before(cal, da, DAY_SECS) - work_before(cal, da, sa) +
           (long)working_days(cal, da + 1, db) * day_work(cal) + work_before(cal, db, sb);
}

time_t calendar_add_working_seconds(const calendar *cal, time_t t, long secs)
{
    int64_t day;
    int sod;
    if (secs <= 0)
        return t;
    int64_t left = secs > SECS_MAX ? SECS_MAX : secs;
    long dw = day_work(cal);
    split_local(cal, t, &day, &sod);
    if (day_is_working(cal, day)) {
        long done = work_before(cal, day, sod);
        if (left <= dw - done)
            return join_local(cal, day, sod_at_work(cal, done + left));
        left -= dw - done;
    }
    /* left > 0: it ends on the k-th working day after today, w seconds into it */
    int64_t k = (left + dw - 1) / dw;
    long w = (long)(left - (k - 1) * dw);
    time_t due = join_local(cal, nth_working_after(cal, day, k), sod_at_work(cal, w));
    return due > CALENDAR_TIME_MAX ? CALENDAR_TIME_MAX : due;
}

time_t calendar_due(const calendar *cal, calendar_rule rule, time_t received, bool *has_due)
{
    int64_t day;
    int sod;
    bool dummy;
    if (!has_due)
        has_due = &dummy;
    switch (rule.kind) {
    case CAL_RULE_SAME_DAY:
        *has_due = true;
        split_local(cal, received, &day, &sod);
        if (day_is_working(cal, day) && sod <= cal->cutoff)
            return join_local(cal, day, cal->pm1);
        return join_local(cal, nth_working_after(cal, day, 1), cal->pm1);
    case CAL_RULE_WORKING_DAYS: {
        *has_due = true;
        int days = clampi(rule.days, 0, CALENDAR_MAX_DAYS);
        time_t start = calendar_clock_start(cal, received);
        return days == 0 ? start : calendar_add_working_seconds(cal, start, days * day_work(cal));
    }
    case CAL_RULE_NONE:
    default:
        *has_due = false;
        return 0;
    }
}

/* ---- formatting ---- */

void calendar_add_months(int *y, int *m, int *d, int months)
{
    int total = *y * 12 + (*m - 1) + months;
    *y = total / 12;
    *m = total % 12 + 1;
    if (*d > days_in_month(*y, *m))
        *d = days_in_month(*y, *m);
}

void calendar_local_date_text(const calendar *cal, time_t t, int months, char *buf, size_t cap)
{
    int y, m, d;
    if (cap < CALENDAR_DATE_CAP) {
        if (cap) buf[0] = '\0';
        return;
    }
    calendar_local_date(cal, t, &y, &m, &d);
    calendar_add_months(&y, &m, &d, months);
    snprintf(buf, cap, "%04d-%02d-%02d", y, m, d);
}

void calendar_local_date(const calendar *cal, time_t t, int *y, int *m, int *d)
{
    int64_t day;
    int sod, yy, mm, dd;
    split_local(cal, t, &day, &sod);
    civil_from_days(day, &yy, &mm, &dd);
    if (y)
        *y = yy;
    if (m)
        *m = mm;
    if (d)
        *d = dd;
}

void calendar_format_local(const calendar *cal, time_t t, char *buf, size_t cap)
{
    int64_t day;
    int sod, y, m, d;
    if (!buf || cap == 0)
        return;
    if (cap < CALENDAR_FMT_CAP) {
        buf[0] = '\0';
        return;
    }
    split_local(cal, t, &day, &sod);
    civil_from_days(day, &y, &m, &d);
    int off = cal->offset < 0 ? -cal->offset : cal->offset;
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, m, d, sod / 3600,
             sod / 60 % 60, sod % 60, cal->offset < 0 ? '-' : '+', off / 3600, off / 60 % 60);
}
