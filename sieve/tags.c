/* Tagged and positional arguments of one command or test: which tags it
 * takes (and the extension each needs), their values, conflicts, and the
 * positional arguments' count and types. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "spec.h"

struct tag_state {
	struct sv_checker *ck;
	const struct sv_spec *sp;
	struct sv_node *n;
	struct sv_arg *args;
	size_t i, nargs;
	int have_cmp, have_match, have_part, have_size, have_days;
};

static int tag_need_ext(struct tag_state *ts, const struct sv_arg *a, unsigned ext)
{
	if (ts->ck->exts & ext)
		return 0;
	return sv_check_fail(ts->ck, a->line, ":%s needs require \"%s\"", a->tag, sv_ext_name(ext));
}

/* The value after a tag: the next argument, of type want. */
static struct sv_arg *tag_value(struct tag_state *ts, const struct sv_arg *tag, char want)
{
	struct sv_arg *v = ts->i + 1 < ts->nargs ? &ts->args[ts->i + 1] : NULL;
	int ok = v != NULL && ((want == 'N' && v->type == ARG_NUMBER) ||
			       (want == 'S' && v->type == ARG_STRING) ||
			       (want == 'L' && (v->type == ARG_STRING || v->type == ARG_LIST)));
	if (!ok) {
		sv_check_fail(ts->ck, tag->line, ":%s needs %s", tag->tag,
			      want == 'N' ? "a number" : want == 'S' ? "a string" : "a string list");
		return NULL;
	}
	ts->i++;
	return v;
}

static int tag_once(struct tag_state *ts, const struct sv_arg *a, int *seen, const char *what)
{
	if (*seen)
		return sv_check_fail(ts->ck, a->line, "%s: more than one %s", ts->sp->name, what);
	*seen = 1;
	return 0;
}

static int tag_comparator(struct tag_state *ts, const struct sv_arg *a)
{
	struct sv_arg *v = tag_value(ts, a, 'S');
	if (v == NULL || tag_once(ts, a, &ts->have_cmp, "comparator") < 0)
		return -1;
	const char *c = v->strs[0].s;
	if (strcasecmp(c, "i;octet") == 0)
		ts->n->cmp = CMP_OCTET;
	else if (strcasecmp(c, "i;ascii-casemap") == 0)
		ts->n->cmp = CMP_CASEMAP;
	else if (strcasecmp(c, "i;ascii-numeric") == 0 && (ts->ck->exts & EXT_NUMERIC))
		ts->n->cmp = CMP_NUMERIC;
	else if (strcasecmp(c, "i;ascii-numeric") == 0)
		return sv_check_fail(ts->ck, a->line,
				     "comparator \"i;ascii-numeric\" needs require "
				     "\"comparator-i;ascii-numeric\"");
	else
		return sv_check_fail(ts->ck, a->line, "unknown comparator \"%.60s\"", c);
	return 0;
}

static int tag_relational(struct tag_state *ts, const struct sv_arg *a)
{
	static const char *const ops[] = { "gt", "ge", "lt", "le", "eq", "ne" };
	struct sv_arg *v = tag_value(ts, a, 'S');

	if (v == NULL)
		return -1;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (strcasecmp(v->strs[0].s, ops[k]) == 0) {
			ts->n->rel = (enum sv_rel)k;
			return 0;
		}
	}
	return sv_check_fail(ts->ck, a->line, "unknown relational operator \"%.20s\"",
			     v->strs[0].s);
}

static int tag_match(struct tag_state *ts, const struct sv_arg *a, enum sv_match m)
{
	if (tag_once(ts, a, &ts->have_match, "match type") < 0)
		return -1;
	ts->n->match = m;
	if (m == MATCH_COUNT || m == MATCH_VALUE) {
		if (tag_need_ext(ts, a, EXT_RELATIONAL) < 0)
			return -1;
		return tag_relational(ts, a);
	}
	return 0;
}

static int tag_part(struct tag_state *ts, const struct sv_arg *a, enum sv_addrpart p)
{
	if (tag_once(ts, a, &ts->have_part, "address part") < 0)
		return -1;
	if ((p == AP_USER || p == AP_DETAIL) && tag_need_ext(ts, a, EXT_SUBADDRESS) < 0)
		return -1;
	ts->n->part = p;
	return 0;
}

static int tag_flag(struct tag_state *ts, const struct sv_arg *a, int *field, unsigned ext)
{
	if (ext != 0 && tag_need_ext(ts, a, ext) < 0)
		return -1;
	if (*field)
		return sv_check_fail(ts->ck, a->line, ":%s given twice", a->tag);
	*field = 1;
	return 0;
}

static int tag_string_value(struct tag_state *ts, const struct sv_arg *a, struct sv_arg **field,
			    char want)
{
	if (*field != NULL)
		return sv_check_fail(ts->ck, a->line, ":%s given twice", a->tag);
	*field = tag_value(ts, a, want);
	return *field ? 0 : -1;
}

static int tag_period(struct tag_state *ts, const struct sv_arg *a, int secs)
{
	struct sv_arg *v;

	if (secs && tag_need_ext(ts, a, EXT_VACATION_SECONDS) < 0)
		return -1;
	if (tag_once(ts, a, &ts->have_days, ":days or :seconds") < 0)
		return -1;
	if ((v = tag_value(ts, a, 'N')) == NULL)
		return -1;
	ts->n->has_period = 1;
	if (secs)
		ts->n->seconds = v->num > SIEVE_VACATION_MAX_SECONDS ? SIEVE_VACATION_MAX_SECONDS
								      : (unsigned long)v->num;
	else
		ts->n->seconds = v->num < 1 ? 86400UL
			: v->num > SIEVE_VACATION_MAX_SECONDS / 86400 ? SIEVE_VACATION_MAX_SECONDS
			: (unsigned long)v->num * 86400UL;
	return 0;
}

