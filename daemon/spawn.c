#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"
#include "master.h"

static void child_fail(const char *what)
{
	log_err("spawn: %s: %s", what, strerror(errno));
	_exit(127);
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
	int c = fcntl(chan, F_DUPFD, 10), k = fcntl(M->config_fd, F_DUPFD, 10);
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
