/* haven-admin who, kick USER: questions about live state, asked of the
 * running havend over its admin socket (admin_socket in haven.conf;
 * lib/msg_admin.h). Only root may: the socket is 0600, and the master
 * checks the caller's uid too. With mail_backend = pgsql the question
 * goes through the database to every host instead (live_db.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/ipc.h"
#include "../lib/msg_admin.h"
#include "admin.h"
#include "live.h"

/* How long to wait for the master's answer: it waits ADMIN_WAIT_MS for
 * the workers, then answers at once. */
#define LIVE_WAIT_MS (ADMIN_WAIT_MS + 8000)

static int live_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (path[0] == '\0' || strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "haven-admin: admin_socket is %s in the configuration\n",
			path[0] ? "too long" : "not set");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "haven-admin: %s: permission denied: only root may ask havend "
			"about live sessions\n", path);
	else
		fprintf(stderr, "haven-admin: %s: %s (is havend running with this "
			"admin_socket?)\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Send o to the master of o's config and receive its answer into m. */
static int live_ask(const struct admin_opts *o, struct ipc_out *req, struct ipc_msg *m)
{
	struct config cfg;
	struct pollfd p = { .fd = -1, .events = POLLIN };
	char *path = NULL;
	int rc = -1;

	if (admin_config_load(o, &cfg) == 0 &&
	    (p.fd = live_connect(path = config_run_path(&cfg, cfg.admin_socket))) >= 0) {
		/* A refusal may come before the request is sent: read it
		 * even when sending failed. */
		int sent = ipc_send(p.fd, req, -1), serr = errno;
		if (poll(&p, 1, LIVE_WAIT_MS) == 1 && ipc_recv(p.fd, m, 0) == 1)
			rc = 0;
		else if (sent < 0)
			fprintf(stderr, "haven-admin: sending to havend: %s\n", strerror(serr));
		else
			fprintf(stderr, "haven-admin: havend did not answer\n");
	}
	if (p.fd >= 0)
		close(p.fd);
	free(path);
	config_free(&cfg);
	return rc;
}

/* m's answer of type want: 0; else -1 after printing why. */
static int answer_check(struct ipc_msg *m, uint32_t want)
{
	const char *why;

	if (m->type == want)
		return 0;
	if (m->type == MSG_ADMIN_REFUSED && ipc_get_str(m, &why) == 0 && ipc_get_end(m) == 0)
		fprintf(stderr, "haven-admin: havend refused: %s\n", why);
	else
		fprintf(stderr, "haven-admin: unexpected answer %u from havend\n", m->type);
	return -1;
}

void live_header(int with_host)
{
	if (with_host)
		printf("%-24s ", "HOST");
	printf("%-24s %-40s %-20s %-3s %s\n", "USER", "CLIENT", "SINCE", "TLS", "MAILBOX");
}

void live_row(struct buf *out, const char *host, const char *user, const char *client,
	      uint64_t since, int tls, const char *mailbox)
{
	time_t t = (time_t)since;
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	if (host)
		buf_printf(out, "%-24s ", host);
	buf_printf(out, "%-24s %-40s %-20s %-3s %s\n", user, client, when, tls ? "yes" : "no",
		   mailbox[0] ? mailbox : "-");
}

/* One session of the master's answer, as a row of the table. */
static int who_entry(struct ipc_msg *m, struct buf *row)
{
	const char *user, *remote, *mailbox;
	uint64_t since;
	uint32_t tls;

	if (ipc_get_str(m, &user) < 0 || ipc_get_str(m, &remote) < 0 ||
	    ipc_get_u64(m, &since) < 0 || ipc_get_u32(m, &tls) < 0 ||
	    ipc_get_str(m, &mailbox) < 0)
		return -1;
	buf_reset(row);
	live_row(row, NULL, user, remote, since, (int)tls, mailbox);
	fwrite(row->data, 1, row->len, stdout);
	return 0;
}

static int who_print(struct ipc_msg *m)
{
	uint32_t silent, omitted, n, i = 0;
	struct buf row = BUF_INIT;

	if (ipc_get_u32(m, &silent) < 0 || ipc_get_u32(m, &omitted) < 0 || ipc_get_u32(m, &n) < 0)
		return -1;
	live_header(0);
	while (i < n && who_entry(m, &row) == 0)
		i++;
	buf_free(&row);
	if (i < n)
		return -1;
	if (omitted)
		fprintf(stderr, "haven-admin: %u more sessions left out (the answer is capped)\n",
			omitted);
	if (silent)
		fprintf(stderr, "haven-admin: %u user workers did not answer in time\n", silent);
	return ipc_get_end(m);
}

/* With the PostgreSQL store every host's workers hear the database:
 * the question goes there and reaches them all. */
#if HAVE_PGSQL
static int through_db(const struct admin_opts *o)
{
	struct config cfg;
	int db = admin_config_load(o, &cfg) == 0 && strcmp(cfg.mail_backend, "pgsql") == 0;

	config_free(&cfg);
	return db;
}
#endif

enum admin_status admin_who(const struct admin_opts *o, int argc, char **argv)
{
	struct ipc_out req;
	struct ipc_msg m;
	int rc = -1;

	(void)argv;
	if (argc != 0)
		return ADMIN_USAGE;
#if HAVE_PGSQL
	if (through_db(o))
		return live_db_who(o);
#endif
	ipc_out_init(&req, MSG_ADMIN_WHO, 1);
	if (live_ask(o, &req, &m) == 0) {
		rc = answer_check(&m, MSG_ADMIN_SESSIONS);
		if (rc == 0 && (rc = who_print(&m)) < 0)
			fprintf(stderr, "haven-admin: malformed answer from havend\n");
		ipc_msg_free(&m);
	}
	ipc_out_free(&req);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}

static int kick_print(struct ipc_msg *m, const char *user)
{
	uint32_t silent, n;

	if (ipc_get_u32(m, &silent) < 0 || ipc_get_u32(m, &n) < 0 || ipc_get_end(m) < 0) {
		fprintf(stderr, "haven-admin: malformed answer from havend\n");
		return -1;
	}
	printf("%s: %u session%s ended\n", user, n, n == 1 ? "" : "s");
	if (silent)
		fprintf(stderr, "haven-admin: %u user workers did not answer in time\n", silent);
	return silent ? -1 : 0;
}

enum admin_status admin_kick(const struct admin_opts *o, int argc, char **argv)
{
	struct ipc_out req;
	struct ipc_msg m;
	int rc = -1;

	if (argc != 1)
		return ADMIN_USAGE;
#if HAVE_PGSQL
	if (through_db(o))
		return live_db_kick(o, argv[0]);
#endif
	ipc_out_init(&req, MSG_ADMIN_KICK, 1);
	ipc_put_str(&req, argv[0]);
	if (live_ask(o, &req, &m) == 0) {
		if (answer_check(&m, MSG_ADMIN_KICKED) == 0)
			rc = kick_print(&m, argv[0]);
		ipc_msg_free(&m);
	}
	ipc_out_free(&req);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}
