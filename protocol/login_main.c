/* haven-login: the pre-auth worker. It loads the TLS key while still
 * root, then chroots to an empty directory and drops to the login user,
 * and only then tells the master it is READY: it waits in the master's
 * pool of started login workers until the master passes it a client
 * socket, so it never holds a client while privileged. After a successful
 * login it either exits (plaintext: the master gives the client socket to
 * the user worker) or stays as a TLS proxy between the client and the user
 * worker until that session ends. With login_connections_per_process > 1 a
 * worker whose connection never used TLS and left nothing pending says
 * READY again instead of exiting, and may get another client.
 *
 * With login_fork (the default) the master execs this program once as a
 * template ("-e template"): it does the same setup and privilege drop,
 * then only forks workers on the master's request (login_template.c);
 * each forked child continues below exactly as an exec'd worker would. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
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
#include "../lib/sandbox.h"
#include "../lib/tls.h"
#include "../lib/xmalloc.h"
#include "login.h"
#include "ms.h"

static struct login login_state;
struct login *L = &login_state;
static struct event_base *base;
static struct event *master_ev, *deadline_ev, *term_ev, *done_ev;
static struct bufferevent *proxy_client, *proxy_worker;
static int conn_active;        /* L->s holds a client connection */
static int conn_proxying;      /* this process is a TLS proxy now: never reused */
static unsigned conn_served;   /* clients handed to this process so far */

static void greet(struct session *s)
{
	if (L->proto == LOGIN_PROTO_MANAGESIEVE)
		ms_login_greet(s);
	else
		session_printf(s, "* OK [CAPABILITY %s] Haven ready\r\n", login_capability(s));
}

static void on_session_free(struct session *s)
{
	/* The client is gone or we said BYE. The session code may still be
	 * on the stack: finish the connection from the event loop. */
	event_active(done_ev, EV_TIMEOUT, 0);
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
	/* RFC 5804 2.2: ManageSieve says its capabilities again over TLS. */
	if (s->dialect)
		ms_login_greet(s);
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
	conn_proxying = 1;
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

/* --- one client connection -------------------------------------------- */

static void send_ready(void)
{
	if (ipc_send_empty(CHILD_FD_MASTER, MSG_LOGIN_READY, 0, -1) < 0) {
		log_debug("master went away");
		_exit(0);
	}
}

static void start_connection(int fd, const char *sid, const char *remote, int implicit_tls,
			     int greeting)
{
	struct bufferevent *bev;

	conn_active = 1;
	conn_served++;
	log_set_session(sid);
	L->client_fd = fd;
	L->loopback = net_addr_is_loopback(remote);
	net_set_nonblock(L->client_fd);
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
		/* Silence ends it sooner than the total limit (on_deadline). */
		.timeout_sec = L->cfg.preauth_idle_timeout < L->cfg.preauth_timeout
				       ? L->cfg.preauth_idle_timeout : L->cfg.preauth_timeout,
	};
	if (L->proto == LOGIN_PROTO_MANAGESIEVE) {
		session_init(&L->s, base, bev, &lim, ms_login_commands, ms_login_ncommands);
		session_set_dialect(&L->s, &ms_dialect);
		L->s.capability = ms_login_capability;
	} else {
		session_init(&L->s, base, bev, &lim, login_commands, login_ncommands);
		L->s.capability = login_capability;
	}
	snprintf(L->s.sid, sizeof(L->s.sid), "%s", sid);
	snprintf(L->s.remote, sizeof(L->s.remote), "%s", remote);
	L->s.tls = L->tls || L->secured;
	L->s.on_free = on_session_free;
	if (greeting)
		greet(&L->s);
	struct timeval dl = { L->cfg.preauth_timeout, 0 };
	evtimer_add(deadline_ev, &dl);
}

/* The connection is over (the session is freed). Exit, or, when this
 * process may serve another client, forget everything about this one and
 * tell the master so. A connection that used TLS ends the process: its
 * TLS state is not reused, whatever the setting. */
