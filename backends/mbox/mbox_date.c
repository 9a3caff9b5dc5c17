/* Dates in mbox files: the asctime date of the From_ line (the message's
 * INTERNALDATE), and, for From_ lines without one ("From - "), the Date:
 * header as a fallback. Our own parsers because the locale must not change
 * what we read or write, and both inputs are attacker-controlled text. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mbox_private.h"

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

struct tok {
	const char *p;
	size_t n;
};

#define MAXTOK 24

/* Split on spaces, tabs and (for Date:) commas; stops at CR/LF. */
static size_t tokenize(const char *s, size_t len, int commas, struct tok *t)
{
	size_t nt = 0, i = 0;
	while (i < len && nt < MAXTOK) {
		while (i < len && (s[i] == ' ' || s[i] == '\t' || (commas && s[i] == ',')))
			i++;
		if (i >= len || s[i] == '\r' || s[i] == '\n')
			break;
		t[nt].p = s + i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n' &&
		       !(commas && s[i] == ','))
			i++;
		t[nt].n = (size_t)(s + i - t[nt].p);
		nt++;
	}
	return nt;
}

static int name_index(const struct tok *t, const char *const *names, int count)
{
	if (t->n < 3)
		return -1;
	for (int i = 0; i < count; i++)
		if (strncasecmp(t->p, names[i], 3) == 0)
			return i;
	return -1;
}

static int number(const struct tok *t, size_t minlen, size_t maxlen, int *out)
{
	int v = 0;
	if (t->n < minlen || t->n > maxlen)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return -1;
		v = v * 10 + (t->p[i] - '0');
	}
	*out = v;
	return 0;
}

/* hh:mm or hh:mm:ss */
static int parse_time(const struct tok *t, int *h, int *m, int *sec)
{
	struct tok a = *t, b, c = { NULL, 0 };
	const char *colon = memchr(a.p, ':', a.n);
	if (!colon)
		return -1;
	b.p = colon + 1;
	b.n = (size_t)(a.p + a.n - b.p);
	a.n = (size_t)(colon - a.p);
	colon = memchr(b.p, ':', b.n);
	if (colon) {
		c.p = colon + 1;
		c.n = (size_t)(b.p + b.n - c.p);
		b.n = (size_t)(colon - b.p);
	}
	*sec = 0;
	if (number(&a, 1, 2, h) < 0 || number(&b, 2, 2, m) < 0)
		return -1;
	if (c.p && number(&c, 2, 2, sec) < 0)
		return -1;
	if (*h > 23 || *m > 59 || *sec > 60)
		return -1;
	return 0;
}

/* +hhmm / -hhmm, or a few US names; 1 if t is a zone. */
static int parse_zone(const struct tok *t, int *tz)
{
	static const struct { const char *n; int off; } names[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
		{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
	};
	if (t->n == 5 && (t->p[0] == '+' || t->p[0] == '-')) {
		struct tok d = { t->p + 1, 4 };
		int v;
		if (number(&d, 4, 4, &v) < 0 || v % 100 > 59 || v / 100 > 23)
			return 0;
		*tz = (v / 100) * 60 + v % 100;
		if (t->p[0] == '-')
			*tz = -*tz;
		return 1;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].n) == t->n && strncasecmp(t->p, names[i].n, t->n) == 0) {
			*tz = names[i].off;
			return 1;
		}
	return 0;
}

static int make_time(int year, int mon, int day, int h, int m, int s, int tz, time_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	if (year < 1900 || year > 9999 || mon < 0 || mon > 11 || day < 1 || day > mdays[mon])
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	*out = timegm(&tm) - (time_t)tz * 60;
	return 0;
}

int mbox_date_from_line(const char *line, size_t len, time_t *t, int *tz)
{
	struct tok tk[MAXTOK];
	size_t nt;

	if (len < 5 || memcmp(line, "From ", 5) != 0)
		return -1;
	nt = tokenize(line + 5, len - 5, 0, tk);
	/* The sender may be missing or contain odd text; the date is the last
	 * "Www Mmm" pair followed by a day and a time. */
	for (size_t i = nt; i-- > 0;) {
		int mon, day, h, m, s, year, zone = 0;
		size_t k;
		if (i + 4 >= nt)
			continue;
		if (name_index(&tk[i], wdays, 7) < 0 || tk[i].n != 3)
			continue;
		if ((mon = name_index(&tk[i + 1], months, 12)) < 0 || tk[i + 1].n != 3)
			continue;
		if (number(&tk[i + 2], 1, 2, &day) < 0 ||
		    parse_time(&tk[i + 3], &h, &m, &s) < 0)
			continue;
		k = i + 4;
		if (number(&tk[k], 4, 4, &year) < 0) {
			/* "hh:mm:ss PST 1996": a zone between time and year */
			if (!parse_zone(&tk[k], &zone) || k + 1 >= nt ||
			    number(&tk[k + 1], 4, 4, &year) < 0)
				continue;
			k++;
		} else if (k + 1 < nt) {
			parse_zone(&tk[k + 1], &zone);
		}
		if (make_time(year, mon, day, h, m, s, zone, t) < 0)
			continue;
		*tz = zone;
		return 0;
	}
	return -1;
}

int mbox_date_rfc5322(const char *s, size_t len, time_t *t, int *tz)
{
	struct tok tk[MAXTOK];
	size_t nt = tokenize(s, len, 1, tk), i = 0;
	int day, mon, year, h, m, sec, zone = 0;

	if (nt > 0 && name_index(&tk[0], wdays, 7) >= 0)
		i++;
	if (i + 3 >= nt)
		return -1;
	if (number(&tk[i], 1, 2, &day) < 0 || (mon = name_index(&tk[i + 1], months, 12)) < 0 ||
	    number(&tk[i + 2], 2, 4, &year) < 0 || parse_time(&tk[i + 3], &h, &m, &sec) < 0)
		return -1;
	if (tk[i + 2].n == 2)
		year += year < 50 ? 2000 : 1900;
	else if (tk[i + 2].n == 3)
		year += 1900;
	if (i + 4 < nt)
		parse_zone(&tk[i + 4], &zone);
	if (make_time(year, mon, day, h, m, sec, zone, t) < 0)
		return -1;
	*tz = zone;
	return 0;
}

size_t mbox_date_format(time_t t, char *buf, size_t size)
{
	struct tm tm;
	int n;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1900) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	n = snprintf(buf, size, "%s %s %2d %02d:%02d:%02d %04d", wdays[tm.tm_wday],
		     months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     tm.tm_year + 1900);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
