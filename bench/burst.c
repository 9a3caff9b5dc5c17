/* Haven benchmark: the burst profile. How long a client waits for the
 * greeting when many connect at once, after other pre-auth clients have
 * come and gone and while some sit idle without sending a byte (the load
 * that once starved new clients until old ones left).
 *
 *   1. --idle connections that never send a byte, kept to the end;
 *   2. --churn rounds (e.g. 30,30): that many clients connect at once, read
 *      the greeting and leave;
 *   3. --clients connections at once: each reads the greeting, LOGINs as
 *      one of --users users and LOGOUTs.
 * Time to greeting is measured from the start of connect() to the end of
 * the greeting line. Every step has --timeout seconds; what does not come
 * in time, or is not an OK, is an error. At the end each idle connection
 * must have been greeted too. Results as JSON on stdout, in the shape of
 * loadgen's (commands with ok/errors/ops_s/p50_ms/p99_ms, errors.total).
 * Load goes to 127.0.0.1 only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum step { S_GREETING, S_LOGIN, S_LOGOUT, S_DONE };
enum stat_kind { K_CHURN, K_GREETING, K_LOGIN, K_LOGOUT, K_NKINDS };
static const char *kind_names[K_NKINDS] = { "CHURN_GREETING", "GREETING", "LOGIN", "LOGOUT" };

struct conn {
	int fd;
	enum step step;
	int log_in;          /* go on to LOGIN after the greeting */
	double t0;           /* start of the current step */
	char line[1024];
	size_t len;
};

static struct {
	int port, clients, idle, nusers;
	int churn[16], nchurn;
	double timeout;
	const char *user_fmt, *pass_fmt;
} opt = { 0, 500, 50, 50, { 30, 30 }, 2, 30, "bench%02d", "pw-bench%02d" };

static struct {
	double *lat;
	size_t n, cap;
	unsigned long errors;
} stats[K_NKINDS];
static unsigned long conn_errors, timeouts;
static int ep;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void record(enum stat_kind k, double ms)
{
	if (stats[k].n == stats[k].cap) {
		stats[k].cap = stats[k].cap ? stats[k].cap * 2 : 1024;
		stats[k].lat = realloc(stats[k].lat, stats[k].cap * sizeof(double));
		if (stats[k].lat == NULL)
			abort();
	}
	stats[k].lat[stats[k].n++] = ms;
}

static int open_conn(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_str(struct conn *c, const char *s)
{
	size_t len = strlen(s);
	if (write(c->fd, s, len) != (ssize_t)len)
		conn_errors++;  /* a few bytes into an empty socket buffer */
}

static enum stat_kind step_kind(struct conn *c)
{
	if (c->step == S_GREETING)
		return c->log_in ? K_GREETING : K_CHURN;
	return c->step == S_LOGIN ? K_LOGIN : K_LOGOUT;
}

/* One complete line for c: advance its script. 1 when c is finished. */
static int on_line(struct conn *c, int idx)
{
	double ms = (now() - c->t0) * 1000;
	enum stat_kind k = step_kind(c);
	char cmd[256];

	if (c->step == S_GREETING) {
		if (strncmp(c->line, "* OK", 4) != 0) {
			stats[k].errors++;
			return 1;
		}
		record(k, ms);
		if (!c->log_in)
			return 1;
		char user[64], pass[64];
		snprintf(user, sizeof(user), opt.user_fmt, idx % opt.nusers + 1);
		snprintf(pass, sizeof(pass), opt.pass_fmt, idx % opt.nusers + 1);
		snprintf(cmd, sizeof(cmd), "a LOGIN %s %s\r\n", user, pass);
		c->step = S_LOGIN;
		c->t0 = now();
		send_str(c, cmd);
		return 0;
	}
	if (c->line[0] == '*')
		return 0;  /* untagged: capabilities, BYE before the LOGOUT OK */
	if (strncmp(c->line + 2, "OK", 2) != 0) {
		stats[k].errors++;
		return 1;
	}
	record(k, ms);
	if (c->step == S_LOGOUT)
		return 1;
	c->step = S_LOGOUT;
	c->t0 = now();
	send_str(c, "b LOGOUT\r\n");
	return 0;
}

/* Read what c has; 1 when c is finished (done or failed). */
static int on_readable(struct conn *c, int idx)
{
	char buf[4096];
	ssize_t r = read(c->fd, buf, sizeof(buf));

	if (r < 0 && errno == EAGAIN)
		return 0;
	if (r <= 0) {
		conn_errors++;
		return 1;
	}
	for (ssize_t i = 0; i < r; i++) {
		if (c->len < sizeof(c->line) - 1)
			c->line[c->len++] = buf[i];
		if (buf[i] != '\n')
			continue;
		c->line[c->len] = '\0';
		c->len = 0;
		if (on_line(c, idx))
			return 1;
	}
	return 0;
}

/* Open n connections at once and run each to its end (greeting only, or
 * greeting, LOGIN, LOGOUT). */
static void run_batch(int n, int log_in)
{
	struct conn *cs = calloc((size_t)n, sizeof(*cs));
	int open_n = 0;
	double t_first = now();

	for (int i = 0; i < n; i++) {
		cs[i].log_in = log_in;
		cs[i].t0 = now();
		if ((cs[i].fd = open_conn()) < 0) {
			conn_errors++;
			continue;
		}
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
		open_n++;
	}
	while (open_n > 0) {
		struct epoll_event evs[256];
		int ne = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < ne; e++) {
			struct conn *c = &cs[evs[e].data.u32];
			if (c->fd >= 0 && on_readable(c, (int)evs[e].data.u32)) {
				close(c->fd);
				c->fd = -1;
				c->step = S_DONE;
				open_n--;
			}
		}
		if (now() - t_first < opt.timeout)
			continue;
		for (int i = 0; i < n; i++) {
			if (cs[i].fd >= 0 && cs[i].step != S_DONE && now() - cs[i].t0 > opt.timeout) {
				stats[step_kind(&cs[i])].errors++;
				timeouts++;
				close(cs[i].fd);
				cs[i].fd = -1;
				cs[i].step = S_DONE;
				open_n--;
			}
		}
	}
	free(cs);
}

