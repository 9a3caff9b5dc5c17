#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"

/* Stop reading commands while this much output is queued: a client that
 * pipelines FETCHes but never reads cannot make us buffer without bound. */
#define OUTPUT_HIGH_WATER (512 * 1024)

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

/* Closing a socket with unread input makes the kernel send RST, and a
 * client may then lose our BYE. Half-close first and discard what is
 * already queued. */
static void drain_before_close(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	char junk[4096];
	if (fd < 0)
		return;
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 64; i++)
		if (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) <= 0)
			break;
}

static void sink_abort(struct session *s);
static void under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void session_free(struct session *s)
{
	/* A command streaming a literal ends with the session. */
	sink_abort(s);
	if (s->timeout_ev)
		event_free(s->timeout_ev);
	s->timeout_ev = NULL;
	if (s->bev) {
		struct bufferevent *under = bufferevent_get_underlying(s->bev);
		if (under)
			evbuffer_remove_cb(bufferevent_get_output(under), under_drained, s);
		if (s->closing && session_output_pending(s) == 0)
			drain_before_close(under ? under : s->bev);
		bufferevent_free(s->bev);
	}
	s->bev = NULL;
	imap_reader_free(&s->reader);
	arena_free(s->arena);
	s->arena = NULL;
	if (s->preinput)
		evbuffer_free(s->preinput);
	s->preinput = NULL;
	/* Last: the owner may free the memory s lives in. */
	if (s->on_free)
		s->on_free(s);
}

struct bufferevent *session_detach_bev(struct session *s)
{
	struct bufferevent *bev = s->bev;
	if (bev)
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	s->bev = NULL;
	return bev;
}

void session_release(struct session *s)
{
	session_free(s);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	log_info("session timed out");
	session_bye(s, "Autologout; idle for too long");
}

static void touch_timeout(struct session *s)
{
	if (s->timeout_ev && s->lim.timeout_sec > 0) {
		struct timeval tv = { s->lim.timeout_sec, 0 };
		evtimer_add(s->timeout_ev, &tv);
	}
}

static void setup_bev(struct session *s, struct bufferevent *bev)
{
	/* Responses leave in whole pieces from our buffer: Nagle would only
	 * hold the tail of one back for the client's delayed ACK (40 ms).
	 * Fails harmlessly on the socketpair a TLS session is served over. */
	int one = 1;
	setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

void session_init(struct session *s, struct event_base *base, struct bufferevent *bev,
		  const struct session_limits *lim, const struct command *cmds, size_t ncmds)
{
	s->base = base;
	s->lim = *lim;
	s->cmds = cmds;
	s->ncmds = ncmds;
	s->arena = arena_new();
	s->state = ST_NOTAUTH;
	imap_reader_init(&s->reader, lim->max_line, lim->max_literal, lim->max_command);
	s->timeout_ev = evtimer_new(base, on_timeout, s);
	touch_timeout(s);
	setup_bev(s, bev);
}

void session_set_dialect(struct session *s, const struct session_dialect *d)
{
	s->dialect = d;
	/* Its clients never wait for a continuation. */
	s->reader.no_sync = 1;
}

void session_set_bev(struct session *s, struct bufferevent *bev)
{
	if (s->bev)
		bufferevent_free(s->bev);
	setup_bev(s, bev);
}

/* The transport under a filter (COMPRESS) wrote its last byte to the
 * socket: what waits for output to drain (closing, a yielded command)
 * hears it as the filter's own write callback, deferred, since the
 * session may end there. */
static void under_drained(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct session *s = arg;

	if (info->n_deleted > 0 && evbuffer_get_length(buf) == 0 && s->bev)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
				    BEV_TRIG_DEFER_CALLBACKS);
}

void session_push_bev(struct session *s, struct bufferevent *bev)
{
	struct bufferevent *under = bufferevent_get_underlying(bev);

	if (under)
		evbuffer_add_cb(bufferevent_get_output(under), under_drained, s);
	setup_bev(s, bev);
}

int session_output_full(struct session *s)
{
	return session_output_pending(s) > OUTPUT_HIGH_WATER;
}

/* Not yet handed to the kernel: in the session's buffer and, under a
 * filter, in the transport's. */
size_t session_output_pending(struct session *s)
{
	struct bufferevent *under;
	size_t n;

	if (s->bev == NULL)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(s->bev));
	if ((under = bufferevent_get_underlying(s->bev)) != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return n;
}

void session_write(struct session *s, const void *p, size_t n)
{
	if (s->bev && n)
		bufferevent_write(s->bev, p, n);
}

