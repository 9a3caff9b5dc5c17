/* The counters behind the metrics endpoint, and the metrics server
 * (haven-metrics) that serves them. The master counts what passes through
 * it (connections, logins, deliveries) and adds up what user workers
 * report of their commands (MSG_WORKER_STATS); on a request of the
 * metrics server it writes them out as OpenMetrics text. It parses no
 * HTTP: haven-metrics, chrooted and unprivileged, does. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_lmtp.h"
#include "../lib/msg_metrics.h"
#include "../lib/stats.h"
#include "master.h"

/* Mechanisms as labels; anything else counts as "other". */
static const char *const mechs[] = { "PLAIN", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS",
				     "OAUTHBEARER", "other" };
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))
/* enum auth_status as labels */
static const char *const results[] = { "ok", "failed", "tempfail", "blocked", "expired" };
#define NRESULTS (sizeof(results) / sizeof(results[0]))
static const char *const deliveries[] = { "ok", "overquota", "tempfail", "toobig", "refused",
					     "rejected" };
#define NDELIVERIES (sizeof(deliveries) / sizeof(deliveries[0]))
#define MAX_CMDS 64

static struct {
	uint64_t conn_imap, conn_lmtp;
	uint64_t logins[NMECHS][NRESULTS];
	uint64_t delivered[NDELIVERIES];
	uint64_t bytes_in, bytes_out;
	struct stats_cmd cmds[MAX_CMDS];
	size_t ncmds;
} C;

static int listen_fd = -1;
static pid_t server_pid = -1;
static int server_chan = -1;
static struct event *server_ev, *restart_ev;

void metrics_connection(int lmtp)
{
	if (lmtp)
		C.conn_lmtp++;
	else
		C.conn_imap++;
}

void metrics_login(const char *mech, uint32_t status)
{
	size_t m = 0;

	while (m < NMECHS - 1 && strcmp(mechs[m], mech ? mech : "") != 0)
		m++;
	if (status < NRESULTS)
		C.logins[m][status]++;
}

void metrics_delivery(uint32_t status)
{
	C.delivered[status < NDELIVERIES ? status : LMTP_DELIVER_FAIL]++;
}

/* A command name as a worker reports it: IMAP's letters only, so that
 * nothing a worker says can break the text's syntax. */
static int command_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(C.cmds[0].name))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

static struct stats_cmd *command_slot(const char *name)
{
	for (size_t i = 0; i < C.ncmds; i++)
		if (strcmp(C.cmds[i].name, name) == 0)
			return &C.cmds[i];
	if (C.ncmds == MAX_CMDS)
		return NULL;
	snprintf(C.cmds[C.ncmds].name, sizeof(C.cmds[0].name), "%s", name);
	return &C.cmds[C.ncmds++];
}

static int add_command(struct ipc_msg *m)
{
	struct stats_cmd in;
	const char *name;

	if (ipc_get_str(m, &name) < 0 || ipc_get_u64(m, &in.count) < 0 ||
	    ipc_get_u64(m, &in.usec) < 0)
		return -1;
	for (unsigned b = 0; b < STATS_BUCKETS; b++)
		if (ipc_get_u64(m, &in.bucket[b]) < 0)
			return -1;
	struct stats_cmd *c = command_name_ok(name) ? command_slot(name) : NULL;
	if (c == NULL)
		return 0;
	c->count += in.count;
	c->usec += in.usec;
	for (unsigned b = 0; b < STATS_BUCKETS; b++)
		c->bucket[b] += in.bucket[b];
	return 0;
}

int metrics_worker_stats(struct ipc_msg *m)
{
	uint64_t in, out;
	uint32_t n;

	if (ipc_get_u64(m, &in) < 0 || ipc_get_u64(m, &out) < 0 || ipc_get_u32(m, &n) < 0 ||
	    n > MAX_CMDS)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (add_command(m) < 0)
			return -1;
	if (ipc_get_end(m) < 0)
		return -1;
	C.bytes_in += in;
	C.bytes_out += out;
	return 0;
}

/* ---- the text ------------------------------------------------------------- */

