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
	struct ipc_msg fake;
	struct ipc_out o;
	/* Build a TEMPFAIL result and feed it through the normal path so
	 * there is one place that answers login workers. */
	ipc_out_init(&o, MSG_AUTH_RESULT, lc->auth_req);
	ipc_put_u32(&o, AUTH_TEMPFAIL);
	ipc_put_str(&o, "");
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0);
	ipc_put_str(&o, "");
	ipc_put_str(&o, "Authentication service restarting");
	memset(&fake, 0, sizeof(fake));
	fake.fd = -1;
	fake.data = (unsigned char *)o.payload.data;
	fake.len = o.payload.len;
	logins_auth_result(lc, &fake);
	ipc_out_free(&o);
}

static void auth_fail_pending(void)
{
	logins_each_pending(fail_one);
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
	if (m.type != MSG_AUTH_RESULT) {
		log_err("auth helper sent unexpected message %u", m.type);
		ipc_msg_free(&m);
		return;
	}
	struct login_conn *lc = m.id ? logins_find_req(m.id) : NULL;
	if (lc)
		logins_auth_result(lc, &m);
	else
		log_debug("auth result for a connection that is gone (req %u)", m.id);
	ipc_msg_free(&m);
}

int authchan_request(struct login_conn *lc, const char *mech, const char *user,
		     const char *pass, const char *authzid)
{
	struct ipc_out o;
	int r;
	if (M->auth_chan < 0)
		return -1;
	if (++next_req == 0)
		next_req = 1;
	ipc_out_init(&o, MSG_AUTH_PASSWORD, next_req);
	ipc_put_str(&o, user);
	ipc_put_str(&o, pass);
	ipc_put_str(&o, authzid);
	ipc_put_str(&o, lc->remote);
	ipc_put_str(&o, mech);
	r = ipc_send(M->auth_chan, &o, -1);
	ipc_out_free(&o);
	if (r == 0)
		lc->auth_req = next_req;
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
