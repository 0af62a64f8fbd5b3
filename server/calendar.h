/* calendar.h - the working-day calendar: office hours, days off and due dates.
 * Pure: local civil time is UTC plus a fixed offset (default +07:00, Asia/Ho_Chi_Minh has no
 * DST), computed with days-from-civil arithmetic; no TZ, no localtime, no I/O except loading
 * the holiday file. All const functions are safe to call from many threads at once. */
#ifndef MC_CALENDAR_H
#define MC_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

#define CALENDAR_MAX_ENTRIES 4096      /* holiday table cap */
#define CALENDAR_MAX_FILE (1u << 20)   /* holiday file cap, bytes */
#define CALENDAR_MAX_DAYS 3650         /* WORKING_DAYS rules are clamped to this */
#define CALENDAR_TIME_MIN ((time_t)0)             /* 1970-01-01T00:00:00Z */
#define CALENDAR_TIME_MAX ((time_t)253402300799)  /* 9999-12-31T23:59:59Z */

typedef struct calendar calendar; /* opaque */

typedef enum { CAL_RULE_NONE, CAL_RULE_SAME_DAY, CAL_RULE_WORKING_DAYS } calendar_rule_kind;
typedef struct {
    calendar_rule_kind kind;
    int days; /* CAL_RULE_WORKING_DAYS only */
} calendar_rule;

/* New calendar: offset +07:00, windows 07:00-11:30 and 13:30-17:00, same-day cut-off 15:00,
 * empty holiday table (every Mon-Fri works). Caller owns it; NULL when out of memory. */
calendar *calendar_new(void);
/* Frees cal; NULL is fine. */
void calendar_free(calendar *cal);

/* Replace the holiday table with the entries parsed from buf[0..len) (format: docs/calendar.md).
 * MC_ERR_CONFIG on a bad line or over CALENDAR_MAX_ENTRIES, MC_ERR_NOMEM; on error the old
 * table is kept and why (if whycap > 0) holds "line N: reason". Not safe while other threads
 * read cal: to reload in a running server, load into a new calendar and swap the pointer. */
mc_err calendar_load_buf(calendar *cal, const char *buf, size_t len, char *why, size_t whycap);
/* As calendar_load_buf, reading the file at path (at most CALENDAR_MAX_FILE bytes);
 * MC_ERR_IO if it cannot be read, why then names the path. */
mc_err calendar_load_file(calendar *cal, const char *path, char *why, size_t whycap);

/* Office windows and same-day cut-off, in minutes from local midnight. Requires
 * 0 <= am_start < am_end <= pm_start < pm_end <= 1440 and am_start <= cutoff <= pm_end;
 * MC_ERR_CONFIG otherwise, cal unchanged. One working day = the sum of both windows. */
mc_err calendar_set_windows(calendar *cal, int am_start, int am_end, int pm_start, int pm_end,
                            int cutoff);
/* Local offset from UTC in seconds, within +-14 h; MC_ERR_CONFIG otherwise, cal unchanged. */
mc_err calendar_set_utc_offset(calendar *cal, int seconds);

/* True when local date y-m-d is a working day (Mon-Fri not off, or a W day); false for an
 * invalid date. */
bool calendar_is_working_day(const calendar *cal, int y, int m, int d);

/* When the processing clock starts for something received at `received`: that instant if it
 * is inside a window of a working day, else the next window opening (13:30 from the lunch
 * break, 07:00 of the next working day after 17:00 or on a day off). Times outside
 * [CALENDAR_TIME_MIN, CALENDAR_TIME_MAX] are clamped into it, here and below. */
time_t calendar_clock_start(const calendar *cal, time_t received);

/* Due time under rule for something received at `received`. Returns 0 (and *has_due=false)
 * for CAL_RULE_NONE or an unknown kind; else *has_due=true. SAME_DAY: 17:00 the same day if
 * received on a working day at or before the cut-off, else 17:00 of the next working day.
 * WORKING_DAYS n: clock start + n working days of working time (days clamped to
 * [0, CALENDAR_MAX_DAYS]); an end exactly at a window close stays there. has_due may be NULL. */
time_t calendar_due(const calendar *cal, calendar_rule rule, time_t received, bool *has_due);

/* Working seconds inside [a, b) (0 when b <= a). */
long calendar_working_seconds_between(const calendar *cal, time_t a, time_t b);
/* The instant at which secs working seconds counted from t have elapsed (t itself when
 * secs <= 0). A result landing exactly on a window close stays there, it does not roll over.
 * After a supplement pause: new_due = add(old_due, working_seconds_between(paused, resumed)). */
time_t calendar_add_working_seconds(const calendar *cal, time_t t, long secs);

/* Number of entries in the holiday table. */
size_t calendar_entry_count(const calendar *cal);
/* Number of entries marked unconfirmed ('?') in the holiday table. */
size_t calendar_unconfirmed_count(const calendar *cal);
/* The i-th unconfirmed entry in date order: its date and kind ('H', 'C' or 'W'). False when
 * i >= calendar_unconfirmed_count(), outputs unchanged. Any output pointer may be NULL. */
bool calendar_unconfirmed_get(const calendar *cal, size_t i, int *y, int *m, int *d, char *kind);

/* Format t as local "YYYY-MM-DDTHH:MM:SS+07:00" into buf; cap >= 26 (CALENDAR_FMT_CAP), else
 * buf gets "" (if cap > 0). */
#define CALENDAR_FMT_CAP 26
void calendar_format_local(const calendar *cal, time_t t, char *buf, size_t cap);
/* Local date parts of t (for dossier codes yyMMdd). Any output pointer may be NULL. */
void calendar_local_date(const calendar *cal, time_t t, int *y, int *m, int *d);
/* The date `months` calendar months after y-m-d (months >= 0), the day clamped to the month's last
 * (31 August + 6 months = 28 or 29 February). Pure. */
void calendar_add_months(int *y, int *m, int *d, int months);
/* The local date of t plus `months` calendar months (calendar_add_months) as "YYYY-MM-DD" into buf;
 * cap >= 11 (CALENDAR_DATE_CAP), else buf gets "" (if cap > 0). */
#define CALENDAR_DATE_CAP 11
void calendar_local_date_text(const calendar *cal, time_t t, int months, char *buf, size_t cap);

#endif
