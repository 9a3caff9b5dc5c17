/* QRESYNC (RFC 7162 section 3.2): after ENABLE QRESYNC a client learns of
 * expunges as VANISHED, and can resynchronize a mailbox in the SELECT
 * itself or with UID FETCH (CHANGEDSINCE n VANISHED).
 *
 * What vanished: the stores keep a MODSEQ per message and raise the
 * mailbox's HIGHESTMODSEQ on every expunge, but not (every store) which
 * UIDs went when. The RFC's rule for a server that remembers no expunge
 * older than some mod-sequence (3.2.6) is to report every UID of the
 * client's set that is no longer there, and that is what is done here,
 * as ranges computed against the view (never one UID at a time, so
 * "1:4294967295" costs what the view's size costs). When a resyncing
 * SELECT's mod-sequence is the mailbox's highest, nothing can have
 * vanished and nothing is reported. */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "worker.h"

int qresync_on(const struct wsession *ws)
{
	return (ws->s.enabled & EN_QRESYNC) && !ws->nomodseq;
}

static void range_put(struct buf *out, uint64_t lo, uint64_t hi)
{
	if (out->len)
		buf_append_byte(out, ',');
	if (lo == hi)
		buf_printf(out, "%llu", (unsigned long long)lo);
	else
		buf_printf(out, "%llu:%llu", (unsigned long long)lo, (unsigned long long)hi);
}

/* The UIDs of set (resolved) that the view lacks, as a sequence set. */
static void vanished_ranges(struct mailbox *mb, const struct seqset *set, struct buf *out)
{
	uint32_t count = mailbox_count(mb), seq = 1;

	for (size_t r = 0; r < set->n; r++) {
		uint64_t cur = set->r[r].lo, hi = set->r[r].hi;
		while (seq <= count && mailbox_uid(mb, seq) < cur)
			seq++;
		for (; seq <= count && mailbox_uid(mb, seq) <= hi; seq++) {
			uint32_t uid = mailbox_uid(mb, seq);
			if (uid > cur)
				range_put(out, cur, uid - 1);
			cur = (uint64_t)uid + 1;
		}
		if (cur <= hi)
			range_put(out, cur, hi);
	}
}

void qresync_vanished_earlier(struct wsession *ws, const struct seqset *set)
{
	struct buf b = BUF_INIT;

	vanished_ranges(ws->mb, set, &b);
	if (b.len)
		session_printf(&ws->s, "* VANISHED (EARLIER) %s\r\n", b.data);
	buf_free(&b);
}

/* The flags of the messages of set changed since `since`, as unsolicited
 * FETCH responses with UID and MODSEQ (3.2.5.1). */
static void qresync_changed(struct wsession *ws, const struct seqset *set, uint64_t since)
{
	uint32_t count = mailbox_count(ws->mb);

	for (uint32_t seq = 1; seq <= count; seq++) {
		const struct msg_meta *m = mailbox_meta(ws->mb, seq);
		if (m && m->modseq > since && seqset_contains(set, m->uid))
			wsession_fetch_flags(ws, seq, m);
	}
}

int qresync_param(struct session *s, const struct imap_arg *p, struct qresync_req *q,
		  const char **why)
{
	const struct imap_arg *v = p->list;
	uint64_t uidv;

	if (!(s->enabled & EN_QRESYNC)) {
		*why = "QRESYNC needs ENABLE QRESYNC first";
		return -1;
	}
	if (p->type != IMAP_ARG_LIST || p->count < 2 || p->count > 4 ||
	    modseq_arg(&v[0], 0, &uidv) < 0 || uidv == 0 || uidv > UINT32_MAX ||
	    modseq_arg(&v[1], 0, &q->modseq) < 0)
		goto invalid;
	q->uidvalidity = (uint32_t)uidv;
	q->have_known = p->count >= 3;
	/* known-uids: a sequence set without '*' */
	if (q->have_known && (v[2].type != IMAP_ARG_ATOM || strchr(v[2].str, '*') ||
			      seqset_parse(s->arena, v[2].str, &q->known) < 0))
		goto invalid;
	/* seq-match-data: checked for syntax; the answer never depends on it
	 * (every missing UID of the known set is reported anyway). */
	if (p->count == 4 && (v[3].type != IMAP_ARG_LIST || v[3].count != 2 ||
			      v[3].list[0].type != IMAP_ARG_ATOM ||
			      v[3].list[1].type != IMAP_ARG_ATOM))
		goto invalid;
	return 0;
invalid:
	*why = "Invalid QRESYNC parameter";
	return -1;
}

void qresync_selected(struct wsession *ws, struct qresync_req *q,
		      const struct mailbox_status *st)
{
	uint32_t count = mailbox_count(ws->mb);
	struct seq_range all = { 1, st->uidnext > 1 ? st->uidnext - 1 : 0 };
	struct seqset set = q->known;

	/* 3.2.5: another UIDVALIDITY, or no mod-sequences: as if nothing
	 * dynamic had changed. */
	if (q->uidvalidity != st->uidvalidity || ws->nomodseq)
		return;
	/* Nothing, expunges included, happened since: they raise it too. */
	if (q->modseq >= st->highestmodseq)
		return;
	if (!q->have_known) {
		/* 1:<UIDNEXT-1>; none for a mailbox that never had a message */
		set.r = &all;
		set.n = all.hi ? 1 : 0;
	}
	seqset_resolve(&set, count ? mailbox_uid(ws->mb, count) : 0);
	qresync_vanished_earlier(ws, &set);
	qresync_changed(ws, &set, q->modseq);
}
