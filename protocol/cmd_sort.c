/* SORT and UID SORT (RFC 5256 section 3) with the DISPLAYFROM and
 * DISPLAYTO keys (RFC 5957) and ESORT's result options (RFC 5267
 * section 3: MIN, MAX, ALL, COUNT in sort order, as an ESEARCH response).
 *
 * The arguments are parsed in sort_parse.c, the messages come from
 * SEARCH's machinery and their keys from sort_msgs.c; here they are
 * ordered, ties broken by sequence number. */
#include <stdlib.h>
#include <string.h>

#include "search_update.h"
#include "sort_msgs.h"

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

/* What the sort moves and compares first: the first criterion's value as
 * 16 bytes that order as the criterion does (a string's first 16 bytes,
 * big-endian, as strcmp orders them; a number biased to unsigned; all
 * bits flipped for REVERSE), so that most comparisons read this array
 * alone instead of chasing the keys' strings through memory; only ties
 * go on to the whole comparison. */
struct sort_ent {
	uint64_t hi, lo;
	const struct sort_msg *m;
};

static const char *crit_str(enum sort_key key, const struct sort_msg *m)
{
	switch (key) {
	case SORTK_CC: return m->k.cc;
	case SORTK_FROM: return m->k.from;
	case SORTK_SUBJECT: return m->k.subject;
	case SORTK_TO: return m->k.to;
	case SORTK_DISPLAYFROM: return m->k.dfrom;
	case SORTK_DISPLAYTO: return m->k.dto;
	default: return NULL;
	}
}

static uint64_t load_be64(const unsigned char *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void sort_ent_make(struct sort_ent *e, const struct sort_crit *c, const struct sort_msg *m)
{
	const char *s = crit_str(c->key, m);
	unsigned char b[16] = { 0 };

	e->m = m;
	if (s) {
		memcpy(b, s, strnlen(s, sizeof(b)));
		e->hi = load_be64(b);
		e->lo = load_be64(b + 8);
	} else {
		e->hi = c->key == SORTK_SIZE ? m->size :
			(uint64_t)(c->key == SORTK_DATE ? m->k.date : (int64_t)m->arrival) ^ (1ull << 63);
		e->lo = 0;
	}
	if (c->reverse) {
		e->hi = ~e->hi;
		e->lo = ~e->lo;
	}
}

static int sort_ent_cmp(const void *x, const void *y, void *arg)
{
	const struct sort_ent *a = x, *b = y;

	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return sort_cmp(a->m, b->m, arg);
}

/* res: the numbers to show, in sort order; modseq: RFC 7162 3.1.5's, or 0.
 * ESORT's answer is an ESEARCH whose sets keep sort order (RFC 5267 3.2). */
static void sort_write(struct session *s, const struct imap_cmd *cmd, int by_uid,
		       const struct search_program *prog, const uint32_t *res, size_t n,
		       uint64_t modseq)
{
	if (prog->has_return)
		esearch_write(s, cmd->tag, by_uid, prog, res, n, modseq);
	else
		search_list_write(s, "SORT", res, n, modseq);
}

int sort_order(struct session *s, const struct sort_spec *sp, uint32_t *seqs, uint32_t *uids,
	       size_t *n, struct error *err)
{
	struct sort_msg *v;
	struct sort_ent *e;

	if (sort_msgs_keys(s, sp->need, seqs, n, &v, err) < 0)
		return -1;
	e = arena_alloc(s->arena, (*n ? *n : 1) * sizeof(*e));
	for (size_t i = 0; i < *n; i++)
		sort_ent_make(&e[i], &sp->c[0], &v[i]);
	qsort_r(e, *n, sizeof(*e), sort_ent_cmp, (void *)sp);
	for (size_t i = 0; i < *n; i++) {
		seqs[i] = e[i].m->seq;
		uids[i] = e[i].m->uid;
	}
	return 0;
}

void sort_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	const char *name = by_uid ? "UID SORT" : "SORT", *why = "Invalid arguments";
	struct wsession *ws = wsession_of(s);
	struct search_program prog;
	struct sort_spec sp;
	uint32_t *seqs, *uids;
	size_t n;
	struct error err;
	enum search_status st = sort_parse(s->arena, cmd->args + argi, cmd->nargs - argi, &sp,
					   &prog, &why);

	if (st == SEARCH_OK && (prog.ret & SR_UPDATE) && search_update_tag_used(ws, cmd->tag)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: tag in use by an UPDATE", name);
		return;
	}
	if (sort_msgs_search(s, cmd, name, st, why, &prog, &seqs, &uids, &n) < 0)
		return;
	if (sort_order(s, &sp, seqs, uids, &n, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	sort_write(s, cmd, by_uid, &prog, by_uid ? uids : seqs, n,
		   prog.uses_modseq ? search_results_modseq(ws->mb,
							    prog.has_return ? prog.ret : SR_ALL,
							    uids, n) : 0);
	if (prog.ret & SR_UPDATE)
		search_update_add(ws, cmd, by_uid, &prog, &sp, uids, n);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", name);
}

void cmd_sort(struct session *s, const struct imap_cmd *cmd)
{
	sort_run(s, cmd, 0, 0);
}
