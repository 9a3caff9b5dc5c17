/* Sequence sets: syntax, '*' resolution, normalisation, merging, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../mail/seqset.h"
#include "../../lib/xmalloc.h"

static int setup(void **state)
{
	*state = arena_new();
	return 0;
}

static int teardown(void **state)
{
	arena_free(*state);
	return 0;
}

/* Parse, resolve against max and compare with the expected ranges written
 * as "lo-hi,lo-hi". */
static void check(void **state, const char *set, uint32_t max, const char *expect)
{
	struct seqset s;
	char got[512];
	size_t n = 0;

	if (seqset_parse(*state, set, &s) < 0)
		fail_msg("\"%s\" rejected", set);
	seqset_resolve(&s, max);
	got[0] = '\0';
	for (size_t i = 0; i < s.n; i++) {
		assert_true(s.r[i].lo <= s.r[i].hi);
		assert_true(s.r[i].hi != SEQ_STAR || max == SEQ_STAR);
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%u-%u", i ? "," : "",
				      (unsigned)s.r[i].lo, (unsigned)s.r[i].hi);
	}
	assert_string_equal(got, expect);
}

static void test_basic(void **state)
{
	check(state, "1", 10, "1-1");
	check(state, "1:5", 10, "1-5");
	check(state, "7,3", 10, "3-3,7-7");
	check(state, "2,4:7,9,12:*", 15, "2-2,4-7,9-9,12-15");
}

static void test_star(void **state)
{
	struct seqset s;
	check(state, "*", 3, "3-3");
	check(state, "1:*", 3, "1-3");
	check(state, "*:1", 3, "1-3");
	check(state, "*:*", 3, "3-3");
	/* n:* with n above the highest number still includes the highest. */
	check(state, "5:*", 3, "3-5");
	assert_int_equal(seqset_parse(*state, "5:*", &s), 0);
	seqset_resolve(&s, 3);
	assert_true(seqset_contains(&s, 3));
	assert_false(seqset_contains(&s, 2));
	assert_false(seqset_contains(&s, 6));
	/* An empty mailbox: '*' is 0 and 0 never matches. */
	check(state, "*", 0, "");
	check(state, "1:*", 0, "1-1");
	check(state, "*,4", 0, "4-4");
	/* 4294967295 cannot be told from '*' and means the same in practice. */
	check(state, "1:4294967295", 10, "1-10");
}

static void test_reverse_and_merge(void **state)
{
	check(state, "3:1", 10, "1-3");
	check(state, "5:7,1:3,4", 10, "1-7");
	check(state, "1,2,3,10:8,9", 10, "1-3,8-10");
	check(state, "1:100,50:60,99:200", 300, "1-200");
	check(state, "*:4,5:7", 10, "4-10");
	check(state, "4294967294,1:4294967294", 4294967294u, "1-4294967294");
	check(state, "4294967294:*", SEQ_STAR, "4294967294-4294967295");
}

static void test_contains(void **state)
{
	struct seqset s;
	assert_int_equal(seqset_parse(*state, "2,4:7,9,12:*", &s), 0);
	seqset_resolve(&s, 15);
	static const int in[16] = { 0, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1 };
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(seqset_contains(&s, i), in[i]);
	assert_false(seqset_contains(&s, 16));
	assert_false(seqset_contains(&s, UINT32_MAX));
}

static void test_rejects(void **state)
{
	static const char *bad[] = {
		"", "0", "0:5", "5:0", "01", "1:01", "4294967296", "1:4294967296",
		"99999999999999999999", "1,", ",1", "1,,2", "1:", ":1", "1:2:3", "1 ",
		" 1", "a", "1-2", "**", "*:", "$", "1;2", "+1", "-1", "1:*x",
	};
	struct seqset s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (seqset_parse(*state, bad[i], &s) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
	}
}

static void test_range_cap(void **state)
{
	size_t n = SEQSET_MAX_RANGES;
	char *s = xmalloc(2 * n + 2);
	struct seqset set;

	for (size_t i = 0; i < n; i++) {
		s[2 * i] = '1';
		s[2 * i + 1] = ',';
	}
	s[2 * n - 1] = '\0';
	assert_int_equal(seqset_parse(*state, s, &set), 0);
	assert_int_equal(set.n, n);
	seqset_resolve(&set, 5);
	assert_int_equal(set.n, 1);
	s[2 * n - 1] = ',';
	s[2 * n] = '2';
	s[2 * n + 1] = '\0';
	assert_int_equal(seqset_parse(*state, s, &set), -1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reverse_and_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_cap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
