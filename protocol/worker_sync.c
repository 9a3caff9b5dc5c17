/* Untagged updates for the selected mailbox: what other sessions and
 * processes changed, as EXPUNGE / EXISTS / FETCH FLAGS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "search_update.h"
#include "worker.h"

struct sync_ctx {
	struct wsession *ws;
	uint32_t *vanished;    /* expunged UIDs, told as one VANISHED (QRESYNC) */
	size_t nvanished, vcap;
	uint32_t *changed;     /* UIDs whose flags changed */
	size_t nchanged, cap;
	uint32_t exists;
	int have_exists;
	uint32_t before, nexpunged;   /* the view's count before; expunges told */
	int no_flags;                 /* flag changes are not told (NOTIFY without FlagChange) */
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

	c->nexpunged++;
	search_update_expunged(c->ws, seq, uid);
	if (!qresync_on(c->ws)) {
		session_printf(&c->ws->s, "* %u EXPUNGE\r\n", seq);
		return;
	}
	if (c->nvanished == c->vcap) {
		c->vcap = c->vcap ? c->vcap * 2 : 16;
		c->vanished = xreallocarray(c->vanished, c->vcap, sizeof(uint32_t));
	}
	c->vanished[c->nvanished++] = uid;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* RFC 7162 3.2.10: one VANISHED for what sync found expunged, before
 * EXISTS. */
static void sync_vanished(struct sync_ctx *c)
{
	struct buf b = BUF_INIT;

	if (c->nvanished == 0)
		return;
	qsort(c->vanished, c->nvanished, sizeof(uint32_t), cmp_u32);
	buf_append_str(&b, "* VANISHED ");
	seqset_write(&b, c->vanished, c->nvanished);
	buf_append_str(&b, "\r\n");
	session_write(&c->ws->s, b.data, b.len);
	buf_free(&b);
}

static void on_flags(void *arg, uint32_t seq)
{
	struct sync_ctx *c = arg;
	uint32_t uid = mailbox_uid(c->ws->mb, seq);
	if (uid == 0 || c->no_flags)
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

/* UID in every unsolicited FETCH: required by IMAP4rev2 and by QRESYNC,
 * harmless (and useful) for IMAP4rev1 clients; MODSEQ once CONDSTORE is
 * on (RFC 7162 3.1: in every later unsolicited FETCH). */
void wsession_fetch_flags(struct wsession *ws, uint32_t seq, const struct msg_meta *m)
{
	struct buf b = BUF_INIT;

	wsession_announce_flags(ws, 0);
	buf_printf(&b, "* %u FETCH (UID %u ", seq, m->uid);
	if (condstore_on(ws)) {
		modseq_write(ws, &b, m);
		buf_append_str(&b, " ");
	}
	buf_append_str(&b, "FLAGS ");
	session_write(&ws->s, b.data, b.len);
	buf_free(&b);
	flags_write(&ws->s, ws->mb, m);
	session_write(&ws->s, ")\r\n", 3);
}

void wsession_sync(struct wsession *ws)
{
	wsession_sync_view(ws);
	wsession_idle_poke_others(ws);
}

void wsession_sync_view(struct wsession *ws)
{
	wsession_sync_told(ws, 1);
}

void wsession_sync_told(struct wsession *ws, int flags)
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
	c.no_flags = !flags;
	c.before = mailbox_count(ws->mb);
	if (mailbox_sync(ws->mb, &cb, &c, &err) < 0) {
		log_warn("sync %s: %s", ws->mbname, err.msg);
		sync_vanished(&c);   /* what the view dropped before failing */
		free(c.changed);
		free(c.vanished);
		/* The view cannot be kept (e.g. UIDVALIDITY changed under us):
		 * the client must not go on with numbers that mean nothing. */
		if (err.code == ERR_VIEWGONE)
			session_bye(&ws->s, "[UNAVAILABLE] Mailbox changed incompatibly, please reconnect");
		return;
	}
	sync_vanished(&c);
	free(c.vanished);
	/* An EXISTS that only confirms what the expunges left says nothing. */
	if (c.have_exists && c.exists != c.before - c.nexpunged) {
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
		const struct msg_meta *m = mailbox_meta(ws->mb, seq);
		if (m != NULL)
			wsession_fetch_flags(ws, seq, m);
	}
	free(c.changed);
	/* ADDTO after the EXISTS and FETCH that caused it (RFC 5267 4.3.3). */
	search_update_refresh(ws);
}

void wsession_unselect(struct wsession *ws)
{
	wsession_idle_stop(ws);
	notify_unselected(ws);
	search_saved_reset(ws);
	search_update_free_all(ws);
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

/* What the configuration does not change. */
static const char *capability_fixed(void)
{
	return "IMAP4rev1 IMAP4rev2 LITERAL+ ID UNSELECT UIDPLUS MOVE IDLE NAMESPACE ENABLE "
	       "CHILDREN ESEARCH SEARCHRES LIST-EXTENDED LIST-STATUS SPECIAL-USE "
	       "CREATE-SPECIAL-USE STATUS=SIZE UTF8=ACCEPT BINARY CONDSTORE QRESYNC "
	       "COMPRESS=DEFLATE "
	       "OBJECTID SAVEDATE PREVIEW WITHIN "
	       "QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE "
	       "METADATA METADATA-SERVER "
	       "NOTIFY MULTIAPPEND REPLACE "
	       "SORT SORT=DISPLAY ESORT "
	       "THREAD=ORDEREDSUBJECT THREAD=REFERENCES THREAD=REFS "
	       "CATENATE "
	       "CONTEXT=SEARCH CONTEXT=SORT";
}

/* APPENDLIMIT (RFC 7889): the largest literal after login (max_literal)
 * is the largest message APPEND takes, in every mailbox. ACL and what
 * goes with it only where the store keeps ACLs. */
const char *worker_capability(struct session *s)
{
	static char cap[2048];

	(void)s;
	snprintf(cap, sizeof(cap), "%s APPENDLIMIT=%ld%s"
		 " UNAUTHENTICATE%s",
		 capability_fixed(), W->cfg.max_literal,
		 quota_set_offered() ? " QUOTASET" : "",
		 store_acl_supported() ? " "
		 "ACL RIGHTS=texk "
		 "LIST-MYRIGHTS"
		 : "");
	return cap;
}
