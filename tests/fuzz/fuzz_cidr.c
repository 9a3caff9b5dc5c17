/* libFuzzer target for lib/cidr.c: network lists (trusted_networks) and
 * client addresses. Besides "no crash" it checks that a parsed network
 * has no host bits set and a length within its family, that it contains
 * its own address, and that the prefix text of any address parses back
 * to a network containing that address. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/cidr.h"

static void check_net(const struct cidr *c)
{
	unsigned total = c->family == AF_INET ? 32 : 128;
	struct cidr_list self = { (struct cidr *)c, 1 };
	struct cidr a = *c;

	if ((c->family != AF_INET && c->family != AF_INET6) || c->bits > total)
		abort();
	for (unsigned bit = c->bits; bit < total; bit++)
		if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
			abort();
	a.bits = total;
	if (!cidr_list_match(&self, &a))
		abort();
}

static void check_prefix_roundtrip(const char *ip)
{
	struct cidr a, back;
	char text[CIDR_TEXT_MAX];

	if (cidr_addr_parse(ip, &a) < 0)
		return;
	for (unsigned v4 = 0; v4 <= 32; v4 += 8) {
		cidr_prefix_text(&a, v4, v4 * 4, text, sizeof(text));
		struct cidr_list l = { &back, 1 };
		if (cidr_parse(text, &back) < 0 || !cidr_list_match(&l, &a))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct cidr_list l;
	struct error err;
	struct cidr c;

	memcpy(s, data, size);
	s[size] = '\0';
	if (cidr_parse(s, &c) == 0)
		check_net(&c);
	check_prefix_roundtrip(s);
	if (cidr_list_parse(s, &l, &err) == 0) {
		if (l.n > CIDR_LIST_MAX)
			abort();
		for (size_t i = 0; i < l.n; i++)
			check_net(&l.v[i]);
		cidr_list_free(&l);
	}
	free(s);
	return 0;
}
