/* havend: the master. main() runs the named steps below in order: read
 * and check the configuration, set up logging and the identity of the
 * login workers, bind, give up the capabilities the master does not need,
 * start the auth helper and the login pool, and serve until a signal
 * stops it. "started" is logged (and systemd told READY=1) only once a
 * login worker or template has said READY; a server whose login workers
 * cannot start stops with an error instead. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/privdrop.h"
#include "../lib/sandbox.h"
#include "../lib/xmalloc.h"
#include "master.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif

/* Seconds the children get to end their sessions after SIGTERM. */
#define STOP_DEADLINE_SEC 10

static struct master master_state;
struct master *M = &master_state;
static struct event *stop_deadline;
static struct event *sigs[4];

struct options {
	const char *path;
	int test_only, print;
};

static void usage(void)
{
	fprintf(stderr, "usage: havend [-F] [-d] [-t] [-n] [-c config] [-o key=value]...\n"
			"       havend --version\n");
	exit(2);
}

static void parse_args(int argc, char **argv, struct options *o)
{
	o->path = HAVEN_SYSCONFDIR "/haven.conf";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("havend %s\n", HAVEN_VERSION);
			exit(0);
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			o->path = argv[++i];
		} else if (strcmp(argv[i], "-F") == 0) {
			M->foreground = 1;
		} else if (strcmp(argv[i], "-d") == 0) {
			M->debug = 1;
		} else if (strcmp(argv[i], "-t") == 0) {
			o->test_only = 1;
		} else if (strcmp(argv[i], "-n") == 0) {
			o->print = 1;
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			/* Kept for SIGHUP, which reads the file again. */
			M->overrides = xreallocarray(M->overrides, M->noverrides + 1,
						     sizeof(*M->overrides));
			M->overrides[M->noverrides++] = argv[++i];
		} else {
			usage();
		}
	}
}

