/* Pre-auth connections and the pool of login workers.
 *
 * The master keeps login_pool_size login workers started and waiting: each
 * one has loaded TLS, chrooted and dropped to the login user before it
 * said READY, so it holds no privilege by the time it gets a client. An
 * accepted connection goes to an idle worker at once, or waits in a queue
 * until one is READY; the accept path never forks. Starting workers
 * happens from a timer, a few at a time, so a burst of connections cannot
 * stall the event loop.
 *
 * The master keeps its own copy of the client socket so that, for a
 * plaintext session, the user worker gets the socket from the master and
 * never from the untrusted login worker. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_login.h"
#include "../lib/xmalloc.h"
#include "master.h"

/* Workers spawned but not READY yet, at most: bounds a fork burst. */
#define LOGIN_MAX_STARTING_MIN 8
/* Spawns per turn of the event loop. */
#define LOGIN_SPAWN_BATCH 2
/* After this many workers in a row died before READY, back off. */
#define LOGIN_FAIL_STREAK 3
#define LOGIN_BACKOFF_MAX 30
/* With idle workers left and nobody waiting, refilling can wait this
 * long: starting a process then does not compete with the logins in
 * progress, and a burst is refilled in one go. */
#define LOGIN_REFILL_LAZY_MS 20

/* Clients waiting this long for a login worker are worth a warning
 * (once per LOGIN_WAIT_WARN_EVERY): it means the pool cannot keep up. */
#define LOGIN_WAIT_WARN_SEC 2
#define LOGIN_WAIT_WARN_EVERY 10

static struct event *refill_ev, *wait_watch_ev;
static time_t wait_warned;
static unsigned fail_streak;
static int refill_backoff;  /* the pending refill is a backoff: leave it be */
static int refill_lazy;     /* the pending refill may be brought forward */

static void refill_cb(evutil_socket_t fd, short what, void *arg);
static void start_failed(void);

static void refill_arm(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (refill_ev == NULL)
		refill_ev = evtimer_new(M->base, refill_cb, NULL);
	evtimer_add(refill_ev, &tv);
}

/* Check the pool soon: at once when a client waits or no worker is idle. */
static void schedule_refill(void)
{
	if (M->stopping)
		return;
	int lazy = M->login_idle > 0 && M->login_queue == NULL;
	if (refill_ev && evtimer_pending(refill_ev, NULL) &&
	    (refill_backoff || !refill_lazy || lazy))
		return;
	refill_lazy = lazy;
	refill_arm(lazy ? LOGIN_REFILL_LAZY_MS : 0);
}

static void schedule_backoff(long sec)
{
	refill_backoff = 1;
	refill_lazy = 0;
	refill_arm(sec * 1000);
}

/* --- connections ------------------------------------------------------- */

/* The connection is no longer a pre-auth one of its network. */
void logins_conn_uncount(struct login_conn *lc)
{
	perip_del(lc->net);
	lc->net[0] = '\0';
}

static void conn_free(struct login_conn *lc)
{
	logins_conn_uncount(lc);
	if (lc->client_fd >= 0)
		close(lc->client_fd);
	free(lc->tag);
	free(lc->enabled);
	free(lc->leftover);
	free(lc);
	M->login_conns--;
}

/* Say a fixed IMAP BYE ("* BYE [UNAVAILABLE] text\r\n") as lc's protocol
 * does, and close: implicit TLS gets only the close (the master speaks no
 * TLS), ManageSieve BYE (TRYLATER) "text". The master writes but never
 * reads client bytes. */
static void refuse(struct login_conn *lc, int fd, const char *imap_bye)
{
	static const char unavailable[] = "[UNAVAILABLE] ";
	const char *text = lc->implicit_tls ? "" : imap_bye;
	char ms[160];

	if (!lc->implicit_tls && lc->proto == LOGIN_PROTO_MANAGESIEVE) {
		const char *t = imap_bye + strlen("* BYE ");
		int busy = strncmp(t, unavailable, strlen(unavailable)) == 0;
		if (busy)
			t += strlen(unavailable);
		snprintf(ms, sizeof(ms), "BYE%s \"%.*s\"\r\n", busy ? " (TRYLATER)" : "",
			 (int)strcspn(t, "\r"), t);
		text = ms;
	}
	ssize_t r = write(fd, text, strlen(text));
	(void)r;
	close(fd);
}

