/* SORT and UID SORT (RFC 5256 section 3) with the DISPLAYFROM and
 * DISPLAYTO keys (RFC 5957) and ESORT's result options (RFC 5267
 * section 3: MIN, MAX, ALL, COUNT in sort order, as an ESEARCH response).
 *
 * The messages come from SEARCH's machinery and their keys from
 * sort_msgs.c; here the criteria are parsed and the messages ordered,
 * ties broken by sequence number. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "sort_msgs.h"

#define SORT_MAX_CRITERIA 32

enum sort_key {
	SORTK_ARRIVAL, SORTK_CC, SORTK_DATE, SORTK_FROM, SORTK_SIZE, SORTK_SUBJECT, SORTK_TO, SORTK_DISPLAYFROM,
	SORTK_DISPLAYTO,
};

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

struct sort_crit {
	enum sort_key key;
	int reverse;
};

struct sort_spec {
	struct sort_crit c[SORT_MAX_CRITERIA];
	size_t n;
	unsigned need;          /* enum sort_need */
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

static int cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int cmp_key(enum sort_key key, const struct sort_msg *a, const struct sort_msg *b)
{
	switch (key) {
	case SORTK_ARRIVAL:
		return a->arrival < b->arrival ? -1 : a->arrival > b->arrival;
	case SORTK_CC:
		return strcmp(a->k.cc, b->k.cc);
	case SORTK_DATE:
		return a->k.date < b->k.date ? -1 : a->k.date > b->k.date;
	case SORTK_FROM:
		return strcmp(a->k.from, b->k.from);
	case SORTK_SIZE:
		return cmp_num(a->size, b->size);
	case SORTK_SUBJECT:
		return strcmp(a->k.subject, b->k.subject);
	case SORTK_TO:
		return strcmp(a->k.to, b->k.to);
	case SORTK_DISPLAYFROM:
		return strcmp(a->k.dfrom, b->k.dfrom);
	case SORTK_DISPLAYTO:
		return strcmp(a->k.dto, b->k.dto);
	}
	return 0;
}

static int sort_cmp(const void *x, const void *y, void *arg)
{
	const struct sort_spec *sp = arg;
	const struct sort_msg *a = x, *b = y;

	for (size_t i = 0; i < sp->n; i++) {
		int r = cmp_key(sp->c[i].key, a, b);
		if (r)
			return sp->c[i].reverse ? -r : r;
	}
	/* RFC 5256: the sequence number decides last, never reversed. */
	return cmp_num(a->seq, b->seq);
}

/* A sequence-set in the given order, ranges only where numbers ascend
 * by one (RFC 5267 section 3.2). */
static void sort_write_ordered_set(struct buf *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		buf_printf(b, i ? ",%u" : "%u", v[i]);
		if (j > i)
			buf_printf(b, ":%u", v[j]);
		i = j + 1;
	}
}

static void sort_write(struct session *s, const struct imap_cmd *cmd, int by_uid,
		       const struct search_program *prog, const uint32_t *res, size_t n)
{
	struct buf b = BUF_INIT;

	if (!prog->has_return) {
		buf_append_str(&b, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, " %u", res[i]);
	} else {
		buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", cmd->tag, by_uid ? " UID" : "");
		if ((prog->ret & SR_MIN) && n)
			buf_printf(&b, " MIN %u", res[0]);
		if ((prog->ret & SR_MAX) && n)
			buf_printf(&b, " MAX %u", res[n - 1]);
		if ((prog->ret & SR_ALL) && n) {
			buf_append_str(&b, " ALL ");
			sort_write_ordered_set(&b, res, n);
		}
		if (prog->ret & SR_COUNT)
			buf_printf(&b, " COUNT %zu", n);
	}
	buf_append(&b, "\r\n", 2);
	session_write(s, b.data, b.len);
	buf_free(&b);
}

void sort_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	const char *name = by_uid ? "UID SORT" : "SORT", *why = NULL;
	const struct imap_arg *args = cmd->args + argi, *ret = NULL;
	size_t nargs = cmd->nargs - argi, n;
	struct search_program prog;
	struct sort_spec sp;
	struct sort_msg *v;
	uint32_t *seqs, *uids;
	struct error err;

	if (nargs >= 2 && imap_arg_is_atom(&args[0], "RETURN")) {
		ret = &args[1];
		args += 2;
		nargs -= 2;
	}
	if (nargs == 0 || sort_parse_criteria(&args[0], &sp, &why) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: %s", name,
			       why ? why : "expects sort criteria");
		return;
	}
	if (sort_msgs_search(s, cmd, name, ret, args + 1, nargs - 1, &prog, &seqs, &uids, &n) < 0)
		return;
	if (sort_msgs_keys(s, sp.need, seqs, n, &v, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	qsort_r(v, n, sizeof(*v), sort_cmp, &sp);
	for (size_t i = 0; i < n; i++)
		seqs[i] = by_uid ? v[i].uid : v[i].seq;
	sort_write(s, cmd, by_uid, &prog, seqs, n);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", name);
}

void cmd_sort(struct session *s, const struct imap_cmd *cmd)
{
	sort_run(s, cmd, 0, 0);
}
