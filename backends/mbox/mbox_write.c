/* Writing mbox files: the buffered writer, the three ways a message gets
 * onto disk (a new one from APPEND, a stored one copied with fresh state
 * headers, the state headers themselves) and the atomic rewrite used by
 * flag changes and expunges.
 *
 * Rewrite = write everything to a temp file in the same directory, fsync,
 * rename over the mailbox, fsync the directory: kill -9 at any point
 * leaves the old or the new file, never a mix. Limitation of this cut: the
 * directory must let us add names: in Debian's /var/mail (root:mail 2775)
 * that takes the privileged mail group (mbox_dir_openat). Flag changes
 * usually avoid the rewrite (mbox_inplace.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

int mbox_errno_error(struct error *err, int e, const char *what, const char *path)
{
	enum error_code code = ERR_INTERNAL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (e == ENOSPC || e == EDQUOT)
		code = ERR_OVERQUOTA;
	else if (e == EACCES || e == EPERM || e == EROFS)
		code = ERR_NOPERM;
	else if (e == ENOENT)
		code = ERR_NONEXISTENT;
	/* The last component only: clients need not learn server paths. */
	error_set(err, code, "%s %s: %s", what, slash ? slash + 1 : path ? path : "",
		  strerror(e));
	return -1;
}

void mbox_writer_init(struct mbox_writer *w, int fd, uint64_t off)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->off = off;
	w->buf = xmalloc(MBOX_BUFSZ);
}

void mbox_writer_free(struct mbox_writer *w)
{
	free(w->buf);
	w->buf = NULL;
}

static void writer_out(struct mbox_writer *w, const char *p, size_t n)
{
	while (n > 0 && !w->err) {
		ssize_t got = pwrite(w->fd, p, n, (off_t)w->off);
		if (got < 0) {
			if (errno != EINTR)
				w->err = errno;
			continue;
		}
		if (got == 0) {
			w->err = ENOSPC;
			break;
		}
		p += got;
		n -= (size_t)got;
		w->off += (uint64_t)got;
	}
}

int mbox_writer_flush(struct mbox_writer *w)
{
	writer_out(w, w->buf, w->len);
	w->len = 0;
	return w->err ? -1 : 0;
}

void mbox_writer_put(struct mbox_writer *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (n >= MBOX_BUFSZ) {
		mbox_writer_flush(w);
		writer_out(w, p, n);
		return;
	}
	if (w->len + n > MBOX_BUFSZ)
		mbox_writer_flush(w);
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void put_str(struct mbox_writer *w, const char *s)
{
	mbox_writer_put(w, s, strlen(s));
}

/* s, then spaces up to width, then the newline. */
static void put_padded(struct mbox_writer *w, const char *s, size_t width)
{
	size_t n = strlen(s);
	put_str(w, s);
	for (; n < width; n++)
		mbox_writer_put(w, " ", 1);
	mbox_writer_put(w, "\n", 1);
}

void mbox_emit_state(struct mbox_writer *w, const struct mbox_scan *base, uint32_t uid,
		     uint32_t flags, const char *const *kw, size_t nkw, uint64_t modseq)
{
	char tmp[96];
	if (base) {
		/* UIDVALIDITY and the last UID given out (UW-IMAP's and
		 * Dovecot's meaning of the second number; never 0 - 1). */
		snprintf(tmp, sizeof(tmp), "X-IMAPbase: %" PRIu32 " %010" PRIu32, base->uidvalidity,
			 base->uidnext > 0 ? base->uidnext - 1 : 0);
		put_str(w, tmp);
		for (size_t i = 0; i < base->nkw; i++) {
			mbox_writer_put(w, " ", 1);
			put_str(w, base->kw[i]);
		}
		/* Padded: an EXPUNGE at the end of the file raises it in
		 * place (mbox_expunge_tail). */
		snprintf(tmp, sizeof(tmp), "\nX-Haven-Highestmodseq: %" PRIu64,
			 base->highestmodseq);
		put_padded(w, tmp, 1 + 23 + MBOX_MODSEQ_PAD);
	}
	/* Every state header is written, padded, even when empty, so that
	 * a flag change can overwrite it in place (mbox_inplace.c). No O:
	 * new, \Recent for the first session that sees it. */
	snprintf(tmp, sizeof(tmp), "Status: %s%s", flags & MF_SEEN ? "R" : "",
		 flags & MBOX_F_FRESH ? "" : "O");
	put_padded(w, tmp, 8 + 2);
	snprintf(tmp, sizeof(tmp), "X-Status: %s%s%s%s", flags & MF_ANSWERED ? "A" : "",
		 flags & MF_FLAGGED ? "F" : "", flags & MF_DELETED ? "D" : "",
		 flags & MF_DRAFT ? "T" : "");
	put_padded(w, tmp, 10 + 4);
	{
		size_t len = 11;
		put_str(w, "X-Keywords:");
		for (size_t i = 0; i < nkw; i++) {
			mbox_writer_put(w, " ", 1);
			put_str(w, kw[i]);
			len += 1 + strlen(kw[i]);
		}
		for (; len < 11 + MBOX_KW_PAD; len++)
			mbox_writer_put(w, " ", 1);
		mbox_writer_put(w, "\n", 1);
	}
	snprintf(tmp, sizeof(tmp), "X-UID: %" PRIu32 "\n", uid);
	put_str(w, tmp);
	snprintf(tmp, sizeof(tmp), "X-Haven-Modseq: %" PRIu64, modseq);
	put_padded(w, tmp, 16 + MBOX_MODSEQ_PAD);
	if (flags & MBOX_F_RAW)
		put_str(w, "X-Haven-Raw: 1\n");
}

int mbox_emit_stored(struct mbox_writer *w, int srcfd, const struct mbox_smsg *m,
		     const struct mbox_scan *base, uint32_t uid, uint32_t flags,
		     const char *const *kw, size_t nkw, uint64_t modseq)
{
	struct mbox_reader r;
	struct mbox_xform x;
	const char *p;
	size_t n;
	uint64_t off;
	int ls, rc, from_nl = 0;

	/* The From_ line as it was: envelope sender and INTERNALDATE. */
	mbox_reader_init(&r, srcfd, m->from_off, m->hdr_off);
	while ((rc = mbox_reader_next(&r, &p, &n, &off, &ls)) == 1) {
		mbox_writer_put(w, p, n);
		from_nl = p[n - 1] == '\n';
	}
	mbox_reader_free(&r);
	if (rc < 0)
		return -1;
	if (!from_nl)
		mbox_writer_put(w, "\n", 1);
	mbox_emit_state(w, base, uid, flags, kw, nkw, modseq);
	/* The content, minus the state headers it had: classified by the same
	 * transformer the readers use, so exactly those lines go. */
	mbox_xform_init(&x);
	x.hide_clen = m->hide_clen;   /* hidden metadata does not come along */
	mbox_reader_init(&r, srcfd, m->hdr_off, m->end_off);
	while ((rc = mbox_reader_next(&r, &p, &n, &off, &ls)) == 1) {
		mbox_xform_piece(&x, p, n, ls, NULL);
		if (x.mode != 1)
			mbox_writer_put(w, p, n);
	}
	mbox_reader_free(&r);
	if (rc < 0)
		return -1;
	mbox_writer_put(w, "\n", 1);
	return w->err ? -1 : 0;
}

int mbox_raw_needed(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;

	while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t at = (size_t)(p - msg);
		if (at == 0 || msg[at - 1] != '\r' || (at >= 2 && msg[at - 2] == '\r'))
			return 1;
		p++;
	}
	return 0;
}

