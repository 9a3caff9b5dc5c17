/* Running a checked script on one message: tests evaluated against the
 * message and the imap4flags variable, commands collecting actions into
 * the result (actions.c), stop and runtime errors ending the run. Depth is
 * bounded by the checker, so the recursion is too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "sieve_private.h"

enum { RUN_GO, RUN_STOP };

/* A value the message gives, against every key of a test. */
struct keymatch {
	struct sv_run *r;
	const struct sv_node *n;
	const struct sv_arg *keys;
	size_t count;
};

/* :matches with variables: a match sets ${0}..${9} (RFC 5229 3.2). */
static int key_match_capture(struct keymatch *km, const char *v, size_t len,
			     const struct sv_str *key)
{
	struct sv_capture caps[SV_MAX_CAPTURES];
	size_t ncaps;

	if (!sv_match_capture(km->n->cmp, v, len, key->s, key->len, caps, &ncaps, &km->r->work))
		return 0;
	sv_var_matches(km->r, v, len, caps, ncaps);
	return 1;
}

/* Count work done or about to be done; 0 once SIEVE_MAX_WORK is spent
 * (the run has then failed). */
static int run_afford(struct sv_run *r, const struct sv_node *n, uint64_t cost)
{
	if (r->failed)
		return 0;
	if (cost > SIEVE_MAX_WORK || r->work > SIEVE_MAX_WORK - cost) {
		sv_run_fail(r, n, "too much work for one message (limit %llu)",
			    (unsigned long long)SIEVE_MAX_WORK);
		return 0;
	}
	r->work += cost;
	return 1;
}

static int key_match_cb(void *ctx, const char *v, size_t len)
{
	struct keymatch *km = ctx;
	const struct sv_node *n = km->n;

	km->count++;
	if (n->match == MATCH_COUNT)
		return 0;
	for (size_t k = 0; k < km->keys->nstrs; k++) {
		const struct sv_str *key = &km->keys->strs[k];
		int hit;
		if (n->match == MATCH_MATCHES && km->r->vars_on)
			hit = key_match_capture(km, v, len, key);
		else
			hit = sv_match_one(n->cmp, n->match, n->rel, v, len, key->s, key->len,
					   &km->r->work);
		if (!run_afford(km->r, n, 0))
			return 1;   /* stop: the run has failed */
		if (hit)
			return 1;
	}
	return 0;
}

/* string (RFC 5229 5): the expanded strings are the values; :count
 * counts those that are not empty. */
static int test_string(struct keymatch *km, const struct sv_arg *src)
{
	for (size_t k = 0; k < src->nstrs; k++) {
		if (km->n->match == MATCH_COUNT && src->strs[k].len == 0)
			continue;
		if (key_match_cb(km, src->strs[k].s, src->strs[k].len))
			return 1;
	}
	return 0;
}

/* :count (RFC 5231 4.2): the number of values against each key. */
static int count_matches(const struct keymatch *km)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%zu", km->count);

	for (size_t k = 0; k < km->keys->nstrs; k++) {
		if (sv_match_one(km->n->cmp, MATCH_VALUE, km->n->rel, num, (size_t)len,
				 km->keys->strs[k].s, km->keys->strs[k].len, &km->r->work))
			return 1;
	}
	return 0;
}

struct flag_match {
	struct keymatch *km;
	int hit;
};

static void flag_match_cb(void *ctx, const char *f, size_t len)
{
	struct flag_match *fm = ctx;

	if (!fm->hit)
		fm->hit = key_match_cb(fm->km, f, len);
}

/* The internal variable's flags, or those of the variables named. */
static int test_hasflag(struct sv_run *r, struct keymatch *km)
{
	const struct sv_arg *vars = km->n->flagvars;
	struct flag_match fm = { km, 0 };

	for (size_t k = 0; vars == NULL && !fm.hit && k < r->nflags; k++)
		fm.hit = key_match_cb(km, r->flags[k], strlen(r->flags[k]));
	for (size_t k = 0; vars != NULL && !fm.hit && k < vars->nstrs; k++) {
		struct sv_str v;
		v.s = sv_var_value(r, vars->strs[k].s, vars->strs[k].len, &v.len);
		sv_flags_each(&v, 1, flag_match_cb, &fm);
	}
	return fm.hit;
}

/* header, address, envelope, hasflag: values against keys. */
static int test_values(struct sv_run *r, const struct sv_node *n)
{
	struct keymatch km = { r, n, n->pos[n->id == SV_HASFLAG ? 0 : 1], 0 };
	const struct sv_arg *names = n->pos[0];
	int hit;

	if (n->id == SV_HEADER)
		hit = sv_header_values(r->a, r->msg, names->strs, names->nstrs, key_match_cb, &km);
	else if (n->id == SV_ADDRESS)
		hit = sv_address_values(r->a, r->msg, names->strs, names->nstrs, n->part,
					key_match_cb, &km);
	else if (n->id == SV_ENVELOPE)
		hit = sv_envelope_values(r->a, r->msg, names->strs, names->nstrs, n->part,
					 key_match_cb, &km);
	else if (n->id == SV_STRING)
		hit = test_string(&km, names);
	else
		hit = test_hasflag(r, &km);
	return n->match == MATCH_COUNT ? count_matches(&km) : hit;
}

