/* The master's side of the login template (login_fork = yes): one exec'd
 * haven-login that forks the pool's login workers on request (see
 * protocol/login_template.c for why and what it costs).
 *
 * A template is the master's child; the workers it forks are not, so the
 * template passes a pidfd with each one: the master signals a worker and
 * sees it exit through that, never through a pid that may have been
 * reused. The master is a child subreaper (main.c): workers left behind
 * by a template that ended are reaped here, not by init.
 *
 * The current template is the newest one of the current configuration
 * generation whose channel is open. Older ones are told to go by closing
 * their channel; their records stay until they are reaped, so that their
 * exit is not mistaken for anything else. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "master.h"

struct login_tmpl {
	struct login_tmpl *next;
	pid_t pid;
	int chan;               /* -1 once closed: retired or broken */
	struct event *ev;
	unsigned gen;
	int ready;
};

static struct login_tmpl *tmpls;
static uint32_t next_fork_id;

static void tmpl_close(struct login_tmpl *t)
{
	chan_close(&t->ev, &t->chan);
}

/* The template broke a rule: it has never seen a client, so this is a
 * bug, but it is not trusted either. */
static void tmpl_kill(struct login_tmpl *t, const char *why)
{
	log_warn("login template %ld: %s; killing it", (long)t->pid, why);
	kill(t->pid, SIGKILL);
	tmpl_close(t);
}

static void tmpl_read(evutil_socket_t fd, short what, void *arg)
{
	struct login_tmpl *t = arg;
	struct ipc_msg m;
	uint32_t pid;
	int r = ipc_recv(fd, &m, 1);

	if (r == -2)
		return;
	if (r <= 0) {
		/* Exited or broke; the reaper frees the record. */
		if (r < 0)
			tmpl_kill(t, "bad message framing");
		else
			tmpl_close(t);
		return;
	}
	switch (m.type) {
	case MSG_LOGIN_READY:
		if (t->ready || m.fd >= 0 || ipc_get_end(&m) < 0) {
			tmpl_kill(t, "unexpected READY");
			break;
		}
		t->ready = 1;
		logins_tmpl_ready();
		break;
	case MSG_LOGIN_FORKED:
		if (!t->ready || ipc_get_u32(&m, &pid) < 0 || ipc_get_end(&m) < 0 ||
		    (pid == 0) != (m.fd < 0) || pid > (uint32_t)INT32_MAX) {
			tmpl_kill(t, "malformed FORKED");
			break;
		}
		logins_forked(t, m.id, (pid_t)pid, m.fd);
		m.fd = -1;  /* logins_forked owns it */
		break;
	default:
		tmpl_kill(t, "unexpected message type");
		break;
	}
	ipc_msg_free(&m);
}

static struct login_tmpl *tmpl_start(void)
{
	struct login_tmpl *t;
	const char *extra[] = { "-d", M->login_user ? M->login_user : M->cfg.login_user,
				"-e", "template", NULL };
	int chan;
	pid_t pid = spawn_with_chan("haven-login", extra, &chan);

	if (pid < 0)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->pid = pid;
	t->chan = chan;
	t->gen = M->login_gen;
	t->ev = event_new(M->base, t->chan, EV_READ | EV_PERSIST, tmpl_read, t);
	event_add(t->ev, NULL);
	t->next = tmpls;
	tmpls = t;
	log_debug("login template %ld started", (long)pid);
	return t;
}

static struct login_tmpl *tmpl_current(void)
{
	for (struct login_tmpl *t = tmpls; t; t = t->next)
		if (t->chan >= 0 && t->gen == M->login_gen)
			return t;
	return NULL;
}

int login_tmpl_ensure(void)
{
	return tmpl_current() || tmpl_start() ? 0 : -1;
}

int login_tmpl_fork(int chan, struct login_tmpl **tp, uint32_t *id)
{
	struct login_tmpl *t = tmpl_current();

	if (t == NULL && (t = tmpl_start()) == NULL) {
		close(chan);
		return -1;
	}
	if (!t->ready) {
		close(chan);
		return 1;
	}
	*id = ++next_fork_id;
	if (ipc_send_empty(t->chan, MSG_LOGIN_FORK, *id, chan) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "cannot ask it for a worker: %s", strerror(errno));
		close(chan);
		tmpl_kill(t, why);
		return -1;
	}
	close(chan);
	*tp = t;
	return 0;
}

int login_tmpl_child_exited(pid_t pid)
{
	struct login_tmpl **pp, *t;

	for (pp = &tmpls; *pp; pp = &(*pp)->next)
		if ((*pp)->pid == pid)
			break;
	if ((t = *pp) == NULL)
		return 0;
	*pp = t->next;
	tmpl_close(t);
	logins_tmpl_gone(t, !t->ready && t->gen == M->login_gen);
	free(t);
	return 1;
}

void login_tmpl_retire_all(void)
{
	for (struct login_tmpl *t = tmpls; t; t = t->next)
		tmpl_close(t);
}

void login_tmpl_signal_all(int sig)
{
	for (struct login_tmpl *t = tmpls; t; t = t->next)
		kill(t->pid, sig);
}

int login_tmpl_none_left(void)
{
	return tmpls == NULL;
}

void login_tmpl_free_all(void)
{
	while (tmpls) {
		struct login_tmpl *t = tmpls;
		tmpls = t->next;
		tmpl_close(t);
		free(t);
	}
}
