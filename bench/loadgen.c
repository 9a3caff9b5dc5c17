/* Haven benchmark load generator: many IMAP connections from one process,
 * driven by libevent. Profiles:
 *   login    connect, LOGIN, LOGOUT, as fast as possible
 *   default  LOGIN, SELECT, FETCH (FLAGS/ENVELOPE/BODYSTRUCTURE/BODY[]),
 *            APPEND from a corpus, UID FETCH BODY[] of the appended message
 *            (verified byte for byte), UID STORE \Deleted, EXPUNGE, LOGOUT
 *   hold     log in N sessions, then NOOP / STATUS / IDLE slowly; writes a
 *            ready file once every session is logged in (bench/run measures
 *            server memory then)
 * Every command must get a tagged OK; anything else is counted as an error.
 * Results (per-command ops/s, p50/p99 latency in ms, totals) go to stdout as
 * JSON. Every loop is bounded by --duration and --max-sessions.
 * Load goes to 127.0.0.1 only. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

enum profile { P_LOGIN, P_DEFAULT, P_HOLD };

enum cmd {
	C_CONNECT, C_LOGIN, C_SELECT, C_FETCH_FLAGS, C_FETCH_ENV, C_FETCH_BS,
	C_FETCH_BODY, C_APPEND, C_UID_FETCH_BODY, C_STORE, C_EXPUNGE, C_LOGOUT,
	C_NOOP, C_STATUS, C_IDLE, C_NCMDS
};
static const char *cmd_names[C_NCMDS] = {
	"CONNECT", "LOGIN", "SELECT", "FETCH_FLAGS", "FETCH_ENVELOPE",
	"FETCH_BODYSTRUCTURE", "FETCH_BODY", "APPEND", "UID_FETCH_BODY_VERIFY",
	"STORE", "EXPUNGE", "LOGOUT", "NOOP", "STATUS", "IDLE"
};

#define MAX_SAMPLES 2000000

struct stat_cmd {
	double *lat; /* ms */
	size_t n, cap;
	unsigned long errors;
};

static struct {
	enum profile profile;
	int port, clients, nusers, max_sessions;
	double duration, hold_interval;
	const char *user_fmt, *pass_fmt, *corpus_dir, *ready_file;
	int verbose;
	unsigned long fetch_max; /* FETCH only 1..fetch_max (the seeded messages) */
} opt = { P_DEFAULT, 143, 10, 50, 1000000, 10.0, 2.0, "bench%02d", "pw-bench%02d",
	  NULL, NULL, 0, 0 };

static struct event_base *base;
static struct stat_cmd stats[C_NCMDS];
static unsigned long sessions_done, sessions_started, conn_errors, proto_errors,
	verify_errors, verify_ok, timeouts;
static int stopping, logged_in_now, ready_written;
static double t_start, t_end;
static char **corpus;
static size_t *corpus_len, ncorpus;
static unsigned long err_printed;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void record(enum cmd c, double ms)
{
	struct stat_cmd *s = &stats[c];
	if (s->n == s->cap) {
		if (s->cap >= MAX_SAMPLES)
			return;
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->lat = realloc(s->lat, s->cap * sizeof(double));
		if (!s->lat) {
			perror("realloc");
			exit(2);
		}
	}
	s->lat[s->n++] = ms;
}

