/* Haven benchmark load generator: many IMAP connections from one process,
 * driven by libevent. Profiles:
 *   login    connect, LOGIN, LOGOUT, as fast as possible
 *   default  LOGIN, SELECT, FETCH (FLAGS/ENVELOPE/BODYSTRUCTURE/BODY[]),
 *            APPEND from a corpus, UID FETCH BODY[] of the appended message
 *            (verified byte for byte), UID STORE \Deleted, EXPUNGE, LOGOUT
 *   hold     log in N sessions, then NOOP / STATUS / IDLE slowly; writes a
 *            ready file once every session is logged in (bench/run measures
 *            server memory then)
 *   bigbox   one big mailbox: --max-sessions sessions one after the other,
 *            each LOGIN, the --big-ops commands (STATUS, SELECT, FETCH 1:*
 *            (UID FLAGS), UID SEARCH SUBJECT, SEARCH BODY), LOGOUT; every
 *            answer is checked against --bigbox-expect
 * --scram: log in with AUTHENTICATE SCRAM-SHA-256 instead of LOGIN.
 * --tls: implicit TLS (IMAPS), the server certificate verified against
 * --tls-ca for IP 127.0.0.1; every connection makes a full handshake (no
 * session resumption); CONNECT then includes the handshake.
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
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

enum profile { P_LOGIN, P_DEFAULT, P_HOLD, P_BIGBOX };

enum cmd {
	C_CONNECT, C_LOGIN, C_SELECT, C_FETCH_FLAGS, C_FETCH_ENV, C_FETCH_BS,
	C_FETCH_BODY, C_APPEND, C_UID_FETCH_BODY, C_STORE, C_EXPUNGE, C_LOGOUT,
	C_NOOP, C_STATUS, C_IDLE, C_FETCH_ALL, C_SEARCH_HDR, C_SEARCH_BODY, C_NCMDS
};
static const char *cmd_names[C_NCMDS] = {
	"CONNECT", "LOGIN", "SELECT", "FETCH_FLAGS", "FETCH_ENVELOPE",
	"FETCH_BODYSTRUCTURE", "FETCH_BODY", "APPEND", "UID_FETCH_BODY_VERIFY",
	"STORE", "EXPUNGE", "LOGOUT", "NOOP", "STATUS", "IDLE",
	"FETCH_ALL_UID_FLAGS", "UID_SEARCH_SUBJECT", "SEARCH_BODY"
};

/* bigbox: the commands a session runs, in order, and what they must return */
#define MAX_BIG_OPS 8
static enum cmd big_ops[MAX_BIG_OPS];
static int nbig_ops;
static struct {
	unsigned long messages, unseen, uidnext; /* uidnext 0: only > messages */
	char subject[128], body[128];
	unsigned long *subject_uids, *body_seqs;
	size_t nsubject_uids, nbody_seqs;
} expect;

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
	int tls, timeout;
	const char *tls_ca, *big_ops, *big_expect;
	int scram;               /* log in with AUTHENTICATE SCRAM-SHA-256 */
} opt = { P_DEFAULT, 143, 10, 50, 1000000, 10.0, 2.0, "bench%02d", "pw-bench%02d",
	  NULL, NULL, 0, 0, 0, 60, NULL, NULL, NULL, 0 };

static SSL_CTX *ssl_ctx;
static char tls_version[32], tls_cipher[64]; /* of the first TLS connection */

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
	S_HOLD_WAIT, S_HOLD_CMD, S_IDLE_WAIT, S_BIG, S_DONE
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
	/* bigbox: position in big_ops and what the current command returned */
	int big_i;
	unsigned long nfetch, nfetch_unseen, fetch_bad, status_msgs, status_unseen,
		status_uidnext;
	int got_status;
	unsigned long *found;
	size_t nfound, found_cap;
	/* --scram: the exchange in progress (RFC 5802) */
	int scram_step;
	char scram_bare[160], scram_pass[64];
	unsigned char scram_sig[32];
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

/* ---- SCRAM-SHA-256 (--scram), the client's side of RFC 5802 ------------ */

