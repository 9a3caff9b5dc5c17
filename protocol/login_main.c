/* haven-login: the pre-auth worker for one connection. It loads the TLS
 * key while still root, then chroots to an empty directory and drops to
 * the login user before reading a single byte from the client. After a
 * successful login it either exits (plaintext: the master gives the client
 * socket to the user worker) or stays as a TLS proxy between the client
 * and the user worker. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/net.h"
#include "../lib/privdrop.h"
#include "../lib/tls.h"
#include "../lib/xmalloc.h"
#include "login.h"

static struct login login_state;
struct login *L = &login_state;
static struct event_base *base;
static struct event *master_ev, *deadline_ev, *term_ev;
static struct bufferevent *proxy_client, *proxy_worker;

static void greet(struct session *s)
{
	session_printf(s, "* OK [CAPABILITY %s] Haven ready\r\n", login_capability(s));
}

static void on_session_free(struct session *s)
{
	/* The client is gone or we said BYE: nothing left to do. */
	event_base_loopbreak(base);
}

static struct bufferevent *tls_bev(int fd, enum bufferevent_ssl_state st)
{
	SSL *ssl = SSL_new(L->ctx);
	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, fd, ssl, st, BEV_OPT_DEFER_CALLBACKS);
}

void login_start_tls(void)
{
	struct session *s = &L->s;
	struct bufferevent *bev = tls_bev(L->client_fd, BUFFEREVENT_SSL_ACCEPTING);
	if (bev == NULL) {
		log_err("STARTTLS: cannot create TLS session");
		session_close(s);
		return;
	}
	L->tls = 1;
	session_set_bev(s, bev);
	s->tls = 1;
	session_resume(s);
}

/* --- TLS proxy after login ------------------------------------------- */

static void proxy_end(void)
{
	event_base_loopbreak(base);
}

/* Copy what one side sent to the other, but stop reading a side whose
 * peer is not keeping up: memory per proxied session stays bounded. */
#define PROXY_HIGH_WATER (256 * 1024)

static void proxy_read(struct bufferevent *from, void *arg)
{
	struct bufferevent *to = arg;
	evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(from));
	if (evbuffer_get_length(bufferevent_get_output(to)) > PROXY_HIGH_WATER)
		bufferevent_disable(from, EV_READ);
}

/* `to` drained (below its low watermark): let its source read again. */
static void proxy_drained(struct bufferevent *to, void *arg)
{
	struct bufferevent *from = arg;
	bufferevent_enable(from, EV_READ);
}

static void proxy_flushed(struct bufferevent *bev, void *arg)
{
	proxy_end();
}

static void proxy_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		struct bufferevent *other = arg;
		/* Flush what the other direction still has, then stop. */
		if (other && evbuffer_get_length(bufferevent_get_output(other)) > 0) {
			bufferevent_setwatermark(other, EV_WRITE, 0, 0);
			bufferevent_setcb(other, NULL, proxy_flushed, NULL, NULL);
			bufferevent_disable(bev, EV_READ);
			return;
		}
		proxy_end();
	}
}

void login_start_proxy(int fd)
{
	struct session *s = &L->s;
	proxy_client = session_detach_bev(s);
	s->on_free = NULL;
	session_release(s);
	net_set_nonblock(fd);
	proxy_worker = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (proxy_worker == NULL || proxy_client == NULL) {
		proxy_end();
		return;
	}
	bufferevent_setcb(proxy_client, proxy_read, proxy_drained, proxy_event, proxy_worker);
	bufferevent_setcb(proxy_worker, proxy_read, proxy_drained, proxy_event, proxy_client);
	bufferevent_setwatermark(proxy_client, EV_WRITE, PROXY_HIGH_WATER / 4, 0);
	bufferevent_setwatermark(proxy_worker, EV_WRITE, PROXY_HIGH_WATER / 4, 0);
	bufferevent_setwatermark(proxy_client, EV_READ, 0, PROXY_HIGH_WATER);
	bufferevent_setwatermark(proxy_worker, EV_READ, 0, PROXY_HIGH_WATER);
	bufferevent_enable(proxy_client, EV_READ | EV_WRITE);
	bufferevent_enable(proxy_worker, EV_READ | EV_WRITE);
	/* The user worker already has what was pipelined after the login;
	 * anything the client sent since goes through now. */
	evbuffer_drain(bufferevent_get_input(proxy_client), L->handed_bytes);
	proxy_read(proxy_client, proxy_worker);
	if (deadline_ev)
		evtimer_del(deadline_ev);
	log_debug("proxying TLS session to user worker");
}

