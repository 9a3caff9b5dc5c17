/* haven-auth: the auth helper. Root (PAM's pam_unix needs shadow), one
 * process, event-driven. It answers only the master, on fd 3, and resolves
 * a login into a user record: canonical name, uid/gid, home. Failed logins
 * are answered after a delay (a timer, never a sleep), and an address with
 * many recent failures is refused without even checking the password. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "ratelimit.h"

static struct config cfg;
static struct event_base *base;
static struct passdb_file *pdb;
static struct ratelimit *rl;
static const char *dummy_hash;

struct delayed {
	struct event *ev;
	struct ipc_out out;
};

static void send_result_now(struct ipc_out *o)
{
	if (ipc_send(CHILD_FD_MASTER, o, -1) < 0)
		log_err("sending result to master: %s", strerror(errno));
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	send_result_now(&d->out);
	ipc_out_free(&d->out);
	event_free(d->ev);
	free(d);
}

static void reply(uint32_t id, enum auth_status st, const char *user, uid_t uid, gid_t gid,
		  const char *home, const char *reason)
{
	struct delayed *d = xcalloc(1, sizeof(*d));
	ipc_out_init(&d->out, MSG_AUTH_RESULT, id);
	ipc_put_u32(&d->out, st);
	ipc_put_str(&d->out, user);
	ipc_put_u32(&d->out, (uint32_t)uid);
	ipc_put_u32(&d->out, (uint32_t)gid);
	ipc_put_str(&d->out, home);
	ipc_put_str(&d->out, reason);
	if (st == AUTH_FAIL && cfg.auth_failure_delay_ms > 0) {
		struct timeval tv = { cfg.auth_failure_delay_ms / 1000,
				      (cfg.auth_failure_delay_ms % 1000) * 1000 };
		d->ev = evtimer_new(base, delayed_cb, d);
		evtimer_add(d->ev, &tv);
		return;
	}
	send_result_now(&d->out);
	ipc_out_free(&d->out);
	free(d);
}

/* uid/gid for a passdb entry: its own, else mail_user's, else (not root)
 * our own. Never root. */
static int resolve_ids(const struct passdb_user *u, uid_t *uid, gid_t *gid)
{
	if (!privdrop_is_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	if (u->uid >= 0 && u->gid >= 0) {
		*uid = (uid_t)u->uid;
		*gid = (gid_t)u->gid;
	} else if (cfg.mail_user[0]) {
		struct error err;
		if (privdrop_lookup(cfg.mail_user, uid, gid, &err) < 0) {
			log_err("mail_user: %s", err.msg);
			return -1;
		}
		if (u->uid >= 0)
			*uid = (uid_t)u->uid;
		if (u->gid >= 0)
			*gid = (gid_t)u->gid;
	} else {
		log_err("passdb entry %s has no uid/gid and mail_user is not set", u->name);
		return -1;
	}
	if (*uid == 0 || *gid == 0) {
		log_err("passdb entry %s maps to uid or gid 0: refused", u->name);
		return -1;
	}
	return 0;
}

static void handle_password(struct ipc_msg *m)
{
	const char *user, *pass, *authzid, *remote, *mech;
	struct passdb_user u;
	struct error err;
	int found, ok;
	uid_t uid;
	gid_t gid;

	if (ipc_get_str(m, &user) < 0 || ipc_get_str(m, &pass) < 0 ||
	    ipc_get_str(m, &authzid) < 0 || ipc_get_str(m, &remote) < 0 ||
	    ipc_get_str(m, &mech) < 0 || ipc_get_end(m) < 0) {
		log_err("malformed request from master");
		reply(m->id, AUTH_TEMPFAIL, "", 0, 0, "", "Internal error");
		return;
	}
	if (ratelimit_blocked(rl, remote, time(NULL))) {
		log_info("auth: %s: too many failures from this address", remote);
		reply(m->id, AUTH_FAIL, "", 0, 0, "", "Authentication failed");
		return;
	}
	if (!passdb_user_name_valid(user) || (authzid[0] && strcmp(authzid, user) != 0)) {
		ratelimit_fail(rl, remote, time(NULL));
		reply(m->id, AUTH_FAIL, "", 0, 0, "", "Authentication failed");
		return;
	}
	found = passdb_file_lookup(pdb, user, &u, &err);
	if (found < 0) {
		log_err("%s", err.msg);
		reply(m->id, AUTH_TEMPFAIL, "", 0, 0, "", "Authentication service unavailable");
		return;
	}
	/* Same work for unknown users as for known ones: no timing oracle. */
	ok = password_verify(pass, found ? u.hash : dummy_hash, cfg.allow_plain_passwords);
	if (!found || ok != 1) {
		ratelimit_fail(rl, remote, time(NULL));
		log_info("auth failed: user=%s remote=%s mech=%s%s", user, remote, mech,
			 found ? "" : " (unknown user)");
		reply(m->id, AUTH_FAIL, "", 0, 0, "", "Authentication failed");
		return;
	}
	if (resolve_ids(&u, &uid, &gid) < 0) {
		reply(m->id, AUTH_TEMPFAIL, "", 0, 0, "", "User misconfigured");
		return;
	}
	char *home = u.home[0] ? xstrdup(u.home) : config_expand(cfg.mail_home, u.name, "");
	reply(m->id, AUTH_OK, u.name, uid, gid, home, "");
	free(home);
}

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 0);
	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master channel closed; exiting");
		event_base_loopbreak(base);
		return;
	}
	if (m.type == MSG_AUTH_PASSWORD)
		handle_password(&m);
	else
		log_err("unexpected message %u from master", m.type);
	ipc_msg_free(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct child_args args;
	child_init("auth", argc, argv, &args, &cfg);
	signal(SIGPIPE, SIG_IGN);
	pdb = passdb_file_open(cfg.passdb + strlen("file:"));
	rl = ratelimit_new(4096, 20, 60);
	/* A valid hash for the unknown-user path, made once. */
	dummy_hash = password_dummy_hash();
	base = event_base_new();
	struct event *ev = event_new(base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	struct event *st = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(ev, NULL);
	event_add(st, NULL);
	event_base_dispatch(base);
	event_free(ev);
	event_free(st);
	event_base_free(base);
	passdb_file_close(pdb);
	ratelimit_free(rl);
	free((void *)dummy_hash);
	config_free(&cfg);
	return 0;
}