static void b64(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* The server's challenge (after "+ "), decoded into out: its length or -1. */
static int unb64(const char *in, unsigned char *out, size_t cap)
{
	size_t n = strcspn(in, "\r\n");
	int len;

	if (n % 4 || n / 4 * 3 >= cap)
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	len -= (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
	out[len] = '\0';
	return len;
}

static void scram_first(struct conn *c, const char *user, const char *pass)
{
	unsigned char rnd[18];
	char nonce[32], first[200], out[300];

	RAND_bytes(rnd, sizeof(rnd));
	b64(rnd, sizeof(rnd), nonce);
	snprintf(c->scram_bare, sizeof(c->scram_bare), "n=%s,r=%s", user, nonce);
	snprintf(c->scram_pass, sizeof(c->scram_pass), "%s", pass);
	snprintf(first, sizeof(first), "n,,%s", c->scram_bare);
	b64(first, strlen(first), out);
	c->scram_step = 1;
	send_cmd(c, C_LOGIN, "AUTHENTICATE SCRAM-SHA-256 %s", out);
}

static void hmac256(const void *key, size_t klen, const void *d, size_t n, unsigned char *out)
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len);
}

/* client-final-message for server-first sf: 0, or -1 when sf is not one. */
static int scram_final(struct conn *c, const char *sf, char *out, size_t cap)
{
	const char *r = strstr(sf, "r="), *s = strstr(sf, ",s="), *i = strstr(sf, ",i=");
	unsigned char salt[128], salted[32], ck[32], sk[32], stored[32], sig[32], proof[32];
	char without[400], am[1200], pb[64];
	int slen;

	if (r != sf || !s || !i || i < s)
		return -1;
	char saltb[200];
	snprintf(saltb, sizeof(saltb), "%.*s", (int)(i - s - 3), s + 3);
	if ((slen = unb64(saltb, salt, sizeof(salt))) < 0)
		return -1;
	PKCS5_PBKDF2_HMAC(c->scram_pass, (int)strlen(c->scram_pass), salt, slen, atoi(i + 3),
			  EVP_sha256(), 32, salted);
	hmac256(salted, 32, "Client Key", 10, ck);
	hmac256(salted, 32, "Server Key", 10, sk);
	SHA256(ck, 32, stored);
	snprintf(without, sizeof(without), "c=biws,r=%.*s", (int)(s - r - 2), r + 2);
	snprintf(am, sizeof(am), "%s,%s,%s", c->scram_bare, sf, without);
	hmac256(stored, 32, am, strlen(am), sig);
	for (int k = 0; k < 32; k++)
		proof[k] = ck[k] ^ sig[k];
	hmac256(sk, 32, am, strlen(am), c->scram_sig);
	b64(proof, 32, pb);
	char msg[600];
	snprintf(msg, sizeof(msg), "%s,p=%s", without, pb);
	if (cap < 4 * (strlen(msg) / 3 + 1) + 1)
		return -1;
	b64(msg, strlen(msg), out);
	return 0;
}

/* A "+" line during the SCRAM login: the next answer. */
static void scram_continue(struct conn *c, const char *challenge)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	unsigned char dec[512], want[40];
	char answer[1200];

	if (unb64(challenge, dec, sizeof(dec)) < 0) {
		proto_errors++;
		evbuffer_add(out, "*\r\n", 3);
		return;
	}
	if (c->scram_step++ == 1) {
		if (scram_final(c, (const char *)dec, answer, sizeof(answer)) < 0) {
			proto_errors++;
			evbuffer_add(out, "*\r\n", 3);
			return;
		}
		evbuffer_add_printf(out, "%s\r\n", answer);
		return;
	}
	/* v=: the server proves it knows the secret too. */
	if (strncmp((const char *)dec, "v=", 2) != 0 ||
	    unb64((const char *)dec + 2, want, sizeof(want)) != 32 ||
	    memcmp(want, c->scram_sig, 32) != 0) {
		verify_errors++;
		errmsg("conn %d: SCRAM server signature wrong", c->id);
	}
	evbuffer_add(out, "\r\n", 2);
}

