#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

int child_config_read(int fd, const char *name, struct config *cfg, struct error *err)
{
	struct buf text = BUF_INIT;
	char tmp[8192];
	ssize_t n;

	/* pread from 0: a memfd is shared by many children (no shared file
	 * offset trouble). */
	for (off_t off = 0;; off += n) {
		n = pread(fd, tmp, sizeof(tmp), off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			error_set(err, ERR_INTERNAL, "reading config from fd %d: %s", fd,
				  strerror(errno));
			buf_free(&text);
			return -1;
		}
		if (n == 0)
			break;
		buf_append(&text, tmp, (size_t)n);
	}
	config_init(cfg);
	if (config_parse(cfg, text.data ? text.data : "", text.len, name, err) < 0 ||
	    config_validate(cfg, err) < 0) {
		config_free(cfg);
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	return 0;
}

void child_init(const char *role, int argc, char **argv, struct child_args *args,
		struct config *cfg)
{
	struct error err;
	enum log_level lvl;

	memset(args, 0, sizeof(*args));
	args->config_name = "haven.conf";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-F") == 0) {
			args->foreground = 1;
		} else if (a[0] == '-' && a[1] && a[2] == '\0' && i + 1 < argc) {
			if (a[1] == 'N')
				args->config_name = argv[++i];
			else if (a[1] >= 'a' && a[1] <= 'h')
				args->opt[a[1] - 'a'] = argv[++i];
			else
				goto usage;
		} else {
			goto usage;
		}
	}
	log_init(role, args->foreground);
	if (child_config_read(CHILD_FD_CONFIG, args->config_name, cfg, &err) < 0)
		fatal("%s", err.msg);
	close(CHILD_FD_CONFIG);
	if (log_level_parse(cfg->log_level, &lvl) == 0)
		log_set_level(lvl);
	return;
usage:
	log_init(role, 1);
	fatal("%s: internal program, started by havend only", argv[0]);
}

const char *child_signal_text(int sig)
{
	return sig == SIGSYS ? "SIGSYS: its seccomp filter stopped a forbidden system call"
			     : strsignal(sig);
}

int child_config_memfd(const char *text, size_t len)
{
	int fd = memfd_create("haven.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}
