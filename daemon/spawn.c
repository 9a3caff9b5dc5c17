#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"
#include "master.h"

static void child_fail(const char *what)
{
	log_err("spawn: %s: %s", what, strerror(errno));
	_exit(127);
}

/* Without a privilege drop before exec, posix_spawn does the same as the
 * fork path below (own process group, empty signal mask, default SIGPIPE,
 * fds 3/4/5 and nothing else, /dev/null on 0 and, in the background, 1
 * and 2) but without copying the master's address space: glibc's
 * posix_spawn is a vfork, which makes starting login workers cheaper. */
static pid_t spawn_vfork(const char *path, const char *const *argv, int chan, int cfgfd,
			 int client)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	pid_t pid = -1;
	int r;

	/* Park the three fds above every one of them (and above 5) first,
	 * so that placing them at 3, 4, 5 cannot clobber one another. */
	int hi = chan > cfgfd ? chan : cfgfd;
	if (client > hi)
		hi = client;
	if (hi < CHILD_FD_CLIENT)
		hi = CHILD_FD_CLIENT;
	hi++;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	if (posix_spawnattr_init(&at) != 0)
		return -1;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		posix_spawnattr_destroy(&at);
		return -1;
	}
	r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	r = r ? r : posix_spawnattr_setpgroup(&at, 0);
	r = r ? r : posix_spawnattr_setsigmask(&at, &none);
	r = r ? r : posix_spawnattr_setsigdefault(&at, &def);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, chan, hi);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, cfgfd, hi + 1);
	if (client >= 0)
		r = r ? r : posix_spawn_file_actions_adddup2(&fa, client, hi + 2);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, hi, CHILD_FD_MASTER);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, hi + 1, CHILD_FD_CONFIG);
	if (client >= 0)
		r = r ? r : posix_spawn_file_actions_adddup2(&fa, hi + 2, CHILD_FD_CLIENT);
	r = r ? r : posix_spawn_file_actions_addclosefrom_np(&fa, client >= 0 ? CHILD_FD_CLIENT + 1
									      : CHILD_FD_CLIENT);
	r = r ? r : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!M->foreground) {
		/* stdout/stderr to /dev/null: children log to syslog. */
		r = r ? r : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		r = r ? r : posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	if (r == 0)
		r = posix_spawn(&pid, path, &fa, &at, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0) {
		log_err("spawn %s: %s", path, strerror(r));
		return -1;
	}
	return pid;
}

pid_t spawn_child(const char *prog, const char *const *extra, int chan, int client,
		  const struct privdrop *pd)
{
	char *path = xasprintf("%s/%s", M->cfg.libexec_dir, prog);
	const char *argv[32];
	int n = 0;
	pid_t pid;

	argv[n++] = prog;
	if (M->foreground)
		argv[n++] = "-F";
	argv[n++] = "-N";
	argv[n++] = M->config_path;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;

	if (pd == NULL) {
		pid = spawn_vfork(path, argv, chan, cfgtext_fd(prog), client);
		free(path);
		return pid;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork for %s: %s", prog, strerror(errno));
		free(path);
		return -1;
	}
	if (pid > 0) {
		free(path);
		return pid;
	}

	/* Own process group: a Ctrl-C on the terminal reaches only the master,
	 * which then stops its children in order. */
	setpgid(0, 0);
	/* Child. libevent's handlers do not survive exec, but the mask does. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	/* Move the fds out of the way first so the dup2s cannot clobber one
	 * another, then place them at 3, 4, 5. */
	int c = fcntl(chan, F_DUPFD, 10), k = fcntl(cfgtext_fd(prog), F_DUPFD, 10);
	int cl = client >= 0 ? fcntl(client, F_DUPFD, 10) : -1;
	if (c < 0 || k < 0 || (client >= 0 && cl < 0))
		child_fail("dup");
	if (dup2(c, CHILD_FD_MASTER) < 0 || dup2(k, CHILD_FD_CONFIG) < 0 ||
	    (cl >= 0 && dup2(cl, CHILD_FD_CLIENT) < 0))
		child_fail("dup2");
	/* Everything else closes: no listener, no other session leaks in. */
	syscall(SYS_close_range, cl >= 0 ? CHILD_FD_CLIENT + 1 : CHILD_FD_CLIENT, ~0U, 0);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, 0);
		if (devnull > 2)
			close(devnull);
	}
	if (!M->foreground) {
		/* stdout/stderr to /dev/null: children log to syslog. */
		int dn = open("/dev/null", O_WRONLY);
		if (dn >= 0) {
			dup2(dn, 1);
			dup2(dn, 2);
			if (dn > 2)
				close(dn);
		}
	}
	if (pd) {
		struct error err;
		if (privdrop_apply(pd, &err) < 0) {
			log_err("spawn %s: %s", prog, err.msg);
			_exit(126);
		}
	}
	execv(path, (char *const *)argv);
	child_fail(path);
	return -1;
}

pid_t spawn_with_chan(const char *prog, const char *const *extra, int *chan)
{
	int sv[2];
	pid_t pid;

	if (ipc_socketpair(sv) < 0) {
		log_err("socketpair for %s: %s", prog, strerror(errno));
		return -1;
	}
	pid = spawn_child(prog, extra, sv[1], -1, NULL);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -1;
	}
	*chan = sv[0];
	return pid;
}

void chan_close(struct event **ev, int *chan)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*chan >= 0) {
		close(*chan);
		*chan = -1;
	}
}
