/* Import (backend.h: struct importer) and reindex.
 *
 * An imported mailbox is written whole into a temp file in its directory
 * (the first message carrying X-IMAPbase with the source's UIDVALIDITY and
 * UIDNEXT, every one its X-UID, flags and keywords: the same file a
 * Dovecot would read), fsynced, then given the mailbox's name at once: a
 * link when there is no mailbox (which fails if one appeared meanwhile),
 * a rename over the empty (or, asked to, replaced) mailbox while holding
 * its locks, as a rewrite does. Killed before that, only the temp file
 * remains, and the next rewrite in the directory removes it
 * (mbox_tmp_cleanup). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

struct importer {
	struct store *st;
	struct mbox_loc loc;
	unsigned flags;
	int fd;
	char tmp[96];
	struct mbox_writer w;
	struct mbox_scan base;   /* UIDVALIDITY and UIDNEXT of the X-IMAPbase */
	uint32_t last_uid;
	size_t n;
};

/* Messages in the mailbox at loc now (0 when there is none). */
static int messages_in(struct store *st, const char *name, size_t *n, struct error *err)
{
	struct mailbox_status s;
	struct error e;

	*n = 0;
	if (mbox_status(st, name, &s, &e) < 0) {
		if (e.code == ERR_NONEXISTENT)
			return 0;
		*err = e;
		return -1;
	}
	*n = s.messages;
	return 0;
}

static int not_empty(unsigned flags, size_t n, struct error *err)
{
	if (n == 0 || (flags & IMPORT_REPLACE))
		return 0;
	error_set(err, ERR_ALREADYEXISTS, "Mailbox holds %zu messages", n);
	return -1;
}

static int tmp_open(struct importer *im, struct error *err)
{
	mbox_tmp_name(im->tmp, sizeof(im->tmp));
	im->fd = mbox_dir_openat(im->loc.dirfd, im->tmp,
				 O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (im->fd < 0)
		return mbox_errno_error(err, errno, "create", im->loc.path);
	mbox_writer_init(&im->w, im->fd, 0);
	return 0;
}

int mbox_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		      uint32_t uidnext, unsigned flags, struct importer **out, struct error *err)
{
	struct importer *im;
	size_t n;
	int root;

	if (!mbox_name_is_inbox(name) && mbox_name_check(name, err) < 0)
		return -1;
	if (messages_in(st, name, &n, err) < 0 || not_empty(flags, n, err) < 0)
		return -1;
	/* Raised first: a mailbox created later never takes this one. */
	if ((root = mbox_root_fd(st, 1, err)) < 0 ||
	    mbox_uidv_update(st, root, uidvalidity, NULL, err) < 0)
		return -1;
	im = xcalloc(1, sizeof(*im));
	im->st = st;
	im->flags = flags;
	im->fd = -1;
	im->base.uidvalidity = uidvalidity;
	im->base.uidnext = uidnext;
	im->base.highestmodseq = 1;
	if (mbox_resolve(st, name, 1, &im->loc, err) < 0) {
		free(im);
		return -1;
	}
	if (tmp_open(im, err) < 0) {
		mbox_import_abort(im);
		return -1;
	}
	*out = im;
	return 0;
}

int mbox_import_message(struct importer *im, uint32_t uid, uint32_t flags,
			const char *const *keywords, size_t nkeywords, time_t internaldate,
			int tz_minutes, const void *msg, size_t len, struct error *err)
{
	(void)tz_minutes;  /* the From_ line keeps UTC only */
	if (uid <= im->last_uid || uid >= im->base.uidnext) {
		error_set(err, ERR_CANNOT, "UID %u out of order (after %u, UIDNEXT %u)", uid,
			  im->last_uid, im->base.uidnext);
		return -1;
	}
	if (mbox_raw_needed(msg, len))
		flags |= MBOX_F_RAW;
	mbox_emit_new(&im->w, msg, len, internaldate, im->n == 0 ? &im->base : NULL, uid, flags,
		      keywords, nkeywords, 1);
	im->last_uid = uid;
	im->n++;
	if (im->w.err)
		return mbox_errno_error(err, im->w.err, "write", im->loc.path);
	return 0;
}

