/* lib/cidr.c: networks from the configuration (trusted_networks) and the
 * prefix keys per-network limits count client addresses under. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "../../lib/cidr.h"
#include "../../lib/log.h"

static void prefix_of(const char *ip, unsigned v4, unsigned v6, const char *want)
{
	struct cidr c;
	char out[CIDR_TEXT_MAX];

	if (cidr_addr_parse(ip, &c) < 0)
		fail_msg("%s does not parse", ip);
	cidr_prefix_text(&c, v4, v6, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("%s /%u /%u: got %s, want %s", ip, v4, v6, out, want);
}

static void test_prefix_keys(void **state)
{
	prefix_of("192.0.2.77", 32, 64, "192.0.2.77/32");
	prefix_of("192.0.2.77", 24, 64, "192.0.2.0/24");
	prefix_of("192.0.2.77", 20, 64, "192.0.0.0/20");
	prefix_of("10.255.255.255", 9, 64, "10.128.0.0/9");
	/* Every address of a /64 is one key; the next /64 another. */
	prefix_of("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 32, 64, "2001:db8:1:2::/64");
	prefix_of("2001:db8:1:2::1", 32, 64, "2001:db8:1:2::/64");
	prefix_of("2001:db8:1:3::1", 32, 64, "2001:db8:1:3::/64");
	prefix_of("2001:db8:1:2:8000::1", 32, 65, "2001:db8:1:2:8000::/65");
	prefix_of("2001:db8::1", 32, 128, "2001:db8::1/128");
	prefix_of("::1", 32, 64, "::/64");
	/* A v4-mapped address is its IPv4 address. */
	prefix_of("::ffff:192.0.2.77", 24, 64, "192.0.2.0/24");
}

static void test_parse(void **state)
{
	struct cidr c;

	assert_int_equal(cidr_parse("10.1.2.3/8", &c), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.bits, 8);
	assert_int_equal(c.addr[0], 10);
	assert_int_equal(c.addr[1], 0);  /* host bits cleared */
	assert_int_equal(cidr_parse("192.0.2.1", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(cidr_parse("2001:db8::/32", &c), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.bits, 32);
	assert_int_equal(cidr_parse("::/0", &c), 0);
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);

	const char *bad[] = { "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8x",
			      "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/0008", "10.0.0/8",
			      "10.0.0.0//8", "host.example", "10.0.0.0 /8", "::ffff:10.0.0.0/104",
			      "1.2.3.4.5", "2001:db8::1::2/64",
			      "0123456789012345678901234567890123456789012345678901234567890/1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cidr_parse(bad[i], &c) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void test_list_match(void **state)
{
	struct cidr_list l;
	struct error err;
	struct cidr a;

	assert_int_equal(cidr_list_parse("10.0.0.0/8, 192.0.2.5 2001:db8::/32,,", &l, &err), 0);
	assert_int_equal(l.n, 3);
	const char *in[] = { "10.0.0.1", "10.255.0.0", "192.0.2.5", "2001:db8:ffff::1",
			     "::ffff:10.9.9.9" };
	const char *out[] = { "11.0.0.1", "192.0.2.6", "2001:db9::1", "::1", "9.255.255.255" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(cidr_addr_parse(in[i], &a), 0);
		if (!cidr_list_match(&l, &a))
			fail_msg("%s should match", in[i]);
		assert_int_equal(cidr_addr_parse(out[i], &a), 0);
		if (cidr_list_match(&l, &a))
			fail_msg("%s should not match", out[i]);
	}
	cidr_list_free(&l);

	assert_int_equal(cidr_list_parse("", &l, &err), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(cidr_addr_parse("10.0.0.1", &a), 0);
	assert_false(cidr_list_match(&l, &a));
	cidr_list_free(&l);

	assert_int_equal(cidr_list_parse("10.0.0.0/8, nonsense", &l, &err), -1);
	assert_non_null(strstr(err.msg, "\"nonsense\""));
	assert_null(l.v);
}

static void test_list_limit(void **state)
{
	char text[CIDR_LIST_MAX * 16 + 32];
	size_t off = 0;
	struct cidr_list l;
	struct error err;

	for (int i = 0; i <= CIDR_LIST_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "10.%d.%d.0/24,",
					i / 256, i % 256);
	assert_int_equal(cidr_list_parse(text, &l, &err), -1);
	assert_non_null(strstr(err.msg, "too many"));
}

static void test_log_limit(void **state)
{
	struct log_limit l = { 0, 0 };
	unsigned held = 99;

	assert_int_equal(log_limit_pass(&l, 1000, 10, &held), 1);
	assert_int_equal(held, 0);
	assert_int_equal(log_limit_pass(&l, 1001, 10, &held), 0);
	assert_int_equal(log_limit_pass(&l, 1009, 10, &held), 0);
	assert_int_equal(log_limit_pass(&l, 1010, 10, &held), 1);
	assert_int_equal(held, 2);
	assert_int_equal(log_limit_pass(&l, 1030, 10, &held), 1);
	assert_int_equal(held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_keys),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_list_match),
		cmocka_unit_test(test_list_limit),
		cmocka_unit_test(test_log_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
