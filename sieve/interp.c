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
	const struct sv_node *n;
	const struct sv_arg *keys;
	size_t count;
};

static int key_match_cb(void *ctx, const char *v, size_t len)
{
	struct keymatch *km = ctx;

	km->count++;
	if (km->n->match == MATCH_COUNT)
		return 0;
	for (size_t k = 0; k < km->keys->nstrs; k++)
		if (sv_match_one(km->n->cmp, km->n->match, km->n->rel, v, len, km->keys->strs[k].s,
				 km->keys->strs[k].len))
			return 1;
	return 0;
}

/* :count (RFC 5231 4.2): the number of values against each key. */
static int count_matches(const struct keymatch *km)
{
	char num[24];
	int len = snprintf(num, sizeof(num), "%zu", km->count);

	for (size_t k = 0; k < km->keys->nstrs; k++) {
		if (sv_match_one(km->n->cmp, MATCH_VALUE, km->n->rel, num, (size_t)len,
				 km->keys->strs[k].s, km->keys->strs[k].len))
			return 1;
	}
	return 0;
}

static int test_hasflag(struct sv_run *r, struct keymatch *km)
{
	int hit = 0;

	for (size_t k = 0; !hit && k < r->nflags; k++)
		hit = key_match_cb(km, r->flags[k], strlen(r->flags[k]));
	return hit;
}

/* header, address, envelope, hasflag: values against keys. */
static int test_values(struct sv_run *r, const struct sv_node *n)
{
	struct keymatch km = { n, n->pos[n->id == SV_HASFLAG ? 0 : 1], 0 };
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
	else
		hit = test_hasflag(r, &km);
	arena_reset(r->a);
	return n->match == MATCH_COUNT ? count_matches(&km) : hit;
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
	case SV_EXISTS:
		for (size_t k = 0; k < n->pos[0]->nstrs; k++)
			if (!sv_header_exists(r->msg, n->pos[0]->strs[k].s, n->pos[0]->strs[k].len))
				return 0;
		return 1;
	default:
		return test_values(r, n);
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
		sv_flags_change(r, n->id, n->pos[0]);
		return 0;
	default:
		return 0;
	}
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
		return run_action(r, n) < 0 ? RUN_STOP : RUN_GO;
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
	run_block(&r, s->cmds, s->ncmds);
	sv_run_finish(&r);
	for (size_t k = 0; k < r.nflags; k++)
		free(r.flags[k]);
	free(r.flags);
	arena_free(r.a);
	return 0;
}
