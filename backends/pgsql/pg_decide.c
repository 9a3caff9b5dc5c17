/* SEARCH: the messages the SQL statement left undecided (BM_MAYBE: header
 * keys, which the search text can rule out but not confirm; \Recent; a
 * text cut short) are decided here by the evaluator itself
 * (mail/search_eval.c), on rows read in batches: each message's metadata
 * and its first DECIDE_PREFIX bytes, which nearly always hold its whole
 * header. Left to the protocol, each of them cost three statements (a
 * metadata window, the body's row, a chunk): 300 for a UID SEARCH SUBJECT
 * with 100 candidates in the bigbox mailbox, one statement per 64 here.
 * A program that needs bodies, and a header longer than the prefix, are
 * read the caller's way, as before. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../mail/search.h"
#include "pgsql.h"

/* (at most 1 MiB of prefixes at a time, less than the UID list of a
 * mailbox of 100,000 takes while it is read) */
#define DECIDE_BATCH 64
#define DECIDE_PREFIX 16384

/* What the evaluator reads of one message: the prefix when it holds the
 * header, else through the caller's reader. */
struct prefix {
	const char *data;
	size_t len;
	int whole;               /* the prefix is all of the message */
	search_read_fn read;
	void *arg;
};

static int prefix_read(void *arg, uint32_t uid, int header_only, struct buf *out,
		       struct error *err)
{
	struct prefix *pf = arg;

	if (pf->whole || (header_only && (memmem(pf->data, pf->len, "\n\n", 2) ||
					  memmem(pf->data, pf->len, "\n\r\n", 3)))) {
		buf_append(out, pf->data, pf->len);
		return 0;
	}
	return pf->read(pf->arg, uid, header_only, out, err);
}

/* Row i of r (PS_SEARCH_ROWS) decided into result: 0, or -1 with err. */
static int decide_row(struct mailbox *mb, const struct search_program *p,
		      struct search_ctx *ctx, const PGresult *r, int i, struct pg_window *kw,
		      uint8_t *result, struct error *err)
{
	search_read_fn read = ctx->read;
	void *arg = ctx->read_arg;
	struct prefix pf = { PQgetvalue(r, i, PG_SEARCH_ROWS_PREFIX),
			      (size_t)PQgetlength(r, i, PG_SEARCH_ROWS_PREFIX), 0, read, arg };
	struct msg_meta m;
	uint32_t seq;
	int rc;

	kw->nkw = 0;
	pg_meta_decode(mb, r, i, &m, kw);
	m.kw = m.nkw ? kw->kw : NULL;
	/* (a keyword the view sees here first is in its table now) */
	ctx->nkwnames = pg_keywords(mb, &ctx->kwnames);
	m.recent = pg_view_recent(mb, m.uid);
	if ((seq = pg_view_seq(mb, m.uid)) == 0)
		return 0;
	pf.whole = pf.len == m.size;
	ctx->read = prefix_read;
	ctx->read_arg = &pf;
	rc = search_match(p, ctx, seq, &m, err);
	ctx->read = read;
	ctx->read_arg = arg;
	if (rc < 0)
		return -1;
	result[seq - 1] = rc ? BM_YES : BM_NO;
	return 0;
}

/* The messages of uids[0..n) (seqs[0..n)), all BM_MAYBE, decided: one
 * statement. A message not found is gone and matches nothing. */
static int decide_batch(struct mailbox *mb, const struct search_program *p,
			struct search_ctx *ctx, const uint32_t *uids, const uint32_t *seqs,
			size_t n, uint8_t *result, struct error *err)
{
	struct pg_window kw;
	struct buf ua = BUF_INIT;
	struct pgp pp;
	PGresult *r;
	int rc = 0;

	pg_uid_array(&ua, uids, n);
	pgp_init(&pp);
	pgp_i64(&pp, mb->id);
	pgp_array(&pp, ua.data);
	pgp_i64(&pp, DECIDE_PREFIX);
	rc = pgc_call(&mb->st->db, PS_SEARCH_ROWS, &pp, 1, &r, err);
	buf_free(&ua);
	if (rc < 0)
		return -1;
	for (size_t k = 0; k < n; k++)
		result[seqs[k] - 1] = BM_NO;
	memset(&kw, 0, sizeof(kw));
	for (int i = 0; i < PQntuples(r) && rc == 0; i++)
		rc = decide_row(mb, p, ctx, r, i, &kw, result, err);
	free(kw.kw);
	PQclear(r);
	return rc;
}

int pg_search_decide(struct mailbox *mb, const struct search_program *p,
		     struct search_ctx *ctx, uint8_t *result, struct error *err)
{
	uint32_t uids[DECIDE_BATCH], seqs[DECIDE_BATCH];
	size_t n = 0;

	if (p->needs & SN_BODY)
		return 0;
	for (uint32_t seq = 1; seq <= mb->count; seq++) {
		if (result[seq - 1] != BM_MAYBE)
			continue;
		uids[n] = mb->uids[seq - 1];
		seqs[n++] = seq;
		if (n == DECIDE_BATCH) {
			if (decide_batch(mb, p, ctx, uids, seqs, n, result, err) < 0)
				return -1;
			n = 0;
		}
	}
	if (n > 0 && decide_batch(mb, p, ctx, uids, seqs, n, result, err) < 0)
		return -1;
	return 0;
}