static void do_login(struct conn *c)
{
	char user[64], pass[64];
	c->user = (int)(random() % opt.nusers);
	user_creds(c->user, user, sizeof(user), pass, sizeof(pass));
	c->step = S_LOGIN;
	if (opt.scram)
		scram_first(c, user, pass);
	else
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
	if (stopping || now() >= t_end)
		d = 0; /* the run is over: LOGOUT now, not after another interval */
	struct timeval tv = { (time_t)d, (suseconds_t)((d - (time_t)d) * 1e6) };
	evtimer_add(c->timer, &tv);
}

/* bigbox: send the session's next command, or LOGOUT after the last. */
static void big_next(struct conn *c)
{
	if (c->big_i >= nbig_ops) {
		c->step = S_LOGOUT;
		send_cmd(c, C_LOGOUT, "LOGOUT");
		return;
	}
	enum cmd op = big_ops[c->big_i++];
	c->step = S_BIG;
	c->nfetch = c->nfetch_unseen = c->fetch_bad = 0;
	c->got_status = 0;
	c->nfound = 0;
	switch (op) {
	case C_STATUS:
		send_cmd(c, op, "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)");
		break;
	case C_SELECT:
		c->exists = 0;
		send_cmd(c, op, "SELECT INBOX");
		break;
	case C_FETCH_ALL:
		send_cmd(c, op, "FETCH 1:* (UID FLAGS)");
		break;
	case C_SEARCH_HDR:
		send_cmd(c, op, "UID SEARCH SUBJECT \"%s\"", expect.subject);
		break;
	case C_SEARCH_BODY:
		send_cmd(c, op, "SEARCH BODY \"%s\"", expect.body);
		break;
	default:
		abort();
	}
}

static int cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

/* bigbox: an untagged line while one of its commands runs */
static void big_untagged(struct conn *c, const char *line)
{
	unsigned long seq, v;
	const char *p;
	switch (c->cur) {
	case C_FETCH_ALL:
		if (sscanf(line, "* %lu FETCH (", &seq) != 1 || !strstr(line, " FETCH ("))
			return;
		c->nfetch++;
		p = strstr(line, "UID ");
		if (!p || sscanf(p + 4, "%lu", &v) != 1 || v != seq)
			c->fetch_bad++; /* the generated box has UID == sequence number */
		if (!strstr(line, "\\Seen"))
			c->nfetch_unseen++;
		return;
	case C_SEARCH_HDR:
	case C_SEARCH_BODY:
		if (strncmp(line, "* SEARCH", 8) != 0)
			return;
		p = line + 8;
		for (;;) {
			char *end;
			while (*p == ' ')
				p++;
			if (!isdigit((unsigned char)*p))
				break;
			v = strtoul(p, &end, 10);
			p = end;
			if (c->nfound == c->found_cap) {
				c->found_cap = c->found_cap ? c->found_cap * 2 : 256;
				c->found = realloc(c->found, c->found_cap * sizeof(*c->found));
				if (!c->found) {
					perror("realloc");
					exit(2);
				}
			}
			c->found[c->nfound++] = v;
		}
		return;
	case C_STATUS:
		if (strncmp(line, "* STATUS ", 9) != 0)
			return;
		c->got_status = 1;
		if ((p = strstr(line, "MESSAGES ")))
			c->status_msgs = strtoul(p + 9, NULL, 10);
		if ((p = strstr(line, "UNSEEN ")))
			c->status_unseen = strtoul(p + 7, NULL, 10);
		if ((p = strstr(line, "UIDNEXT ")))
			c->status_uidnext = strtoul(p + 8, NULL, 10);
		return;
	default:
		return;
	}
}

static int same_set(unsigned long *got, size_t n, const unsigned long *want, size_t nw)
{
	if (n != nw)
		return 0;
	qsort(got, n, sizeof(*got), cmp_ul);
	return n == 0 || !memcmp(got, want, n * sizeof(*got));
}

