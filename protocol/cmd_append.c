/* APPEND (RFC 9051 6.3.12; literal8, RFC 3516; UTF8, RFC 6855), with the
 * message going to the store as it arrives.
 *
 * When the message literal is announced, the command so far (mailbox,
 * flags, date) is checked and the store's append begun: a bad mailbox gets
 * its NO [TRYCREATE] before the client sends a byte of a synchronizing
 * literal, and nothing of a non-synchronizing one is kept. Each piece of
 * the literal is then written to the store as it comes, and the end of the
 * command stores the message (APPENDUID), or, after any error or a lost
 * connection, nothing. The session holds one piece of the message at a
 * time; what the store holds is its business (PostgreSQL sends chunks to
 * the database, mbox gathers the message to append it under its lock).
 *
 * 8-bit header bytes: accepted from every session. RFC 6855 section 4 asks
 * a server that advertises UTF8=ACCEPT to refuse them from a client that
 * has not enabled it, but legacy mail (raw Latin-1 headers from before RFC
 * 6532) has no other way in: mbsync, OfflineIMAP and migration tools never
 * enable it, and such mail is exactly what they copy. Dovecot accepts it
 * too; IMAP4rev2 (RFC 9051 6.3.12) allows it. The bytes are stored as they
 * came; clients that did not enable UTF-8 see them in literals. */
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "../mail/imapdate.h"
#include "worker.h"

struct append_state {
	const char *tag;
	const char *name;        /* the mailbox */
	struct appender *ap;     /* the message arriving; NULL once it failed */
	int binary;              /* literal8: NUL is content */
	int utf8;                /* UTF8 (~{n}): ")" closes it */
	int nul;                 /* a NUL came in a plain literal */
	struct error err;        /* why it failed, when it did (ap NULL, !nul) */
	/* MULTIAPPEND (RFC 3502): the messages before this one, complete,
	 * stored together with it at the end or not at all. */
	struct appender **done;
	size_t ndone, cap;
	uint64_t total;          /* bytes announced for all of them */
	uint32_t replace_uid;    /* REPLACE (RFC 8508): the message it replaces */
};

/* What an APPEND says before its message. */
struct append_args {
	const char *name;
	uint32_t flags;
	const char **kw;
	size_t nkw;
	time_t date;
	int tz;
	const struct imap_arg *msg;   /* where the message literal is, NULL: none */
	int utf8;
};

#define BAD(...) session_tagged(s, cmd->tag, "BAD", NULL, __VA_ARGS__)

/* The message's place after mailbox, flags and date: a literal, or
 * UTF8 (literal8). NULL (answered) when something else is there. */
static const struct imap_arg *append_message_arg(struct session *s, const struct imap_cmd *cmd,
						 size_t i, int *utf8)
{
	const struct imap_arg *l;

	*utf8 = 0;
	if (i + 2 == cmd->nargs && imap_arg_is_atom(&cmd->args[i], "UTF8")) {
		l = &cmd->args[i + 1];
		if (!(s->enabled & EN_UTF8)) {
			BAD("APPEND UTF8 needs ENABLE UTF8=ACCEPT first");
			return NULL;
		}
		if (l->type != IMAP_ARG_LIST || l->count != 1 || l->list[0].type != IMAP_ARG_LITERAL8) {
			BAD("APPEND UTF8 expects (~{n} message)");
			return NULL;
		}
		*utf8 = 1;
		return &l->list[0];
	}
	if (i >= cmd->nargs) {
		BAD("APPEND expects a mailbox name and a message");
		return NULL;
	}
	if (i + 1 != cmd->nargs) {
		/* A literal announced ends the prefix: only a complete
		 * command (no literal where a message belongs) gets here. */
		BAD("APPEND expects the message as a literal");
		return NULL;
	}
	if (cmd->args[i].type != IMAP_ARG_LITERAL && cmd->args[i].type != IMAP_ARG_LITERAL8) {
		BAD("APPEND expects the message as a literal");
		return NULL;
	}
	return &cmd->args[i];
}

