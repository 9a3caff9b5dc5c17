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
#include <string.h>

#include "../mail/imapdate.h"
#include "worker.h"

struct append_state {
	const char *tag;
	struct appender *ap;     /* NULL once it failed */
	int binary;              /* literal8: NUL is content */
	int utf8;                /* UTF8 (~{n}): ")" closes it */
	int nul;                 /* a NUL came in a plain literal */
	struct error err;        /* why it failed, when it did (ap NULL, !nul) */
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
		BAD("APPEND expects one message literal (MULTIAPPEND is not supported)");
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
		append_fail(ws->append);
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

static void append_end(struct session *s, const char *rest, size_t n)
{
	struct wsession *ws = wsession_of(s);
	struct append_state *st = ws->append;
	uint32_t uidvalidity = 0, uid = 0;
	struct error err;

	ws->append = NULL;
	if (st == NULL)
		return;
	if (!append_rest_ok(st, rest, n)) {
		append_fail(st);
		session_tagged(s, st->tag, "BAD", NULL, "Unexpected data after the message");
	} else if (st->nul) {
		session_tagged(s, st->tag, "NO", "UNKNOWN-CTE", "NUL in message: use literal8");
	} else if (st->ap == NULL) {
		session_tagged_error(s, st->tag, &st->err);
	} else if (store_append_finish(st->ap, &uidvalidity, &uid, &err) < 0) {
		session_tagged_error(s, st->tag, &err);
	} else {
		if (ws->mb)
			wsession_sync(ws);
		session_tagged(s, st->tag, "OK",
			       arena_printf(s->arena, "APPENDUID %u %u", uidvalidity, uid),
			       "APPEND completed");
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

/* A literal announced in an APPEND: the mailbox name is read as usual;
 * the message goes to the store. */
enum literal_action append_literal(struct session *s, const struct imap_cmd *cmd,
				   const struct imap_literal *lit)
{
	struct wsession *ws = wsession_of(s);
	struct append_state *st;
	struct append_args a;
	struct appender *ap;
	struct error err;

	if (cmd == NULL) {
		/* A second message (RFC 3502 MULTIAPPEND): not supported. */
		session_tagged(s, ws->append ? ws->append->tag : "*", "BAD", NULL,
			       "APPEND expects one message literal (MULTIAPPEND is not supported)");
		append_abort(s);
		return LIT_REFUSED;
	}
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
	if (store_append_begin(W->store, a.name, lit->size, a.flags, a.kw, a.nkw, a.date,
			       a.tz, &ap, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return LIT_REFUSED;
	}
	st = arena_alloc(s->arena, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->tag = cmd->tag;
	st->ap = ap;
	st->binary = cmd->literal->type == IMAP_ARG_LITERAL8;
	st->utf8 = a.utf8;
	ws->append = st;
	session_stream(s, &append_sink);
	return LIT_STREAM;
}