int master_config_load(const char *path, struct config *cfg, struct buf *text, struct error *err)
{
	config_init(cfg);
	if (config_read_file(path, text, err) < 0 ||
	    config_parse(cfg, text->data ? text->data : "", text->len, path, err) < 0)
		goto fail;
	for (size_t i = 0; i < M->noverrides; i++)
		if (config_override(cfg, M->overrides[i], err) < 0)
			goto fail;
	if (config_validate(cfg, err) < 0)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

/* -t: the file, then what it names on this machine (every check, so that
 * one run lists every problem). */
static int check_only(const struct buf *text, const char *path)
{
	int (*const checks[])(const struct config *, struct error *) = {
		check_programs, check_tls, check_chroot, check_users,
	};
	struct error err;
	int bad = 0;

	M->foreground = 1;
	if (cfgtext_publish(&M->cfg, 0) < 0) {
		fprintf(stderr, "havend: memfd: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		if (checks[i] == check_chroot && !privdrop_is_root())
			continue;
		if (checks[i](&M->cfg, &err) < 0) {
			fprintf(stderr, "havend: %s\n", err.msg);
			bad = 1;
		}
	}
	/* The passdb and backend checks run haven-auth and haven-worker:
	 * only when the programs are there. */
	if (check_programs(&M->cfg, &err) == 0) {
		if (check_passdb(&err) < 0)
			bad = 1;
		if (cfgtext_check(&M->cfg, path, &err) < 0) {
			fprintf(stderr, "havend: %s\n", err.msg);
			bad = 1;
		}
	}
	if (!bad)
		printf("havend: %s: configuration OK\n", path);
	cfgtext_close();
	return bad;
}

/* -t and -n: no server. Returns the exit status. */
static int config_only(const struct options *o, const struct buf *text)
{
	int r = 0;

	if (o->print) {
		struct buf out = BUF_INIT;
		config_dump(&M->cfg, &out);
		fwrite(out.data, 1, out.len, stdout);
		buf_free(&out);
	}
	if (o->test_only)
		r = check_only(text, o->path);
	return r;
}

static void setup_logging(struct buf *text)
{
	enum log_level lvl;

	log_init("master", M->foreground);
	if (log_level_parse(M->cfg.log_level, &lvl) == 0)
		log_set_level(M->debug ? LOG_LVL_DEBUG : lvl);
	(void)text;
	/* Children read log_level from their config text; -d forces debug. */
	if (cfgtext_publish(&M->cfg, M->debug) < 0)
		fatal("memfd_create: %s", strerror(errno));
}

/* The master holds three descriptors per pre-auth connection (its copy of
 * the socket, the login worker's channel and pidfd) and two per user
 * worker. Debian starts services with a soft limit of 1024, which would
 * cap max_connections at about 300 with accept() failing beyond; the hard
 * limit is what the administrator allowed, so take it. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)M->cfg.max_connections * 3 + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn("open files limit %lu is below the %lu that max_connections = %ld needs; "
			 "raise LimitNOFILE", (unsigned long)rl.rlim_cur, (unsigned long)want,
			 M->cfg.max_connections);
}

/* What the login workers run as, and the checks that must hold before
 * any of them starts: a failure here stops the server with the reason. */
static void setup_identity(void)
{
	struct error err;

	if (check_runtime(&M->cfg, &err) < 0)
		fatal("%s", err.msg);
	if (!privdrop_is_root()) {
		log_warn("running as uid %ld, not root: no chroot and no uid switches "
			 "(development mode; every process runs as this user)", (long)getuid());
		return;
	}
	/* A copy: the login identity outlives SIGHUP's new config. */
	M->login_user = xstrdup(M->cfg.login_user);
	if (privdrop_lookup(M->login_user, &M->login_uid, &M->login_gid, &err) < 0) {
		/* Documented fallback: a machine without the haven user
		 * (e.g. a fresh checkout) still separates privileges. */
		log_warn("%s; login workers will run as nobody", err.msg);
		free((char *)M->login_user);
		M->login_user = "nobody";
		if (privdrop_lookup("nobody", &M->login_uid, &M->login_gid, &err) < 0)
			fatal("%s", err.msg);
	}
}

/* This instance's runtime files (admin socket, pid file) go under
 * run_dir: made 0755 when missing (under systemd the package's
 * RuntimeDirectory is already there). */
static void run_dir_make(void)
{
	if (mkdir(M->cfg.run_dir, 0755) < 0 && errno != EEXIST)
		log_warn("run_dir %s: %s", M->cfg.run_dir, strerror(errno));
}

static void open_listeners(void)
{
	struct error err;
	int n;

	run_dir_make();
	n = net_listen_list(M->cfg.listen, M->listen_fds, NET_MAX_LISTENERS, &err);

	if (n < 0)
		fatal("%s", err.msg);
	for (int i = 0; i < n; i++)
		M->listen_tls[i] = 0;
	M->nlisten = n;
	n = net_listen_list(M->cfg.listen_tls, M->listen_fds + M->nlisten,
			    NET_MAX_LISTENERS - M->nlisten, &err);
	if (n < 0)
		fatal("%s", err.msg);
	for (int i = 0; i < n; i++)
		M->listen_tls[M->nlisten + i] = LISTEN_TLS;
	M->nlisten += n;
	n = net_listen_list(M->cfg.managesieve_listen, M->listen_fds + M->nlisten,
			    NET_MAX_LISTENERS - M->nlisten, &err);
	if (n < 0)
		fatal("managesieve_listen: %s", err.msg);
	for (int i = 0; i < n; i++)
		M->listen_tls[M->nlisten + i] = LISTEN_MANAGESIEVE;
	M->nlisten += n;
	if (lmtp_open_listeners(&err) < 0)
		fatal("lmtp_listen: %s", err.msg);
	if (metrics_open_listener(&err) < 0)
		fatal("metrics_listen: %s", err.msg);
	/* IMAP goes on without it: haven-admin who and kick say why. */
	if (admin_open_listener(&err) < 0)
		log_err("admin_socket: %s; haven-admin who and kick will not work", err.msg);
}

/* Listeners bound: the master keeps what starting and stopping its
 * children takes (uid and gid changes and chroot for them, the bounding
 * set they shrink, signals to other uids, reading what they open as
 * root), for itself and for all it executes. */
static void drop_capabilities(void)
{
	static const int keep[] = {
		CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT, CAP_SETPCAP, CAP_KILL,
		CAP_DAC_READ_SEARCH, CAP_AUDIT_WRITE,
	};
	struct error err;

	if (sandbox_caps_keep(keep, sizeof(keep) / sizeof(keep[0]), &err) < 0)
		fatal("%s", err.msg);
}

static void reap(evutil_socket_t sig, short what, void *arg)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM && WTERMSIG(status) != SIGKILL)
			log_warn("child %ld killed by signal %d (%s)", (long)pid, WTERMSIG(status),
				 child_signal_text(WTERMSIG(status)));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			log_warn("child %ld exited with status %d", (long)pid, WEXITSTATUS(status));
		if (authchan_child_exited(pid))
			continue;
		if (workers_child_exited(pid) || lmtp_child_exited(pid) || metrics_child_exited(pid))
			continue;
		logins_child_exited(pid);
	}
	if (M->stopping && logins_none_left() && lmtp_none_left() && metrics_none_left() &&
	    M->workers == NULL && M->auth_pid <= 0)
		event_base_loopbreak(M->base);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warn("shutdown deadline passed; killing remaining children");
	logins_kill_all();
	lmtp_kill_all();
	metrics_kill();
	for (struct user_worker *w = M->workers; w; w = w->next)
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
	if (M->auth_pid > 0)
		kill(M->auth_pid, SIGKILL);
	event_base_loopbreak(M->base);
}