/* The idle connections: greeted (the server speaks first) though they
 * never said anything. */
static void check_idle(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		char buf[512];
		ssize_t r;
		if (fds[i] < 0)
			continue;
		r = read(fds[i], buf, sizeof(buf) - 1);
		if (r < 4 || strncmp(buf, "* OK", 4) != 0)
			stats[K_CHURN].errors++;
		close(fds[i]);
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(enum stat_kind k, double p)
{
	if (stats[k].n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(stats[k].n - 1) + 0.5);
	return stats[k].lat[i];
}

static void print_json(double elapsed)
{
	unsigned long ok = 0, errs = 0;

	printf("{\n  \"profile\": \"burst\",\n  \"clients\": %d,\n  \"idle\": %d,\n  \"duration_s\": %.3f,\n",
	       opt.clients, opt.idle, elapsed);
	printf("  \"commands\": {");
	for (int k = 0; k < K_NKINDS; k++) {
		qsort(stats[k].lat, stats[k].n, sizeof(double), cmp_d);
		if (k == K_LOGIN || k == K_LOGOUT)
			ok += stats[k].n;
		errs += stats[k].errors;
		printf("%s\n    \"%s\": {\"ok\": %zu, \"errors\": %lu, \"ops_s\": %.1f, "
		       "\"p50_ms\": %.3f, \"p99_ms\": %.3f}",
		       k ? "," : "", kind_names[k], stats[k].n, stats[k].errors, stats[k].n / elapsed,
		       pct(k, 0.5), pct(k, 0.99));
	}
	printf("\n  },\n  \"total_commands\": %lu,\n  \"commands_s\": %.1f,\n", ok, ok / elapsed);
	printf("  \"logins_s\": %.1f,\n  \"held_sessions\": 0,\n", stats[K_LOGIN].n / elapsed);
	printf("  \"errors\": {\"command\": %lu, \"connection\": %lu, \"timeout\": %lu, \"total\": %lu}\n}\n",
	       errs, conn_errors, timeouts, errs + conn_errors);
}

static void usage(void)
{
	fprintf(stderr, "usage: burst --port P [--clients N] [--idle N] [--churn N,N...] [--users N]\n"
			"             [--user-fmt F] [--pass-fmt F] [--timeout S]\n");
	exit(2);
}

static void parse_churn(const char *s)
{
	opt.nchurn = 0;
	while (*s && opt.nchurn < 16) {
		opt.churn[opt.nchurn++] = atoi(s);
		s += strcspn(s, ",");
		s += *s == ',';
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", 1, 0, 'p' },	   { "clients", 1, 0, 'c' },  { "idle", 1, 0, 'i' },
		{ "churn", 1, 0, 'C' },	   { "users", 1, 0, 'u' },    { "user-fmt", 1, 0, 'U' },
		{ "pass-fmt", 1, 0, 'W' }, { "timeout", 1, 0, 't' }, { 0, 0, 0, 0 }
	};
	int o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'p': opt.port = atoi(optarg); break;
		case 'c': opt.clients = atoi(optarg); break;
		case 'i': opt.idle = atoi(optarg); break;
		case 'C': parse_churn(optarg); break;
		case 'u': opt.nusers = atoi(optarg); break;
		case 'U': opt.user_fmt = optarg; break;
		case 'W': opt.pass_fmt = optarg; break;
		case 't': opt.timeout = atof(optarg); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.clients <= 0 || opt.clients > 20000 || opt.idle < 0 ||
	    opt.idle > 20000 || opt.nusers <= 0 || opt.timeout <= 0)
		usage();
	struct rlimit rl = { 65536, 65536 };
	setrlimit(RLIMIT_NOFILE, &rl);
	ep = epoll_create1(EPOLL_CLOEXEC);

	int *idle = calloc((size_t)opt.idle + 1, sizeof(int));
	for (int i = 0; i < opt.idle; i++)
		if ((idle[i] = open_conn()) < 0)
			conn_errors++;
	for (int r = 0; r < opt.nchurn; r++)
		run_batch(opt.churn[r], 0);
	double t_burst = now();
	run_batch(opt.clients, 1);
	double elapsed = now() - t_burst;
	check_idle(idle, opt.idle);
	free(idle);
	print_json(elapsed > 0 ? elapsed : 1e-9);
	return 0;
}
