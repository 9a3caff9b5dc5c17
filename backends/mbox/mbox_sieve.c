/* Sieve scripts of the mbox store, in Pigeonhole's layout so that a user
 * moving from Dovecot keeps them: ~/sieve/NAME.sieve, the active one the
 * symbolic link ~/.dovecot.sieve -> sieve/NAME.sieve. A script is
 * replaced, and the link switched, by writing a temp file (or link) and
 * renaming it over the old one: a kill -9 leaves the old state or the new,
 * and at worst a temp file (".haven-tmp.*", never "*.sieve") that
 * mbox_tmp_cleanup removes later.
 *
 * A ~/.dovecot.sieve that is a regular file (written by hand, as Dovecot
 * allows) is the active script, named ".dovecot.sieve"; activating
 * another script (or none) first moves it to sieve/dovecot.orig.sieve, as
 * Pigeonhole does, so it is never lost. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define SIEVE_DIR "sieve"
#define SIEVE_LINK ".dovecot.sieve"
#define SIEVE_EXT ".sieve"
#define SIEVE_ORIG "dovecot.orig"     /* Pigeonhole's name for a moved regular link file */
#define SIEVE_LINK_MAX 4096

/* What ~/.dovecot.sieve is. */
enum sieve_link { LINK_NONE, LINK_SCRIPT, LINK_FILE };

static int home_fd(const struct store *st, struct error *err)
{
	int fd;
	if (st->home[0] != '/') {
		error_set(err, ERR_NOTSUPPORTED, "No home directory for Sieve scripts");
		return -1;
	}
	fd = open(st->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mbox_errno_error(err, errno, "open", st->home);
	return fd;
}

/* ~/sieve (made if create); ERR_NONEXISTENT when it is missing. */
static int sieve_dir_fd(int hfd, int create, struct error *err)
{
	int fd = openat(hfd, SIEVE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(hfd, SIEVE_DIR, 0700) < 0 && errno != EEXIST)
			return mbox_errno_error(err, errno, "create", SIEVE_DIR);
		fd = openat(hfd, SIEVE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0 && errno == ENOENT) {
		error_set(err, ERR_NONEXISTENT, "No such script");
		return -1;
	}
	if (fd < 0)
		return mbox_errno_error(err, errno, "open", SIEVE_DIR);
	return fd;
}

static char *script_file(const char *name)
{
	return xasprintf("%s" SIEVE_EXT, name);
}

/* The script name in a link target "sieve/NAME.sieve" (or the same as
 * an absolute path below the home), or NULL. */
static char *link_target_name(const struct store *st, const char *t)
{
	size_t hl = strlen(st->home), n;
	if (strncmp(t, st->home, hl) == 0 && t[hl] == '/')
		t += hl + 1;
	if (strncmp(t, SIEVE_DIR "/", sizeof(SIEVE_DIR)) != 0)
		return NULL;
	t += sizeof(SIEVE_DIR);
	n = strlen(t);
	if (n <= sizeof(SIEVE_EXT) - 1 || strchr(t, '/') != NULL ||
	    strcmp(t + n - (sizeof(SIEVE_EXT) - 1), SIEVE_EXT) != 0)
		return NULL;
	return xstrndup(t, n - (sizeof(SIEVE_EXT) - 1));
}

/* What the link is; *name (LINK_SCRIPT) the script it points to. A link
 * pointing anywhere else is read through like a file. */
static enum sieve_link link_read(const struct store *st, int hfd, char **name)
{
	char t[SIEVE_LINK_MAX];
	ssize_t n = readlinkat(hfd, SIEVE_LINK, t, sizeof(t) - 1);

	*name = NULL;
	if (n < 0)
		return errno == ENOENT ? LINK_NONE : LINK_FILE;
	t[n] = '\0';
	*name = link_target_name(st, t);
	return *name ? LINK_SCRIPT : LINK_FILE;
}

/* The whole of fd into out, refused past max bytes. */
static int read_bounded(int fd, long max, struct buf *out, struct error *err)
{
	struct stat sb;
	char tmp[8192];
	size_t total = 0;
	ssize_t n;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		error_set(err, ERR_NONEXISTENT, "No such script");
		return -1;
	}
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mbox_errno_error(err, errno, "read", "Sieve script");
		total += (size_t)n;
		if (total > (size_t)max) {
			error_set(err, ERR_LIMIT, "Script larger than sieve_max_script_size");
			return -1;
		}
		buf_append(out, tmp, (size_t)n);
	}
	return 0;
}