/* A new message's bytes: each line without its line end (CRLF, or LF), or
 * (raw) with the CR that a raw message keeps; our state headers dropped,
 * From_ lines escaped (reading unescapes them, raw or not). */
void mbox_emit_new(struct mbox_writer *w, const char *msg, size_t len, time_t idate,
		   const struct mbox_scan *base, uint32_t uid, uint32_t flags,
		   const char *const *kw, size_t nkw, uint64_t modseq)
{
	char date[64];
	size_t i = 0;
	int in_header = 1, skipping = 0, raw = (flags & MBOX_F_RAW) != 0;

	mbox_date_format(idate, date, sizeof(date));
	put_str(w, "From " MBOX_FROM_SENDER " ");
	put_str(w, date);
	put_str(w, "\n");
	mbox_emit_state(w, base, uid, flags, kw, nkw, modseq);
	while (i < len) {
		const char *line = msg + i, *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) + 1 : len - i, body = n, gt = 0, out;
		int has_nl = nl != NULL;
		i += n;
		if (has_nl) {
			body = n - 1;
			if (body > 0 && line[body - 1] == '\r')
				body--;
		}
		out = raw && has_nl ? n - 1 : body;
		if (in_header) {
			if (body == 0 && has_nl) {
				in_header = 0;
				skipping = 0;
			} else if (skipping && (line[0] == ' ' || line[0] == '\t')) {
				continue;   /* continuation of a header we drop */
			} else {
				skipping = mbox_hdr_classify(line, n) != MH_NONE;
				/* A client must not be able to set UIDs or flags
				 * through headers in the message it appends. */
				if (skipping)
					continue;
			}
		}
		while (gt < body && line[gt] == '>')
			gt++;
		if (body - gt >= 5 && memcmp(line + gt, "From ", 5) == 0 &&
		    gt + 1 + 5 <= MBOX_BUFSZ)
			mbox_writer_put(w, ">", 1);
		mbox_writer_put(w, line, out);
		if (has_nl)
			mbox_writer_put(w, "\n", 1);
	}
	mbox_writer_put(w, "\n", 1);
}

