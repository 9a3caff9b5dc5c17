/* Pre-auth connections: one login worker each. The master keeps its own
 * copy of the client socket so that, for a plaintext session, the user
 * worker gets the socket from the master and never from the untrusted
 * login worker. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "master.h"

static void login_free(struct login_conn *lc)
{
	struct login_conn **pp;
	for (pp = &M->logins; *pp; pp = &(*pp)->next) {
		if (*pp == lc) {
			*pp = lc->next;
			break;
		}
	}
	if (lc->ev)
		event_free(lc->ev);
	if (lc->chan >= 0)
		close(lc->chan);
	if (lc->client_fd >= 0)
		close(lc->client_fd);
	free(lc->tag);
	free(lc->enabled);
	free(lc->leftover);
	free(lc);
	M->nlogins--;
}

/* A login worker misbehaved or its channel broke: end it. */
static void login_kill(struct login_conn *lc, const char *why)
{
	log_warn("%s: login worker %ld: %s; killing it", lc->sid, (long)lc->pid, why);
	if (lc->pid > 0)
		kill(lc->pid, SIGKILL);
	if (lc->ev) {
		event_free(lc->ev);
		lc->ev = NULL;
	}
	if (lc->chan >= 0) {
		close(lc->chan);
		lc->chan = -1;
	}
	if (lc->client_fd >= 0) {
		close(lc->client_fd);
		lc->client_fd = -1;
	}
	/* The record goes when the process is reaped. */
}

static void login_handle_auth(struct login_conn *lc, struct ipc_msg *m)
{
	const char *mech, *authzid, *user, *pass, *tag, *enabled;
	const unsigned char *left;
	size_t leftlen;
	uint32_t tls;

	if (ipc_get_str(m, &mech) < 0 || ipc_get_str(m, &authzid) < 0 ||
	    ipc_get_str(m, &user) < 0 || ipc_get_str(m, &pass) < 0 ||
	    ipc_get_str(m, &tag) < 0 || ipc_get_u32(m, &tls) < 0 ||
	    ipc_get_str(m, &enabled) < 0 || ipc_get_bytes(m, &left, &leftlen) < 0 ||
	    ipc_get_end(m) < 0) {
		login_kill(lc, "malformed auth request");
		return;
	}
	if (lc->auth_req != 0 || lc->handed_off) {
		login_kill(lc, "auth request while one is pending");
		return;
	}
	if (lc->attempts >= (unsigned)M->cfg.auth_max_attempts) {
		login_kill(lc, "too many auth attempts");
		return;
	}
	lc->attempts++;
	free(lc->tag);
	free(lc->enabled);
	free(lc->leftover);
	lc->tag = xstrdup(tag);
	lc->enabled = xstrdup(enabled);
	lc->leftover = xmalloc(leftlen ? leftlen : 1);
	memcpy(lc->leftover, left, leftlen);
	lc->leftover_len = leftlen;
	lc->tls = tls ? 1 : 0;
	if (authchan_request(lc, mech, user, pass, authzid) < 0) {
		struct ipc_out o;
		ipc_out_init(&o, MSG_LOGIN_FAIL, 0);
		ipc_put_u32(&o, 1);
		ipc_put_str(&o, "Authentication service unavailable");
		ipc_send(lc->chan, &o, -1);
		ipc_out_free(&o);
	}
}

static void login_read(evutil_socket_t fd, short what, void *arg)
{
	struct login_conn *lc = arg;
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0) {
		/* Worker exited or broke; the reaper frees the record. */
		if (r < 0)
			login_kill(lc, "bad message framing");
		else {
			event_free(lc->ev);
			lc->ev = NULL;
			close(lc->chan);
			lc->chan = -1;
			if (lc->client_fd >= 0) {
				close(lc->client_fd);
				lc->client_fd = -1;
			}
		}
		return;
	}
	switch (m.type) {
	case MSG_LOGIN_AUTH:
		login_handle_auth(lc, &m);
		break;
	default:
		login_kill(lc, "unexpected message type");
		break;
	}
	ipc_msg_free(&m);
}

