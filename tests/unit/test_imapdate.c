/* IMAP date-time and date parsing and INTERNALDATE formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../mail/imapdate.h"

#define PARSE_DT(s, t, z) imapdate_parse_datetime((s), strlen(s), (t), (z))
#define PARSE_D(s, t) imapdate_parse_date((s), strlen(s), (t))

static void test_parse_datetime(void **state)
{
	time_t t;
	int zone = 12345;
	(void)state;

	assert_int_equal(PARSE_DT("17-Jul-1996 02:44:25 -0700", &t, &zone), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(zone, -420);
	assert_int_equal(PARSE_DT(" 1-Jan-1970 00:00:00 +0000", &t, &zone), 0);
	assert_int_equal(t, 0);
	assert_int_equal(zone, 0);
	assert_int_equal(PARSE_DT("1-Jan-1970 01:30:00 +0130", &t, &zone), 0);
	assert_int_equal(t, 0);
	assert_int_equal(zone, 90);
	assert_int_equal(PARSE_DT("01-jan-1970 00:00:00 -0000", &t, &zone), 0);
	assert_int_equal(t, 0);
	assert_int_equal(PARSE_DT("29-Feb-2000 12:00:00 +0000", &t, &zone), 0);
	assert_int_equal(t, 951825600);
	assert_int_equal(PARSE_DT("31-Dec-1969 23:59:59 +0000", &t, &zone), 0);
	assert_int_equal(t, -1);
	assert_int_equal(PARSE_DT("19-Jan-2038 03:14:08 +0000", &t, &zone), 0);
	assert_int_equal((int64_t)t, INT64_C(2147483648));
	/* Leap second rolls over. */
	assert_int_equal(PARSE_DT("31-Dec-2016 23:59:60 +0000", &t, &zone), 0);
	assert_int_equal(t, 1483228800);
}

