/* The master's part in logins: it relays each step of an authentication
 * exchange between a login worker and the auth helper, keeping the state
 * of every connection's exchange so that a login worker can only answer
 * a challenge that was sent to it, only start as many exchanges as
 * auth_max_attempts allows, and nothing at all once its session was handed
 * off; anything else kills it. The credentials pass through opaque (the
 * master never reads them) and are wiped after sending. On success the
 * session goes to the user's worker with the identity the auth helper
 * gave, never the login worker's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "master.h"

/* MSG_LOGIN_AUTH, decoded. */
struct auth_step_msg {
	uint32_t step, tls;
	const char *mech, *tag, *enabled;
	const unsigned char *sasl, *left;
	size_t sasl_len, left_len;
};

static int step_decode(struct ipc_msg *m, struct auth_step_msg *s)
{
	return ipc_get_u32(m, &s->step) < 0 || ipc_get_str(m, &s->mech) < 0 ||
	       ipc_get_bytes(m, &s->sasl, &s->sasl_len) < 0 || ipc_get_str(m, &s->tag) < 0 ||
	       ipc_get_u32(m, &s->tls) < 0 || ipc_get_str(m, &s->enabled) < 0 ||
	       ipc_get_bytes(m, &s->left, &s->left_len) < 0 || ipc_get_end(m) < 0 ? -1 : 0;
}

/* Why this step may not come now, or NULL when it may. */
static const char *step_refused(const struct login_conn *lc, const struct auth_step_msg *s)
{
	if (lc->handed_off)
		return "auth request after its session was handed off";
	switch (s->step) {
	case AUTH_STEP_START:
		if (lc->auth_req != 0)
			return "auth request while one is pending";
		if (lc->attempts >= (unsigned)M->cfg.auth_max_attempts)
			return "too many auth attempts";
		return NULL;
	case AUTH_STEP_CONTINUE:
	case AUTH_STEP_CANCEL:
		return lc->auth_req != 0 && lc->challenged ? NULL
			: "auth continuation without a challenge";
	}
	return "unknown auth step";
}

/* The session state the user worker gets if this step succeeds. */
static void step_keep_session(struct login_conn *lc, const struct auth_step_msg *s)
{
	free(lc->tag);
	free(lc->enabled);
	free(lc->leftover);
	lc->tag = xstrdup(s->tag);
	lc->enabled = xstrdup(s->enabled);
	lc->leftover = xmalloc(s->left_len ? s->left_len : 1);
	memcpy(lc->leftover, s->left, s->left_len);
	lc->leftover_len = s->left_len;
	lc->tls = s->tls ? 1 : 0;
}

static void send_fail(struct login_proc *p, uint32_t kind, const char *reason)
{
	struct ipc_out o;

	ipc_out_init(&o, MSG_LOGIN_FAIL, 0);
	ipc_put_u32(&o, kind);
	ipc_put_str(&o, reason);
	ipc_send(p->chan, &o, -1);
	ipc_out_free(&o);
}

void logins_auth_step(struct login_conn *lc, struct ipc_msg *m)
{
	struct login_proc *p = lc->proc;
	struct auth_step_msg s;
	const char *why;

	if (step_decode(m, &s) < 0) {
		logins_kill(p, "malformed auth request");
		return;
	}
	if ((why = step_refused(lc, &s)) != NULL) {
		logins_kill(p, why);
		return;
	}
	lc->challenged = 0;
	if (s.step == AUTH_STEP_START) {
		lc->attempts++;
		snprintf(lc->mech, sizeof(lc->mech), "%s", s.mech);
	}
	step_keep_session(lc, &s);
	if (authchan_request(lc, s.step, s.mech, s.sasl, s.sasl_len) < 0) {
		lc->auth_req = 0;
		if (s.step != AUTH_STEP_CANCEL)
			send_fail(p, LOGIN_FAIL_TEMP, "Authentication service unavailable");
		return;
	}
	if (s.step == AUTH_STEP_CANCEL)
		lc->auth_req = 0;  /* no answer comes */
}

