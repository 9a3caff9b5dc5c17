#include "imapdate.h"

#include <stdio.h>
#include <string.h>

static const char imapdate_months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Keeps every intermediate value far from time_t overflow. */
#define IMAPDATE_MIN_YEAR 0
#define IMAPDATE_MAX_YEAR 9999
#define IMAPDATE_MAX_ZONE (24 * 60 - 1)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm: exact for all years, no tables, no time zone). */
static int64_t imapdate_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void imapdate_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int imapdate_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int imapdate_mdays(int64_t y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && imapdate_leap(y) ? 29 : days[m - 1];
}

/* Split t into whole days and seconds into the day, rounding towards
 * minus infinity, without forming any product that could overflow. */
static void imapdate_split(int64_t t, int64_t *days, int64_t *secs)
{
	*days = t / 86400;
	*secs = t % 86400;
	if (*secs < 0) {
		*secs += 86400;
		(*days)--;
	}
}

struct imapdate_cur {
	const char *p;
	size_t left;
};

static int imapdate_char(struct imapdate_cur *c, char ch)
{
	if (c->left == 0 || *c->p != ch)
		return -1;
	c->p++;
	c->left--;
	return 0;
}

/* Exactly n digits. */
static int imapdate_digits(struct imapdate_cur *c, size_t n, int *out)
{
	int v = 0;

	if (c->left < n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (c->p[i] < '0' || c->p[i] > '9')
			return -1;
		v = v * 10 + (c->p[i] - '0');
	}
	c->p += n;
	c->left -= n;
	*out = v;
	return 0;
}

static int imapdate_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* "d-Mon-yyyy" or "dd-Mon-yyyy"; " d-Mon-yyyy" too when space_pad (the
 * date-day-fixed of a date-time). */
static int imapdate_day_month_year(struct imapdate_cur *c, int space_pad, int64_t *days)
{
	int day, month = -1, year;

	if (space_pad && c->left >= 2 && c->p[0] == ' ') {
		c->p++;
		c->left--;
		if (imapdate_digits(c, 1, &day) < 0)
			return -1;
	} else if (imapdate_digits(c, 2, &day) < 0 && imapdate_digits(c, 1, &day) < 0) {
		return -1;
	}
	if (imapdate_char(c, '-') < 0 || c->left < 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (imapdate_lower(c->p[0]) == imapdate_lower(imapdate_months[i][0]) &&
		    imapdate_lower(c->p[1]) == imapdate_lower(imapdate_months[i][1]) &&
		    imapdate_lower(c->p[2]) == imapdate_lower(imapdate_months[i][2])) {
			month = i + 1;
			break;
		}
	}
	if (month < 0)
		return -1;
	c->p += 3;
	c->left -= 3;
	if (imapdate_char(c, '-') < 0 || imapdate_digits(c, 4, &year) < 0)
		return -1;
	if (day < 1 || day > imapdate_mdays(year, month))
		return -1;
	*days = imapdate_days_from_civil(year, month, day);
	return 0;
}

int imapdate_parse_date(const char *s, size_t len, time_t *t)
{
	struct imapdate_cur c = { s, len };
	int64_t days;

	/* date-day is 1*2DIGIT: no space padding here. */
	if (imapdate_day_month_year(&c, 0, &days) < 0 || c.left != 0)
		return -1;
	*t = (time_t)(days * 86400);
	return 0;
}

int imapdate_parse_datetime(const char *s, size_t len, time_t *t, int *zone_minutes)
{
	struct imapdate_cur c = { s, len };
	int64_t days;
	int hh, mm, ss, zh, zm, sign;

	if (imapdate_day_month_year(&c, 1, &days) < 0 || imapdate_char(&c, ' ') < 0 ||
	    imapdate_digits(&c, 2, &hh) < 0 || imapdate_char(&c, ':') < 0 ||
	    imapdate_digits(&c, 2, &mm) < 0 || imapdate_char(&c, ':') < 0 ||
	    imapdate_digits(&c, 2, &ss) < 0 || imapdate_char(&c, ' ') < 0)
		return -1;
	if (imapdate_char(&c, '+') == 0)
		sign = 1;
	else if (imapdate_char(&c, '-') == 0)
		sign = -1;
	else
		return -1;
	if (imapdate_digits(&c, 2, &zh) < 0 || imapdate_digits(&c, 2, &zm) < 0 || c.left != 0)
		return -1;
	/* Second 60 is a leap second (RFC 5322 allows it); it lands on the
	 * next minute like everywhere else in POSIX time. */
	if (hh > 23 || mm > 59 || ss > 60 || zh > 23 || zm > 59)
		return -1;
	*zone_minutes = sign * (zh * 60 + zm);
	*t = (time_t)(days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*zone_minutes * 60);
	return 0;
}

int64_t imapdate_day(time_t t, int zone_minutes)
{
	int64_t days, secs, carry, rest;

	/* Adding the zone to the seconds of the day, not to t, cannot
	 * overflow whatever t is. */
	imapdate_split((int64_t)t, &days, &secs);
	imapdate_split(secs + (int64_t)zone_minutes * 60, &carry, &rest);
	return days + carry;
}

int imapdate_format_datetime(char *out, size_t outsz, time_t t, int zone_minutes)
{
	int64_t days, secs, carry, year;
	int month, mday, zabs, n;

	if (outsz < IMAPDATE_DATETIME_SIZE || zone_minutes > IMAPDATE_MAX_ZONE ||
	    zone_minutes < -IMAPDATE_MAX_ZONE)
		return -1;
	imapdate_split((int64_t)t, &days, &secs);
	imapdate_split(secs + (int64_t)zone_minutes * 60, &carry, &secs);
	days += carry;
	if (days < imapdate_days_from_civil(IMAPDATE_MIN_YEAR, 1, 1) ||
	    days > imapdate_days_from_civil(IMAPDATE_MAX_YEAR, 12, 31))
		return -1;
	imapdate_civil_from_days(days, &year, &month, &mday);
	zabs = zone_minutes < 0 ? -zone_minutes : zone_minutes;
	n = snprintf(out, outsz, "%2d-%s-%04d %02d:%02d:%02d %c%02d%02d", mday,
		     imapdate_months[month - 1], (int)year, (int)(secs / 3600),
		     (int)(secs / 60 % 60), (int)(secs % 60), zone_minutes < 0 ? '-' : '+',
		     zabs / 60, zabs % 60);
	return n == IMAPDATE_DATETIME_SIZE - 1 ? 0 : -1;
}
