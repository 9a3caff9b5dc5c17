/* Authenticated-state commands on mailboxes: SELECT, EXAMINE, CREATE
 * (with USE, RFC 6154), DELETE, RENAME, (UN)SUBSCRIBE, STATUS (with SIZE
 * and DELETED). APPEND is in cmd_append.c, LIST and LSUB in cmd_list.c.
 * Names arrive and leave through mailbox_arg_reply / mailbox_name_out
 * (worker_util.c): modified UTF-7 for IMAP4rev1 clients, UTF-8 after
 * ENABLE. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "worker.h"

#define BAD(...) session_tagged(s, cmd->tag, "BAD", NULL, __VA_ARGS__)

/* What every SELECT/EXAMINE tells (RFC 9051 6.3.2, RFC 3501 6.3.1). */
static void select_untagged(struct wsession *ws, const char *name,
			    const struct mailbox_status *st)
{
	struct session *s = &ws->s;

	wsession_announce_flags(ws, 1);
	session_printf(s, "* %u EXISTS\r\n", mailbox_count(ws->mb));
	if (s->enabled & EN_IMAP4REV2)
		list_write_one(s, name);   /* RFC 9051 6.3.2: a LIST with its attributes */
	/* RECENT and the UNSEEN code are IMAP4rev1 only (RFC 9051 E.11-12). */
	if (!(s->enabled & EN_IMAP4REV2)) {
		session_printf(s, "* %u RECENT\r\n", st->recent);
		if (st->first_unseen)
			session_printf(s, "* OK [UNSEEN %u] First unseen\r\n", st->first_unseen);
	}
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", st->uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", st->uidnext);
	session_printf(s, "* OK [MAILBOXID (%s)] Ok\r\n", st->mailboxid);   /* RFC 8474 4.2 */
}

/* SELECT name [(CONDSTORE QRESYNC (...))]: RFC 4466 select-params,
 * RFC 7162. -1 after BAD. */
struct select_req {
	int condstore;
	int qresync;
	struct qresync_req q;
};

static int select_params(struct session *s, const struct imap_cmd *cmd, struct select_req *r)
{
	const struct imap_arg *p = cmd->nargs == 2 ? &cmd->args[1] : NULL;
	const char *why = NULL;

	memset(r, 0, sizeof(*r));
	if (cmd->nargs != 1 && (p == NULL || p->type != IMAP_ARG_LIST)) {
		BAD("%s expects a mailbox name and optional parameters", cmd->name);
		return -1;
	}
	for (size_t i = 0; p && i < p->count && why == NULL; i++) {
		if (imap_arg_is_atom(&p->list[i], "CONDSTORE"))
			r->condstore = 1;
		else if (imap_arg_is_atom(&p->list[i], "QRESYNC") && i + 1 < p->count &&
			 !r->qresync)
			r->qresync = qresync_param(s, &p->list[++i], &r->q, &why) == 0;
		else
			why = "Unknown parameter";
	}
	if (why) {
		BAD("%s: %s", cmd->name, why);
		return -1;
	}
	return 0;
}

