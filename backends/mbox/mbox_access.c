/* Getting at a mailbox file safely: open without following symlinks, lock,
 * and make sure the file we locked is still the one with that name (a
 * rewrite by someone else may have renamed a new file over it while we
 * waited). Also the scan-and-persist step every reader goes through. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

static int open_file(const struct mbox_loc *loc, int write, int *writable, struct error *err)
{
	const int common = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	int fd = openat(loc->dirfd, loc->base, O_RDWR | common);

	*writable = fd >= 0;
	if (fd < 0 && errno == ENOENT && loc->is_inbox) {
		/* INBOX always exists; an MDA that has not delivered yet has
		 * just not created it. */
		fd = mbox_dir_openat(loc->dirfd, loc->base, O_RDWR | O_CREAT | O_EXCL | common, 0600);
		if (fd < 0 && errno == EEXIST)
			fd = openat(loc->dirfd, loc->base, O_RDWR | common);
		*writable = fd >= 0;
		if (fd < 0 && !write && (errno == EACCES || errno == EPERM || errno == EROFS)) {
			errno = ENOENT;
			return -2;   /* missing and cannot be made: an empty INBOX */
		}
	}
	if (fd < 0 && !write && (errno == EACCES || errno == EROFS))
		fd = openat(loc->dirfd, loc->base, O_RDONLY | common);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
	else if (errno == EISDIR)
		error_set(err, ERR_CANNOT, "Mailbox is not selectable (it holds other mailboxes)");
	else if (errno == ELOOP)
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist (symbolic link refused)");
	else
		mbox_errno_error(err, errno, "open", loc->path);
	return -1;
}

int mbox_handle_open(struct store *st, const struct mbox_loc *loc, int write,
		     struct mbox_handle *h, struct error *err)
{
	memset(h, 0, sizeof(*h));
	h->store = st;
	h->loc = loc;
	h->fd = -1;
	h->timeout = st->lock_timeout;
	for (int tries = 0; tries < 10; tries++) {
		struct stat byname;
		int fd = open_file(loc, write, &h->writable, err);
		if (fd == -2)
			return 0;
		if (fd < 0)
			return -1;
		if (fstat(fd, &h->st) < 0 || !S_ISREG(h->st.st_mode)) {
			close(fd);
			if (S_ISDIR(h->st.st_mode))
				error_set(err, ERR_CANNOT,
					  "Mailbox is not selectable (it holds other mailboxes)");
			else
				error_set(err, ERR_CANNOT, "Not a mailbox file");
			return -1;
		}
		if (write && !h->writable) {
			close(fd);
			error_set(err, ERR_NOPERM, "Mailbox is read-only");
			return -1;
		}
		if (mbox_lock_acquire(&h->lock, loc->dirfd, loc->base, fd, write, st->lock_timeout,
				      err) < 0) {
			close(fd);
			return -1;
		}
		if (fstatat(loc->dirfd, loc->base, &byname, AT_SYMLINK_NOFOLLOW) == 0 &&
		    byname.st_dev == h->st.st_dev && byname.st_ino == h->st.st_ino &&
		    fstat(fd, &h->st) == 0) {
			h->fd = fd;
			h->write_locked = write;
			/* A killed append or flag change of ours is undone
			 * before anyone reads. */
			if (mbox_append_recover(h, err) < 0 || mbox_inplace_recover(h, err) < 0) {
				mbox_handle_close(h);
				return -1;
			}
			return 0;
		}
		/* Replaced (or removed) while we were waiting: try the new one. */
		mbox_lock_release(&h->lock);
		close(fd);
	}
	error_set(err, ERR_INUSE, "Mailbox keeps changing, try again");
	return -1;
}

