/* haven-worker: one per logged-in user, started by the master with the
 * user's record from the auth helper (-a name, -b home, -c id and quotas,
 * -e uid, -f gid), whose uid it drops to first thing. Receives sessions
 * (socket + state) from the master and serves them all from one event
 * loop. */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_login.h"
#include "../lib/msg_worker.h"
#include "../lib/net.h"
#include "../lib/privdrop.h"
#include "../lib/sandbox.h"
#include "../lib/xmalloc.h"
#include "ms.h"
#include "worker.h"

static struct worker worker_state;
struct worker *W = &worker_state;
static struct event_base *base;
static struct event *master_ev, *idle_ev, *term_ev, *trim_ev, *tidy_ev;

static void maybe_exit(void)
{
	if (W->nsessions == 0 && W->quitting)
		event_base_loopbreak(base);
}

/* MSG_WORKER_QUIT_REQ: seen is how many sessions we were handed, so
 * that the master can tell whether one is on its way. */
static int request_quit(uint32_t seen)
{
	struct ipc_out o;
	int r;

	ipc_out_init(&o, MSG_WORKER_QUIT_REQ, 0);
	ipc_put_u32(&o, seen);
	r = ipc_send(CHILD_FD_MASTER, &o, -1);
	ipc_out_free(&o);
	return r;
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	if (W->nsessions > 0 || W->quit_requested)
		return;
	W->quit_requested = 1;
	if (request_quit(W->sessions_seen) < 0)
		event_base_loopbreak(base);
}

/* Idle: ask to exit (or be kept) after worker_idle_timeout; kept: ask
 * again after worker_reuse_timeout. */
static void arm_idle(void)
{
	struct timeval tv = { W->parked ? W->cfg.worker_reuse_timeout : W->cfg.worker_idle_timeout,
			      0 };
	evtimer_add(idle_ev, &tv);
}

/* Memory a closed mailbox gave back stays in the heap for the next
 * SELECT (malloc_setup) until the worker has been quiet for a while. */
#define TRIM_AFTER_S 10

static void on_trim(evutil_socket_t fd, short what, void *arg)
{
	malloc_trim(0);
}

void worker_memory_released(void)
{
	struct timeval tv = { TRIM_AFTER_S, 0 };
	if (trim_ev)
		evtimer_add(trim_ev, &tv);
}

/* A large mailbox's scan and view are arrays of megabytes. glibc would
 * hand them back to the kernel at every close (mmap'd chunks, or a trim
 * of the heap top), and the next SELECT would pay a page fault and a
 * zeroed page for every 4 KiB of them again: most of a warm SELECT of
 * 100,000 messages. Fixed thresholds keep up to TRIM_KEEP of freed heap
 * for reuse; on_trim returns it once the worker is idle, so an idle
 * worker does not hold it. */
#define TRIM_KEEP (32 << 20)

static void malloc_setup(void)
{
	mallopt(M_MMAP_THRESHOLD, TRIM_KEEP);
	mallopt(M_TRIM_THRESHOLD, TRIM_KEEP);
}

/* What the store leaves for later (store_tidy) runs once no command has
 * come for this long, a batch a turn of the loop, so that a command
 * arriving meanwhile waits for one batch at most. */
#define TIDY_AFTER_MS 300

static void on_tidy(evutil_socket_t fd, short what, void *arg)
{
	struct error err;
	struct timeval now = { 0, 0 };
	int r = store_tidy(W->store, &err);

	if (r < 0)
		log_warn("deferred store work: %s", err.msg);
	else if (r > 0)
		evtimer_add(tidy_ev, &now);
}

void worker_tidy_later(void)
{
	struct timeval tv = { 0, TIDY_AFTER_MS * 1000 };
	if (tidy_ev)
		evtimer_add(tidy_ev, &tv);
}

static void on_command(const char *name, uint64_t usec)
{
	worker_stats_command(name, usec);
	worker_tidy_later();
	worker_admin_db_poke();
}