static int tag_vacation(struct tag_state *ts, const struct sv_arg *a)
{
	const char *t = a->tag;
	struct sv_node *n = ts->n;

	if (strcmp(t, "days") == 0 || strcmp(t, "seconds") == 0)
		return tag_period(ts, a, t[0] == 's');
	if (strcmp(t, "subject") == 0)
		return tag_string_value(ts, a, &n->subject, 'S');
	if (strcmp(t, "from") == 0)
		return tag_string_value(ts, a, &n->from, 'S');
	if (strcmp(t, "addresses") == 0)
		return tag_string_value(ts, a, &n->addresses, 'L');
	if (strcmp(t, "handle") == 0)
		return tag_string_value(ts, a, &n->handle, 'S');
	if (strcmp(t, "mime") == 0)
		return tag_flag(ts, a, &n->mime, 0);
	return 1;
}

/* One tag; 1 when the command does not take it. */
static int tag_dispatch(struct tag_state *ts, const struct sv_arg *a)
{
	static const char *const matches[] = { "is", "contains", "matches", "count", "value" };
	static const char *const parts[] = { "all", "localpart", "domain", "user", "detail" };
	unsigned tg = ts->sp->tags;
	const char *t = a->tag;

	if ((tg & TG_CMP) && strcmp(t, "comparator") == 0)
		return tag_comparator(ts, a);
	for (size_t k = 0; (tg & TG_MATCH) && k < 5; k++)
		if (strcmp(t, matches[k]) == 0)
			return tag_match(ts, a, (enum sv_match)k);
	for (size_t k = 0; (tg & TG_ADDR) && k < 5; k++)
		if (strcmp(t, parts[k]) == 0)
			return tag_part(ts, a, (enum sv_addrpart)k);
	if ((tg & TG_SIZE) && (strcmp(t, "over") == 0 || strcmp(t, "under") == 0)) {
		ts->n->over = t[0] == 'o';
		return tag_once(ts, a, &ts->have_size, ":over or :under");
	}
	if ((tg & TG_COPY) && strcmp(t, "copy") == 0)
		return tag_flag(ts, a, &ts->n->copy, EXT_COPY);
	if ((tg & TG_FLAGS) && strcmp(t, "flags") == 0) {
		if (tag_need_ext(ts, a, EXT_IMAP4FLAGS) < 0)
			return -1;
		return tag_string_value(ts, a, &ts->n->flags, 'L');
	}
	if (tg & TG_VACATION)
		return tag_vacation(ts, a);
	return 1;
}

static int args_positional(struct tag_state *ts, size_t npos)
{
	const struct sv_spec *sp = ts->sp;
	size_t want = strlen(sp->pos);

	if (npos != want)
		return sv_check_fail(ts->ck, ts->n->line, "%s takes %zu argument%s, not %zu",
				     sp->name, want, want == 1 ? "" : "s", npos);
	for (size_t k = 0; k < want; k++) {
		const struct sv_arg *v = ts->n->pos[k];
		char w = sp->pos[k];
		if ((w == 'N' && v->type != ARG_NUMBER) || (w == 'S' && v->type != ARG_STRING) ||
		    (w == 'L' && v->type != ARG_STRING && v->type != ARG_LIST))
			return sv_check_fail(ts->ck, v->line, "%s: argument %zu must be %s",
					     sp->name, k + 1,
					     w == 'N' ? "a number" : w == 'S' ? "a string"
									  : "a string list");
	}
	return 0;
}

/* The rules between tags once all are seen. */
static int args_combination(struct tag_state *ts)
{
	struct sv_node *n = ts->n;

	if ((ts->sp->tags & TG_SIZE) && !ts->have_size)
		return sv_check_fail(ts->ck, n->line, "size needs :over or :under");
	if (n->cmp == CMP_NUMERIC && (n->match == MATCH_CONTAINS || n->match == MATCH_MATCHES))
		return sv_check_fail(ts->ck, n->line,
				     "%s: comparator \"i;ascii-numeric\" allows only :is, :count "
				     "and :value", ts->sp->name);
	return 0;
}

int sv_check_args(struct sv_checker *ck, const struct sv_spec *sp, struct sv_node *n)
{
	struct tag_state ts = { .ck = ck, .sp = sp, .n = n, .args = n->args, .nargs = n->nargs };
	size_t npos = 0;

	n->cmp = CMP_CASEMAP;
	n->match = MATCH_IS;
	n->part = AP_ALL;
	for (ts.i = 0; ts.i < ts.nargs; ts.i++) {
		struct sv_arg *a = &ts.args[ts.i];
		if (a->type != ARG_TAG) {
			if (npos < 2)
				n->pos[npos] = a;
			npos++;
			continue;
		}
		int r = tag_dispatch(&ts, a);
		if (r > 0)
			return sv_check_fail(ck, a->line, "%s: unknown tag :%s", sp->name, a->tag);
		if (r < 0)
			return -1;
	}
	if (args_positional(&ts, npos) < 0)
		return -1;
	return args_combination(&ts);
}
