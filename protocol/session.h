/* One IMAP connection's input/output, shared by the login worker (pre-auth)
 * and the user worker (authenticated + selected). It reads bytes through
 * the command reader, parses complete commands, checks them against a
 * command table and the session state, and runs handlers one at a time so
 * responses come out in order however much the client pipelines. A handler
 * may suspend the session (e.g. while the auth helper decides); input then
 * waits in the buffer until session_resume(). */
#ifndef HAVEN_SESSION_H
#define HAVEN_SESSION_H
#include <stdarg.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../lib/arena.h"
#include "../lib/error.h"
#include "parser.h"

enum session_state {
	ST_NOTAUTH = 1 << 0,
	ST_AUTH = 1 << 1,
	ST_SELECTED = 1 << 2,
	ST_LOGOUT = 1 << 3,
};
#define ST_ANY (ST_NOTAUTH | ST_AUTH | ST_SELECTED)
#define ST_AUTHED (ST_AUTH | ST_SELECTED)

/* Capabilities a client turned on with ENABLE (or carried over from the
 * login worker). */
enum session_enabled {
	EN_IMAP4REV2 = 1 << 0,
	EN_UTF8 = 1 << 1,
	EN_CONDSTORE = 1 << 2,  /* RFC 7162: by ENABLE or any CONDSTORE enabling command */
	EN_QRESYNC = 1 << 3,    /* RFC 7162 3.2: ENABLE QRESYNC (implies EN_CONDSTORE) */
};

struct session;
typedef void (*command_fn)(struct session *s, const struct imap_cmd *cmd);

/* What becomes of a literal announced in a command (struct command's
 * literal). */
enum literal_action {
	LIT_READ,              /* into the command, for its handler */
	LIT_STREAM,            /* to the sink the decider set (session_stream) */
	LIT_REFUSED,           /* the decider answered the command; not read */
};
/* cmd: the command up to the literal (imap_parse_prefix: cmd->literal),
 * or NULL when a literal of it was streamed already (the command can no
 * longer be parsed as a whole); lit: the literal announced. */
typedef enum literal_action (*literal_fn)(struct session *s, const struct imap_cmd *cmd,
					  const struct imap_literal *lit);

struct command {
	const char *name;
	unsigned states;       /* enum session_state bits it is valid in */
	command_fn fn;
	/* Optional: decides on each literal of the command as it is
	 * announced (APPEND streams its message to the store). Without it
	 * every literal is read into the command. */
	literal_fn literal;
};

/* A command whose literal goes to its handler as it arrives. */
struct session_sink {
	void (*data)(struct session *s, const char *p, size_t n);
	/* The command is complete: rest is what followed the streamed
	 * literal, up to the end of the command. */
	void (*end)(struct session *s, const char *rest, size_t n);
	/* It ends otherwise: an error in what followed, or the session ends. */
	void (*abort)(struct session *s);
};

/* A protocol other than IMAP spoken over the same machinery (ManageSieve,
 * ms.h): how a framed command is parsed, and how a command's answer and
 * BYE look (session_tagged and session_bye go through respond; result is
 * "OK", "NO", "BAD" or "BYE", code an RFC 5530 code or NULL). Its
 * literals are all non-synchronizing (session_set_dialect). */
struct session_dialect {
	int (*parse)(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		     const char **errmsg);
	/* The command name alone, at a literal's announcement. */
	int (*parse_name)(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
			  const char **errmsg);
	void (*respond)(struct session *s, const char *result, const char *code, const char *text);
};

struct session_limits {
	size_t max_line;
	size_t max_literal;
	size_t max_command;
	unsigned max_bad;
	long timeout_sec;      /* close after this much client silence */
};

