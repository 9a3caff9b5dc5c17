#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>

#include "log.h"
#include "xmalloc.h"

/* --- capabilities ------------------------------------------------------ */

static int cap_in(int cap, const int *keep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (keep[i] == cap)
			return 1;
	return 0;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return (int)syscall(SYS_capget, &hdr, data);
}

static int caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return (int)syscall(SYS_capset, &hdr, data);
}

/* Drop from the bounding set every capability not kept; the kernel says
 * EINVAL past the last one it knows. */
static int capbset_trim(const int *keep, size_t n, struct error *err)
{
	for (int cap = 0; cap < 64; cap++) {
		if (cap_in(cap, keep, n))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			return 0;
		error_set(err, ERR_INTERNAL, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
		return -1;
	}
	return 0;
}

static int caps_effective(int cap)
{
	struct __user_cap_data_struct data[2];
	return caps_get(data) == 0 && (data[cap / 32].effective & (1u << (cap % 32)));
}

int sandbox_capbset_keep(const int *keep, size_t n, struct error *err)
{
	/* Without CAP_SETPCAP (not root: development) the bounding set
	 * cannot shrink; such a process has no capabilities to lose. */
	if (!caps_effective(CAP_SETPCAP))
		return 0;
	return capbset_trim(keep, n, err);
}

int sandbox_caps_keep(const int *keep, size_t n, struct error *err)
{
	struct __user_cap_data_struct have[2], data[2];

	if (sandbox_capbset_keep(keep, n, err) < 0)
		return -1;
	if (geteuid() != 0 || caps_get(have) < 0)
		return 0;
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || keep[i] >= 64)
			continue;
		data[keep[i] / 32].permitted |= 1u << (keep[i] % 32);
	}
	/* Only what it has (a service manager may have given it less). */
	for (int i = 0; i < 2; i++) {
		data[i].permitted &= have[i].permitted;
		data[i].effective = data[i].permitted;
	}
	if (caps_set(data) < 0) {
		error_set(err, ERR_INTERNAL, "capset: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* --- seccomp ----------------------------------------------------------- */

int sandbox_under_valgrind(void)
{
	/* valgrind preloads its core into the program it runs. */
	const char *p = getenv("LD_PRELOAD");
	return p && strstr(p, "/vgpreload_") != NULL;
}

int sandbox_mode_parse(const char *s, enum sandbox_mode *out)
{
	if (strcasecmp(s, "yes") == 0)
		*out = SANDBOX_SECCOMP_KILL;
	else if (strcasecmp(s, "log") == 0)
		*out = SANDBOX_SECCOMP_LOG;
	else if (strcasecmp(s, "no") == 0)
		*out = SANDBOX_SECCOMP_OFF;
	else
		return -1;
	return 0;
}

/* Every process with a filter: an event loop over sockets and timers,
 * the heap, signals, the master's channel, and the log (stderr, or
 * syslog's AF_UNIX socket, which glibc reopens when syslogd restarts). */
static const char *const calls_common[] = {
	"read", "write", "readv", "writev", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"close", "shutdown", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"connect", "fcntl", "fstat", "newfstatat", "lseek",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "poll", "ppoll",
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	"futex", "getrandom", "clock_gettime", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep", "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "tgkill", "restart_syscall",
	"exit", "exit_group", "set_robust_list", "rseq",
};

/* A login worker reads the client and the master, and nothing else:
 * no file, no process, no new socket but syslog's. */
static const char *const calls_login[] = {
	"pipe2", "eventfd2",
};

/* An LMTP worker keeps the message in a memfd (it has no file system). */
static const char *const calls_lmtp[] = {
	"memfd_create",
};

/* The metrics server accepts its own connections. */
static const char *const calls_metrics[] = {
	"accept4", "accept",
};

/* The template forks workers, hands each a channel and reports it. */
static const char *const calls_template[] = {
	"clone", "clone3", "fork", "wait4", "waitid", "pidfd_open", "signalfd4", "dup2",
	"dup3", "prlimit64", "setrlimit", "kill", "socketpair", "seccomp",
};

/* A user worker: its mail store's files, locks, and change notification. */
static const char *const calls_worker[] = {
	"openat", "open", "creat", "pread64", "pwrite64", "preadv", "pwritev", "stat", "lstat",
	"statx", "fstatfs", "statfs", "access", "faccessat", "faccessat2", "getdents64", "getdents",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"link", "linkat", "symlink", "symlinkat", "readlink", "readlinkat", "ftruncate", "truncate", "fsync",
	"fdatasync", "flock", "utimensat", "utimes", "utime", "futimesat", "fchmod", "fchmodat",
	"chmod", "fchown", "fchownat", "umask", "fadvise64", "fallocate", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", "getcwd", "chdir", "fchdir", "getresuid", "getresgid",
	"setresgid", "setregid", "setgid", "getgroups", "uname", "sysinfo", "pipe2",
	"eventfd2", "dup", "dup2", "dup3", "sched_getaffinity", "getrusage",
	/* a database store's connections (libpq: TCP or a unix socket, the
	 * resolver's UDP queries for a host name) */
	"bind", "sendmmsg", "recvmmsg",
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_SANITIZED 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif

#ifdef SANDBOX_SANITIZED
/* Sanitizer builds (the test build) only: ASan and UBSan print reports
 * with symbols they read from /proc and the binary, and LeakSanitizer
 * stops the process under ptrace from a clone at exit. A filter without
 * these would turn every sanitizer report and leak check into SIGSYS. */
static const char *const calls_sanitizer[] = {
	"openat", "open", "readlink", "readlinkat", "getdents64", "stat", "lstat", "statx",
	"pread64", "sigaltstack", "sched_yield", "prctl", "clone", "clone3", "ptrace",
	"wait4", "waitid", "getppid", "kill", "mincore", "arch_prctl", "getrlimit",
	"prlimit64", "setrlimit", "pipe2", "execve", "dup2", "dup3", "sched_getaffinity",
	"uname", "process_vm_readv",
};
#endif

int sandbox_sanitized(void)
{
#ifdef SANDBOX_SANITIZED
	return 1;
#else
	return 0;
#endif
}

struct call_list {
	const char *const *names;
	size_t n;
};
#define LIST(a) { a, sizeof(a) / sizeof(a[0]) }

static int allow_names(scmp_filter_ctx ctx, struct call_list l, struct error *err)
{
	for (size_t i = 0; i < l.n; i++) {
		int nr = seccomp_syscall_resolve_name(l.names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;  /* not a call of this architecture */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0 && r != -EEXIST) {
			error_set(err, ERR_INTERNAL, "seccomp rule for %s: %s", l.names[i],
				  strerror(-r));
			return -1;
		}
	}
	return 0;
}

/* Calls allowed with some arguments only: sockets of the AF_UNIX family
 * (syslog; a login worker may not open a connection anywhere), and the
 * two ioctls libevent and stdio use. */
static int allow_narrow(scmp_filter_ctx ctx, struct error *err)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				 SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	r = r ? r : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	r = r ? r : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, TCGETS));
	if (r < 0) {
		error_set(err, ERR_INTERNAL, "seccomp argument rule: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* A user worker may reach its mail store's database over the network
 * (the DSN says where; the login workers never may). */
static int allow_inet(scmp_filter_ctx ctx, struct error *err)
{
	int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				 SCMP_A0(SCMP_CMP_EQ, AF_INET));
	r = r ? r : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (r < 0) {
		error_set(err, ERR_INTERNAL, "seccomp socket rule: %s", strerror(-r));
		return -1;
	}
	return 0;
}

static int allow_role(scmp_filter_ctx ctx, enum sandbox_role role, struct error *err)
{
	struct call_list common = LIST(calls_common), login = LIST(calls_login);
	struct call_list tmpl = LIST(calls_template), worker = LIST(calls_worker);
	struct call_list lmtp = LIST(calls_lmtp), metrics = LIST(calls_metrics);

	if (allow_names(ctx, common, err) < 0 || allow_narrow(ctx, err) < 0)
		return -1;
	if (role == SANDBOX_WORKER && allow_inet(ctx, err) < 0)
		return -1;
#ifdef SANDBOX_SANITIZED
	struct call_list san = LIST(calls_sanitizer);
	if (allow_names(ctx, san, err) < 0)
		return -1;
#endif
	/* The template becomes each of its workers: theirs and its own. */
	if (role == SANDBOX_LOGIN_TEMPLATE && allow_names(ctx, tmpl, err) < 0)
		return -1;
	if (role == SANDBOX_LMTP && allow_names(ctx, lmtp, err) < 0)
		return -1;
	if (role == SANDBOX_METRICS && allow_names(ctx, metrics, err) < 0)
		return -1;
	return allow_names(ctx, role == SANDBOX_WORKER ? worker : login, err);
}

struct sandbox_prog {
	size_t n;
	struct sock_filter *insns;
};

/* Programs are a few hundred instructions; more is a bug. */
#define SANDBOX_PROG_MAX 4096

/* A program read from fd until its end. */
static struct sandbox_prog *prog_read(int fd, struct error *err)
{
	struct sandbox_prog *p;
	size_t cap = SANDBOX_PROG_MAX * sizeof(struct sock_filter), len = 0;
	unsigned char *buf = xmalloc(cap);
	ssize_t n;

	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	if (len == 0 || len == cap || len % sizeof(struct sock_filter) != 0) {
		error_set(err, ERR_INTERNAL, "seccomp filter: a program of %zu bytes", len);
		free(buf);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->n = len / sizeof(struct sock_filter);
	p->insns = (struct sock_filter *)buf;
	return p;
}

/* role's program, written to fd. libseccomp 2.5 exports to an fd only:
 * a pipe, since a login process has a file-size limit of 0, which a
 * memfd is subject to and a pipe is not; programs are far below a pipe's
 * buffer, so the write cannot block. */
static int export_role(enum sandbox_role role, enum sandbox_mode mode, int fd, struct error *err)
{
	scmp_filter_ctx ctx;
	int r = -1;

	ctx = seccomp_init(mode == SANDBOX_SECCOMP_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		error_set(err, ERR_INTERNAL, "seccomp_init failed");
		return -1;
	}
	if (allow_role(ctx, role, err) == 0 && (r = seccomp_export_bpf(ctx, fd)) < 0)
		error_set(err, ERR_INTERNAL, "seccomp_export_bpf: %s", strerror(-r));
	seccomp_release(ctx);
	return r < 0 ? -1 : 0;
}

/* 1 when no filter is to be installed. */
static int compile_skipped(enum sandbox_mode mode)
{
	if (mode == SANDBOX_SECCOMP_OFF)
		return 1;
	if (sandbox_under_valgrind()) {
		log_debug("running under valgrind: no seccomp filter");
		return 1;
	}
	return 0;
}

int sandbox_compile(enum sandbox_role role, enum sandbox_mode mode, struct sandbox_prog **out,
		    struct error *err)
{
	int fds[2], r;

	*out = NULL;
	if (compile_skipped(mode))
		return 0;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		error_set(err, ERR_INTERNAL, "pipe: %s", strerror(errno));
		return -1;
	}
	r = export_role(role, mode, fds[1], err);
	close(fds[1]);
	if (r == 0)
		*out = prog_read(fds[0], err);
	close(fds[0]);
	return *out ? 0 : -1;
}

/* The child of sandbox_compile_apart: role's program into fd, then exit. */
static void __attribute__((noreturn)) compile_child(enum sandbox_role role,
						     enum sandbox_mode mode, int fd)
{
	struct error err;

	if (export_role(role, mode, fd, &err) < 0) {
		log_err("%s", err.msg);
		_exit(1);
	}
	_exit(0);
}

int sandbox_compile_apart(enum sandbox_role role, enum sandbox_mode mode,
			  struct sandbox_prog **out, struct error *err)
{
	int fds[2], status = 0;
	pid_t pid;

	*out = NULL;
	if (compile_skipped(mode))
		return 0;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		error_set(err, ERR_INTERNAL, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == 0)
		compile_child(role, mode, fds[1]);
	close(fds[1]);
	if (pid > 0) {
		*out = prog_read(fds[0], err);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	} else {
		error_set(err, ERR_INTERNAL, "fork: %s", strerror(errno));
	}
	close(fds[0]);
	if (*out && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		error_set(err, ERR_INTERNAL, "the seccomp filter's compiler process failed "
			  "(wait status %d)", status);
		sandbox_prog_free(*out);
		*out = NULL;
	}
	return *out ? 0 : -1;
}

int sandbox_load(const struct sandbox_prog *p, struct error *err)
{
	struct sock_fprog fp;

	if (p == NULL)
		return 0;
	fp.len = (unsigned short)p->n;
	fp.filter = p->insns;
	/* no_new_privs is set already (privdrop_apply), as the kernel
	 * requires of a process without CAP_SYS_ADMIN. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0) {
		error_set(err, ERR_INTERNAL, "seccomp: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void sandbox_prog_free(struct sandbox_prog *p)
{
	if (p == NULL)
		return;
	free(p->insns);
	free(p);
}

int sandbox_seccomp(enum sandbox_role role, enum sandbox_mode mode, struct error *err)
{
	struct sandbox_prog *p;
	int r;

	if (sandbox_compile(role, mode, &p, err) < 0)
		return -1;
	r = sandbox_load(p, err);
	sandbox_prog_free(p);
	return r;
}

void sandbox_enter(enum sandbox_role role, const char *setting)
{
	enum sandbox_mode mode = SANDBOX_SECCOMP_KILL;
	struct error err;

	(void)sandbox_mode_parse(setting, &mode);
	if (sandbox_seccomp(role, mode, &err) < 0)
		fatal("%s", err.msg);
}
