/* The admin socket: haven-admin asks the master about live sessions
 * (who) and has a user's sessions ended (kick). Root only: the socket is
 * 0600 and owned by root, and every connection's SO_PEERCRED must say uid
 * 0. The master never waits on a client: its socket is non-blocking, it
 * gets one request and one answer (capped at one IPC message), and a
 * connection is dropped after ADMIN_CLIENT_SEC; the user workers' answers
 * are awaited for ADMIN_WAIT_MS at most, then the answer goes with what
 * came and says how many did not answer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_admin.h"
#include "../lib/msg_worker.h"
#include "../lib/xmalloc.h"
#include "master.h"

/* A connection gets this long for its request and answer. */
#define ADMIN_CLIENT_SEC 10
/* Connections at once; more wait in the listen backlog. */
#define ADMIN_MAX_CLIENTS 8
/* Room kept in an answer for one more session's entry. */
#define ADMIN_ENTRY_MAX 2400


struct admin_client {
	struct admin_client *next;
	int fd;
	struct event *ev, *timer;
	uint32_t req;         /* the client's request id */
	uint32_t type;        /* MSG_ADMIN_WHO or _KICK once asked; 0 before */
	uint32_t query;       /* the id the workers answer under */
	pid_t *asked;         /* workers that owe an answer (0: answered) */
	size_t nasked, waiting;
	struct ipc_out list;  /* WHO: the entries so far */
	uint32_t count, omitted;
	int not_root;         /* refused once its request is read */
};

static int listen_fd = -1;
static char *socket_path;   /* admin_socket under run_dir */
static struct event *listen_ev;
static struct admin_client *clients;
static unsigned nclients;

static void client_free(struct admin_client *c)
{
	struct admin_client **pp;

	for (pp = &clients; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	event_free(c->ev);
	event_free(c->timer);
	close(c->fd);
	free(c->asked);
	ipc_out_free(&c->list);
	free(c);
	nclients--;
	if (listen_ev && nclients < ADMIN_MAX_CLIENTS)
		event_add(listen_ev, NULL);
}

/* Send o (non-blocking: a client that does not read loses its answer)
 * and end the connection. */
static void client_answer(struct admin_client *c, struct ipc_out *o)
{
	if (ipc_send(c->fd, o, -1) < 0)
		log_warn("admin socket: answer not sent: %s", strerror(errno));
	ipc_out_free(o);
	client_free(c);
}

static void client_refuse(struct admin_client *c, const char *why)
{
	struct ipc_out o;

	log_warn("admin socket: request refused: %s", why);
	ipc_out_init(&o, MSG_ADMIN_REFUSED, c->req);
	ipc_put_str(&o, why);
	client_answer(c, &o);
}

/* Every answer is in, or the wait is over. */
static void client_finish(struct admin_client *c)
{
	struct ipc_out o;

	ipc_out_init(&o, c->type == MSG_ADMIN_WHO ? MSG_ADMIN_SESSIONS : MSG_ADMIN_KICKED, c->req);
	ipc_put_u32(&o, (uint32_t)c->waiting);
	if (c->type == MSG_ADMIN_WHO) {
		ipc_put_u32(&o, c->omitted);
		ipc_put_u32(&o, c->count);
		buf_append(&o.payload, c->list.payload.data, c->list.payload.len);
	} else {
		ipc_put_u32(&o, c->count);
	}
	client_answer(c, &o);
}

static void client_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct admin_client *c = arg;

	if (c->type == 0) {
		log_warn("admin socket: no request in %d s; closed", ADMIN_CLIENT_SEC);
		client_free(c);
		return;
	}
	log_warn("admin socket: %zu user worker(s) did not answer in %d ms", c->waiting,
		 ADMIN_WAIT_MS);
	client_finish(c);
}

/* Whether w takes part in c's request (user: KICK's, NULL for WHO). */
static int worker_asked(const struct user_worker *w, const char *user)
{
	return w->chan >= 0 && !w->parked && (user == NULL || strcmp(w->user, user) == 0);
}

/* Send the request to the workers concerned and wait for them. */
static void client_query(struct admin_client *c, const char *user)
{
	struct timeval tv = { ADMIN_WAIT_MS / 1000, (ADMIN_WAIT_MS % 1000) * 1000 };
	size_t n = 0;

	c->query = ++M->next_id;
	for (struct user_worker *w = M->workers; w; w = w->next)
		n += worker_asked(w, user);
	c->asked = xcalloc(n ? n : 1, sizeof(*c->asked));
	for (struct user_worker *w = M->workers; w && c->nasked < n; w = w->next) {
		struct ipc_out o;
		if (!worker_asked(w, user))
			continue;
		ipc_out_init(&o, user ? MSG_WORKER_KICK : MSG_WORKER_WHO, c->query);
		if (user)
			ipc_put_str(&o, ADMIN_KICK_TEXT);
		if (ipc_send(w->chan, &o, -1) == 0)
			c->asked[c->nasked++] = w->pid;
		ipc_out_free(&o);
	}
	c->waiting = c->nasked;
	if (c->waiting == 0) {
		client_finish(c);
		return;
	}
	evtimer_add(c->timer, &tv);
}

static void client_read(evutil_socket_t fd, short what, void *arg)
{
	struct admin_client *c = arg;
	const char *user = NULL;
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0 || c->type != 0) {
		if (r < 0 || c->type != 0)
			log_warn("admin socket: malformed or extra request; closed");
		if (r > 0)
			ipc_msg_free(&m);
		client_free(c);
		return;
	}
	c->req = m.id;
	c->type = m.type;
	event_del(c->ev);
	if (c->not_root)
		client_refuse(c, "permission denied: the admin socket is root's only");
	else if ((m.type == MSG_ADMIN_WHO && ipc_get_end(&m) == 0) ||
	    (m.type == MSG_ADMIN_KICK && ipc_get_str(&m, &user) == 0 && ipc_get_end(&m) == 0))
		client_query(c, user);
	else
		client_refuse(c, "unknown or malformed request");
	ipc_msg_free(&m);
}

