/* Flag changes written in place: the state headers we write are padded
 * (mbox_emit_state), so a STORE can overwrite them with the new values at
 * the same length instead of rewriting the whole file. On a mailbox of
 * 100,000 messages that is a few hundred bytes written instead of the file.
 *
 * Each message's state headers are one contiguous block at the start of
 * its header (that is where we write them); the new block is built in
 * memory and written with one pwrite of the same length, so a kill -9
 * leaves every message with either its old or its new state, never a
 * mixture inside one header, and never moves a byte of any message. A
 * STORE over several messages first writes their old blocks to an undo
 * journal, which the next opener plays back if the kill came half-way:
 * the command happened completely or not at all.
 *
 * Anything unexpected (headers written by another program without our
 * padding or our modseq, folded lines, a value that does not fit, a
 * keyword new to the mailbox, which belongs in X-IMAPbase) makes the
 * caller fall back to the full rewrite, which writes our padded form.
 *
 * The same padding lets an EXPUNGE of the last messages (what a client
 * that appends and then deletes its own draft or copy does) truncate the
 * file instead of rewriting all of it: see mbox_expunge_tail. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define BLOCK_MAX 8192   /* state headers longer than this: rewrite */

struct slot {
	size_t off, cap;     /* value bytes after "Name:", before '\n' */
	int seen;
};

struct patch {
	uint64_t off;
	size_t len;
	char *data;
	char *old;           /* the bytes data replaces, for the undo journal */
};

/* Fill [p, p+cap) with s padded by spaces; 0 if it fits. */
static int put_value(char *p, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n > cap)
		return -1;
	memcpy(p, s, n);
	memset(p + n, ' ', cap - n);
	return 0;
}

/* The start of m's header, up to BLOCK_MAX bytes, into buf: its length,
 * or -1. */
