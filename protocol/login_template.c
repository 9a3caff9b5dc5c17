/* The login template (login_fork = yes, the default).
 *
 * Starting haven-login costs mostly the dynamic linking of OpenSSL, not
 * anything Haven does: several times the CPU of the rest of a login. The
 * template pays it once. It is an exec'd haven-login that has loaded the
 * TLS key, chrooted and dropped to the login user like any login worker,
 * and then, instead of waiting for a client, forks one login worker per
 * FORK from the master. A forked worker starts exactly where an exec'd one
 * says READY: it has never seen a client, and the template never sees
 * one either (it reads nothing but the master's messages), so every
 * connection still gets a process that no other client's bytes reached.
 *
 * What the workers share is the template's address-space layout and stack
 * protector value. A client that crashes its worker while probing for
 * them (the way blind return-oriented attacks on forking servers work)
 * would learn something about its siblings; so a worker dying of any
 * signal other than the master's SIGTERM/SIGKILL ends the template, and
 * the master execs a new one with a new layout. login_fork = no gives
 * every connection its own exec instead.
 *
 * No libevent here: the forked worker builds its own event base, and a
 * blocking poll over the channel and a signalfd for SIGCHLD is all the
 * template needs. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/privdrop.h"
#include "login.h"

/* Reap finished workers. 1 when one of them crashed (see above). */
static int reap_workers(void)
{
	int status, crash = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (!WIFSIGNALED(status) || WTERMSIG(status) == SIGTERM ||
		    WTERMSIG(status) == SIGKILL)
			continue;
		log_warn("login worker %ld killed by signal %d; ending the login template so that "
			 "the next workers get a new address-space layout (%s)",
			 (long)pid, WTERMSIG(status), child_signal_text(WTERMSIG(status)));
		crash = 1;
	}
	return crash;
}

/* Tell the master which process serves channel `id`, with a pidfd so that
 * it can signal it and see it exit without being its parent. */
static void report(uint32_t id, pid_t pid)
{
	struct ipc_out o;
	int pfd = -1;

	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		pid = 0;
	} else if ((pfd = pidfd_open(pid, 0)) < 0) {
		log_err("pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		pid = 0;
	}
	ipc_out_init(&o, MSG_LOGIN_FORKED, id);
	ipc_put_u32(&o, (uint32_t)pid);
	int r = ipc_send(CHILD_FD_MASTER, &o, pfd);
	ipc_out_free(&o);
	if (pfd >= 0)
		close(pfd);
	if (r < 0) {
		if (errno != EPIPE && errno != ECONNRESET)
			log_err("reporting worker %ld to the master: %s", (long)pid, strerror(errno));
		_exit(0);  /* the master went away */
	}
}

void login_template_run(void)
{
	sigset_t chld;
	int sfd;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
	    (sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd: %s", strerror(errno));
	login_sandbox(SANDBOX_LOGIN_TEMPLATE);
	if (ipc_send_empty(CHILD_FD_MASTER, MSG_LOGIN_READY, 0, -1) < 0)
		_exit(0);
	log_debug("login template ready");

	for (;;) {
		struct pollfd pf[2] = { { CHILD_FD_MASTER, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		struct ipc_msg m;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		if (pf[1].revents) {
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			if (reap_workers())
				_exit(0);
		}
		if (pf[0].revents == 0)
			continue;
		int r = ipc_recv(CHILD_FD_MASTER, &m, 1);
		if (r == -2)
			continue;
		/* EOF, or a reset when the master closed the channel with a
		 * FORKED of ours still unread (it retired us meanwhile, e.g.
		 * on SIGHUP): either way the master is done with us. */
		if (r == 0 || (r < 0 && errno == ECONNRESET))
			_exit(0);
		if (r < 0)
			fatal("reading a request from the master: %s", strerror(errno));
		if (m.type != MSG_LOGIN_FORK || m.fd < 0 || ipc_get_end(&m) < 0)
			fatal("unexpected message %u from master", m.type);
		pid_t pid = fork();
		if (pid == 0) {
			/* The new worker: its own channel in the place of ours,
			 * SIGCHLD as it was, no processes of its own. */
			close(sfd);
			sigprocmask(SIG_UNBLOCK, &chld, NULL);
			if (dup2(m.fd, CHILD_FD_MASTER) < 0)
				_exit(1);
			ipc_msg_free(&m);
			privdrop_no_fork();
			return;
		}
		report(m.id, pid);
		ipc_msg_free(&m);
	}
}
