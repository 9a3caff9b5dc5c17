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
 * came; clients that did not enable UTF-8 see them in literals.
 *
 * CATENATE (RFC 4469): a message may instead be a list of parts, TEXT
 * literals streamed like a message literal and URLs whose bytes the store
 * gives (catenate.c), all into one appender. Whatever of the command came
 * since the last literal streamed is parsed again at the next literal
 * and at the end, behind a stand-in for that literal (append_reparse), so
 * one walk over the messages (append_walk) serves every case: a plain
 * APPEND, MULTIAPPEND, CATENATE in either, and REPLACE. */
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "../mail/imapdate.h"
#include "catenate_parse.h"
#include "worker.h"

struct append_state {
	const char *tag;
	const char *name;        /* the mailbox */
	struct appender *ap;     /* the message arriving; NULL once it failed */
	int binary;              /* literal8: NUL is content */
	int utf8;                /* UTF8 (~{n}), a message or a part: ")" closes it */
	int cat;                 /* the message is a CATENATE list */
	int nul;                 /* a NUL came in a plain literal */
	struct error err;        /* why it failed, when it did (ap NULL, !nul) */
	/* MULTIAPPEND (RFC 3502): the messages before this one, complete,
	 * stored together with it at the end or not at all. */
	struct appender **done;
	size_t ndone, cap;
	uint64_t total;          /* bytes of all of them */
	uint64_t msgsize;        /* bytes of the message being built */
	uint32_t replace_uid;    /* REPLACE (RFC 8508): the message it replaces */
};

/* What an APPEND says before its message. */
struct append_args {
	uint32_t flags;
	const char **kw;
	size_t nkw;
	time_t date;
	int tz;
	const struct imap_arg *msg;   /* the message literal, or NULL */
	const struct imap_arg *cat;   /* CATENATE's list of parts, or NULL */
	int utf8;
};

/* How far a walk over a command's messages got. */
enum walk_result {
	WALK_FAILED = -1,   /* answered */
	WALK_DONE = 0,      /* every message complete (the end of the command) */
	WALK_STREAM = 1,    /* at the literal announced, the message's (or a part of it) */
};

#define BAD(...) session_tagged(s, tag, "BAD", NULL, __VA_ARGS__)

/* The message's place after flags and date (args[*i]): a literal,
 * UTF8 (literal8) or CATENATE (parts). -1 (answered) when something else
 * is there. */
static int append_message_arg(struct session *s, const char *tag, const struct imap_cmd *cmd,
			      size_t *i, struct append_args *a)
{
	const struct imap_arg *arg = *i < cmd->nargs ? &cmd->args[*i] : NULL;
	const struct imap_arg *l = *i + 1 < cmd->nargs ? &cmd->args[*i + 1] : NULL;

	if (arg && (arg->type == IMAP_ARG_LITERAL || arg->type == IMAP_ARG_LITERAL8)) {
		a->msg = arg;
		*i += 1;
		return 0;
	}
	if (arg && imap_arg_is_atom(arg, "CATENATE") && l && l->type == IMAP_ARG_LIST) {
		a->cat = l;
		*i += 2;
		return 0;
	}
	if (arg == NULL || !imap_arg_is_atom(arg, "UTF8")) {
		BAD("APPEND expects the message as a literal");
		return -1;
	}
	if (!(s->enabled & EN_UTF8)) {
		BAD("APPEND UTF8 needs ENABLE UTF8=ACCEPT first");
		return -1;
	}
	if (l == NULL || l->type != IMAP_ARG_LIST || l->count != 1 ||
	    l->list[0].type != IMAP_ARG_LITERAL8) {
		BAD("APPEND UTF8 expects (~{n} message)");
		return -1;
	}
	a->msg = &l->list[0];
	a->utf8 = 1;
	*i += 2;
	return 0;
}

/* One append-message from args[*i]: flags, date, the message. 0, or -1
 * when it was answered. */
