/* The one privilege-drop function every process uses. Fixed order:
 * resolve, empty the capability bounding set, chroot + chdir, setgroups,
 * setresgid, setresuid; then prove root cannot be regained, set
 * no-new-privs and non-dumpable, and the resource limits. The seccomp
 * filter follows once the process has set up what it needs (sandbox.h).
 * When the process is not root (development), it changes no identity but
 * says so. */
#ifndef HAVEN_PRIVDROP_H
#define HAVEN_PRIVDROP_H
#include <sys/types.h>
#include "error.h"

struct privdrop {
	const char *user;        /* for logging */
	uid_t uid;
	gid_t gid;
	const char *chroot_dir;  /* NULL: no chroot */
	const char *chdir_dir;   /* after chroot (or instead of it); NULL: "/" */
	int login_limits;        /* tight rlimits for the pre-auth worker */
	int no_fork;             /* RLIMIT_NPROC 0 (not for the login
				  * template, which forks the workers) */
	size_t memory_limit;     /* RLIMIT_AS in bytes; 0: none */
	/* A group kept as the saved gid (not effective, not supplementary)
	 * for the few operations that need it: Debian's /var/mail is
	 * root:mail 2775, so dotlocks and rewrites of INBOX there need the
	 * mail group, as MDAs have it (Dovecot: mail_privileged_group). */
	int have_priv_gid;
	gid_t priv_gid;
};

/* Look up a system user; 0 on success. */
int privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, struct error *err);
int privdrop_apply(const struct privdrop *p, struct error *err);
/* 1 when running as root and thus able to separate privileges. */
int privdrop_is_root(void);
/* Make the kept group effective (0), or -1 if there is none; and back.
 * Only around single directory operations, never across a wait. */
int privdrop_group_raise(void);
void privdrop_group_lower(void);
/* Give the kept group up for good. */
void privdrop_group_forget(void);
/* What a process that serves outside bytes without a login worker's rlimits
 * (the LMTP and metrics servers) becomes: chrooted to cfg's login_chroot,
 * the login user (nobody if that user does not exist), no new processes,
 * at most 16 files, no core. A failure is fatal. */
struct config;
void privdrop_to_login_user(const struct config *cfg);
/* No more processes from this one (a login worker forked by the template,
 * which had to keep that right). */
void privdrop_no_fork(void);

#endif
