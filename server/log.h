/* log.h - one line per event on stderr: time, level, message. Callers mask personal IDs (pid_mask). */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Set the minimum level from "debug" | "info" | "warn" | "error"; false (level unchanged) otherwise. */
bool log_set_level(const char *name);
void log_msg(log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
