/* havend: the master. */
#include <errno.h>
#include <fcntl.h>
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
#include "../lib/xmalloc.h"
#include "master.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif

static struct master master_state;
struct master *M = &master_state;
static struct event *stop_deadline;

static void usage(void)
{
	fprintf(stderr, "usage: havend [-F] [-d] [-t] [-n] [-c config]\n"
			"       havend --version\n");
	exit(2);
}

static int load_config(const char *path, struct config *cfg, struct buf *text)
{
	struct error err;
	config_init(cfg);
	if (config_read_file(path, text, &err) < 0 ||
	    config_parse(cfg, text->data ? text->data : "", text->len, path, &err) < 0 ||
	    config_validate(cfg, &err) < 0) {
		fprintf(stderr, "havend: %s\n", err.msg);
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* The login chroot must be a root-owned directory nobody else can write,
 * or the chroot protects nothing. */
static int check_chroot_dir(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		log_err("login_chroot %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		log_err("login_chroot %s must be a directory owned by root, not group/world writable",
			dir);
		return -1;
	}
	return 0;
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
		if (workers_child_exited(pid))
			continue;
		logins_child_exited(pid);
	}
	if (M->stopping && logins_none_left() && M->workers == NULL && M->auth_pid <= 0)
		event_base_loopbreak(M->base);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	log_warn("shutdown deadline passed; killing remaining children");
	logins_kill_all();
	for (struct user_worker *w = M->workers; w; w = w->next)
		if (w->pid > 0)
			kill(w->pid, SIGKILL);
	if (M->auth_pid > 0)
		kill(M->auth_pid, SIGKILL);
	event_base_loopbreak(M->base);
}

static void stop(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { 10, 0 };
	if (M->stopping)
		return;
	log_info("signal %d: shutting down", (int)sig);
	M->stopping = 1;
	for (int i = 0; i < M->nlisten; i++) {
		event_del(M->listen_ev[i]);
		close(M->listen_fds[i]);
	}
	M->nlisten = 0;
	logins_stop_all();
	workers_stop_all();
	authchan_stop();
	stop_deadline = evtimer_new(M->base, deadline_cb, NULL);
	evtimer_add(stop_deadline, &tv);
	reap(0, 0, NULL);
}

static void reload(evutil_socket_t sig, short what, void *arg)
{
	struct config cfg;
	struct buf text = BUF_INIT;
	if (load_config(M->config_path, &cfg, &text) < 0) {
		log_err("SIGHUP: keeping the old configuration");
		buf_free(&text);
		return;
	}
	int fd = child_config_memfd(text.data ? text.data : "", text.len);
	buf_free(&text);
	if (fd < 0) {
		log_err("SIGHUP: memfd: %s", strerror(errno));
		config_free(&cfg);
		return;
	}
	close(M->config_fd);
	M->config_fd = fd;
	/* Listeners and the login identity stay as they were bound. */
	config_free(&M->cfg);
	M->cfg = cfg;
	/* Pooled login workers read the old text: start fresh ones. */
	logins_reload();
	log_info("SIGHUP: configuration reloaded for new connections");
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

static void write_pidfile(const char *path)
{
	FILE *f;
	if (path[0] == '\0')
		return;
	f = fopen(path, "w");
	if (f == NULL) {
		log_warn("pid_file %s: %s", path, strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
}

int main(int argc, char **argv)
{
	const char *path = HAVEN_SYSCONFDIR "/haven.conf";
	int test_only = 0, print = 0;
	struct buf text = BUF_INIT;
	struct error err;
	enum log_level lvl;
	char *abspath;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("havend %s\n", HAVEN_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-F") == 0) {
			M->foreground = 1;
		} else if (strcmp(argv[i], "-d") == 0) {
			M->debug = 1;
		} else if (strcmp(argv[i], "-t") == 0) {
			test_only = 1;
		} else if (strcmp(argv[i], "-n") == 0) {
			print = 1;
		} else {
			usage();
		}
	}
	abspath = realpath(path, NULL);
	M->config_path = abspath ? abspath : path;
	if (load_config(M->config_path, &M->cfg, &text) < 0) {
		buf_free(&text);
		free(abspath);
		return 1;
	}
	if (print || test_only) {
		buf_free(&text);
		free(abspath);
		abspath = NULL;
	}
	if (print) {
		struct buf out = BUF_INIT;
		config_dump(&M->cfg, &out);
		fwrite(out.data, 1, out.len, stdout);
		buf_free(&out);
	}
	if (test_only && !print)
		printf("havend: %s: configuration OK\n", path);
	if (test_only || print) {
		config_free(&M->cfg);
		return 0;
	}

	log_init("master", M->foreground);
	if (log_level_parse(M->cfg.log_level, &lvl) == 0)
		log_set_level(M->debug ? LOG_LVL_DEBUG : lvl);
	if (M->debug) {
		/* Children read log_level from the config; -d forces debug. */
		buf_append_str(&text, "\nlog_level = debug\n");
	}
	M->config_fd = child_config_memfd(text.data ? text.data : "", text.len);
	buf_free(&text);
	if (M->config_fd < 0)
		fatal("memfd_create: %s", strerror(errno));
	raise_fd_limit();

	if (privdrop_is_root()) {
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
		if (check_chroot_dir(M->cfg.login_chroot) < 0)
			return 1;
	} else {
		log_warn("running as uid %ld, not root: no chroot and no uid switches "
			 "(development mode; every process runs as this user)", (long)getuid());
	}

	M->nlisten = 0;
	int n = net_listen_list(M->cfg.listen, M->listen_fds, NET_MAX_LISTENERS, &err);
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
		M->listen_tls[M->nlisten + i] = 1;
	M->nlisten += n;

	signal(SIGPIPE, SIG_IGN);
	M->base = event_base_new();
	if (M->base == NULL)
		fatal("event_base_new failed");
	for (int i = 0; i < M->nlisten; i++) {
		M->listen_ev[i] = event_new(M->base, M->listen_fds[i], EV_READ | EV_PERSIST,
					    logins_accept, (void *)(intptr_t)M->listen_tls[i]);
		event_add(M->listen_ev[i], NULL);
	}
	struct event *sigs[] = {
		evsignal_new(M->base, SIGCHLD, reap, NULL),
		evsignal_new(M->base, SIGTERM, stop, NULL),
		evsignal_new(M->base, SIGINT, stop, NULL),
		evsignal_new(M->base, SIGHUP, reload, NULL),
	};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_add(sigs[i], NULL);
	/* Login workers forked by a template are its children; when a
	 * template ends first they come to us, not to init, and are reaped
	 * here (login_tmpl.c). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	M->auth_chan = -1;
	if (authchan_start() < 0)
		fatal("could not start the auth helper");
	logins_init();
	write_pidfile(M->cfg.pid_file);
	log_info("havend %s started: listen=%s%s%s, login user %s", HAVEN_VERSION, M->cfg.listen,
		 M->cfg.listen_tls[0] ? " tls=" : "", M->cfg.listen_tls,
		 privdrop_is_root() ? M->login_user : "(unchanged)");

	event_base_dispatch(M->base);

	log_info("stopped");
	if (M->cfg.pid_file[0])
		unlink(M->cfg.pid_file);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		event_free(sigs[i]);
	if (stop_deadline)
		event_free(stop_deadline);
	logins_free_all();
	while (M->workers)
		workers_child_exited(M->workers->pid);
	for (int i = 0; i < M->nlisten; i++)
		event_free(M->listen_ev[i]);
	event_base_free(M->base);
	close(M->config_fd);
	config_free(&M->cfg);
	free(abspath);
	return 0;
}
