/* The configuration as each kind of child gets it.
 *
 * Children read their configuration from a sealed memfd (lib/child.h).
 * Each kind gets its own text, made from the parsed configuration: the
 * login workers, which parse bytes from anybody, get only the core keys;
 * the auth helper also gets the passdb's keys (passdb_*), the user workers
 * the mail backends' (<backend>_*). A database password in the
 * configuration so never reaches a process an attacker talks to before
 * logging in.
 *
 * The master does not know the backends' keys (it includes nothing but
 * lib/): haven-worker checks them (cfgtext_check), at start, for -t and
 * before a reload is accepted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "master.h"

enum { FOR_LOGIN, FOR_AUTH, FOR_WORKER, NKINDS };
static const unsigned kind_roles[NKINDS] = { CONFIG_ROLE_LOGIN, CONFIG_ROLE_AUTH,
					     CONFIG_ROLE_WORKER };
static int fds[NKINDS] = { -1, -1, -1 };

static int make_fd(const struct config *cfg, unsigned roles, int debug)
{
	struct buf text = BUF_INIT;
	int fd;

	config_dump_role(cfg, roles, &text);
	if (debug)
		buf_append_str(&text, "log_level = debug\n");
	fd = child_config_memfd(text.data ? text.data : "", text.len);
	buf_free(&text);
	return fd;
}

int cfgtext_publish(const struct config *cfg, int debug)
{
	int made[NKINDS];

	for (int k = 0; k < NKINDS; k++) {
		if ((made[k] = make_fd(cfg, kind_roles[k], debug)) < 0) {
			int e = errno;
			while (k-- > 0)
				close(made[k]);
			errno = e;
			return -1;
		}
	}
	for (int k = 0; k < NKINDS; k++) {
		if (fds[k] >= 0)
			close(fds[k]);
		fds[k] = made[k];
	}
	return 0;
}

int cfgtext_fd(const char *prog)
{
	/* The LMTP worker and the metrics server parse outside bytes,
	 * chrooted, as a login worker does: they see what it sees. */
	if (strcmp(prog, "haven-login") == 0 || strcmp(prog, "haven-lmtp") == 0 ||
	    strcmp(prog, "haven-metrics") == 0)
		return fds[FOR_LOGIN];
	if (strcmp(prog, "haven-auth") == 0)
		return fds[FOR_AUTH];
	return fds[FOR_WORKER];
}

void cfgtext_close(void)
{
	for (int k = 0; k < NKINDS; k++) {
		if (fds[k] >= 0)
			close(fds[k]);
		fds[k] = -1;
	}
}

/* In the child: the worker's text on fd 4, its stderr into the pipe. */
static void exec_checker(const char *path, int cfgfd, int errfd, const char *name)
{
	int devnull = open("/dev/null", O_RDWR);
	if (dup2(cfgfd, CHILD_FD_CONFIG) < 0 || dup2(errfd, 2) < 0 || devnull < 0 ||
	    dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
		_exit(127);
	closefrom(CHILD_FD_CONFIG + 1);
	execl(path, "haven-worker", "-F", "-N", name, "-g", "check-config", (char *)NULL);
	_exit(127);
}

int cfgtext_check(const struct config *cfg, const char *name, struct error *err)
{
	char *path = xasprintf("%s/haven-worker", cfg->libexec_dir);
	char out[1024];
	size_t len = 0;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		error_set(err, ERR_INTERNAL, "checking the backend settings: %s", strerror(errno));
		free(path);
		return -1;
	}
	if (pid == 0)
		exec_checker(path, fds[FOR_WORKER], pfd[1], name);
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0 || (n < 0 && errno == EINTR))
		len += n > 0 ? (size_t)n : 0;
	close(pfd[0]);
	out[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		free(path);
		return 0;
	}
	out[strcspn(out, "\n")] = '\0';
	error_set(err, ERR_PARSE, "%s", len ? out : "cannot run haven-worker to check the backend settings");
	if (len == 0)
		log_err("%s did not run (exit status %d)", path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	free(path);
	return -1;
}
