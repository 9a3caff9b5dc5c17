/* Pre-auth connections per client network (max_connections_per_ip): the
 * master counts each connection under its address's prefix from accept
 * until it logs in or ends, so that idle sockets from one place cannot
 * use up max_connections for everybody else. Networks in trusted_networks
 * are not counted. The table holds only networks with connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/hash64.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "master.h"

#define PERIP_BUCKETS 4096

struct perip {
	struct perip *next;
	unsigned n;
	char net[CIDR_TEXT_MAX];
};

static struct perip *buckets[PERIP_BUCKETS];
static struct cidr_list trusted;
static unsigned trusted_gen = ~0u;

static struct perip **slot_of(const char *net)
{
	struct perip **pp = &buckets[hash64(net, strlen(net), 0) % PERIP_BUCKETS];
	while (*pp && strcmp((*pp)->net, net) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* trusted_networks of the current configuration (parsed again after a
 * SIGHUP; the master validated it). */
static const struct cidr_list *trusted_list(void)
{
	struct error err;

	if (trusted_gen != M->login_gen) {
		cidr_list_free(&trusted);
		if (cidr_list_parse(M->cfg.trusted_networks, &trusted, &err) < 0)
			log_err("trusted_networks: %s", err.msg);
		trusted_gen = M->login_gen;
	}
	return &trusted;
}

void perip_network(const char *remote, char *net, size_t netlen)
{
	struct cidr a;

	net[0] = '\0';
	if (M->cfg.max_connections_per_ip == 0 || cidr_addr_parse(remote, &a) < 0 ||
	    cidr_list_match(trusted_list(), &a))
		return;
	cidr_prefix_text(&a, (unsigned)M->cfg.client_ipv4_prefix,
			 (unsigned)M->cfg.client_ipv6_prefix, net, netlen);
}

int perip_add(const char *net)
{
	struct perip **pp, *e;

	if (net[0] == '\0')
		return 0;
	pp = slot_of(net);
	if (*pp && (*pp)->n >= (unsigned long)M->cfg.max_connections_per_ip)
		return -1;
	if (*pp == NULL) {
		e = xcalloc(1, sizeof(*e));
		snprintf(e->net, sizeof(e->net), "%s", net);
		*pp = e;
	}
	(*pp)->n++;
	return 0;
}

void perip_del(const char *net)
{
	struct perip **pp, *e;

	if (net[0] == '\0')
		return;
	pp = slot_of(net);
	if ((e = *pp) == NULL)
		return;
	if (--e->n == 0) {
		*pp = e->next;
		free(e);
	}
}

void perip_free_all(void)
{
	for (size_t i = 0; i < PERIP_BUCKETS; i++) {
		while (buckets[i]) {
			struct perip *e = buckets[i];
			buckets[i] = e->next;
			free(e);
		}
	}
	cidr_list_free(&trusted);
}