static void conn_refuse(struct login_conn *lc, const char *text)
{
	if (lc->client_fd >= 0) {
		refuse(lc, lc->client_fd, text);
		lc->client_fd = -1;
	}
	conn_free(lc);
}

static unsigned queue_len(void);

/* While clients wait, look once a second whether one has waited too long. */
static void wait_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_conn *oldest = M->login_queue;
	time_t now = time(NULL);

	if (oldest == NULL || M->stopping)
		return;
	if (now - oldest->queued_at >= LOGIN_WAIT_WARN_SEC &&
	    now - wait_warned >= LOGIN_WAIT_WARN_EVERY) {
		wait_warned = now;
		log_warn("%u connections wait for a login worker, the oldest for %ld s "
			 "(%u starting; see login_pool_size, max_connections)",
			 queue_len(), (long)(now - oldest->queued_at), M->login_starting);
	}
	struct timeval tv = { 1, 0 };
	evtimer_add(wait_watch_ev, &tv);
}

static void queue_push(struct login_conn *lc)
{
	struct timeval tv = { 1, 0 };

	lc->queued_at = time(NULL);
	if (wait_watch_ev == NULL)
		wait_watch_ev = evtimer_new(M->base, wait_watch_cb, NULL);
	if (!evtimer_pending(wait_watch_ev, NULL))
		evtimer_add(wait_watch_ev, &tv);
	lc->next = NULL;
	if (M->login_queue_tail)
		M->login_queue_tail->next = lc;
	else
		M->login_queue = lc;
	M->login_queue_tail = lc;
}

static struct login_conn *queue_pop(void)
{
	struct login_conn *lc = M->login_queue;
	if (lc) {
		M->login_queue = lc->next;
		if (M->login_queue == NULL)
			M->login_queue_tail = NULL;
		lc->next = NULL;
	}
	return lc;
}

static unsigned queue_len(void)
{
	unsigned n = 0;
	for (struct login_conn *lc = M->login_queue; lc; lc = lc->next)
		n++;
	return n;
}

static void queue_refuse_all(const char *text)
{
	struct login_conn *lc;
	while ((lc = queue_pop()) != NULL)
		conn_refuse(lc, text);
}

/* --- worker processes -------------------------------------------------- */

/* Every change of a worker's state goes through here, and so does the
 * one consequence all of them share: a worker that stops being idle,
 * starting or returning is one that waiting clients and the pool counted
 * on, and need_spawn() may now say yes. Refilling only from the accept
 * and exit paths let a burst's last clients wait, once max_starting
 * workers had started, until some other client went away. */
static void set_state(struct login_proc *p, enum login_proc_state st)
{
	int counted = p->state == LP_IDLE || p->state == LP_STARTING || p->returning;

	if (p->state == LP_IDLE)
		M->login_idle--;
	else if (p->state == LP_STARTING)
		M->login_starting--;
	if (p->returning) {
		p->returning = 0;
		M->login_returning--;
	}
	if (counted && st != p->state)
		schedule_refill();
	p->state = st;
	if (st == LP_IDLE) {
		M->login_idle++;
		/* Idle workers stay at the head: finding one is quick. */
		struct login_proc **pp;
		for (pp = &M->login_procs; *pp && *pp != p; pp = &(*pp)->next)
			;
		if (*pp) {
			*pp = p->next;
			p->next = M->login_procs;
			M->login_procs = p;
		}
	} else if (st == LP_STARTING) {
		M->login_starting++;
	}
}

void logins_proc_done(struct login_proc *p)
{
	set_state(p, LP_DONE);
}

/* Signal a login worker: through its pidfd when a template forked it (it
 * is not our child, so its pid alone could name another process by now);
 * one not forked yet has nothing to signal, its channel is all it has. */
static void proc_signal(struct login_proc *p, int sig)
{
	if (p->pidfd >= 0) {
		/* A kernel without the call (or valgrind, which does not
		 * know it) leaves only the pid. The template reaps its
		 * workers, so the pid can name a new process if the worker
		 * ended this very moment: a narrow window, in a fallback. */
		if (pidfd_send_signal(p->pidfd, sig, NULL, 0) == -1 &&
		    errno == ENOSYS && p->pid > 0)
			kill(p->pid, sig);
	} else if (p->pid > 0 && !p->forked)
		kill(p->pid, sig);
}