static void errmsg(const char *fmt, ...)
{
	if (err_printed++ >= 20)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

/* ---- one connection ------------------------------------------------------- */

enum step {
	S_GREETING, S_LOGIN, S_SELECT, S_FETCH_FLAGS, S_FETCH_ENV, S_FETCH_BS,
	S_FETCH_BODY, S_APPEND, S_UID_FETCH, S_STORE, S_EXPUNGE, S_LOGOUT,
	S_HOLD_WAIT, S_HOLD_CMD, S_IDLE_WAIT, S_DONE
};

struct conn {
	int id;
	struct bufferevent *bev;
	struct event *timer;
	enum step step;
	enum cmd cur;
	unsigned tagno;
	char tag[16];
	double sent_at;
	int user;
	unsigned long exists;
	unsigned long appended_uid;
	char *app_msg;     /* what we appended */
	size_t app_len;
	const char *pending_literal; /* sent on "+" */
	size_t pending_len;
	/* response reading */
	size_t lit_remaining; /* > 0: reading literal bytes */
	char *lit;            /* last literal of the current command */
	size_t lit_len, lit_cap;
	int in_fetch_resp;
	int got_body;
	unsigned long seq;
	unsigned long ra, rb; /* FETCH range */
	int idle_sent_done;
};

static struct conn *conns;
static void conn_start(struct conn *c);
static void conn_next(struct conn *c);

static void conn_free(struct conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	free(c->app_msg);
	c->app_msg = NULL;
}

static void restart_later(struct conn *c)
{
	conn_free(c);
	c->step = S_DONE;
	if (!stopping && now() < t_end && sessions_started < (unsigned long)opt.max_sessions)
		conn_start(c);
}

static void send_cmd(struct conn *c, enum cmd kind, const char *fmt, ...)
{
	va_list ap;
	c->cur = kind;
	snprintf(c->tag, sizeof(c->tag), "A%u", ++c->tagno);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out, "%s ", c->tag);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
	c->sent_at = now();
	c->lit_len = 0;
	c->got_body = 0;
}

static void user_creds(int u, char *user, size_t ul, char *pass, size_t pl)
{
	snprintf(user, ul, opt.user_fmt, u + 1);
	snprintf(pass, pl, opt.pass_fmt, u + 1);
}

static void do_login(struct conn *c)
{
	char user[64], pass[64];
	c->user = (int)(random() % opt.nusers);
	user_creds(c->user, user, sizeof(user), pass, sizeof(pass));
	c->step = S_LOGIN;
	send_cmd(c, C_LOGIN, "LOGIN %s %s", user, pass);
}

static void make_append(struct conn *c)
{
	size_t i = (size_t)(random() % ncorpus);
	char hdr[128];
	int hl = snprintf(hdr, sizeof(hdr), "X-Bench-Id: %d-%lu-%ld\r\n", c->id, ++c->seq,
			  (long)random());
	free(c->app_msg);
	c->app_len = (size_t)hl + corpus_len[i];
	c->app_msg = malloc(c->app_len);
	if (!c->app_msg) {
		perror("malloc");
		exit(2);
	}
	memcpy(c->app_msg, hdr, (size_t)hl);
	memcpy(c->app_msg + hl, corpus[i], corpus_len[i]);
}

static void hold_schedule(struct conn *c)
{
	c->step = S_HOLD_WAIT;
	double d = opt.hold_interval * (0.5 + (random() % 1000) / 1000.0);
	struct timeval tv = { (time_t)d, (suseconds_t)((d - (time_t)d) * 1e6) };
	evtimer_add(c->timer, &tv);
}

