/* Haven benchmark load generator: many IMAP connections from one process,
 * driven by libevent. Profiles (what a session sends: lg_session.c):
 *   login    connect, LOGIN, LOGOUT, as fast as possible
 *   default  LOGIN, SELECT, FETCH (FLAGS/ENVELOPE/BODYSTRUCTURE/BODY[]) of
 *            seeded messages only, APPEND from a corpus, UID FETCH BODY[]
 *            of the appended message (verified byte for byte), UID STORE
 *            \Deleted, EXPUNGE, LOGOUT
 *   mixed    LOGIN, LIST, STATUS, SELECT, FETCH of the newest messages,
 *            FETCH BODY[] and STORE of random ones (which other sessions
 *            may have expunged), APPEND, its verified UID FETCH, UID STORE
 *            \Deleted, EXPUNGE, LOGOUT
 *   append   LOGIN, CREATE a mailbox, APPEND to it until the run ends,
 *            DELETE it, LOGOUT (client i is user i: --user-pick client)
 *   hold     log in N sessions, then NOOP / STATUS / IDLE slowly; writes a
 *            ready file once every session is logged in (bench/run measures
 *            server memory then)
 *   bigbox   one big mailbox: --max-sessions sessions one after the other,
 *            each LOGIN, the --big-ops commands (STATUS, SELECT, FETCH 1:*
 *            (UID FLAGS), UID SEARCH SUBJECT, SEARCH BODY), LOGOUT; every
 *            answer is checked against --bigbox-expect (lg_bigbox.c)
 *   lmtp     not IMAP: mail delivered over LMTP, one connection per client
 *            kept for the whole run, MAIL/RCPT/DATA pipelined, every
 *            recipient's reply checked (lg_lmtp.c)
 * --scram: log in with AUTHENTICATE SCRAM-SHA-256 instead of LOGIN.
 * --tls: implicit TLS (IMAPS), the server certificate verified against
 * --tls-ca for IP 127.0.0.1; every connection makes a full handshake (no
 * session resumption); CONNECT then includes the handshake.
 * Every command must get a tagged OK; anything else is counted as an error
 * (a NO [ALREADYEXISTS] to the append profile's CREATE excepted). A tagged
 * OK [EXPUNGEISSUED] is an OK, counted apart as "partial".
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
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "loadgen.h"

const char *cmd_names[C_NCMDS] = {
	"CONNECT", "LOGIN", "SELECT", "FETCH_FLAGS", "FETCH_ENVELOPE",
	"FETCH_BODYSTRUCTURE", "FETCH_BODY", "APPEND", "UID_FETCH_BODY_VERIFY",
	"STORE", "EXPUNGE", "LOGOUT", "NOOP", "STATUS", "IDLE",
	"FETCH_ALL_UID_FLAGS", "UID_SEARCH_SUBJECT", "SEARCH_BODY",
	"LIST", "FETCH_WINDOW", "STORE_FLAG", "CREATE", "DELETE",
	"LHLO", "ENVELOPE", "DATA", "QUIT",
	"SORT_ARRIVAL", "SORT_SUBJECT", "SORT_DATE", "THREAD_REFERENCES"
};

#define MAX_SAMPLES 2000000

struct options opt = {
	.profile = P_DEFAULT, .port = 143, .clients = 10, .nusers = 50,
	.max_sessions = 1000000, .duration = 10.0, .hold_interval = 2.0,
	.user_fmt = "bench%02d", .pass_fmt = "pw-bench%02d", .timeout = 60,
	.append_box = "benchappend", .lmtp_detail = "benchlmtp", .lmtp_domain = "localhost",
	.lmtp_rcpt2 = 20,
};

static SSL_CTX *ssl_ctx;
static char tls_version[32], tls_cipher[64]; /* of the first TLS connection */

static struct event_base *base;
struct stat_cmd stats[C_NCMDS];
unsigned long proto_errors, verify_errors, verify_ok, sessions_done;
static unsigned long sessions_started, conn_errors, timeouts;
int stopping, logged_in_now;
static int ready_written;
static double t_start;
double t_end;
char **corpus;
size_t *corpus_len, ncorpus;
static unsigned long err_printed;

