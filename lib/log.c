#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "haven";
static int log_foreground = 1;
static enum log_level log_min = LOG_LVL_INFO;
static char log_sid[64];

void log_init(const char *ident, int foreground)
{
	log_ident = ident;
	log_foreground = foreground;
	if (!foreground)
		openlog("haven", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level lvl)
{
	log_min = lvl;
}

int log_enabled(enum log_level lvl)
{
	return lvl <= log_min;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_session(const char *sid)
{
	if (sid == NULL)
		log_sid[0] = '\0';
	else
		snprintf(log_sid, sizeof(log_sid), "%s", sid);
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *tag[] = { "error", "warning", "info", "debug" };
	char msg[2048];
	int saved = errno;

	if (lvl > log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Never let a CR/LF from a client split a log line. */
	for (char *p = msg; *p; p++)
		if (*p == '\r' || *p == '\n' || (unsigned char)*p < 0x20)
			*p = '?';
	if (log_foreground) {
		fprintf(stderr, "haven %s[%ld]: %s: %s%s%s\n", log_ident,
			(long)getpid(), tag[lvl], log_sid[0] ? log_sid : "",
			log_sid[0] ? ": " : "", msg);
	} else {
		syslog(prio[lvl], "%s: %s%s%s", log_ident,
		       log_sid[0] ? log_sid : "", log_sid[0] ? ": " : "", msg);
	}
	errno = saved;
}

#define LOG_FN(name, lvl)                                                      \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vmsg(lvl, fmt, ap);                                        \
		va_end(ap);                                                    \
	}
LOG_FN(log_err, LOG_LVL_ERR)
LOG_FN(log_warn, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

int log_limit_pass(struct log_limit *l, time_t now, unsigned every, unsigned *suppressed)
{
	if (l->last != 0 && now - l->last < (time_t)every) {
		l->held++;
		return 0;
	}
	*suppressed = l->held;
	l->held = 0;
	l->last = now;
	return 1;
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