void logins_auth_challenge(struct login_conn *lc, struct ipc_msg *m)
{
	struct login_proc *p = lc->proc;
	const unsigned char *data;
	size_t len;
	struct ipc_out o;

	if (lc->challenged || ipc_get_bytes(m, &data, &len) < 0 || ipc_get_end(m) < 0) {
		log_err("auth helper sent a malformed or unexpected challenge");
		logins_auth_fail(lc, AUTH_TEMPFAIL, "Internal error");
		return;
	}
	if (p == NULL || p->chan < 0) {
		lc->auth_req = 0;  /* the client went away meanwhile */
		return;
	}
	lc->challenged = 1;
	ipc_out_init(&o, MSG_LOGIN_CHALLENGE, 0);
	ipc_put_bytes(&o, data, len);
	if (ipc_send(p->chan, &o, -1) < 0)
		logins_kill(p, "cannot pass it a challenge");
	ipc_out_free(&o);
}

/* The socket the user worker gets: the client's own (a copy: if the
 * hand-off fails, a later login on this connection still has the
 * master's), or for TLS one end of a socketpair made here, not by the
 * login worker, which then proxies through the other end (*proxy). */
static int session_fd(struct login_conn *lc, int *proxy)
{
	int sp[2];

	*proxy = -1;
	if (!lc->tls) {
		int fd = fcntl(lc->client_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			log_err("dup: %s", strerror(errno));
		return fd;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_err("socketpair: %s", strerror(errno));
		return -1;
	}
	*proxy = sp[0];
	return sp[1];
}

/* 0 once the session is the user worker's, -1 (reason set) if not. */
static int hand_off(struct login_conn *lc, const struct worker_identity *id, const char **reason)
{
	struct login_proc *p = lc->proc;
	int proxy, fd = session_fd(lc, &proxy);

	*reason = "Internal error";
	if (fd < 0)
		return -1;
	if (workers_hand_off(id, lc, fd) < 0) {
		/* fd went with the failed hand-off. */
		if (proxy >= 0)
			close(proxy);
		*reason = "Mail service unavailable";
		return -1;
	}
	lc->handed_off = 1;
	logins_conn_uncount(lc);
	if (lc->tls) {
		/* This worker proxies until the session ends and never
		 * takes another client. */
		logins_proc_done(p);
		ipc_send_empty(p->chan, MSG_LOGIN_PROXY, 0, proxy);
		close(proxy);
	} else {
		ipc_send_empty(p->chan, MSG_LOGIN_HANDED_OFF, 0, -1);
	}
	if (lc->client_fd >= 0) {
		close(lc->client_fd);
		lc->client_fd = -1;
	}
	log_info("%s: login: user=%s remote=%s tls=%u", lc->sid, id->user, lc->remote, lc->tls);
	metrics_login(lc->mech, AUTH_OK);
	return 0;
}

static uint32_t fail_kind(uint32_t status)
{
	switch (status) {
	case AUTH_FAIL: return LOGIN_FAIL_AUTH;
	case AUTH_BLOCKED: return LOGIN_FAIL_BLOCKED;
	case AUTH_EXPIRED: return LOGIN_FAIL_EXPIRED;
	}
	return LOGIN_FAIL_TEMP;
}

void logins_auth_fail(struct login_conn *lc, uint32_t status, const char *reason)
{
	struct login_proc *p = lc->proc;

	lc->auth_req = 0;
	lc->challenged = 0;
	if (p == NULL || p->chan < 0)
		return;  /* the client went away meanwhile */
	log_info("%s: login failed: remote=%s (%s)", lc->sid, lc->remote, reason);
	metrics_login(lc->mech, status);
	send_fail(p, fail_kind(status), reason);
}

void logins_auth_result(struct login_conn *lc, struct ipc_msg *m)
{
	struct login_proc *p = lc->proc;
	struct worker_identity id;
	const char *reason;
	uint32_t status;

	if (authchan_result_decode(m, &status, &id, &reason) < 0) {
		log_err("auth helper sent a malformed result");
		status = AUTH_TEMPFAIL;
		reason = "Internal error";
	}
	if (status == AUTH_OK && p && p->chan >= 0) {
		lc->auth_req = 0;
		lc->challenged = 0;
		if (hand_off(lc, &id, &reason) == 0)
			return;
		status = AUTH_TEMPFAIL;
	}
	logins_auth_fail(lc, status, reason);
}

struct login_conn *logins_find_req(uint32_t req)
{
	for (struct login_proc *p = M->login_procs; p; p = p->next)
		if (p->conn && p->conn->auth_req == req)
			return p->conn;
	return NULL;
}

void logins_each_pending(void (*fn)(struct login_conn *lc))
{
	for (struct login_proc *p = M->login_procs; p; p = p->next)
		if (p->conn && p->conn->auth_req != 0)
			fn(p->conn);
}