void lg_oom(void)
{
	fprintf(stderr, "loadgen: out of memory\n");
	exit(2);
}

double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void record(enum cmd c, double ms)
{
	struct stat_cmd *s = &stats[c];
	if (s->n == s->cap) {
		if (s->cap >= MAX_SAMPLES)
			return;
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->lat = realloc(s->lat, s->cap * sizeof(double));
		if (!s->lat)
			lg_oom();
	}
	s->lat[s->n++] = ms;
}

void errmsg(const char *fmt, ...)
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

struct conn *conns;
static void conn_start(struct conn *c);

static void conn_free(struct conn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	free(c->app_msg);
	c->app_msg = NULL;
}

void restart_later(struct conn *c)
{
	conn_free(c);
	c->step = S_DONE;
	if (!stopping && now() < t_end && sessions_started < (unsigned long)opt.max_sessions)
		conn_start(c);
}

void send_cmd(struct conn *c, enum cmd kind, const char *fmt, ...)
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
	session_hold_command(c);
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

/* An untagged line: the message count (EXISTS, and EXPUNGE, so that the
 * sequence numbers a session picks stay within its view), or bigbox data. */
static void handle_untagged(struct conn *c, const char *line)
{
	unsigned long num;
	char word[16];
	if (sscanf(line, "* %lu %15s", &num, word) == 2 && !strcmp(word, "EXISTS"))
		c->exists = num;
	else if (sscanf(line, "* %lu %15s", &num, word) == 2 && !strcmp(word, "EXPUNGE"))
		c->exists -= c->exists > 0;
	else if (c->step == S_BIG)
		big_untagged(c, line);
}

/* A tagged OK (or a NO the session expects): the command's latency, what
 * it returned. */
static void tagged_ok(struct conn *c, const char *st, double ms)
{
	record(c->cur, ms);
	if (strstr(st, "[EXPUNGEISSUED]"))
		stats[c->cur].partial++;
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
	if (c->step == S_BIG)
		big_verify(c);
}

/* A tagged answer other than OK: an error; the session goes on unless the
 * command was one it cannot do without (0: go on). */
static int tagged_error(struct conn *c, const char *line, size_t len)
{
	stats[c->cur].errors++;
	errmsg("conn %d: %s failed: %.*s", c->id, cmd_names[c->cur], (int)len, line);
	if (c->cur != C_LOGIN && c->cur != C_LOGOUT && c->cur != C_SELECT && c->cur != C_APPEND)
		return 0;
	if (c->cur == C_LOGOUT)
		sessions_done++;
	restart_later(c);
	return -1;
}

static void handle_tagged(struct conn *c, const char *line, size_t len, const char *st)
{
	double ms = (now() - c->sent_at) * 1000;
	if (strncmp(st, "OK", 2) == 0 || session_tolerates_no(c, st))
		tagged_ok(c, st, ms);
	else if (tagged_error(c, line, len) < 0)
		return;
	if (c->cur == C_LOGOUT) {
		sessions_done++;
		restart_later(c);
		return;
	}
	if (c->cur == C_IDLE)
		c->step = S_HOLD_CMD;
	session_next(c);
	if (opt.profile == P_HOLD && logged_in_now >= opt.clients)
		write_ready();
}

