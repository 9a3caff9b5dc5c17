/* SEARCH in the database.
 *
 * A program (mail/search.h) becomes one SELECT over the mailbox's
 * messages. Each key gives two SQL conditions: T, "certainly matches",
 * and F, "certainly does not"; AND, OR and NOT combine them in
 * three-valued logic without recursion (children come before their
 * operator when the prefix-ordered program is walked backwards). Rows
 * where F holds are not returned (BM_NO), rows where T holds are BM_YES,
 * the rest BM_MAYBE, for the evaluator to decide by reading them.
 *
 * Metadata keys (flags, keywords, UID and sequence sets, dates, sizes,
 * SENT*) are exact. Text keys use the search text stored at delivery
 * (built by the evaluator's own code, search_texts_build), whose pg_trgm
 * index finds candidates: a needle absent from it cannot match any text
 * key (F); TEXT and BODY are exact on it (T) when it holds the whole
 * message. \Recent is per view, so RECENT/NEW/OLD are left to the
 * evaluator. Values are parameters; the SQL text is made only of the
 * fixed fragments below, chosen by the program's shape. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../../mail/emailid.h"
#include "../../mail/search.h"
#include "pgsql.h"

struct sparams {
	char **v;
	int n, cap;
};

/* Add a value; returns its placeholder number. */
static int param(struct sparams *sp, char *owned)
{
	if (sp->n == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 16;
		sp->v = xreallocarray(sp->v, (size_t)sp->cap, sizeof(char *));
	}
	sp->v[sp->n++] = owned;
	return sp->n;
}

static char *like_pattern(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	buf_append_byte(&b, '%');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' || s[i] == '_' || s[i] == '\\')
			buf_append_byte(&b, '\\');
		buf_append_byte(&b, s[i]);
	}
	buf_append_byte(&b, '%');
	return buf_steal(&b);
}

/* "{[a,b],[c,d]}" of a resolved set, mapped through the view when its
 * numbers are sequence numbers. */
static char *multirange(struct mailbox *mb, const struct seqset *set, int seqs)
{
	struct buf b = BUF_INIT;
	buf_append_byte(&b, '{');
	for (size_t i = 0; i < set->n; i++) {
		uint32_t lo = set->r[i].lo, hi = set->r[i].hi;
		if (seqs) {
			if (lo > mb->count)
				continue;
			if (hi > mb->count)
				hi = mb->count;
			lo = mb->uids[lo - 1];
			hi = mb->uids[hi - 1];
		}
		buf_printf(&b, "%s[%u,%u]", b.len > 1 ? "," : "", lo, hi);
	}
	buf_append_byte(&b, '}');
	return buf_steal(&b);
}

static char *uid_list(const uint32_t *v, size_t n)
{
	struct buf b = BUF_INIT;
	pg_uid_array(&b, v, n);
	return buf_steal(&b);
}

struct cond {
	char *t, *f;
};

static void set2(struct cond *c, const char *t, const char *f)
{
	c->t = xstrdup(t);
	c->f = xstrdup(f);
}

static void setp(struct cond *c, const char *tfmt, const char *ffmt, int k)
{
	struct buf t = BUF_INIT, f = BUF_INIT;
	buf_printf(&t, tfmt, k, k);
	buf_printf(&f, ffmt, k, k);
	c->t = buf_steal(&t);
	c->f = buf_steal(&f);
}

#define DAY "floor((extract(epoch FROM m.internaldate) + m.tz_minutes * 60) / 86400)"
#define SAVED_DAY "floor(extract(epoch FROM m.savedate) / 86400)"
#define HAS_KW "EXISTS (SELECT 1 FROM unnest(m.keywords) AS k WHERE lower(k) = lower($%d))"

/* F of a text key: the needle is not in the stored text. Written so that
 * its negation (the rows a search keeps) is an OR of three arms each
 * with an index behind it: the text cut short (bodies_text_incomplete),
 * indexed and LIKE (the trigram index, partial on text_indexed), not yet
 * indexed and LIKE (bodies_text_unindexed: the few bodies whose APPEND
 * was moments ago, sql/migrations/0019). */
#define TEXT_ABSENT "(b.text_complete AND (NOT b.text_indexed OR b.search_text NOT LIKE $%d) " \
		    "AND (b.text_indexed OR b.search_text NOT LIKE $%d))"

/* A key that needs the message's text: F from the stored text. */
static void text_key(struct cond *c, const struct search_node *n, struct sparams *sp)
{
	int k;
	if (n->len == 0 || !search_text_needle_ok(n->str, n->len)) {
		set2(c, n->op == SK_TEXT && n->len == 0 ? "true" : "false", "false");
		return;
	}
	k = param(sp, like_pattern(n->str, n->len));
	if (n->op == SK_TEXT || n->op == SK_BODY) {
		struct buf t = BUF_INIT, f = BUF_INIT;
		int k2 = param(sp, xstrndup(n->str, n->len));
		buf_printf(&t, "(b.text_complete AND strpos(substr(b.search_text, %s), $%d) > 0)",
			   n->op == SK_TEXT ? "1, b.addr_start - 1"
					    : "b.body_start, b.addr_start - b.body_start", k2);
		buf_printf(&f, TEXT_ABSENT, k, k);
		c->t = buf_steal(&t);
		c->f = buf_steal(&f);
	} else {
		setp(c, "false", TEXT_ABSENT, k);
	}
}

