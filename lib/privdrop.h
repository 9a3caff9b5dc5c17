/* The one privilege-drop function every process uses. Fixed order:
 * resolve, chroot + chdir, setgroups, setresgid, setresuid; then prove root
 * cannot be regained, set no-new-privs and non-dumpable. When the process
 * is not root (development), it changes nothing but says so. */
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
};

/* Look up a system user; 0 on success. */
int privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, struct error *err);
int privdrop_apply(const struct privdrop *p, struct error *err);
/* 1 when running as root and thus able to separate privileges. */
int privdrop_is_root(void);

#endif
