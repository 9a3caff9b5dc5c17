/* Client addresses as networks: "192.0.2.0/24", "2001:db8::/32" or a
 * bare address. Per-address limits (pre-auth connections in the master,
 * failed logins in the auth helper) count a network prefix, not an exact
 * address: an IPv6 client picks any of the 2^64 addresses of its /64 at
 * will. An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4
 * address it maps. */
#ifndef HAVEN_CIDR_H
#define HAVEN_CIDR_H
#include <stddef.h>
#include "error.h"

struct cidr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];  /* network byte order; 4 used for AF_INET */
	unsigned bits;           /* prefix length; bits past it are zero */
};

struct cidr_list {
	struct cidr *v;
	size_t n;
};

#define CIDR_LIST_MAX 1024
/* "a.b.c.d/32" or "xxxx:...:xxxx/128" plus NUL, at most */
#define CIDR_TEXT_MAX 64

/* One network: an address, optionally "/bits". Host bits past the prefix
 * are cleared. 0, or -1 when it is not one. */
int cidr_parse(const char *text, struct cidr *out);
/* A client address (no prefix) as a network of full length. */
int cidr_addr_parse(const char *ip, struct cidr *out);
/* Networks separated by commas and/or blanks; empty text is an empty
 * list. At most CIDR_LIST_MAX. 0 or -1 (err names the bad item). */
int cidr_list_parse(const char *text, struct cidr_list *out, struct error *err);
void cidr_list_free(struct cidr_list *l);
/* 1 when addr (a full-length network) lies in one of l's networks. */
int cidr_list_match(const struct cidr_list *l, const struct cidr *addr);
/* The network of addr, cut to v4bits or v6bits, as text ("198.51.100.0/24");
 * the key under which per-address limits count it. */
void cidr_prefix_text(const struct cidr *addr, unsigned v4bits, unsigned v6bits, char *out,
		      size_t outlen);

#endif