void master_stop(void)
{
	struct timeval tv = { STOP_DEADLINE_SEC, 0 };
	if (M->stopping)
		return;
	M->stopping = 1;
	notify_send("STOPPING=1");
	for (int i = 0; i < M->nlisten; i++) {
		event_del(M->listen_ev[i]);
		close(M->listen_fds[i]);
	}
	M->nlisten = 0;
	lmtp_stop();
	metrics_stop();
	logins_stop_all();
	workers_stop_all();
	authchan_stop();
	stop_deadline = evtimer_new(M->base, deadline_cb, NULL);
	evtimer_add(stop_deadline, &tv);
	reap(0, 0, NULL);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	if (!M->stopping)
		log_info("signal %d: shutting down", (int)sig);
	master_stop();
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	reload_config();
}

void master_start_failed(const char *why)
{
	if (M->stopping)
		return;
	log_err("%s: stopping", why);
	M->exit_status = 1;
	master_stop();
}

void master_started(void)
{
	if (M->started || M->stopping)
		return;
	M->started = 1;
	log_info("havend %s started: listen=%s%s%s, login user %s", HAVEN_VERSION, M->cfg.listen,
		 M->cfg.listen_tls[0] ? " tls=" : "", M->cfg.listen_tls,
		 privdrop_is_root() ? M->login_user : "(unchanged)");
	notify_send("READY=1\nSTATUS=Serving IMAP");
}

static void setup_events(void)
{
	signal(SIGPIPE, SIG_IGN);
	M->base = event_base_new();
	if (M->base == NULL)
		fatal("event_base_new failed");
	for (int i = 0; i < M->nlisten; i++) {
		M->listen_ev[i] = event_new(M->base, M->listen_fds[i], EV_READ | EV_PERSIST,
					    logins_accept, (void *)(intptr_t)M->listen_tls[i]);
		event_add(M->listen_ev[i], NULL);
	}
	lmtp_start_listening();
	admin_start();
	sigs[0] = evsignal_new(M->base, SIGCHLD, reap, NULL);
	sigs[1] = evsignal_new(M->base, SIGTERM, on_stop_signal, NULL);
	sigs[2] = evsignal_new(M->base, SIGINT, on_stop_signal, NULL);
	sigs[3] = evsignal_new(M->base, SIGHUP, on_reload_signal, NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_add(sigs[i], NULL);
	/* Login workers forked by a template are its children; when a
	 * template ends first they come to us, not to init, and are reaped
	 * here (login_tmpl.c). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
}

/* A SIGHUP (a reload) that comes once the listeners are bound but before
 * its handler is in place would end the master (the default action):
 * held back over that window, it is then handled as a reload. */
static void hold_reloads(int hold)
{
	sigset_t hup;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &hup, NULL);
}

static void write_pidfile(void)
{
	char *path = config_run_path(&M->cfg, M->cfg.pid_file);
	FILE *f = path[0] ? fopen(path, "w") : NULL;

	if (f) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	} else if (path[0]) {
		log_warn("pid_file %s: %s", path, strerror(errno));
	}
	free(path);
}

static void start_children(void)
{
	M->auth_chan = -1;
	if (authchan_start() < 0)
		fatal("could not start the auth helper");
	logins_init();
	metrics_start();
	write_pidfile();
}

static void teardown(void)
{
	log_info(M->exit_status ? "stopped after a failed start" : "stopped");
	if (M->cfg.pid_file[0]) {
		char *path = config_run_path(&M->cfg, M->cfg.pid_file);
		unlink(path);
		free(path);
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(sigs[i]);
	if (stop_deadline)
		event_free(stop_deadline);
	logins_free_all();
	lmtp_free_all();
	metrics_free();
	admin_stop();
	while (M->workers)
		workers_child_exited(M->workers->pid);
	for (int i = 0; i < M->nlisten; i++)
		event_free(M->listen_ev[i]);
	event_base_free(M->base);
	cfgtext_close();
	config_free(&M->cfg);
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct buf text = BUF_INIT;
	struct error err;
	char *abspath;
	int r;

	parse_args(argc, argv, &opt);
	abspath = realpath(opt.path, NULL);
	M->config_path = abspath ? abspath : opt.path;
	if (master_config_load(M->config_path, &M->cfg, &text, &err) < 0) {
		fprintf(stderr, "havend: %s\n", err.msg);
		buf_free(&text);
		free(M->overrides);
		free(abspath);
		return 1;
	}
	if (opt.test_only || opt.print) {
		r = config_only(&opt, &text);
		buf_free(&text);
		config_free(&M->cfg);
		free(M->overrides);
		free(abspath);
		return r;
	}
	notify_init();
	setup_logging(&text);
	buf_free(&text);
	raise_fd_limit();
	setup_identity();
	hold_reloads(1);
	open_listeners();
	drop_capabilities();
	setup_events();
	hold_reloads(0);
	start_children();
	event_base_dispatch(M->base);
	teardown();
	free(M->overrides);
	free(abspath);
	return M->exit_status;
}
