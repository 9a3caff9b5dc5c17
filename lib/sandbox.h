/* Least privilege beyond the uid drop (privdrop.c): the capability sets
 * a process keeps, and the seccomp-bpf filters of the processes that
 * handle client bytes. A filter allows the system calls its role needs
 * and kills the whole process (SECCOMP_RET_KILL_PROCESS) on any other:
 * the parent sees SIGSYS as the exit signal and logs it. */
#ifndef HAVEN_SANDBOX_H
#define HAVEN_SANDBOX_H
#include <stddef.h>
#include "error.h"

enum sandbox_role {
	SANDBOX_LOGIN,          /* pre-auth login worker */
	SANDBOX_LOGIN_TEMPLATE, /* forks login workers: a login worker's calls and fork's */
	SANDBOX_WORKER,         /* user worker: the mail store's file calls */
	SANDBOX_LMTP,           /* LMTP worker: a login worker's, and memfds */
	SANDBOX_METRICS,        /* metrics server: a login worker's, and accept */
};

enum sandbox_mode {
	SANDBOX_SECCOMP_OFF,
	SANDBOX_SECCOMP_LOG,    /* allow, but the kernel logs calls outside the list */
	SANDBOX_SECCOMP_KILL,
};

/* Empty the bounding set but for `keep` (what any program this process
 * executes could ever get). Needs CAP_SETPCAP, so a process that drops
 * its uid does it before; one without CAP_SETPCAP (not root) gets 0 and
 * no change. */
int sandbox_capbset_keep(const int *keep, size_t n, struct error *err);

/* The capabilities a root process keeps: its bounding set (what any program
 * it executes could ever get) and its permitted, effective and
 * inheritable sets become `keep` (CAP_* numbers; n == 0: none). Needs
 * CAP_SETPCAP for the bounding set; a process that is not root keeps its
 * (empty) sets and gets 0. */
int sandbox_caps_keep(const int *keep, size_t n, struct error *err);

/* The value of the `seccomp` configuration key: 0, or -1 for a bad one. */
int sandbox_mode_parse(const char *s, enum sandbox_mode *out);

/* Install role's filter. Filters stack: a login worker forked by the
 * template adds its own, narrower one to the one it inherited. Under
 * valgrind (which runs the program's system calls itself, and many more)
 * no filter is installed and the call says so; 0 then too. */
int sandbox_seccomp(enum sandbox_role role, enum sandbox_mode mode, struct error *err);

/* Install role's filter in the mode the `seccomp` setting says (a value
 * the configuration check has accepted); a failure is fatal. */
void sandbox_enter(enum sandbox_role role, const char *setting);

/* A filter compiled ahead (the login template compiles its workers'
 * before it forks them: loading it then costs one system call instead of
 * libseccomp's work in every new process). *out is NULL when no filter
 * is to be installed (mode off, valgrind). */
struct sandbox_prog;
int sandbox_compile(enum sandbox_role role, enum sandbox_mode mode, struct sandbox_prog **out,
		    struct error *err);
/* The same, compiled in a child process: libseccomp's work is many small
 * allocations freed at the end, and in a process that forks (the login
 * template) the holes they leave in the heap are where a forked child's
 * first allocations land, spread over many pages, each a copy-on-write
 * fault. Only the program comes back (a pipe). Needs fork. */
int sandbox_compile_apart(enum sandbox_role role, enum sandbox_mode mode,
			  struct sandbox_prog **out, struct error *err);
/* Install p (NULL: nothing). */
int sandbox_load(const struct sandbox_prog *p, struct error *err);
void sandbox_prog_free(struct sandbox_prog *p);

/* 1 when running under valgrind. */
int sandbox_under_valgrind(void);
/* 1 in a sanitizer build (ASan's shadow memory needs terabytes of
 * address space: no RLIMIT_AS there). */
int sandbox_sanitized(void);

#endif