void session_printf(struct session *s, const char *fmt, ...)
{
	va_list ap;
	if (s->bev == NULL)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(s->bev), fmt, ap);
	va_end(ap);
}

void session_tagged(struct session *s, const char *tag, const char *result, const char *code,
		    const char *fmt, ...)
{
	va_list ap;
	struct evbuffer *out;
	if (s->bev == NULL)
		return;
	if (s->dialect) {
		char text[1024];
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		s->dialect->respond(s, result, code, text);
		return;
	}
	out = bufferevent_get_output(s->bev);
	evbuffer_add_printf(out, "%s %s ", tag ? tag : "*", result);
	if (code)
		evbuffer_add_printf(out, "[%s] ", code);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void session_tagged_error(struct session *s, const char *tag, const struct error *err)
{
	const char *code = error_resp_code(err->code);
	if (err->code == ERR_INTERNAL) {
		/* Details stay in the log; the client gets an id to quote. */
		log_err("%s", err->msg);
		session_tagged(s, tag, "NO", "SERVERBUG", "Internal error, see server log (%s)",
			       s->sid);
		return;
	}
	session_tagged(s, tag, "NO", code, "%s", err->msg[0] ? err->msg : "Failed");
}

void session_write_char8(struct session *s, const void *p, size_t n)
{
	const char *c = p, *end = c + n, *nul;

	while ((nul = memchr(c, '\0', (size_t)(end - c))) != NULL) {
		session_write(s, c, (size_t)(nul - c));
		session_write(s, "\x80", 1);
		c = nul + 1;
	}
	session_write(s, c, (size_t)(end - c));
}

void session_write_literal(struct session *s, const void *p, size_t n)
{
	session_printf(s, "{%zu}\r\n", n);
	session_write_char8(s, p, n);
}

void session_write_literal8(struct session *s, const void *p, size_t n)
{
	session_printf(s, "~{%zu}\r\n", n);
	session_write(s, p, n);
}

void session_write_astring(struct session *s, const char *str)
{
	size_t n = strlen(str);
	int quotable = n < 1024;
	for (size_t i = 0; quotable && i < n; i++) {
		unsigned char c = (unsigned char)str[i];
		if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
			quotable = 0;
	}
	if (!quotable) {
		session_write_literal(s, str, n);
		return;
	}
	session_write(s, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (str[i] == '"' || str[i] == '\\')
			session_write(s, "\\", 1);
		session_write(s, &str[i], 1);
	}
	session_write(s, "\"", 1);
}

static void finish_close(struct session *s)
{
	session_free(s);
}

void session_close(struct session *s)
{
	s->closing = 1;
	s->state = ST_LOGOUT;
	if (s->bev == NULL || session_output_pending(s) == 0) {
		if (!s->in_input)
			finish_close(s);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
}

void session_bye(struct session *s, const char *text)
{
	if (s->closing)
		return;
	if (s->dialect)
		s->dialect->respond(s, "BYE", NULL, text);
	else
		session_printf(s, "* BYE %s\r\n", text);
	session_close(s);
}

void session_inject(struct session *s, const void *p, size_t n)
{
	if (s->preinput == NULL)
		s->preinput = evbuffer_new();
	evbuffer_add(s->preinput, p, n);
}

void session_suspend(struct session *s)
{
	s->suspended = 1;
}

void session_resume(struct session *s)
{
	s->suspended = 0;
	if (!s->closing)
		session_input(s);
}

static const struct command *find_command(struct session *s, const char *name)
{
	for (size_t i = 0; i < s->ncmds; i++)
		if (strcmp(s->cmds[i].name, name) == 0)
			return &s->cmds[i];
	return NULL;
}

static void bad_command(struct session *s, const char *tag, const char *code, const char *msg)
{
	session_tagged(s, tag, "BAD", code, "%s", msg);
	if (++s->bad_streak >= s->lim.max_bad) {
		log_info("too many bad commands; disconnecting");
		session_bye(s, "Too many invalid commands");
	}
}

/* The command cmd names, if it exists and may run now; NULL when not
 * (answered with BAD). */
static const struct command *check_command(struct session *s, const struct imap_cmd *cmd)
{
	const struct command *c = find_command(s, cmd->name);

	if (c == NULL) {
		bad_command(s, cmd->tag, NULL, "Unknown command");
		return NULL;
	}
	if (!(c->states & s->state)) {
		bad_command(s, cmd->tag, NULL,
			    s->state == ST_NOTAUTH ? "Log in first" : "Command not valid in this state");
		return NULL;
	}
	s->bad_streak = 0;
	return c;
}

static uint64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run_command(struct session *s, const char *raw, size_t len)
{
	struct imap_cmd cmd;
	const char *errmsg = NULL;
	const struct command *c;

	memset(&cmd, 0, sizeof(cmd));
	if ((s->dialect ? s->dialect->parse : imap_parse_command)(s->arena, raw, len, &cmd,
								  &errmsg) < 0) {
		bad_command(s, cmd.tag, NULL, errmsg ? errmsg : "Syntax error");
		return;
	}
	if ((c = check_command(s, &cmd)) == NULL)
		return;
	if (s->on_command == NULL) {
		c->fn(s, &cmd);
		return;
	}
	/* c->fn may end the session; its on_command is read before. */
	void (*counted)(const char *, uint64_t) = s->on_command;
	uint64_t t0 = monotonic_us();
	c->fn(s, &cmd);
	counted(c->name, monotonic_us() - t0);
}

/* ---- literals --------------------------------------------------------------
 * At each literal announcement the command so far must be one that may run
 * (else BAD, and the literal is not read); a command with a literal
 * decider (APPEND) then says what becomes of it. */

void session_stream(struct session *s, const struct session_sink *sink)
{
	s->sink = sink;
}

const char *session_stream_rest(struct session *s, size_t *len)
{
	size_t n;
	const char *raw = imap_reader_command(&s->reader, &n);

	if (s->sink == NULL || n < s->sink_off) {
		*len = 0;
		return "";
	}
	*len = n - s->sink_off;
	return raw + s->sink_off;
}

static void sink_data(void *ctx, const char *p, size_t n)
{
	struct session *s = ctx;
	if (s->sink)
		s->sink->data(s, p, n);
}

static void sink_abort(struct session *s)
{
	const struct session_sink *k = s->sink;
	s->sink = NULL;
	if (k)
		k->abort(s);
}

/* The command being read ended other than complete. */
static void command_dropped(struct session *s)
{
	s->lit_cmd = NULL;
	sink_abort(s);
}

/* What decides on the literals of the command being read (looked up at
 * its first); NULL when it may not run (answered). */
static const struct command *literal_command(struct session *s, const char *raw, size_t len)
{
	struct imap_cmd cmd;
	const char *errmsg;

	if (s->lit_cmd == NULL) {
		if ((s->dialect ? s->dialect->parse_name : imap_parse_name)(s->arena, raw, len,
									    &cmd, &errmsg) < 0)
			bad_command(s, cmd.tag, NULL, errmsg);
		else
			s->lit_cmd = check_command(s, &cmd);
	}
	return s->lit_cmd;
}

static enum literal_action literal_decide(struct session *s, const char *raw, size_t len,
					  const struct imap_literal *lit)
{
	const struct command *c = literal_command(s, raw, len);
	struct imap_cmd cmd;
	const char *errmsg;

	if (c == NULL)
		return LIT_REFUSED;
	if (c->literal == NULL)
		return LIT_READ;
	if (s->sink)
		return c->literal(s, NULL, lit);
	if (imap_parse_prefix(s->arena, raw, len, &cmd, &errmsg) < 0) {
		bad_command(s, cmd.tag, NULL, errmsg);
		return LIT_REFUSED;
	}
	enum literal_action act = c->literal(s, &cmd, lit);
	if (act == LIT_STREAM) {
		/* Timed from here to the end of its stream (statistics). */
		s->stream_cmd = c->name;
		s->stream_t0 = monotonic_us();
	}
	return act;
}

static void session_literal(struct session *s)
{
	struct imap_literal lit;
	enum literal_action act = LIT_READ;
	size_t len;
	const char *raw = imap_reader_command(&s->reader, &len);

	imap_reader_literal(&s->reader, &lit);
	if (s->line_fn == NULL)
		act = literal_decide(s, raw, len, &lit);
	if (act == LIT_REFUSED) {
		command_dropped(s);
		imap_reader_refuse(&s->reader);
		return;
	}
	if (act == LIT_STREAM && s->sink) {
		s->sink_off = len;
		imap_reader_stream(&s->reader, sink_data, s);
	} else {
		imap_reader_accept(&s->reader);
	}
	if (lit.sync)
		session_write(s, "+ OK\r\n", 6);
}

/* A complete command: to its handler, or to the end of its stream. */
static void session_command(struct session *s, const char *raw, size_t len)
{
	const struct session_sink *k = s->sink;

	s->lit_cmd = NULL;
	s->sink = NULL;
	if (s->line_fn) {
		void (*fn)(struct session *, const char *, size_t) = s->line_fn;
		s->line_fn = NULL;
		fn(s, raw, len);
	} else if (k) {
		void (*counted)(const char *, uint64_t) = s->on_command;
		const char *name = s->stream_cmd;
		s->stream_cmd = NULL;
		k->end(s, raw + s->sink_off, len - s->sink_off);
		if (counted && name)
			counted(name, monotonic_us() - s->stream_t0);
	} else {
		run_command(s, raw, len);
	}
}

/* The reader gave up on the command being read (it skips the rest). */
static void session_read_error(struct session *s, const char *code, const char *msg)
{
	s->line_fn = NULL;
	command_dropped(s);
	bad_command(s, imap_reader_tag(&s->reader), code, msg);
}

/* A literal over the limit: before login a BAD like any other abuse;
 * after it, most often an APPEND of a message over APPENDLIMIT, which
 * RFC 7889 answers with NO [TOOBIG] (a refusal, not a broken command). */
static void literal_too_big(struct session *s)
{
	if (s->state == ST_NOTAUTH) {
		session_read_error(s, "TOOBIG", "Literal too large");
		return;
	}
	s->line_fn = NULL;
	command_dropped(s);
	session_tagged(s, imap_reader_tag(&s->reader), "NO", "TOOBIG",
		       "Literal too large (at most %zu bytes)", s->lim.max_literal);
}

/* Read and run what the client sent. 1 when the session is to end now:
 * the caller then frees it (finish_close), touching it no more. */
static int session_input_run(struct session *s)
{
	struct evbuffer *in;

	if (s->in_input || s->bev == NULL)
		return 0;
	s->in_input = 1;
	while (!s->suspended && !s->closing) {
		struct evbuffer_iovec v;
		size_t used = 0, len;
		const char *raw;
		enum imap_read_status st;

		if (session_output_pending(s) > OUTPUT_HIGH_WATER)
			break;  /* on_write resumes us */
		if (s->cont) {
			/* A yielded command goes first; nothing else runs
			 * until it completes, so responses stay in order. */
			if (!s->cont(s))
				continue;  /* yielded again: loop re-checks output */
			s->cont = NULL;
			s->cont_ctx = NULL;
			arena_reset(s->arena);
			continue;
		}
		in = s->preinput && evbuffer_get_length(s->preinput) ? s->preinput
								      : bufferevent_get_input(s->bev);
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		/* An empty SASL answer is a blank line. */
		s->reader.keep_blank = s->line_fn != NULL;
		st = imap_reader_feed(&s->reader, v.iov_base, v.iov_len, &used);
		evbuffer_drain(in, used);
		switch (st) {
		case IMAP_READ_MORE:
			break;
		case IMAP_READ_LITERAL:
			session_literal(s);
			break;
		case IMAP_READ_COMMAND:
			raw = imap_reader_command(&s->reader, &len);
			session_command(s, raw, len);
			imap_reader_next(&s->reader);
			if (s->cont == NULL)
				arena_reset(s->arena);
			break;
		case IMAP_READ_LINE_TOO_LONG:
			session_read_error(s, "TOOBIG", "Command line too long");
			break;
		case IMAP_READ_LITERAL_TOO_BIG:
			literal_too_big(s);
			break;
		case IMAP_READ_BAD_LITERAL:
			session_read_error(s, NULL, "Invalid literal");
			break;
		}
	}
	s->in_input = 0;
	return s->closing && session_output_pending(s) == 0;
}

void session_input(struct session *s)
{
	if (session_input_run(s))
		finish_close(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	touch_timeout(s);
	if (session_input_run(s)) {
		finish_close(s);
		return;
	}
	/* Part of a command is here and we have nothing to answer yet: ACK
	 * now. A client that writes a literal and its CRLF separately (Python's
	 * imaplib does) otherwise waits, under Nagle, for our delayed ACK. The
	 * kernel leaves quick-ack mode by itself, so this is per read. */
	if (imap_reader_pending(&s->reader) > 0) {
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	if (s->closing) {
		if (session_output_pending(s) == 0)
			finish_close(s);
		return;
	}
	if (s->drained && session_output_pending(s) == 0) {
		s->drained(s);
		return;
	}
	/* Output drained below the mark: continue with queued commands. */
	if (!s->suspended && (s->cont || evbuffer_get_length(bufferevent_get_input(bev)) > 0 ||
			      (s->preinput && evbuffer_get_length(s->preinput) > 0)))
		session_input(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		log_debug("connection %s", (what & BEV_EVENT_EOF) ? "closed by client" : "error");
		/* Nothing more can be written: drop queued output. */
		evbuffer_drain(bufferevent_get_output(bev), (size_t)-1);
		s->closing = 1;
		if (!s->in_input)
			finish_close(s);
	}
}