/* Read file (in dirfd) into out; flags: O_NOFOLLOW or 0. */
static int read_script(const struct store *st, int dirfd, const char *file, int flags,
		       struct buf *out, struct error *err)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | flags), rc;
	if (fd < 0 && (errno == ENOENT || errno == ELOOP)) {
		error_set(err, ERR_NONEXISTENT, "No such script");
		return -1;
	}
	if (fd < 0)
		return mbox_errno_error(err, errno, "open", file);
	rc = read_bounded(fd, st->sieve_max_size, out, err);
	close(fd);
	return rc;
}

/* ---- list, get ------------------------------------------------------------- */

/* name is a script's file name "NAME.sieve": its NAME (into buf), or NULL. */
static const char *entry_script(const char *fname, char *buf, size_t size)
{
	size_t n = strlen(fname), ext = sizeof(SIEVE_EXT) - 1;
	struct error err;
	if (n <= ext || n - ext >= size || strcmp(fname + n - ext, SIEVE_EXT) != 0)
		return NULL;
	memcpy(buf, fname, n - ext);
	buf[n - ext] = '\0';
	return store_sieve_name_check(buf, &err) == 0 ? buf : NULL;
}

/* Call cb for every script in dfd (if cb) and count them. */
static size_t scripts_walk(int dfd, const char *active, backend_sieve_list_cb cb, void *ctx)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t seen = 0, count = 0;
	char name[STORE_SIEVE_NAME_MAX + 1];

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);   /* a dup shares the offset another walk of dfd left at the end */
	while ((de = readdir(d)) != NULL && seen++ < MBOX_LIST_MAX) {
		struct stat sb;
		if (entry_script(de->d_name, name, sizeof(name)) == NULL ||
		    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
			continue;
		count++;
		if (cb)
			cb(ctx, name, active && strcmp(active, name) == 0);
	}
	closedir(d);
	return count;
}

int mbox_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err)
{
	int hfd = home_fd(st, err), dfd;
	char *active;

	if (hfd < 0)
		return -1;
	dfd = sieve_dir_fd(hfd, 0, err);
	if (dfd >= 0) {
		link_read(st, hfd, &active);
		scripts_walk(dfd, active, cb, ctx);
		free(active);
		close(dfd);
	}
	close(hfd);
	return dfd >= 0 || err->code == ERR_NONEXISTENT ? 0 : -1;
}

int mbox_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err)
{
	int hfd = home_fd(st, err), dfd, rc = -1;
	char *file = script_file(name);

	if (hfd >= 0 && (dfd = sieve_dir_fd(hfd, 0, err)) >= 0) {
		rc = read_script(st, dfd, file, O_NOFOLLOW, out, err);
		close(dfd);
	}
	if (hfd >= 0)
		close(hfd);
	free(file);
	return rc;
}

