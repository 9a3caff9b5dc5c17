/* IMAP dates (RFC 9051 date-time and date): INTERNALDATE, APPEND's date
 * argument, SEARCH BEFORE/ON/SINCE. Calendar arithmetic is done here in
 * proleptic Gregorian UTC, never through the process time zone. */
#ifndef HAVEN_IMAPDATE_H
#define HAVEN_IMAPDATE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "dd-Mon-yyyy hh:mm:ss +zzzz" plus the NUL */
#define IMAPDATE_DATETIME_SIZE 27

/* Parse a date-time s[0..len) without its surrounding quotes, e.g.
 * " 1-Jan-2020 10:00:00 +0100" (a one-digit day may also be written
 * without the space). *t is the instant in UTC, *zone_minutes the offset
 * east of UTC as written. Returns 0, or -1 on syntax or range errors. */
int imapdate_parse_datetime(const char *s, size_t len, time_t *t, int *zone_minutes);

/* Parse a date s[0..len) ("1-Feb-1994", day of one or two digits). *t is
 * 00:00:00 UTC of that day. Returns 0 or -1. */
int imapdate_parse_date(const char *s, size_t len, time_t *t);

/* Format t as seen in zone_minutes (|zone| < 24h) into out (at least
 * IMAPDATE_DATETIME_SIZE bytes), day space-padded as INTERNALDATE wants.
 * Returns 0, or -1 if the zone or the year (0..9999) is out of range. */
int imapdate_format_datetime(char *out, size_t outsz, time_t t, int zone_minutes);

/* Day number (days since 1970-01-01) of t as seen in zone_minutes: what
 * SEARCH compares, "disregarding time and timezone". */
int64_t imapdate_day(time_t t, int zone_minutes);

#endif
