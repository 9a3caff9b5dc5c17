/* haven-auth: the auth helper. Root (PAM's pam_unix needs shadow), one
 * process, event-driven. It answers only the master, on fd 3, and resolves
 * a login into a user record: canonical name, uid/gid, home. Failed logins
 * are answered after a delay that grows with the failures counted for the
 * user and the client's network (a timer, never a sleep); a network, or a
 * user from one network, with too many recent failures is refused without
 * a look at the password, with its own answer (ratelimit.h). On SIGHUP the
 * master sends the new configuration, which applies at once; the counts
 * stay. */
#include <errno.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "../lib/child.h"
#include "../lib/cidr.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/privdrop.h"
#include "../lib/sandbox.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "ratelimit.h"

/* Failed-login keys tracked at once: 64 Ki slots, 2 MiB. */
#define AUTH_RL_SLOTS 65536
/* At most one warning about refused (blocked) logins per this many s. */
#define AUTH_BLOCK_WARN_EVERY 10

static struct config cfg;
static struct event_base *base;
static struct passdb_file *pdb;
static struct ratelimit *rl;
static struct cidr_list trusted;
static const char *dummy_hash;
static struct log_limit block_warn;

struct delayed {
	struct event *ev;
	struct ipc_out out;
};

/* What a login is answered with, apart from its request id. */
struct answer {
	enum auth_status st;
	const char *user, *home, *reason;
	uid_t uid;
	gid_t gid;
	long delay_ms;
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

static void reply(uint32_t id, const struct answer *a)
{
	struct delayed *d = xcalloc(1, sizeof(*d));
	ipc_out_init(&d->out, MSG_AUTH_RESULT, id);
	ipc_put_u32(&d->out, a->st);
	ipc_put_str(&d->out, a->user);
	ipc_put_u32(&d->out, (uint32_t)a->uid);
	ipc_put_u32(&d->out, (uint32_t)a->gid);
	ipc_put_str(&d->out, a->home);
	ipc_put_str(&d->out, a->reason);
	if (a->delay_ms > 0) {
		struct timeval tv = { a->delay_ms / 1000, (a->delay_ms % 1000) * 1000 };
		d->ev = evtimer_new(base, delayed_cb, d);
		evtimer_add(d->ev, &tv);
		return;
	}
	send_result_now(&d->out);
	ipc_out_free(&d->out);
	free(d);
}

static void reply_status(uint32_t id, enum auth_status st, const char *reason, long delay_ms)
{
	struct answer a = { .st = st, .user = "", .home = "", .reason = reason,
			    .delay_ms = delay_ms };
	reply(id, &a);
}

/* The failure delay after n failures counted for the user or network:
 * auth_failure_delay_ms, doubled for each one after the first, up to
 * auth_failure_delay_max_ms (never below the base). */
static long failure_delay(unsigned n)
{
	long d = cfg.auth_failure_delay_ms, max = cfg.auth_failure_delay_max_ms;

	if (max < d)
		max = d;
	for (unsigned i = 1; i < n && d < max; i++)
		d *= 2;
	return d < max ? d : max;
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

/* A login in progress: who, from where, counted as which network. */
struct attempt {
	uint32_t id;
	const char *user, *pass, *authzid, *remote, *mech;
	char net[CIDR_TEXT_MAX];
	int trusted;
};

static void attempt_network(struct attempt *a)
{
	struct cidr addr;

	if (cidr_addr_parse(a->remote, &addr) < 0) {
		/* Not an IP address ("local"): count it as it is. */
		snprintf(a->net, sizeof(a->net), "%s", a->remote);
		a->trusted = 0;
		return;
	}
	cidr_prefix_text(&addr, (unsigned)cfg.client_ipv4_prefix,
			 (unsigned)cfg.client_ipv6_prefix, a->net, sizeof(a->net));
	a->trusted = cidr_list_match(&trusted, &addr);
}

static const char *block_what(enum rl_block b)
{
	return b == RL_NET ? "the client network" : "this user from the client network";
}

/* Refused without a look at the password: its own answer, so that a user
 * (and a helpdesk) can tell it from a wrong password. */
static int refuse_if_blocked(const struct attempt *a)
{
	time_t until, now = time(NULL);
	enum rl_block b = ratelimit_blocked(rl, a->net, a->user, a->trusted, now, &until);
	unsigned suppressed;
	char reason[128];

	if (b == RL_NONE)
		return 0;
	if (log_limit_pass(&block_warn, now, AUTH_BLOCK_WARN_EVERY, &suppressed))
		log_warn("auth: login refused, %s is blocked for %ld s more after too many "
			 "failed logins: user=%s remote=%s net=%s (%u more refused since the last "
			 "such warning)", block_what(b), (long)(until - now), a->user, a->remote,
			 a->net, suppressed);
	snprintf(reason, sizeof(reason),
		 "Too many failed logins, login blocked for %ld more minutes",
		 (long)(until - now + 59) / 60);
	reply_status(a->id, AUTH_BLOCKED, reason, cfg.auth_failure_delay_ms);
	return 1;
}

static void fail_login(const struct attempt *a, const char *why)
{
	enum rl_block started;
	unsigned n = ratelimit_fail(rl, a->net, a->user, a->trusted, time(NULL), &started);

	log_info("auth failed: user=%s remote=%s mech=%s%s", a->user, a->remote, a->mech, why);
	if (started != RL_NONE)
		log_warn("auth: blocking %s for %ld s after too many failed logins: user=%s "
			 "remote=%s net=%s", block_what(started), cfg.auth_block_time, a->user,
			 a->remote, a->net);
	reply_status(a->id, AUTH_FAIL, "Authentication failed", failure_delay(n));
}

static void check_password(const struct attempt *a)
{
	struct passdb_user u;
	struct error err;
	uid_t uid;
	gid_t gid;
	int found = passdb_file_lookup(pdb, a->user, &u, &err);

	if (found < 0) {
		log_err("%s", err.msg);
		reply_status(a->id, AUTH_TEMPFAIL, "Authentication service unavailable", 0);
		return;
	}
	/* Same work for unknown users as for known ones: no timing oracle. */
	int ok = password_verify(a->pass, found ? u.hash : dummy_hash, cfg.allow_plain_passwords);
	if (!found || ok != 1) {
		fail_login(a, found ? "" : " (unknown user)");
		return;
	}
	if (resolve_ids(&u, &uid, &gid) < 0) {
		reply_status(a->id, AUTH_TEMPFAIL, "User misconfigured", 0);
		return;
	}
	char *home = u.home[0] ? xstrdup(u.home) : config_expand(cfg.mail_home, u.name, "");
	struct answer ans = { .st = AUTH_OK, .user = u.name, .uid = uid, .gid = gid,
			      .home = home, .reason = "" };
	reply(a->id, &ans);
	free(home);
}

static void handle_password(struct ipc_msg *m)
{
	struct attempt a = { .id = m->id };

	if (ipc_get_str(m, &a.user) < 0 || ipc_get_str(m, &a.pass) < 0 ||
	    ipc_get_str(m, &a.authzid) < 0 || ipc_get_str(m, &a.remote) < 0 ||
	    ipc_get_str(m, &a.mech) < 0 || ipc_get_end(m) < 0) {
		log_err("malformed request from master");
		reply_status(m->id, AUTH_TEMPFAIL, "Internal error", 0);
		return;
	}
	attempt_network(&a);
	if (refuse_if_blocked(&a))
		return;
	if (!passdb_user_name_valid(a.user) || (a.authzid[0] && strcmp(a.authzid, a.user) != 0)) {
		fail_login(&a, " (invalid name or authorization identity)");
		return;
	}
	check_password(&a);
}

static void policy_of(const struct config *c, struct rl_policy *p)
{
	p->ip_max = (unsigned)c->auth_ip_max_failures;
	p->user_ip_max = (unsigned)c->auth_user_ip_max_failures;
	p->window = (unsigned)c->auth_failure_window;
	p->block_time = (unsigned)c->auth_block_time;
}

/* Everything derived from cfg; the failure counts are kept. */
static void apply_config(void)
{
	struct rl_policy pol;
	struct error err;
	enum log_level lvl;

	policy_of(&cfg, &pol);
	if (rl)
		ratelimit_set_policy(rl, &pol);
	else
		rl = ratelimit_new(AUTH_RL_SLOTS, &pol);
	cidr_list_free(&trusted);
	if (cidr_list_parse(cfg.trusted_networks, &trusted, &err) < 0)
		fatal("trusted_networks: %s", err.msg);  /* validated by the master */
	passdb_file_close(pdb);
	pdb = passdb_file_open(cfg.passdb + strlen("file:"));
	if (log_level_parse(cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
}

/* SIGHUP in the master: its new, validated configuration. */
static void reconfigure(struct ipc_msg *m)
{
	struct config next;
	struct error err;

	if (m->fd < 0 || ipc_get_end(m) < 0) {
		log_err("malformed configuration message from master");
		return;
	}
	if (child_config_read(m->fd, cfg.source, &next, &err) < 0) {
		log_err("new configuration refused, keeping the old one: %s", err.msg);
		return;
	}
	config_free(&cfg);
	cfg = next;
	apply_config();
	log_info("new configuration applied (failure delays and limits, passdb, "
		 "trusted_networks, mail_user, mail_home)");
}

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 1);
	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master channel closed; exiting");
		event_base_loopbreak(base);
		return;
	}
	if (m.type == MSG_AUTH_PASSWORD && m.fd < 0)
		handle_password(&m);
	else if (m.type == MSG_AUTH_CONFIG)
		reconfigure(&m);
	else
		log_err("unexpected message %u from master", m.type);
	ipc_msg_free(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

/* Root for reading password files of any owner (and, with PAM, audit
 * records); nothing else of root's: no uid changes, no chroot, no kill,
 * and no capability for anything it could execute. */
static void drop_capabilities(void)
{
	static const int keep[] = { CAP_DAC_READ_SEARCH, CAP_AUDIT_WRITE };
	struct error err;

	if (sandbox_caps_keep(keep, sizeof(keep) / sizeof(keep[0]), &err) < 0)
		fatal("%s", err.msg);
	/* Nothing it (or a PAM module) executes gains a privilege. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
}

/* havend -t: the passdb as this program would read it. */
static int check_only(void)
{
	struct error err;
	size_t n;
	const char *path = cfg.passdb + strlen("file:");

	if (passdb_file_check(path, &n, &err) < 0) {
		config_fail(&cfg, "passdb", &err, "%s", err.msg);
		fprintf(stderr, "havend: %s\n", err.msg);
		return 1;
	}
	if (n == 0)
		fprintf(stderr, "havend: warning: passdb %s has no users\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	struct child_args args;
	child_init("auth", argc, argv, &args, &cfg);
	if (args.opt[4] && strcmp(args.opt[4], "check") == 0) {
		int r = check_only();
		config_free(&cfg);
		return r;
	}
	signal(SIGPIPE, SIG_IGN);
	drop_capabilities();
	apply_config();
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
	cidr_list_free(&trusted);
	free((void *)dummy_hash);
	config_free(&cfg);
	return 0;
}