static void on_session_free(struct session *s)
{
	struct wsession *ws = wsession_of(s), **pp;
	notify_free(ws);
	wsession_unselect(ws);
	for (pp = &W->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == ws) {
			*pp = ws->next;
			break;
		}
	}
	log_info("session closed: user=%s remote=%s tls=%d in=%llu out=%llu", W->user.name,
		 ws->s.remote, ws->s.tls, (unsigned long long)ws->bytes_in,
		 (unsigned long long)ws->bytes_out);
	log_set_session(NULL);
	free(ws);
	W->nsessions--;
	worker_memory_released();
	if (W->nsessions == 0) {
		if (W->quitting)
			maybe_exit();
		else
			arm_idle();
	}
}

/* MSG_WORKER_SESSION: a logged-in client's socket (m->fd) and what the
 * login worker knew of it. The strings point into m. */
struct session_msg {
	const char *sid, *tag, *remote, *enabled;
	const unsigned char *left;   /* bytes pipelined after the login */
	size_t leftlen;
	uint32_t tls, proto;
};

static int session_msg_get(struct ipc_msg *m, struct session_msg *h)
{
	if (m->fd < 0 || ipc_get_str(m, &h->sid) < 0 || ipc_get_str(m, &h->tag) < 0 ||
	    ipc_get_str(m, &h->remote) < 0 || ipc_get_u32(m, &h->tls) < 0 ||
	    ipc_get_str(m, &h->enabled) < 0 || ipc_get_bytes(m, &h->left, &h->leftlen) < 0 ||
	    ipc_get_u32(m, &h->proto) < 0 || ipc_get_end(m) < 0 ||
	    h->proto > LOGIN_PROTO_MANAGESIEVE) {
		log_err("malformed session from master");
		return -1;
	}
	return 0;
}

static void new_session(struct ipc_msg *m)
{
	struct session_msg h;
	struct wsession *ws;
	struct bufferevent *bev;

	if (session_msg_get(m, &h) < 0)
		return;
	net_set_nonblock(m->fd);
	bev = bufferevent_socket_new(base, m->fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_err("cannot set up session socket");
		return;
	}
	m->fd = -1;  /* the bufferevent owns it now */
	ws = xcalloc(1, sizeof(*ws));
	struct session_limits lim = {
		.max_line = (size_t)W->cfg.max_line_length,
		.max_literal = (size_t)W->cfg.max_literal,
		.max_command = (size_t)W->cfg.max_line_length + (size_t)W->cfg.max_literal,
		.max_bad = (unsigned)W->cfg.max_bad_commands,
		.timeout_sec = W->cfg.idle_timeout,
	};
	if (h.proto == LOGIN_PROTO_MANAGESIEVE) {
		/* A literal is a script at most (PUTSCRIPT): a larger one is
		 * refused before it is read (QUOTA/MAXSIZE). */
		if (lim.max_literal > (size_t)W->cfg.sieve_max_script_size)
			lim.max_literal = (size_t)W->cfg.sieve_max_script_size;
		session_init(&ws->s, base, bev, &lim, ms_worker_commands, ms_worker_ncommands);
		session_set_dialect(&ws->s, &ms_dialect);
		ws->s.capability = ms_worker_capability;
	} else {
		session_init(&ws->s, base, bev, &lim, worker_commands, worker_ncommands);
		ws->s.capability = worker_capability;
	}
	snprintf(ws->s.sid, sizeof(ws->s.sid), "%s", h.sid);
	snprintf(ws->s.remote, sizeof(ws->s.remote), "%s", h.remote);
	ws->s.tls = h.tls != 0;
	ws->since = time(NULL);
	ws->s.state = ST_AUTH;
	ws->s.on_free = on_session_free;
	ws->s.on_command = on_command;
	worker_stats_watch(ws, bev);
	worker_admin_db_watch();
	ws->next = W->sessions;
	W->sessions = ws;
	W->nsessions++;
	W->sessions_seen++;
	evtimer_del(idle_ev);
	log_set_session(h.sid);
	log_info("session started: user=%s remote=%s", W->user.name, h.remote);
	log_debug("%zu bytes pipelined after login", h.leftlen);
	/* The worker, not the login worker, completes the LOGIN. */
	if (ws->s.dialect)
		session_tagged(&ws->s, h.tag, "OK", NULL, "Logged in");
	else
		session_tagged(&ws->s, h.tag, "OK", NULL, "[CAPABILITY %s] Logged in",
			       worker_capability(&ws->s));
	if (h.leftlen)
		session_inject(&ws->s, h.left, h.leftlen);
	session_input(&ws->s);
}

