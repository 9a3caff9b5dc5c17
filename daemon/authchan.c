/* The master's side of the auth helper channel. Requests carry an id the
 * master picks; a result is accepted only for an id that is pending, and it
 * completes exactly that login connection. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "master.h"

static uint32_t next_req = 1;
static struct event *restart_ev;

static void auth_read(evutil_socket_t fd, short what, void *arg);

static void fail_one(struct login_conn *lc)
{
	logins_auth_fail(lc, AUTH_TEMPFAIL, "Authentication service restarting");
}

static void auth_fail_pending(void)
{
	logins_each_pending(fail_one);
	lmtp_auth_gone();
}

int authchan_start(void)
{
	M->auth_last_start = time(NULL);
	M->auth_pid = spawn_with_chan("haven-auth", NULL, &M->auth_chan);
	if (M->auth_pid < 0)
		return -1;
	M->auth_ev = event_new(M->base, M->auth_chan, EV_READ | EV_PERSIST, auth_read, NULL);
	event_add(M->auth_ev, NULL);
	log_debug("auth helper started, pid %ld", (long)M->auth_pid);
	return 0;
}

static void auth_close_chan(void)
{
	chan_close(&M->auth_ev, &M->auth_chan);
}

static void auth_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);
	if (r == -2)
		return;
	if (r <= 0) {
		if (M->stopping)
			log_debug("auth helper channel closed");
		else
			log_err("auth helper channel %s", r == 0 ? "closed" : "broken");
		if (M->auth_pid > 0)
			kill(M->auth_pid, SIGKILL);
		auth_close_chan();
		auth_fail_pending();
		return;
	}
	if (m.type != MSG_AUTH_RESULT && m.type != MSG_AUTH_CHALLENGE) {
		log_err("auth helper sent unexpected message %u", m.type);
		ipc_msg_free(&m);
		return;
	}
	/* Only an exchange waiting for the helper (not one waiting for its
	 * client) can be answered. */
	struct login_conn *lc = m.id ? logins_find_req(m.id) : NULL;
	if (lc == NULL && m.type == MSG_AUTH_RESULT && lmtp_auth_result(&m))
		;  /* a recipient's lookup */
	else if (lc && !lc->challenged && m.type == MSG_AUTH_RESULT)
		logins_auth_result(lc, &m);
	else if (lc && !lc->challenged)
		logins_auth_challenge(lc, &m);
	else
		log_debug("auth answer for an exchange that is gone or not waiting (req %u)", m.id);
	ipc_msg_free_secret(&m);
}

int authchan_request(struct login_conn *lc, uint32_t step, const char *mech,
		     const unsigned char *sasl, size_t len)
{
	struct ipc_out o;
	uint32_t id = lc->auth_req;
	int r;

	if (M->auth_chan < 0)
		return -1;
	if (step == AUTH_STEP_START) {
		if (++next_req == 0)
			next_req = 1;
		id = next_req;
	}
	ipc_out_init(&o, MSG_AUTH_REQUEST, id);
	buf_reserve(&o.payload, len + 256);  /* no copies of it left in freed memory */
	ipc_put_u32(&o, step);
	ipc_put_str(&o, mech);
	ipc_put_bytes(&o, sasl, len);
	ipc_put_str(&o, lc->remote);
	ipc_put_str(&o, lc->sid);
	ipc_put_u32(&o, lc->tls);
	r = ipc_send(M->auth_chan, &o, -1);
	ipc_out_free_secret(&o);
	if (r == 0)
		lc->auth_req = id;
	return r;
}

int authchan_result_decode(struct ipc_msg *m, uint32_t *status, struct worker_identity *id,
			   const char **reason)
{
	uint32_t uid, gid;
	uint64_t uid64;

	if (ipc_get_u32(m, status) < 0 || ipc_get_str(m, &id->user) < 0 ||
	    ipc_get_u32(m, &uid) < 0 || ipc_get_u32(m, &gid) < 0 ||
	    ipc_get_str(m, &id->home) < 0 || ipc_get_str(m, reason) < 0 ||
	    ipc_get_u64(m, &uid64) < 0 || ipc_get_u64(m, &id->quota_bytes) < 0 ||
	    ipc_get_u64(m, &id->quota_messages) < 0 || ipc_get_end(m) < 0)
		return -1;
	id->uid = (uid_t)uid;
	id->gid = (gid_t)gid;
	id->id = (int64_t)uid64;
	return 0;
}

int authchan_lookup(const char *addr, const char *sid, uint32_t *req)
{
	struct ipc_out o;
	int r;

	if (M->auth_chan < 0)
		return -1;
	if (++next_req == 0)
		next_req = 1;
	ipc_out_init(&o, MSG_AUTH_LOOKUP, next_req);
	ipc_put_str(&o, addr);
	ipc_put_str(&o, sid);
	r = ipc_send(M->auth_chan, &o, -1);
	ipc_out_free(&o);
	if (r == 0)
		*req = next_req;
	return r;
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!M->stopping && M->auth_pid <= 0)
		authchan_start();
}

int authchan_child_exited(pid_t pid)
{
	if (pid != M->auth_pid)
		return 0;
	if (!M->stopping)
		log_err("auth helper (pid %ld) exited", (long)pid);
	M->auth_pid = -1;
	auth_close_chan();
	auth_fail_pending();
	if (M->stopping)
		return 1;
	/* Restart at once unless it is crash-looping. */
	struct timeval tv = { time(NULL) - M->auth_last_start < 2 ? 2 : 0, 0 };
	if (restart_ev == NULL)
		restart_ev = evtimer_new(M->base, restart_cb, NULL);
	evtimer_add(restart_ev, &tv);
	return 1;
}

void authchan_reconfigure(void)
{
	/* A helper that is restarting reads the new memfd when it starts. */
	if (M->auth_chan < 0)
		return;
	if (ipc_send_empty(M->auth_chan, MSG_AUTH_CONFIG, 0, cfgtext_fd("haven-auth")) < 0)
		log_err("sending the new configuration to the auth helper: %s", strerror(errno));
}

void authchan_stop(void)
{
	if (M->auth_pid > 0)
		kill(M->auth_pid, SIGTERM);
	if (restart_ev) {
		event_free(restart_ev);
		restart_ev = NULL;
	}
}
