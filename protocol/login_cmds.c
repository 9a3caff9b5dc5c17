/* Not-authenticated state: the command table and STARTTLS; LOGIN and
 * AUTHENTICATE are in login_auth.c. */
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "../lib/base64.h"
#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "login.h"

static void starttls_drained(struct session *s)
{
	s->drained = NULL;
	login_start_tls();
}

void login_starttls(struct session *s, const char *tag, size_t nargs)
{
	if (nargs != 0) {
		session_tagged(s, tag, "BAD", NULL, "STARTTLS takes no arguments");
		return;
	}
	if (L->ctx == NULL || L->tls || L->secured) {
		session_tagged(s, tag, "NO", NULL, L->tls || L->secured ? "TLS already active"
							  : "TLS not configured");
		return;
	}
	/* Bytes pipelined after STARTTLS arrived in the clear: they must not
	 * be processed as if they came over TLS (the classic injection). */
	evbuffer_drain(bufferevent_get_input(s->bev), (size_t)-1);
	session_tagged(s, tag, "OK", NULL, "Begin TLS negotiation now");
	session_suspend(s);
	if (session_output_pending(s) == 0)
		login_start_tls();
	else
		s->drained = starttls_drained;
}

static void cmd_starttls(struct session *s, const struct imap_cmd *cmd)
{
	login_starttls(s, cmd->tag, cmd->nargs);
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

/* Test builds only: a taken-over login worker that talks to the auth side
 * out of turn. "twice": two exchanges at once; "continue": a next step
 * nobody asked for; "after": an exchange after its session went to the
 * user worker (it sends LOGIN alice pw-alice, then another). The master
 * must kill it every time, and nobody else may notice. */
static void xtest_send(enum auth_step kind, const char *user, const char *pass)
{
	struct ipc_out o, step;

	ipc_out_init(&step, 0, 0);
	ipc_put_str(&step, "");
	ipc_put_str(&step, user);
	ipc_put_str(&step, pass);
	ipc_out_init(&o, MSG_LOGIN_AUTH, 0);
	ipc_put_u32(&o, kind);
	ipc_put_str(&o, "LOGIN");
	ipc_put_bytes(&o, step.payload.data, step.payload.len);
	ipc_put_str(&o, "x");
	ipc_put_u32(&o, 0);
	ipc_put_str(&o, "");
	ipc_put_bytes(&o, NULL, 0);
	(void)ipc_send(CHILD_FD_MASTER, &o, -1);
	ipc_out_free(&o);
	ipc_out_free(&step);
}

/* Take the master's answers off the channel behind the event loop's back
 * until the session is the user worker's (a fixed sleep lost the race on
 * a loaded machine); at most 20 s. */
static void xtest_wait_handed_off(void)
{
	struct pollfd pfd = { .fd = CHILD_FD_MASTER, .events = POLLIN };
	struct ipc_msg m;
	int got = 0;

	for (int i = 0; i < 200 && !got; i++) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (ipc_recv(CHILD_FD_MASTER, &m, 1) != 1)
			continue;
		got = m.type == MSG_LOGIN_HANDED_OFF || m.type == MSG_LOGIN_PROXY;
		ipc_msg_free(&m);
	}
}

static void cmd_xtest_auth(struct session *s, const struct imap_cmd *cmd)
{
	const char *what = cmd->nargs == 1 ? cmd->args[0].str : "";

	if (strcmp(what, "twice") == 0) {
		xtest_send(AUTH_STEP_START, "alice", "guess1");
		xtest_send(AUTH_STEP_START, "alice", "guess2");
	} else if (strcmp(what, "continue") == 0) {
		xtest_send(AUTH_STEP_CONTINUE, "alice", "guess");
	} else if (strcmp(what, "after") == 0) {
		xtest_send(AUTH_STEP_START, "alice", "pw-alice");
		xtest_wait_handed_off();
		xtest_send(AUTH_STEP_START, "bob", "pw-bob");
	}
	session_tagged(s, cmd->tag, "NO", NULL, "sent");
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
	{ "XTESTAUTH", ST_NOTAUTH, cmd_xtest_auth, NULL },
#endif
};
const size_t login_ncommands = sizeof(login_commands) / sizeof(login_commands[0]);
