/* The result of a run: actions in execution order, duplicates merged
 * (RFC 5228 4.2), conflicts turned into runtime errors (RFC 5429 2.1,
 * RFC 5230 4), the implicit keep (RFC 5228 2.10.2) with the imap4flags
 * variable's flags (RFC 5232 3), and the flag commands on that variable. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "sieve_private.h"

void sv_run_fail(struct sv_run *r, const struct sv_node *n, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (r->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->res->error, sizeof(r->res->error), "line %u: %s", n->line, msg);
	r->failed = 1;
}

static int flag_index(char **list, size_t n, const char *f, size_t len)
{
	for (size_t k = 0; k < n; k++)
		if (sv_ascii_casecmp_n(list[k], strlen(list[k]), f, len) == 0)
			return (int)k;
	return -1;
}

static void flag_add_one(char ***list, size_t *n, const char *f, size_t len)
{
	if (len == 0 || flag_index(*list, *n, f, len) >= 0)
		return;
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = xstrndup(f, len);
}

/* Each string is a blank-separated list of flags (RFC 5232 3). */
static void flags_each(const struct sv_str *strs, size_t nstrs,
		       void (*fn)(void *ctx, const char *f, size_t len), void *ctx)
{
	for (size_t k = 0; k < nstrs; k++) {
		const char *s = strs[k].s, *end = s + strs[k].len;
		while (s < end) {
			while (s < end && *s == ' ')
				s++;
			const char *e = s;
			while (e < end && *e != ' ')
				e++;
			if (e > s)
				fn(ctx, s, (size_t)(e - s));
			s = e;
		}
	}
}

struct flag_list {
	char ***list;
	size_t *n;
};

static void flag_add_cb(void *ctx, const char *f, size_t len)
{
	struct flag_list *fl = ctx;
	flag_add_one(fl->list, fl->n, f, len);
}

static void flag_remove_cb(void *ctx, const char *f, size_t len)
{
	struct flag_list *fl = ctx;
	int i = flag_index(*fl->list, *fl->n, f, len);

	if (i < 0)
		return;
	free((*fl->list)[i]);
	memmove(*fl->list + i, *fl->list + i + 1, (*fl->n - (size_t)i - 1) * sizeof(char *));
	(*fl->n)--;
}

static void flags_clear(char ***list, size_t *n)
{
	for (size_t k = 0; k < *n; k++)
		free((*list)[k]);
	free(*list);
	*list = NULL;
	*n = 0;
}

void sv_flags_add(char ***list, size_t *n, const struct sv_str *strs, size_t nstrs)
{
	struct flag_list fl = { list, n };
	flags_each(strs, nstrs, flag_add_cb, &fl);
}

void sv_flags_change(struct sv_run *r, enum sv_id op, const struct sv_arg *list)
{
	struct flag_list fl = { &r->flags, &r->nflags };

	if (op == SV_SETFLAG)
		flags_clear(&r->flags, &r->nflags);
	flags_each(list->strs, list->nstrs, op == SV_REMOVEFLAG ? flag_remove_cb : flag_add_cb,
		   &fl);
}

/* The flags a keep or fileinto stores with: its :flags, or the variable's. */
static void action_flags(struct sv_run *r, const struct sv_node *n, struct sieve_action *a)
{
	if (n && n->flags) {
		sv_flags_add(&a->flags, &a->nflags, n->flags->strs, n->flags->nstrs);
		return;
	}
	for (size_t k = 0; k < r->nflags; k++)
		flag_add_one(&a->flags, &a->nflags, r->flags[k], strlen(r->flags[k]));
}

static struct sieve_action *action_new(struct sv_run *r, const struct sv_node *n,
				       enum sieve_act kind)
{
	struct sieve_result *res = r->res;

	if (res->n >= SIEVE_MAX_ACTIONS) {
		sv_run_fail(r, n, "more than %d actions", SIEVE_MAX_ACTIONS);
		return NULL;
	}
	res->v = xreallocarray(res->v, res->n + 1, sizeof(*res->v));
	memset(&res->v[res->n], 0, sizeof(res->v[0]));
	res->v[res->n].kind = kind;
	return &res->v[res->n++];
}

/* The action of kind already taken (for a name: on that mailbox/address). */
static struct sieve_action *action_find(struct sv_run *r, enum sieve_act kind, const char *name)
{
	for (size_t k = 0; k < r->res->n; k++) {
		struct sieve_action *a = &r->res->v[k];
		const char *an = kind == SIEVE_ACT_FILEINTO ? a->mailbox : a->address;
		if (a->kind != kind)
			continue;
		if (name == NULL || (kind == SIEVE_ACT_FILEINTO && strcmp(an, name) == 0) ||
		    (kind == SIEVE_ACT_REDIRECT &&
		     sv_ascii_casecmp_n(an, strlen(an), name, strlen(name)) == 0))
			return a;
	}
	return NULL;
}

static int action_rejected(struct sv_run *r, const struct sv_node *n)
{
	if (action_find(r, SIEVE_ACT_REJECT, NULL) == NULL)
		return 0;
	sv_run_fail(r, n, "%s cannot follow reject", n->name);
	return -1;
}

int sv_act_keep(struct sv_run *r, const struct sv_node *n)
{
	struct sieve_action *a;

	if (action_rejected(r, n) < 0)
		return -1;
	a = action_find(r, SIEVE_ACT_KEEP, NULL);
	if (a == NULL && (a = action_new(r, n, SIEVE_ACT_KEEP)) == NULL)
		return -1;
	action_flags(r, n, a);
	r->implicit_keep = 0;
	return 0;
}

