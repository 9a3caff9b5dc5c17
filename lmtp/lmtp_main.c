/* haven-lmtp: started by the master for one LMTP connection (fd 5), with
 * -a session-id and -b remote-address. Like a login worker it chroots
 * to the empty directory and drops to the login user before it reads a
 * byte, and then runs under a seccomp filter: what it parses is the MTA's,
 * and the mail it carries is everyone's. It ends with its connection. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "../lib/privdrop.h"
#include "../lib/sandbox.h"
#include "lmtp.h"

static struct lmtp_session state;
struct lmtp_session *S = &state;
static struct event *master_ev, *term_ev;

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0) {
		lmtp_session_abort("Service shutting down");
		return;
	}
	lmtp_session_master(&m);
	ipc_msg_free(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	lmtp_session_abort("Service shutting down");
}

/* The name this server goes by, before the chroot hides the host's. */
static void set_hostname(void)
{
	if (S->cfg.lmtp_hostname[0])
		snprintf(S->hostname, sizeof(S->hostname), "%s", S->cfg.lmtp_hostname);
	else if (gethostname(S->hostname, sizeof(S->hostname)) < 0)
		snprintf(S->hostname, sizeof(S->hostname), "localhost");
}

int main(int argc, char **argv)
{
	struct child_args args;

	child_init("lmtp", argc, argv, &args, &S->cfg);
	if (args.opt[0] == NULL || args.opt[1] == NULL)
		fatal("missing session id or remote address");
	S->sid = args.opt[0];
	S->remote = args.opt[1];
	if (args.opt[2])
		S->test_stall_at = strtoull(args.opt[2], NULL, 10);
	log_set_session(S->sid);
	signal(SIGPIPE, SIG_IGN);
	set_hostname();
	/* The Received: date needs the zone, which glibc reads from
	 * /etc/localtime on first use: now, before the chroot and the
	 * filter (which forbids opening files) hide it. */
	tzset();
	privdrop_to_login_user(&S->cfg);
	S->base = event_base_new();
	if (S->base == NULL)
		fatal("event_base_new failed");
	master_ev = event_new(S->base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	event_add(master_ev, NULL);
	term_ev = evsignal_new(S->base, SIGTERM, on_term, NULL);
	event_add(term_ev, NULL);
	sandbox_enter(SANDBOX_LMTP, S->cfg.seccomp);
	lmtp_session_start(CHILD_FD_CLIENT);
	event_base_dispatch(S->base);
	/* _exit: nothing to flush, and leak checkers cannot run inside the
	 * chroot anyway. */
	_exit(0);
}
