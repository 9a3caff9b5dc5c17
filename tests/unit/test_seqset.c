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
		assert_true(s.r[i].lo >= 1 && s.r[i].hi <= UINT32_MAX);
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
}

/* 4294967295 is a number like any other, never '*' (issue 17: "UID SEARCH
 * UID 7:4294967295" matched the last message, UID 5). */
static void test_largest_number_is_not_star(void **state)
{
	check(state, "7:4294967295", 5, "7-4294967295");
	check(state, "4294967295:7", 5, "7-4294967295");
	check(state, "4294967295", 5, "4294967295-4294967295");
	check(state, "4294967295", 0, "4294967295-4294967295");
	check(state, "1:4294967295", 10, "1-4294967295");
	check(state, "4294967295:*", 5, "5-4294967295");
	check(state, "*:4294967295", 4294967295u, "4294967295-4294967295");
}

/* The class of issue 17's UID 7:4294967295: 0, 1, 2^31 and 2^32-1 (and
 * '*') in every position of a set (alone, either end of a range, first,
 * middle or last item), resolved against mailboxes of several sizes and
 * compared with the definition: a range holds every number between its
 * two ends, '*' is the highest number in use, 0 is never valid. */
static const char *const sweep_values[] = { "0", "1", "2147483648", "4294967295", "*" };
#define SWEEP_NVALUES (sizeof(sweep_values) / sizeof(sweep_values[0]))
static const char *const sweep_shapes[] = {
	"%1", "%1:%2", "%1,%2", "%1:%2,9", "9,%1:%2", "3,%1:%2,9:12", "%1,5:%2",
};

static uint64_t sweep_value(const char *v, uint32_t max)
{
	return strcmp(v, "*") == 0 ? max : strtoull(v, NULL, 10);
}

/* Expand a shape: %1 and %2 become a and b. */
static void sweep_expand(const char *shape, const char *a, const char *b, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = shape; *p && n + 1 < size; p++) {
		const char *v = NULL;
		if (p[0] == '%' && (p[1] == '1' || p[1] == '2'))
			v = *++p == '1' ? a : b;
		if (v != NULL)
			n += (size_t)snprintf(out + n, size - n, "%s", v);
		else
			out[n++] = *p;
	}
	out[n] = '\0';
}

/* The definition, item by item ("a" or "a:b"). */
static int sweep_model(const char *set, uint32_t max, uint64_t probe)
{
	char copy[128], *save = NULL;
	snprintf(copy, sizeof(copy), "%s", set);
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		if (colon)
			*colon = '\0';
		uint64_t x = sweep_value(item, max), y = colon ? sweep_value(colon + 1, max) : x;
		uint64_t lo = x < y ? x : y, hi = x < y ? y : x;
		if (probe >= 1 && probe >= lo && probe <= hi)
			return 1;
	}
	return 0;
}

static void test_number_edges_everywhere(void **state)
{
	static const uint32_t maxes[] = { 0, 1, 12, 2147483648u, UINT32_MAX };
	static const uint32_t probes[] = { 0, 1, 2, 5, 7, 9, 12, 13, 2147483647u,
					   2147483648u, 2147483649u, 4294967294u, 4294967295u };
	char set[128];

	for (size_t sh = 0; sh < sizeof(sweep_shapes) / sizeof(sweep_shapes[0]); sh++)
		for (size_t a = 0; a < SWEEP_NVALUES; a++)
			for (size_t b = 0; b < SWEEP_NVALUES; b++) {
				struct seqset s;
				sweep_expand(sweep_shapes[sh], sweep_values[a], sweep_values[b], set,
					     sizeof(set));
				int zero = strstr(set, "0") == set || strstr(set, ",0") ||
					   strstr(set, ":0");
				arena_reset(*state);
				int rc = seqset_parse(*state, set, &s);
				if (zero) {
					if (rc == 0)
						fail_msg("\"%s\" accepted", set);
					continue;
				}
				if (rc < 0)
					fail_msg("\"%s\" rejected", set);
				struct seq_range *orig = s.r;
				size_t n = s.n;
				for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
					struct seqset r = { arena_alloc(*state, n * sizeof(*orig)), n };
					memcpy(r.r, orig, n * sizeof(*orig));
					seqset_resolve(&r, maxes[m]);
					for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
						int got = seqset_contains(&r, probes[k]);
						if (got != sweep_model(set, maxes[m], probes[k]))
							fail_msg("\"%s\" max %u: %llu %s", set,
								 (unsigned)maxes[m],
								 (unsigned long long)probes[k],
								 got ? "matched" : "missed");
					}
				}
			}
}

static void test_reverse_and_merge(void **state)
{
	check(state, "3:1", 10, "1-3");
	check(state, "5:7,1:3,4", 10, "1-7");
	check(state, "1,2,3,10:8,9", 10, "1-3,8-10");
	check(state, "1:100,50:60,99:200", 300, "1-200");
	check(state, "*:4,5:7", 10, "4-10");
	check(state, "4294967294,1:4294967294", 4294967294u, "1-4294967294");
	check(state, "4294967294:*", UINT32_MAX, "4294967294-4294967295");
	check(state, "4294967295,1:4294967294", 10, "1-4294967295");
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
		cmocka_unit_test_setup_teardown(test_largest_number_is_not_star, setup, teardown),
		cmocka_unit_test_setup_teardown(test_number_edges_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reverse_and_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_cap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