static void proc_close_chan(struct login_proc *p)
{
	chan_close(&p->ev, &p->chan);
	if (p->conn && p->conn->client_fd >= 0) {
		close(p->conn->client_fd);
		p->conn->client_fd = -1;
	}
}

/* No more clients for p: closing its channel makes an idle worker exit.
 * The record goes when the process is reaped. */
static void proc_retire(struct login_proc *p)
{
	p->retired = 1;
	set_state(p, LP_DONE);
	proc_close_chan(p);
}

/* A login worker misbehaved or its channel broke: end it. */
void logins_kill(struct login_proc *p, const char *why)
{
	log_warn("%s: login worker %ld: %s; killing it", p->conn ? p->conn->sid : "pool",
		 (long)p->pid, why);
	proc_signal(p, SIGKILL);
	set_state(p, LP_DONE);
	proc_close_chan(p);
}

static void proc_free(struct login_proc *p)
{
	struct login_proc **pp;
	for (pp = &M->login_procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	set_state(p, LP_DONE);
	proc_close_chan(p);
	if (p->pidfd_ev)
		event_free(p->pidfd_ev);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->conn)
		conn_free(p->conn);
	free(p);
}

/* Give lc to the idle worker p. 0, or -1 when p is broken (and killed). */
static int proc_assign(struct login_proc *p, struct login_conn *lc)
{
	struct ipc_out o;
	int r;

	if (lc->back) {
		ipc_out_init(&o, MSG_LOGIN_CLIENT_BACK, 0);
		ipc_put_str(&o, lc->sid);
		ipc_put_str(&o, lc->remote);
		ipc_put_u32(&o, lc->secured);
		ipc_put_bytes(&o, lc->leftover, lc->leftover_len);
	} else {
		ipc_out_init(&o, MSG_LOGIN_CLIENT, 0);
		ipc_put_str(&o, lc->sid);
		ipc_put_str(&o, lc->remote);
		ipc_put_u32(&o, (uint32_t)lc->implicit_tls);
		ipc_put_u32(&o, lc->proto);
	}
	r = ipc_send(p->chan, &o, lc->client_fd);
	ipc_out_free(&o);
	if (r < 0) {
		logins_kill(p, "cannot pass it a client");
		return -1;
	}
	set_state(p, LP_BUSY);
	p->served++;
	p->conn = lc;
	lc->proc = p;
	if (p->served < (unsigned long)M->cfg.login_connections_per_process && !lc->implicit_tls) {
		/* It will most likely be back for another client. */
		p->returning = 1;
		M->login_returning++;
	}
	log_debug("%s: connection from %s, login worker %ld", lc->sid, lc->remote, (long)p->pid);
	return 0;
}

static struct login_proc *idle_proc(void)
{
	if (M->login_idle == 0)
		return NULL;
	for (struct login_proc *p = M->login_procs; p; p = p->next)
		if (p->state == LP_IDLE)
			return p;
	return NULL;
}

/* p just became READY: serve the oldest waiting client, or wait in the
 * pool if there is room, or go. */
static void proc_ready(struct login_proc *p)
{
	struct login_conn *lc;

	p->ready = 1;
	if (p->gen != M->login_gen || M->stopping) {
		proc_retire(p);
		return;
	}
	if ((lc = queue_pop()) != NULL) {
		set_state(p, LP_IDLE);
		if (proc_assign(p, lc) == 0)
			return;
		/* p is dead; the client waits for the next one. */
		lc->next = M->login_queue;
		M->login_queue = lc;
		if (M->login_queue_tail == NULL)
			M->login_queue_tail = lc;
		schedule_refill();
		return;
	}
	if (M->login_idle >= (unsigned)M->cfg.login_pool_size) {
		proc_retire(p);
		return;
	}
	set_state(p, LP_IDLE);
}


