/* pid.h - local consistency check of the 12-digit personal ID (so dinh danh ca nhan).
 * PPP G YY RRRRRR: birth-registration province of the old 63-province table, gender+century
 * digit, last two digits of the birth year, six random digits. Pure: no I/O, no state. */
#ifndef MC_PID_H
#define MC_PID_H

#include <stddef.h>
#include <stdbool.h>

#include "err.h"

#define PID_LEN 12

/* Checks pid against the declared birth date ("YYYY-MM-DD", or "YYYY" when only the year is
 * known) and gender ('M' or 'F'). Returns MC_OK, or MC_ERR_PID_INVALID with a citizen-readable
 * reason (Vietnamese, then English) naming the part that disagrees in why (NUL-terminated,
 * truncated to whycap; why may be NULL). Never checks PPP against residence: the number is
 * for life. */
mc_err pid_check(const char *pid, const char *birth_date, char gender, char *why, size_t whycap);

/* True when code (3 digits) is a province code of the birth-registration table. */
bool pid_province_known(const char *code);

/* Province name for a 3-digit code, or NULL. The string is static. */
const char *pid_province_name(const char *code);

/* Writes a loggable mask of pid into out: first 3 and last 3 digits kept ("048******123").
 * Anything that is not exactly 12 digits becomes stars of its length (NULL -> ""), truncated
 * to cap-1. Returns out; with cap == 0 nothing is written. */
char *pid_mask(const char *pid, char *out, size_t cap);

#endif
