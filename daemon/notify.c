/* systemd's readiness protocol (sd_notify(3)), which is small enough not
 * to need libsystemd: one datagram of "KEY=value" lines to the AF_UNIX
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace). Without the variable (not under systemd, Type=simple) it
 * does nothing. The variable is removed from the environment once read,
 * so no child inherits it and speaks for the master. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "master.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_len;

void notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n;

	if (path == NULL || path[0] == '\0')
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(notify_addr.sun_path)) {
		log_warn("NOTIFY_SOCKET %s: not a socket path; no readiness notification", path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	unsetenv("NOTIFY_SOCKET");
}

void notify_send(const char *state)
{
	int fd;

	if (notify_len == 0)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("sd_notify: socket: %s", strerror(errno));
		return;
	}
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr,
		   notify_len) < 0)
		log_warn("sd_notify: %s", strerror(errno));
	close(fd);
}

void notify_reloading(void)
{
	struct timespec ts;
	char msg[96];

	/* systemd 253 and later want the time with RELOADING=1 (it tells
	 * this reload from an earlier one); older ones ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	notify_send(msg);
}