int sv_act_fileinto(struct sv_run *r, const struct sv_node *n)
{
	const char *mbox = n->pos[0]->strs[0].s;
	struct sieve_action *a;

	if (action_rejected(r, n) < 0)
		return -1;
	a = action_find(r, SIEVE_ACT_FILEINTO, mbox);
	if (a != NULL) {
		a->copy = a->copy && n->copy;
	} else {
		if ((a = action_new(r, n, SIEVE_ACT_FILEINTO)) == NULL)
			return -1;
		a->mailbox = xstrdup(mbox);
		a->copy = n->copy;
	}
	action_flags(r, n, a);
	if (!n->copy)
		r->implicit_keep = 0;
	return 0;
}

int sv_act_redirect(struct sv_run *r, const struct sv_node *n)
{
	const char *to = n->pos[0]->strs[0].s;
	struct sieve_action *a;

	if (action_rejected(r, n) < 0)
		return -1;
	a = action_find(r, SIEVE_ACT_REDIRECT, to);
	if (a != NULL) {
		a->copy = a->copy && n->copy;
	} else {
		if ((a = action_new(r, n, SIEVE_ACT_REDIRECT)) == NULL)
			return -1;
		a->address = xstrdup(to);
		a->copy = n->copy;
	}
	if (!n->copy)
		r->implicit_keep = 0;
	return 0;
}

int sv_act_reject(struct sv_run *r, const struct sv_node *n)
{
	static const enum sieve_act clash[] = { SIEVE_ACT_REJECT, SIEVE_ACT_KEEP,
						SIEVE_ACT_FILEINTO, SIEVE_ACT_REDIRECT };
	struct sieve_action *a;

	for (size_t k = 0; k < sizeof(clash) / sizeof(clash[0]); k++)
		if (action_find(r, clash[k], NULL) != NULL) {
			sv_run_fail(r, n, "reject cannot be combined with an earlier %s",
				    clash[k] == SIEVE_ACT_REJECT ? "reject"
				    : clash[k] == SIEVE_ACT_KEEP ? "keep"
				    : clash[k] == SIEVE_ACT_FILEINTO ? "fileinto" : "redirect");
			return -1;
		}
	if (r->vacation != NULL) {
		sv_run_fail(r, n, "reject cannot be combined with vacation");
		return -1;
	}
	if ((a = action_new(r, n, SIEVE_ACT_REJECT)) == NULL)
		return -1;
	a->reason = xstrdup(n->pos[0]->strs[0].s);
	r->implicit_keep = 0;
	return 0;
}

int sv_act_discard(struct sv_run *r, const struct sv_node *n)
{
	if (action_find(r, SIEVE_ACT_DISCARD, NULL) == NULL &&
	    action_new(r, n, SIEVE_ACT_DISCARD) == NULL)
		return -1;
	r->implicit_keep = 0;
	return 0;
}

static char *opt_str(const struct sv_arg *a)
{
	return a ? xstrdup(a->strs[0].s) : NULL;
}

int sv_act_vacation(struct sv_run *r, const struct sv_node *n)
{
	struct sieve_action *a;

	if (r->vacation != NULL) {
		sv_run_fail(r, n, "more than one vacation");
		return -1;
	}
	if (action_rejected(r, n) < 0)
		return -1;
	r->vacation = n;
	if (!sv_vacation_eligible(r->a, r->msg, n))
		return 0;
	if ((a = action_new(r, n, SIEVE_ACT_VACATION)) == NULL)
		return -1;
	a->reason = xstrdup(n->pos[0]->strs[0].s);
	a->subject = opt_str(n->subject);
	a->from = opt_str(n->from);
	a->handle = opt_str(n->handle);
	if (n->addresses) {
		a->addresses = xcalloc(n->addresses->nstrs, sizeof(char *));
		for (size_t k = 0; k < n->addresses->nstrs; k++)
			a->addresses[a->naddresses++] = xstrdup(n->addresses->strs[k].s);
	}
	a->seconds = n->seconds;
	a->mime = n->mime;
	a->reply_to = xstrdup(r->msg->env_from ? r->msg->env_from : "");
	return 0;
}

static void action_free(struct sieve_action *a)
{
	free(a->mailbox);
	free(a->address);
	free(a->reason);
	flags_clear(&a->flags, &a->nflags);
	free(a->subject);
	free(a->from);
	free(a->handle);
	flags_clear(&a->addresses, &a->naddresses);
	free(a->reply_to);
}

void sieve_result_free(struct sieve_result *r)
{
	for (size_t k = 0; k < r->n; k++)
		action_free(&r->v[k]);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

void sv_run_finish(struct sv_run *r)
{
	struct sieve_action *a;

	if (r->failed) {
		char msg[sizeof(r->res->error)];
		memcpy(msg, r->res->error, sizeof(msg));
		sieve_result_free(r->res);
		memcpy(r->res->error, msg, sizeof(msg));
		r->res->runtime_error = 1;
		r->res->v = xcalloc(1, sizeof(*r->res->v));
		r->res->n = 1;
		return;
	}
	if (!r->implicit_keep)
		return;
	a = action_find(r, SIEVE_ACT_KEEP, NULL);
	if (a == NULL) {
		r->res->v = xreallocarray(r->res->v, r->res->n + 1, sizeof(*r->res->v));
		a = memset(&r->res->v[r->res->n++], 0, sizeof(*a));
	}
	action_flags(r, NULL, a);
}
