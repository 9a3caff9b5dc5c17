/* Vacation (RFC 5230): whether a message deserves an automatic reply
 * (section 4.5/4.6 and RFC 3834 section 2), and the reply itself
 * (section 5, RFC 3834 section 3). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../mail/message.h"
#include "sieve_private.h"

/* Mail from lists, bulk senders, robots and other responders. */
static int vacation_automated(struct arena *a, const struct sieve_msg *m)
{
	static const char *const lists[] = { "List-Id", "List-Help", "List-Unsubscribe",
		"List-Subscribe", "List-Post", "List-Owner", "List-Archive" };
	const char *v = sv_header_first(a, m, "Auto-Submitted");

	if (v != NULL && strncasecmp(v, "no", 2) != 0)
		return 1;
	v = sv_header_first(a, m, "Precedence");
	if (v != NULL && (strcasecmp(v, "bulk") == 0 || strcasecmp(v, "list") == 0 ||
			  strcasecmp(v, "junk") == 0))
		return 1;
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		if (sv_header_exists(m, lists[k], strlen(lists[k])))
			return 1;
	return 0;
}

/* Senders that are programs (RFC 5230 4.6 and custom). */
static int vacation_robot_sender(const char *from)
{
	const char *at = strrchr(from, '@');
	size_t n = at ? (size_t)(at - from) : strlen(from);

	if (n == 0)
		return 1;
	if ((n == 13 && strncasecmp(from, "mailer-daemon", 13) == 0) ||
	    (n == 8 && strncasecmp(from, "listserv", 8) == 0) ||
	    (n == 9 && strncasecmp(from, "majordomo", 9) == 0) ||
	    strncasecmp(from, "owner-", 6) == 0)
		return 1;
	return n >= 8 && strncasecmp(from + n - 8, "-request", 8) == 0;
}

struct own {
	const char **addr;
	size_t n;
	int found;
};

static int own_has(const struct own *o, const char *a, size_t len)
{
	for (size_t k = 0; k < o->n; k++)
		if (sv_ascii_casecmp_n(o->addr[k], strlen(o->addr[k]), a, len) == 0)
			return 1;
	return 0;
}

static int own_seen_cb(void *ctx, const char *v, size_t len)
{
	struct own *o = ctx;
	o->found = own_has(o, v, len);
	return o->found;
}

/* The recipient's addresses: the envelope recipient, it without its
 * detail, and :addresses. */
static void own_collect(struct arena *a, const struct sieve_msg *m, const struct sv_node *n,
			struct own *o)
{
	const char *to = m->env_to ? m->env_to : "", *user;
	size_t ulen, tlen = strlen(to), max = 2 + (n->addresses ? n->addresses->nstrs : 0);
	const char *at = strrchr(to, '@');

	o->addr = arena_alloc(a, max * sizeof(char *));
	o->addr[o->n++] = to;
	sv_address_part(to, tlen, AP_USER, m->delimiter, &user, &ulen);
	if (at != NULL && ulen < (size_t)(at - to))
		o->addr[o->n++] = arena_printf(a, "%.*s%s", (int)ulen, user, at);
	for (size_t k = 0; n->addresses && k < n->addresses->nstrs; k++)
		o->addr[o->n++] = n->addresses->strs[k].s;
}

int sv_vacation_eligible(struct arena *a, const struct sieve_msg *m, const struct sv_node *n)
{
	static const struct sv_str fields[] = { { "To", 2 }, { "Cc", 2 }, { "Bcc", 3 },
		{ "Resent-To", 9 }, { "Resent-Cc", 9 }, { "Resent-Bcc", 10 } };
	const char *from = m->env_from ? m->env_from : "";
	struct own o = { NULL, 0, 0 };
	int ok;

	if (*from == '\0' || vacation_robot_sender(from) || vacation_automated(a, m))
		ok = 0;
	else {
		own_collect(a, m, n, &o);
		ok = !own_has(&o, from, strlen(from)) &&
		     sv_address_values(a, m, fields, sizeof(fields) / sizeof(fields[0]), AP_ALL,
				       own_seen_cb, &o) != 0;
	}
	arena_reset(a);
	return ok;
}