static void park(void);
static void adopt(struct ipc_msg *m);
static void refuse_sessions(const char *why) __attribute__((noreturn));

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 1);
	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master channel closed");
		event_base_loopbreak(base);
		return;
	}
	switch (m.type) {
	case MSG_WORKER_SESSION:
		new_session(&m);
		break;
	case MSG_WORKER_QUIT_OK:
		W->quitting = 1;
		maybe_exit();
		break;
	case MSG_WORKER_PARK_OK:
		park();
		break;
	case MSG_WORKER_ADOPT:
		adopt(&m);
		break;
	case MSG_WORKER_WHO:
		worker_admin_who(&m);
		break;
	case MSG_WORKER_KICK:
		worker_admin_kick(&m);
		break;
	case MSG_WORKER_DELIVER:
		worker_deliver(&m);
		/* Mail tends to come in bursts: stay warm from the last one. */
		if (W->nsessions == 0 && !W->quit_requested && !W->quitting)
			arm_idle();
		break;
	default:
		log_err("unexpected message %u from master", m.type);
		break;
	}
	ipc_msg_free(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct wsession *ws = W->sessions, *next;
	W->quitting = 1;
	for (; ws; ws = next) {
		next = ws->next;
		session_bye(&ws->s, "Server shutting down");
	}
	maybe_exit();
}

