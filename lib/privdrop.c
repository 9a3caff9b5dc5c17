#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"

int privdrop_is_root(void)
{
	return geteuid() == 0;
}

int privdrop_lookup(const char *user, uid_t *uid, gid_t *gid, struct error *err)
{
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		error_set(err, ERR_NONEXISTENT, "no such system user: %s", user);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static void set_limit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };
	if (setrlimit(res, &rl) < 0)
		log_warn("setrlimit %d: %s", res, strerror(errno));
}

/* Root: into the chroot (or the directory), then the identity. */
static int drop_identity(const struct privdrop *p, struct error *err)
{
	if (p->uid == 0) {
		error_set(err, ERR_NOPERM, "refusing to run a child as root (%s)",
			  p->user ? p->user : "?");
		return -1;
	}
	/* Before the uid switch, which takes CAP_SETPCAP away: no program
	 * this process could ever execute gets a capability back. */
	if (sandbox_capbset_keep(NULL, 0, err) < 0)
		return -1;
	if (p->chroot_dir) {
		if (chroot(p->chroot_dir) < 0) {
			error_set(err, ERR_INTERNAL, "chroot %s: %s", p->chroot_dir, strerror(errno));
			return -1;
		}
		if (chdir("/") < 0) {
			error_set(err, ERR_INTERNAL, "chdir / in chroot: %s", strerror(errno));
			return -1;
		}
	} else if (chdir(p->chdir_dir ? p->chdir_dir : "/") < 0) {
		error_set(err, ERR_INTERNAL, "chdir %s: %s", p->chdir_dir, strerror(errno));
		return -1;
	}
	if (p->have_priv_gid && p->priv_gid == 0) {
		error_set(err, ERR_NOPERM, "refusing to keep group 0 for %s", p->user ? p->user : "?");
		return -1;
	}
	if (setgroups(1, &p->gid) < 0 ||
	    setresgid(p->gid, p->gid, p->have_priv_gid ? p->priv_gid : p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0) {
		error_set(err, ERR_INTERNAL, "dropping to %s (%ld:%ld): %s",
			  p->user ? p->user : "?", (long)p->uid, (long)p->gid, strerror(errno));
		return -1;
	}
	/* A drop that can be undone is no drop (the kept group is not 0). */
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		fatal("privilege drop to %s could be reverted", p->user ? p->user : "?");
	return 0;
}

/* A file-size limit of 0 makes every write to a regular file fail. The
 * one regular file a worker may write is stderr when havend runs in the
 * foreground with its output sent to a file (tests, a shell's `>log`):
 * then the limit would silence the worker's log, and it is left out. */
static int stderr_is_file(void)
{
	struct stat st;
	return fstat(2, &st) == 0 && S_ISREG(st.st_mode);
}

static void apply_limits(const struct privdrop *p)
{
	if (p->login_limits) {
		set_limit(RLIMIT_NOFILE, 16);
		set_limit(RLIMIT_CORE, 0);
		if (!stderr_is_file())
			set_limit(RLIMIT_FSIZE, 0);
	}
	if (p->no_fork)
		privdrop_no_fork();
	if (p->memory_limit > 0 && !sandbox_sanitized())
		set_limit(RLIMIT_AS, (rlim_t)p->memory_limit);
}

int privdrop_apply(const struct privdrop *p, struct error *err)
{
	if (privdrop_is_root()) {
		if (drop_identity(p, err) < 0)
			return -1;
	} else {
		if (p->chdir_dir && chdir(p->chdir_dir) < 0) {
			error_set(err, ERR_INTERNAL, "chdir %s: %s", p->chdir_dir, strerror(errno));
			return -1;
		}
		log_debug("not root: keeping uid %ld, no chroot", (long)getuid());
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		error_set(err, ERR_INTERNAL, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	/* Non-dumpable: another process of the same uid cannot ptrace us. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	apply_limits(p);
	return 0;
}

void privdrop_no_fork(void)
{
	set_limit(RLIMIT_NPROC, 0);
}

int privdrop_group_raise(void)
{
	gid_t r, e, sv;
	if (getresgid(&r, &e, &sv) < 0 || sv == r)
		return -1;
	return setegid(sv);
}

void privdrop_group_lower(void)
{
	gid_t r, e, sv;
	if (getresgid(&r, &e, &sv) == 0 && e != r && setegid(r) < 0)
		fatal("cannot give up the privileged group: %s", strerror(errno));
}

void privdrop_group_forget(void)
{
	gid_t r, e, sv;
	if (getresgid(&r, &e, &sv) == 0 && (e != r || sv != r) && setresgid(r, r, r) < 0)
		fatal("cannot give up the privileged group: %s", strerror(errno));
}

void privdrop_to_login_user(const struct config *cfg)
{
	struct privdrop pd;
	struct error err;
	struct rlimit nofile = { 16, 16 }, core = { 0, 0 };

	memset(&pd, 0, sizeof(pd));
	pd.user = cfg->login_user;
	pd.chroot_dir = cfg->login_chroot;
	pd.no_fork = !sandbox_sanitized();
	pd.memory_limit = (size_t)cfg->login_memory_limit << 20;
	if (privdrop_is_root() && privdrop_lookup(pd.user, &pd.uid, &pd.gid, &err) < 0 &&
	    privdrop_lookup("nobody", &pd.uid, &pd.gid, &err) < 0)
		fatal("%s", err.msg);
	if (privdrop_apply(&pd, &err) < 0)
		fatal("%s", err.msg);
	/* Not RLIMIT_FSIZE, as for a login worker: it would stop a memfd. */
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0 || setrlimit(RLIMIT_CORE, &core) < 0)
		fatal("setrlimit: %s", strerror(errno));
}
