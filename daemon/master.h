/* The master process: root, never parses IMAP. It owns the listeners,
 * spawns the auth helper, keeps a pool of started login workers (each
 * already chrooted and unprivileged, waiting for a client), hands each
 * accepted connection to one of them, starts one worker per logged-in
 * user, and routes messages and file descriptors between them. Each peer
 * gets its own small state record here; a peer that sends anything
 * unexpected is killed, never trusted. */
#ifndef HAVEN_MASTER_H
#define HAVEN_MASTER_H
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "../lib/cidr.h"
#include "../lib/config.h"
#include "../lib/ipc.h"
#include "../lib/net.h"

struct login_proc;

/* What a login listener accepts (logins_accept's arg). */
#define LISTEN_TLS 1            /* implicit TLS */
#define LISTEN_MANAGESIEVE 2    /* ManageSieve instead of IMAP */

/* One pre-auth client connection: queued until a login worker is free,
 * then served by one. */
struct login_conn {
	struct login_conn *next;   /* in the queue while waiting for a worker */
	struct login_proc *proc;   /* serving it; NULL while queued */
	uint32_t id;
	time_t queued_at;       /* when it began to wait for a worker */
	int client_fd;          /* our copy of the accepted socket until hand-off */
	int implicit_tls;
	uint32_t proto;         /* enum login_proto: by the listener that accepted it */
	char remote[64];
	char net[CIDR_TEXT_MAX]; /* counted under it (perip.c) while pre-auth; "" not */
	char sid[32];
	unsigned attempts;
	uint32_t auth_req;      /* exchange in progress (its request id), 0 if none */
	int challenged;         /* ... waiting for the login worker's next step */
	int handed_off;
	/* session state kept while the auth helper decides */
	char *tag, *enabled;
	unsigned char *leftover;
	size_t leftover_len;
	uint32_t tls;           /* client is on TLS: the login worker proxies */
	int back;               /* back from a user worker (UNAUTHENTICATE) */
	uint32_t secured;       /* ... and under a TLS proxy of another login worker */
	char mech[24];          /* of the exchange in progress (metrics) */
};

enum login_proc_state {
	LP_STARTING,            /* spawned, not READY yet: may not get a client */
	LP_IDLE,                /* READY, in the pool */
	LP_BUSY,                /* serving conn */
	LP_DONE,                /* gets no client any more: proxying, retired or broken */
};

/* One login worker process. */
struct login_proc {
	struct login_proc *next;
	pid_t pid;
	int chan;               /* SEQPACKET to the login worker, -1 once closed */
	struct event *ev;
	enum login_proc_state state;
	unsigned served;        /* clients handed to it */
	unsigned gen;           /* configuration generation it was started with */
	int ready;              /* said READY at least once */
	int retired;            /* told to go (SIGHUP, pool full) */
	int returning;          /* busy, and may take another client afterwards */
	struct login_conn *conn;
	/* Forked by a login template (login_fork): pid and pidfd arrive
	 * with FORKED, after the request; until then pid is 0. */
	int forked;             /* comes from a template, not from an exec */
	struct login_tmpl *tmpl; /* asked, FORKED not in yet; NULL otherwise */
	uint32_t fork_id;
	int pidfd;              /* -1 unless forked by a template */
	struct event *pidfd_ev; /* fires when it exits (then: the status wait) */
	unsigned status_waits;  /* looks for the exit status so far */
};

/* Who a user worker serves, as the auth helper said. */
struct worker_identity {
	const char *user, *home;
	uid_t uid;
	gid_t gid;
	int64_t id;                 /* the passdb's id of the user; 0: none */
	uint64_t quota_bytes, quota_messages;  /* 0: no limit */
};

struct user_worker {
	struct user_worker *next;
	char *user;
	uid_t uid;
	gid_t gid;
	char *home;
	int64_t id;
	uint64_t quota_bytes, quota_messages;
	pid_t pid;
	int chan;
	struct event *ev;
	int quitting;           /* no new sessions may be routed to it */
	int parked;             /* idle, kept for the next user of uid/gid */
	unsigned sessions_sent;
};