/* EMAILID: exact on the body's SHA-256, which the id is made of
 * (mail/emailid.h); an id of another form is none of ours. */
static void emailid_key(struct cond *c, const struct search_node *n, struct sparams *sp)
{
	if (n->len != MAIL_EMAILID_SIZE - 1 || n->str[0] != 'M' ||
	    strspn(n->str + 1, "0123456789abcdef") != MAIL_EMAILID_HEX) {
		set2(c, "false", "true");
		return;
	}
	struct buf t = BUF_INIT, f = BUF_INIT;
	int k = param(sp, xstrndup(n->str + 1, MAIL_EMAILID_HEX));
	buf_printf(&t, "substr(b.sha256, 1, %d) = decode($%d, 'hex')", MAIL_EMAILID_HEX / 2, k);
	buf_printf(&f, "substr(b.sha256, 1, %d) <> decode($%d, 'hex')", MAIL_EMAILID_HEX / 2, k);
	c->t = buf_steal(&t);
	c->f = buf_steal(&f);
}

static char *num(uint64_t v)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%llu", (unsigned long long)v);
	return buf_steal(&b);
}

static char *inum(int64_t v)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%lld", (long long)v);
	return buf_steal(&b);
}

static void leaf(struct mailbox *mb, struct search_ctx *ctx, const struct search_node *n,
		 struct sparams *sp, struct cond *c, int *needs_body)
{
	switch (n->op) {
	case SK_ALL: set2(c, "true", "false"); return;
	case SK_NONE: set2(c, "false", "true"); return;
	case SK_FLAG:
		setp(c, "(m.flags & $%d) <> 0", "(m.flags & $%d) = 0", param(sp, num(n->flag)));
		return;
	case SK_UNFLAG:
		setp(c, "(m.flags & $%d) = 0", "(m.flags & $%d) <> 0", param(sp, num(n->flag)));
		return;
	case SK_KEYWORD:
		setp(c, HAS_KW, "NOT " HAS_KW, param(sp, xstrdup(n->str)));
		return;
	case SK_UNKEYWORD:
		setp(c, "NOT " HAS_KW, HAS_KW, param(sp, xstrdup(n->str)));
		return;
	case SK_BEFORE: setp(c, DAY " < $%d", DAY " >= $%d", param(sp, inum(n->day))); return;
	case SK_ON: setp(c, DAY " = $%d", DAY " <> $%d", param(sp, inum(n->day))); return;
	case SK_SINCE: setp(c, DAY " >= $%d", DAY " < $%d", param(sp, inum(n->day))); return;
	case SK_SAVEDBEFORE:
		setp(c, SAVED_DAY " < $%d", SAVED_DAY " >= $%d", param(sp, inum(n->day)));
		return;
	case SK_SAVEDON:
		setp(c, SAVED_DAY " = $%d", SAVED_DAY " <> $%d", param(sp, inum(n->day)));
		return;
	case SK_SAVEDSINCE:
		setp(c, SAVED_DAY " >= $%d", SAVED_DAY " < $%d", param(sp, inum(n->day)));
		return;
	case SK_SAVEDATESUPPORTED: set2(c, "true", "false"); return;
	case SK_OLDER:
		setp(c, "m.internaldate <= to_timestamp($%d)", "m.internaldate > to_timestamp($%d)",
		     param(sp, inum(n->when)));
		return;
	case SK_YOUNGER:
		setp(c, "m.internaldate >= to_timestamp($%d)", "m.internaldate < to_timestamp($%d)",
		     param(sp, inum(n->when)));
		return;
	case SK_LARGER: setp(c, "m.size > $%d", "m.size <= $%d", param(sp, num(n->num))); return;
	case SK_SMALLER: setp(c, "m.size < $%d", "m.size >= $%d", param(sp, num(n->num))); return;
	case SK_MODSEQ:
		setp(c, "m.modseq >= $%d", "m.modseq < $%d", param(sp, num(n->num)));
		return;
	case SK_SEQSET:
	case SK_UIDSET:
		setp(c, "m.uid <@ $%d::int8multirange", "NOT m.uid <@ $%d::int8multirange",
		     param(sp, multirange(mb, &n->set, n->op == SK_SEQSET)));
		return;
	case SK_SAVED:
		setp(c, "m.uid = ANY ($%d::bigint[])", "NOT m.uid = ANY ($%d::bigint[])",
		     param(sp, uid_list(ctx->saved, ctx->nsaved)));
		return;
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE: {
		const char *op = n->op == SK_SENTBEFORE ? "<" : n->op == SK_SENTON ? "=" : ">=";
		struct buf t = BUF_INIT, f = BUF_INIT;
		int k = param(sp, inum(n->day));
		buf_printf(&t, "coalesce(b.sent_day %s $%d, false)", op, k);
		buf_printf(&f, "NOT coalesce(b.sent_day %s $%d, false)", op, k);
		c->t = buf_steal(&t);
		c->f = buf_steal(&f);
		*needs_body = 1;
		return;
	}
	case SK_THREADID: set2(c, "false", "true"); return;
	case SK_EMAILID:
		emailid_key(c, n, sp);
		*needs_body = 1;
		return;
	case SK_FROM: case SK_TO: case SK_CC: case SK_BCC: case SK_SUBJECT: case SK_HEADER:
	case SK_BODY: case SK_TEXT:
		text_key(c, n, sp);
		*needs_body = 1;
		return;
	default:
		/* \Recent and anything new: the evaluator decides */
		set2(c, "false", "false");
		return;
	}
}