/* ---- put ------------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

int mbox_file_replace(int dfd, const char *file, const void *data, size_t len,
			struct error *err)
{
	char tmp[96];
	int fd, e;

	mbox_tmp_name(tmp, sizeof(tmp));
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mbox_errno_error(err, errno, "create", tmp);
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		return mbox_errno_error(err, e, "write", tmp);
	}
	if (close(fd) < 0 || renameat(dfd, tmp, dfd, file) < 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		return mbox_errno_error(err, e, "rename", file);
	}
	if (mbox_fsync_dir(dfd) < 0)
		return mbox_errno_error(err, errno, "fsync", file);
	return 0;
}

/* Room for file: it exists (replaced), or fewer than the limit do. */
static int room_for(const struct store *st, int dfd, const char *file, struct error *err)
{
	struct stat sb;
	if (fstatat(dfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (scripts_walk(dfd, NULL, NULL, NULL) >= (size_t)st->sieve_max_scripts) {
		error_set(err, ERR_OVERQUOTA, "Too many scripts (sieve_max_scripts is %ld)",
			  st->sieve_max_scripts);
		return -1;
	}
	return 0;
}

int mbox_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		   struct error *err)
{
	int hfd, dfd = -1, rc = -1;
	char *file;

	if (len > (size_t)st->sieve_max_size) {
		error_set(err, ERR_OVERQUOTA, "Script larger than %ld bytes", st->sieve_max_size);
		return -1;
	}
	if ((hfd = home_fd(st, err)) < 0)
		return -1;
	file = script_file(name);
	if ((dfd = sieve_dir_fd(hfd, 1, err)) >= 0) {
		mbox_tmp_cleanup(dfd);
		if (room_for(st, dfd, file, err) == 0)
			rc = mbox_file_replace(dfd, file, data, len, err);
		close(dfd);
	}
	close(hfd);
	free(file);
	return rc;
}

/* ---- the active link --------------------------------------------------------- */

/* A regular ~/.dovecot.sieve moves to sieve/dovecot.orig.sieve (never
 * over a script of that name) before the link may change. */
static int link_file_keep(int hfd, int dfd, struct error *err)
{
	const char *orig = SIEVE_ORIG SIEVE_EXT;
	if (linkat(hfd, SIEVE_LINK, dfd, orig, 0) < 0) {
		if (errno == EEXIST)
			error_set(err, ERR_CANNOT, "~/" SIEVE_LINK " is a file and sieve/%s exists:"
				  " move one of them away first", orig);
		else
			mbox_errno_error(err, errno, "link", SIEVE_LINK);
		return -1;
	}
	if (mbox_fsync_dir(dfd) < 0)
		return mbox_errno_error(err, errno, "fsync", SIEVE_DIR);
	log_info("mbox: %s moved to %s/%s", SIEVE_LINK, SIEVE_DIR, orig);
	return 0;
}

/* ~/.dovecot.sieve -> sieve/NAME.sieve, replacing what was there. */
static int link_point(int hfd, const char *name, struct error *err)
{
	char tmp[96], *target = xasprintf(SIEVE_DIR "/%s" SIEVE_EXT, name);
	int rc = -1;

	mbox_tmp_name(tmp, sizeof(tmp));
	if (symlinkat(target, hfd, tmp) < 0)
		mbox_errno_error(err, errno, "symlink", tmp);
	else if (renameat(hfd, tmp, hfd, SIEVE_LINK) < 0) {
		mbox_errno_error(err, errno, "rename", SIEVE_LINK);
		unlinkat(hfd, tmp, 0);
	} else if (mbox_fsync_dir(hfd) < 0)
		mbox_errno_error(err, errno, "fsync", "home");
	else
		rc = 0;
	free(target);
	return rc;
}

static int link_remove(int hfd, struct error *err)
{
	if (unlinkat(hfd, SIEVE_LINK, 0) < 0 && errno != ENOENT)
		return mbox_errno_error(err, errno, "remove", SIEVE_LINK);
	if (mbox_fsync_dir(hfd) < 0)
		return mbox_errno_error(err, errno, "fsync", "home");
	return 0;
}

static int script_exists(int dfd, const char *name, struct error *err)
{
	char *file = script_file(name);
	struct stat sb;
	int ok = fstatat(dfd, file, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode);
	free(file);
	if (!ok)
		error_set(err, ERR_NONEXISTENT, "No such script");
	return ok ? 0 : -1;
}

/* The link's new state (name NULL: none), with hfd and dfd open. */
static int activate_in(const struct store *st, int hfd, int dfd, const char *name,
		       struct error *err)
{
	char *cur;
	enum sieve_link kind = link_read(st, hfd, &cur);
	int same = kind == LINK_SCRIPT && name && strcmp(cur, name) == 0;

	free(cur);
	if (name && script_exists(dfd, name, err) < 0)
		return -1;
	if (same)
		return 0;
	if (kind == LINK_FILE) {
		struct stat sb;
		int regular = fstatat(hfd, SIEVE_LINK, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
			      S_ISREG(sb.st_mode);
		if (regular && link_file_keep(hfd, dfd, err) < 0)
			return -1;
	}
	return name ? link_point(hfd, name, err) : link_remove(hfd, err);
}

int mbox_sieve_activate(struct store *st, const char *name, struct error *err)
{
	int hfd = home_fd(st, err), dfd, rc = -1;

	if (hfd < 0)
		return -1;
	mbox_tmp_cleanup(hfd);
	if ((dfd = sieve_dir_fd(hfd, name == NULL, err)) >= 0) {
		rc = activate_in(st, hfd, dfd, name, err);
		close(dfd);
	}
	close(hfd);
	return rc;
}

int mbox_sieve_active(struct store *st, struct buf *out, char **name, struct error *err)
{
	int hfd = home_fd(st, err), dfd, rc = -1;
	enum sieve_link kind;
	char *cur;

	if (hfd < 0)
		return -1;
	kind = link_read(st, hfd, &cur);
	if (kind == LINK_NONE) {
		rc = 0;
	} else if (kind == LINK_FILE) {
		rc = read_script(st, hfd, SIEVE_LINK, 0, out, err);
		cur = rc == 0 ? xstrdup(SIEVE_LINK) : NULL;
	} else if ((dfd = sieve_dir_fd(hfd, 0, err)) >= 0) {
		char *file = script_file(cur);
		rc = read_script(st, dfd, file, O_NOFOLLOW, out, err);
		free(file);
		close(dfd);
	}
	/* A link to a script that is gone: none active (Pigeonhole agrees). */
	if (rc < 0 && err->code == ERR_NONEXISTENT) {
		log_warn("mbox: ~/%s points to a script that does not exist", SIEVE_LINK);
		free(cur);
		cur = NULL;
		rc = 0;
	}
	close(hfd);
	*name = rc == 0 ? cur : NULL;
	if (rc < 0 || *name == NULL)
		free(cur);
	return rc;
}

/* ---- delete, rename ---------------------------------------------------------- */

static int is_active(const struct store *st, int hfd, const char *name)
{
	char *cur;
	int yes = link_read(st, hfd, &cur) == LINK_SCRIPT && strcmp(cur, name) == 0;
	free(cur);
	return yes;
}

static int delete_in(const struct store *st, int hfd, int dfd, const char *name,
		     struct error *err)
{
	char *file;
	int rc;

	if (is_active(st, hfd, name)) {
		error_set(err, ERR_INUSE, "The active script cannot be deleted");
		return -1;
	}
	file = script_file(name);
	rc = unlinkat(dfd, file, 0);
	free(file);
	if (rc < 0 && errno == ENOENT) {
		error_set(err, ERR_NONEXISTENT, "No such script");
		return -1;
	}
	if (rc < 0 || mbox_fsync_dir(dfd) < 0)
		return mbox_errno_error(err, errno, "remove", name);
	return 0;
}

int mbox_sieve_delete(struct store *st, const char *name, struct error *err)
{
	int hfd = home_fd(st, err), dfd, rc = -1;

	if (hfd < 0)
		return -1;
	if ((dfd = sieve_dir_fd(hfd, 0, err)) >= 0) {
		rc = delete_in(st, hfd, dfd, name, err);
		close(dfd);
	}
	close(hfd);
	return rc;
}

/* A hard link under the new name first (EEXIST: taken, atomically), the
 * active link moved to it, then the old name removed: a kill in between
 * leaves the script under both names, never under none. */
static int rename_in(const struct store *st, int hfd, int dfd, const char *from,
		     const char *to, struct error *err)
{
	char *ofile = script_file(from), *nfile = script_file(to);
	int rc = -1;

	error_clear(err);
	if (script_exists(dfd, from, err) < 0)
		goto out;
	if (linkat(dfd, ofile, dfd, nfile, 0) < 0) {
		if (errno == EEXIST)
			error_set(err, ERR_ALREADYEXISTS, "A script of that name exists");
		else
			mbox_errno_error(err, errno, "link", nfile);
		goto out;
	}
	if (mbox_fsync_dir(dfd) < 0 ||
	    (is_active(st, hfd, from) && link_point(hfd, to, err) < 0)) {
		if (err->code == ERR_NONE)
			mbox_errno_error(err, errno, "fsync", SIEVE_DIR);
		unlinkat(dfd, nfile, 0);
		goto out;
	}
	if (unlinkat(dfd, ofile, 0) < 0 || mbox_fsync_dir(dfd) < 0)
		log_warn("mbox: renamed script %s is still there too: %s", from, strerror(errno));
	rc = 0;
out:
	free(ofile);
	free(nfile);
	return rc;
}

int mbox_sieve_rename(struct store *st, const char *oldname, const char *newname,
		      struct error *err)
{
	int hfd = home_fd(st, err), dfd, rc = -1;

	if (hfd < 0)
		return -1;
	if ((dfd = sieve_dir_fd(hfd, 0, err)) >= 0) {
		rc = rename_in(st, hfd, dfd, oldname, newname, err);
		close(dfd);
	}
	close(hfd);
	return rc;
}