/* Decide and send the next command after a tagged OK. */
static void conn_next(struct conn *c)
{
	unsigned long n = c->exists;
	if (opt.fetch_max && n > opt.fetch_max)
		n = opt.fetch_max; /* never FETCH what another session may expunge */
	switch (c->step) {
	case S_GREETING:
		do_login(c);
		return;
	case S_LOGIN:
		if (opt.profile == P_LOGIN) {
			c->step = S_LOGOUT;
			send_cmd(c, C_LOGOUT, "LOGOUT");
			return;
		}
		c->exists = 0;
		c->step = S_SELECT;
		send_cmd(c, C_SELECT, "SELECT INBOX");
		return;
	case S_SELECT:
		if (opt.profile == P_HOLD) {
			logged_in_now++;
			hold_schedule(c);
			return;
		}
		if (n == 0) {
			c->step = S_FETCH_BODY; /* skip the fetches */
			conn_next(c);
			return;
		}
		{
			unsigned long a = 1 + (unsigned long)random() % n;
			unsigned long b = a + 9 > n ? n : a + 9;
			c->step = S_FETCH_FLAGS;
			send_cmd(c, C_FETCH_FLAGS, "FETCH 1:%lu (FLAGS)", n);
			c->ra = a;
			c->rb = b;
		}
		return;
	case S_FETCH_FLAGS: {
		unsigned long a = c->ra, b = c->rb;
		c->step = S_FETCH_ENV;
		send_cmd(c, C_FETCH_ENV, "FETCH %lu:%lu (ENVELOPE)", a, b);
		return;
	}
	case S_FETCH_ENV: {
		unsigned long a = c->ra, b = c->rb;
		c->step = S_FETCH_BS;
		send_cmd(c, C_FETCH_BS, "FETCH %lu:%lu (BODYSTRUCTURE)", a, b);
		return;
	}
	case S_FETCH_BS: {
		unsigned long a = c->ra;
		c->step = S_FETCH_BODY;
		send_cmd(c, C_FETCH_BODY, "FETCH %lu BODY.PEEK[]", a);
		return;
	}
	case S_FETCH_BODY:
		make_append(c);
		c->appended_uid = 0;
		c->step = S_APPEND;
		c->pending_literal = c->app_msg;
		c->pending_len = c->app_len;
		send_cmd(c, C_APPEND, "APPEND INBOX (\\Seen) {%zu}", c->app_len);
		return;
	case S_APPEND:
		if (!c->appended_uid) {
			proto_errors++;
			errmsg("conn %d: APPEND without APPENDUID", c->id);
			c->step = S_LOGOUT;
			send_cmd(c, C_LOGOUT, "LOGOUT");
			return;
		}
		c->step = S_UID_FETCH;
		send_cmd(c, C_UID_FETCH_BODY, "UID FETCH %lu BODY.PEEK[]", c->appended_uid);
		return;
	case S_UID_FETCH:
		c->step = S_STORE;
		send_cmd(c, C_STORE, "UID STORE %lu +FLAGS.SILENT (\\Deleted)", c->appended_uid);
		return;
	case S_STORE:
		c->step = S_EXPUNGE;
		send_cmd(c, C_EXPUNGE, "EXPUNGE");
		return;
	case S_EXPUNGE:
		c->step = S_LOGOUT;
		send_cmd(c, C_LOGOUT, "LOGOUT");
		return;
	case S_HOLD_CMD:
		hold_schedule(c);
		return;
	default:
		return;
	}
}

static void hold_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	if (!c->bev)
		return;
	if (c->step == S_IDLE_WAIT) {
		/* end the IDLE */
		evbuffer_add(bufferevent_get_output(c->bev), "DONE\r\n", 6);
		c->idle_sent_done = 1;
		return;
	}
	if (stopping || now() >= t_end) {
		c->step = S_LOGOUT;
		logged_in_now--;
		send_cmd(c, C_LOGOUT, "LOGOUT");
		return;
	}
	c->step = S_HOLD_CMD;
	switch (random() % 3) {
	case 0:
		send_cmd(c, C_NOOP, "NOOP");
		break;
	case 1:
		send_cmd(c, C_STATUS, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)");
		break;
	default:
		c->idle_sent_done = 0;
		send_cmd(c, C_IDLE, "IDLE");
		break;
	}
}

static void write_ready(void)
{
	if (ready_written || !opt.ready_file)
		return;
	FILE *f = fopen(opt.ready_file, "w");
	if (f) {
		fprintf(f, "%d\n", logged_in_now);
		fclose(f);
	}
	ready_written = 1;
}