static void login_read(evutil_socket_t fd, short what, void *arg)
{
	struct login_proc *p = arg;
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0) {
		/* Worker exited or broke; the reaper frees the record. */
		if (r < 0)
			logins_kill(p, "bad message framing");
		else {
			set_state(p, LP_DONE);
			proc_close_chan(p);
		}
		/* A forked worker whose template ended before saying which
		 * process it is: no exit will name it, this is its end. */
		if (p->forked && p->pid == 0 && p->tmpl == NULL)
			proc_free(p);
		return;
	}
	switch (m.type) {
	case MSG_LOGIN_AUTH:
		if (p->state != LP_BUSY || p->conn == NULL)
			logins_kill(p, "auth request without a client");
		else
			logins_auth_step(p->conn, &m);
		break;
	case MSG_LOGIN_READY:
		if (ipc_get_end(&m) < 0) {
			logins_kill(p, "malformed READY");
		} else if (p->state == LP_STARTING) {
			fail_streak = 0;
			master_started();
			proc_ready(p);
		} else if (p->state == LP_BUSY && p->conn && p->conn->auth_req == 0 &&
			   !p->conn->tls && !p->conn->implicit_tls) {
			/* Its connection is over and nothing of it is left:
			 * it may take another client if the setting (of the
			 * configuration it was started with) allows. */
			conn_free(p->conn);
			p->conn = NULL;
			set_state(p, LP_DONE);
			if (p->gen == M->login_gen &&
			    p->served >= (unsigned long)M->cfg.login_connections_per_process)
				logins_kill(p, "READY after its last client");
			else
				proc_ready(p);
			schedule_refill();
		} else {
			logins_kill(p, "READY when it may not take a client");
		}
		break;
	default:
		logins_kill(p, "unexpected message type");
		break;
	}
	/* Credentials went through it. */
	ipc_msg_free_secret(&m);
}

/* Start a login worker: 0, or 1 when the login template it would come
 * from is not ready yet (refilling resumes when it is), or -1. */
