/* The helper's side of the pool (pool.h): children, a queue of jobs, a
 * deadline per job from the moment it is queued. */
#include "pool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"

/* Jobs waiting for a child, at most: beyond, logins get NO [UNAVAILABLE]. */
#define POOL_QUEUE_MAX 4096

struct task {
	struct task *next;          /* in the queue */
	struct ipc_out out;
	pool_done_fn done;
	void *arg;
	struct event *timer;
	struct child *child;        /* running on it; NULL while queued */
};

struct child {
	struct child *next;
	pid_t pid;
	int sock;                   /* -1 once closed */
	struct event *ev;
	struct task *task;
	unsigned gen;
};

static struct event_base *base;
static struct passdb_set *dbs;
static struct child *children;
static struct task *queue, *queue_tail;
static size_t queued;
static unsigned gen, want;
static long timeout_ms;

static void child_read(evutil_socket_t fd, short what, void *arg);

/* Processes below a stuck child, at most (and levels down). */
#define KILL_TREE_MAX 64
#define KILL_TREE_DEPTH 4

/* pid's children, from /proc (their main thread's list). */
static size_t children_of(pid_t pid, pid_t *out, size_t cap)
{
	char path[64];
	size_t n = 0;
	long v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long)pid, (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (n < cap && fscanf(f, "%ld", &v) == 1)
		out[n++] = (pid_t)v;
	fclose(f);
	return n;
}

/* Stop pid, kill what is below it, then it. A module may start processes
 * in a session of their own (pam_exec does): a process group would miss
 * them. */
static void kill_tree(pid_t pid, int depth)
{
	pid_t kids[KILL_TREE_MAX];
	size_t n;

	kill(pid, SIGSTOP);
	n = depth < KILL_TREE_DEPTH ? children_of(pid, kids, KILL_TREE_MAX) : 0;
	for (size_t i = 0; i < n; i++)
		kill_tree(kids[i], depth + 1);
	kill(pid, SIGKILL);
}

static void child_kill(struct child *c)
{
	kill_tree(c->pid, 0);
}
static void dispatch(void);

static void task_finish(struct task *t, enum passdb_result r, struct passdb_record *rec)
{
	event_free(t->timer);
	ipc_out_free_secret(&t->out);
	t->done(t->arg, r, rec);
	free(t);
}