static void finish_connection(evutil_socket_t fd, short what, void *arg)
{
	int reuse = conn_served < (unsigned long)L->cfg.login_connections_per_process &&
		    !L->tls && !L->secured && !L->auth_pending && !conn_proxying;

	evtimer_del(deadline_ev);
	if (!reuse)
		_exit(0);
	if (L->client_fd >= 0)
		close(L->client_fd);
	if (L->pending) {
		ipc_out_free_secret(L->pending);
		free(L->pending);
	}
	memset(&L->s, 0, sizeof(L->s));
	L->client_fd = -1;
	L->tls = 0;
	L->loopback = 0;
	L->failures = 0;
	L->started = 0;
	L->exchange = 0;
	L->mech = NULL;
	L->mech_step = 0;
	buf_free_secret(&L->login_user);
	L->auth_pending = 0;
	L->handed_bytes = 0;
	L->tag[0] = '\0';
	L->pending = NULL;
	conn_active = 0;
	log_set_session(NULL);
	send_ready();
}

static void take_client(struct ipc_msg *m)
{
	const char *sid, *remote;
	uint32_t implicit_tls, proto;

	if (conn_active || m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_str(m, &remote) < 0 ||
	    ipc_get_u32(m, &implicit_tls) < 0 || ipc_get_u32(m, &proto) < 0 ||
	    ipc_get_end(m) < 0 || proto > LOGIN_PROTO_MANAGESIEVE) {
		log_err("unexpected or malformed client from master");
		_exit(1);
	}
	L->proto = proto;
	if (implicit_tls && L->ctx == NULL)
		fatal("implicit TLS client without a certificate");
	start_connection(m->fd, sid, remote, implicit_tls != 0, 1);
	m->fd = -1;  /* the connection owns it now */
}

/* MSG_LOGIN_CLIENT_BACK: a client that said UNAUTHENTICATE, already
 * answered by its user worker: no greeting; its pipelined commands are
 * read first, as a pre-auth client's. */
static void take_client_back(struct ipc_msg *m)
{
	const char *sid, *remote;
	const unsigned char *left;
	size_t len;
	uint32_t secured;

	if (conn_active || m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_str(m, &remote) < 0 ||
	    ipc_get_u32(m, &secured) < 0 || ipc_get_bytes(m, &left, &len) < 0 ||
	    ipc_get_end(m) < 0 || secured > 1) {
		log_err("unexpected or malformed client from master");
		_exit(1);
	}
	L->proto = LOGIN_PROTO_IMAP;
	L->secured = (int)secured;
	start_connection(m->fd, sid, remote, 0, 0);
	m->fd = -1;
	log_debug("back after UNAUTHENTICATE, %zu bytes pipelined", len);
	if (len)
		session_inject(&L->s, left, len);
	session_input(&L->s);
}

/* --- master channel --------------------------------------------------- */

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	uint32_t kind;
	const char *reason;
	const unsigned char *data;
	size_t len;
	int r = ipc_recv(fd, &m, 1);

	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master went away");
		_exit(0);
	}
	if (m.type == MSG_LOGIN_CLIENT || m.type == MSG_LOGIN_CLIENT_BACK) {
		if (m.type == MSG_LOGIN_CLIENT)
			take_client(&m);
		else
			take_client_back(&m);
		ipc_msg_free(&m);
		return;
	}
	/* A failure may also end an exchange that waits for the client (the
	 * auth helper restarted); anything else answers a step we sent. */
	if (!L->auth_pending && !(m.type == MSG_LOGIN_FAIL && L->exchange)) {
		log_err("unexpected message %u from master", m.type);
		_exit(1);
	}
	switch (m.type) {
	case MSG_LOGIN_FAIL:
		if (m.fd >= 0 || ipc_get_u32(&m, &kind) < 0 || ipc_get_str(&m, &reason) < 0 ||
		    ipc_get_end(&m) < 0 || kind > LOGIN_FAIL_EXPIRED)
			_exit(1);
		login_auth_failed((enum login_fail)kind, reason);
		break;
	case MSG_LOGIN_CHALLENGE:
		if (m.fd >= 0 || ipc_get_bytes(&m, &data, &len) < 0 || ipc_get_end(&m) < 0 ||
		    L->mech == NULL)
			_exit(1);
		login_auth_challenge(data, len);
		break;
	case MSG_LOGIN_HANDED_OFF:
		/* The user worker owns the socket and answers the client:
		 * let go of it without a byte (nothing is queued: the auth
		 * request left only after our output drained). */
		if (m.fd >= 0 || ipc_get_end(&m) < 0)
			_exit(1);
		L->auth_pending = 0;
		if (L->tls)
			_exit(1);  /* a TLS session gets PROXY, never this */
		L->s.on_free = NULL;
		session_release(&L->s);
		finish_connection(-1, 0, NULL);
		break;
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
	if (conn_active && proxy_client == NULL)
		session_bye(&L->s, "Timeout before login");
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	/* No more clients for this process, whatever the setting. */
	L->cfg.login_connections_per_process = 0;
	if (!conn_active)
		_exit(0);
	/* A TLS proxy goes on: the user worker got SIGTERM too and sends its
	 * BYE through us, then closes, and that ends the proxy (after the
	 * BYE reached the client). Ending here lost that BYE whenever this
	 * SIGTERM came first. A worker that never closes is the master's
	 * shutdown deadline's business. */
	if (proxy_client == NULL)
		session_bye(&L->s, "Server shutting down");
}