static void test_parse_datetime_rejects(void **state)
{
	static const char *bad[] = {
		"",
		"17-Jul-1996 02:44:25",
		"17-Jul-1996 02:44:25 -0700 ",
		"17-Jul-1996  02:44:25 -0700",
		"\"17-Jul-1996 02:44:25 -0700\"",
		"32-Jul-1996 02:44:25 -0700",
		"00-Jul-1996 02:44:25 -0700",
		"31-Jun-1996 02:44:25 -0700",
		"29-Feb-1900 02:44:25 -0700",
		"29-Feb-2001 02:44:25 -0700",
		"17-Jux-1996 02:44:25 -0700",
		"17-July-1996 02:44:25 -0700",
		"17-Jul-96 02:44:25 -0700",
		"17-Jul-19960 02:44:25 -0700",
		"17-Jul-1996 24:00:00 -0700",
		"17-Jul-1996 02:60:25 -0700",
		"17-Jul-1996 02:44:61 -0700",
		"17-Jul-1996 2:44:25 -0700",
		"17-Jul-1996 02:44:25 0700",
		"17-Jul-1996 02:44:25 -070",
		"17-Jul-1996 02:44:25 -0760",
		"17-Jul-1996 02:44:25 +2400",
		"17-Jul-1996 02:44:25 -07:00",
		"117-Jul-1996 02:44:25 -0700",
		"  1-Jul-1996 02:44:25 -0700",
		" 17-Jul-1996 02:44:25 -0700",
		"17 Jul 1996 02:44:25 -0700",
	};
	time_t t;
	int zone;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (PARSE_DT(bad[i], &t, &zone) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

static void test_parse_date(void **state)
{
	time_t t;
	(void)state;
	assert_int_equal(PARSE_D("1-Feb-1994", &t), 0);
	assert_int_equal(t, 760060800);
	assert_int_equal(PARSE_D("01-FEB-1994", &t), 0);
	assert_int_equal(t, 760060800);
	assert_int_equal(PARSE_D("1-Jan-1900", &t), 0);
	assert_int_equal((int64_t)t, INT64_C(-2208988800));
	assert_int_equal(PARSE_D("31-Dec-9999", &t), 0);
	assert_int_equal(PARSE_D(" 1-Feb-1994", &t), -1);
	assert_int_equal(PARSE_D("1-Feb-1994 ", &t), -1);
	assert_int_equal(PARSE_D("1-Feb-94", &t), -1);
	assert_int_equal(PARSE_D("30-Feb-1994", &t), -1);
	assert_int_equal(PARSE_D("1-Feb-1994 00:00:00 +0000", &t), -1);
	assert_int_equal(PARSE_D("", &t), -1);
	/* The length is authoritative: a NUL inside is not an end. */
	assert_int_equal(imapdate_parse_date("1-Feb-1994\0x", 12, &t), -1);
	assert_int_equal(PARSE_D("1-Fe", &t), -1);
}

static void test_format(void **state)
{
	char out[IMAPDATE_DATETIME_SIZE];
	(void)state;
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 837596665, -420), 0);
	assert_string_equal(out, "17-Jul-1996 02:44:25 -0700");
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 0, 0), 0);
	assert_string_equal(out, " 1-Jan-1970 00:00:00 +0000");
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 0, 90), 0);
	assert_string_equal(out, " 1-Jan-1970 01:30:00 +0130");
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 0, -1), 0);
	assert_string_equal(out, "31-Dec-1969 23:59:00 -0001");
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), -1, 0), 0);
	assert_string_equal(out, "31-Dec-1969 23:59:59 +0000");
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 951825600, 0), 0);
	assert_string_equal(out, "29-Feb-2000 12:00:00 +0000");
	/* Out of range: zone, year, buffer. */
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 0, 24 * 60), -1);
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), 0, -24 * 60), -1);
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), (time_t)INT64_C(253402300800), 0),
			 -1);
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), (time_t)INT64_MAX, 0), -1);
	assert_int_equal(imapdate_format_datetime(out, sizeof(out), (time_t)INT64_MIN, 0), -1);
	assert_int_equal(imapdate_format_datetime(out, sizeof(out) - 1, 0, 0), -1);
}

static void test_round_trip(void **state)
{
	char out[IMAPDATE_DATETIME_SIZE];
	time_t t, back;
	int zone;
	(void)state;
	/* Every few hours over several centuries, with assorted zones. */
	for (int64_t x = INT64_C(-5000000000); x < INT64_C(10000000000); x += 9876543) {
		int z = (int)(x % 1439);
		t = (time_t)x;
		assert_int_equal(imapdate_format_datetime(out, sizeof(out), t, z), 0);
		assert_int_equal(PARSE_DT(out, &back, &zone), 0);
		assert_int_equal(back, t);
		assert_int_equal(zone, z);
	}
}

static void test_day(void **state)
{
	time_t t;
	int zone;
	(void)state;
	assert_int_equal(imapdate_day(0, 0), 0);
	assert_int_equal(imapdate_day(-1, 0), -1);
	assert_int_equal(imapdate_day(86399, 0), 0);
	assert_int_equal(imapdate_day(86400, 0), 1);
	/* 23:30 UTC is already the next day at +0100. */
	assert_int_equal(imapdate_day(84600, 60), 1);
	assert_int_equal(imapdate_day(1800, -60), -1);
	assert_int_equal(PARSE_DT(" 1-Feb-1994 23:59:59 -1200", &t, &zone), 0);
	time_t d;
	assert_int_equal(PARSE_D("1-Feb-1994", &d), 0);
	assert_int_equal(imapdate_day(t, zone), d / 86400);
	/* Extreme inputs must not overflow. */
	(void)imapdate_day((time_t)INT64_MAX, 1439);
	(void)imapdate_day((time_t)INT64_MIN, -1439);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_datetime),
		cmocka_unit_test(test_parse_datetime_rejects),
		cmocka_unit_test(test_parse_date),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_day),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