void mbox_emit_pseudo(struct mbox_writer *w, const struct mbox_scan *s)
{
	char tmp[128], date[64];
	time_t now = time(NULL);

	mbox_date_format(now, date, sizeof(date));
	put_str(w, "From " MBOX_FROM_SENDER " ");
	put_str(w, date);
	put_str(w, "\nFrom: Mail System Internal Data <" MBOX_FROM_SENDER ">\n"
		   "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n");
	snprintf(tmp, sizeof(tmp), "X-IMAP: %" PRIu32 " %010" PRIu32, s->uidvalidity,
		 s->uidnext > 0 ? s->uidnext - 1 : 0);
	put_str(w, tmp);
	for (size_t i = 0; i < s->nkw; i++) {
		mbox_writer_put(w, " ", 1);
		put_str(w, s->kw[i]);
	}
	snprintf(tmp, sizeof(tmp), "\nX-Haven-Highestmodseq: %" PRIu64 "\nStatus: RO\n\n",
		 s->highestmodseq);
	put_str(w, tmp);
	put_str(w, "This text is part of the internal format of your mail folder, and is not\n"
		   "a real message.  It keeps the folder's UIDs while it holds no mail.\n\n");
}

int mbox_write_messages(int dstfd, int srcfd, const struct mbox_scan *s, size_t *kept)
{
	struct mbox_writer w;
	const char **names = NULL;
	int first = 1, e;

	*kept = 0;
	if (s->nkw)
		names = xreallocarray(NULL, s->nkw, sizeof(*names));
	mbox_writer_init(&w, dstfd, 0);
	for (size_t i = 0; i < s->n && !w.err; i++) {
		const struct mbox_smsg *m = &s->m[i];
		if (m->drop)
			continue;
		for (uint32_t k = 0; k < m->nkw; k++)
			names[k] = s->kw[m->kw[k]];
		if (mbox_emit_stored(&w, srcfd, m, first ? s : NULL, m->uid,
				     m->flags | (m->fresh && !m->taken ? MBOX_F_FRESH : 0) |
					     (m->raw ? MBOX_F_RAW : 0), names,
				     m->nkw, m->modseq) < 0 && !w.err)
			w.err = errno ? errno : EIO;
		first = 0;
		(*kept)++;
	}
	free(names);
	/* Nothing left: the state must live somewhere, or the next message
	 * would get UID 1 again. UW-IMAP's pseudo message is the convention
	 * Dovecot, Pine and we hide. */
	if (*kept == 0)
		mbox_emit_pseudo(&w, s);
	mbox_writer_flush(&w);
	e = w.err;
	mbox_writer_free(&w);
	if (e == 0 && fsync(dstfd) < 0)
		e = errno;
	errno = e;
	return e ? -1 : 0;
}

static unsigned tmp_counter;

void mbox_tmp_name(char *buf, size_t size)
{
	snprintf(buf, size, ".haven-tmp.%ld.%u.%ld", (long)getpid(), ++tmp_counter,
		 (long)time(NULL));
}

int mbox_rewrite(struct mbox_handle *h, struct mbox_scan *s, struct error *err)
{
	char tmpname[96];
	struct stat nst;
	int fd;
	size_t kept;

	/* A rewrite costs the file's size anyway: look for the leftovers of
	 * rewrites that were killed. */
	mbox_tmp_cleanup(h->loc->dirfd);
	mbox_tmp_name(tmpname, sizeof(tmpname));
	fd = mbox_dir_openat(h->loc->dirfd, tmpname,
			     O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mbox_errno_error(err, errno, "cannot rewrite", h->loc->path);
		return -1;
	}
	/* Locked before anyone can see it under the mailbox's name. */
	if (mbox_lock_fd(fd, 1) < 0)
		log_warn("mbox: cannot lock temp file: %s", strerror(errno));
	if (fchmod(fd, h->st.st_mode & 07777) < 0)
		log_warn("mbox: fchmod %s: %s", h->loc->path, strerror(errno));
	if ((h->st.st_uid != geteuid() || h->st.st_gid != getegid()) &&
	    fchown(fd, h->st.st_uid, h->st.st_gid) < 0)
		log_debug("mbox: cannot keep owner of %s: %s", h->loc->path, strerror(errno));

	if (mbox_write_messages(fd, h->fd, s, &kept) < 0) {
		mbox_errno_error(err, errno, "write", h->loc->path);
		goto fail;
	}
	if (mbox_dir_renameat(h->loc->dirfd, tmpname, h->loc->base) < 0) {
		mbox_errno_error(err, errno, "replace", h->loc->path);
		goto fail;
	}
	if (mbox_fsync_dir(h->loc->dirfd) < 0)
		log_warn("mbox: fsync of directory of %s: %s", h->loc->path, strerror(errno));
	if (fstat(fd, &nst) < 0)
		memset(&nst, 0, sizeof(nst));
	/* The old inode is unlinked; closing it drops our lock on it. The
	 * dotlock stays ours throughout. */
	close(h->fd);
	h->fd = fd;
	h->lock.fd = fd;
	h->lock.have_fcntl = 1;
	h->writable = 1;
	h->write_locked = 1;
	h->st = nst;
	/* Same messages, same bytes: what was cached of them stays valid. */
	mbox_index_rewritten(h->store, h->loc, fd, &nst, s->lineage);
	return 0;
fail:
	mbox_dir_unlinkat(h->loc->dirfd, tmpname);
	close(fd);
	return -1;
}