static int proc_spawn(void)
{
	struct login_proc *p;
	struct login_tmpl *t = NULL;
	uint32_t fork_id = 0;
	pid_t pid = 0;
	int chan;

	if (M->cfg.login_fork) {
		int sv[2], r;
		if (ipc_socketpair(sv) < 0) {
			log_err("socketpair: %s", strerror(errno));
			return -1;
		}
		if ((r = login_tmpl_fork(sv[1], &t, &fork_id)) != 0) {
			close(sv[0]);
			return r;
		}
		chan = sv[0];
	} else {
		const char *extra[] = { "-d", M->login_user ? M->login_user : M->cfg.login_user,
					NULL };
		if ((pid = spawn_with_chan("haven-login", extra, &chan)) < 0)
			return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->forked = t != NULL;
	p->tmpl = t;
	p->fork_id = fork_id;
	p->pidfd = -1;
	p->chan = chan;
	p->gen = M->login_gen;
	p->state = LP_DONE;
	set_state(p, LP_STARTING);
	p->ev = event_new(M->base, p->chan, EV_READ | EV_PERSIST, login_read, p);
	event_add(p->ev, NULL);
	p->next = M->login_procs;
	M->login_procs = p;
	return 0;
}

/* --- workers forked by the login template ----------------------------- */

static void proc_exited(struct login_proc *p)
{
	if (!p->ready && !p->retired)
		start_failed();
	proc_free(p);
	if (!M->stopping)
		schedule_refill();
}

/* The template reaps its workers a moment after the pidfd says one
 * exited: look for the status this often, this many times. */
#define STATUS_WAIT_MS 10
#define STATUS_WAITS 20

/* The pidfd names this very process: no search by a pid that the
 * template has already reaped (and the kernel may hand out again). A
 * crash (a seccomp kill above all) is logged with the session it ended,
 * where the kernel tells the status (pidfd.c). */
static void proc_exited_cb(evutil_socket_t fd, short what, void *arg)
{
	struct login_proc *p = arg;
	int status, sig, r = pidfd_exit_status(p->pidfd, &status);

	if (r == 1 && p->status_waits++ < STATUS_WAITS && !M->stopping) {
		struct timeval tv = { 0, STATUS_WAIT_MS * 1000 };
		event_del(p->pidfd_ev);
		event_assign(p->pidfd_ev, M->base, -1, EV_TIMEOUT, proc_exited_cb, p);
		evtimer_add(p->pidfd_ev, &tv);
		return;
	}
	if (r == 0 && WIFSIGNALED(status) && (sig = WTERMSIG(status)) != SIGTERM && sig != SIGKILL)
		log_warn("%s: login worker %ld (client %s) killed by signal %d (%s)",
			 p->conn ? p->conn->sid : "pool", (long)p->pid,
			 p->conn ? p->conn->remote : "none", sig, child_signal_text(sig));
	proc_exited(p);
}

void logins_forked(struct login_tmpl *t, uint32_t id, pid_t pid, int pidfd)
{
	struct login_proc *p;

	for (p = M->login_procs; p; p = p->next)
		if (p->tmpl == t && p->fork_id == id)
			break;
	if (p == NULL) {
		/* Its record went (its channel closed, SIGHUP): the worker
		 * sees that channel closed and exits by itself. */
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	p->tmpl = NULL;
	if (pid == 0) {
		log_err("login template could not start a login worker");
		start_failed();
		proc_free(p);
		schedule_refill();
		return;
	}
	p->pid = pid;
	p->pidfd = pidfd;
	p->pidfd_ev = event_new(M->base, pidfd, EV_READ, proc_exited_cb, p);
	event_add(p->pidfd_ev, NULL);
}

void logins_tmpl_ready(void)
{
	master_started();
	fail_streak = 0;
	schedule_refill();
}

/* A template ended. Its workers live on; those it was still asked for and
 * has not named never will be: the ones that did not say READY are given
 * up (their channel closes, so a worker that does exist exits), the others
 * end with their channel. */
void logins_tmpl_gone(struct login_tmpl *t, int before_ready)
{
	struct login_proc *p, *next;

	if (before_ready)
		start_failed();
	for (p = M->login_procs; p; p = next) {
		next = p->next;
		if (p->tmpl != t)
			continue;
		p->tmpl = NULL;
		if (!p->ready)
			proc_free(p);
	}
}

/* Workers keep dying before they are READY (a TLS key they cannot read, a
 * missing binary): say so to the waiting clients and try again later. */
static void start_failed(void)
{
	fail_streak++;
	if (fail_streak < LOGIN_FAIL_STREAK)
		return;
	if (!M->started) {
		/* Not once since the start: no retry will do better. */
		master_start_failed("login workers cannot start (see the errors above)");
		return;
	}
	long delay = 1L << (fail_streak - LOGIN_FAIL_STREAK < 5 ? fail_streak - LOGIN_FAIL_STREAK : 5);
	if (delay > LOGIN_BACKOFF_MAX)
		delay = LOGIN_BACKOFF_MAX;
	log_err("login workers fail to start (%u in a row); retrying in %ld s", fail_streak, delay);
	queue_refuse_all("* BYE [UNAVAILABLE] Server busy\r\n");
	schedule_backoff(delay);
}

/* Start another worker? Waiting clients get one each, never counting on
 * busy workers to come back (a slow client may hold one for
 * preauth_timeout). The pool is full with login_pool_size idle workers,
 * counting busy ones that will come back when login_connections_per_process
 * allows it: otherwise every connection would start a worker and retire
 * another. */
static int need_spawn(unsigned pool, unsigned queued, unsigned max_starting)
{
	if (M->login_starting >= max_starting)
		return 0;
	return M->login_starting < queued ||
	       M->login_idle + M->login_starting + M->login_returning < pool + queued;
}

static void refill_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned pool = (unsigned)M->cfg.login_pool_size;
	unsigned queued = queue_len();
	unsigned max_starting = pool > LOGIN_MAX_STARTING_MIN ? pool : LOGIN_MAX_STARTING_MIN;

	refill_backoff = 0;
	refill_lazy = 0;
	if (M->stopping)
		return;
	/* The pool never holds more than login_pool_size idle workers (it
	 * can shrink after SIGHUP). */
	while (M->login_idle > pool) {
		struct login_proc *p = idle_proc();
		proc_retire(p);
	}
	if (M->cfg.login_fork && login_tmpl_ensure() < 0) {
		start_failed();
		if (!evtimer_pending(refill_ev, NULL))
			schedule_backoff(1);
		return;
	}
	for (int i = 0; i < LOGIN_SPAWN_BATCH; i++) {
		if (!need_spawn(pool, queued, max_starting))
			return;
		int r = proc_spawn();
		if (r > 0)
			return;  /* logins_tmpl_ready() schedules the next turn */
		if (r < 0) {
			start_failed();
			if (M->login_starting == 0)
				queue_refuse_all("* BYE [UNAVAILABLE] Server busy\r\n");
			if (!evtimer_pending(refill_ev, NULL))
				schedule_backoff(1);
			return;
		}
	}
	if (need_spawn(pool, queued, max_starting))
		schedule_refill();
}

void logins_init(void)
{
	/* Nothing to start (login_fork = no and an empty pool): the first
	 * worker starts with the first client. */
	if (!M->cfg.login_fork && M->cfg.login_pool_size == 0)
		master_started();
	schedule_refill();
}

void logins_reload(void)
{
	M->login_gen++;
	login_tmpl_retire_all();
	for (struct login_proc *p = M->login_procs; p; p = p->next)
		if (p->state == LP_IDLE || p->state == LP_STARTING)
			proc_retire(p);
	schedule_refill();
}

/* --- accepting --------------------------------------------------------- */

/* Beyond max_connections, or max_connections_per_ip for its network, a
 * connection gets BYE at once (implicit TLS: a close; the master speaks
 * no TLS). The warnings are rate-limited: a flood must not flood the log. */
#define LIMIT_WARN_EVERY 10

static int accept_refused(struct login_conn *lc)
{
	static struct log_limit total_warn, perip_warn;
	unsigned held;

	if (M->login_conns >= (unsigned)M->cfg.max_connections) {
		if (log_limit_pass(&total_warn, time(NULL), LIMIT_WARN_EVERY, &held))
			log_warn("max_connections (%ld) reached, refusing connections (from %s; "
				 "%u more refused since the last warning)",
				 M->cfg.max_connections, lc->remote, held);
		refuse(lc, lc->client_fd, "* BYE [UNAVAILABLE] Too many connections\r\n");
		return 1;
	}
	perip_network(lc->remote, lc->net, sizeof(lc->net));
	if (perip_add(lc->net) < 0) {
		if (log_limit_pass(&perip_warn, time(NULL), LIMIT_WARN_EVERY, &held))
			log_warn("max_connections_per_ip (%ld) reached for %s, refusing connections "
				 "from it (%s; %u more refused from any network since the last "
				 "warning)", M->cfg.max_connections_per_ip, lc->net, lc->remote, held);
		lc->net[0] = '\0';
		refuse(lc, lc->client_fd,
		       "* BYE [UNAVAILABLE] Too many connections from your network\r\n");
		return 1;
	}
	return 0;
}

static void conn_dispatch(struct login_conn *lc);

void logins_accept(evutil_socket_t lfd, short what, void *arg)
{
	int flags = (int)(intptr_t)arg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct login_conn *lc;
	int fd;

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
	metrics_connection(0);
	lc = xcalloc(1, sizeof(*lc));
	lc->client_fd = fd;
	lc->implicit_tls = (flags & LISTEN_TLS) != 0;
	lc->proto = flags & LISTEN_MANAGESIEVE ? LOGIN_PROTO_MANAGESIEVE : LOGIN_PROTO_IMAP;
	net_addr_text((struct sockaddr *)&ss, lc->remote, sizeof(lc->remote));
	if (accept_refused(lc)) {
		free(lc);
		return;
	}
	lc->id = ++M->next_id;
	snprintf(lc->sid, sizeof(lc->sid), "s%ld.%u", (long)getpid(), lc->id);
	conn_dispatch(lc);
}

/* The login worker proxying TLS for session sid (its record stays while
 * it proxies), or NULL: the session's socket is the client's own. */
static struct login_conn *proxied_conn(const char *sid)
{
	for (struct login_proc *p = M->login_procs; p; p = p->next)
		if (p->conn && p->conn->handed_off && p->conn->tls && strcmp(p->conn->sid, sid) == 0)
			return p->conn;
	return NULL;
}

/* TLS or not and the remote address come from what the master knows
 * (the proxy's record, or the socket's peer): the worker only names the
 * session. The bytes are the client's own, parsed pre-auth again. */
void logins_take_back(const char *sid, int fd, const unsigned char *left, size_t len)
{
	struct login_conn *lc, *proxy = proxied_conn(sid);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss), dl = sizeof(int);
	int domain = -1;

	/* A TLS session's socket leads to its proxy (AF_UNIX), a plaintext
	 * one is the client's TCP socket: a worker naming another session
	 * cannot make a plaintext connection count as TLS. */
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0 ||
	    (domain == AF_UNIX) != (proxy != NULL)) {
		log_warn("%s: a worker handed back a socket that is not the session's", sid);
		close(fd);
		return;
	}
	lc = xcalloc(1, sizeof(*lc));
	lc->client_fd = fd;
	lc->back = 1;
	lc->proto = LOGIN_PROTO_IMAP;
	lc->secured = proxy != NULL;
	if (proxy)
		snprintf(lc->remote, sizeof(lc->remote), "%s", proxy->remote);
	else if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		net_addr_text((struct sockaddr *)&ss, lc->remote, sizeof(lc->remote));
	snprintf(lc->sid, sizeof(lc->sid), "%s", sid);
	lc->leftover = xmalloc(len ? len : 1);
	memcpy(lc->leftover, left, len);
	lc->leftover_len = len;
	if (M->stopping)
		close(fd);
	if (M->stopping || accept_refused(lc)) {   /* (which closed fd) */
		free(lc->leftover);
		free(lc);
		return;
	}
	lc->id = ++M->next_id;
	log_info("%s: unauthenticated, back to a login worker (tls=%u)", sid, lc->secured);
	conn_dispatch(lc);
}