/* Handle one complete logical response line (literals already consumed). */
static void handle_line(struct conn *c, const char *line, size_t len)
{
	if (opt.verbose > 1)
		fprintf(stderr, "S%d: %.*s\n", c->id, (int)(len > 200 ? 200 : len), line);
	if (c->step == S_GREETING) {
		if (len >= 4 && !strncmp(line, "* OK", 4)) {
			record(C_CONNECT, (now() - c->sent_at) * 1000);
			conn_next(c);
		} else {
			proto_errors++;
			errmsg("conn %d: bad greeting %.*s", c->id, (int)len, line);
			restart_later(c);
		}
		return;
	}
	if (line[0] == '+') {
		if (c->pending_literal) {
			struct evbuffer *out = bufferevent_get_output(c->bev);
			evbuffer_add(out, c->pending_literal, c->pending_len);
			evbuffer_add(out, "\r\n", 2);
			c->pending_literal = NULL;
		} else if (c->cur == C_IDLE) {
			/* idling; end it after a short while */
			c->step = S_IDLE_WAIT;
			struct timeval tv = { 1, 0 };
			evtimer_add(c->timer, &tv);
		}
		return;
	}
	if (line[0] == '*') {
		unsigned long num;
		char word[16];
		if (sscanf(line, "* %lu %15s", &num, word) == 2 && !strcmp(word, "EXISTS"))
			c->exists = num;
		return;
	}
	size_t tl = strlen(c->tag);
	if (len > tl && !strncmp(line, c->tag, tl) && line[tl] == ' ') {
		const char *st = line + tl + 1;
		double ms = (now() - c->sent_at) * 1000;
		if (strncmp(st, "OK", 2) != 0) {
			stats[c->cur].errors++;
			errmsg("conn %d: %s failed: %.*s", c->id, cmd_names[c->cur], (int)len, line);
			if (c->cur == C_LOGIN || c->cur == C_LOGOUT || c->cur == C_SELECT ||
			    c->cur == C_APPEND) {
				if (c->cur == C_LOGOUT)
					sessions_done++;
				restart_later(c);
				return;
			}
		} else {
			record(c->cur, ms);
			if (c->cur == C_APPEND) {
				const char *p = strstr(st, "[APPENDUID ");
				unsigned long v, u;
				if (p && sscanf(p, "[APPENDUID %lu %lu]", &v, &u) == 2)
					c->appended_uid = u;
			}
			if (c->cur == C_UID_FETCH_BODY && c->got_body != 3) {
				verify_errors++;
				errmsg("conn %d: UID FETCH %lu returned no matching BODY[]", c->id,
				       c->appended_uid);
			}
		}
		if (c->cur == C_LOGOUT) {
			sessions_done++;
			restart_later(c);
			return;
		}
		if (c->cur == C_IDLE) {
			c->step = S_HOLD_CMD;
		}
		conn_next(c);
		if (opt.profile == P_HOLD && logged_in_now >= opt.clients)
			write_ready();
		return;
	}
	proto_errors++;
	errmsg("conn %d: unexpected line: %.*s", c->id, (int)(len > 200 ? 200 : len), line);
}

/* A literal finished: if it is the BODY[] of the message we appended,
 * compare. */
static void literal_done(struct conn *c)
{
	if (c->cur != C_UID_FETCH_BODY)
		return;
	if (c->lit_len == c->app_len && !memcmp(c->lit, c->app_msg, c->app_len)) {
		verify_ok++;
		c->got_body = 3;
	} else {
		errmsg("conn %d: BODY[] mismatch (got %zu bytes, appended %zu)", c->id, c->lit_len,
		       c->app_len);
		c->got_body = 4;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	static char *acc; /* logical line accumulator (single-threaded) */
	static size_t acc_cap;
	for (int guard = 0; guard < 100000 && c->bev; guard++) {
		if (c->lit_remaining) {
			size_t avail = evbuffer_get_length(in);
			if (!avail)
				return;
			size_t take = avail < c->lit_remaining ? avail : c->lit_remaining;
			if (c->lit_len + take > c->lit_cap) {
				c->lit_cap = (c->lit_len + take) * 2;
				c->lit = realloc(c->lit, c->lit_cap);
				if (!c->lit) {
					perror("realloc");
					exit(2);
				}
			}
			evbuffer_remove(in, c->lit + c->lit_len, take);
			c->lit_len += take;
			c->lit_remaining -= take;
			if (!c->lit_remaining)
				literal_done(c);
			continue;
		}
		/* Read a line; a line ending in {n} continues after n bytes. The
		 * partial logical line is kept in the conn's pending buffer. */
		size_t n;
		char *l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);
		if (!l)
			return;
		/* literal marker at end? */
		size_t litn = 0;
		if (n >= 3 && l[n - 1] == '}') {
			size_t i = n - 2;
			while (i > 0 && isdigit((unsigned char)l[i]))
				i--;
			if (l[i] == '{' && i < n - 2)
				litn = strtoul(l + i + 1, NULL, 10);
		}
		if (n + 1 > acc_cap) {
			acc_cap = n + 1024;
			acc = realloc(acc, acc_cap);
			if (!acc) {
				perror("realloc");
				exit(2);
			}
		}
		memcpy(acc, l, n);
		acc[n] = 0;
		free(l);
		if (litn) {
			/* the first segment of a response carrying a literal: handle
			 * untagged/tagged prefix only for FETCH bookkeeping; literal
			 * bytes follow. The rest of the line is read as a new segment
			 * that starts with ")" or " ..." and is ignored. */
			c->lit_len = 0;
			c->lit_remaining = litn;
			continue;
		}
		if (n && (acc[0] == ')' || acc[0] == ' '))
			continue; /* tail after a literal */
		handle_line(c, acc, n);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return;
	}
	if ((what & BEV_EVENT_EOF) && c->cur == C_LOGOUT) {
		/* LOGOUT answered with BYE and close before we saw the tag */
		sessions_done++;
		restart_later(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		timeouts++;
	else
		conn_errors++;
	errmsg("conn %d: connection %s during %s", c->id,
	       (what & BEV_EVENT_TIMEOUT) ? "timeout" : (what & BEV_EVENT_EOF) ? "EOF" : "error",
	       cmd_names[c->cur]);
	if (c->step == S_HOLD_WAIT || c->step == S_HOLD_CMD || c->step == S_IDLE_WAIT)
		logged_in_now--;
	evtimer_del(c->timer);
	restart_later(c);
}

static void conn_start(struct conn *c)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)opt.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sessions_started++;
	c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	struct timeval to = { 60, 0 };
	bufferevent_set_timeouts(c->bev, &to, &to);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->step = S_GREETING;
	c->cur = C_CONNECT;
	c->tagno = 0;
	c->lit_remaining = 0;
	c->lit_len = 0;
	c->pending_literal = NULL;
	c->sent_at = now();
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		conn_errors++;
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->step = S_DONE;
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	int active = 0;
	if (now() >= t_end)
		stopping = 1;
	for (int i = 0; i < opt.clients; i++)
		if (conns[i].bev)
			active++;
	/* grace: in-flight sessions finish, but never longer than 15 s */
	if (!active || now() >= t_end + 15.0)
		event_base_loopbreak(base);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(struct stat_cmd *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p * (s->n - 1) + 0.5);
	return s->lat[i];
}