struct master {
	struct event_base *base;
	struct config cfg;
	const char *config_path;
	const char **overrides;  /* -o KEY=VALUE, applied after the file */
	size_t noverrides;
	int foreground;
	int debug;
	int listen_fds[NET_MAX_LISTENERS];
	int listen_tls[NET_MAX_LISTENERS];    /* LISTEN_* flags of each */
	struct event *listen_ev[NET_MAX_LISTENERS];
	int nlisten;
	pid_t auth_pid;
	int auth_chan;
	struct event *auth_ev;
	time_t auth_last_start;
	struct login_proc *login_procs;
	struct login_conn *login_queue, *login_queue_tail;
	unsigned login_conns;   /* connections queued or served (max_connections) */
	unsigned login_idle, login_starting, login_returning;
	unsigned login_gen;
	struct user_worker *workers;
	uint32_t next_id;
	int stopping;
	int started;            /* said "started" (a login worker was READY) */
	int exit_status;        /* 1 after a failed start */
	uid_t login_uid;
	gid_t login_gid;
	const char *login_user;
};

extern struct master *M;

/* main.c */
/* Read, parse and validate the file (into text, for the children), with
 * the -o overrides of the command line applied after it. */
int master_config_load(const char *path, struct config *cfg, struct buf *text,
		       struct error *err);
/* Stop: no more clients, children asked to end (SIGTERM's path). */
void master_stop(void);
/* The first login worker or template is READY: log "started", tell systemd. */
void master_started(void);
/* Login workers cannot start at all: log why and stop with status 1. */
void master_start_failed(const char *why);

/* check.c: what the configuration names exists and works; errors carry
 * the file and line of the key. */
int check_tls(const struct config *c, struct error *err);
int check_chroot(const struct config *c, struct error *err);
int check_programs(const struct config *c, struct error *err);
int check_users(const struct config *c, struct error *err);
/* Runs haven-auth in check mode (its config text, M->cfg); prints its errors. */
int check_passdb(struct error *err);
/* What must hold for login workers to start: programs, TLS, chroot. */
int check_runtime(const struct config *c, struct error *err);

/* reload.c */
void reload_config(void);

/* notify.c: sd_notify(3) readiness for Type=notify */
void notify_init(void);
void notify_send(const char *state);
void notify_reloading(void);

/* spawn.c */
/* Fork and exec libexec_dir/prog with fd 3 = chan, fd 4 = config, fd 5 =
 * client (or -1). extra: NULL-terminated option list. pd: drop to this
 * identity before exec (NULL: stay root). Returns pid or -1. */
struct privdrop;
pid_t spawn_child(const char *prog, const char *const *extra, int chan, int client,
		  const struct privdrop *pd);
/* spawn_child with a new channel: *chan gets the master's end. */
pid_t spawn_with_chan(const char *prog, const char *const *extra, int *chan);
/* Stop listening on a child's channel and close it (either may be unset:
 * NULL / -1). */
void chan_close(struct event **ev, int *chan);

/* cfgtext.c: what each kind of child reads of the configuration */
/* (Re)make the three sealed memfds from cfg (debug: log_level debug). */
int cfgtext_publish(const struct config *cfg, int debug);
/* The memfd for program prog ("haven-login", "haven-auth", "haven-worker"). */
int cfgtext_fd(const char *prog);
void cfgtext_close(void);
/* Let haven-worker check the backend settings of the published text
 * (name: the config file, for file:line in messages). */
int cfgtext_check(const struct config *cfg, const char *name, struct error *err);

