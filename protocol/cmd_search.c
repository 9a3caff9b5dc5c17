/* SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4), ESEARCH result
 * options (RFC 4731) and SEARCHRES (RFC 5182): RETURN (SAVE) keeps the
 * result, as UIDs, for "$" in later commands of the session.
 *
 * The whole result set is computed, then written: results are only
 * numbers. Messages are read only when a header or body key still
 * decides the answer (search_eval.c). */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "search_parse.h"
#include "search_update.h"
#include "worker.h"

void search_saved_reset(struct wsession *ws)
{
	free(ws->saved);
	ws->saved = NULL;
	ws->nsaved = 0;
	ws->saved_valid = 0;
}

static void saved_set(struct wsession *ws, const uint32_t *uids, size_t n)
{
	search_saved_reset(ws);
	if (n) {
		ws->saved = xreallocarray(NULL, n, sizeof(uint32_t));
		memcpy(ws->saved, uids, n * sizeof(uint32_t));
	}
	ws->nsaved = n;
	ws->saved_valid = 1;
}

/* The search evaluator's reader: the view's backend, whole message or header. */
static int read_msg(void *arg, uint32_t uid, int header_only, struct buf *out, struct error *err)
{
	return wsession_read_message(arg, uid, header_only, out, err);
}

/* Decide every message of the view: the backend first (it may answer
 * from its own indexes or caches), then the evaluator for what it left
 * open. Matches go to seqs and uids, ascending. */
static int search_all(struct mailbox *mb, const struct search_program *prog,
		      struct search_ctx *ctx, struct arena *a, uint32_t *seqs, uint32_t *uids,
		      size_t *n, struct error *err)
{
	uint8_t *decided = arena_alloc(a, ctx->count ? ctx->count : 1);
	int pushed = mailbox_search(mb, prog, ctx, decided, err);

	if (pushed < 0)
		return -1;
	for (uint32_t seq = 1; seq <= ctx->count; seq++) {
		int r = pushed == 0 ? decided[seq - 1] : BM_MAYBE;
		if (r == BM_MAYBE) {
			const struct msg_meta *m = mailbox_meta(mb, seq);
			if (m == NULL)
				continue;   /* gone: matches nothing */
			if ((r = search_match(prog, ctx, seq, m, err)) < 0)
				return -1;
		}
		if (r == BM_YES) {
			seqs[*n] = seq;
			uids[*n] = mailbox_uid(mb, seq);
			(*n)++;
		}
	}
	return 0;
}

int search_collect(struct session *s, struct search_program *prog, const char *name,
		   uint32_t **seqs, uint32_t **uids, size_t *n, struct error *err)
{
	struct wsession *ws = wsession_of(s);
	struct search_ctx ctx;
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.kwnames = NULL;
	ctx.nkwnames = mailbox_keywords(ws->mb, &ctx.kwnames);
	ctx.saved = ws->saved;
	ctx.nsaved = ws->nsaved;
	ctx.count = mailbox_count(ws->mb);
	ctx.maxuid = ctx.count ? mailbox_uid(ws->mb, ctx.count) : 0;
	ctx.no_recent = (s->enabled & EN_IMAP4REV2) != 0;
	ctx.read = read_msg;
	ctx.read_arg = ws->mb;
	search_prepare(prog, &ctx);
	*seqs = arena_alloc(s->arena, (ctx.count ? ctx.count : 1) * sizeof(uint32_t));
	*uids = arena_alloc(s->arena, (ctx.count ? ctx.count : 1) * sizeof(uint32_t));
	*n = 0;
	rc = search_all(ws->mb, prog, &ctx, s->arena, *seqs, *uids, n, err);
	if (rc == 0 && (ctx.messages_read || ctx.fields_read))
		log_debug("%s: %u messages, %zu read (%llu bytes), %zu by header fields, %zu found",
			  name, ctx.count, ctx.messages_read, (unsigned long long)ctx.bytes_read,
			  ctx.fields_read, *n);
	search_ctx_free(&ctx);
	return rc;
}

/* The highest MODSEQ of the messages a result returns (RFC 7162 3.1.5,
 * 3.1.10): with only MIN and/or MAX asked, just those; 0 if none. */
uint64_t search_results_modseq(struct mailbox *mb, unsigned ret, const uint32_t *uids, size_t n)
{
	uint64_t hi = 0;
	int ends_only = (ret & (SR_MIN | SR_MAX)) && !(ret & (SR_ALL | SR_COUNT));

	for (size_t i = 0; i < n; i++) {
		if (ends_only && !((i == 0 && (ret & SR_MIN)) || (i == n - 1 && (ret & SR_MAX))))
			continue;
		uint32_t seq = mailbox_uid_to_seq(mb, uids[i]);
		const struct msg_meta *m = seq ? mailbox_meta(mb, seq) : NULL;
		if (m && m->modseq > hi)
			hi = m->modseq;
	}
	return hi;
}

/* The result options in effect: RETURN's, or ALL for an IMAP4rev2
 * session's ESEARCH, or ALL for a plain SEARCH. */
static unsigned ret_of(const struct search_program *p, const struct session *s)
{
	return p->has_return ? p->ret : SR_ALL;
}

/* PARTIAL (RFC 5267 4.4): positions lo..hi of the result, the range as
 * asked, NIL when none of it exists. */