static void child_close(struct child *c)
{
	if (c->ev)
		event_free(c->ev);
	c->ev = NULL;
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

/* A child that is gone or going: its job, if any, gets TEMPFAIL. */
static void child_lost(struct child *c, const char *why)
{
	struct task *t = c->task;

	child_close(c);
	c->task = NULL;
	if (t) {
		log_warn("passdb child %ld: %s", (long)c->pid, why);
		task_finish(t, PDB_TEMPFAIL, NULL);
	}
}

static void child_spawn(void)
{
	struct child *c;
	int sv[2];
	pid_t pid;

	if (ipc_socketpair(sv) < 0) {
		log_err("pool: socketpair: %s", strerror(errno));
		return;
	}
	if ((pid = fork()) < 0) {
		log_err("pool: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (pid == 0) {
		/* Only the helper is ours to talk to: not the master. */
		if (dup2(sv[1], CHILD_FD_MASTER) < 0)
			_exit(1);
		closefrom(CHILD_FD_MASTER + 1);
		pool_child_run(CHILD_FD_MASTER, dbs);
	}
	close(sv[1]);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->sock = sv[0];
	c->gen = gen;
	c->ev = event_new(base, c->sock, EV_READ | EV_PERSIST, child_read, c);
	event_add(c->ev, NULL);
	c->next = children;
	children = c;
	log_debug("passdb child %ld started", (long)pid);
}

static unsigned current_children(void)
{
	unsigned n = 0;
	for (struct child *c = children; c; c = c->next)
		if (c->sock >= 0 && c->gen == gen)
			n++;
	return n;
}

static void fill(void)
{
	for (unsigned n = current_children(); n < want; n++)
		child_spawn();
}

static void child_read(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	struct task *t = c->task;
	struct passdb_record rec;
	struct ipc_msg m;
	uint32_t r;
	int got = ipc_recv(fd, &m, 0);

	if (got == -2)
		return;
	if (got <= 0 || t == NULL || m.type != POOL_MSG_RESULT || ipc_get_u32(&m, &r) < 0 ||
	    r > PDB_TEMPFAIL || passdb_record_get(&m, &rec) < 0 || ipc_get_end(&m) < 0) {
		if (got > 0)
			ipc_msg_free_secret(&m);
		child_kill(c);
		child_lost(c, got == 0 ? "exited during a job" : "sent a malformed answer");
		fill();
		dispatch();
		return;
	}
	ipc_msg_free_secret(&m);
	c->task = NULL;
	task_finish(t, (enum passdb_result)r, &rec);
	passdb_record_wipe(&rec);
	if (c->gen != gen)
		child_close(c);  /* configured before the last SIGHUP: it goes */
	dispatch();
}

static struct child *idle_child(void)
{
	for (struct child *c = children; c; c = c->next)
		if (c->sock >= 0 && c->task == NULL && c->gen == gen)
			return c;
	return NULL;
}

static void dispatch(void)
{
	struct child *c;

	while (queue && (c = idle_child()) != NULL) {
		struct task *t = queue;
		queue = t->next;
		if (queue == NULL)
			queue_tail = NULL;
		queued--;
		if (ipc_send(c->sock, &t->out, -1) < 0) {
			c->task = t;
			child_kill(c);
			child_lost(c, "cannot be sent a job");
			fill();
			continue;
		}
		t->child = c;
		c->task = t;
	}
}

static void queue_remove(struct task *t)
{
	struct task **pp;
	for (pp = &queue; *pp && *pp != t; pp = &(*pp)->next)
		;
	if (*pp == NULL)
		return;
	*pp = t->next;
	if (queue_tail == t) {
		queue_tail = NULL;
		for (struct task *q = queue; q; q = q->next)
			queue_tail = q;
	}
	queued--;
}

static void task_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct task *t = arg;
	struct child *c = t->child;

	if (c == NULL) {
		log_warn("passdb job waited %ld ms for a free child (see passdb_workers)", timeout_ms);
		queue_remove(t);
		task_finish(t, PDB_TEMPFAIL, NULL);
		return;
	}
	child_kill(c);
	child_lost(c, "timed out (passdb_timeout): killed");
	fill();
	dispatch();
}

int pool_submit(const struct pool_job *job, pool_done_fn done, void *arg)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct task *t;

	if (queued >= POOL_QUEUE_MAX || want == 0)
		return -1;
	t = xcalloc(1, sizeof(*t));
	ipc_out_init(&t->out, POOL_MSG_JOB, 0);
	buf_reserve(&t->out.payload, 1024);
	ipc_put_u32(&t->out, job->op);
	ipc_put_u32(&t->out, job->db);
	ipc_put_str(&t->out, job->user);
	ipc_put_str(&t->out, job->password);
	ipc_put_str(&t->out, job->remote);
	ipc_put_str(&t->out, job->known);
	t->done = done;
	t->arg = arg;
	t->timer = evtimer_new(base, task_timeout, t);
	evtimer_add(t->timer, &tv);
	if (queue_tail)
		queue_tail->next = t;
	else
		queue = t;
	queue_tail = t;
	queued++;
	dispatch();
	return 0;
}

void pool_init(struct event_base *b)
{
	base = b;
}

void pool_configure(const struct config *cfg, struct passdb_set *set)
{
	dbs = set;
	gen++;
	want = set->remote ? (unsigned)passdb_setting_int(cfg, "passdb_workers") : 0;
	timeout_ms = passdb_setting_int(cfg, "passdb_timeout");
	/* Idle children of the old configuration go now, busy ones after
	 * their job. */
	for (struct child *c = children; c; c = c->next)
		if (c->task == NULL)
			child_close(c);
	fill();
	dispatch();
}

int pool_child_exited(pid_t pid, int status)
{
	struct child **pp, *c;

	for (pp = &children; *pp && (*pp)->pid != pid; pp = &(*pp)->next)
		;
	if ((c = *pp) == NULL)
		return 0;
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		log_warn("passdb child %ld killed by signal %d (%s)", (long)pid, WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	*pp = c->next;
	child_lost(c, "died during a job");
	free(c);
	fill();
	dispatch();
	return 1;
}

void pool_shutdown(void)
{
	want = 0;
	while (queue) {
		struct task *t = queue;
		queue_remove(t);
		task_finish(t, PDB_TEMPFAIL, NULL);
	}
	for (struct child *c = children; c; c = c->next) {
		child_kill(c);
		child_lost(c, "stopped");
	}
	while (children) {
		struct child *c = children;
		children = c->next;
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		free(c);
	}
}
