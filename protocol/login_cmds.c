/* Not-authenticated state: STARTTLS, LOGIN, AUTHENTICATE. Credentials go
 * to the master (which asks the auth helper); the result comes back as a
 * message, so the session is suspended meanwhile. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "../lib/base64.h"
#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "login.h"

#define SASL_MAX 8192

static int plaintext_allowed(void)
{
	switch (config_plaintext_auth(&L->cfg)) {
	case PLAINTEXT_YES: return 1;
	case PLAINTEXT_NO: return L->tls;
	case PLAINTEXT_LOOPBACK: return L->tls || L->loopback;
	}
	return 0;
}

const char *login_capability(struct session *s)
{
	static char cap[256];
	snprintf(cap, sizeof(cap), "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID ENABLE IDLE%s%s",
		 L->ctx && !L->tls ? " STARTTLS" : "",
		 plaintext_allowed() ? " AUTH=PLAIN" : " LOGINDISABLED");
	return cap;
}

static void send_pending(struct session *s)
{
	s->drained = NULL;
	if (L->pending == NULL)
		return;
	if (ipc_send(CHILD_FD_MASTER, L->pending, -1) < 0) {
		log_err("sending auth request: lost the master");
		session_bye(s, "[UNAVAILABLE] Server shutting down");
	}
	ipc_out_free(L->pending);
	free(L->pending);
	L->pending = NULL;
}

/* Hand credentials to the master together with the session state the user
 * worker will need: the tag to answer and whatever the client pipelined. */
static void start_auth(struct session *s, const char *tag, const char *mech,
		       const char *authzid, const char *user, const char *pass)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t left = evbuffer_get_length(in);
	struct ipc_out *o;

	if (left > IPC_MAX_PAYLOAD / 2) {
		session_tagged(s, tag, "BAD", "LIMIT", "Too much pipelined input after login");
		return;
	}
	if (tag != L->tag)  /* a SASL continuation already answers with L->tag */
		snprintf(L->tag, sizeof(L->tag), "%s", tag);
	o = xcalloc(1, sizeof(*o));
	ipc_out_init(o, MSG_LOGIN_AUTH, 0);
	ipc_put_str(o, mech);
	ipc_put_str(o, authzid);
	ipc_put_str(o, user);
	ipc_put_str(o, pass);
	ipc_put_str(o, tag);
	ipc_put_u32(o, (uint32_t)L->tls);
	ipc_put_str(o, "");
	unsigned char *p = evbuffer_pullup(in, -1);
	ipc_put_bytes(o, p, left);
	/* The bytes stay buffered: after a failure they are the next
	 * commands; after success the user worker got a copy and a TLS
	 * proxy drops them (L->handed_bytes) before forwarding. */
	L->handed_bytes = left;
	bufferevent_disable(s->bev, EV_READ);
	L->auth_pending = 1;
	L->pending = o;
	session_suspend(s);
	/* Our earlier responses must reach the client before the worker's. */
	if (session_output_pending(s) == 0)
		send_pending(s);
	else
		s->drained = send_pending;
}

void login_auth_failed(enum login_fail kind, const char *reason)
{
	struct session *s = &L->s;
	L->auth_pending = 0;
	L->failures++;
	/* A block and a server fault are [UNAVAILABLE] with the helper's
	 * text: a client keeps the password and tries later, and the text
	 * tells a person which it was. Only a wrong password says so. */
	if (kind == LOGIN_FAIL_AUTH)
		session_tagged(s, L->tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
	else
		session_tagged(s, L->tag, "NO", "UNAVAILABLE", "%s", reason);
	if (L->failures >= (unsigned)L->cfg.auth_max_attempts) {
		session_bye(s, "Too many failed logins");
		return;
	}
	bufferevent_enable(s->bev, EV_READ);
	session_resume(s);
}

static void cmd_login(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    !imap_arg_is_astring(&cmd->args[1])) {
		session_tagged(s, cmd->tag, "BAD", NULL, "LOGIN expects user name and password");
		return;
	}
	if (!plaintext_allowed()) {
		session_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
			       "Plaintext authentication disallowed without TLS");
		return;
	}
	if (memchr(cmd->args[0].str, '\0', cmd->args[0].len) ||
	    memchr(cmd->args[1].str, '\0', cmd->args[1].len)) {
		session_tagged(s, cmd->tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
		return;
	}
	start_auth(s, cmd->tag, "LOGIN", "", cmd->args[0].str, cmd->args[1].str);
}

