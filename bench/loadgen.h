/* Haven benchmark load generator: what its parts share. loadgen.c holds
 * the connections, the response reader, the statistics and main;
 * lg_session.c what each profile's session sends after each answer;
 * lg_scram.c the SCRAM-SHA-256 login (--scram);
 * lg_bigbox.c the bigbox commands and the checks of their answers;
 * lg_lmtp.c the lmtp profile (an LMTP client, not IMAP). */
#ifndef BENCH_LOADGEN_H
#define BENCH_LOADGEN_H

#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

enum profile { P_LOGIN, P_DEFAULT, P_MIXED, P_APPEND, P_HOLD, P_BIGBOX, P_LMTP };

enum cmd {
	C_CONNECT, C_LOGIN, C_SELECT, C_FETCH_FLAGS, C_FETCH_ENV, C_FETCH_BS,
	C_FETCH_BODY, C_APPEND, C_UID_FETCH_BODY, C_STORE, C_EXPUNGE, C_LOGOUT,
	C_NOOP, C_STATUS, C_IDLE, C_FETCH_ALL, C_SEARCH_HDR, C_SEARCH_BODY,
	C_LIST, C_FETCH_WINDOW, C_STORE_FLAG, C_CREATE, C_DELETE,
	C_LHLO, C_ENVELOPE, C_DATA, C_QUIT,
	C_SORT_ARRIVAL, C_SORT_SUBJECT, C_SORT_DATE, C_THREAD_REFS,
	C_NCMDS
};

enum step {
	S_GREETING, S_LOGIN, S_LIST, S_STATUS, S_SELECT, S_FETCH_FLAGS, S_FETCH_ENV,
	S_FETCH_BS, S_FETCH_WINDOW, S_FETCH_BODY, S_STORE_FLAG, S_APPEND, S_UID_FETCH,
	S_STORE, S_EXPUNGE, S_CREATE, S_DELETE, S_LOGOUT, S_HOLD_WAIT, S_HOLD_CMD,
	S_IDLE_WAIT, S_BIG, S_LHLO, S_LMTP_WAIT, S_ENVELOPE, S_MESSAGE, S_DONE
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
	/* lmtp: the transaction in progress */
	int lmtp_rcpt[2], lmtp_nrcpt;
	int lmtp_replies;  /* replies of the current step read so far */
	int lmtp_pipelining; /* the server's LHLO offered PIPELINING */
	int lmtp_counted;    /* was set up before the window opened */
};

struct options {
	enum profile profile;
	int port, clients, nusers, max_sessions;
	double duration, hold_interval;
	const char *user_fmt, *pass_fmt, *corpus_dir, *ready_file;
	int verbose;
	unsigned long fetch_max; /* FETCH only 1..fetch_max (the seeded messages) */
	int tls, timeout;
	int user_by_client;      /* client i is user i mod nusers, not a random one */
	int scram;               /* log in with AUTHENTICATE SCRAM-SHA-256 */
	const char *tls_ca, *big_ops, *big_expect, *append_box;
	const char *lmtp_detail, *lmtp_domain; /* recipients: user+detail@domain */
	int lmtp_rcpt2;          /* percent of messages with two recipients */
};

struct stat_cmd {
	double *lat; /* ms */
	size_t n, cap;
	unsigned long errors;
	unsigned long partial; /* tagged OK [EXPUNGEISSUED]: not an error */
};

extern struct options opt;
extern struct stat_cmd stats[C_NCMDS];
extern const char *cmd_names[C_NCMDS];
extern unsigned long proto_errors, verify_errors, verify_ok, sessions_done;
extern int stopping, logged_in_now;
extern double t_end;
extern char **corpus; /* the messages APPEND sends (--corpus) */
extern struct conn *conns; /* opt.clients of them */
extern size_t *corpus_len, ncorpus;

/* loadgen.c */
double now(void);
/* A command answered as it should, after ms milliseconds. */
void record(enum cmd c, double ms);
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void send_cmd(struct conn *c, enum cmd kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void lg_oom(void) __attribute__((noreturn));
/* The connection is done with (closed); a new one starts if the run goes on. */
void restart_later(struct conn *c);
/* The measured window starts now and lasts --duration. */
void window_start(void);

/* lg_session.c */
void session_next(struct conn *c);
void session_hold_command(struct conn *c);
int session_tolerates_no(const struct conn *c, const char *status);

/* lg_scram.c: AUTHENTICATE SCRAM-SHA-256 instead of LOGIN */
void scram_first(struct conn *c, const char *user, const char *pass);
/* A "+" line of the exchange (challenge: after "+ "): the next answer. */
void scram_continue(struct conn *c, const char *challenge);

/* lg_bigbox.c */
void big_next(struct conn *c);
void big_untagged(struct conn *c, const char *line);
void big_verify(struct conn *c);
void big_parse_ops(const char *list);
void big_load_expect(const char *path);

/* lg_lmtp.c: the window opens once every client's connection is set up,
 * which may take this long at most */
#define LMTP_SETUP_S 60.0
int lmtp_options_ok(void);
void lmtp_init(void);
void lmtp_read_cb(struct bufferevent *bev, void *arg);
void lmtp_print_json(double elapsed);

#endif
