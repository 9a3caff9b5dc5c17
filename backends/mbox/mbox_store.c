/* mbox store: where a user's mailboxes live, and the one place that turns
 * a client-supplied mailbox name into a file. Every path below mbox_dir is
 * walked one component at a time with O_NOFOLLOW, so neither a symlink
 * planted in the tree nor a crafted name can reach a file outside it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/privdrop.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

int mbox_name_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int mbox_name_check(const char *name, struct error *err)
{
	return backend_name_check(name, err);
}

unsigned mbox_special_use(const char *name)
{
	static const struct { const char *n; unsigned a; } su[] = {
		{ "Sent", MA_SENT }, { "Drafts", MA_DRAFTS }, { "Trash", MA_TRASH },
		{ "Junk", MA_JUNK }, { "Archive", MA_ARCHIVE },
	};
	for (size_t i = 0; i < sizeof(su) / sizeof(su[0]); i++)
		if (strcmp(name, su[i].n) == 0)
			return su[i].a;
	return 0;
}

/* Directory operations that a spool directory like Debian's /var/mail
 * (root:mail 2775) refuses the user: once more with the privileged group
 * (mail_privileged_group) effective, and straight back. Files stay the
 * user's; only the right to add and remove names in the directory is
 * borrowed, for one system call. */
#define WITH_MAIL_GROUP(call)                                                     \
	do {                                                                      \
		rc = (call);                                                      \
		if (rc < 0 && (errno == EACCES || errno == EPERM) &&              \
		    privdrop_group_raise() == 0) {                                \
			rc = (call);                                              \
			int e_ = errno;                                           \
			privdrop_group_lower();                                   \
			errno = e_;                                               \
		}                                                                 \
	} while (0)

int mbox_dir_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	int rc;
	WITH_MAIL_GROUP(openat(dirfd, name, flags, mode));
	return rc;
}

int mbox_dir_unlinkat(int dirfd, const char *name)
{
	int rc;
	WITH_MAIL_GROUP(unlinkat(dirfd, name, 0));
	return rc;
}

int mbox_dir_renameat(int dirfd, const char *from, const char *to)
{
	int rc;
	WITH_MAIL_GROUP(renameat(dirfd, from, dirfd, to));
	return rc;
}

int mbox_dir_linkat(int dirfd, const char *from, const char *to)
{
	int rc;
	WITH_MAIL_GROUP(linkat(dirfd, from, dirfd, to, 0));
	return rc;
}

/* Temp files are ".haven-tmp.PID.N.TIME" (mbox_tmp_name): those of a
 * process that no longer exists were left by a kill; each may be a whole
 * copy of a mailbox, hidden from LIST, eating disk and quota. */
void mbox_tmp_cleanup(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t seen = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL && seen++ < MBOX_LIST_MAX) {
		char *end;
		long pid;
		if (strncmp(de->d_name, ".haven-tmp.", 11) != 0)
			continue;
		pid = strtol(de->d_name + 11, &end, 10);
		if (pid <= 0 || *end != '.' || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			log_info("mbox: removing %s, left by process %ld", de->d_name, pid);
			mbox_dir_unlinkat(dirfd, de->d_name);
		}
	}
	closedir(d);
}

int mbox_fsync_dir(int dirfd)
{
	/* EINVAL: some file systems cannot fsync directories; nothing to do. */
	if (fsync(dirfd) < 0 && errno != EINVAL)
		return -1;
	return 0;
}

