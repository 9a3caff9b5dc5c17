/* How a process the master did not start ended, read through its pidfd:
 * login workers are the login template's children, so the template reaps
 * them, but the master holds their pidfds and wants to say which client's
 * worker died of what (a seccomp kill names the session it happened in).
 * PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux 6.15) gives any holder of a
 * pidfd the exit status; older kernels do not, and then the template's
 * own log line is all there is. */
#include <stdint.h>
#include <sys/ioctl.h>

#include "master.h"

#ifndef PIDFD_GET_INFO
struct pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info)
#endif
#ifndef PIDFD_INFO_EXIT
#define PIDFD_INFO_EXIT (1u << 3)
#endif

int pidfd_exit_status(int pidfd, int *status)
{
	struct pidfd_info info = { .mask = PIDFD_INFO_EXIT };

	if (ioctl(pidfd, PIDFD_GET_INFO, &info) < 0)
		return -1;
	/* The pidfd turns readable when the process exits; the kernel
	 * records the status when its parent reaps it, a moment later. */
	if (!(info.mask & PIDFD_INFO_EXIT))
		return 1;
	*status = info.exit_code;
	return 0;
}