static void handle_continuation(struct conn *c, const char *line, size_t len)
{
	if (c->cur == C_LOGIN && opt.scram) {
		scram_continue(c, len > 2 ? line + 2 : "");
	} else if (c->pending_literal) {
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
}

/* Handle one complete logical response line (literals already consumed). */
static void handle_line(struct conn *c, const char *line, size_t len)
{
	if (opt.verbose > 1)
		fprintf(stderr, "S%d: %.*s\n", c->id, (int)(len > 200 ? 200 : len), line);
	if (c->step == S_GREETING) {
		if (len >= 4 && !strncmp(line, "* OK", 4)) {
			record(C_CONNECT, (now() - c->sent_at) * 1000);
			session_next(c);
		} else {
			proto_errors++;
			errmsg("conn %d: bad greeting %.*s", c->id, (int)len, line);
			restart_later(c);
		}
		return;
	}
	if (line[0] == '+') {
		handle_continuation(c, line, len);
		return;
	}
	if (line[0] == '*') {
		handle_untagged(c, line);
		return;
	}
	size_t tl = strlen(c->tag);
	if (len > tl && !strncmp(line, c->tag, tl) && line[tl] == ' ') {
		handle_tagged(c, line, len, line + tl + 1);
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
	/* until the input has no complete line left, or the connection ended
	 * (restart_later may already have put a new one in c->bev) */
	while (c->bev == bev) {
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
		if (opt.tls && !tls_version[0]) {
			SSL *ssl = bufferevent_openssl_get_ssl(bev);
			snprintf(tls_version, sizeof(tls_version), "%s", SSL_get_version(ssl));
			snprintf(tls_cipher, sizeof(tls_cipher), "%s", SSL_get_cipher_name(ssl));
		}
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
	{
		char tlserr[256] = "";
		unsigned long e = opt.tls ? bufferevent_get_openssl_error(bev) : 0;
		if (e)
			ERR_error_string_n(e, tlserr, sizeof(tlserr));
		errmsg("conn %d: connection %s during %s%s%s", c->id,
		       (what & BEV_EVENT_TIMEOUT) ? "timeout"
		       : (what & BEV_EVENT_EOF)   ? "EOF"
						  : "error",
		       cmd_names[c->cur], e ? ": " : "", tlserr);
	}
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
	if (opt.tls) {
		SSL *ssl = SSL_new(ssl_ctx);
		if (!ssl) {
			fprintf(stderr, "loadgen: SSL_new failed\n");
			exit(2);
		}
		/* the bench certificate is for IP 127.0.0.1 */
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
		c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
							BEV_OPT_CLOSE_ON_FREE);
		if (c->bev)
			/* a server may close after BYE without close_notify */
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		fprintf(stderr, "loadgen: cannot make a bufferevent\n");
		exit(2);
	}
	bufferevent_setcb(c->bev, opt.profile == P_LMTP ? lmtp_read_cb : read_cb, NULL, event_cb, c);
	struct timeval to = { opt.timeout, 0 };
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
	if (now() >= t_end && !stopping) {
		stopping = 1;
		/* hold: sessions waiting for their next command log out now */
		for (int i = 0; i < opt.clients; i++)
			if (conns[i].bev && conns[i].step == S_HOLD_WAIT) {
				struct timeval tv0 = { 0, 0 };
				evtimer_add(conns[i].timer, &tv0);
			}
	}
	for (int i = 0; i < opt.clients; i++)
		if (conns[i].bev)
			active++;
	/* grace: in-flight sessions finish, but never longer than 15 s */
	if (!active || now() >= t_end + 15.0)
		event_base_loopbreak(base);
}

void window_start(void)
{
	t_start = now();
	t_end = t_start + opt.duration;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* percentile with linear interpolation between the two nearest samples
 * (so the p50 of 2 samples is their mean) */
static double pct(struct stat_cmd *s, double p)
{
	if (!s->n)
		return 0;
	double x = p * (double)(s->n - 1);
	size_t i = (size_t)x;
	if (i + 1 >= s->n)
		return s->lat[s->n - 1];
	return s->lat[i] + (s->lat[i + 1] - s->lat[i]) * (x - (double)i);
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

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage: loadgen --port P [--profile login|default|mixed|append|hold|bigbox|lmtp]\n"
		"       [--clients N] [--duration S] [--users N] [--user-fmt bench%%02d]\n"
		"       [--pass-fmt pw-bench%%02d] [--user-pick random|client] [--corpus DIR]\n"
		"       [--max-sessions N] [--hold-interval S] [--ready-file F] [--fetch-max N]\n"
		"       [--append-box NAME] [--timeout S] [--tls --tls-ca CERT.pem]\n"
		"       [--big-ops STATUS,SELECT,FETCH,SEARCH_HEADER,SEARCH_BODY,SORT_ARRIVAL,\n"
		"                  SORT_SUBJECT,SORT_DATE,THREAD_REFERENCES --bigbox-expect F]\n"
		"       [--scram] [--lmtp-detail NAME] [--lmtp-domain D] [--lmtp-rcpt2 PERCENT] [-v]\n"
		"--scram: log in with AUTHENTICATE SCRAM-SHA-256 (the server's signature checked)\n"
		"--user-pick client: client i is always user i mod N (100 clients on 50 users:\n"
		"two sessions of every user at all times); random (default): a random user\n"
		"per session.\n"
		"lmtp: --port is the LMTP port; recipients user+NAME@D (NAME \"\": user@D),\n"
		"PERCENT of the messages (default 20) to two different users.\n"
		"bigbox: --max-sessions sessions one after the other (use --clients 1); F has\n"
		"lines 'messages N', 'uidnext N', 'unseen N', 'subject STR', 'subject_uids U...',\n"
		"'body STR', 'body_seqs S...' (ascending)\n");
	exit(2);
}

static const char *const profile_names[] = {
	[P_LOGIN] = "login", [P_DEFAULT] = "default", [P_MIXED] = "mixed",
	[P_APPEND] = "append", [P_HOLD] = "hold", [P_BIGBOX] = "bigbox", [P_LMTP] = "lmtp",
};

static enum profile profile_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(profile_names) / sizeof(profile_names[0]); i++)
		if (!strcmp(name, profile_names[i]))
			return (enum profile)i;
	usage();
}

