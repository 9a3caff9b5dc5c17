/* The master process: root, never parses IMAP. It owns the listeners,
 * spawns the auth helper, one login worker per connection and one worker
 * per logged-in user, and routes messages and file descriptors between
 * them. Each peer gets its own small state record here; a peer that sends
 * anything unexpected is killed, never trusted. */
#ifndef HAVEN_MASTER_H
#define HAVEN_MASTER_H
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "../lib/config.h"
#include "../lib/ipc.h"
#include "../lib/net.h"

struct login_conn {
	struct login_conn *next;
	uint32_t id;
	pid_t pid;
	int chan;               /* SEQPACKET to the login worker */
	int client_fd;          /* our copy of the accepted socket until hand-off */
	int implicit_tls;
	struct event *ev;
	char remote[64];
	char sid[32];
	unsigned attempts;
	uint32_t auth_req;      /* pending request id, 0 if none */
	int handed_off;
	/* session state kept while the auth helper decides */
	char *tag, *enabled;
	unsigned char *leftover;
	size_t leftover_len;
	uint32_t tls;           /* client is on TLS: the login worker proxies */
};

struct user_worker {
	struct user_worker *next;
	char *user;
	uid_t uid;
	gid_t gid;
	char *home;
	pid_t pid;
	int chan;
	struct event *ev;
	int quitting;           /* no new sessions may be routed to it */
	unsigned sessions_sent;
};

struct master {
	struct event_base *base;
	struct config cfg;
	const char *config_path;
	int config_fd;          /* sealed memfd handed to children */
	int foreground;
	int debug;
	int listen_fds[NET_MAX_LISTENERS];
	int listen_tls[NET_MAX_LISTENERS];
	struct event *listen_ev[NET_MAX_LISTENERS];
	int nlisten;
	pid_t auth_pid;
	int auth_chan;
	struct event *auth_ev;
	time_t auth_last_start;
	struct login_conn *logins;
	unsigned nlogins;
	struct user_worker *workers;
	uint32_t next_id;
	int stopping;
	uid_t login_uid;
	gid_t login_gid;
	const char *login_user;
};

extern struct master *M;

/* spawn.c */
/* Fork and exec libexec_dir/prog with fd 3 = chan, fd 4 = config, fd 5 =
 * client (or -1). extra: NULL-terminated option list. pd: drop to this
 * identity before exec (NULL: stay root). Returns pid or -1. */
struct privdrop;
pid_t spawn_child(const char *prog, const char *const *extra, int chan, int client,
		  const struct privdrop *pd);

/* logins.c */
void logins_accept(evutil_socket_t fd, short what, void *arg);
void logins_child_exited(pid_t pid);
struct login_conn *logins_find_req(uint32_t req);
void logins_auth_result(struct login_conn *lc, struct ipc_msg *m);
void logins_stop_all(void);

/* authchan.c */
int authchan_start(void);
int authchan_request(struct login_conn *lc, const char *mech, const char *user,
		     const char *pass, const char *authzid);
int authchan_child_exited(pid_t pid);
void authchan_stop(void);

/* workers.c */
/* Route a freshly authenticated session to the user's worker, spawning it
 * when needed. fd: the session socket (consumed). */
int workers_hand_off(const char *user, uid_t uid, gid_t gid, const char *home,
		     struct login_conn *lc, int fd);
int workers_child_exited(pid_t pid);
void workers_stop_all(void);
unsigned workers_count(void);

#endif