/* bigbox: after a tagged OK, check what the command returned */
static void big_verify(struct conn *c)
{
	int ok = 1;
	switch (c->cur) {
	case C_STATUS:
		ok = c->got_status && c->status_msgs == expect.messages &&
		     c->status_unseen == expect.unseen &&
		     (expect.uidnext ? c->status_uidnext == expect.uidnext
				     : c->status_uidnext > expect.messages);
		if (!ok)
			errmsg("conn %d: STATUS gave MESSAGES %lu UNSEEN %lu UIDNEXT %lu, want %lu %lu %lu",
			       c->id, c->status_msgs, c->status_unseen, c->status_uidnext,
			       expect.messages, expect.unseen,
			       expect.uidnext ? expect.uidnext : expect.messages + 1);
		break;
	case C_SELECT:
		ok = c->exists == expect.messages;
		if (!ok)
			errmsg("conn %d: SELECT gave %lu EXISTS, want %lu", c->id, c->exists,
			       expect.messages);
		break;
	case C_FETCH_ALL:
		ok = c->nfetch == expect.messages && !c->fetch_bad &&
		     c->nfetch_unseen == expect.unseen;
		if (!ok)
			errmsg("conn %d: FETCH 1:* gave %lu FETCH (%lu UID != seq, %lu unseen), want %lu (%lu unseen)",
			       c->id, c->nfetch, c->fetch_bad, c->nfetch_unseen, expect.messages,
			       expect.unseen);
		break;
	case C_SEARCH_HDR:
		ok = same_set(c->found, c->nfound, expect.subject_uids, expect.nsubject_uids);
		if (!ok)
			errmsg("conn %d: UID SEARCH SUBJECT gave %zu UIDs, want %zu (or different ones)",
			       c->id, c->nfound, expect.nsubject_uids);
		break;
	case C_SEARCH_BODY:
		ok = same_set(c->found, c->nfound, expect.body_seqs, expect.nbody_seqs);
		if (!ok)
			errmsg("conn %d: SEARCH BODY gave %zu messages, want %zu (or different ones)",
			       c->id, c->nfound, expect.nbody_seqs);
		break;
	default:
		return;
	}
	if (ok)
		verify_ok++;
	else
		verify_errors++;
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
		if (opt.profile == P_BIGBOX) {
			c->big_i = 0;
			big_next(c);
			return;
		}
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
	case S_BIG:
		big_next(c);
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
		return;
	}
	if (line[0] == '*') {
		unsigned long num;
		char word[16];
		if (sscanf(line, "* %lu %15s", &num, word) == 2 && !strcmp(word, "EXISTS"))
			c->exists = num;
		else if (c->step == S_BIG)
			big_untagged(c, line);
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
			if (c->step == S_BIG)
				big_verify(c);
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
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
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

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen --port P [--profile login|default|hold|bigbox] [--clients N]\n"
		"       [--duration S] [--users N] [--user-fmt bench%%02d] [--pass-fmt pw-bench%%02d]\n"
		"       [--corpus DIR] [--max-sessions N] [--hold-interval S] [--ready-file F]\n"
		"       [--fetch-max N] [--timeout S] [--tls --tls-ca CERT.pem]\n"
		"       [--big-ops STATUS,SELECT,FETCH,SEARCH_HEADER,SEARCH_BODY --bigbox-expect F]\n"
		"       [--scram] [-v]\n"
		"--scram: log in with AUTHENTICATE SCRAM-SHA-256 (the server's signature checked)\n"
		"bigbox: --max-sessions sessions one after the other (use --clients 1); F has\n"
		"lines 'messages N', 'uidnext N', 'unseen N', 'subject STR', 'subject_uids U...',\n"
		"'body STR', 'body_seqs S...' (ascending)\n");
	exit(2);
}

static void parse_big_ops(const char *list)
{
	char *dup = strdup(list), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum cmd op;
		if (!strcmp(t, "STATUS")) op = C_STATUS;
		else if (!strcmp(t, "SELECT")) op = C_SELECT;
		else if (!strcmp(t, "FETCH")) op = C_FETCH_ALL;
		else if (!strcmp(t, "SEARCH_HEADER")) op = C_SEARCH_HDR;
		else if (!strcmp(t, "SEARCH_BODY")) op = C_SEARCH_BODY;
		else {
			fprintf(stderr, "loadgen: unknown bigbox op %s\n", t);
			exit(2);
		}
		if (nbig_ops == MAX_BIG_OPS)
			usage();
		big_ops[nbig_ops++] = op;
	}
	free(dup);
}