void logins_auth_result(struct login_conn *lc, struct ipc_msg *m)
{
	uint32_t status, uid, gid;
	const char *user, *home, *reason;
	struct ipc_out o;

	lc->auth_req = 0;
	if (ipc_get_u32(m, &status) < 0 || ipc_get_str(m, &user) < 0 ||
	    ipc_get_u32(m, &uid) < 0 || ipc_get_u32(m, &gid) < 0 ||
	    ipc_get_str(m, &home) < 0 || ipc_get_str(m, &reason) < 0 || ipc_get_end(m) < 0) {
		log_err("auth helper sent a malformed result");
		status = 2;
		reason = "Internal error";
	}
	if (lc->chan < 0)
		return;  /* the client went away meanwhile */
	if (status == 0) {
		int fd, sp[2] = { -1, -1 };
		if (lc->tls) {
			/* The login worker keeps TLS and proxies plaintext
			 * through a socketpair made here, not by it. */
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
				log_err("socketpair: %s", strerror(errno));
				status = 2;
				reason = "Internal error";
				goto fail;
			}
			fd = sp[1];
		} else {
			fd = lc->client_fd;
			lc->client_fd = -1;
		}
		if (workers_hand_off(user, (uid_t)uid, (gid_t)gid, home, lc, fd) < 0) {
			if (sp[0] >= 0)
				close(sp[0]);
			if (!lc->tls) {
				/* The socket went with the failed hand-off;
				 * the login worker still has its copy. */
			}
			status = 2;
			reason = "Mail service unavailable";
			goto fail;
		}
		lc->handed_off = 1;
		if (lc->tls) {
			ipc_send_empty(lc->chan, MSG_LOGIN_PROXY, 0, sp[0]);
			close(sp[0]);
		} else {
			ipc_send_empty(lc->chan, MSG_LOGIN_HANDED_OFF, 0, -1);
		}
		if (lc->client_fd >= 0) {
			close(lc->client_fd);
			lc->client_fd = -1;
		}
		log_info("%s: login: user=%s remote=%s tls=%u", lc->sid, user, lc->remote, lc->tls);
		return;
	}
fail:
	log_info("%s: login failed: remote=%s (%s)", lc->sid, lc->remote, reason);
	ipc_out_init(&o, MSG_LOGIN_FAIL, 0);
	ipc_put_u32(&o, status == 2);
	ipc_put_str(&o, reason);
	ipc_send(lc->chan, &o, -1);
	ipc_out_free(&o);
}

struct login_conn *logins_find_req(uint32_t req)
{
	for (struct login_conn *lc = M->logins; lc; lc = lc->next)
		if (lc->auth_req == req)
			return lc;
	return NULL;
}

static void refuse(int fd, const char *text)
{
	/* A fixed string: the master writes but never reads client bytes. */
	ssize_t r = write(fd, text, strlen(text));
	(void)r;
	close(fd);
}

void logins_accept(evutil_socket_t lfd, short what, void *arg)
{
	int implicit_tls = (int)(intptr_t)arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, sv[2];
	struct login_conn *lc;

	fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	if (M->stopping) {
		close(fd);
		return;
	}
	if (M->nlogins >= (unsigned)M->cfg.max_connections) {
		log_warn("max_connections (%ld) reached, refusing a connection",
			 M->cfg.max_connections);
		refuse(fd, implicit_tls ? "" : "* BYE [UNAVAILABLE] Too many connections\r\n");
		return;
	}
	if (ipc_socketpair(sv) < 0) {
		log_err("socketpair: %s", strerror(errno));
		close(fd);
		return;
	}
	lc = xcalloc(1, sizeof(*lc));
	lc->id = ++M->next_id;
	lc->chan = sv[0];
	lc->client_fd = fd;
	lc->implicit_tls = implicit_tls;
	net_addr_text((struct sockaddr *)&ss, lc->remote, sizeof(lc->remote));
	snprintf(lc->sid, sizeof(lc->sid), "s%ld.%u", (long)getpid(), lc->id);

	const char *extra[] = { "-a", lc->remote, "-b", implicit_tls ? "1" : "0",
				"-c", lc->sid, "-d", M->login_user ? M->login_user : M->cfg.login_user,
				NULL };
	lc->pid = spawn_child("haven-login", extra, sv[1], fd, NULL);
	close(sv[1]);
	if (lc->pid < 0) {
		close(sv[0]);
		refuse(fd, "* BYE [UNAVAILABLE] Server busy\r\n");
		free(lc);
		return;
	}
	lc->ev = event_new(M->base, lc->chan, EV_READ | EV_PERSIST, login_read, lc);
	event_add(lc->ev, NULL);
	lc->next = M->logins;
	M->logins = lc;
	M->nlogins++;
	log_debug("%s: connection from %s, login worker %ld", lc->sid, lc->remote, (long)lc->pid);
}

void logins_child_exited(pid_t pid)
{
	for (struct login_conn *lc = M->logins; lc; lc = lc->next) {
		if (lc->pid == pid) {
			login_free(lc);
			return;
		}
	}
}

void logins_stop_all(void)
{
	for (struct login_conn *lc = M->logins; lc; lc = lc->next)
		if (lc->pid > 0)
			kill(lc->pid, SIGTERM);
}