static void write_partial(struct buf *b, const struct search_program *p, const uint32_t *res,
			  size_t n)
{
	buf_printf(b, " PARTIAL (%u:%u ", p->partial_lo, p->partial_hi);
	if (p->partial_lo > n) {
		buf_append_str(b, "NIL)");
		return;
	}
	size_t end = p->partial_hi < n ? p->partial_hi : n;
	seqset_write(b, res + p->partial_lo - 1, end - (p->partial_lo - 1));
	buf_append_str(b, ")");
}

void esearch_write(struct session *s, const char *tag, int by_uid,
		   const struct search_program *p, const uint32_t *res, size_t n, uint64_t modseq)
{
	struct buf b = BUF_INIT;
	unsigned ret = p->has_return ? p->ret : SR_ALL;

	buf_printf(&b, "* ESEARCH (TAG \"%s\")%s", tag, by_uid ? " UID" : "");
	if ((ret & SR_MIN) && n)
		buf_printf(&b, " MIN %u", res[0]);
	if ((ret & SR_MAX) && n)
		buf_printf(&b, " MAX %u", res[n - 1]);
	if ((ret & SR_ALL) && n) {
		buf_append_str(&b, " ALL ");
		seqset_write(&b, res, n);
	}
	if (ret & SR_PARTIAL)
		write_partial(&b, p, res, n);
	if (ret & SR_COUNT)
		buf_printf(&b, " COUNT %zu", n);
	if (modseq)
		buf_printf(&b, " MODSEQ %llu", (unsigned long long)modseq);
	buf_append(&b, "\r\n", 2);
	session_write(s, b.data, b.len);
	buf_free(&b);
}

void search_list_write(struct session *s, const char *name, const uint32_t *res, size_t n,
		       uint64_t modseq)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "* %s", name);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, " %u", res[i]);
	if (modseq)
		buf_printf(&b, " (MODSEQ %llu)", (unsigned long long)modseq);
	buf_append(&b, "\r\n", 2);
	session_write(s, b.data, b.len);
	buf_free(&b);
}

static void write_results(struct session *s, const struct imap_cmd *cmd,
			  const struct search_program *p, int by_uid, const uint32_t *res,
			  size_t n, uint64_t modseq)
{
	if (p->has_return || (s->enabled & EN_IMAP4REV2)) {
		/* SAVE alone suppresses the ESEARCH response. */
		if (!p->has_return || (p->ret & ~(unsigned)(SR_SAVE | SR_UPDATE | SR_CONTEXT)))
			esearch_write(s, cmd->tag, by_uid, p, res, n, modseq);
		return;
	}
	search_list_write(s, "SEARCH", res, n, modseq);
}

/* RFC 5182 2.4: with MIN and/or MAX but neither ALL nor COUNT, "$" holds
 * just those messages; otherwise everything found. */
static void save_result(struct wsession *ws, unsigned ret, const uint32_t *uids, size_t n)
{
	if (n && (ret & (SR_MIN | SR_MAX)) && !(ret & (SR_ALL | SR_COUNT))) {
		uint32_t mm[2];
		size_t k = 0;
		if (ret & SR_MIN)
			mm[k++] = uids[0];
		if ((ret & SR_MAX) && (k == 0 || uids[n - 1] != mm[0]))
			mm[k++] = uids[n - 1];
		saved_set(ws, mm, k);
		return;
	}
	saved_set(ws, uids, n);
}

void search_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	struct search_program prog;
	uint32_t *seqs, *uids, *res;
	size_t n;
	const char *errmsg = "Invalid SEARCH arguments";
	struct error err;
	const char *name = by_uid ? "UID SEARCH" : "SEARCH";

	switch (search_parse(s->arena, cmd->args + argi, cmd->nargs - argi, &prog, &errmsg)) {
	case SEARCH_OK:
		break;
	case SEARCH_BAD:
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: %s", name, errmsg);
		return;
	case SEARCH_LIMIT:
		session_tagged(s, cmd->tag, "BAD", "LIMIT", "%s: %s", name, errmsg);
		return;
	case SEARCH_BADCHARSET:
		/* A NO: a SAVE asked for leaves "$" empty. */
		if (prog.ret & SR_SAVE)
			saved_set(ws, NULL, 0);
		session_tagged(s, cmd->tag, "NO", "BADCHARSET (UTF-8 US-ASCII)", "%s: %s", name,
			       errmsg);
		return;
	}

	if ((prog.ret & SR_UPDATE) && search_update_tag_used(ws, cmd->tag)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: tag in use by an UPDATE", name);
		return;
	}
	if (prog.uses_modseq && condstore_require(ws, cmd) < 0)
		return;
	if (search_collect(s, &prog, name, &seqs, &uids, &n, &err) < 0) {
		if (prog.ret & SR_SAVE)
			saved_set(ws, NULL, 0);
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	res = by_uid ? uids : seqs;
	if (prog.ret & SR_SAVE)
		save_result(ws, prog.ret, uids, n);
	write_results(s, cmd, &prog, by_uid, res, n,
		      prog.uses_modseq ? search_results_modseq(ws->mb, ret_of(&prog, s), uids, n) : 0);
	if (prog.ret & SR_UPDATE)
		search_update_add(ws, cmd, by_uid, &prog, NULL, uids, n);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", name);
}

void cmd_search(struct session *s, const struct imap_cmd *cmd)
{
	search_run(s, cmd, 0, 0);
}