static unsigned long *parse_nums(const char *p, size_t *n)
{
	unsigned long *v = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		char *end;
		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			break;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v) {
				perror("realloc");
				exit(2);
			}
		}
		v[(*n)++] = strtoul(p, &end, 10);
		p = end;
	}
	return v;
}

static void load_expect(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f) {
		perror(path);
		exit(2);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		char *sp = strchr(line, ' ');
		const char *val = sp ? sp + 1 : "";
		if (sp)
			*sp = 0;
		if (!strcmp(line, "messages")) expect.messages = strtoul(val, NULL, 10);
		else if (!strcmp(line, "unseen")) expect.unseen = strtoul(val, NULL, 10);
		else if (!strcmp(line, "uidnext")) expect.uidnext = strtoul(val, NULL, 10);
		else if (!strcmp(line, "subject")) snprintf(expect.subject, sizeof(expect.subject), "%s", val);
		else if (!strcmp(line, "body")) snprintf(expect.body, sizeof(expect.body), "%s", val);
		else if (!strcmp(line, "subject_uids")) expect.subject_uids = parse_nums(val, &expect.nsubject_uids);
		else if (!strcmp(line, "body_seqs")) expect.body_seqs = parse_nums(val, &expect.nbody_seqs);
	}
	free(line);
	fclose(f);
	if (!expect.messages || !expect.subject[0] || !expect.body[0] ||
	    strpbrk(expect.subject, "\"\\") || strpbrk(expect.body, "\"\\")) {
		fprintf(stderr, "loadgen: %s: needs messages, subject and body (no quotes)\n", path);
		exit(2);
	}
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

int main(int argc, char **argv)
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
		{ "scram", 0, 0, 'S' },
		{ 0, 0, 0, 0 }
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "p:P:c:d:u:U:W:C:m:i:r:vf:t:TA:B:E:S", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'P':
			if (!strcmp(optarg, "login")) opt.profile = P_LOGIN;
			else if (!strcmp(optarg, "default")) opt.profile = P_DEFAULT;
			else if (!strcmp(optarg, "hold")) opt.profile = P_HOLD;
			else if (!strcmp(optarg, "bigbox")) opt.profile = P_BIGBOX;
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
		case 't': opt.timeout = atoi(optarg); break;
		case 'T': opt.tls = 1; break;
		case 'A': opt.tls_ca = optarg; break;
		case 'B': opt.big_ops = optarg; break;
		case 'E': opt.big_expect = optarg; break;
		case 'S': opt.scram = 1; break;
		default: usage();
		}
	}
	if (opt.port <= 0 || opt.clients <= 0 || opt.clients > 20000 || opt.nusers <= 0 ||
	    opt.duration <= 0 || opt.duration > 3600 || opt.timeout <= 0)
		usage();
	if (opt.profile == P_BIGBOX) {
		if (!opt.big_ops || !opt.big_expect)
			usage();
		parse_big_ops(opt.big_ops);
		load_expect(opt.big_expect);
	}
	if (opt.tls)
		tls_init();
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
	       opt.profile == P_LOGIN    ? "login"
	       : opt.profile == P_HOLD   ? "hold"
	       : opt.profile == P_BIGBOX ? "bigbox"
					 : "default",
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
	printf("  \"tls\": %s,\n", opt.tls ? "true" : "false");
	if (opt.tls)
		printf("  \"tls_version\": \"%s\",\n  \"tls_cipher\": \"%s\",\n", tls_version,
		       tls_cipher);
	printf("  \"verified\": %lu,\n", verify_ok);
	printf("  \"errors\": {\"command\": %lu, \"connection\": %lu, \"timeout\": %lu, "
	       "\"protocol\": %lu, \"verify\": %lu, \"total\": %lu}\n}\n",
	       total_err, conn_errors, timeouts, proto_errors, verify_errors,
	       total_err + conn_errors + timeouts + proto_errors + verify_errors);
	return 0;
}
