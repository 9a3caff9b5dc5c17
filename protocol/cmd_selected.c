/* Selected-state commands: STORE, EXPUNGE, CLOSE, UNSELECT, CHECK and the
 * UID prefix, plus the worker's command table. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "worker.h"

/* The new flags of each message STORE changed; a message another session
 * expunged meanwhile has none to show. Returns how many those were. */
static size_t store_answer(struct session *s, const uint32_t *uids, size_t n, int by_uid)
{
	struct wsession *ws = wsession_of(s);
	size_t gone = 0;

	for (size_t k = 0; k < n; k++) {
		uint32_t seq = mailbox_uid_to_seq(ws->mb, uids[k]);
		const struct msg_meta *m = seq ? mailbox_meta(ws->mb, seq) : NULL;
		if (m == NULL) {
			gone++;
			continue;
		}
		wsession_announce_flags(ws, 0);
		session_printf(s, "* %u FETCH (", seq);
		if (by_uid)
			session_printf(s, "UID %u ", m->uid);
		session_printf(s, "FLAGS ");
		flags_write(s, ws->mb, m);
		session_write(s, ")\r\n", 3);
	}
	return gone;
}

void store_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	const char *item, *errmsg = NULL;
	enum store_op op;
	int silent;
	uint32_t flags, *uids;
	const char **kw;
	size_t nkw, n, nfailed = 0;
	struct error err;
	struct imap_arg list;

	if (cmd->nargs < argi + 3 || cmd->args[argi].type != IMAP_ARG_ATOM ||
	    cmd->args[argi + 1].type != IMAP_ARG_ATOM) {
		session_tagged(s, cmd->tag, "BAD", NULL, "STORE expects a set, an item and flags");
		return;
	}
	item = cmd->args[argi + 1].str;
	if (item[0] == '+') {
		op = STORE_ADD;
		item++;
	} else if (item[0] == '-') {
		op = STORE_REMOVE;
		item++;
	} else {
		op = STORE_SET;
	}
	if (strcasecmp(item, "FLAGS") == 0)
		silent = 0;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		silent = 1;
	else {
		session_tagged(s, cmd->tag, "BAD", NULL, "Unknown STORE item");
		return;
	}
	/* "(\Seen \Deleted)" or, as RFC 3501 also allows, bare flags. */
	if (cmd->nargs == argi + 3 && cmd->args[argi + 2].type == IMAP_ARG_LIST) {
		list = cmd->args[argi + 2];
	} else {
		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = &cmd->args[argi + 2];
		list.count = cmd->nargs - argi - 2;
	}
	if (flags_parse(s, &list, &flags, &kw, &nkw, &errmsg) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", errmsg);
		return;
	}
	if (seqset_arg(s, cmd, ws->mb, cmd->args[argi].str, by_uid, &uids, &n) < 0)
		return;
	if (ws->readonly) {
		session_tagged(s, cmd->tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return;
	}
	uint32_t *failed = arena_alloc(s->arena, (n ? n : 1) * sizeof(uint32_t));
	if (n && mailbox_store_flags(ws->mb, uids, n, op, flags, kw, nkw, 0, failed, &nfailed,
				    &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (!silent && store_answer(s, uids, n, by_uid) > 0) {
		session_tagged(s, cmd->tag, "OK", "EXPUNGEISSUED",
			       "%sSTORE completed; some messages were expunged meanwhile",
			       by_uid ? "UID " : "");
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "%sSTORE completed", by_uid ? "UID " : "");
}

void cmd_store(struct session *s, const struct imap_cmd *cmd)
{
	store_run(s, cmd, 0, 0);
}

void expunge_run(struct session *s, const struct imap_cmd *cmd, const char *uidset)
{
	struct wsession *ws = wsession_of(s);
	struct error err;
	uint32_t *uids = NULL;
	size_t n = 0;

	if (ws->readonly) {
		session_tagged(s, cmd->tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return;
	}
	if (uidset && seqset_to_uids(s, ws->mb, uidset, 1, &uids, &n) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "Invalid sequence set");
		return;
	}
	if ((uidset == NULL || n > 0) && mailbox_expunge(ws->mb, uids, n, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	wsession_sync(ws);
	session_tagged(s, cmd->tag, "OK", NULL, "%sEXPUNGE completed", uidset ? "UID " : "");
}

void cmd_expunge(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "EXPUNGE takes no arguments");
		return;
	}
	expunge_run(s, cmd, NULL);
}

void cmd_close(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	struct error err;
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s takes no arguments", cmd->name);
		return;
	}
	/* CLOSE expunges silently; UNSELECT does not expunge at all. */
	if (strcmp(cmd->name, "CLOSE") == 0 && !ws->readonly &&
	    mailbox_expunge(ws->mb, NULL, 0, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	wsession_unselect(ws);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
}

void cmd_check(struct session *s, const struct imap_cmd *cmd)
{
	wsession_sync(wsession_of(s));
	session_tagged(s, cmd->tag, "OK", NULL, "CHECK completed");
}

static void worker_noop(struct session *s, const struct imap_cmd *cmd)
{
	wsession_sync(wsession_of(s));
	cmd_noop(s, cmd);
}

void cmd_uid(struct session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *sub = cmd->nargs ? &cmd->args[0] : NULL;
	if (sub == NULL || sub->type != IMAP_ARG_ATOM) {
		session_tagged(s, cmd->tag, "BAD", NULL, "UID expects a command");
		return;
	}
	if (strcasecmp(sub->str, "FETCH") == 0)
		fetch_run(s, cmd, 1, 1);
	else if (strcasecmp(sub->str, "SEARCH") == 0)
		search_run(s, cmd, 1, 1);
	else if (strcasecmp(sub->str, "STORE") == 0)
		store_run(s, cmd, 1, 1);
	else if (strcasecmp(sub->str, "COPY") == 0)
		copy_run(s, cmd, 1, 0, 1);
	else if (strcasecmp(sub->str, "MOVE") == 0)
		copy_run(s, cmd, 1, 1, 1);
	else if (strcasecmp(sub->str, "EXPUNGE") == 0) {
		if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_ATOM)
			session_tagged(s, cmd->tag, "BAD", NULL, "UID EXPUNGE expects a UID set");
		else
			expunge_run(s, cmd, cmd->args[1].str);
	} else
		session_tagged(s, cmd->tag, "BAD", NULL, "Unknown UID command");
}

static void cmd_starttls_after_login(struct session *s, const struct imap_cmd *cmd)
{
	session_tagged(s, cmd->tag, "BAD", NULL, "Already logged in");
}

const struct command worker_commands[] = {
	{ "CAPABILITY", ST_ANY, cmd_capability, NULL },
	{ "NOOP", ST_ANY, worker_noop, NULL },
	{ "LOGOUT", ST_ANY, cmd_logout, NULL },
	{ "ID", ST_ANY, cmd_id, NULL },
	{ "LOGIN", ST_AUTHED, cmd_starttls_after_login, NULL },
	{ "AUTHENTICATE", ST_AUTHED, cmd_starttls_after_login, NULL },
	{ "STARTTLS", ST_AUTHED, cmd_starttls_after_login, NULL },
	{ "SELECT", ST_AUTHED, cmd_select, NULL },
	{ "EXAMINE", ST_AUTHED, cmd_select, NULL },
	{ "CREATE", ST_AUTHED, cmd_create, NULL },
	{ "DELETE", ST_AUTHED, cmd_delete, NULL },
	{ "RENAME", ST_AUTHED, cmd_rename, NULL },
	{ "SUBSCRIBE", ST_AUTHED, cmd_subscribe, NULL },
	{ "UNSUBSCRIBE", ST_AUTHED, cmd_subscribe, NULL },
	{ "LIST", ST_AUTHED, cmd_list, NULL },
	{ "LSUB", ST_AUTHED, cmd_list, NULL },
	{ "STATUS", ST_AUTHED, cmd_status, NULL },
	{ "APPEND", ST_AUTHED, cmd_append, append_literal },
	{ "CHECK", ST_SELECTED, cmd_check, NULL },
	{ "CLOSE", ST_SELECTED, cmd_close, NULL },
	{ "UNSELECT", ST_SELECTED, cmd_close, NULL },
	{ "EXPUNGE", ST_SELECTED, cmd_expunge, NULL },
	{ "FETCH", ST_SELECTED, cmd_fetch, NULL },
	{ "STORE", ST_SELECTED, cmd_store, NULL },
	{ "SEARCH", ST_SELECTED, cmd_search, NULL },
	{ "UID", ST_SELECTED, cmd_uid, NULL },
	{ "COPY", ST_SELECTED, cmd_copy, NULL },
	{ "MOVE", ST_SELECTED, cmd_copy, NULL },
	{ "IDLE", ST_AUTHED, cmd_idle, NULL },
	{ "NAMESPACE", ST_AUTHED, cmd_namespace, NULL },
	{ "ENABLE", ST_AUTH, cmd_enable, NULL },  /* not in selected state: RFC 9051 6.4, RFC 5161 3 */
};
const size_t worker_ncommands = sizeof(worker_commands) / sizeof(worker_commands[0]);
