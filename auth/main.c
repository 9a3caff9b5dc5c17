/* haven-auth: the auth helper. Root (PAM's pam_unix needs shadow), one
 * process, event-driven. It answers only the master, on fd 3: each login
 * is an exchange of one or more steps (request.c), checked against the
 * configured databases in order (chain.c), those that may block in a pool
 * of children (pool.c), and answered with the user's record or a failure
 * (verdict.c). On SIGHUP the master sends the new configuration, which
 * applies at once; the failure counts stay. */
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/sandbox.h"
#include "../lib/xmalloc.h"
#include "auth.h"
#include "cache.h"
#include "ratelimit.h"

/* Failed-login keys tracked at once: 64 Ki slots, 2 MiB. */
#define AUTH_RL_SLOTS 65536

static struct auth_state state;
struct auth_state *A = &state;

static void policy_of(const struct config *c, struct rl_policy *p)
{
	p->ip_max = (unsigned)c->auth_ip_max_failures;
	p->user_ip_max = (unsigned)c->auth_user_ip_max_failures;
	p->window = (unsigned)c->auth_failure_window;
	p->block_time = (unsigned)c->auth_block_time;
}

/* Everything derived from A->cfg; the failure counts are kept. 0, or -1
 * (logged) when the databases cannot be opened. */
static int apply_config(void)
{
	struct rl_policy pol;
	struct error err;
	enum log_level lvl;

	if (log_level_parse(A->cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	policy_of(&A->cfg, &pol);
	if (A->rl)
		ratelimit_set_policy(A->rl, &pol);
	else
		A->rl = ratelimit_new(AUTH_RL_SLOTS, &pol);
	cidr_list_free(&A->trusted);
	if (cidr_list_parse(A->cfg.trusted_networks, &A->trusted, &err) < 0)
		fatal("trusted_networks: %s", err.msg);  /* validated by the master */
	passdbs_close(&A->dbs);
	if (passdbs_check(&A->cfg, &err) < 0 || passdbs_open(&A->cfg, &A->dbs, &err) < 0) {
		log_err("%s", err.msg);
		return -1;
	}
	cache_configure(passdb_setting_int(&A->cfg, "passdb_cache_ttl"),
			passdb_setting_int(&A->cfg, "passdb_cache_negative_ttl"));
	pool_configure(&A->cfg, &A->dbs);
	return 0;
}

/* SIGHUP in the master: its new, validated configuration. */
static void reconfigure(struct ipc_msg *m)
{
	struct config next, old;
	struct error err;

	if (m->fd < 0 || ipc_get_end(m) < 0) {
		log_err("malformed configuration message from master");
		return;
	}
	if (child_config_read(m->fd, A->cfg.source, &next, &err) < 0) {
		log_err("new configuration refused, keeping the old one: %s", err.msg);
		return;
	}
	if (passdbs_check(&next, &err) < 0) {
		log_err("new configuration refused, keeping the old one: %s", err.msg);
		config_free(&next);
		return;
	}
	old = A->cfg;
	A->cfg = next;
	if (apply_config() < 0)
		fatal("the new passdb cannot be opened");
	config_free(&old);
	log_info("new configuration applied (failure delays and limits, passdb and its "
		 "settings, trusted_networks, mail_user, mail_home; the auth cache is empty)");
}

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	int r = ipc_recv(fd, &m, 1);
	if (r == -2)
		return;
	if (r <= 0) {
		log_debug("master channel closed; exiting");
		event_base_loopbreak(A->base);
		return;
	}
	if (m.type == MSG_AUTH_REQUEST && m.fd < 0)
		request_handle(&m);
	else if (m.type == MSG_AUTH_LOOKUP && m.fd < 0)
		lookup_handle(&m);
	else if (m.type == MSG_AUTH_CONFIG)
		reconfigure(&m);
	else
		log_err("unexpected message %u from master", m.type);
	/* Passwords went through it. */
	ipc_msg_free_secret(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(A->base);
}

static void on_child(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!pool_child_exited(pid, status))
			log_debug("child %ld exited", (long)pid);
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

/* havend -t: the databases and their settings as this program reads them. */
static int check_only(void)
{
	struct error err;

	if (passdbs_check(&A->cfg, &err) < 0) {
		fprintf(stderr, "havend: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static void serve(void)
{
	struct event *ev, *sig[2];

	A->base = event_base_new();
	pool_init(A->base);
	if (apply_config() < 0)
		fatal("cannot open the passdb");
	ev = event_new(A->base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	sig[0] = evsignal_new(A->base, SIGTERM, on_term, NULL);
	sig[1] = evsignal_new(A->base, SIGCHLD, on_child, NULL);
	event_add(ev, NULL);
	event_add(sig[0], NULL);
	event_add(sig[1], NULL);
	event_base_dispatch(A->base);
	pool_shutdown();
	event_free(ev);
	event_free(sig[0]);
	event_free(sig[1]);
}

int main(int argc, char **argv)
{
	struct child_args args;

	child_init("auth", argc, argv, &args, &A->cfg);
	if (args.opt[4] && strcmp(args.opt[4], "check") == 0) {
		int r = check_only();
		config_free(&A->cfg);
		return r;
	}
	signal(SIGPIPE, SIG_IGN);
	drop_capabilities();
	scram_init();
	serve();
	verdict_drop_pending();
	request_end_all();
	cache_clear();
	passdbs_close(&A->dbs);
	ratelimit_free(A->rl);
	cidr_list_free(&A->trusted);
	event_base_free(A->base);
	config_free(&A->cfg);
	return 0;
}