int mbox_root_fd(struct store *st, int create, struct error *err)
{
	if (st->root_fd >= 0)
		return st->root_fd;
	st->root_fd = open(st->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root_fd < 0 && errno == ENOENT && create) {
		if (mkdir(st->root_path, 0700) < 0 && errno != EEXIST)
			return mbox_errno_error(err, errno, "create", st->root_path);
		st->root_fd = open(st->root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (st->root_fd < 0) {
		if (errno == ENOENT)
			error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
		else
			mbox_errno_error(err, errno, "open", st->root_path);
		return -1;
	}
	return st->root_fd;
}

void mbox_loc_free(struct mbox_loc *loc)
{
	if (loc->dirfd >= 0)
		close(loc->dirfd);
	free(loc->base);
	free(loc->path);
	free(loc->name);
	memset(loc, 0, sizeof(*loc));
	loc->dirfd = -1;
}

int mbox_resolve(struct store *st, const char *name, int create, struct mbox_loc *out,
		 struct error *err)
{
	int fd;
	const char *p;

	memset(out, 0, sizeof(*out));
	out->dirfd = -1;
	if (mbox_name_is_inbox(name)) {
		if (st->inbox_dirfd < 0) {
			error_set(err, ERR_UNAVAILABLE, "INBOX directory is not accessible");
			return -1;
		}
		out->dirfd = fcntl(st->inbox_dirfd, F_DUPFD_CLOEXEC, 0);
		if (out->dirfd < 0)
			return mbox_errno_error(err, errno, "dup", st->inbox_path);
		out->base = xstrdup(st->inbox_base);
		out->path = xstrdup(st->inbox_path);
		out->name = xstrdup("INBOX");
		out->is_inbox = 1;
		return 0;
	}
	if (mbox_name_check(name, err) < 0)
		return -1;
	if (mbox_root_fd(st, create, err) < 0)
		return -1;
	fd = fcntl(st->root_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return mbox_errno_error(err, errno, "dup", st->root_path);
	p = name;
	for (;;) {
		const char *slash = strchr(p, '/');
		char comp[256];
		size_t n;
		int nfd;
		if (!slash)
			break;
		n = (size_t)(slash - p);
		memcpy(comp, p, n);    /* n <= 255: mbox_name_check */
		comp[n] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST) {
				mbox_errno_error(err, errno, "create directory", comp);
				close(fd);
				return -1;
			}
			nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (nfd < 0) {
			int e = errno;
			close(fd);
			if (e == ENOENT)
				error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
			else if (e == ENOTDIR || e == ELOOP)
				error_set(err, ERR_CANNOT,
					  "%s is a mailbox or a link, it cannot have children", comp);
			else
				mbox_errno_error(err, e, "open", comp);
			return -1;
		}
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
	out->dirfd = fd;
	out->base = xstrdup(p);
	out->path = xasprintf("%s/%s", st->root_path, name);
	out->name = xstrdup(name);
	return 0;
}

/* A user whose mail directory does not exist yet is new: make it with the
 * special-use mailboxes clients look for (their use comes from the
 * names: mbox_special_use), subscribed. Only then: a user
 * who deletes one of them does not get it back at the next login. Nothing
 * here fails the login; the directory can be made later on demand. */
static void create_defaults(struct store *st)
{
	static const char *const names[] = { "Drafts", "Sent", "Trash", "Junk", "Archive" };
	struct error err;

	if (mkdir(st->root_path, 0700) < 0) {
		if (errno != EEXIST)
			log_debug("mbox: not creating %s now: %s", st->root_path, strerror(errno));
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (mbox_create(st, names[i], 0, &err) < 0 ||
		    mbox_subscribe(st, names[i], 1, &err) < 0)
			log_warn("mbox: default mailbox %s: %s", names[i], err.msg);
	}
	log_info("mbox: created %s with the default mailboxes", st->root_path);
}

int mbox_store_open(const struct backend_user *u, const struct config *cfg, struct store **out,
		    struct error *err)
{
	struct store *st;
	char *slash, *dir;

	if (u == NULL || u->name == NULL || cfg == NULL) {
		error_set(err, ERR_INTERNAL, "mbox: missing user or configuration");
		return -1;
	}
	/* The name goes into paths through %u: it must be one component. */
	if (u->name[0] == '\0' || u->name[0] == '.' || strchr(u->name, '/') != NULL) {
		error_set(err, ERR_INTERNAL, "mbox: user name not usable in a path");
		return -1;
	}
	st = xcalloc(1, sizeof(*st));
	st->user = xstrdup(u->name);
	st->home = xstrdup(u->home ? u->home : "");
	st->sieve_max_size = cfg->sieve_max_script_size;
	st->sieve_max_scripts = cfg->sieve_max_scripts;
	/* the record's limits, else the configured ones */
	st->quota_bytes = u->quota_bytes ? u->quota_bytes : (uint64_t)cfg->quota_bytes;
	st->quota_messages = u->quota_messages ? u->quota_messages : (uint64_t)cfg->quota_messages;
	st->inbox_path = config_expand(backend_setting_str(cfg, "mbox_inbox"), u->name,
				       u->home ? u->home : "");
	st->root_path = config_expand(backend_setting_str(cfg, "mbox_dir"), u->name,
				      u->home ? u->home : "");
	st->lock_timeout = cfg->lock_timeout > 0 ? cfg->lock_timeout : 10;
	st->max_message = cfg->max_literal > 0 ? (uint64_t)cfg->max_literal * 2 : 100u << 20;
	st->index_min_size = backend_setting_int(cfg, "mbox_index_min_size");
	st->index_dirfd = -1;
	st->notify = -1;
	st->root_fd = -1;
	st->inbox_dirfd = -1;

	slash = strrchr(st->inbox_path, '/');
	if (st->inbox_path[0] != '/' || slash == NULL || slash[1] == '\0' ||
	    st->root_path[0] != '/') {
		error_set(err, ERR_INTERNAL, "mbox: mbox_inbox and mbox_dir must be absolute paths");
		mbox_store_close(st);
		return -1;
	}
	st->inbox_base = xstrdup(slash + 1);
	dir = slash == st->inbox_path ? xstrdup("/")
				       : xstrndup(st->inbox_path, (size_t)(slash - st->inbox_path));
	/* The INBOX directory is the administrator's (/var/mail): following
	 * symlinks up to it is fine; the file itself is opened O_NOFOLLOW. */
	st->inbox_dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->inbox_dirfd < 0)
		log_warn("mbox: cannot open INBOX directory %s: %s", dir, strerror(errno));
	free(dir);
	create_defaults(st);
	*out = st;
	return 0;
}

void mbox_store_close(struct store *st)
{
	if (st == NULL)
		return;
	mbox_notify_close(st);
	mbox_quota_free(st);
	mbox_watch_close(st);
	if (st->index_dirfd >= 0)
		close(st->index_dirfd);
	free(st->rewritten.name);
	if (st->root_fd >= 0)
		close(st->root_fd);
	if (st->inbox_dirfd >= 0)
		close(st->inbox_dirfd);
	free(st->user);
	free(st->home);
	free(st->inbox_path);
	free(st->inbox_base);
	free(st->root_path);
	free(st);
}