/* --- master channel --------------------------------------------------- */

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	uint32_t tempfail;
	const char *reason;
	int r = ipc_recv(fd, &m, 1);

	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master went away");
		_exit(0);
	}
	if (!L->auth_pending) {
		log_err("unexpected message %u from master", m.type);
		_exit(1);
	}
	switch (m.type) {
	case MSG_LOGIN_FAIL:
		if (m.fd >= 0 || ipc_get_u32(&m, &tempfail) < 0 || ipc_get_str(&m, &reason) < 0 ||
		    ipc_get_end(&m) < 0)
			_exit(1);
		login_auth_failed(tempfail != 0, reason);
		break;
	case MSG_LOGIN_HANDED_OFF:
		/* The user worker owns the socket and answers the client;
		 * leave without a byte. */
		_exit(0);
	case MSG_LOGIN_PROXY:
		if (m.fd < 0 || !L->tls || ipc_get_end(&m) < 0)
			_exit(1);
		L->auth_pending = 0;
		login_start_proxy(m.fd);
		m.fd = -1;
		break;
	default:
		log_err("unexpected message %u from master", m.type);
		_exit(1);
	}
	ipc_msg_free(&m);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	if (proxy_client == NULL)
		session_bye(&L->s, "Timeout before login");
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	if (proxy_client == NULL)
		session_bye(&L->s, "Server shutting down");
	else
		proxy_end();
}

int main(int argc, char **argv)
{
	struct child_args args;
	struct error err;
	struct privdrop pd;
	const char *remote, *login_user;
	int implicit_tls;

	child_init("login", argc, argv, &args, &L->cfg);
	remote = args.opt[0] ? args.opt[0] : "unknown";
	implicit_tls = args.opt[1] && strcmp(args.opt[1], "1") == 0;
	log_set_session(args.opt[2]);
	login_user = args.opt[3] ? args.opt[3] : L->cfg.login_user;
	signal(SIGPIPE, SIG_IGN);

	/* Everything that needs root or the file system happens here. */
	if (L->cfg.tls_cert[0]) {
		L->ctx = tls_server_ctx(L->cfg.tls_cert, L->cfg.tls_key, &err);
		if (L->ctx == NULL)
			fatal("%s", err.msg);
	}
	if (implicit_tls && L->ctx == NULL)
		fatal("implicit TLS listener without a certificate");
	memset(&pd, 0, sizeof(pd));
	pd.user = login_user;
	pd.chroot_dir = L->cfg.login_chroot;
	pd.login_limits = 1;
	if (privdrop_is_root() && privdrop_lookup(login_user, &pd.uid, &pd.gid, &err) < 0)
		fatal("%s", err.msg);
	base = event_base_new();
	if (base == NULL)
		fatal("event_base_new failed");
	if (privdrop_apply(&pd, &err) < 0)
		fatal("%s", err.msg);

	/* Only now, unprivileged and chrooted, do we look at client bytes. */
	L->client_fd = CHILD_FD_CLIENT;
	L->loopback = net_addr_is_loopback(remote);
	net_set_nonblock(L->client_fd);
	struct bufferevent *bev;
	if (implicit_tls) {
		bev = tls_bev(L->client_fd, BUFFEREVENT_SSL_ACCEPTING);
		L->tls = 1;
	} else {
		bev = bufferevent_socket_new(base, L->client_fd, 0);
	}
	if (bev == NULL)
		fatal("cannot set up the client connection");
	/* Bound what we read ahead of the parser: it becomes the hand-off. */
	bufferevent_setwatermark(bev, EV_READ, 0, 16384);
	struct session_limits lim = {
		.max_line = (size_t)L->cfg.max_preauth_line,
		.max_literal = (size_t)L->cfg.max_literal_preauth,
		.max_command = (size_t)L->cfg.max_preauth_line + (size_t)L->cfg.max_literal_preauth * 2,
		.max_bad = (unsigned)L->cfg.max_bad_commands,
		.timeout_sec = L->cfg.preauth_timeout,
	};
	session_init(&L->s, base, bev, &lim, login_commands, login_ncommands);
	snprintf(L->s.sid, sizeof(L->s.sid), "%s", args.opt[2] ? args.opt[2] : "-");
	snprintf(L->s.remote, sizeof(L->s.remote), "%s", remote);
	L->s.tls = L->tls;
	L->s.capability = login_capability;
	L->s.on_free = on_session_free;
	greet(&L->s);

	master_ev = event_new(base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	event_add(master_ev, NULL);
	struct timeval dl = { L->cfg.preauth_timeout, 0 };
	deadline_ev = evtimer_new(base, on_deadline, NULL);
	evtimer_add(deadline_ev, &dl);
	term_ev = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(term_ev, NULL);

	event_base_dispatch(base);
	/* _exit: nothing to flush, and leak checkers cannot run inside the
	 * chroot anyway. */
	_exit(0);
}