static ssize_t read_block(int fd, const struct mbox_smsg *m, char *buf)
{
	size_t want = BLOCK_MAX, got = 0;
	if (m->end_off - m->hdr_off < want)
		want = (size_t)(m->end_off - m->hdr_off);
	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, (off_t)(m->hdr_off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The next of our header lines at buf[pos] (got bytes read): 1 with its
 * length and class, 0 at the first line that is not ours (the end of the
 * block), -1 when the block is not in our writing or longer than read. */
static int state_line(const char *buf, size_t got, size_t pos, size_t *n, enum mbox_hdr *cls)
{
	const char *nl = memchr(buf + pos, '\n', got - pos);
	if (nl == NULL)
		return -1;
	*n = (size_t)(nl - (buf + pos)) + 1;
	*cls = mbox_hdr_classify(buf + pos, *n);
	if (*cls != MH_NONE)
		return 1;
	/* One of ours folded: not our writing. */
	return buf[pos] == ' ' || buf[pos] == '\t' ? -1 : 0;
}

/* Read the message's state block and build its new bytes. */
static int prepare(int fd, const struct mbox_scan *s, const struct mbox_smsg *m,
		   struct patch *out)
{
	char *buf = xmalloc(BLOCK_MAX);
	struct slot st = { 0 }, xs = { 0 }, kw = { 0 }, ms = { 0 };
	size_t got, pos = 0;
	char val[BLOCK_MAX];
	ssize_t r;

	if (m->virt)
		goto no;          /* no X-UID on disk: the rewrite adds it */
	if ((r = read_block(fd, m, buf)) < 0)
		goto no;
	got = (size_t)r;
	/* Walk our header lines from the start of the header. */
	for (;;) {
		size_t n;
		enum mbox_hdr cls;
		struct slot *sl = NULL;
		const char *colon;
		int more = state_line(buf, got, pos, &n, &cls);
		if (more < 0)
			goto no;
		if (more == 0)
			break;
		switch (cls) {
		case MH_STATUS: sl = &st; break;
		case MH_XSTATUS: sl = &xs; break;
		case MH_XKEYWORDS: sl = &kw; break;
		case MH_MODSEQ: sl = &ms; break;
		default: break;
		}
		if (sl) {
			if (sl->seen)
				goto no;
			colon = memchr(buf + pos, ':', n);
			sl->seen = 1;
			sl->off = (size_t)(colon + 1 - buf);
			sl->cap = pos + n - 1 - sl->off;
			if (sl->cap > 0 && buf[sl->off + sl->cap - 1] == '\r')
				goto no;
		}
		pos += n;
	}
	if (!st.seen || !xs.seen || !kw.seen || !ms.seen)
		goto no;
	out->old = xmalloc(pos);
	memcpy(out->old, buf, pos);

	snprintf(val, sizeof(val), " %s%s", m->flags & MF_SEEN ? "R" : "", m->fresh ? "" : "O");
	if (put_value(buf + st.off, st.cap, val) < 0)
		goto no;
	snprintf(val, sizeof(val), " %s%s%s%s", m->flags & MF_ANSWERED ? "A" : "",
		 m->flags & MF_FLAGGED ? "F" : "", m->flags & MF_DELETED ? "D" : "",
		 m->flags & MF_DRAFT ? "T" : "");
	if (put_value(buf + xs.off, xs.cap, val) < 0)
		goto no;
	{
		size_t vl = 0;
		for (uint32_t k = 0; k < m->nkw; k++) {
			size_t l = strlen(s->kw[m->kw[k]]);
			if (vl + 1 + l >= sizeof(val))
				goto no;
			val[vl++] = ' ';
			memcpy(val + vl, s->kw[m->kw[k]], l);
			vl += l;
		}
		val[vl] = '\0';
	}
	if (put_value(buf + kw.off, kw.cap, val) < 0)
		goto no;
	snprintf(val, sizeof(val), " %" PRIu64, m->modseq);
	if (put_value(buf + ms.off, ms.cap, val) < 0)
		goto no;
	out->off = m->hdr_off;
	out->len = pos;
	out->data = buf;
	return 0;
no:
	free(out->old);
	out->old = NULL;
	free(buf);
	return -1;
}

/* The undo journal: "DEV INO SIZE COUNT\n", then per block "OFF LEN\n"
 * and the LEN old bytes. Written before the first block changes, so that
 * a STORE over several messages that a kill cuts short is undone as a
 * whole by the next opener: the client got no OK, and sees the old flags
 * everywhere, never some old and some new. */
static int undo_write(struct mbox_handle *h, const struct patch *p, size_t np)
{
	struct buf b = BUF_INIT;
	int rc;
	buf_printf(&b, "%llu %llu %llu %zu\n", (unsigned long long)h->st.st_dev,
		   (unsigned long long)h->st.st_ino, (unsigned long long)h->st.st_size, np);
	for (size_t i = 0; i < np; i++) {
		buf_printf(&b, "%llu %zu\n", (unsigned long long)p[i].off, p[i].len);
		buf_append(&b, p[i].old, p[i].len);
	}
	rc = mbox_journal_write(h->store, h->loc->name, "undo", b.data, b.len);
	buf_free(&b);
	return rc;
}

static int write_all(int fd, const char *p, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, (off_t)(off + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

int mbox_inplace_recover(struct mbox_handle *h, struct error *err)
{
	struct buf jb = BUF_INIT;
	unsigned long long dev, ino, size, off;
	size_t count, len, pos = 0;
	int n = 0, rc = 0;

	if (h->fd < 0 || mbox_journal_read(h->store, h->loc->name, "undo", &jb) < 0)
		goto out;
	buf_append_byte(&jb, '\0');
	if (sscanf(jb.data, "%llu %llu %llu %zu\n%n", &dev, &ino, &size, &count, &n) != 4 || n == 0 ||
	    dev != (unsigned long long)h->st.st_dev || ino != (unsigned long long)h->st.st_ino ||
	    size != (unsigned long long)h->st.st_size) {
		/* Another file (or grown) by now: the old bytes are not ours to
		 * put back anywhere. */
		mbox_journal_remove(h->store, h->loc->name, "undo");
		goto out;
	}
	if (!h->writable)
		goto out;
	if (!h->write_locked) {
		struct error busy;
		/* A writer holding the dotlock: the next opener repairs it. */
		if (mbox_lock_upgrade(&h->lock, h->timeout, &busy) < 0)
			goto out;
		h->write_locked = 1;
	}
	pos = (size_t)n;
	for (size_t i = 0; i < count; i++) {
		int m = 0;
		if (sscanf(jb.data + pos, "%llu %zu\n%n", &off, &len, &m) != 2 || m == 0 ||
		    pos + (size_t)m + len > jb.len - 1 || off + len > size)
			break;   /* torn journal: it was being written, the file was not */
		pos += (size_t)m;
		if (write_all(h->fd, jb.data + pos, len, off) < 0) {
			rc = mbox_errno_error(err, errno, "write", h->loc->path);
			goto out;
		}
		pos += len;
	}
	if (fdatasync(h->fd) < 0 || fstat(h->fd, &h->st) < 0) {
		rc = mbox_errno_error(err, errno, "sync", h->loc->path);
		goto out;
	}
	log_warn("mbox: %s: undid a flag change that was killed half-way", h->loc->path);
	mbox_journal_remove(h->store, h->loc->name, "undo");
out:
	buf_free(&jb);
	return rc;
}

int mbox_store_inplace(struct mbox_handle *h, struct mbox_scan *s, const uint8_t *changed,
		       struct error *err)
{
	struct patch *p = NULL;
	size_t np = 0;
	int rc = 1;

	for (size_t i = 0; i < s->n; i++) {
		if (!changed[i])
			continue;
		p = xreallocarray(p, np + 1, sizeof(*p));
		memset(&p[np], 0, sizeof(p[np]));
		if (prepare(h->fd, s, &s->m[i], &p[np]) < 0)
			goto out;   /* rc 1: rewrite instead; nothing written yet */
		np++;
	}
	/* One message: one pwrite, all or nothing by itself. More: only with
	 * the undo journal (or not in place at all). */
	if (np > 1 && undo_write(h, p, np) < 0)
		goto out;
	rc = -1;
	for (size_t i = 0; i < np; i++) {
		if (write_all(h->fd, p[i].data, p[i].len, p[i].off) < 0) {
			mbox_errno_error(err, errno, "write", h->loc->path);
			goto out;
		}
	}
	if (fdatasync(h->fd) < 0) {
		mbox_errno_error(err, errno, "sync", h->loc->path);
		goto out;
	}
	/* The parse state a full parse of the file would now give. */
	for (size_t i = 0; i < s->n; i++)
		if (changed[i])
			s->m[i].raw_modseq = s->m[i].modseq;
	if (fstat(h->fd, &h->st) < 0) {
		mbox_errno_error(err, errno, "stat", h->loc->path);
		goto out;
	}
	mbox_fid_from_stat(&s->id, &h->st);
	mbox_index_save(h->store, h->loc, h->fd, s);
	if (np > 1)
		mbox_journal_remove(h->store, h->loc->name, "undo");
	rc = 0;
out:
	for (size_t i = 0; i < np; i++) {
		free(p[i].data);
		free(p[i].old);
	}
	free(p);
	return rc;
}

/* The base of the first message (X-IMAPbase, X-Haven-Highestmodseq) with
 * the last UID and the highest modseq of s, as one block to write over
 * the old one: 0, or -1 when the header is not in our padded form. */
static int prepare_base(int fd, const struct mbox_scan *s, struct patch *out)
{
	const struct mbox_smsg *m = &s->m[0];
	char *buf = xmalloc(BLOCK_MAX), val[32];
	size_t got, pos = 0, uid_off = 0, hms_off = 0, hms_cap = 0;
	ssize_t r;

	if ((r = read_block(fd, m, buf)) < 0)
		goto no;
	got = (size_t)r;
	for (;;) {
		size_t n, i;
		enum mbox_hdr cls;
		int more = state_line(buf, got, pos, &n, &cls);
		if (more < 0)
			goto no;
		if (more == 0)
			break;
		i = (size_t)((const char *)memchr(buf + pos, ':', n) + 1 - buf);
		if (cls == MH_XIMAPBASE && uid_off == 0) {
			/* " UIDVALIDITY LASTUID[ keywords]": LASTUID in our
			 * (and Dovecot's) ten zero-padded digits. */
			size_t d = 0;
			if (buf[i++] != ' ')
				goto no;
			while (i < pos + n && buf[i] >= '0' && buf[i] <= '9')
				i++;
			if (buf[i++] != ' ')
				goto no;
			uid_off = i;
			while (i < pos + n && buf[i] >= '0' && buf[i] <= '9')
				i++, d++;
			if (d != 10 || (buf[i] != ' ' && buf[i] != '\n'))
				goto no;
		} else if (cls == MH_HIGHESTMODSEQ && hms_off == 0) {
			hms_off = i;
			hms_cap = pos + n - 1 - i;
			if (hms_cap > 0 && buf[hms_off + hms_cap - 1] == '\r')
				goto no;
		}
		pos += n;
	}
	snprintf(val, sizeof(val), " %" PRIu64, s->highestmodseq);
	if (uid_off == 0 || hms_off == 0 || put_value(buf + hms_off, hms_cap, val) < 0)
		goto no;
	snprintf(val, sizeof(val), "%010" PRIu32, s->uidnext > 0 ? s->uidnext - 1 : 0);
	memcpy(buf + uid_off, val, 10);
	/* No undo journal needed: one pwrite, and either version is true. */
	*out = (struct patch){ .off = m->hdr_off, .len = pos, .data = buf };
	return 0;
no:
	free(buf);
	return -1;
}

int mbox_expunge_tail(struct mbox_handle *h, struct mbox_scan *s, struct error *err)
{
	struct patch p = { 0 };
	size_t keep = s->n;
	int rc = 1;

	while (keep > 0 && s->m[keep - 1].drop)
		keep--;
	/* Only the last messages go, the first (holding the base) stays, and
	 * nothing kept needs the rewrite for its own sake (UIDs not on disk;
	 * the pseudo message). A dropped keyword might be one the base does
	 * not list: a full parse would no longer know it, the index would. */
	if (keep == 0 || keep == s->n || !s->have_base || s->has_pseudo || s->needs_persist)
		return 1;
	for (size_t i = 0; i < s->n; i++)
		if ((i < keep && (s->m[i].drop || s->m[i].virt)) || (i >= keep && s->m[i].nkw))
			return 1;
	if (prepare_base(h->fd, s, &p) < 0)
		return 1;
	rc = -1;
	/* First the base, so that the UIDs of what goes are never given out
	 * again (appends do not update it) and the highest modseq rises; a
	 * kill between the two steps leaves only that, which is true anyway.
	 * Then one ftruncate: the file with or without the tail, nothing in
	 * between, and no new inode (no temp file, no rename). */
	if (write_all(h->fd, p.data, p.len, p.off) < 0 || fdatasync(h->fd) < 0) {
		mbox_errno_error(err, errno, "write", h->loc->path);
		goto out;
	}
	if (ftruncate(h->fd, (off_t)s->m[keep].from_off) < 0 || fsync(h->fd) < 0) {
		mbox_errno_error(err, errno, "truncate", h->loc->path);
		goto out;
	}
	if (fstat(h->fd, &h->st) < 0) {
		mbox_errno_error(err, errno, "stat", h->loc->path);
		goto out;
	}
	log_debug("mbox: %s: expunged the last %zu message(s) by truncating", h->loc->name,
		  s->n - keep);
	/* The parse state a full parse of the file would now give. */
	for (size_t i = keep; i < s->n; i++)
		free(s->m[i].kw);
	s->n = keep;
	s->ends_nl = 1;   /* it ends where a From_ line began */
	s->base_uidnext = s->uidnext;
	s->base_hms = s->highestmodseq;
	mbox_fid_from_stat(&s->id, &h->st);
	mbox_index_save(h->store, h->loc, h->fd, s);
	rc = 0;
out:
	free(p.data);
	free(p.old);
	return rc;
}