static void load_corpus(void)
{
	if (!opt.corpus_dir) {
		static char dflt[] = "From: bench <bench@example.com>\r\nTo: you@example.com\r\n"
				     "Subject: bench\r\n\r\nhello\r\n";
		corpus = malloc(sizeof(char *));
		corpus_len = malloc(sizeof(size_t));
		corpus[0] = dflt;
		corpus_len[0] = strlen(dflt);
		ncorpus = 1;
		return;
	}
	DIR *d = opendir(opt.corpus_dir);
	if (!d) {
		perror(opt.corpus_dir);
		exit(2);
	}
	struct dirent *e;
	size_t cap = 0;
	while ((e = readdir(d)) && ncorpus < 10000) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", opt.corpus_dir, e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		struct stat st;
		if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
		    st.st_size > 10 * 1024 * 1024) {
			fclose(f);
			continue;
		}
		if (ncorpus == cap) {
			cap = cap ? cap * 2 : 64;
			corpus = realloc(corpus, cap * sizeof(char *));
			corpus_len = realloc(corpus_len, cap * sizeof(size_t));
		}
		char *buf = malloc((size_t)st.st_size);
		if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			free(buf);
			fclose(f);
			continue;
		}
		fclose(f);
		corpus[ncorpus] = buf;
		corpus_len[ncorpus++] = (size_t)st.st_size;
	}
	closedir(d);
	if (!ncorpus) {
		fprintf(stderr, "loadgen: empty corpus %s\n", opt.corpus_dir);
		exit(2);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --port P [--profile login|default|hold] [--clients N]\n"
		"       [--duration S] [--users N] [--user-fmt bench%%02d] [--pass-fmt pw-bench%%02d]\n"
		"       [--corpus DIR] [--max-sessions N] [--hold-interval S] [--ready-file F]\n"
		"       [--fetch-max N] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct option lo[] = {
		{ "port", 1, 0, 'p' },	      { "profile", 1, 0, 'P' },
		{ "clients", 1, 0, 'c' },     { "duration", 1, 0, 'd' },
		{ "users", 1, 0, 'u' },	      { "user-fmt", 1, 0, 'U' },
		{ "pass-fmt", 1, 0, 'W' },    { "corpus", 1, 0, 'C' },
		{ "max-sessions", 1, 0, 'm' }, { "hold-interval", 1, 0, 'i' },
		{ "ready-file", 1, 0, 'r' },  { "verbose", 0, 0, 'v' },
		{ "fetch-max", 1, 0, 'f' },
		{ 0, 0, 0, 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "p:P:c:d:u:U:W:C:m:i:r:vf:", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'P':
			if (!strcmp(optarg, "login")) opt.profile = P_LOGIN;
			else if (!strcmp(optarg, "default")) opt.profile = P_DEFAULT;
			else if (!strcmp(optarg, "hold")) opt.profile = P_HOLD;
			else usage();
			break;
		case 'c': opt.clients = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'u': opt.nusers = atoi(optarg); break;
		case 'U': opt.user_fmt = optarg; break;
		case 'W': opt.pass_fmt = optarg; break;
		case 'C': opt.corpus_dir = optarg; break;
		case 'm': opt.max_sessions = atoi(optarg); break;
		case 'i': opt.hold_interval = atof(optarg); break;
		case 'r': opt.ready_file = optarg; break;
		case 'v': opt.verbose++; break;
		case 'f': opt.fetch_max = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.clients <= 0 || opt.clients > 20000 || opt.nusers <= 0 ||
	    opt.duration <= 0 || opt.duration > 3600)
		usage();
	srandom(12345);
	load_corpus();
	base = event_base_new();
	conns = calloc((size_t)opt.clients, sizeof(*conns));
	t_start = now();
	t_end = t_start + opt.duration;
	for (int i = 0; i < opt.clients; i++) {
		conns[i].id = i;
		conns[i].timer = evtimer_new(base, hold_timer_cb, &conns[i]);
		conn_start(&conns[i]);
	}
	struct event *tick = event_new(base, -1, EV_PERSIST, deadline_cb, NULL);
	struct timeval tv = { 0, 100000 };
	event_add(tick, &tv);
	event_base_dispatch(base);
	double elapsed = now() - t_start;
	if (elapsed > opt.duration)
		elapsed = opt.duration; /* rates over the measured window */

	unsigned long total_ok = 0, total_err = 0;
	printf("{\n  \"profile\": \"%s\",\n  \"clients\": %d,\n  \"duration_s\": %.3f,\n",
	       opt.profile == P_LOGIN ? "login" : opt.profile == P_HOLD ? "hold" : "default",
	       opt.clients, elapsed);
	printf("  \"commands\": {");
	int first = 1;
	for (int i = 0; i < C_NCMDS; i++) {
		struct stat_cmd *s = &stats[i];
		if (!s->n && !s->errors)
			continue;
		qsort(s->lat, s->n, sizeof(double), cmp_d);
		if (i != C_CONNECT)
			total_ok += s->n;
		total_err += s->errors;
		printf("%s\n    \"%s\": {\"ok\": %zu, \"errors\": %lu, \"ops_s\": %.1f, "
		       "\"p50_ms\": %.3f, \"p99_ms\": %.3f}",
		       first ? "" : ",", cmd_names[i], s->n, s->errors, s->n / elapsed,
		       pct(s, 0.5), pct(s, 0.99));
		first = 0;
	}
	printf("\n  },\n");
	printf("  \"total_commands\": %lu,\n  \"commands_s\": %.1f,\n", total_ok, total_ok / elapsed);
	printf("  \"logins_s\": %.1f,\n", stats[C_LOGIN].n / elapsed);
	printf("  \"sessions_started\": %lu,\n  \"sessions_completed\": %lu,\n", sessions_started,
	       sessions_done);
	printf("  \"held_sessions\": %d,\n", opt.profile == P_HOLD ? (ready_written ? opt.clients : logged_in_now) : 0);
	printf("  \"verified_bodies\": %lu,\n", verify_ok);
	printf("  \"errors\": {\"command\": %lu, \"connection\": %lu, \"timeout\": %lu, "
	       "\"protocol\": %lu, \"verify\": %lu, \"total\": %lu}\n}\n",
	       total_err, conn_errors, timeouts, proto_errors, verify_errors,
	       total_err + conn_errors + timeouts + proto_errors + verify_errors);
	return 0;
}
