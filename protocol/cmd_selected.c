/* Selected-state commands: STORE, EXPUNGE, CLOSE, UNSELECT, CHECK and the
 * UID prefix, plus the worker's command table. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "metadata.h"
#include "search_update.h"
#include "worker.h"

/* What STORE answers per message: its new flags (unless .SILENT) and,
 * once CONDSTORE is on, its MODSEQ (even when .SILENT: RFC 7162 3.1.3).
 * A message that failed UNCHANGEDSINCE (failed[]) or that another session
 * expunged meanwhile gets nothing. Returns how many were expunged. */
struct store_reply {
	int silent, by_uid;
	const uint32_t *failed;
	size_t nfailed;
	const uint64_t *before;  /* .SILENT: MODSEQs before; unchanged ones are not told */
};

/* For a .SILENT STORE under CONDSTORE: each message's MODSEQ before, so
 * that only those the STORE changed are told (as Dovecot does). */
static uint64_t *modseqs_before(struct wsession *ws, const uint32_t *uids, size_t n)
{
	uint64_t *v = arena_alloc(ws->s.arena, (n ? n : 1) * sizeof(uint64_t));

	for (size_t k = 0; k < n; k++) {
		uint32_t seq = mailbox_uid_to_seq(ws->mb, uids[k]);
		const struct msg_meta *m = seq ? mailbox_meta(ws->mb, seq) : NULL;
		v[k] = m ? m->modseq : 0;
	}
	return v;
}

static int uid_in(const uint32_t *v, size_t n, uint32_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == uid)
			return 1;
	return 0;
}

static void store_answer_one(struct wsession *ws, uint32_t seq, const struct msg_meta *m,
			     const struct store_reply *r)
{
	struct session *s = &ws->s;
	int modseq = condstore_on(ws);
	struct buf b = BUF_INIT;

	if (!r->silent)
		wsession_announce_flags(ws, 0);
	buf_printf(&b, "* %u FETCH (", seq);
	if (r->by_uid || qresync_on(ws))   /* RFC 7162 3.2.4 */
		buf_printf(&b, "UID %u ", m->uid);
	if (modseq) {
		modseq_write(ws, &b, m);
		buf_append_str(&b, r->silent ? "" : " ");
	}
	if (!r->silent)
		buf_append_str(&b, "FLAGS ");
	session_write(s, b.data, b.len);
	buf_free(&b);
	if (!r->silent)
		flags_write(s, ws->mb, m);
	session_write(s, ")\r\n", 3);
}

static size_t store_answer(struct wsession *ws, const uint32_t *uids, size_t n,
			   const struct store_reply *r)
{
	size_t gone = 0;

	if (r->silent && !condstore_on(ws))
		return 0;
	for (size_t k = 0; k < n; k++) {
		uint32_t seq = mailbox_uid_to_seq(ws->mb, uids[k]);
		const struct msg_meta *m = seq ? mailbox_meta(ws->mb, seq) : NULL;
		if (m == NULL)
			gone += !r->silent;
		else if (!uid_in(r->failed, r->nfailed, uids[k]) &&
			 !(r->before && r->before[k] == m->modseq))
			store_answer_one(ws, seq, m, r);
	}
	return gone;
}

/* STORE set [(UNCHANGEDSINCE n)] item flags: where the item is, and the
 * modifier's value (0: none given; UNCHANGEDSINCE 0 is *unchanged).
 * -1 after BAD. */
static int store_modifiers(struct session *s, const struct imap_cmd *cmd, size_t *argi,
			   uint64_t *unchanged, int *conditional)
{
	const struct imap_arg *list = &cmd->args[*argi];

	*conditional = 0;
	if (list->type != IMAP_ARG_LIST)
		return 0;
	if (list->count != 2 || !imap_arg_is_atom(&list->list[0], "UNCHANGEDSINCE") ||
	    modseq_arg(&list->list[1], 1, unchanged) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "Invalid STORE modifier");
		return -1;
	}
	*conditional = 1;
	(*argi)++;
	return 0;
}

