/* tfmt.h - time text: UTC DATETIME(6) strings for MariaDB, and back. Pure. */
#ifndef MC_TFMT_H
#define MC_TFMT_H

#include <stddef.h>
#include <time.h>

/* "YYYY-MM-DD HH:MM:SS.uuuuuu" (UTC) into buf (cap >= 27). */
void tfmt_db(time_t t, long usec, char *buf, size_t cap);
/* Parse "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC); returns (time_t)-1 on bad input. */
time_t tfmt_db_parse(const char *s);

#endif