static void tls_init(void)
{
	ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!ssl_ctx) {
		fprintf(stderr, "loadgen: SSL_CTX_new failed\n");
		exit(2);
	}
	if (!opt.tls_ca || SSL_CTX_load_verify_locations(ssl_ctx, opt.tls_ca, NULL) != 1) {
		fprintf(stderr, "loadgen: --tls needs --tls-ca with the server's certificate\n");
		exit(2);
	}
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
	/* every connection a full handshake, as a client without a session cache */
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
}

static void parse_options(int argc, char **argv)
{
	static struct option lo[] = {
		{ "port", 1, 0, 'p' },	      { "profile", 1, 0, 'P' },
		{ "clients", 1, 0, 'c' },     { "duration", 1, 0, 'd' },
		{ "users", 1, 0, 'u' },	      { "user-fmt", 1, 0, 'U' },
		{ "pass-fmt", 1, 0, 'W' },    { "corpus", 1, 0, 'C' },
		{ "max-sessions", 1, 0, 'm' }, { "hold-interval", 1, 0, 'i' },
		{ "ready-file", 1, 0, 'r' },  { "verbose", 0, 0, 'v' },
		{ "fetch-max", 1, 0, 'f' },   { "timeout", 1, 0, 't' },
		{ "tls", 0, 0, 'T' },	      { "tls-ca", 1, 0, 'A' },
		{ "big-ops", 1, 0, 'B' },     { "bigbox-expect", 1, 0, 'E' },
		{ "user-pick", 1, 0, 'k' },   { "append-box", 1, 0, 'a' },
		{ "scram", 0, 0, 'S' },	      { "lmtp-detail", 1, 0, 'D' },
		{ "lmtp-domain", 1, 0, 'O' }, { "lmtp-rcpt2", 1, 0, 'R' },
		{ 0, 0, 0, 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "p:P:c:d:u:U:W:C:m:i:r:vf:t:TA:B:E:k:a:SD:O:R:", lo,
				 NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'P': opt.profile = profile_parse(optarg); break;
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
		case 't': opt.timeout = atoi(optarg); break;
		case 'T': opt.tls = 1; break;
		case 'A': opt.tls_ca = optarg; break;
		case 'B': opt.big_ops = optarg; break;
		case 'E': opt.big_expect = optarg; break;
		case 'k':
			if (strcmp(optarg, "client") && strcmp(optarg, "random"))
				usage();
			opt.user_by_client = !strcmp(optarg, "client");
			break;
		case 'a': opt.append_box = optarg; break;
		case 'S': opt.scram = 1; break;
		case 'D': opt.lmtp_detail = optarg; break;
		case 'O': opt.lmtp_domain = optarg; break;
		case 'R': opt.lmtp_rcpt2 = atoi(optarg); break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.clients <= 0 || opt.clients > 20000 || opt.nusers <= 0 ||
	    opt.duration <= 0 || opt.duration > 3600 || opt.timeout <= 0 ||
	    strpbrk(opt.append_box, " \"\\(){%*"))
		usage();
	if (!lmtp_options_ok())
		usage();
	if (opt.profile == P_BIGBOX && (!opt.big_ops || !opt.big_expect))
		usage();
}

/* Per command: ok, errors, partial, ops/s, p50/p99; adds to the totals. */
static void print_commands(double elapsed, unsigned long *total_ok, unsigned long *total_err)
{
	printf("  \"commands\": {");
	int first = 1;
	for (int i = 0; i < C_NCMDS; i++) {
		struct stat_cmd *s = &stats[i];
		if (!s->n && !s->errors)
			continue;
		qsort(s->lat, s->n, sizeof(double), cmp_d);
		if (i != C_CONNECT)
			*total_ok += s->n;
		*total_err += s->errors;
		printf("%s\n    \"%s\": {\"ok\": %zu, \"errors\": %lu, \"partial\": %lu, "
		       "\"ops_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}",
		       first ? "" : ",", cmd_names[i], s->n, s->errors, s->partial, s->n / elapsed,
		       pct(s, 0.5), pct(s, 0.99));
		first = 0;
	}
	printf("\n  },\n");
}

static void print_json(double elapsed)
{
	unsigned long total_ok = 0, total_err = 0;
	printf("{\n  \"profile\": \"%s\",\n  \"clients\": %d,\n  \"duration_s\": %.3f,\n",
	       profile_names[opt.profile], opt.clients, elapsed);
	print_commands(elapsed, &total_ok, &total_err);
	printf("  \"total_commands\": %lu,\n  \"commands_s\": %.1f,\n", total_ok, total_ok / elapsed);
	printf("  \"logins_s\": %.1f,\n", stats[C_LOGIN].n / elapsed);
	printf("  \"sessions_started\": %lu,\n  \"sessions_completed\": %lu,\n", sessions_started,
	       sessions_done);
	printf("  \"held_sessions\": %d,\n",
	       opt.profile == P_HOLD ? (ready_written ? opt.clients : logged_in_now) : 0);
	printf("  \"tls\": %s,\n", opt.tls ? "true" : "false");
	if (opt.tls)
		printf("  \"tls_version\": \"%s\",\n  \"tls_cipher\": \"%s\",\n", tls_version,
		       tls_cipher);
	if (opt.profile == P_LMTP)
		lmtp_print_json(elapsed);
	printf("  \"verified\": %lu,\n", verify_ok);
	printf("  \"errors\": {\"command\": %lu, \"connection\": %lu, \"timeout\": %lu, "
	       "\"protocol\": %lu, \"verify\": %lu, \"total\": %lu}\n}\n",
	       total_err, conn_errors, timeouts, proto_errors, verify_errors,
	       total_err + conn_errors + timeouts + proto_errors + verify_errors);
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	if (opt.profile == P_BIGBOX) {
		big_parse_ops(opt.big_ops);
		big_load_expect(opt.big_expect);
	}
	if (opt.tls)
		tls_init();
	srandom(12345);
	load_corpus();
	if (opt.profile == P_LMTP)
		lmtp_init();
	base = event_base_new();
	conns = calloc((size_t)opt.clients, sizeof(*conns));
	if (!base || !conns)
		lg_oom();
	t_start = now();
	/* lmtp: the window starts once every connection is set up */
	t_end = t_start + (opt.profile == P_LMTP ? LMTP_SETUP_S : opt.duration);
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
	print_json(elapsed);
	return 0;
}