/* "+FLAGS.SILENT" -> op and silent; -1 if not a STORE item. */
static int store_item(const char *item, enum store_op *op, int *silent)
{
	*op = STORE_SET;
	if (item[0] == '+' || item[0] == '-')
		*op = *item++ == '+' ? STORE_ADD : STORE_REMOVE;
	if (strcasecmp(item, "FLAGS") == 0)
		*silent = 0;
	else if (strcasecmp(item, "FLAGS.SILENT") == 0)
		*silent = 1;
	else
		return -1;
	return 0;
}

/* Apply the STORE; a conditional one with UNCHANGEDSINCE 0 fails for every
 * message (all have a MODSEQ above 0) without asking the store. */
static int store_apply(struct wsession *ws, const uint32_t *uids, size_t n, enum store_op op,
		       uint32_t flags, const char **kw, size_t nkw, int conditional,
		       uint64_t unchanged, uint32_t *failed, size_t *nfailed, struct error *err)
{
	*nfailed = 0;
	if (conditional && unchanged == 0) {
		memcpy(failed, uids, n * sizeof(uint32_t));
		*nfailed = n;
		return 0;
	}
	if (n == 0)
		return 0;
	return mailbox_store_flags(ws->mb, uids, n, op, flags, kw, nkw, unchanged, failed,
				   nfailed, err);
}

/* The messages that failed UNCHANGEDSINCE as the client names them: UIDs,
 * or (STORE) sequence numbers, leaving out any gone meanwhile. */
static size_t modified_set(struct wsession *ws, int by_uid, uint32_t *failed, size_t n)
{
	size_t k = 0;

	if (by_uid)
		return n;
	for (size_t i = 0; i < n; i++)
		if ((failed[k] = mailbox_uid_to_seq(ws->mb, failed[i])) != 0)
			k++;
	return k;
}

/* The tagged answer: [MODIFIED set] for UNCHANGEDSINCE failures, else
 * [EXPUNGEISSUED] when some were gone. */
static void store_tagged(struct wsession *ws, const char *tag, int by_uid,
			 uint32_t *failed, size_t nfailed, size_t gone)
{
	struct session *s = &ws->s;
	const char *what = by_uid ? "UID " : "";
	size_t nmod = modified_set(ws, by_uid, failed, nfailed);

	if (nmod) {
		struct buf code = BUF_INIT;
		buf_append_str(&code, "MODIFIED ");
		seqset_write(&code, failed, nmod);
		session_tagged(s, tag, "OK", code.data, "%sSTORE: some messages changed meanwhile",
			       what);
		buf_free(&code);
	} else if (gone) {
		session_tagged(s, tag, "OK", "EXPUNGEISSUED",
			       "%sSTORE completed; some messages were expunged meanwhile", what);
	} else {
		session_tagged(s, tag, "OK", NULL, "%sSTORE completed", what);
	}
}