void mbox_handle_close(struct mbox_handle *h)
{
	if (h->fd >= 0) {
		mbox_lock_release(&h->lock);
		close(h->fd);
	}
	h->fd = -1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int wants_claim(const struct mbox_scan *s, int claim, uint32_t after)
{
	for (size_t i = 0; claim && i < s->n; i++)
		if (s->m[i].fresh && !s->m[i].taken && s->m[i].uid > after)
			return 1;
	return 0;
}

/* The file as it is, with the \Recent claims recorded beside it. */
static int scan_with_claims(struct mbox_handle *h, const struct mbox_carry *carry,
			    struct mbox_scan *s, struct error *err)
{
	if (mbox_scan_cached(h->store, h->loc, h->fd, &h->st, carry, s, err) < 0)
		return -1;
	mbox_recent_apply(s, mbox_recent_first(h->store, h->loc->name, s->uidvalidity));
	return 0;
}

/* Claim the new messages above after that nobody has claimed, in s:
 * claimed set, fresh cleared, so that a rewrite of s writes O for them;
 * record: in the record too, under its lock (the claim of a session that
 * does not write the file; one that does holds the mailbox's write lock,
 * which excludes every other claimer while it writes O). Returns how
 * many; their UIDs, ascending, in *got (the caller frees it). */
static size_t claim_new(struct mbox_handle *h, struct mbox_scan *s, uint32_t after, int record,
			uint32_t **got)
{
	uint32_t first = after + 1;
	size_t n = 0;

	*got = NULL;
	if (record && mbox_recent_claim(h->store, h->loc->name, s->uidvalidity, after + 1,
					s->uidnext, &first) == 0)
		mbox_recent_apply(s, first);
	for (size_t i = 0; i < s->n; i++) {
		struct mbox_smsg *m = &s->m[i];
		if (m->fresh && !m->taken && m->uid > after && m->uid >= first) {
			*got = xreallocarray(*got, n + 1, sizeof(**got));
			(*got)[n++] = m->uid;
			m->fresh = 0;
			m->claimed = 1;
		}
	}
	return n;
}

/* A claim that stays out of the file (read-only file, or a reader of a
 * big one): the record and the view alone know. */
static int claim_unwritten(struct mbox_handle *h, struct mbox_scan *s, int claim, uint32_t after)
{
	uint32_t *got;
	if (claim && wants_claim(s, claim, after)) {
		claim_new(h, s, after, 1, &got);
		free(got);
	}
	return 0;
}

static int scan_claim(struct mbox_handle *h, const struct mbox_carry *carry, int claim,
		      uint32_t after, struct mbox_scan *s, struct error *err)
{
	struct error perr;
	uint32_t *got = NULL;
	size_t ngot = 0;
	int rc;

	if (h->fd < 0) {
		memset(s, 0, sizeof(*s));
		s->uidvalidity = carry ? carry->uidvalidity : 1;
		s->uidnext = carry ? carry->uidnext : 1;
		s->highestmodseq = 1;
		s->ends_nl = 1;
		return 0;
	}
	if (scan_with_claims(h, carry, s, err) < 0)
		return -1;
	/* The common case: nothing to persist, nothing new. */
	if (!s->needs_persist && !wants_claim(s, claim, after))
		return 0;
	if (!h->writable)   /* the UIDs stay computed, the same for every reader */
		return claim_unwritten(h, s, claim, after);
	/* New mail in a big file (one with an index): its UIDs are computed
	 * the same way by every reader of the same bytes (X-IMAPbase's UIDNEXT,
	 * then file order), so a reader does not rewrite the whole file just to
	 * write them down, or to claim \Recent (the claim goes to the record).
	 * The next writer does (STORE, EXPUNGE, APPEND and COPY take the write
	 * lock and come through here). Dovecot's mbox_lazy_writes makes the
	 * same choice. */
	if (!h->write_locked && s->have_base && h->store->index_min_size >= 0 &&
	    (uint64_t)h->st.st_size >= (uint64_t)h->store->index_min_size)
		return claim_unwritten(h, s, claim, after);
	if (!h->write_locked) {
		if (mbox_lock_upgrade(&h->lock, h->timeout, &perr) < 0) {
			log_info("mbox: not persisting UIDs or \\Recent of %s now: %s",
				 h->loc->path, perr.msg);
			return claim_unwritten(h, s, claim, after);
		}
		h->write_locked = 1;
		/* Between the locks a writer using fcntl alone may have got in
		 * (another session may even have claimed the new mail). */
		mbox_scan_free(s);
		if (fstat(h->fd, &h->st) < 0)
			return mbox_errno_error(err, errno, "stat", h->loc->path);
		if (scan_with_claims(h, carry, s, err) < 0)
			return -1;
		if (!s->needs_persist && !wants_claim(s, claim, after))
			return 0;
	}
	/* Claim: the O bit is not an IMAP flag, so no modseq changes. */
	if (claim)
		ngot = claim_new(h, s, after, 0, &got);
	if (mbox_rewrite(h, s, &perr) < 0) {
		uint32_t first;
		if (s->needs_persist)
			log_warn("mbox: cannot persist UIDs of %s: %s", h->loc->path, perr.msg);
		else
			log_info("mbox: cannot mark new mail in %s as seen by a session: %s",
				 h->loc->path, perr.msg);
		/* The file is unchanged: the claims go to the record (still
		 * under the write lock), and are \Recent here (claimed). */
		if (ngot)
			mbox_recent_claim(h->store, h->loc->name, s->uidvalidity, after + 1,
					  s->uidnext, &first);
		free(got);
		return 0;
	}
	mbox_scan_free(s);
	rc = scan_with_claims(h, carry, s, err);
	if (rc == 0 && ngot) {
		/* got is ascending: the scan's UIDs ascend. */
		for (size_t i = 0; i < s->n; i++)
			if (bsearch(&s->m[i].uid, got, ngot, sizeof(*got), cmp_u32))
				s->m[i].claimed = 1;
	}
	free(got);
	return rc;
}

int mbox_handle_scan(struct mbox_handle *h, const struct mbox_carry *carry, struct mbox_scan *s,
		     struct error *err)
{
	return scan_claim(h, carry, 0, 0, s, err);
}

int mbox_handle_scan_claim(struct mbox_handle *h, const struct mbox_carry *carry,
			   uint32_t after, struct mbox_scan *s, struct error *err)
{
	return scan_claim(h, carry, 1, after, s, err);
}

int mbox_read_message(int fd, uint64_t hdr_off, uint64_t end_off, uint64_t size, int hide_clen,
		      uint64_t max, struct buf *out, uint32_t *uid_seen, struct error *err)
{
	struct mbox_reader r;
	struct mbox_xform x;
	const char *p;
	size_t n;
	uint64_t off;
	int ls, rc;

	if (size > max || size > SIZE_MAX / 2) {
		error_set(err, ERR_LIMIT, "Message too large to fetch (%llu bytes)",
			  (unsigned long long)size);
		return -1;
	}
	buf_reserve(out, (size_t)size);
	mbox_xform_init(&x);
	x.hide_clen = hide_clen;
	mbox_reader_init(&r, fd, hdr_off, end_off);
	while ((rc = mbox_reader_next(&r, &p, &n, &off, &ls)) == 1) {
		mbox_xform_piece(&x, p, n, ls, out);
		if (out->len > size)
			break;   /* not the message we expected */
	}
	mbox_reader_free(&r);
	if (rc < 0)
		return mbox_errno_error(err, errno, "read", "message");
	*uid_seen = x.uid;
	return out->len == size ? 0 : 1;
}
