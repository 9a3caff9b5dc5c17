/* Authenticated-state commands on mailboxes: SELECT, EXAMINE, CREATE,
 * DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, APPEND. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "../mail/imapdate.h"
#include "worker.h"

#define BAD(...) session_tagged(s, cmd->tag, "BAD", NULL, __VA_ARGS__)

void cmd_select(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	int readonly = strcmp(cmd->name, "EXAMINE") == 0;
	struct mailbox_status st;
	struct error err;
	const char *name;
	const char *const *kw;
	size_t nkw;

	if (cmd->nargs != 1 || (name = mailbox_arg(s, &cmd->args[0])) == NULL) {
		BAD("%s expects a mailbox name", cmd->name);
		return;
	}
	if (ws->mb) {
		wsession_unselect(ws);
		session_printf(s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (W->be->select(W->store, name, readonly, &ws->mb, &st, &err) < 0) {
		ws->mb = NULL;
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	ws->readonly = readonly;
	ws->mbname = xstrdup(name);
	s->state = ST_SELECTED;
	nkw = W->be->keywords(ws->mb, &kw);
	session_printf(s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (size_t i = 0; i < nkw; i++)
		session_printf(s, " %s", kw[i]);
	session_printf(s, ")\r\n");
	if (readonly) {
		session_printf(s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	} else {
		session_printf(s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		for (size_t i = 0; i < nkw; i++)
			session_printf(s, " %s", kw[i]);
		session_printf(s, " \\*)] Flags permitted\r\n");
	}
	session_printf(s, "* %u EXISTS\r\n", W->be->count(ws->mb));
	session_printf(s, "* %u RECENT\r\n", st.recent);
	if (st.first_unseen)
		session_printf(s, "* OK [UNSEEN %u] First unseen\r\n", st.first_unseen);
	session_printf(s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", st.uidvalidity);
	session_printf(s, "* OK [UIDNEXT %u] Predicted next UID\r\n", st.uidnext);
	session_tagged(s, cmd->tag, "OK", readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
		       cmd->name);
}

void cmd_create(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *name;
	if (cmd->nargs != 1 || (name = mailbox_arg(s, &cmd->args[0])) == NULL) {
		BAD("CREATE expects a mailbox name");
		return;
	}
	/* A trailing delimiter only says "this will have children". */
	char *n = arena_strdup(s->arena, name);
	size_t l = strlen(n);
	while (l > 1 && n[l - 1] == '/')
		n[--l] = '\0';
	if (strcmp(n, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "ALREADYEXISTS", "INBOX always exists");
		return;
	}
	if (W->be->create(W->store, n, 0, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "CREATE completed");
}

void cmd_delete(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	struct error err;
	const char *name;
	if (cmd->nargs != 1 || (name = mailbox_arg(s, &cmd->args[0])) == NULL) {
		BAD("DELETE expects a mailbox name");
		return;
	}
	if (strcmp(name, "INBOX") == 0) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "INBOX cannot be deleted");
		return;
	}
	if (ws->mb && strcmp(ws->mbname, name) == 0) {
		wsession_unselect(ws);
		session_printf(s, "* OK [CLOSED] Mailbox deleted\r\n");
	}
	if (W->be->delete(W->store, name, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "DELETE completed");
}

void cmd_rename(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *from, *to;
	if (cmd->nargs != 2 || (from = mailbox_arg(s, &cmd->args[0])) == NULL ||
	    (to = mailbox_arg(s, &cmd->args[1])) == NULL) {
		BAD("RENAME expects two mailbox names");
		return;
	}
	if (W->be->rename(W->store, from, to, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "RENAME completed");
}

void cmd_subscribe(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *name;
	int on = strcmp(cmd->name, "SUBSCRIBE") == 0;
	if (cmd->nargs != 1 || (name = mailbox_arg(s, &cmd->args[0])) == NULL) {
		BAD("%s expects a mailbox name", cmd->name);
		return;
	}
	if (W->be->subscribe(W->store, name, on, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
}

struct list_ctx {
	struct session *s;
	const char *pattern;
	int lsub;
	int saw_inbox;
};

static void write_attrs(struct session *s, unsigned a, int lsub)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ MA_NOSELECT, "\\Noselect" },   { MA_NOINFERIORS, "\\NoInferiors" },
		{ MA_HASCHILDREN, "\\HasChildren" }, { MA_HASNOCHILDREN, "\\HasNoChildren" },
		{ MA_MARKED, "\\Marked" },       { MA_UNMARKED, "\\Unmarked" },
		{ MA_DRAFTS, "\\Drafts" },       { MA_SENT, "\\Sent" },
		{ MA_TRASH, "\\Trash" },         { MA_JUNK, "\\Junk" },
		{ MA_ARCHIVE, "\\Archive" },     { MA_ALL, "\\All" },
		{ MA_FLAGGED, "\\Flagged" },
	};
	int first = 1;
	session_write(s, "(", 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* LSUB reports only \Noselect-style attributes. */
		if (lsub && names[i].bit != MA_NOSELECT)
			continue;
		if (a & names[i].bit) {
			session_printf(s, "%s%s", first ? "" : " ", names[i].name);
			first = 0;
		}
	}
	session_write(s, ")", 1);
}

static void list_cb(void *arg, const char *name, unsigned attrs)
{
	struct list_ctx *c = arg;
	if (c->lsub && !(attrs & MA_SUBSCRIBED))
		return;
	/* Subscribed names that no longer exist are for LSUB only. */
	if (!c->lsub && (attrs & MA_NONEXISTENT))
		return;
	if (!list_match(c->pattern, name))
		return;
	if (strcmp(name, "INBOX") == 0)
		c->saw_inbox = 1;
	session_printf(c->s, "* %s ", c->lsub ? "LSUB" : "LIST");
	write_attrs(c->s, attrs, c->lsub);
	session_write(c->s, " \"/\" ", 5);
	session_write_astring(c->s, name);
	session_write(c->s, "\r\n", 2);
}

