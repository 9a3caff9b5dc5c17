/* LMTP: the listeners, and one haven-lmtp worker per connection (chrooted
 * and unprivileged like a login worker: it alone parses the MTA's bytes).
 * The master looks each recipient up through the auth helper and keeps
 * the answer in a slot of the connection; the worker may then deliver
 * only to those slots, through the recipient's user worker, which stores
 * the message and answers. The master routes; it never reads the
 * message. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_lmtp.h"
#include "../lib/xmalloc.h"
#include "master.h"

/* Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100). */
#define LMTP_MAX_RCPT 100

enum slot_state { SLOT_FREE, SLOT_LOOKUP, SLOT_OK };

struct lmtp_slot {
	enum slot_state state;
	uint32_t req;           /* the auth lookup, while SLOT_LOOKUP */
	char *user, *home;      /* the record, while SLOT_OK */
	uid_t uid;
	gid_t gid;
	int64_t id;
	uint64_t quota_bytes, quota_messages;
};

struct lmtp_conn {
	struct lmtp_conn *next;
	pid_t pid;
	int chan;
	struct event *ev;
	char sid[32];
	struct lmtp_slot slot[LMTP_MAX_RCPT];
};

/* A delivery handed to a user worker, until it answers or dies. */
struct delivery {
	struct delivery *next;
	uint32_t req;
	pid_t worker;
	struct lmtp_conn *conn;  /* NULL once the connection is gone */
	uint32_t slot;
};

static int listen_fds[NET_MAX_LISTENERS];
static struct event *listen_ev[NET_MAX_LISTENERS];
static int nlisten;
static struct lmtp_conn *conns;
static unsigned nconns;
static struct delivery *deliveries;
static uint32_t next_delivery;

static void slot_clear(struct lmtp_slot *s)
{
	free(s->user);
	free(s->home);
	memset(s, 0, sizeof(*s));
}

static void conn_free(struct lmtp_conn *c)
{
	for (struct lmtp_conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			nconns--;
			break;
		}
	}
	for (struct delivery *d = deliveries; d; d = d->next)
		if (d->conn == c)
			d->conn = NULL;
	for (size_t i = 0; i < LMTP_MAX_RCPT; i++)
		slot_clear(&c->slot[i]);
	chan_close(&c->ev, &c->chan);
	free(c);
}

/* The worker broke the protocol: it goes. */
static void conn_kill(struct lmtp_conn *c, const char *why)
{
	log_warn("%s: lmtp worker %s; killing it", c->sid, why);
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
	chan_close(&c->ev, &c->chan);
}

static void send_u32_u32_str(struct lmtp_conn *c, uint32_t type, uint32_t a, uint32_t b,
			     const char *s)
{
	struct ipc_out o;

	if (c->chan < 0)
		return;
	ipc_out_init(&o, type, 0);
	ipc_put_u32(&o, a);
	ipc_put_u32(&o, b);
	ipc_put_str(&o, s);
	if (ipc_send(c->chan, &o, -1) < 0)
		log_debug("%s: lmtp worker gone: %s", c->sid, strerror(errno));
	ipc_out_free(&o);
}

static void rcpt_answer(struct lmtp_conn *c, uint32_t slot, uint32_t status, const char *user)
{
	send_u32_u32_str(c, MSG_LMTP_RCPT_RESULT, slot, status, user);
}

static void on_rcpt(struct lmtp_conn *c, struct ipc_msg *m)
{
	const char *addr;
	uint32_t slot;

	if (ipc_get_u32(m, &slot) < 0 || ipc_get_str(m, &addr) < 0 || ipc_get_end(m) < 0 ||
	    slot >= LMTP_MAX_RCPT || c->slot[slot].state != SLOT_FREE) {
		conn_kill(c, "sent a bad RCPT");
		return;
	}
	if (authchan_lookup(addr, c->sid, &c->slot[slot].req) < 0) {
		rcpt_answer(c, slot, LMTP_RCPT_TEMPFAIL, "");
		return;
	}
	c->slot[slot].state = SLOT_LOOKUP;
}

static struct delivery *delivery_add(struct lmtp_conn *c, uint32_t slot)
{
	struct delivery *d = xcalloc(1, sizeof(*d));

	if (++next_delivery == 0)
		next_delivery = 1;
	d->req = next_delivery;
	d->conn = c;
	d->slot = slot;
	d->next = deliveries;
	deliveries = d;
	return d;
}

