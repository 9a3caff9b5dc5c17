/* Untagged updates for the selected mailbox: what other sessions and
 * processes changed, as EXPUNGE / EXISTS / FETCH FLAGS. */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "worker.h"

struct sync_ctx {
	struct wsession *ws;
	uint32_t *changed;     /* UIDs whose flags changed */
	size_t nchanged, cap;
	uint32_t exists;
	int have_exists;
};

#define SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

void wsession_announce_flags(struct wsession *ws, int always)
{
	struct session *s = &ws->s;
	const char *const *kw;
	size_t nkw = mailbox_keywords(ws->mb, &kw);

	if (!always && nkw <= ws->kw_announced)
		return;
	session_printf(s, "* FLAGS (" SYSTEM_FLAGS);
	for (size_t i = 0; i < nkw; i++)
		session_printf(s, " %s", kw[i]);
	session_printf(s, ")\r\n");
	if (ws->readonly) {
		if (always)
			session_printf(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	} else {
		session_printf(s, "* OK [PERMANENTFLAGS (" SYSTEM_FLAGS);
		for (size_t i = 0; i < nkw; i++)
			session_printf(s, " %s", kw[i]);
		session_printf(s, " \\*)] Flags permitted\r\n");
	}
	ws->kw_announced = nkw;
}

static void on_expunged(void *arg, uint32_t seq, uint32_t uid)
{
	struct sync_ctx *c = arg;
	session_printf(&c->ws->s, "* %u EXPUNGE\r\n", seq);
}

static void on_flags(void *arg, uint32_t seq)
{
	struct sync_ctx *c = arg;
	uint32_t uid = mailbox_uid(c->ws->mb, seq);
	if (uid == 0)
		return;
	if (c->nchanged == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->changed = xreallocarray(c->changed, c->cap, sizeof(uint32_t));
	}
	c->changed[c->nchanged++] = uid;
}

static void on_exists(void *arg, uint32_t count)
{
	struct sync_ctx *c = arg;
	c->exists = count;
	c->have_exists = 1;
}

void wsession_sync(struct wsession *ws)
{
	wsession_sync_view(ws);
	wsession_idle_poke_others(ws);
}

void wsession_sync_view(struct wsession *ws)
{
	static const struct sync_cb cb = {
		.expunged = on_expunged,
		.flags_changed = on_flags,
		.exists = on_exists,
	};
	struct sync_ctx c;
	struct error err;

	if (ws->mb == NULL)
		return;
	memset(&c, 0, sizeof(c));
	c.ws = ws;
	if (mailbox_sync(ws->mb, &cb, &c, &err) < 0) {
		log_warn("sync %s: %s", ws->mbname, err.msg);
		free(c.changed);
		/* The view cannot be kept (e.g. UIDVALIDITY changed under us):
		 * the client must not go on with numbers that mean nothing. */
		if (err.code == ERR_VIEWGONE)
			session_bye(&ws->s, "[UNAVAILABLE] Mailbox changed incompatibly, please reconnect");
		return;
	}
	if (c.have_exists) {
		session_printf(&ws->s, "* %u EXISTS\r\n", c.exists);
		/* IMAP4rev1 (RFC 3501 7.3.2): the view's \Recent count goes
		 * with every EXISTS; IMAP4rev2 has no RECENT. */
		if (!(ws->s.enabled & EN_IMAP4REV2)) {
			uint32_t n = mailbox_count(ws->mb), recent = 0;
			for (uint32_t seq = 1; seq <= n; seq++) {
				const struct msg_meta *m = mailbox_meta(ws->mb, seq);
				recent += m != NULL && m->recent;
			}
			session_printf(&ws->s, "* %u RECENT\r\n", recent);
		}
	}
	/* Flag changes are reported against the final numbering. */
	for (size_t i = 0; i < c.nchanged; i++) {
		uint32_t seq = mailbox_uid_to_seq(ws->mb, c.changed[i]);
		if (seq == 0)
			continue;
		/* UID in every unsolicited FETCH: required by IMAP4rev2 and
		 * harmless (and useful) for IMAP4rev1 clients. */
		const struct msg_meta *m = mailbox_meta(ws->mb, seq);
		if (m == NULL)
			continue;
		wsession_announce_flags(ws, 0);
		session_printf(&ws->s, "* %u FETCH (UID %u FLAGS ", seq, m->uid);
		flags_write(&ws->s, ws->mb, m);
		session_write(&ws->s, ")\r\n", 3);
	}
	free(c.changed);
}

void wsession_unselect(struct wsession *ws)
{
	wsession_idle_stop(ws);
	search_saved_reset(ws);
	if (ws->mb) {
		mailbox_close(ws->mb);
		worker_memory_released();
	}
	ws->mb = NULL;
	free(ws->mbname);
	ws->mbname = NULL;
	if (ws->s.state == ST_SELECTED)
		ws->s.state = ST_AUTH;
}

const char *worker_capability(struct session *s)
{
	return "IMAP4rev1 IMAP4rev2 LITERAL+ ID UNSELECT UIDPLUS MOVE IDLE NAMESPACE ENABLE "
	       "CHILDREN ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS SPECIAL-USE "
	       "CREATE-SPECIAL-USE STATUS=SIZE UTF8=ACCEPT BINARY";
}
