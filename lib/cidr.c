#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xmalloc.h"

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static unsigned family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void clear_host_bits(struct cidr *c)
{
	unsigned total = family_bits(c->family) / 8;
	for (unsigned i = 0; i < total; i++) {
		unsigned start = i * 8;
		if (start >= c->bits)
			c->addr[i] = 0;
		else if (c->bits - start < 8)
			c->addr[i] &= (unsigned char)(0xff << (8 - (c->bits - start)));
	}
}

int cidr_addr_parse(const char *ip, struct cidr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ip, out->addr) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
		out->family = AF_INET6;
		if (memcmp(out->addr, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(out->addr, out->addr + 12, 4);
			memset(out->addr + 4, 0, 12);
			out->family = AF_INET;
		}
	} else {
		return -1;
	}
	out->bits = family_bits(out->family);
	return 0;
}

/* Decimal 0..max, one to three digits, nothing else. */
static int parse_bits(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int cidr_parse(const char *text, struct cidr *out)
{
	char ip[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t iplen = slash ? (size_t)(slash - text) : strlen(text);

	if (iplen == 0 || iplen >= sizeof(ip))
		return -1;
	memcpy(ip, text, iplen);
	ip[iplen] = '\0';
	if (cidr_addr_parse(ip, out) < 0)
		return -1;
	if (slash) {
		/* A mapped address with a prefix is ambiguous: say it as IPv4. */
		if (out->family == AF_INET && strchr(ip, ':'))
			return -1;
		if (parse_bits(slash + 1, family_bits(out->family), &out->bits) < 0)
			return -1;
	}
	clear_host_bits(out);
	return 0;
}

static int is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t';
}

int cidr_list_parse(const char *text, struct cidr_list *out, struct error *err)
{
	size_t cap = 0;

	out->v = NULL;
	out->n = 0;
	for (const char *p = text; *p;) {
		char item[CIDR_TEXT_MAX];
		size_t len = 0;

		while (is_sep(*p))
			p++;
		while (p[len] && !is_sep(p[len]))
			len++;
		if (len == 0)
			break;
		if (len >= sizeof(item) || out->n == CIDR_LIST_MAX) {
			error_set(err, ERR_PARSE, "%s", len >= sizeof(item) ? "network too long"
									   : "too many networks");
			cidr_list_free(out);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		if (out->n == cap) {
			cap = cap ? cap * 2 : 4;
			out->v = xreallocarray(out->v, cap, sizeof(*out->v));
		}
		if (cidr_parse(item, &out->v[out->n]) < 0) {
			error_set(err, ERR_PARSE, "not a network: \"%s\"", item);
			cidr_list_free(out);
			return -1;
		}
		out->n++;
		p += len;
	}
	return 0;
}

void cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int cidr_contains(const struct cidr *net, const struct cidr *addr)
{
	struct cidr cut;

	if (net->family != addr->family)
		return 0;
	cut = *addr;
	cut.bits = net->bits;
	clear_host_bits(&cut);
	return memcmp(cut.addr, net->addr, family_bits(net->family) / 8) == 0;
}

int cidr_list_match(const struct cidr_list *l, const struct cidr *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_contains(&l->v[i], addr))
			return 1;
	return 0;
}

void cidr_prefix_text(const struct cidr *addr, unsigned v4bits, unsigned v6bits, char *out,
		      size_t outlen)
{
	struct cidr net = *addr;
	char ip[INET6_ADDRSTRLEN];
	unsigned want = net.family == AF_INET ? v4bits : v6bits;

	if (want < net.bits)
		net.bits = want;
	clear_host_bits(&net);
	if (inet_ntop(net.family, net.addr, ip, sizeof(ip)) == NULL)
		snprintf(ip, sizeof(ip), "?");
	snprintf(out, outlen, "%s/%u", ip, net.bits);
}