static int make_home(const char *home)
{
	struct stat st;
	if (stat(home, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -1;
	if (mkdir(home, 0700) < 0 && errno != EEXIST) {
		log_err("cannot create home %s: %s", home, strerror(errno));
		return -1;
	}
	return 0;
}

static void drop_to_user(const char *user, const char *home, const char *uid, const char *gid)
{
	struct privdrop pd;
	struct error err;
	struct stat st;
	char *end;

	memset(&pd, 0, sizeof(pd));
	pd.user = user;
	pd.uid = (uid_t)strtoul(uid, &end, 10);
	if (*end != '\0')
		fatal("bad uid %s", uid);
	pd.gid = (gid_t)strtoul(gid, &end, 10);
	if (*end != '\0')
		fatal("bad gid %s", gid);
	if (W->cfg.mail_privileged_group && W->cfg.mail_privileged_group[0]) {
		struct group *g = getgrnam(W->cfg.mail_privileged_group);
		if (g && g->gr_gid != 0 && g->gr_gid != pd.gid) {
			pd.have_priv_gid = 1;
			pd.priv_gid = g->gr_gid;
		} else if (g == NULL) {
			log_debug("mail_privileged_group %s does not exist",
				  W->cfg.mail_privileged_group);
		}
	}
	/* No processes of its own; but LeakSanitizer's tracer, in the test
	 * build, is a clone at exit. */
	pd.no_fork = !sandbox_sanitized();
	pd.memory_limit = (size_t)W->cfg.worker_memory_limit << 20;
	/* A missing home is created later, as the user. */
	pd.chdir_dir = stat(home, &st) == 0 && S_ISDIR(st.st_mode) ? home : "/";
	if (privdrop_apply(&pd, &err) < 0)
		fatal("%s", err.msg);
}

/* -c ID:QUOTA_BYTES:QUOTA_MESSAGES, the rest of the auth helper's record
 * of the user (workers.c). */
static void parse_record(const char *s, struct backend_user *u)
{
	unsigned long long q[2];
	long long id;
	int end = 0;

	if (s == NULL || sscanf(s, "%lld:%llu:%llu%n", &id, &q[0], &q[1], &end) != 3 ||
	    s[end] != '\0' || id < 0)
		fatal("bad user record \"%s\"", s ? s : "");
	u->id = id;
	u->quota_bytes = q[0];
	u->quota_messages = q[1];
}

/* The master keeps this idle worker for the next user of its uid and
 * gid (worker_reuse); it asked with no session on the way, so none can
 * arrive before an adoption. */
static void park(void)
{
	if (W->nsessions > 0 || W->quitting)
		return;
	W->parked = 1;
	W->quit_requested = 0;
	log_debug("idle; kept for the next user");
	arm_idle();
}

/* Kept, and now the worker of another user (same uid and gid, so no
 * privilege changes hands): its name, home and record replace the
 * previous user's, the store is reopened for it; its sessions follow. */
static void adopt(struct ipc_msg *m)
{
	static char *name, *home;
	const char *n, *h, *record;
	struct backend_user u;
	struct error err;

	if (ipc_get_str(m, &n) < 0 || ipc_get_str(m, &h) < 0 || ipc_get_str(m, &record) < 0 ||
	    ipc_get_end(m) < 0)
		fatal("malformed adoption from master");
	if (!W->parked || W->nsessions > 0)
		fatal("adopted while serving %s", W->user.name);
	u = W->user;
	u.name = n;
	u.home = h;
	parse_record(record, &u);
	if (make_home(h) == 0 && chdir(h) < 0)
		log_warn("chdir %s: %s", h, strerror(errno));
	worker_admin_db_stop();  /* the store's descriptors go */
	if (store_reopen(&W->store, &u, &W->cfg, &err) < 0) {
		W->user.name = n;  /* for the log: the worker ends in there */
		refuse_sessions(err.msg);
	}
	free(name);
	free(home);
	W->user = u;
	W->user.name = name = xstrdup(n);
	W->user.home = home = xstrdup(h);
	W->parked = 0;
	log_info("kept worker now serves %s", name);
	arm_idle();
}

/* havend's check of what only this program knows: the mail backend and
 * its settings (daemon/cfgtext.c). The answer is the exit status, the
 * reason one line on stderr. */
static void check_config_and_exit(void)
{
	struct error err;

	if (backend_find(W->cfg.mail_backend) == NULL) {
		fprintf(stderr, "mail_backend: unknown backend \"%s\"\n", W->cfg.mail_backend);
		exit(1);
	}
	if (backend_settings_check(&W->cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	exit(0);
}

/* The store would not open (its database down or unreachable, the home
 * not there): each login the master hands over meanwhile is answered NO
 * [UNAVAILABLE] on its own command, not with a closed connection, and
 * the worker ends; the user's next login starts a fresh worker, which
 * tries the store again. */
static void refuse_session(struct ipc_msg *m)
{
	struct session_msg h;
	char line[512];
	int n;

	if (session_msg_get(m, &h) < 0)
		return;
	if (h.proto == LOGIN_PROTO_MANAGESIEVE)
		n = snprintf(line, sizeof(line), "NO (TRYLATER) \"Mail store unavailable\"\r\n");
	else
		n = snprintf(line, sizeof(line), "%s NO [UNAVAILABLE] Mail store unavailable, "
			     "try again later\r\n* BYE Mail store unavailable\r\n", h.tag);
	if (n > 0 && (size_t)n < sizeof(line) && write(m->fd, line, (size_t)n) < 0)
		log_debug("refusing session %s: %s", h.sid, strerror(errno));
	log_info("session refused: user=%s remote=%s: mail store unavailable", W->user.name, h.remote);
}

static void refuse_sessions(const char *why)
{
	struct pollfd p = { .fd = CHILD_FD_MASTER, .events = POLLIN };
	struct ipc_msg m;
	uint32_t refused = 0;
	int done = 0;

	log_err("opening mail store for %s: %s", W->user.name, why);
	/* Ask to quit at once, as an idle worker does, so that the master
	 * starts a fresh worker for the next login; the sessions it sent
	 * before our request come ahead of its answer. A worker it would
	 * keep for reuse (PARK_OK) asks again: a parked worker is let go. */
	request_quit(refused);
	while (!done && poll(&p, 1, 5000) > 0 && ipc_recv(CHILD_FD_MASTER, &m, 1) > 0) {
		if (m.type == MSG_WORKER_SESSION) {
			refuse_session(&m);
			refused++;
		} else if (m.type == MSG_WORKER_PARK_OK) {
			request_quit(refused);
		} else if (m.type == MSG_WORKER_QUIT_OK) {
			done = 1;
		}
		ipc_msg_free(&m);
	}
	privdrop_group_forget();  /* as at a normal end: see main */
	exit(1);
}

int main(int argc, char **argv)
{
	struct child_args args;
	struct error err;

	child_init("worker", argc, argv, &args, &W->cfg);
	if (args.opt[6] && strcmp(args.opt[6], "check-config") == 0)
		check_config_and_exit();
	if (args.opt[0] == NULL || args.opt[1] == NULL || args.opt[4] == NULL ||
	    args.opt[5] == NULL)
		fatal("missing user, home, uid or gid");
	/* Become the user before anything else: nothing below runs as root. */
	drop_to_user(args.opt[0], args.opt[1], args.opt[4], args.opt[5]);
	signal(SIGPIPE, SIG_IGN);
	malloc_setup();
	W->user.name = args.opt[0];
	W->user.home = args.opt[1];
	W->user.uid = getuid();
	W->user.gid = getgid();
	parse_record(args.opt[2], &W->user);
	if (make_home(W->user.home) == 0 && chdir(W->user.home) < 0)
		log_warn("chdir %s: %s", W->user.home, strerror(errno));
	if (backend_settings_check(&W->cfg, &err) < 0)
		fatal("%s", err.msg);
	if (store_open(W->cfg.mail_backend, &W->user, &W->cfg, &W->store, &err) < 0)
		refuse_sessions(err.msg);

	base = event_base_new();
	if (base == NULL)
		fatal("event_base_new failed");
	master_ev = event_new(base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	event_add(master_ev, NULL);
	idle_ev = evtimer_new(base, on_idle, NULL);
	trim_ev = evtimer_new(base, on_trim, NULL);
	tidy_ev = evtimer_new(base, on_tidy, NULL);
	worker_stats_init(base);
	term_ev = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(term_ev, NULL);
	worker_admin_db_init(base);
	/* Set up: from here on the calls that serving sessions takes. */
	sandbox_enter(SANDBOX_WORKER, W->cfg.seccomp);
	arm_idle();

	event_base_dispatch(base);

	while (W->sessions) {
		struct wsession *ws = W->sessions;
		session_release(&ws->s);  /* calls on_session_free, which unlinks */
	}
	/* A COMPRESS filter's end is deferred to the loop: let it run. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	worker_stats_flush();
	worker_stats_free();
	event_free(master_ev);
	event_free(idle_ev);
	event_free(trim_ev);
	trim_ev = NULL;
	event_free(tidy_ev);
	tidy_ev = NULL;
	event_free(term_ev);
	worker_admin_db_stop();
	store_close(W->store);
	event_base_free(base);
	config_free(&W->cfg);
	/* No mail is touched past here: let the kept group go (and with it
	 * the credential mismatch that keeps LeakSanitizer's tracer out). */
	privdrop_group_forget();
	return 0;
}