static void delivery_remove(struct delivery *d)
{
	for (struct delivery **pp = &deliveries; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	free(d);
}

static void on_deliver(struct lmtp_conn *c, struct ipc_msg *m)
{
	struct deliver_env e;
	const unsigned char *trace;
	uint32_t slot;

	if (m->fd < 0 || ipc_get_u32(m, &slot) < 0 || ipc_get_str(m, &e.mailbox) < 0 ||
	    ipc_get_str(m, &e.from) < 0 || ipc_get_str(m, &e.to) < 0 ||
	    ipc_get_bytes(m, &trace, &e.tracelen) < 0 || ipc_get_end(m) < 0 ||
	    slot >= LMTP_MAX_RCPT || c->slot[slot].state != SLOT_OK) {
		conn_kill(c, "sent a bad DELIVER");
		return;
	}
	const struct lmtp_slot *s = &c->slot[slot];
	struct worker_identity id = { s->user, s->home, s->uid, s->gid, s->id, s->quota_bytes,
				      s->quota_messages };
	struct delivery *d = delivery_add(c, slot);
	e.trace = trace;
	d->worker = workers_deliver(&id, d->req, &e, m->fd);
	if (d->worker < 0) {
		delivery_remove(d);
		send_u32_u32_str(c, MSG_LMTP_DELIVERED, slot, LMTP_DELIVER_TEMPFAIL,
				 "Mail service unavailable");
		return;
	}
	log_debug("%s: delivery for %s handed to worker pid %ld", c->sid, s->user,
		  (long)d->worker);
}

static void conn_read(evutil_socket_t fd, short what, void *arg)
{
	struct lmtp_conn *c = arg;
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 1);

	if (r == -2)
		return;
	if (r <= 0) {
		chan_close(&c->ev, &c->chan);
		return;
	}
	if (m.type == MSG_LMTP_RCPT && m.fd < 0)
		on_rcpt(c, &m);
	else if (m.type == MSG_LMTP_DELIVER)
		on_deliver(c, &m);
	else if (m.type == MSG_LMTP_RESET && m.fd < 0 && ipc_get_end(&m) == 0)
		for (size_t i = 0; i < LMTP_MAX_RCPT; i++)
			slot_clear(&c->slot[i]);
	else
		conn_kill(c, "sent an unexpected message");
	ipc_msg_free(&m);
}

#ifdef HAVEN_TEST_HOOKS
/* Test builds only: the first LMTP worker gets -c N from the environment's
 * HAVEN_TEST_LMTP_STALL_AT, and stops itself (SIGSTOP) once N bytes of a
 * message are in, for a test to kill it mid-DATA; the MTA's retry then
 * goes to a worker without it. */
static const char *test_stall(void)
{
	static int used;
	const char *at = getenv("HAVEN_TEST_LMTP_STALL_AT");

	if (used || at == NULL)
		return NULL;
	used = 1;
	return at;
}
#else
static const char *test_stall(void)
{
	return NULL;
}
#endif

static void conn_start(int client, const char *remote)
{
	struct lmtp_conn *c = xcalloc(1, sizeof(*c));
	const char *stall = test_stall();
	int sv[2];

	snprintf(c->sid, sizeof(c->sid), "L%08x", ++M->next_id);
	const char *extra[] = { "-a", c->sid, "-b", remote, stall ? "-c" : NULL, stall, NULL };
	if (ipc_socketpair(sv) < 0) {
		log_err("lmtp: socketpair: %s", strerror(errno));
		free(c);
		return;
	}
	c->pid = spawn_child("haven-lmtp", extra, sv[1], client, NULL);
	close(sv[1]);
	if (c->pid < 0) {
		close(sv[0]);
		free(c);
		return;
	}
	c->chan = sv[0];
	c->ev = event_new(M->base, c->chan, EV_READ | EV_PERSIST, conn_read, c);
	event_add(c->ev, NULL);
	c->next = conns;
	conns = c;
	nconns++;
	log_debug("%s: lmtp connection from %s, pid %ld", c->sid, remote, (long)c->pid);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char remote[64];
	int client = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

	if (client < 0)
		return;
	if (M->stopping || nconns >= (unsigned long)M->cfg.max_connections) {
		log_warn("lmtp: too many connections; refusing one");
		close(client);
		return;
	}
	metrics_connection(1);
	net_addr_text((struct sockaddr *)&ss, remote, sizeof(remote));
	conn_start(client, remote);
	close(client);
}

int lmtp_open_listeners(struct error *err)
{
	nlisten = net_listen_list(M->cfg.lmtp_listen, listen_fds, NET_MAX_LISTENERS, err);
	return nlisten < 0 ? -1 : 0;
}

void lmtp_start_listening(void)
{
	for (int i = 0; i < nlisten; i++) {
		listen_ev[i] = event_new(M->base, listen_fds[i], EV_READ | EV_PERSIST, on_accept,
					 NULL);
		event_add(listen_ev[i], NULL);
	}
}