/* logins.c */
void logins_init(void);
void logins_accept(evutil_socket_t fd, short what, void *arg);
void logins_child_exited(pid_t pid);
/* The connection is no longer a pre-auth one of its network. */
void logins_conn_uncount(struct login_conn *lc);
/* A login worker misbehaved or its channel broke: end it. */
void logins_kill(struct login_proc *p, const char *why);
/* p gets no more clients (it proxies a TLS session now). */
void logins_proc_done(struct login_proc *p);
/* A session back from its user worker after UNAUTHENTICATE (sid, its
 * socket fd, consumed, and the client's pipelined bytes): to a fresh
 * login worker, as a new pre-auth connection without a greeting. */
void logins_take_back(const char *sid, int fd, const unsigned char *left, size_t len);

/* login_auth.c: exchanges between login workers and the auth helper */
/* MSG_LOGIN_AUTH from lc's login worker. */
void logins_auth_step(struct login_conn *lc, struct ipc_msg *m);
/* MSG_AUTH_CHALLENGE / MSG_AUTH_RESULT for lc's exchange. */
void logins_auth_challenge(struct login_conn *lc, struct ipc_msg *m);
void logins_auth_result(struct login_conn *lc, struct ipc_msg *m);
/* End lc's exchange with a failure (status: enum auth_status). */
void logins_auth_fail(struct login_conn *lc, uint32_t status, const char *reason);
struct login_conn *logins_find_req(uint32_t req);
/* Call fn for every connection with an exchange in progress. */
void logins_each_pending(void (*fn)(struct login_conn *lc));
/* SIGHUP: idle and starting workers have the old configuration; replace them. */
void logins_reload(void);
void logins_stop_all(void);
void logins_kill_all(void);
int logins_none_left(void);
void logins_free_all(void);

/* Called by login_tmpl.c: the template forked worker `id` (pid 0 and
 * pidfd -1: it could not); a template is ready to fork; a template ended
 * (before_ready: it failed to start). */
void logins_forked(struct login_tmpl *t, uint32_t id, pid_t pid, int pidfd);
void logins_tmpl_ready(void);
void logins_tmpl_gone(struct login_tmpl *t, int before_ready);

/* login_tmpl.c: the login template that forks login workers (login_fork) */
struct login_tmpl;
/* Ask the current template for a login worker whose channel to the master
 * is chan (always consumed). 0: asked (*t, *id name the request); 1: no
 * template is ready (one is starting; logins_tmpl_ready follows); -1: failed. */
int login_tmpl_fork(int chan, struct login_tmpl **t, uint32_t *id);
/* Start a template unless the current one is there: the next burst of
 * connections should not wait for its exec. 0, or -1 if it cannot start. */
int login_tmpl_ensure(void);
/* 1 when pid was a template (its record is gone now). */
int login_tmpl_child_exited(pid_t pid);
/* SIGHUP: templates have the old configuration; they go, a new one comes. */
void login_tmpl_retire_all(void);
void login_tmpl_signal_all(int sig);
int login_tmpl_none_left(void);
void login_tmpl_free_all(void);

/* pidfd.c: the wait status of an exited process through its pidfd
 * (Linux 6.15): 0; 1 when it is not reaped yet; -1 where the kernel does
 * not tell. */
int pidfd_exit_status(int pidfd, int *status);

/* perip.c: pre-auth connections per client network */
/* The network remote counts under, or "" when it is not counted (no
 * limit, trusted, not an IP address). */
void perip_network(const char *remote, char *net, size_t netlen);
/* Count one more connection from net: 0, or -1 when that would exceed
 * max_connections_per_ip (not counted then). "" always passes. */
int perip_add(const char *net);
void perip_del(const char *net);
void perip_free_all(void);

/* authchan.c */
int authchan_start(void);
/* Send a step of lc's exchange (a START gets a new request id). */
int authchan_request(struct login_conn *lc, uint32_t step, const char *mech,
		     const unsigned char *sasl, size_t len);