static struct admin_client *client_of_query(uint32_t query)
{
	for (struct admin_client *c = clients; c; c = c->next)
		if (c->type != 0 && c->query == query)
			return c;
	return NULL;
}

/* One answer of pid less to wait for: 1 if c waited for it. */
static int client_answered(struct admin_client *c, pid_t pid)
{
	for (size_t i = 0; i < c->nasked; i++) {
		if (c->asked[i] == pid && pid != 0) {
			c->asked[i] = 0;
			c->waiting--;
			return 1;
		}
	}
	return 0;
}

/* w's sessions in m into c's list: 0, or -1 when m is malformed. */
static int list_add(struct admin_client *c, const struct user_worker *w, struct ipc_msg *m)
{
	uint32_t n, tls;
	uint64_t since;
	const char *remote, *mailbox;

	if (ipc_get_u32(m, &n) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (ipc_get_str(m, &remote) < 0 || ipc_get_u64(m, &since) < 0 ||
		    ipc_get_u32(m, &tls) < 0 || ipc_get_str(m, &mailbox) < 0)
			return -1;
		if (c->list.payload.len + ADMIN_ENTRY_MAX > IPC_MAX_PAYLOAD - 64) {
			c->omitted++;
			continue;
		}
		ipc_put_str(&c->list, w->user);
		ipc_put_str(&c->list, remote);
		ipc_put_u64(&c->list, since);
		ipc_put_u32(&c->list, tls);
		ipc_put_str(&c->list, mailbox);
		c->count++;
	}
	return ipc_get_end(m);
}

int admin_worker_answer(struct user_worker *w, struct ipc_msg *m)
{
	struct admin_client *c = client_of_query(m->id);
	uint32_t n;
	int r;

	if (c == NULL || !client_answered(c, w->pid))
		return 0;  /* late: its query was answered without it */
	if (m->type == MSG_WORKER_SESSIONS && c->type == MSG_ADMIN_WHO)
		r = list_add(c, w, m);
	else if (m->type == MSG_WORKER_KICKED && c->type == MSG_ADMIN_KICK &&
		 ipc_get_u32(m, &n) == 0 && ipc_get_end(m) == 0)
		r = 0, c->count += n;
	else
		r = -1;
	if (c->waiting == 0)
		client_finish(c);
	return r;
}

void admin_worker_gone(pid_t pid)
{
	struct admin_client *c = clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->type != 0 && client_answered(c, pid) && c->waiting == 0)
			client_finish(c);
	}
}

/* Root's processes only, whatever the socket's mode says. */
static int peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

static void client_new(int fd)
{
	struct timeval tv = { ADMIN_CLIENT_SEC, 0 };
	struct admin_client *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->ev = event_new(M->base, fd, EV_READ | EV_PERSIST, client_read, c);
	c->timer = evtimer_new(M->base, client_timeout, c);
	ipc_out_init(&c->list, 0, 0);
	c->next = clients;
	clients = c;
	if (++nclients >= ADMIN_MAX_CLIENTS)
		event_del(listen_ev);
	/* Refused after its request is read: a connection closed with the
	 * request unread would lose the refusal on its way (ECONNRESET). */
	c->not_root = !peer_is_root(fd);
	event_add(c->ev, NULL);
	evtimer_add(c->timer, &tv);
}

static void admin_accept(evutil_socket_t lfd, short what, void *arg)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("admin socket: accept: %s", strerror(errno));
		return;
	}
	client_new(fd);
}

/* Whether a live master answers at path (then it is not ours to take). */
static int socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int used = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

/* The directory of path (the RuntimeDirectory under systemd), made 0755
 * root when missing. */
static void socket_dir_make(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("admin_socket: mkdir %s: %s", dir, strerror(errno));
	}
	free(dir);
}

static int socket_bind(const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, ERR_PARSE, "%s: path too long", path), -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	socket_dir_make(path);
	if (lstat(path, &st) == 0 && (!S_ISSOCK(st.st_mode) || socket_in_use(&sa)))
		return error_set(err, ERR_INTERNAL, "%s: %s", path, S_ISSOCK(st.st_mode)
				 ? "another havend answers there" : "exists and is no socket"), -1;
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	old = umask(077);  /* 0600 from the start: no moment of a wider mode */
	r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || (geteuid() == 0 && chown(path, 0, 0) < 0) || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		error_set(err, ERR_INTERNAL, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int admin_open_listener(struct error *err)
{
	if (M->cfg.admin_socket[0] == '\0')
		return 0;
	free(socket_path);
	socket_path = config_run_path(&M->cfg, M->cfg.admin_socket);
	listen_fd = socket_bind(socket_path, err);
	return listen_fd < 0 ? -1 : 0;
}

void admin_start(void)
{
	if (listen_fd < 0)
		return;
	listen_ev = event_new(M->base, listen_fd, EV_READ | EV_PERSIST, admin_accept, NULL);
	event_add(listen_ev, NULL);
}

void admin_stop(void)
{
	if (listen_ev)
		event_free(listen_ev);
	listen_ev = NULL;
	while (clients)
		client_free(clients);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(socket_path);
	}
	listen_fd = -1;
	free(socket_path);
	socket_path = NULL;
}