void lmtp_stop(void)
{
	for (int i = 0; i < nlisten; i++) {
		event_free(listen_ev[i]);
		close(listen_fds[i]);
	}
	nlisten = 0;
	for (struct lmtp_conn *c = conns; c; c = c->next)
		if (c->pid > 0)
			kill(c->pid, SIGTERM);
}

void lmtp_kill_all(void)
{
	for (struct lmtp_conn *c = conns; c; c = c->next)
		if (c->pid > 0)
			kill(c->pid, SIGKILL);
}

int lmtp_child_exited(pid_t pid)
{
	for (struct lmtp_conn *c = conns; c; c = c->next) {
		if (c->pid == pid) {
			conn_free(c);
			return 1;
		}
	}
	return 0;
}

int lmtp_none_left(void)
{
	return conns == NULL;
}

unsigned lmtp_count(void)
{
	return nconns;
}

void lmtp_free_all(void)
{
	while (conns)
		conn_free(conns);
	while (deliveries)
		delivery_remove(deliveries);
}

static struct lmtp_slot *slot_of_req(uint32_t req, struct lmtp_conn **cp, uint32_t *slot)
{
	for (struct lmtp_conn *c = conns; c; c = c->next) {
		for (uint32_t i = 0; i < LMTP_MAX_RCPT; i++) {
			if (c->slot[i].state == SLOT_LOOKUP && c->slot[i].req == req) {
				*cp = c;
				*slot = i;
				return &c->slot[i];
			}
		}
	}
	return NULL;
}

static uint32_t rcpt_status(uint32_t auth_status, const char *reason)
{
	if (auth_status == AUTH_OK)
		return LMTP_RCPT_OK;
	if (auth_status == AUTH_FAIL)
		return strcmp(reason, "disabled") == 0 ? LMTP_RCPT_DISABLED : LMTP_RCPT_UNKNOWN;
	return LMTP_RCPT_TEMPFAIL;
}

int lmtp_auth_result(struct ipc_msg *m)
{
	struct worker_identity id;
	struct lmtp_conn *c;
	const char *reason;
	uint32_t slot, status;
	struct lmtp_slot *s = slot_of_req(m->id, &c, &slot);

	if (s == NULL)
		return 0;
	if (authchan_result_decode(m, &status, &id, &reason) < 0) {
		log_err("auth helper sent a malformed result");
		status = AUTH_TEMPFAIL;
	}
	status = rcpt_status(status, reason);
	s->state = status == LMTP_RCPT_OK ? SLOT_OK : SLOT_FREE;
	if (s->state == SLOT_OK) {
		s->user = xstrdup(id.user);
		s->home = xstrdup(id.home);
		s->uid = id.uid;
		s->gid = id.gid;
		s->id = id.id;
		s->quota_bytes = id.quota_bytes;
		s->quota_messages = id.quota_messages;
	}
	rcpt_answer(c, slot, status, s->state == SLOT_OK ? s->user : "");
	return 1;
}

void lmtp_auth_gone(void)
{
	for (struct lmtp_conn *c = conns; c; c = c->next) {
		for (uint32_t i = 0; i < LMTP_MAX_RCPT; i++) {
			if (c->slot[i].state == SLOT_LOOKUP) {
				c->slot[i].state = SLOT_FREE;
				rcpt_answer(c, i, LMTP_RCPT_TEMPFAIL, "");
			}
		}
	}
}

void lmtp_delivered(pid_t worker, struct ipc_msg *m)
{
	uint32_t req, status;
	const char *text;
	struct delivery *d;

	if (ipc_get_u32(m, &req) < 0 || ipc_get_u32(m, &status) < 0 ||
	    ipc_get_str(m, &text) < 0 || ipc_get_end(m) < 0) {
		log_err("worker pid %ld sent a malformed delivery answer", (long)worker);
		return;
	}
	for (d = deliveries; d; d = d->next)
		if (d->req == req && d->worker == worker)
			break;
	if (d == NULL)
		return;
	metrics_delivery(status);
	if (d->conn)
		send_u32_u32_str(d->conn, MSG_LMTP_DELIVERED, d->slot, status, text);
	delivery_remove(d);
}

/* A worker answers once the message is durable, so one that ended
 * without answering most likely stored nothing: the MTA tries again
 * later. (Only an end between the store's commit and the answer, a
 * window of microseconds, makes that a second copy, as with any LMTP
 * server.) */
void lmtp_worker_gone(pid_t worker)
{
	struct delivery *d = deliveries, *next;

	for (; d; d = next) {
		next = d->next;
		if (d->worker != worker)
			continue;
		if (d->conn)
			send_u32_u32_str(d->conn, MSG_LMTP_DELIVERED, d->slot,
					 LMTP_DELIVER_TEMPFAIL, "Delivery process ended");
		delivery_remove(d);
	}
}