int authchan_child_exited(pid_t pid);
/* Ask who a recipient of mail is (MSG_AUTH_LOOKUP); *req: its id. */
int authchan_lookup(const char *addr, const char *sid, uint32_t *req);
/* The fields of a MSG_AUTH_RESULT (pointers into m): 0, or -1 when
 * malformed. */
int authchan_result_decode(struct ipc_msg *m, uint32_t *status, struct worker_identity *id,
			   const char **reason);
/* SIGHUP: send the auth helper the new configuration (its config text). */
void authchan_reconfigure(void);
void authchan_stop(void);

/* workers.c */
/* Route a freshly authenticated session to the user's worker, spawning it
 * when needed. fd: the session socket (consumed). */
int workers_hand_off(const struct worker_identity *id, struct login_conn *lc, int fd);
int workers_child_exited(pid_t pid);
void workers_stop_all(void);
/* After a reload: kept workers hold the old configuration, so they go. */
void workers_reload(void);
unsigned workers_count(void);
/* What a delivery carries besides the message (MSG_WORKER_DELIVER). */
struct deliver_env {
	const char *mailbox;     /* the address's detail, "": INBOX */
	const char *from;        /* envelope sender, "": the null sender */
	const char *to;          /* the recipient as the MTA gave it */
	const void *trace;       /* trace header to prepend */
	size_t tracelen;
};
/* Give the user's worker (spawned when needed) a message to deliver:
 * fd is a sealed memfd (not consumed). The worker's pid, or -1. */
pid_t workers_deliver(const struct worker_identity *id, uint32_t req,
		      const struct deliver_env *e, int fd);

/* metrics.c: the counters and the metrics server (haven-metrics) */
int metrics_open_listener(struct error *err);
void metrics_start(void);
void metrics_stop(void);
/* The shutdown deadline passed. */
void metrics_kill(void);
int metrics_child_exited(pid_t pid);
int metrics_none_left(void);
void metrics_free(void);
/* A connection accepted (lmtp: on an LMTP listener). */
void metrics_connection(int lmtp);
/* A login ended with status (enum auth_status) by mech. */
void metrics_login(const char *mech, uint32_t status);
void metrics_delivery(uint32_t status);
/* A user worker's MSG_WORKER_STATS: 0, or -1 when malformed. */
int metrics_worker_stats(struct ipc_msg *m);

/* admin.c: the admin socket (haven-admin who, kick; lib/msg_admin.h) */
/* Bind admin_socket (before privileges go): 0 (also when it is unset),
 * or -1 with err. */
int admin_open_listener(struct error *err);
void admin_start(void);
/* Close the socket and its connections (at exit). */
void admin_stop(void);
/* w's MSG_WORKER_SESSIONS or MSG_WORKER_KICKED: 0 (also when its query
 * was already answered), or -1 when malformed. */
int admin_worker_answer(struct user_worker *w, struct ipc_msg *m);
/* The worker pid is gone: queries stop waiting for it. */
void admin_worker_gone(pid_t pid);

/* lmtp.c: LMTP listeners and the haven-lmtp worker of each connection */
/* Bind lmtp_listen (before privileges go): 0, or -1 with err. */
int lmtp_open_listeners(struct error *err);
void lmtp_start_listening(void);
void lmtp_stop(void);
/* The shutdown deadline passed. */
void lmtp_kill_all(void);
/* 1 when pid was an LMTP worker (its record is gone now). */
int lmtp_child_exited(pid_t pid);
int lmtp_none_left(void);
unsigned lmtp_count(void);
void lmtp_free_all(void);
/* An auth result: 1 when it answered a recipient lookup. */
int lmtp_auth_result(struct ipc_msg *m);
/* The auth helper went away: pending lookups fail (temporarily). */
void lmtp_auth_gone(void);
/* A user worker's MSG_WORKER_DELIVERED; a worker gone with deliveries. */
void lmtp_delivered(pid_t worker, struct ipc_msg *m);
void lmtp_worker_gone(pid_t worker);

#endif