/* Check what the command says; 0, or -1 when it was answered. */
static int append_args(struct session *s, const struct imap_cmd *cmd, struct append_args *a)
{
	const char *errmsg = NULL;
	size_t i = 1;

	memset(a, 0, sizeof(*a));
	a->date = time(NULL);
	if (cmd->nargs < 2) {
		BAD("APPEND expects a mailbox name and a message");
		return -1;
	}
	if ((a->name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return -1;
	if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_LIST) {
		if (flags_parse(s, &cmd->args[i], &a->flags, &a->kw, &a->nkw, &errmsg) < 0) {
			BAD("%s", errmsg);
			return -1;
		}
		i++;
	}
	if (i < cmd->nargs && cmd->args[i].type == IMAP_ARG_QUOTED) {
		if (imapdate_parse_datetime(cmd->args[i].str, cmd->args[i].len, &a->date, &a->tz) < 0) {
			BAD("Invalid date-time");
			return -1;
		}
		i++;
	}
	a->msg = append_message_arg(s, cmd, i, &a->utf8);
	return a->msg ? 0 : -1;
}

/* A complete APPEND command reaches its handler only when no literal came
 * where its message belongs (a literal there goes to the store). */
void cmd_append(struct session *s, const struct imap_cmd *cmd)
{
	struct append_args a;

	if (append_args(s, cmd, &a) == 0)
		BAD("APPEND expects the message as a literal");
}

/* The message that arrived joins those waiting for the end. */
static void append_push(struct append_state *st)
{
	if (st->ndone == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 4;
		st->done = xreallocarray(st->done, st->cap, sizeof(*st->done));
	}
	st->done[st->ndone++] = st->ap;
	st->ap = NULL;
}

static void append_data(struct session *s, const char *p, size_t n);
static void append_end(struct session *s, const char *rest, size_t n);
static void append_abort(struct session *s);

static const struct session_sink append_sink = {
	.data = append_data,
	.end = append_end,
	.abort = append_abort,
};

/* The appender goes, storing nothing. */
static void append_fail(struct append_state *st)
{
	if (st->ap)
		store_append_abort(st->ap);
	st->ap = NULL;
}

/* Every message of the command goes, stored nothing. */
static void append_fail_all(struct append_state *st)
{
	append_fail(st);
	for (size_t i = 0; i < st->ndone; i++)
		store_append_abort(st->done[i]);
	free(st->done);
	st->done = NULL;
	st->ndone = 0;
}

static void append_data(struct session *s, const char *p, size_t n)
{
	struct append_state *st = wsession_of(s)->append;

	if (st == NULL || st->ap == NULL)
		return;   /* failed: the rest of the literal is dropped */
	if (!st->binary && memchr(p, '\0', n)) {
		st->nul = 1;
		append_fail(st);
	} else if (store_append_write(st->ap, p, n, &st->err) < 0) {
		append_fail(st);
	}
}

static void append_abort(struct session *s)
{
	struct wsession *ws = wsession_of(s);

	if (ws->append)
		append_fail_all(ws->append);
	ws->append = NULL;
}

/* Only the ")" of UTF8 (...) may follow the message (and the blank some
 * clients leave at the end of a line). */
static int append_rest_ok(const struct append_state *st, const char *rest, size_t n)
{
	if (n > 0 && rest[n - 1] == ' ')
		n--;
	if (st->utf8)
		return n == 1 && rest[0] == ')';
	return n == 0;
}

/* The message arriving failed: its tagged answer. 0 when it did not. */
static int append_failed_reply(struct session *s, const struct append_state *st)
{
	if (st->nul)
		session_tagged(s, st->tag, "NO", "UNKNOWN-CTE", "NUL in message: use literal8");
	else if (st->ap == NULL)
		session_tagged_error(s, st->tag, &st->err);
	else
		return 0;
	return 1;
}

/* "APPENDUID v uid-set" (RFC 4315): the UIDs of a group are ascending,
 * usually one range. */
static const char *append_uid_code(struct session *s, uint32_t uidvalidity,
				   const uint32_t *uids, size_t n)
{
	struct buf b = BUF_INIT;
	const char *code;

	buf_printf(&b, "APPENDUID %u ", uidvalidity);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		buf_printf(&b, i ? ",%u" : "%u", uids[i]);
		if (j > i)
			buf_printf(&b, ":%u", uids[j]);
		i = j + 1;
	}
	code = arena_strndup(s->arena, b.data, b.len);
	buf_free(&b);
	return code;
}

/* Every message of the command, stored as one (APPENDUID), or none. */
static void append_store(struct session *s, struct append_state *st)
{
	struct wsession *ws = wsession_of(s);
	size_t n = st->ndone + 1;
	uint32_t uidvalidity = 0, *uids = arena_alloc(s->arena, n * sizeof(*uids));
	struct error err;

	append_push(st);
	notify_own_begin(ws);   /* the messages become visible only now */
	if (store_append_finish_group(st->done, n, &uidvalidity, uids, &err) < 0) {
		session_tagged_error(s, st->tag, &err);
	} else if (st->replace_uid) {
		replace_finish(s, st->tag, uidvalidity, uids[0], st->replace_uid);
	} else {
		if (ws->mb)
			wsession_sync(ws);
		notify_own_end(ws);
		session_tagged(s, st->tag, "OK", append_uid_code(s, uidvalidity, uids, n),
			       "APPEND completed");
	}
	free(st->done);
	st->done = NULL;
	st->ndone = 0;
}

static void append_end(struct session *s, const char *rest, size_t n)
{
	struct wsession *ws = wsession_of(s);
	struct append_state *st = ws->append;

	ws->append = NULL;
	if (st == NULL)
		return;
	if (!append_rest_ok(st, rest, n)) {
		append_fail_all(st);
		session_tagged(s, st->tag, "BAD", NULL, "Unexpected data after the message");
	} else if (append_failed_reply(s, st)) {
		append_fail_all(st);
	} else {
		append_store(s, st);
	}
}

/* Before a synchronizing literal's "+": the client waits anyway, and a
 * mailbox that is not there spares it sending the message (the store's
 * append finds it out only at the end; a LITERAL+ client, which sends
 * without waiting, gets the same NO [TRYCREATE] then). 0, or -1 answered. */