/* Compiled by the template, before its first fork: its own and its
 * workers'. */
static struct sandbox_prog *template_prog, *worker_prog;

static enum sandbox_mode sandbox_mode(void)
{
	enum sandbox_mode mode = SANDBOX_SECCOMP_KILL;  /* validated by child_init */
	(void)sandbox_mode_parse(L->cfg.seccomp, &mode);
	return mode;
}

/* Both in a throwaway process (sandbox.h says why): a forked worker's
 * allocations then fill a few pages of the template's heap instead of
 * holes all over it, and it copies fewer pages (about 9 of its 52 page
 * faults). */
void login_sandbox_prepare(void)
{
	struct error err;
	if (sandbox_compile_apart(SANDBOX_LOGIN_TEMPLATE, sandbox_mode(), &template_prog, &err) < 0 ||
	    sandbox_compile_apart(SANDBOX_LOGIN, sandbox_mode(), &worker_prog, &err) < 0)
		fatal("%s", err.msg);
}

void login_sandbox(enum sandbox_role role)
{
	struct sandbox_prog **prepared = role == SANDBOX_LOGIN ? &worker_prog : &template_prog;
	struct error err;
	int r;

	if (*prepared) {
		r = sandbox_load(*prepared, &err);
		sandbox_prog_free(*prepared);
		*prepared = NULL;
	} else {
		r = sandbox_seccomp(role, sandbox_mode(), &err);
	}
	if (r < 0)
		fatal("%s", err.msg);
}

int main(int argc, char **argv)
{
	struct child_args args;
	struct error err;
	struct privdrop pd;
	const char *login_user;
	int template;

	child_init("login", argc, argv, &args, &L->cfg);
	login_user = args.opt[3] ? args.opt[3] : L->cfg.login_user;
	template = args.opt[4] && strcmp(args.opt[4], "template") == 0;
	signal(SIGPIPE, SIG_IGN);
	L->client_fd = -1;

	/* Everything that needs root or the file system happens here. */
	if (L->cfg.tls_cert[0]) {
		L->ctx = tls_server_ctx(L->cfg.tls_cert, L->cfg.tls_key, &err);
		if (L->ctx == NULL)
			fatal("%s", err.msg);
	}
	memset(&pd, 0, sizeof(pd));
	pd.user = login_user;
	pd.chroot_dir = L->cfg.login_chroot;
	pd.login_limits = 1;
	pd.no_fork = !template;
	pd.memory_limit = (size_t)L->cfg.login_memory_limit << 20;
	if (privdrop_is_root() && privdrop_lookup(login_user, &pd.uid, &pd.gid, &err) < 0)
		fatal("%s", err.msg);
	if (privdrop_apply(&pd, &err) < 0)
		fatal("%s", err.msg);
	if (template) {
		login_sandbox_prepare();
		login_template_run();  /* returns in each forked worker */
		/* So that ps tells the workers from their template: "-e
		 * template" becomes "-e worker" in place. */
		char *mode = (char *)args.opt[4];
		memset(mode, 0, strlen(mode));
		memcpy(mode, "worker", 6);
	}
	base = event_base_new();
	if (base == NULL)
		fatal("event_base_new failed");

	/* Only now, unprivileged and chrooted, may a client come. */
	master_ev = event_new(base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	event_add(master_ev, NULL);
	deadline_ev = evtimer_new(base, on_deadline, NULL);
	done_ev = evtimer_new(base, finish_connection, NULL);
	term_ev = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(term_ev, NULL);
	/* Set up: from here on only what serving a client takes (a worker
	 * forked by the template narrows the template's filter). */
	login_sandbox(SANDBOX_LOGIN);
	send_ready();

	event_base_dispatch(base);
	/* _exit: nothing to flush, and leak checkers cannot run inside the
	 * chroot anyway. */
	_exit(0);
}
