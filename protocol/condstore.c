/* CONDSTORE (RFC 7162 section 3.1). Both stores keep a MODSEQ per message
 * and a HIGHESTMODSEQ per mailbox (backend.h: 0 means the mailbox keeps
 * none); what is left is the session's side: which FETCH responses carry
 * MODSEQ, when the client learns the mailbox's HIGHESTMODSEQ, and the
 * arguments that name mod-sequences. The commands (SELECT, STATUS,
 * FETCH, STORE, SEARCH) call in here. */
#include <string.h>

#include "../lib/buf.h"
#include "worker.h"

#define MODSEQ_MAX UINT64_C(0x7fffffffffffffff)   /* RFC 7162: mod-sequence-value */

int modseq_arg(const struct imap_arg *a, int zero_ok, uint64_t *out)
{
	uint64_t v = 0;

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19)
		return -1;
	for (size_t i = 0; i < a->len; i++) {
		unsigned d = (unsigned char)a->str[i] - '0';
		if (d > 9 || v > (MODSEQ_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v == 0 && !zero_ok)
		return -1;
	*out = v;
	return 0;
}

/* The untagged OK a CONDSTORE-aware client gets once per selected
 * mailbox. */
static void condstore_tell(struct wsession *ws)
{
	if (ws->mb == NULL || ws->hms_told)
		return;
	if (ws->nomodseq)
		session_printf(&ws->s, "* OK [NOMODSEQ] This mailbox keeps no mod-sequences\r\n");
	else
		session_printf(&ws->s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			       (unsigned long long)ws->hms);
	ws->hms_told = 1;
}

void condstore_enable(struct wsession *ws)
{
	if (ws->s.enabled & EN_CONDSTORE)
		return;
	ws->s.enabled |= EN_CONDSTORE;
	condstore_tell(ws);
}

void condstore_selected(struct wsession *ws, const struct mailbox_status *st)
{
	ws->hms = st->highestmodseq;
	ws->uidnext = st->uidnext;
	ws->nomodseq = st->highestmodseq == 0;
	ws->hms_told = 0;
	if (ws->s.enabled & EN_CONDSTORE)
		condstore_tell(ws);
}

int condstore_require(struct wsession *ws, const struct imap_cmd *cmd)
{
	if (ws->mb != NULL && ws->nomodseq) {
		session_tagged(&ws->s, cmd->tag, "BAD", NULL,
			       "This mailbox keeps no mod-sequences (NOMODSEQ)");
		return -1;
	}
	condstore_enable(ws);
	return 0;
}

int condstore_on(const struct wsession *ws)
{
	return (ws->s.enabled & EN_CONDSTORE) && !ws->nomodseq;
}

void modseq_write(struct wsession *ws, struct buf *out, const struct msg_meta *m)
{
	if (m->modseq > ws->hms)
		ws->hms = m->modseq;
	buf_printf(out, "MODSEQ (%llu)", (unsigned long long)m->modseq);
}
