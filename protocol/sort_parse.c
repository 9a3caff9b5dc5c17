/* SORT / THREAD arguments -> sort criteria or threading algorithm, and a
 * search program: the command's charset becomes a CHARSET argument in
 * front of the search keys, so SEARCH's own parser does the rest. */
#include <string.h>

#include "sort_parse.h"

static const struct {
	const char *name;
	enum sort_key key;
	int header;             /* needs the header fields */
} sort_keys[] = {
	{ "ARRIVAL", SORTK_ARRIVAL, 0 },
	{ "CC", SORTK_CC, 1 },
	{ "DATE", SORTK_DATE, 1 },
	{ "FROM", SORTK_FROM, 1 },
	{ "SIZE", SORTK_SIZE, 0 },
	{ "SUBJECT", SORTK_SUBJECT, 1 },
	{ "TO", SORTK_TO, 1 },
	{ "DISPLAYFROM", SORTK_DISPLAYFROM, 1 },
	{ "DISPLAYTO", SORTK_DISPLAYTO, 1 },
};

static const struct {
	const char *name;
	enum mail_thread_alg alg;
	unsigned need;
} thread_algs[] = {
	{ "ORDEREDSUBJECT", MAIL_THREAD_ORDEREDSUBJECT, SORT_NEED_FIELDS },
	{ "REFERENCES", MAIL_THREAD_REFERENCES, SORT_NEED_FIELDS | SORT_NEED_REFS },
	{ "REFS", MAIL_THREAD_REFS, SORT_NEED_FIELDS | SORT_NEED_REFS },
};

static int sort_key_lookup(const struct imap_arg *a, struct sort_crit *c, int *header)
{
	for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
		if (imap_arg_is_atom(a, sort_keys[i].name)) {
			c->key = sort_keys[i].key;
			*header = sort_keys[i].header;
			return 0;
		}
	return -1;
}

/* sort-criteria: "(" ["REVERSE" SP] key *(SP ["REVERSE" SP] key) ")". */
static int sort_parse_criteria(const struct imap_arg *list, struct sort_spec *sp,
			       const char **why)
{
	int reverse = 0, header;

	sp->n = 0;
	sp->need = 0;
	if (list->type != IMAP_ARG_LIST || list->count == 0) {
		*why = "expects a list of sort criteria";
		return -1;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_is_atom(a, "REVERSE") && !reverse) {
			reverse = 1;
			continue;
		}
		if (sp->n == SORT_MAX_CRITERIA || sort_key_lookup(a, &sp->c[sp->n], &header) < 0) {
			*why = sp->n == SORT_MAX_CRITERIA ? "too many sort criteria"
							  : "unknown sort criterion";
			return -1;
		}
		sp->c[sp->n++].reverse = reverse;
		sp->need |= header ? SORT_NEED_FIELDS : 0;
		reverse = 0;
	}
	if (reverse) {
		*why = "REVERSE must be followed by a sort criterion";
		return -1;
	}
	return 0;
}

static struct imap_arg sort_atom(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM, .str = s, .len = strlen(s) };
	return a;
}

/* [RETURN ret] charset search-key... */
static enum search_status sort_parse_search(struct arena *a, const struct imap_arg *ret,
					    const struct imap_arg *args, size_t nargs,
					    struct search_program *p, const char **why)
{
	struct imap_arg *sa = arena_alloc(a, (nargs + 3) * sizeof(*sa));
	size_t k = 0;
	enum search_status st;

	memset(p, 0, sizeof(*p));
	if (nargs < 2 || !imap_arg_is_astring(&args[0])) {
		*why = "expects a charset and search keys";
		return SEARCH_BAD;
	}
	if (ret) {
		sa[k++] = sort_atom("RETURN");
		sa[k++] = *ret;
	}
	sa[k++] = sort_atom("CHARSET");
	memcpy(sa + k, args, nargs * sizeof(*sa));
	st = search_parse(a, sa, k + nargs, p, why);
	if (st == SEARCH_OK && (p->ret & SR_SAVE)) {
		*why = "RETURN (SAVE) is for SEARCH";
		return SEARCH_BAD;
	}
	return st;
}

enum search_status sort_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
			      struct sort_spec *sp, struct search_program *p, const char **why)
{
	const struct imap_arg *ret = NULL;

	memset(p, 0, sizeof(*p));
	if (nargs >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		ret = &args[1];
		args += 2;
		nargs -= 2;
	}
	if (nargs == 0) {
		*why = "expects sort criteria";
		return SEARCH_BAD;
	}
	if (sort_parse_criteria(&args[0], sp, why) < 0)
		return SEARCH_BAD;
	return sort_parse_search(a, ret, args + 1, nargs - 1, p, why);
}

enum search_status thread_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				enum mail_thread_alg *alg, unsigned *need,
				struct search_program *p, const char **why)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; nargs > 0 && i < sizeof(thread_algs) / sizeof(thread_algs[0]); i++)
		if (imap_arg_is_atom(&args[0], thread_algs[i].name)) {
			*alg = thread_algs[i].alg;
			*need = thread_algs[i].need;
			return sort_parse_search(a, NULL, args + 1, nargs - 1, p, why);
		}
	*why = "unknown threading algorithm";
	return SEARCH_BAD;
}