/* Operator node i from its children's conditions (already made). */
static void combine(const struct search_program *p, size_t i, struct cond *cs)
{
	const struct search_node *n = &p->nodes[i];
	struct buf t = BUF_INIT, f = BUF_INIT;
	const char *top = n->op == SK_AND ? " AND " : " OR ", *fop = n->op == SK_AND ? " OR " : " AND ";
	size_t k = 0;

	if (n->op == SK_NOT) {
		size_t c = i + 1;
		cs[i].t = cs[c].f;
		cs[i].f = cs[c].t;
		cs[c].t = cs[c].f = NULL;
		return;
	}
	buf_append_byte(&t, '(');
	buf_append_byte(&f, '(');
	for (size_t c = i + 1; c < n->end; c = p->nodes[c].end, k++) {
		buf_printf(&t, "%s%s", k ? top : "", cs[c].t);
		buf_printf(&f, "%s%s", k ? fop : "", cs[c].f);
		free(cs[c].t);
		free(cs[c].f);
		cs[c].t = cs[c].f = NULL;
	}
	if (k == 0) {
		buf_append_str(&t, n->op == SK_AND ? "true" : "false");
		buf_append_str(&f, n->op == SK_AND ? "false" : "true");
	}
	buf_append_byte(&t, ')');
	buf_append_byte(&f, ')');
	cs[i].t = buf_steal(&t);
	cs[i].f = buf_steal(&f);
}

static void build(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		  struct sparams *sp, struct buf *sql)
{
	struct cond *cs = xcalloc(p->nnodes ? p->nnodes : 1, sizeof(*cs));
	int needs_body = 0;

	param(sp, inum(mb->id));
	param(sp, num(mb->uidnext));
	for (size_t i = p->nnodes; i-- > 0;) {
		const struct search_node *n = &p->nodes[i];
		if (n->op == SK_AND || n->op == SK_OR || n->op == SK_NOT)
			combine(p, i, cs);
		else
			leaf(mb, ctx, n, sp, &cs[i], &needs_body);
	}
	buf_printf(sql, "SELECT m.uid, %s FROM haven.messages m%s WHERE m.mailbox_id = $1 "
			"AND m.uid < $2 AND NOT %s",
		   cs[0].t, needs_body ? " JOIN haven.bodies b ON b.id = m.body_id" : "", cs[0].f);
	free(cs[0].t);
	free(cs[0].f);
	free(cs);
}

/* At debug level, the statement and its values (non-printable bytes
 * escaped): what tests/integration/test_pgsql_explain.py checks. */
static void log_search(const struct buf *sql, const struct sparams *sp)
{
	struct buf vals = BUF_INIT;

	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	for (int i = 0; i < sp->n; i++) {
		buf_printf(&vals, "%s$%d=", i ? " " : "", i + 1);
		for (const unsigned char *c = (const unsigned char *)sp->v[i]; *c; c++) {
			if (*c < 0x20 || *c == 0x7f || *c == '\\' || *c == ' ')
				buf_printf(&vals, "\\x%02x", *c);
			else
				buf_append_byte(&vals, (char)*c);
		}
	}
	log_debug("pgsql: search: %s", sql->data);
	log_debug("pgsql: search values: %s", vals.data ? vals.data : "");
	buf_free(&vals);
}

int pg_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
	      uint8_t *result, struct error *err)
{
	struct sparams sp = { NULL, 0, 0 };
	struct buf sql = BUF_INIT;
	PGresult *r;
	int rc;

	if (p->nnodes == 0 || pg_view_uids(mb, err) < 0)
		return p->nnodes == 0 ? 1 : -1;
	build(mb, p, ctx, &sp, &sql);
	log_search(&sql, &sp);
	rc = pgc_exec_text(&mb->st->db, sql.data, sp.n, (const char *const *)sp.v, &r, err);
	for (int i = 0; i < sp.n; i++)
		free(sp.v[i]);
	free(sp.v);
	buf_free(&sql);
	if (rc < 0)
		return -1;
	memset(result, BM_NO, mb->count);
	for (int i = 0; i < PQntuples(r); i++) {
		uint32_t seq = pg_view_seq(mb, (uint32_t)pg_i64(r, i, 0));
		if (seq != 0)
			result[seq - 1] = pg_str(r, i, 1)[0] == 't' ? BM_YES : BM_MAYBE;
	}
	PQclear(r);
	return pg_search_decide(mb, p, ctx, result, err);
}