void store_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	const char *errmsg = NULL;
	struct store_reply reply = { .by_uid = by_uid };
	enum store_op op;
	uint32_t flags, *uids, *failed;
	uint64_t unchanged = 0;
	const char **kw;
	size_t nkw, n, nfailed = 0, itemi = argi + 1;
	int conditional;
	struct error err;
	struct imap_arg list;

	if (cmd->nargs < argi + 3 || cmd->args[argi].type != IMAP_ARG_ATOM)
		goto syntax;
	if (store_modifiers(s, cmd, &itemi, &unchanged, &conditional) < 0)
		return;
	if (cmd->nargs < itemi + 2 || cmd->args[itemi].type != IMAP_ARG_ATOM)
		goto syntax;
	if (store_item(cmd->args[itemi].str, &op, &reply.silent) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "Unknown STORE item");
		return;
	}
	/* "(\Seen \Deleted)" or, as RFC 3501 also allows, bare flags. */
	if (cmd->nargs == itemi + 2 && cmd->args[itemi + 1].type == IMAP_ARG_LIST) {
		list = cmd->args[itemi + 1];
	} else {
		memset(&list, 0, sizeof(list));
		list.type = IMAP_ARG_LIST;
		list.list = &cmd->args[itemi + 1];
		list.count = cmd->nargs - itemi - 1;
	}
	if (flags_parse(s, &list, &flags, &kw, &nkw, &errmsg) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", errmsg);
		return;
	}
	if ((conditional && condstore_require(ws, cmd) < 0) ||
	    seqset_arg(s, cmd, ws->mb, cmd->args[argi].str, by_uid, &uids, &n) < 0)
		return;
	if (ws->readonly) {
		session_tagged(s, cmd->tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return;
	}
	failed = arena_alloc(s->arena, (n ? n : 1) * sizeof(uint32_t));
	if (reply.silent && condstore_on(ws))
		reply.before = modseqs_before(ws, uids, n);
	if (store_apply(ws, uids, n, op, flags, kw, nkw, conditional, unchanged, failed,
			&nfailed, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	reply.failed = failed;
	reply.nfailed = nfailed;
	size_t gone = store_answer(ws, uids, n, &reply);
	search_update_refresh(ws);   /* this session's own change moves results too */
	store_tagged(ws, cmd->tag, by_uid, failed, nfailed, gone);
	return;
syntax:
	session_tagged(s, cmd->tag, "BAD", NULL, "STORE expects a set, an item and flags");
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
	else if (strcasecmp(sub->str, "SORT") == 0)
		sort_run(s, cmd, 1, 1);
	else if (strcasecmp(sub->str, "THREAD") == 0)
		thread_run(s, cmd, 1, 1);
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
	} else if (strcasecmp(sub->str, "REPLACE") == 0)
		cmd_replace(s, cmd);
	else
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
	{ "CANCELUPDATE", ST_SELECTED, cmd_cancelupdate, NULL },
	{ "EXPUNGE", ST_SELECTED, cmd_expunge, NULL },
	{ "FETCH", ST_SELECTED, cmd_fetch, NULL },
	{ "STORE", ST_SELECTED, cmd_store, NULL },
	{ "SEARCH", ST_SELECTED, cmd_search, NULL },
	{ "UID", ST_SELECTED, cmd_uid, uid_literal },
	{ "COPY", ST_SELECTED, cmd_copy, NULL },
	{ "MOVE", ST_SELECTED, cmd_copy, NULL },
	{ "IDLE", ST_AUTHED, cmd_idle, NULL },
	{ "NAMESPACE", ST_AUTHED, cmd_namespace, NULL },
	{ "ENABLE", ST_AUTH, cmd_enable, NULL },  /* not in selected state: RFC 9051 6.4, RFC 5161 3 */
	{ "COMPRESS", ST_AUTHED, cmd_compress, NULL },
	/* QUOTA (RFC 9208): cmd_quota.c */
	{ "GETQUOTA", ST_AUTHED, cmd_getquota, NULL },
	{ "GETQUOTAROOT", ST_AUTHED, cmd_getquotaroot, NULL },
	{ "SETQUOTA", ST_AUTHED, cmd_setquota, NULL },
	{ "GETMETADATA", ST_AUTHED, cmd_getmetadata, NULL },
	{ "SETMETADATA", ST_AUTHED, cmd_setmetadata, setmetadata_literal },
	{ "NOTIFY", ST_AUTHED, cmd_notify, NULL },
	/* REPLACE (RFC 8508) */
	{ "REPLACE", ST_SELECTED, cmd_replace, replace_literal },
	{ "SORT", ST_SELECTED, cmd_sort, NULL },
	{ "THREAD", ST_SELECTED, cmd_thread, NULL },
	/* UNAUTHENTICATE (RFC 8437): cmd_unauth.c */
	{ "UNAUTHENTICATE", ST_AUTHED, cmd_unauthenticate, NULL },
	/* ACL (RFC 4314): cmd_acl.c */
	{ "SETACL", ST_AUTHED, cmd_setacl, NULL },
	{ "DELETEACL", ST_AUTHED, cmd_deleteacl, NULL },
	{ "GETACL", ST_AUTHED, cmd_getacl, NULL },
	{ "LISTRIGHTS", ST_AUTHED, cmd_listrights, NULL },
	{ "MYRIGHTS", ST_AUTHED, cmd_myrights, NULL },
};
const size_t worker_ncommands = sizeof(worker_commands) / sizeof(worker_commands[0]);
