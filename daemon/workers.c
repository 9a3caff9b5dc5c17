/* User workers: one per logged-in user, serving all that user's sessions.
 * The master starts a worker already dropped to the user's uid, passes each
 * new session (socket + state) to it, and lets it exit when idle through a
 * quit handshake so that no session is ever sent to a worker on its way
 * out. With worker_reuse, up to that many idle workers are kept instead
 * (parked) and adopted by the next user of the same uid and gid who has
 * no worker: its mail store stays open, so a database store keeps a warm
 * connection (Dovecot reuses its imap processes the same way). */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_worker.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"
#include "master.h"

static void worker_free(struct user_worker *w)
{
	struct user_worker **pp;
	for (pp = &M->workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	if (w->ev)
		event_free(w->ev);
	if (w->chan >= 0)
		close(w->chan);
	free(w->user);
	free(w->home);
	free(w);
}

static unsigned parked_count(void)
{
	unsigned n = 0;
	for (struct user_worker *w = M->workers; w; w = w->next)
		n += w->parked && !w->quitting;
	return n;
}

/* An idle worker asks to exit. It is kept if reuse wants more kept
 * workers and it has seen every session sent to it (one on its way would
 * make it busy again); a kept one asking again has waited long enough. */
static void quit_or_park(struct user_worker *w, uint32_t seen)
{
	if (!w->quitting && !w->parked && seen == w->sessions_sent &&
	    parked_count() < (unsigned long)M->cfg.worker_reuse) {
		w->parked = 1;
		ipc_send_empty(w->chan, MSG_WORKER_PARK_OK, 0, -1);
		log_debug("worker of %s (pid %ld) kept for reuse", w->user, (long)w->pid);
		return;
	}
	/* From now on this user gets a fresh worker. */
	w->quitting = 1;
	ipc_send_empty(w->chan, MSG_WORKER_QUIT_OK, 0, -1);
}

/* MSG_WORKER_UNAUTH: the session's socket goes back to a login worker.
 * -1 when malformed (the worker is killed). */
static int worker_unauth(struct ipc_msg *m)
{
	const char *sid;
	const unsigned char *left;
	size_t len;
	struct stat st;

	if (m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_bytes(m, &left, &len) < 0 ||
	    ipc_get_end(m) < 0 || fstat(m->fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    strlen(sid) >= sizeof(((struct login_conn *)0)->sid) ||
	    sid[strspn(sid, "s0123456789.")] != '\0')
		return -1;
	logins_take_back(sid, m->fd, left, len);
	m->fd = -1;
	return 0;
}

static void worker_read(evutil_socket_t fd, short what, void *arg)
{
	struct user_worker *w = arg;
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 1);
	if (r == -2)
		return;
	if (r > 0 && m.fd >= 0 && m.type != MSG_WORKER_UNAUTH) {
		ipc_msg_free(&m);
		r = -1;   /* an fd only comes with a session handed back */
	}
	if (r <= 0) {
		if (r < 0)
			log_warn("worker for %s: bad message framing; killing it", w->user);
		if (r < 0 && w->pid > 0)
			kill(w->pid, SIGKILL);
		w->quitting = 1;
		lmtp_worker_gone(w->pid);
		admin_worker_gone(w->pid);
		event_free(w->ev);
		w->ev = NULL;
		close(w->chan);
		w->chan = -1;
		return;
	}
	uint32_t seen;
	if (m.type == MSG_WORKER_QUIT_REQ && ipc_get_u32(&m, &seen) == 0 && ipc_get_end(&m) == 0) {
		quit_or_park(w, seen);
	} else if (m.type == MSG_WORKER_DELIVERED && m.fd < 0) {
		lmtp_delivered(w->pid, &m);
	} else if (m.type == MSG_WORKER_STATS && m.fd < 0 && metrics_worker_stats(&m) == 0) {
		/* added up */
	} else if ((m.type == MSG_WORKER_SESSIONS || m.type == MSG_WORKER_KICKED) && m.fd < 0 &&
		   admin_worker_answer(w, &m) == 0) {
		/* relayed to haven-admin */
	} else if (m.type == MSG_WORKER_UNAUTH && worker_unauth(&m) == 0) {
		/* the connection is a login worker's again */
	} else {
		log_warn("worker for %s sent unexpected message %u; killing it", w->user, m.type);
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
		w->quitting = 1;
	}
	ipc_msg_free(&m);
}

/* The rest of the auth helper's record of the user, as the worker reads
 * it (-c, and in an adoption): ID:QUOTA_BYTES:QUOTA_MESSAGES. */
static void identity_record(const struct worker_identity *id, char *buf, size_t size)
{
	snprintf(buf, size, "%lld:%llu:%llu", (long long)id->id,
		 (unsigned long long)id->quota_bytes, (unsigned long long)id->quota_messages);
}

/* w serves id's user (uid and gid are set at spawn and never change). */
static void worker_take_identity(struct user_worker *w, const struct worker_identity *id)
{
	free(w->user);
	free(w->home);
	w->user = xstrdup(id->user);
	w->home = xstrdup(id->home);
	w->id = id->id;
	w->quota_bytes = id->quota_bytes;
	w->quota_messages = id->quota_messages;
}

static struct user_worker *worker_spawn(const struct worker_identity *id)
{
	struct user_worker *w;
	char uidbuf[16], gidbuf[16], record[80];
	int chan;

	/* The worker drops to uid/gid itself, first thing after exec: the
	 * binary may live where the mail user cannot reach it. */
	snprintf(uidbuf, sizeof(uidbuf), "%lu", (unsigned long)id->uid);
	snprintf(gidbuf, sizeof(gidbuf), "%lu", (unsigned long)id->gid);
	identity_record(id, record, sizeof(record));
	const char *extra[] = { "-a", id->user, "-b", id->home, "-c", record, "-e", uidbuf,
				"-f", gidbuf, NULL };
	pid_t pid = spawn_with_chan("haven-worker", extra, &chan);
	if (pid < 0)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	worker_take_identity(w, id);
	w->uid = id->uid;
	w->gid = id->gid;
	w->pid = pid;
	w->chan = chan;
	w->ev = event_new(M->base, w->chan, EV_READ | EV_PERSIST, worker_read, w);
	event_add(w->ev, NULL);
	w->next = M->workers;
	M->workers = w;
	log_debug("worker for %s started, pid %ld uid %ld", id->user, (long)pid, (long)id->uid);
	return w;
}

/* Whether w serves exactly this identity: a changed uid, home, id or
 * quota in the passdb means a new worker, not a reused one. */
static int worker_same(const struct user_worker *w, const struct worker_identity *id)
{
	return w->uid == id->uid && w->gid == id->gid && strcmp(w->home, id->home) == 0 &&
	       w->id == id->id && w->quota_bytes == id->quota_bytes &&
	       w->quota_messages == id->quota_messages;
}

/* w, kept, serves id's user from now on (the same uid and gid: no
 * privilege changes hands). 0, or -1 if it cannot be told (gone). */
static int worker_adopt(struct user_worker *w, const struct worker_identity *id)
{
	struct ipc_out o;
	char record[80];
	int r;

	identity_record(id, record, sizeof(record));
	ipc_out_init(&o, MSG_WORKER_ADOPT, 0);
	ipc_put_str(&o, id->user);
	ipc_put_str(&o, id->home);
	ipc_put_str(&o, record);
	r = ipc_send(w->chan, &o, -1);
	ipc_out_free(&o);
	if (r < 0) {
		w->quitting = 1;
		return -1;
	}
	log_debug("worker pid %ld of %s now serves %s", (long)w->pid, w->user, id->user);
	worker_take_identity(w, id);
	w->parked = 0;
	return 0;
}

/* A kept worker of id's uid and gid that takes id's user, or NULL. */
static struct user_worker *worker_kept_for(const struct worker_identity *id)
{
	for (struct user_worker *w = M->workers; w; w = w->next)
		if (w->parked && !w->quitting && w->uid == id->uid && w->gid == id->gid &&
		    worker_adopt(w, id) == 0)
			return w;
	return NULL;
}

/* The user's running worker, or a kept one, or a new one. */
static struct user_worker *worker_for(const struct worker_identity *id)
{
	struct user_worker *w;

	for (w = M->workers; w; w = w->next)
		if (!w->quitting && !w->parked && strcmp(w->user, id->user) == 0)
			break;
	if (w && !worker_same(w, id))
		w->quitting = 1, w = NULL;
	if (w == NULL)
		w = worker_kept_for(id);
	return w ? w : worker_spawn(id);
}

static int send_session(struct user_worker *w, struct login_conn *lc, int fd)
{
	struct ipc_out o;
	int r;

	ipc_out_init(&o, MSG_WORKER_SESSION, 0);
	ipc_put_str(&o, lc->sid);
	ipc_put_str(&o, lc->tag ? lc->tag : "*");
	ipc_put_str(&o, lc->remote);
	ipc_put_u32(&o, lc->tls);
	ipc_put_str(&o, lc->enabled ? lc->enabled : "");
	ipc_put_bytes(&o, lc->leftover, lc->leftover_len);
	ipc_put_u32(&o, lc->proto);
	r = ipc_send(w->chan, &o, fd);
	ipc_out_free(&o);
	return r;
}

int workers_hand_off(const struct worker_identity *id, struct login_conn *lc, int fd)
{
	const char *user = id->user;
	struct user_worker *w = worker_for(id);
	int r = w ? send_session(w, lc, fd) : -1;

	if (w && r < 0 && (errno == EPIPE || errno == ECONNREFUSED || errno == ECONNRESET)) {
		/* It died and its exit is not reaped yet (a crash, a kill):
		 * the session goes to a new worker instead. */
		log_warn("worker for %s is gone; starting a new one for %s", user, lc->sid);
		w->quitting = 1;
		if ((w = worker_spawn(id)) != NULL)
			r = send_session(w, lc, fd);
	}
	close(fd);
	if (r < 0) {
		log_err("handing session to worker for %s: %s", user, strerror(errno));
		return -1;
	}
	w->sessions_sent++;
	return 0;
}

static int send_delivery(struct user_worker *w, uint32_t req, const struct deliver_env *e,
			 int fd)
{
	struct ipc_out o;
	int r;

	ipc_out_init(&o, MSG_WORKER_DELIVER, 0);
	ipc_put_u32(&o, req);
	ipc_put_str(&o, e->mailbox);
	ipc_put_str(&o, e->from);
	ipc_put_str(&o, e->to);
	ipc_put_bytes(&o, e->trace, e->tracelen);
	r = ipc_send(w->chan, &o, fd);
	ipc_out_free(&o);
	return r;
}

pid_t workers_deliver(const struct worker_identity *id, uint32_t req,
		      const struct deliver_env *e, int fd)
{
	struct user_worker *w = worker_for(id);
	int r = w ? send_delivery(w, req, e, fd) : -1;

	if (w && r < 0 && (errno == EPIPE || errno == ECONNREFUSED || errno == ECONNRESET)) {
		w->quitting = 1;  /* gone, not reaped yet: as in workers_hand_off */
		if ((w = worker_spawn(id)) != NULL)
			r = send_delivery(w, req, e, fd);
	}
	if (r < 0) {
		log_err("handing a delivery to the worker for %s: %s", id->user, strerror(errno));
		return -1;
	}
	w->sessions_sent++;  /* a delivery keeps a worker from quitting as a session does */
	return w->pid;
}

int workers_child_exited(pid_t pid)
{
	for (struct user_worker *w = M->workers; w; w = w->next) {
		if (w->pid == pid) {
			log_debug("worker for %s (pid %ld) exited", w->user, (long)pid);
			lmtp_worker_gone(pid);
			admin_worker_gone(pid);
			worker_free(w);
			return 1;
		}
	}
	return 0;
}

void workers_stop_all(void)
{
	for (struct user_worker *w = M->workers; w; w = w->next)
		if (w->pid > 0)
			kill(w->pid, SIGTERM);
}

void workers_reload(void)
{
	for (struct user_worker *w = M->workers; w; w = w->next) {
		if (w->parked && !w->quitting) {
			w->quitting = 1;
			ipc_send_empty(w->chan, MSG_WORKER_QUIT_OK, 0, -1);
		}
	}
}

unsigned workers_count(void)
{
	unsigned n = 0;
	for (struct user_worker *w = M->workers; w; w = w->next)
		n++;
	return n;
}
