/* LIST pattern matching: '*', '%', INBOX case, literals, and the promise of
 * the dynamic-programming matcher that no pattern makes it slow. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../protocol/worker.h"

struct mcase {
	const char *pattern, *name;
	int want;
};

static void run_cases(const struct mcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = list_match(c[i].pattern, c[i].name);
		if (got != c[i].want)
			fail_msg("list_match(\"%s\", \"%s\") = %d, want %d", c[i].pattern,
				 c[i].name, got, c[i].want);
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_star(void **state)
{
	static const struct mcase cases[] = {
		{ "*", "INBOX", 1 },
		{ "*", "Work", 1 },
		{ "*", "Work/Projects/2024", 1 },
		{ "*", "/", 1 },
		{ "*", "a//b", 1 },
		{ "*", "", 1 },
		{ "**", "x/y", 1 },
		{ "*/*", "a/b/c", 1 },
		{ "*/*", "abc", 0 },
		{ "*b", "a/b", 1 },
		{ "*b", "a/bc", 0 },
		{ "a*", "a", 1 },
		{ "a*", "ba", 0 },
		{ "a*c", "a/b/c", 1 },
		{ "a*c", "a/b/cd", 0 },
	};
	RUN(cases);
}

static void test_percent(void **state)
{
	static const struct mcase cases[] = {
		{ "%", "INBOX", 1 },
		{ "%", "Work", 1 },
		{ "%", "", 1 },
		{ "%", "Work/Sub", 0 },
		{ "%", "/", 0 },
		{ "%", "Work/", 0 },
		{ "%/%", "a/b", 1 },
		{ "%/%", "a/b/c", 0 },
		{ "%/%", "ab", 0 },
		{ "%%", "ab", 1 },
		{ "%%", "a/b", 0 },
		{ "%b", "ab", 1 },
		{ "%b", "a/b", 0 },
		{ "a%", "abc", 1 },
		{ "a%", "a/c", 0 },
		{ "*/%", "a/b/c", 1 },
		{ "%/*", "a/b/c", 1 },
		{ "%/*", "abc", 0 },
		{ "%*", "a/b", 1 },
		{ "*%", "a/b", 1 },
	};
	RUN(cases);
}

static void test_inbox_case(void **state)
{
	static const struct mcase cases[] = {
		{ "INBOX", "INBOX", 1 },
		{ "inbox", "INBOX", 1 },
		{ "InBoX", "INBOX", 1 },
		{ "iNBOX", "INBOX", 1 },
		{ "inbox/%", "INBOX/Sub", 1 },
		{ "Inbox/*", "INBOX/a/b", 1 },
		{ "inbox/Sub", "INBOX/Sub", 1 },
		/* Only INBOX itself is case-insensitive, not its children... */
		{ "inbox/sub", "INBOX/Sub", 0 },
		/* ...nor names that merely start with the same letters. */
		{ "inboxes", "INBOXES", 0 },
		{ "INBOXES", "INBOXES", 1 },
		{ "inbox", "INBOXES", 0 },
		{ "INBOX", "INBOX/Sub", 0 },
		{ "inbox", "Work", 0 },
		/* Other names are case-sensitive. */
		{ "work", "Work", 0 },
		{ "Work", "work", 0 },
		{ "WORK", "Work", 0 },
	};
	RUN(cases);
}

static void test_hierarchy(void **state)
{
	static const struct mcase cases[] = {
		{ "Work/%", "Work/a", 1 },
		{ "Work/%", "Work/Projects", 1 },
		{ "Work/%", "Work/a/b", 0 },
		{ "Work/%", "Work", 0 },
		{ "Work/%", "Work/", 1 },
		{ "Work/%", "Workshop/a", 0 },
		{ "Work/%", "Other/a", 0 },
		{ "Work/*", "Work/a", 1 },
		{ "Work/*", "Work/a/b", 1 },
		{ "Work/*", "Work/a/b/c/d", 1 },
		{ "Work/*", "Work", 0 },
		{ "Work/*", "Workshop", 0 },
		{ "Work*", "Work", 1 },
		{ "Work*", "Workshop", 1 },
		{ "Work*", "Work/a", 1 },
		{ "Work%", "Work", 1 },
		{ "Work%", "Workshop", 1 },
		{ "Work%", "Work/a", 0 },
		{ "Work/%/x", "Work/a/x", 1 },
		{ "Work/%/x", "Work/a/b/x", 0 },
		{ "Work/*/x", "Work/a/b/x", 1 },
	};
	RUN(cases);
}

static void test_literals(void **state)
{
	static const struct mcase cases[] = {
		{ "Work", "Work", 1 },
		{ "Work", "Wor", 0 },
		{ "Wor", "Work", 0 },
		{ "Work", "Work/", 0 },
		{ "", "", 1 },
		{ "", "a", 0 },
		{ "a", "", 0 },
		/* No other wildcard characters. */
		{ "W?rk", "Work", 0 },
		{ "W?rk", "W?rk", 1 },
		{ "W.rk", "Work", 0 },
		{ "[W]ork", "Work", 0 },
		{ "W\\ork", "Work", 0 },
		{ "Sp ace", "Sp ace", 1 },
		{ "a/b", "a/b", 1 },
		{ "a/b", "a/c", 0 },
		{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", 1 },
		{ "&AOk-t&AOk-", "&AOk-t&AOk-", 1 },
	};
	RUN(cases);
}

static double now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_pathological(void **state)
{
	char *name = malloc(4001);
	char pat[256];
	double t0, t;

	memset(name, 'a', 4000);
	name[4000] = '\0';

	t0 = now_sec();
	/* A backtracking matcher takes ~ n^8 steps here. */
	assert_int_equal(list_match("*a*a*a*a*a*a*a*a*b", name), 0);
	assert_int_equal(list_match("%a%a%a%a%a%a%a%a%b", name), 0);
	assert_int_equal(list_match("*a*a*a*a*a*a*a*a*a", name), 1);
	assert_int_equal(list_match("%a%a%a%a%a%a%a%a%", name), 1);
	/* A long pattern of wildcards, also against a name with delimiters. */
	size_t k = 0;
	for (; k < 120; k += 2) {
		pat[k] = (k / 2) % 2 ? '%' : '*';
		pat[k + 1] = 'a';
	}
	pat[k++] = 'b';
	pat[k] = '\0';
	assert_int_equal(list_match(pat, name), 0);
	for (size_t i = 7; i < 4000; i += 8)
		name[i] = '/';
	assert_int_equal(list_match(pat, name), 0);
	assert_int_equal(list_match("*a*a*a*a*a*a*a*a*b", name), 0);
	t = now_sec() - t0;
	/* DP cost is pattern length x name length: well under a second even
	 * with sanitizers. */
	if (t > 2.0)
		fail_msg("pathological patterns took %.2f s", t);

	/* The longest accepted names and patterns (4096) still work. */
	char *longname = malloc(4098);
	memset(longname, 'x', 4097);
	longname[4096] = '\0';
	assert_int_equal(list_match("*", longname), 1);
	assert_int_equal(list_match("x*x", longname), 1);
	assert_int_equal(list_match(longname, longname), 1);
	free(longname);
	free(name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_star),
		cmocka_unit_test(test_percent),
		cmocka_unit_test(test_inbox_case),
		cmocka_unit_test(test_hierarchy),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_pathological),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