void cmd_list(struct session *s, const struct imap_cmd *cmd)
{
	struct list_ctx c;
	struct error err;
	const char *ref, *pat;

	/* list-mailbox: an atom that may hold the wildcards, or a string. */
	if (cmd->nargs != 2 || cmd->args[0].type == IMAP_ARG_LIST ||
	    cmd->args[1].type == IMAP_ARG_LIST || cmd->args[1].type == IMAP_ARG_LITERAL8 ||
	    memchr(cmd->args[1].str, '\0', cmd->args[1].len) ||
	    memchr(cmd->args[0].str, '\0', cmd->args[0].len)) {
		BAD("%s expects a reference and a pattern", cmd->name);
		return;
	}
	ref = cmd->args[0].str;
	pat = cmd->args[1].str;
	if (pat[0] == '\0') {
		if (strcmp(cmd->name, "LIST") == 0)
			session_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.lsub = strcmp(cmd->name, "LSUB") == 0;
	/* A pattern starting with the delimiter ignores the reference. */
	c.pattern = pat[0] == '/' || ref[0] == '\0' ? pat : arena_printf(s->arena, "%s%s", ref, pat);
	if (W->be->list(W->store, list_cb, &c, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
}

void cmd_status(struct session *s, const struct imap_cmd *cmd)
{
	struct mailbox_status st;
	struct error err;
	const char *name;
	const struct imap_arg *items;

	if (cmd->nargs != 2 || (name = mailbox_arg(s, &cmd->args[0])) == NULL ||
	    cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].count == 0) {
		BAD("STATUS expects a mailbox name and a list of items");
		return;
	}
	items = &cmd->args[1];
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];
		if (!(imap_arg_is_atom(a, "MESSAGES") || imap_arg_is_atom(a, "RECENT") ||
		      imap_arg_is_atom(a, "UIDNEXT") || imap_arg_is_atom(a, "UIDVALIDITY") ||
		      imap_arg_is_atom(a, "UNSEEN") || imap_arg_is_atom(a, "SIZE"))) {
			BAD("Unknown STATUS item");
			return;
		}
	}
	if (W->be->status(W->store, name, &st, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_printf(s, "* STATUS ");
	session_write_astring(s, name);
	session_write(s, " (", 2);
	for (size_t i = 0; i < items->count; i++) {
		const struct imap_arg *a = &items->list[i];
		const char *sep = i ? " " : "";
		if (imap_arg_is_atom(a, "MESSAGES"))
			session_printf(s, "%sMESSAGES %u", sep, st.messages);
		else if (imap_arg_is_atom(a, "RECENT"))
			session_printf(s, "%sRECENT %u", sep, st.recent);
		else if (imap_arg_is_atom(a, "UIDNEXT"))
			session_printf(s, "%sUIDNEXT %u", sep, st.uidnext);
		else if (imap_arg_is_atom(a, "UIDVALIDITY"))
			session_printf(s, "%sUIDVALIDITY %u", sep, st.uidvalidity);
		else if (imap_arg_is_atom(a, "UNSEEN"))
			session_printf(s, "%sUNSEEN %u", sep, st.unseen);
		else if (imap_arg_is_atom(a, "SIZE"))
			session_printf(s, "%sSIZE %llu", sep, (unsigned long long)st.size);
	}
	session_write(s, ")\r\n", 3);
	session_tagged(s, cmd->tag, "OK", NULL, "STATUS completed");
}

void cmd_append(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	const char *name, *errmsg = NULL;
	const char **kw = NULL;
	size_t nkw = 0, i = 1;
	uint32_t flags = 0, uidvalidity = 0, uid = 0;
	time_t date = time(NULL);
	int tz = 0;
	struct error err;
	const struct imap_arg *msg;

	if (cmd->nargs < 2 || (name = mailbox_arg(s, &cmd->args[0])) == NULL) {
		BAD("APPEND expects a mailbox name and a message");
		return;
	}
	if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_LIST) {
		if (flags_parse(s, &cmd->args[i], &flags, &kw, &nkw, &errmsg) < 0) {
			BAD("%s", errmsg);
			return;
		}
		i++;
	}
	if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_QUOTED) {
		if (imapdate_parse_datetime(cmd->args[i].str, cmd->args[i].len, &date, &tz) < 0) {
			BAD("Invalid date-time");
			return;
		}
		i++;
	}
	if (i + 1 != cmd->nargs) {
		BAD("APPEND expects one message literal (MULTIAPPEND is not supported)");
		return;
	}
	msg = &cmd->args[i];
	if (msg->type != IMAP_ARG_LITERAL && msg->type != IMAP_ARG_LITERAL8) {
		BAD("APPEND expects the message as a literal");
		return;
	}
	if (msg->type == IMAP_ARG_LITERAL && memchr(msg->str, '\0', msg->len)) {
		session_tagged(s, cmd->tag, "NO", "UNKNOWN-CTE", "NUL in message: use literal8");
		return;
	}
	if (W->be->append(W->store, name, msg->str, msg->len, flags, kw, nkw, date, tz,
			  &uidvalidity, &uid, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (ws->mb)
		wsession_sync(ws);
	session_tagged(s, cmd->tag, "OK", arena_printf(s->arena, "APPENDUID %u %u", uidvalidity, uid),
		       "APPEND completed");
}
