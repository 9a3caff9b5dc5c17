/* What every exec'd Haven process (haven-auth, haven-login, haven-worker)
 * inherits from the master: fd 3 is its SEQPACKET channel to the master,
 * fd 4 a sealed memfd holding the configuration text the master validated
 * (so every process agrees on the config even if the file changes, and a
 * worker running as a mail user needs no read access to it). fd 5 may
 * carry a socket given at start; login workers get their clients later,
 * over fd 3. */
#ifndef HAVEN_CHILD_H
#define HAVEN_CHILD_H
#include "config.h"

#define CHILD_FD_MASTER 3
#define CHILD_FD_CONFIG 4
#define CHILD_FD_CLIENT 5

struct child_args {
	int foreground;
	const char *config_name;   /* file name, for messages */
	const char *opt[8];        /* values of -a .. -h, program specific */
};

/* Parse "-F -N name -a X -b Y ...", read and validate the config from
 * CHILD_FD_CONFIG (then close it), set up logging. Exits on error. */
void child_init(const char *role, int argc, char **argv, struct child_args *args,
		struct config *cfg);
/* Read, parse and validate the configuration text in fd (a memfd from
 * the master); name is for messages. 0, or -1 with cfg left empty. */
int child_config_read(int fd, const char *name, struct config *cfg, struct error *err);
/* How a child killed by sig died, for the log: SIGSYS is its seccomp
 * filter (sandbox.h) stopping a system call its role may not make. */
const char *child_signal_text(int sig);
/* Create the sealed memfd the master hands to children. */
int child_config_memfd(const char *text, size_t len);

#endif