/* The temp file becomes the mailbox over an existing one, under its lock. */
static int replace_existing(struct importer *im, struct error *err)
{
	struct mbox_handle h;
	struct mbox_scan s;
	int rc;

	if (mbox_handle_open(im->st, &im->loc, MBOX_OPEN_WRITE, &h, err) < 0)
		return -1;
	if (mbox_scan_fd(h.fd, &h.st, NULL, &s, err) < 0) {
		mbox_handle_close(&h);
		return -1;
	}
	rc = not_empty(im->flags, s.n, err);
	mbox_scan_free(&s);
	if (rc == 0 && fchmod(im->fd, h.st.st_mode & 07777) < 0)
		rc = mbox_errno_error(err, errno, "chmod", im->loc.path);
	/* As a rewrite does: the spool's group (root:mail 0660) if we may. */
	if (rc == 0 && (h.st.st_uid != geteuid() || h.st.st_gid != getegid()) &&
	    fchown(im->fd, h.st.st_uid, h.st.st_gid) < 0)
		log_debug("mbox: cannot keep owner of %s: %s", im->loc.path, strerror(errno));
	if (rc == 0 && mbox_dir_renameat(im->loc.dirfd, im->tmp, im->loc.base) < 0)
		rc = mbox_errno_error(err, errno, "replace", im->loc.path);
	mbox_handle_close(&h);
	return rc;
}

static int place(struct importer *im, struct error *err)
{
	struct stat sb;

	if (fstatat(im->loc.dirfd, im->loc.base, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return replace_existing(im, err);
	if (mbox_dir_linkat(im->loc.dirfd, im->tmp, im->loc.base) < 0) {
		if (errno == EEXIST)
			error_set(err, ERR_ALREADYEXISTS, "Mailbox was created meanwhile");
		else
			mbox_errno_error(err, errno, "create", im->loc.path);
		return -1;
	}
	mbox_dir_unlinkat(im->loc.dirfd, im->tmp);
	return 0;
}

int mbox_import_finish(struct importer *im, struct error *err)
{
	int rc = 0;

	if (im->n == 0)
		mbox_emit_pseudo(&im->w, &im->base);
	if (mbox_writer_flush(&im->w) < 0)
		rc = mbox_errno_error(err, im->w.err, "write", im->loc.path);
	else if (fsync(im->fd) < 0)
		rc = mbox_errno_error(err, errno, "fsync", im->loc.path);
	if (rc == 0 && (rc = place(im, err)) == 0) {
		mbox_fsync_dir(im->loc.dirfd);
		mbox_index_forget(im->st, im->loc.name);
	}
	mbox_import_abort(im);
	return rc;
}

void mbox_import_abort(struct importer *im)
{
	if (im->fd >= 0) {
		mbox_dir_unlinkat(im->loc.dirfd, im->tmp);  /* gone already when placed */
		close(im->fd);
		mbox_writer_free(&im->w);
	}
	mbox_loc_free(&im->loc);
	free(im);
}

/* The index is a cache of the file: dropped under the mailbox's lock and
 * built again by a full parse, as the next reader would. */
int mbox_reindex(struct store *st, const char *name, struct error *err)
{
	struct mbox_loc loc;
	struct mbox_handle h;
	struct mbox_scan s;
	int rc = -1;

	if (mbox_resolve(st, name, 0, &loc, err) < 0)
		return -1;
	if (mbox_handle_open(st, &loc, MBOX_OPEN_READ, &h, err) == 0) {
		mbox_index_forget(st, loc.name);
		rc = mbox_handle_scan(&h, NULL, &s, err);
		if (rc == 0)
			mbox_scan_free(&s);
		mbox_handle_close(&h);
	}
	mbox_loc_free(&loc);
	return rc;
}