void cmd_select(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	int readonly = strcmp(cmd->name, "EXAMINE") == 0;
	struct mailbox_status st;
	struct select_req req;
	struct error err;
	const char *name;

	if (cmd->nargs == 0) {
		BAD("%s expects a mailbox name", cmd->name);
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL ||
	    select_params(s, cmd, &req) < 0)
		return;
	if (ws->mb) {
		wsession_unselect(ws);
		session_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (mailbox_select(W->store, name, readonly, &ws->mb, &st, &err) < 0) {
		ws->mb = NULL;
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	ws->readonly = readonly;
	ws->mbname = xstrdup(name);
	s->state = ST_SELECTED;
	ws->kw_announced = 0;
	select_untagged(ws, name, &st);
	if (req.condstore || req.qresync)
		s->enabled |= EN_CONDSTORE;
	condstore_selected(ws, &st);
	if (req.qresync)
		qresync_selected(ws, &req.q, &st);
	notify_selected(ws);
	session_tagged(s, cmd->tag, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
		       cmd->name);
}

/* CREATE name [(USE (\Sent ...))]: RFC 4466 create-params, RFC 6154 USE. */
static int create_params(struct session *s, const struct imap_cmd *cmd, const struct imap_arg *p,
			 unsigned *use)
{
	static const struct {
		const char *name;
		unsigned bit;
	} uses[] = {
		{ "\\ALL", MA_ALL },     { "\\ARCHIVE", MA_ARCHIVE }, { "\\DRAFTS", MA_DRAFTS },
		{ "\\FLAGGED", MA_FLAGGED }, { "\\JUNK", MA_JUNK },   { "\\SENT", MA_SENT },
		{ "\\TRASH", MA_TRASH },
	};
	*use = 0;
	if (p->type != IMAP_ARG_LIST || p->count == 0) {
		BAD("CREATE parameters must be a non-empty list");
		return -1;
	}
	for (size_t i = 0; i < p->count; i++) {
		const struct imap_arg *v;
		if (!imap_arg_is_atom(&p->list[i], "USE")) {
			BAD("Unknown CREATE parameter");
			return -1;
		}
		if (i + 1 >= p->count || p->list[i + 1].type != IMAP_ARG_LIST) {
			BAD("USE expects a list of special-use attributes");
			return -1;
		}
		v = &p->list[++i];
		for (size_t k = 0; k < v->count; k++) {
			size_t u;
			if (v->list[k].type != IMAP_ARG_ATOM || v->list[k].str[0] != '\\') {
				BAD("USE expects special-use attributes such as \\Sent");
				return -1;
			}
			for (u = 0; u < sizeof(uses) / sizeof(uses[0]); u++)
				if (imap_arg_is_atom(&v->list[k], uses[u].name))
					break;
			if (u == sizeof(uses) / sizeof(uses[0])) {
				session_tagged(s, cmd->tag, "NO", "USEATTR", "Unknown special use %s",
					       v->list[k].str);
				return -1;
			}
			*use |= uses[u].bit;
		}
	}
	return 0;
}

/* RFC 8474 4.1: the new mailbox's MAILBOXID in the tagged OK. A name
 * that only declared a level of hierarchy (mbox: a directory) is no
 * mailbox and has none. */
static void create_ok(struct session *s, const struct imap_cmd *cmd, const char *name)
{
	struct mailbox_status st;
	struct error err;

	if (name[strlen(name) - 1] != '/' && store_status(W->store, name, &st, &err) == 0) {
		const char *code = arena_printf(s->arena, "MAILBOXID (%s)", st.mailboxid);
		session_tagged(s, cmd->tag, "OK", code, "CREATE completed");
	} else {
		session_tagged(s, cmd->tag, "OK", NULL, "CREATE completed");
	}
}

void cmd_create(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *name;
	unsigned use = 0;
	char *n;
	size_t l;
	int declared;

	if (cmd->nargs < 1 || cmd->nargs > 2) {
		BAD("CREATE expects a mailbox name and optional parameters");
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return;
	if (cmd->nargs == 2 && create_params(s, cmd, &cmd->args[1], &use) < 0)
		return;
	/* A trailing delimiter declares a level of hierarchy; the backend
	 * gets it (one) and decides whether that matters (mbox: a directory). */
	n = arena_strdup(s->arena, name);
	l = strlen(n);
	declared = l > 1 && n[l - 1] == '/';
	while (l > 1 && n[l - 1] == '/')
		n[--l] = '\0';
	if (strcasecmp(n, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "ALREADYEXISTS", "INBOX always exists");
		return;
	}
	if (declared)
		n = arena_printf(s->arena, "%s/", n);
	notify_own_begin(wsession_of(s));
	if (store_create(W->store, n, use, &err) < 0) {
		if (use && err.code == ERR_NOTSUPPORTED)
			session_tagged(s, cmd->tag, "NO", "USEATTR", "%s", err.msg);
		else
			session_tagged_error(s, cmd->tag, &err);
		return;
	}
	notify_own_end(wsession_of(s));
	create_ok(s, cmd, n);
}

void cmd_delete(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	struct error err;
	const char *name;
	if (cmd->nargs != 1) {
		BAD("DELETE expects a mailbox name");
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "INBOX cannot be deleted");
		return;
	}
	if (ws->mb && strcmp(ws->mbname, name) == 0) {
		wsession_unselect(ws);
		session_printf(s, "* OK [CLOSED] Mailbox deleted\r\n");
	}
	notify_own_begin(ws);
	if (store_delete(W->store, name, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	notify_own_end(ws);
	session_tagged(s, cmd->tag, "OK", NULL, "DELETE completed");
}

void cmd_rename(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *from, *to;
	if (cmd->nargs != 2) {
		BAD("RENAME expects two mailbox names");
		return;
	}
	if ((from = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL ||
	    (to = mailbox_arg_reply(s, cmd, &cmd->args[1])) == NULL)
		return;
	notify_own_begin(wsession_of(s));
	if (store_rename(W->store, from, to, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	notify_own_end(wsession_of(s));
	session_tagged(s, cmd->tag, "OK", NULL, "RENAME completed");
}

void cmd_subscribe(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *name;
	int on = strcmp(cmd->name, "SUBSCRIBE") == 0;
	if (cmd->nargs != 1) {
		BAD("%s expects a mailbox name", cmd->name);
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return;
	notify_own_begin(wsession_of(s));
	if (store_subscribe(W->store, name, on, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	notify_own_end(wsession_of(s));
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
}

/* ---- STATUS ---------------------------------------------------------------- */

static const struct {
	const char *name;
	unsigned bit;
} status_names[] = {
	{ "MESSAGES", SI_MESSAGES }, { "RECENT", SI_RECENT },   { "UIDNEXT", SI_UIDNEXT },
	{ "UIDVALIDITY", SI_UIDVALIDITY }, { "UNSEEN", SI_UNSEEN }, { "DELETED", SI_DELETED },
	{ "SIZE", SI_SIZE }, { "HIGHESTMODSEQ", SI_HIGHESTMODSEQ },
	{ "MAILBOXID", SI_MAILBOXID },
	/* QUOTA (RFC 9208) and APPENDLIMIT (RFC 7889) */
	{ "DELETED-STORAGE", SI_DELETED_STORAGE }, { "APPENDLIMIT", SI_APPENDLIMIT },
};
#define NSTATUS (sizeof(status_names) / sizeof(status_names[0]))

int status_items_parse(const struct imap_arg *list, int rev2, unsigned *items)
{
	*items = 0;
	if (list->type != IMAP_ARG_LIST || list->count == 0)
		return -1;
	for (size_t i = 0; i < list->count; i++) {
		size_t k;
		for (k = 0; k < NSTATUS; k++)
			if (imap_arg_is_atom(&list->list[i], status_names[k].name))
				break;
		/* RFC 9051 dropped RECENT from status-att (appendix E.11): a
		 * session that enabled IMAP4rev2 has no \Recent to count. */
		if (k == NSTATUS || (rev2 && status_names[k].bit == SI_RECENT))
			return -1;
		*items |= status_names[k].bit;
	}
	return 0;
}

int status_get(const char *name, unsigned items, struct status_result *r, struct error *err)
{
	struct mailbox *mb;
	uint32_t n;

	memset(r, 0, sizeof(*r));
	if (!(items & (SI_DELETED | SI_DELETED_STORAGE)))
		return store_status(W->store, name, &r->st, err);
	/* DELETED is not in struct mailbox_status: a read-only view, counted
	 * from its metadata. As costly as an EXAMINE (mbox: a scan of the
	 * file), but every number comes from the same snapshot. */
	if (mailbox_select(W->store, name, 1, &mb, &r->st, err) < 0)
		return -1;
	n = mailbox_count(mb);
	r->st.messages = n;
	r->st.unseen = 0;
	r->st.size = 0;
	for (uint32_t seq = 1; seq <= n; seq++) {
		const struct msg_meta *m = mailbox_meta(mb, seq);
		if (m == NULL)
			continue;
		if (!(m->flags & MF_SEEN))
			r->st.unseen++;
		if (m->flags & MF_DELETED) {
			r->deleted++;
			r->deleted_size += m->size;
		}
		r->st.size += m->size;
	}
	mailbox_close(mb);
	return 0;
}

void status_write(struct session *s, const char *wire, unsigned items,
		  const struct status_result *r)
{
	int first = 1;
	session_printf(s, "* STATUS ");
	mailbox_write(s, wire);
	session_write(s, " (", 2);
	for (size_t k = 0; k < NSTATUS; k++) {
		unsigned long long v;
		if (!(items & status_names[k].bit))
			continue;
		if (status_names[k].bit == SI_MAILBOXID) {   /* RFC 8474 4.3 */
			session_printf(s, "%sMAILBOXID (%s)", first ? "" : " ", r->st.mailboxid);
			first = 0;
			continue;
		}
		switch (status_names[k].bit) {
		case SI_MESSAGES: v = r->st.messages; break;
		case SI_RECENT: v = r->st.recent; break;
		case SI_UIDNEXT: v = r->st.uidnext; break;
		case SI_UIDVALIDITY: v = r->st.uidvalidity; break;
		case SI_UNSEEN: v = r->st.unseen; break;
		case SI_DELETED: v = r->deleted; break;
		case SI_HIGHESTMODSEQ: v = r->st.highestmodseq; break;
		/* in STORAGE's units of 1024 octets (RFC 9208 5.1) */
		case SI_DELETED_STORAGE: v = r->deleted_size / 1024; break;
		case SI_APPENDLIMIT: v = (unsigned long long)W->cfg.max_literal; break;
		default: v = r->st.size; break;
		}
		session_printf(s, "%s%s %llu", first ? "" : " ", status_names[k].name, v);
		first = 0;
	}
	session_write(s, ")\r\n", 3);
}

void cmd_status(struct session *s, const struct imap_cmd *cmd)
{
	struct status_result r;
	struct error err;
	const char *name, *wire;
	unsigned items;

	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].count == 0) {
		BAD("STATUS expects a mailbox name and a list of items");
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return;
	if (status_items_parse(&cmd->args[1], (s->enabled & EN_IMAP4REV2) != 0, &items) < 0) {
		BAD(s->enabled & EN_IMAP4REV2 ? "Unknown STATUS item (RECENT is IMAP4rev1 only)"
					      : "Unknown STATUS item");
		return;
	}
	if ((wire = mailbox_name_out(s, name)) == NULL) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name cannot be encoded");
		return;
	}
	if (status_get(name, items, &r, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (items & SI_HIGHESTMODSEQ)
		condstore_enable(wsession_of(s));   /* RFC 7162 3.1: an enabling command */
	status_write(s, wire, items, &r);
	session_tagged(s, cmd->tag, "OK", NULL, "STATUS completed");
}