/* RFC 4616: [authzid] NUL authcid NUL passwd */
static void sasl_plain(struct session *s, const char *tag, const char *b64, size_t len)
{
	struct buf raw = BUF_INIT;
	const char *f[3];
	size_t nf = 0, start = 0;

	if (len == 1 && b64[0] == '=')
		len = 0;  /* empty initial response */
	if (len > SASL_MAX || base64_decode(b64, len, &raw) < 0) {
		session_tagged(s, tag, "BAD", NULL, "Invalid base64 in SASL response");
		buf_free(&raw);
		return;
	}
	for (size_t i = 0; i <= raw.len && nf < 4; i++) {
		if (i == raw.len || raw.data[i] == '\0') {
			if (nf < 3)
				f[nf] = raw.data ? raw.data + start : "";
			nf++;
			start = i + 1;
		}
	}
	if (nf != 3 || f[1][0] == '\0') {
		session_tagged(s, tag, "BAD", NULL, "Malformed PLAIN response");
		buf_free(&raw);
		return;
	}
	start_auth(s, tag, "PLAIN", f[0], f[1], f[2]);
	buf_free(&raw);
}

static void sasl_continue(struct session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		session_tagged(s, L->tag, "BAD", NULL, "Authentication cancelled");
		return;
	}
	sasl_plain(s, L->tag, line, len);
}

static void cmd_authenticate(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "AUTHENTICATE expects a mechanism");
		return;
	}
	if (strcasecmp(cmd->args[0].str, "PLAIN") != 0) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	if (!plaintext_allowed()) {
		session_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
			       "Plaintext authentication disallowed without TLS");
		return;
	}
	if (cmd->nargs == 2) {
		sasl_plain(s, cmd->tag, cmd->args[1].str, cmd->args[1].len);
		return;
	}
	snprintf(L->tag, sizeof(L->tag), "%s", cmd->tag);
	s->line_fn = sasl_continue;
	session_write(s, "+ \r\n", 4);
}

static void starttls_drained(struct session *s)
{
	s->drained = NULL;
	login_start_tls();
}

static void cmd_starttls(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "STARTTLS takes no arguments");
		return;
	}
	if (L->ctx == NULL || L->tls) {
		session_tagged(s, cmd->tag, "NO", NULL, L->tls ? "TLS already active"
							       : "TLS not configured");
		return;
	}
	/* Bytes pipelined after STARTTLS arrived in the clear: they must not
	 * be processed as if they came over TLS (the classic injection). */
	evbuffer_drain(bufferevent_get_input(s->bev), (size_t)-1);
	session_tagged(s, cmd->tag, "OK", NULL, "Begin TLS negotiation now");
	session_suspend(s);
	if (session_output_pending(s) == 0)
		login_start_tls();
	else
		s->drained = starttls_drained;
}

#ifdef HAVEN_TEST_HOOKS
/* Test builds only: the login worker does what an attacker who took it
 * over would try, a connection of its own, which its seccomp filter
 * forbids. The tests see it killed (SIGSYS) and logged. */
static void cmd_xtest_syscall(struct session *s, const struct imap_cmd *cmd)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	session_tagged(s, cmd->tag, "NO", NULL, "socket() was allowed (fd %d)", fd);
	if (fd >= 0)
		close(fd);
}
#endif

const struct command login_commands[] = {
	{ "CAPABILITY", ST_ANY, cmd_capability, NULL },
	{ "NOOP", ST_ANY, cmd_noop, NULL },
	{ "LOGOUT", ST_ANY, cmd_logout, NULL },
	{ "ID", ST_ANY, cmd_id, NULL },
	{ "STARTTLS", ST_NOTAUTH, cmd_starttls, NULL },
	{ "LOGIN", ST_NOTAUTH, cmd_login, NULL },
	{ "AUTHENTICATE", ST_NOTAUTH, cmd_authenticate, NULL },
#ifdef HAVEN_TEST_HOOKS
	{ "XTESTSYSCALL", ST_NOTAUTH, cmd_xtest_syscall, NULL },
#endif
};
const size_t login_ncommands = sizeof(login_commands) / sizeof(login_commands[0]);