/* A new pre-auth connection: to an idle login worker, or queued. */
static void conn_dispatch(struct login_conn *lc)
{
	struct login_proc *p;

	M->login_conns++;
	/* Never fork here: an idle worker takes the client, or it waits for
	 * the next one that gets READY. */
	while ((p = idle_proc()) != NULL)
		if (proc_assign(p, lc) == 0)
			break;
	if (p == NULL && fail_streak >= LOGIN_FAIL_STREAK && M->login_starting == 0) {
		/* Backing off after failed starts: no worker is coming soon. */
		conn_refuse(lc, "* BYE [UNAVAILABLE] Server busy\r\n");
		return;
	}
	if (p == NULL) {
		queue_push(lc);
		log_debug("%s: connection from %s waits for a login worker", lc->sid, lc->remote);
	}
	schedule_refill();
}

/* --- exits and shutdown ------------------------------------------------ */

void logins_child_exited(pid_t pid)
{
	if (login_tmpl_child_exited(pid)) {
		if (!M->stopping)
			schedule_refill();
		return;
	}
	for (struct login_proc *p = M->login_procs; p; p = p->next) {
		if (p->pid == pid) {
			proc_exited(p);
			return;
		}
	}
}

/* Every login worker. One whose template ended before naming it has no
 * pidfd and no pid to signal, and no exit of it will be seen: closing its
 * channel (with its record) is what ends it. */
static void signal_all(int sig)
{
	struct login_proc *p, *next;
	for (p = M->login_procs; p; p = next) {
		next = p->next;
		if (p->forked && p->pidfd < 0 && p->tmpl == NULL)
			proc_free(p);
		else
			proc_signal(p, sig);
	}
}

void logins_stop_all(void)
{
	if (refill_ev)
		evtimer_del(refill_ev);
	queue_refuse_all("* BYE Server shutting down\r\n");
	signal_all(SIGTERM);
	login_tmpl_signal_all(SIGTERM);
}

void logins_kill_all(void)
{
	signal_all(SIGKILL);
	login_tmpl_signal_all(SIGKILL);
}

int logins_none_left(void)
{
	return M->login_procs == NULL && M->login_queue == NULL && login_tmpl_none_left();
}

void logins_free_all(void)
{
	struct login_conn *lc;
	while (M->login_procs)
		proc_free(M->login_procs);
	while ((lc = queue_pop()) != NULL)
		conn_free(lc);
	login_tmpl_free_all();
	perip_free_all();
	if (refill_ev) {
		event_free(refill_ev);
		refill_ev = NULL;
	}
	if (wait_watch_ev) {
		event_free(wait_watch_ev);
		wait_watch_ev = NULL;
	}
}