static void family(struct buf *t, const char *name, const char *type, const char *help)
{
	buf_printf(t, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
}

static void render_counters(struct buf *t)
{
	family(t, "haven_connections", "counter", "Connections accepted.");
	buf_printf(t, "haven_connections_total{service=\"imap\"} %llu\n",
		   (unsigned long long)C.conn_imap);
	buf_printf(t, "haven_connections_total{service=\"lmtp\"} %llu\n",
		   (unsigned long long)C.conn_lmtp);
	family(t, "haven_logins", "counter", "Logins by mechanism and result.");
	for (size_t m = 0; m < NMECHS; m++)
		for (size_t r = 0; r < NRESULTS; r++)
			buf_printf(t, "haven_logins_total{mechanism=\"%s\",result=\"%s\"} %llu\n",
				   mechs[m], results[r], (unsigned long long)C.logins[m][r]);
	family(t, "haven_lmtp_deliveries", "counter", "Messages delivered over LMTP, by result.");
	for (size_t d = 0; d < NDELIVERIES; d++)
		buf_printf(t, "haven_lmtp_deliveries_total{result=\"%s\"} %llu\n", deliveries[d],
			   (unsigned long long)C.delivered[d]);
	family(t, "haven_client_bytes", "counter", "Bytes of logged-in IMAP sessions.");
	buf_printf(t, "haven_client_bytes_total{direction=\"in\"} %llu\n",
		   (unsigned long long)C.bytes_in);
	buf_printf(t, "haven_client_bytes_total{direction=\"out\"} %llu\n",
		   (unsigned long long)C.bytes_out);
}

static void render_gauges(struct buf *t)
{
	family(t, "haven_preauth_connections", "gauge", "Connections not logged in yet.");
	buf_printf(t, "haven_preauth_connections %u\n", M->login_conns);
	family(t, "haven_user_workers", "gauge", "User worker processes.");
	buf_printf(t, "haven_user_workers %u\n", workers_count());
	family(t, "haven_lmtp_connections", "gauge", "LMTP connections open.");
	buf_printf(t, "haven_lmtp_connections %u\n", lmtp_count());
}

static void render_commands(struct buf *t)
{
	family(t, "haven_command_duration_seconds", "histogram",
	       "IMAP commands of logged-in sessions: time in their handlers.");
	for (size_t i = 0; i < C.ncmds; i++) {
		const struct stats_cmd *c = &C.cmds[i];
		uint64_t cum = 0;
		for (unsigned b = 0; b < STATS_BUCKETS; b++) {
			cum += c->bucket[b];
			if (b < STATS_BUCKETS - 1)
				buf_printf(t, "haven_command_duration_seconds_bucket{command=\"%s\","
					   "le=\"%g\"} %llu\n", c->name,
					   (double)stats_bucket_le_us[b] / 1e6, (unsigned long long)cum);
			else
				buf_printf(t, "haven_command_duration_seconds_bucket{command=\"%s\","
					   "le=\"+Inf\"} %llu\n", c->name, (unsigned long long)cum);
		}
		buf_printf(t, "haven_command_duration_seconds_sum{command=\"%s\"} %.6f\n", c->name,
			   (double)c->usec / 1e6);
		buf_printf(t, "haven_command_duration_seconds_count{command=\"%s\"} %llu\n",
			   c->name, (unsigned long long)c->count);
	}
}

static void answer(uint32_t id)
{
	struct buf t = BUF_INIT;
	struct ipc_out o;

	render_counters(&t);
	render_gauges(&t);
	render_commands(&t);
	buf_append_str(&t, "# EOF\n");
	ipc_out_init(&o, MSG_METRICS_TEXT, id);
	ipc_put_bytes(&o, t.data, t.len);
	if (ipc_send(server_chan, &o, -1) < 0)
		log_warn("metrics server: %s", strerror(errno));
	ipc_out_free(&o);
	buf_free(&t);
}

/* ---- the server process --------------------------------------------------- */

static void server_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0 || m.type != MSG_METRICS_REQ || ipc_get_end(&m) < 0) {
		if (r > 0)
			log_warn("metrics server sent an unexpected message; killing it");
		if (server_pid > 0)
			kill(server_pid, SIGKILL);
		chan_close(&server_ev, &server_chan);
		if (r > 0)
			ipc_msg_free(&m);
		return;
	}
	answer(m.id);
	ipc_msg_free(&m);
}

static void server_start(void)
{
	int sv[2];

	if (ipc_socketpair(sv) < 0) {
		log_err("metrics: socketpair: %s", strerror(errno));
		return;
	}
	server_pid = spawn_child("haven-metrics", NULL, sv[1], listen_fd, NULL);
	close(sv[1]);
	if (server_pid < 0) {
		close(sv[0]);
		return;
	}
	server_chan = sv[0];
	server_ev = event_new(M->base, server_chan, EV_READ | EV_PERSIST, server_read, NULL);
	event_add(server_ev, NULL);
}

int metrics_open_listener(struct error *err)
{
	int fds[NET_MAX_LISTENERS];
	int n = net_listen_list(M->cfg.metrics_listen, fds, 1, err);

	if (n < 0)
		return -1;
	listen_fd = n == 1 ? fds[0] : -1;
	return 0;
}

void metrics_start(void)
{
	if (listen_fd >= 0)
		server_start();
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!M->stopping && server_pid <= 0)
		server_start();
}

int metrics_child_exited(pid_t pid)
{
	if (pid != server_pid || pid <= 0)
		return 0;
	server_pid = -1;
	chan_close(&server_ev, &server_chan);
	if (M->stopping)
		return 1;
	log_warn("metrics server exited; starting it again");
	struct timeval tv = { 1, 0 };
	if (restart_ev == NULL)
		restart_ev = evtimer_new(M->base, restart_cb, NULL);
	evtimer_add(restart_ev, &tv);
	return 1;
}

void metrics_stop(void)
{
	if (server_pid > 0)
		kill(server_pid, SIGTERM);
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	if (restart_ev)
		event_free(restart_ev);
	restart_ev = NULL;
}

void metrics_kill(void)
{
	if (server_pid > 0)
		kill(server_pid, SIGKILL);
}

int metrics_none_left(void)
{
	return server_pid <= 0;
}

void metrics_free(void)
{
	chan_close(&server_ev, &server_chan);
}
