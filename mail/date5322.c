/* RFC 5322 3.3 dates, with the obsolete forms of 4.3 that real mail still
 * carries: two- and three-digit years, named zones, comments anywhere,
 * missing seconds and day of week. Calendar arithmetic is proleptic
 * Gregorian, independent of the process time zone. */
#include <string.h>
#include <strings.h>

#include "mail_private.h"

struct dlex {
	const char *p, *end;
};

/* Blanks, CR/LF and comments (nesting counted, not recursed). */
static void skip_cfws(struct dlex *d)
{
	struct mail_lex lx = { d->p, d->end };
	mail_lex_cfws(&lx, NULL, NULL);
	d->p = lx.p;
}

static int number(struct dlex *d, int maxdigits, int *val, int *ndigits)
{
	int n = 0, v = 0;
	while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		if (n == maxdigits)
			return -1;
		v = v * 10 + (*d->p - '0');
		d->p++;
		n++;
	}
	if (n == 0)
		return -1;
	*val = v;
	if (ndigits)
		*ndigits = n;
	return 0;
}

static size_t word(struct dlex *d, char *w, size_t wsz)
{
	size_t n = 0;
	while (d->p < d->end && ((*d->p >= 'a' && *d->p <= 'z') || (*d->p >= 'A' && *d->p <= 'Z'))) {
		if (n + 1 < wsz)
			w[n] = *d->p;
		n++;
		d->p++;
	}
	w[n < wsz ? n : wsz - 1] = '\0';
	return n;
}

static const char *const months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec"
};

static const struct { const char *name; int minutes; } zones[] = {
	{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
	{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 }, { "CDT", -300 },
	{ "MST", -420 }, { "MDT", -360 }, { "PST", -480 }, { "PDT", -420 },
};

/* Days since 1970-01-01 of a Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned dd)
{
	int64_t era;
	unsigned yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int mail_parse_date(const char *s, size_t len, int64_t *t, int *zone_minutes)
{
	struct dlex d = { s, s + len };
	char w[16];
	int day, mon = -1, year, yd, hour, min, sec = 0, zone = 0, i;

	skip_cfws(&d);
	/* Optional day of week: a word followed by ',' (or just a word). */
	if (d.p < d.end && !(*d.p >= '0' && *d.p <= '9')) {
		if (word(&d, w, sizeof(w)) == 0)
			return -1;
		skip_cfws(&d);
		if (d.p < d.end && *d.p == ',')
			d.p++;
		skip_cfws(&d);
	}
	if (number(&d, 2, &day, NULL) < 0)
		return -1;
	skip_cfws(&d);
	if (d.p < d.end && *d.p == '-') /* "12-Nov-2013", seen in the wild */
		d.p++;
	if (word(&d, w, sizeof(w)) < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (strncasecmp(w, months[i], 3) == 0)
			mon = i + 1;
	if (mon < 0)
		return -1;
	skip_cfws(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++;
	if (number(&d, 4, &year, &yd) < 0)
		return -1;
	/* RFC 5322 4.3: two digits below 50 are 20xx, else 19xx; three
	 * digits are added to 1900. */
	if (yd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (yd == 3)
		year += 1900;
	if (day < 1 || day > days_in_month(year, mon))
		return -1;
	skip_cfws(&d);
	if (number(&d, 2, &hour, NULL) < 0)
		return -1;
	skip_cfws(&d);
	if (d.p >= d.end || *d.p != ':')
		return -1;
	d.p++;
	skip_cfws(&d);
	if (number(&d, 2, &min, NULL) < 0)
		return -1;
	skip_cfws(&d);
	if (d.p < d.end && *d.p == ':') {
		d.p++;
		skip_cfws(&d);
		if (number(&d, 2, &sec, NULL) < 0)
			return -1;
		skip_cfws(&d);
	}
	if (hour > 23 || min > 59 || sec > 60)
		return -1;
	if (d.p < d.end && (*d.p == '+' || *d.p == '-')) {
		int sign = *d.p == '-' ? -1 : 1, z, zd;
		d.p++;
		if (number(&d, 4, &z, &zd) < 0 || zd != 4 || z % 100 > 59)
			return -1;
		zone = sign * ((z / 100) * 60 + z % 100);
	} else if (d.p < d.end) {
		size_t n = word(&d, w, sizeof(w));
		zone = 0;
		for (i = 0; i < (int)(sizeof(zones) / sizeof(zones[0])); i++)
			if (strcasecmp(w, zones[i].name) == 0)
				zone = zones[i].minutes;
		/* Military and unknown zones: RFC 5322 4.3 says to read them
		 * as -0000, i.e. UTC with no information. */
		if (n == 0)
			return -1;
	}
	/* Whatever follows (a trailing comment, "(EST)") is ignored. */
	*t = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 +
	     hour * 3600 + min * 60 + sec - (int64_t)zone * 60;
	if (zone_minutes)
		*zone_minutes = zone;
	return 0;
}
