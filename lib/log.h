/* Logging: syslog by default, stderr in foreground mode. Every line carries
 * the process role and, once known, the session id, so one connection can
 * be followed across the login worker, the master and the user worker. */
#ifndef HAVEN_LOG_H
#define HAVEN_LOG_H
#include <stdarg.h>
#include <time.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: process role ("master", "login", "auth", "worker"). */
void log_init(const char *ident, int foreground);
void log_set_level(enum log_level lvl);
/* 1 if lines of lvl are written (to skip building a costly one). */
int log_enabled(enum log_level lvl);
int log_level_parse(const char *s, enum log_level *out);
/* Session id prefixed to every line from here on; NULL clears it. */
void log_set_session(const char *sid);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);
/* Rate limit for a warning that an attacker can trigger at will (a limit
 * being hit): log_limit_pass says 1 at most once per `every` seconds and
 * gives the number of times it said 0 since. Zero-initialise. */
struct log_limit {
	time_t last;
	unsigned held;
};
int log_limit_pass(struct log_limit *l, time_t now, unsigned every, unsigned *suppressed);

/* For programming errors and start-up failures only. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