static int test_exists(struct sv_run *r, const struct sv_node *n)
{
	for (size_t k = 0; k < n->pos[0]->nstrs; k++)
		if (!sv_header_exists(r->msg, n->pos[0]->strs[k].s, n->pos[0]->strs[k].len))
			return 0;
	return 1;
}

/* A test on the message or the variables, its strings expanded first. */
static int test_leaf(struct sv_run *r, const struct sv_node *n)
{
	struct sv_node copy;
	const struct sv_node *x;
	int reads_header = n->id == SV_HEADER || n->id == SV_ADDRESS || n->id == SV_EXISTS;
	int hit = 0;

	uint64_t names = n->pos[0] ? n->pos[0]->nstrs : 1;

	if (!run_afford(r, n, reads_header ? (r->msg->header_len + 1) * names : 1))
		return 0;
	x = sv_node_expand(r, n, &copy);
	if (x != NULL)
		hit = n->id == SV_EXISTS ? test_exists(r, x) : test_values(r, x);
	arena_reset(r->a);
	return hit && !r->failed;
}

static int test_eval(struct sv_run *r, const struct sv_node *n)
{
	switch (n->id) {
	case SV_TRUE: return 1;
	case SV_FALSE: return 0;
	case SV_NOT: return !test_eval(r, &n->tests[0]);
	case SV_ALLOF:
		for (size_t k = 0; k < n->ntests; k++)
			if (!test_eval(r, &n->tests[k]))
				return 0;
		return 1;
	case SV_ANYOF:
		for (size_t k = 0; k < n->ntests; k++)
			if (test_eval(r, &n->tests[k]))
				return 1;
		return 0;
	case SV_SIZE:
		return n->over ? r->msg->size > n->pos[0]->num : r->msg->size < n->pos[0]->num;
	default:
		return test_leaf(r, n);
	}
}

static int run_block(struct sv_run *r, const struct sv_node *cmds, size_t n);

static int run_action(struct sv_run *r, const struct sv_node *n)
{
	switch (n->id) {
	case SV_KEEP: return sv_act_keep(r, n);
	case SV_DISCARD: return sv_act_discard(r, n);
	case SV_FILEINTO: return sv_act_fileinto(r, n);
	case SV_REDIRECT: return sv_act_redirect(r, n);
	case SV_REJECT: return sv_act_reject(r, n);
	case SV_VACATION: return sv_act_vacation(r, n);
	case SV_SETFLAG:
	case SV_ADDFLAG:
	case SV_REMOVEFLAG:
		return sv_flags_change(r, n);
	case SV_SET:
		return sv_var_set(r, n);
	default:
		return 0;
	}
}

/* An action or set, its strings expanded first. */
static int run_expanded(struct sv_run *r, const struct sv_node *n)
{
	struct sv_node copy;
	const struct sv_node *x = sv_node_expand(r, n, &copy);
	int ret = x == NULL || run_action(r, x) < 0 ? RUN_STOP : RUN_GO;

	arena_reset(r->a);
	return ret;
}

/* One command; *skip_else tells a following elsif/else whether an
 * earlier branch of its if ran. */
static int run_command(struct sv_run *r, const struct sv_node *n, int *skip_else)
{
	switch (n->id) {
	case SV_REQUIRE:
		return RUN_GO;
	case SV_STOP:
		return RUN_STOP;
	case SV_IF:
		*skip_else = 0;
		/* fall through */
	case SV_ELSIF:
	case SV_ELSE:
		if (*skip_else || (n->id != SV_ELSE && !test_eval(r, &n->tests[0])))
			return RUN_GO;
		*skip_else = 1;
		return run_block(r, n->block, n->nblock);
	default:
		return run_expanded(r, n);
	}
}

static int run_block(struct sv_run *r, const struct sv_node *cmds, size_t n)
{
	int skip_else = 0;

	for (size_t k = 0; k < n; k++)
		if (run_command(r, &cmds[k], &skip_else) == RUN_STOP || r->failed)
			return RUN_STOP;
	return RUN_GO;
}

int sieve_execute(const struct sieve_script *s, const struct sieve_msg *m,
		  struct sieve_result *out, struct error *err)
{
	struct sv_run r;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.res = out;
	r.msg = m;
	r.a = arena_new();
	r.implicit_keep = 1;
	r.vars_on = s->variables;
	run_block(&r, s->cmds, s->ncmds);
	sv_run_finish(&r);
	for (size_t k = 0; k < r.nflags; k++)
		free(r.flags[k]);
	free(r.flags);
	sv_vars_free(&r);
	arena_free(r.a);
	return 0;
}