static int append_check_mailbox(struct session *s, const struct imap_cmd *cmd, const char *name)
{
	struct mailbox_status status;
	struct error err;

	if (store_status(W->store, name, &status, &err) == 0)
		return 0;
	if (err.code == ERR_NONEXISTENT)
		err.code = ERR_TRYCREATE;
	session_tagged_error(s, cmd->tag, &err);
	return -1;
}

/* Begin the store's append of the message announced (lit), the first
 * or a further one of a MULTIAPPEND. 0, or -1 when it was answered. */
static int append_open(struct session *s, struct append_state *st, const struct append_args *a,
		       const struct imap_literal *lit)
{
	struct error err;

	if (st->ndone > 0 && (st->ndone >= (size_t)W->cfg.max_multiappend_messages ||
			      st->total + lit->size > (uint64_t)W->cfg.max_multiappend_size)) {
		session_tagged(s, st->tag, "NO", "LIMIT",
			       "Too many messages or bytes in one APPEND; nothing was stored");
		return -1;
	}
	if (store_append_begin(W->store, st->name, lit->size, a->flags, a->kw, a->nkw, a->date,
			       a->tz, &st->ap, &err) < 0) {
		st->ap = NULL;
		session_tagged_error(s, st->tag, &err);
		return -1;
	}
	st->total += lit->size;
	st->binary = a->msg->type == IMAP_ARG_LITERAL8;
	st->utf8 = a->utf8;
	return 0;
}

/* What follows a message in a MULTIAPPEND (RFC 3502: SP append-message)
 * is parsed as the arguments of an APPEND of its own, the same grammar.
 * 0, or -1 when it was answered. */
static int append_parse_more(struct session *s, const struct append_state *st,
			     const char *rest, size_t n, struct append_args *a)
{
	struct buf raw = BUF_INIT;
	struct imap_cmd cmd;
	const char *errmsg = NULL;
	int rc;

	if (st->utf8 && n > 0 && rest[0] == ')') {
		rest++;
		n--;
	} else if (st->utf8 || n == 0 || rest[0] != ' ') {
		session_tagged(s, st->tag, "BAD", NULL, "Unexpected data after the message");
		return -1;
	}
	buf_printf(&raw, "%s APPEND INBOX", st->tag);
	buf_append(&raw, rest, n);
	rc = imap_parse_prefix(s->arena, raw.data, raw.len, &cmd, &errmsg);
	buf_free(&raw);
	if (rc < 0) {
		session_tagged(s, st->tag, "BAD", NULL, "%s", errmsg ? errmsg : "Syntax error");
		return -1;
	}
	if (append_args(s, &cmd, a) < 0)
		return -1;
	if (a->msg != cmd.literal) {
		session_tagged(s, st->tag, "BAD", NULL, "APPEND expects the message as a literal");
		return -1;
	}
	return 0;
}

/* A further message of a MULTIAPPEND: the one before it is complete (or
 * failed: then the command fails here, before the next is sent). */
static enum literal_action append_more(struct session *s, const struct imap_literal *lit)
{
	struct append_state *st = wsession_of(s)->append;
	struct append_args a;
	size_t n;
	const char *rest;

	if (st == NULL)
		return LIT_REFUSED;
	if (append_failed_reply(s, st))
		return LIT_REFUSED;   /* the sink's abort drops every message */
	if (st->replace_uid) {
		session_tagged(s, st->tag, "BAD", NULL, "REPLACE takes one message");
		return LIT_REFUSED;
	}
	rest = session_stream_rest(s, &n);
	if (append_parse_more(s, st, rest, n, &a) < 0)
		return LIT_REFUSED;
	append_push(st);
	return append_open(s, st, &a, lit) < 0 ? LIT_REFUSED : LIT_STREAM;
}

/* A literal announced in an APPEND: the mailbox name is read as usual;
 * each message goes to the store. */
enum literal_action append_literal(struct session *s, const struct imap_cmd *cmd,
				   const struct imap_literal *lit)
{
	if (cmd == NULL)
		return append_more(s, lit);
	return append_start(s, cmd, lit, 0);
}

enum literal_action append_start(struct session *s, const struct imap_cmd *cmd,
				 const struct imap_literal *lit, uint32_t replace_uid)
{
	struct wsession *ws = wsession_of(s);
	struct append_state *st;
	struct append_args a;

	if (cmd->literal == &cmd->args[0])
		return LIT_READ;
	if (append_args(s, cmd, &a) < 0)
		return LIT_REFUSED;
	if (a.msg != cmd->literal) {
		BAD("APPEND expects the message as a literal");
		return LIT_REFUSED;
	}
	if (lit->sync && append_check_mailbox(s, cmd, a.name) < 0)
		return LIT_REFUSED;
	st = arena_alloc(s->arena, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->tag = cmd->tag;
	st->name = arena_strdup(s->arena, a.name);
	st->replace_uid = replace_uid;
	if (append_open(s, st, &a, lit) < 0)
		return LIT_REFUSED;
	ws->append = st;
	session_stream(s, &append_sink);
	return LIT_STREAM;
}