static int append_message_args(struct session *s, const char *tag, const struct imap_cmd *cmd,
			       size_t *i, struct append_args *a)
{
	const char *errmsg = NULL;

	memset(a, 0, sizeof(*a));
	a->date = time(NULL);
	if (*i < cmd->nargs && cmd->args[*i].type == IMAP_ARG_LIST) {
		if (flags_parse(s, &cmd->args[*i], &a->flags, &a->kw, &a->nkw, &errmsg) < 0) {
			BAD("%s", errmsg);
			return -1;
		}
		(*i)++;
	}
	if (*i < cmd->nargs && cmd->args[*i].type == IMAP_ARG_QUOTED) {
		if (imapdate_parse_datetime(cmd->args[*i].str, cmd->args[*i].len, &a->date,
					    &a->tz) < 0) {
			BAD("Invalid date-time");
			return -1;
		}
		(*i)++;
	}
	return append_message_arg(s, tag, cmd, i, a);
}

/* The message that arrived joins those waiting for the end (MULTIAPPEND's
 * limit on their bytes together checked). 0, or -1 answered. */
static int append_push(struct session *s, struct append_state *st)
{
	if (st->ndone == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 4;
		st->done = xreallocarray(st->done, st->cap, sizeof(*st->done));
	}
	st->done[st->ndone++] = st->ap;
	st->ap = NULL;
	st->total += st->msgsize;
	st->msgsize = 0;
	if (st->ndone > 1 && st->total > (uint64_t)W->cfg.max_multiappend_size) {
		session_tagged(s, st->tag, "NO", "LIMIT",
			       "Too many messages or bytes in one APPEND; nothing was stored");
		return -1;
	}
	return 0;
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

/* Every message of the command (all complete), stored as one
 * (APPENDUID), or none. */
static void append_store(struct session *s, struct append_state *st)
{
	struct wsession *ws = wsession_of(s);
	size_t n = st->ndone;
	uint32_t uidvalidity = 0, *uids = arena_alloc(s->arena, n * sizeof(*uids));
	struct error err;

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

/* Before a synchronizing literal's "+": the client waits anyway, and a
 * mailbox that is not there spares it sending the message (the store's
 * append finds it out only at the end; a LITERAL+ client, which sends
 * without waiting, gets the same NO [TRYCREATE] then). 0, or -1 answered. */
static int append_check_mailbox(struct session *s, const char *tag, const char *name)
{
	struct mailbox_status status;
	struct error err;

	if (store_status(W->store, name, &status, &err) == 0)
		return 0;
	if (err.code == ERR_NONEXISTENT)
		err.code = ERR_TRYCREATE;
	session_tagged_error(s, tag, &err);
	return -1;
}

/* Begin the store's append of a message of size bytes (0: a CATENATE,
 * whose size is known only at its end), the first or a further one of a
 * MULTIAPPEND. 0, or -1 when it was answered. */
static int append_open(struct session *s, struct append_state *st, const struct append_args *a,
		       uint64_t size)
{
	struct error err;

	if (st->replace_uid && st->ndone > 0) {
		session_tagged(s, st->tag, "BAD", NULL, "REPLACE takes one message");
		return -1;
	}
	if (st->ndone > 0 && (st->ndone >= (size_t)W->cfg.max_multiappend_messages ||
			      st->total + size > (uint64_t)W->cfg.max_multiappend_size)) {
		session_tagged(s, st->tag, "NO", "LIMIT",
			       "Too many messages or bytes in one APPEND; nothing was stored");
		return -1;
	}
	if (store_append_begin(W->store, st->name, size, a->flags, a->kw, a->nkw, a->date, a->tz,
			       &st->ap, &err) < 0) {
		st->ap = NULL;
		session_tagged_error(s, st->tag, &err);
		return -1;
	}
	st->msgsize = size;
	st->utf8 = a->utf8;
	st->cat = a->cat != NULL;
	return 0;
}

/* The literal announced is the next piece of the message (lit: its size
 * and kind). CATENATE's TEXT counts against the message's limit. */
static enum walk_result append_at_literal(struct session *s, struct append_state *st,
					  const struct imap_literal *lit)
{
	if (st->cat && (lit->size > (uint64_t)W->cfg.max_literal ||
			st->msgsize > (uint64_t)W->cfg.max_literal - lit->size)) {
		session_tagged(s, st->tag, "NO", "TOOBIG", "Catenated message too large");
		return WALK_FAILED;
	}
	if (st->cat)
		st->msgsize += lit->size;
	st->binary = lit->binary;
	return WALK_STREAM;
}

/* CATENATE's parts from part from on into the message being built:
 * URLs copied now, a TEXT literal (the one announced, last) streamed. */
static enum walk_result append_parts(struct session *s, struct append_state *st,
				     const struct imap_cmd *cmd, const struct imap_arg *list,
				     size_t from, const struct imap_literal *lit)
{
	struct cat_target t = { .ap = st->ap, .size = &st->msgsize,
				.max = (uint64_t)W->cfg.max_literal };
	struct cat_part *parts;
	struct error err;
	const char *why;
	size_t n;
	int rc;

	if (catenate_parse(s->arena, list, &parts, &n, &why) < 0) {
		session_tagged(s, st->tag, "BAD", NULL, "%s", why);
		return WALK_FAILED;
	}
	for (size_t k = from; k < n; k++) {
		if (parts[k].text && (parts[k].arg != cmd->literal || lit == NULL)) {
			session_tagged(s, st->tag, "BAD", NULL, "CATENATE TEXT expects a literal");
			return WALK_FAILED;
		}
		if (parts[k].utf8 && !(s->enabled & EN_UTF8)) {
			session_tagged(s, st->tag, "BAD", NULL, "UTF8 needs ENABLE UTF8=ACCEPT first");
			return WALK_FAILED;
		}
		st->utf8 = parts[k].utf8;
		if (parts[k].text)
			return append_at_literal(s, st, lit);
		if ((rc = catenate_url(&parts[k], &t, s->arena, &err)) != CAT_OK) {
			catenate_reply(s, st->tag, rc, parts[k].arg->str, &err);
			return WALK_FAILED;
		}
	}
	return WALK_DONE;
}

/* The messages of cmd from args[i] on, each begun, built and pushed in
 * turn; cont: the first is the stand-in for the message whose literal was
 * streamed last (st->ap, still open). */
static enum walk_result append_walk(struct session *s, struct append_state *st,
				    const struct imap_cmd *cmd, size_t i, int cont,
				    const struct imap_literal *lit)
{
	struct append_args a;
	enum walk_result r;

	if (i >= cmd->nargs && !cont) {
		session_tagged(s, st->tag, "BAD", NULL, "APPEND expects a mailbox name and a message");
		return WALK_FAILED;
	}
	for (; i < cmd->nargs; cont = 0) {
		if (append_message_args(s, st->tag, cmd, &i, &a) < 0)
			return WALK_FAILED;
		if (a.msg && !cont && (a.msg != cmd->literal || lit == NULL)) {
			session_tagged(s, st->tag, "BAD", NULL, "APPEND expects the message as a literal");
			return WALK_FAILED;
		}
		if (!cont && append_open(s, st, &a, a.msg ? lit->size : 0) < 0)
			return WALK_FAILED;
		if (a.msg && !cont)
			return append_at_literal(s, st, lit);
		r = a.cat ? append_parts(s, st, cmd, a.cat, cont ? 1 : 0, lit) : WALK_DONE;
		if (r != WALK_DONE)
			return r;
		if (append_push(s, st) < 0)
			return WALK_FAILED;
	}
	return WALK_DONE;
}

/* What followed the literal streamed last, up to the next literal (more)
 * or the end of the command, parsed behind an empty stand-in for that
 * literal, so that it reads as the arguments of an APPEND. */
static int append_reparse(struct session *s, const struct append_state *st, const char *rest,
			  size_t n, int more, struct imap_cmd *cmd)
{
	struct buf raw = BUF_INIT;
	const char *errmsg = NULL;
	const char *lit = st->binary ? "~{0}\r\n" : "{0}\r\n";
	int rc;

	buf_printf(&raw, "%s APPEND INBOX %s%s%s", st->tag, st->cat ? "CATENATE (" : "",
		   st->utf8 ? "UTF8 (" : st->cat ? "TEXT " : "", lit);
	buf_append(&raw, rest, n);
	rc = (more ? imap_parse_prefix : imap_parse_command)(s->arena, raw.data, raw.len, cmd,
							     &errmsg);
	buf_free(&raw);
	if (rc < 0)
		session_tagged(s, st->tag, "BAD", NULL, "%s", errmsg ? errmsg : "Syntax error");
	return rc;
}

/* A literal that is an argument (a mailbox name, a URL), not a piece of
 * a message: read into the command. */
static int append_literal_is_arg(const struct imap_cmd *cmd, size_t name_at)
{
	const struct imap_arg *last;

	if (cmd->literal == &cmd->args[name_at])
		return 1;
	last = &cmd->args[cmd->nargs - 1];
	return last->type == IMAP_ARG_LIST && last->count >= 2 &&
	       &last->list[last->count - 1] == cmd->literal &&
	       imap_arg_is_atom(&last->list[last->count - 2], "URL");
}

static void append_end(struct session *s, const char *rest, size_t n)
{
	struct wsession *ws = wsession_of(s);
	struct append_state *st = ws->append;
	struct imap_cmd cmd;

	ws->append = NULL;
	if (st == NULL)
		return;
	if (append_failed_reply(s, st) || append_reparse(s, st, rest, n, 0, &cmd) < 0 ||
	    append_walk(s, st, &cmd, 1, 1, NULL) != WALK_DONE)
		append_fail_all(st);
	else
		append_store(s, st);
}

/* A further literal after one streamed: a piece of the same message
 * (CATENATE), or the next message of a MULTIAPPEND. The one before it is
 * complete (or failed: then the command fails here, before the next is
 * sent). */
static enum literal_action append_more(struct session *s, const struct imap_literal *lit)
{
	struct append_state *st = wsession_of(s)->append;
	struct imap_cmd cmd;
	size_t n;
	const char *rest;

	if (st == NULL || append_failed_reply(s, st))
		return LIT_REFUSED;   /* the sink's abort drops every message */
	rest = session_stream_rest(s, &n);
	if (append_reparse(s, st, rest, n, 1, &cmd) < 0)
		return LIT_REFUSED;
	if (append_literal_is_arg(&cmd, 0))
		return LIT_READ;
	return append_walk(s, st, &cmd, 1, 1, lit) == WALK_STREAM ? LIT_STREAM : LIT_REFUSED;
}

/* A literal announced in an APPEND: the mailbox name and URLs are read as
 * usual; each message goes to the store. */
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
	const char *name;
	enum walk_result r;

	if (lit && append_literal_is_arg(cmd, 0))
		return LIT_READ;
	if (cmd->nargs < 2) {
		session_tagged(s, cmd->tag, "BAD", NULL, "APPEND expects a mailbox name and a message");
		return LIT_REFUSED;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return LIT_REFUSED;
	if (lit && lit->sync && append_check_mailbox(s, cmd->tag, name) < 0)
		return LIT_REFUSED;
	st = arena_alloc(s->arena, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->tag = cmd->tag;
	st->name = arena_strdup(s->arena, name);
	st->replace_uid = replace_uid;
	r = append_walk(s, st, cmd, 1, 0, lit);
	if (r == WALK_FAILED) {
		append_fail_all(st);
		return LIT_REFUSED;
	}
	if (r == WALK_DONE) {
		append_store(s, st);   /* a command without literals: complete */
		return LIT_REFUSED;
	}
	ws->append = st;
	session_stream(s, &append_sink);
	return LIT_STREAM;
}

/* A complete APPEND reaches its handler only without a literal where a
 * message or a TEXT part belongs: CATENATE of URLs alone, or an error. */
void cmd_append(struct session *s, const struct imap_cmd *cmd)
{
	append_start(s, cmd, NULL, 0);
}