struct session {
	struct event_base *base;
	struct bufferevent *bev;
	struct imap_reader reader;
	struct arena *arena;          /* per command */
	struct session_limits lim;
	enum session_state state;
	const struct command *cmds;
	size_t ncmds;
	const struct session_dialect *dialect;  /* NULL: IMAP */
	unsigned bad_streak;
	unsigned enabled;
	int suspended;
	int closing;                  /* flush output, then free */
	int in_input;                 /* re-entrancy guard */
	char sid[32];
	char remote[64];
	int tls;
	struct event *timeout_ev;
	struct evbuffer *preinput;    /* bytes handed over with the session */
	/* The next complete line goes here instead of to the parser (SASL
	 * continuation responses). */
	void (*line_fn)(struct session *s, const char *line, size_t len);
	/* A command that yielded because output is backed up: called again
	 * once the client has read enough; returns 1 when the command is
	 * complete. Its data stays in the arena until then. */
	int (*cont)(struct session *s);
	void *cont_ctx;
	/* Extra capability words for CAPABILITY in the current state. */
	const char *(*capability)(struct session *s);
	/* Called when queued output has been fully written (if set). */
	void (*drained)(struct session *s);
	/* Called once when the session ends, before it is freed. */
	void (*on_free)(struct session *s);
	/* Optional: a command's handler returned after usec (statistics). */
	void (*on_command)(const char *name, uint64_t usec);
	void *owner;
	/* The command being read: looked up at its first literal. */
	const struct command *lit_cmd;
	/* A streamed literal's handler (session_stream), and where the
	 * literal sits in the command (what follows it starts there). */
	const struct session_sink *sink;
	size_t sink_off;
	/* The command whose literal streams, and when it began. */
	const char *stream_cmd;
	uint64_t stream_t0;
};

/* Take over bev (already set up, e.g. socket or TLS). */
void session_init(struct session *s, struct event_base *base, struct bufferevent *bev,
		  const struct session_limits *lim, const struct command *cmds, size_t ncmds);
/* Speak d instead of IMAP from now on (right after session_init). */
void session_set_dialect(struct session *s, const struct session_dialect *d);
/* Swap the transport (STARTTLS): old bev freed without closing the fd. */
void session_set_bev(struct session *s, struct bufferevent *bev);
/* Put bev in front of the transport (COMPRESS): it wraps the current one,
 * which it owns from now on. */
void session_push_bev(struct session *s, struct bufferevent *bev);
/* Take the transport away (login worker turning into a TLS proxy): the
 * session stops using it and will not free it. */
struct bufferevent *session_detach_bev(struct session *s);
/* Release everything the session holds except the memory of s itself. */
void session_release(struct session *s);
/* Queue bytes to be read before anything from the transport (what the
 * client pipelined after LOGIN, received from the login worker). libevent
 * does not allow adding to a bufferevent's own input. */
void session_inject(struct session *s, const void *p, size_t n);
/* Process whatever input is buffered. Called from the read callback and
 * after resume. */
void session_input(struct session *s);
void session_suspend(struct session *s);
void session_resume(struct session *s);
/* From a literal decider: the literal goes to sink (return LIT_STREAM). */
void session_stream(struct session *s, const struct session_sink *sink);
/* From a literal decider called without a command (a literal of it was
 * streamed already): what the command says from the end of the last
 * streamed literal up to and including this literal's announcement. */
const char *session_stream_rest(struct session *s, size_t *len);

/* 1 when a long-running command should yield (set s->cont and return). */
int session_output_full(struct session *s);
void session_write(struct session *s, const void *p, size_t n);
void session_printf(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "tag OK|NO|BAD [code] text\r\n". code may be NULL. */
void session_tagged(struct session *s, const char *tag, const char *result, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Tagged NO carrying err's RFC 5530 code and message. */
void session_tagged_error(struct session *s, const char *tag, const struct error *err);
/* A string as a quoted string when safe, else as a literal. */
void session_write_astring(struct session *s, const char *str);
/* A literal's bytes: a plain literal carries no NUL (RFC 9051 CHAR8), so a
 * NUL in message data becomes 0x80, as Dovecot sends it (BINARY, with
 * literal8, gives the exact bytes). */
void session_write_char8(struct session *s, const void *p, size_t n);
/* "{n}" and the bytes, through session_write_char8. */
void session_write_literal(struct session *s, const void *p, size_t n);
/* "~{n}" (RFC 3516 literal8) and the bytes as they are. */
void session_write_literal8(struct session *s, const void *p, size_t n);
/* Send BYE and close once the output is flushed. */
void session_bye(struct session *s, const char *text);
/* Close now (after flushing what is queued). */
void session_close(struct session *s);
size_t session_output_pending(struct session *s);

/* cmd_any.c: commands valid in every state and in both workers. */
void cmd_capability(struct session *s, const struct imap_cmd *cmd);
void cmd_noop(struct session *s, const struct imap_cmd *cmd);
void cmd_logout(struct session *s, const struct imap_cmd *cmd);
void cmd_id(struct session *s, const struct imap_cmd *cmd);

#endif
