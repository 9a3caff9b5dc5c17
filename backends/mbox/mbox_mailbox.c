/* Operations on a selected mailbox that read or change the file: FETCH's
 * open_message, STORE, EXPUNGE, COPY/MOVE. Each takes the lock, scans the
 * file as it is now (others may have changed it since our last sync),
 * applies the change to that scan, writes, and unlocks; the view itself
 * only catches up in sync(). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

static int scan_for_view(struct mailbox *mb, struct mbox_handle *h, struct mbox_scan *s,
			 struct error *err)
{
	struct mbox_carry carry = { mb->uidvalidity, mb->uidnext };
	if (mbox_handle_scan(h, &carry, s, err) < 0)
		return -1;
	/* UIDs that could not be written down are not stable enough to
	 * change anything by (the scan's, from the carry, may already differ
	 * from the view's): refuse rather than touch the wrong message. */
	if (h->write_locked && s->needs_persist) {
		mbox_scan_free(s);
		error_set(err, ERR_NOPERM,
			  "Mailbox cannot be rewritten here (its directory refuses us; "
			  "is mail_privileged_group set?)");
		return -1;
	}
	if (s->uidvalidity != mb->uidvalidity) {
		mbox_scan_free(s);
		error_set(err, ERR_VIEWGONE,
			  "Mailbox UIDVALIDITY changed (replaced by another program); select it again");
		return -1;
	}
	return 0;
}

int mbox_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
		      struct error *err)
{
	struct mbox_vmsg *v = mbox_view_find(mb, uid);
	struct mbox_handle h;
	struct mbox_fid fid;
	struct buf b = BUF_INIT;
	int rc = -1;

	if (v == NULL) {
		error_set(err, ERR_NONEXISTENT, "No such message");
		return -1;
	}
	if (mbox_handle_open(mb->st, &mb->loc, MBOX_OPEN_READ, &h, err) < 0)
		return -1;
	if (h.fd < 0) {
		error_set(err, ERR_EXPUNGEISSUED, "Message has been expunged");
		goto out;
	}
	mbox_fid_from_stat(&fid, &h.st);
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t hdr, end;
		uint32_t seen = 0;
		int r, hide;
		if (attempt == 0 && mb->have_file && mbox_fid_equal(&fid, &mb->id)) {
			hdr = v->hdr_off;
			end = v->end_off;
			hide = v->hide_clen;
		} else {
			struct mbox_smsg *m;
			if (attempt == 1 || mb->cache == NULL || !mbox_fid_equal(&fid, &mb->cache->id)) {
				/* Offsets from a scan of the file as it is now; no
				 * persisting here (we only hold a read lock). */
				struct mbox_scan *s = mbox_scan_new();
				struct mbox_carry carry = { mb->uidvalidity, mb->uidnext };
				if (mbox_scan_cached(mb->st, &mb->loc, h.fd, &h.st, &carry, s, err) < 0) {
					free(s);
					goto out;
				}
				mbox_scan_destroy(mb->cache);
				mb->cache = s;
			}
			m = mb->cache->uidvalidity == mb->uidvalidity ? mbox_scan_find(mb->cache, uid)
								      : NULL;
			if (m == NULL || m->size != v->meta.size) {
				v->gone = m == NULL;
				error_set(err, ERR_EXPUNGEISSUED, "Message has been expunged");
				goto out;
			}
			hdr = m->hdr_off;
			end = m->end_off;
			hide = m->hide_clen;
		}
		buf_reset(&b);
		r = mbox_read_message(h.fd, hdr, end, v->meta.size, hide, mb->st->max_message, &b, &seen,
				      err);
		if (r < 0)
			goto out;
		if (r == 0 && (seen == 0 || seen == uid)) {
			size_t len = b.len;
			*out = msg_stream_from_memory(buf_steal(&b), len);
			rc = 0;
			goto out;
		}
		/* Same size and times but other bytes: the file was rewritten
		 * within one timestamp tick. Look again, once. */
		mbox_scan_destroy(mb->cache);
		mb->cache = NULL;
	}
	error_set(err, ERR_EXPUNGEISSUED, "Message changed on disk");
out:
	buf_free(&b);
	mbox_handle_close(&h);
	return rc;
}

/* Sorted, duplicate-free keyword index sets. */
static size_t kw_union(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *o)
{
	size_t i = 0, j = 0, n = 0;
	while (i < na || j < nb) {
		if (j >= nb || (i < na && a[i] < b[j]))
			o[n++] = a[i++];
		else if (i >= na || b[j] < a[i])
			o[n++] = b[j++];
		else {
			o[n++] = a[i++];
			j++;
		}
	}
	return n;
}

static size_t kw_minus(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t *o)
{
	size_t n = 0;
	for (size_t i = 0, j = 0; i < na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		if (j >= nb || b[j] != a[i])
			o[n++] = a[i];
	}
	return n;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int has_uid(const uint32_t *sorted, size_t n, uint32_t uid)
{
	return bsearch(&uid, sorted, n, sizeof(uint32_t), cmp_u32) != NULL;
}

int mbox_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
		     uint32_t flags, const char *const *keywords, size_t nkeywords,
		     uint64_t unchangedsince, uint32_t *failed, size_t *nfailed,
		     struct error *err)
{
	struct mbox_handle h;
	struct mbox_scan s;
	uint32_t *set = NULL, *tmp = NULL;
	uint8_t *changed = NULL;
	size_t nset = 0, nf = 0, nkw_before;
	uint64_t modseq;
	int any = 0, rc = -1, in;

	if (nfailed)
		*nfailed = 0;
	if (mb->readonly) {
		error_set(err, ERR_CANNOT, "Mailbox is read-only");
		return -1;
	}
	for (size_t i = 0; i < nkeywords; i++)
		if (!mail_keyword_valid(keywords[i], strlen(keywords[i]))) {
			error_set(err, ERR_CANNOT, "Invalid keyword");
			return -1;
		}
	flags &= MF_ALL;
	if (mbox_handle_open(mb->st, &mb->loc, MBOX_OPEN_WRITE, &h, err) < 0)
		return -1;
	if (scan_for_view(mb, &h, &s, err) < 0)
		goto out_handle;
	nkw_before = s.nkw;
	if (nkeywords) {
		set = xreallocarray(NULL, nkeywords, sizeof(*set));
		for (size_t i = 0; i < nkeywords; i++) {
			long idx = mbox_scan_kw(&s, keywords[i], strlen(keywords[i]), op != STORE_REMOVE);
			if (idx < 0 && op != STORE_REMOVE) {
				error_set(err, ERR_LIMIT, "Too many keywords in this mailbox");
				goto out;
			}
			if (idx >= 0)
				set[nset++] = (uint32_t)idx;
		}
		qsort(set, nset, sizeof(*set), cmp_u32);
		{
			size_t k = 0;
			for (size_t i = 0; i < nset; i++)
				if (k == 0 || set[k - 1] != set[i])
					set[k++] = set[i];
			nset = k;
		}
	}
	tmp = xreallocarray(NULL, s.nkw + 1, sizeof(*tmp));
	changed = xcalloc(s.n ? s.n : 1, 1);
	modseq = s.highestmodseq + 1;
	for (size_t i = 0; i < n; i++) {
		struct mbox_smsg *m = mbox_scan_find(&s, uids[i]);
		uint32_t nflags;
		size_t nk;
		if (m == NULL) {
			mbox_view_gone(mb, uids[i]);
			continue;   /* expunged meanwhile: nothing to store */
		}
		if (unchangedsince && m->modseq > unchangedsince) {
			if (failed)
				failed[nf] = uids[i];
			nf++;
			continue;
		}
		if (op == STORE_SET) {
			nflags = flags;
			if (nset)
				memcpy(tmp, set, nset * sizeof(*tmp));
			nk = nset;
		} else if (op == STORE_ADD) {
			nflags = m->flags | flags;
			nk = kw_union(m->kw, m->nkw, set, nset, tmp);
		} else {
			nflags = m->flags & ~flags;
			nk = kw_minus(m->kw, m->nkw, set, nset, tmp);
		}
		if (nflags == m->flags && nk == m->nkw &&
		    (nk == 0 || memcmp(tmp, m->kw, nk * sizeof(*tmp)) == 0))
			continue;
		m->flags = nflags;
		free(m->kw);
		m->kw = NULL;
		if (nk) {
			m->kw = xreallocarray(NULL, nk, sizeof(*m->kw));
			memcpy(m->kw, tmp, nk * sizeof(*tmp));
		}
		m->nkw = (uint32_t)nk;
		m->modseq = modseq;
		changed[m - s.m] = 1;
		any = 1;
	}
	if (any) {
		s.highestmodseq = modseq;
		/* In place when every changed header has room and no keyword
		 * is new to the mailbox (new ones go into X-IMAPbase). */
		in = s.nkw == nkw_before ? mbox_store_inplace(&h, &s, changed, err) : 1;
		if (in < 0 || (in == 1 && mbox_rewrite(&h, &s, err) < 0))
			goto out;
		mbox_view_own_modseq(mb, modseq);
		mbox_view_apply_own(mb, &s, uids, n);
		mb->dirty = 1;
	}
	if (nfailed)
		*nfailed = nf;
	rc = 0;
out:
	free(set);
	free(tmp);
	free(changed);
	mbox_scan_free(&s);
out_handle:
	mbox_handle_close(&h);
	return rc;
}

/* Drop the \Deleted messages (of uids, if given) that the view knows. */
static int expunge_locked(struct mailbox *mb, struct mbox_handle *h, struct mbox_scan *s,
			  const uint32_t *uids, size_t n, int need_deleted, struct error *err)
{
	uint32_t *sorted = NULL;
	uint32_t last = mb->count ? mb->msgs[mb->count - 1].meta.uid : 0;
	int any = 0, r;

	if (uids) {
		sorted = xreallocarray(NULL, n ? n : 1, sizeof(*sorted));
		memcpy(sorted, uids, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u32);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct mbox_smsg *m = &s->m[i];
		if (m->uid > last || (need_deleted && !(m->flags & MF_DELETED)))
			continue;
		if (sorted && !has_uid(sorted, n, m->uid))
			continue;
		m->drop = 1;
		any = 1;
	}
	free(sorted);
	if (!any)
		return 0;
	s->highestmodseq++;
	r = mbox_expunge_tail(h, s, err);
	if (r == 1)
		r = mbox_rewrite(h, s, err);
	if (r < 0)
		return -1;
	mb->dirty = 1;
	return 0;
}

int mbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err)
{
	struct mbox_handle h;
	struct mbox_scan s;
	int rc;

	if (mb->readonly) {
		error_set(err, ERR_CANNOT, "Mailbox is read-only");
		return -1;
	}
	if (mbox_handle_open(mb->st, &mb->loc, MBOX_OPEN_WRITE, &h, err) < 0)
		return -1;
	if (scan_for_view(mb, &h, &s, err) < 0) {
		mbox_handle_close(&h);
		return -1;
	}
	rc = expunge_locked(mb, &h, &s, uids, n, 1, err);
	mbox_scan_free(&s);
	mbox_handle_close(&h);
	return rc;
}

/* Append copies of src's messages to the locked, scanned destination. */
static int copy_into(struct mbox_handle *dh, struct mbox_scan *ds, int srcfd,
		     struct mbox_scan *ss, struct mbox_smsg **msgs, size_t n, uint32_t *dst_uids,
		     struct error *err)
{
	struct mbox_writer w;
	uint64_t orig, modseq = ds->highestmodseq + 1;
	uint32_t first = ds->uidnext;
	const char **names = xreallocarray(NULL, ss->nkw + 1, sizeof(*names));
	int empty = ds->n == 0 && !ds->has_pseudo;

	if ((uint64_t)first + n >= UINT32_MAX) {
		free(names);
		error_set(err, ERR_LIMIT, "Destination mailbox has run out of UIDs");
		return -1;
	}
	ds->uidnext = first + (uint32_t)n;
	ds->highestmodseq = modseq;
	mbox_append_begin(dh, ds, &w, first, &orig, err);
	for (size_t i = 0; i < n && !w.err; i++) {
		const struct mbox_smsg *m = msgs[i];
		for (uint32_t k = 0; k < m->nkw; k++)
			names[k] = ss->kw[m->kw[k]];
		dst_uids[i] = first + (uint32_t)i;
		if (mbox_emit_stored(&w, srcfd, m, empty && i == 0 ? ds : NULL, dst_uids[i],
				     m->flags | MBOX_F_FRESH | (m->raw ? MBOX_F_RAW : 0), names, m->nkw,
				     modseq) < 0 && !w.err)
			w.err = errno ? errno : EIO;
	}
	free(names);
	return mbox_append_commit(dh, &w, orig, err);
}

/* RFC822.SIZE of the messages a COPY adds, from the view (a message
 * gone from it fails the copy later anyway). */
static uint64_t copy_size(struct mailbox *mb, const uint32_t *uids, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++) {
		const struct mbox_vmsg *v = mbox_view_find(mb, uids[i]);
		if (v != NULL)
			sum += v->meta.size;
	}
	return sum;
}

int mbox_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest, int move,
	      uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err)
{
	struct mbox_loc dloc;
	struct mbox_handle sh, dh;
	struct mbox_scan ss, ds;
	struct mbox_smsg **msgs = NULL;
	struct stat dsb;
	int same, rc = -1;

	if (move && mb->readonly) {
		error_set(err, ERR_CANNOT, "Mailbox is read-only");
		return -1;
	}
	/* A MOVE leaves the user's usage as it was (RFC 9208: one root). */
	if (!move && mbox_quota_check(mb->st, copy_size(mb, uids, n), n, err) < 0)
		return -1;
	if (mbox_resolve(mb->st, dest, 0, &dloc, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			err->code = ERR_TRYCREATE;
		return -1;
	}
	same = fstatat(dloc.dirfd, dloc.base, &dsb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       fstatat(mb->loc.dirfd, mb->loc.base, &sh.st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       dsb.st_dev == sh.st.st_dev && dsb.st_ino == sh.st.st_ino;
	/* Copying within one file: one handle, or we would wait on our own lock. */
	if (mbox_handle_open(mb->st, &mb->loc, move || same ? MBOX_OPEN_WRITE : MBOX_OPEN_READ,
			     &sh, err) < 0)
		goto out_loc;
	if (scan_for_view(mb, &sh, &ss, err) < 0)
		goto out_sh;
	msgs = xreallocarray(NULL, n ? n : 1, sizeof(*msgs));
	for (size_t i = 0; i < n; i++)
		if ((msgs[i] = mbox_scan_find(&ss, uids[i])) == NULL) {
			mbox_view_gone(mb, uids[i]);
			error_set(err, ERR_EXPUNGEISSUED, "Some of the messages have been expunged");
			goto out_ss;
		}
	if (same) {
		if (copy_into(&sh, &ss, sh.fd, &ss, msgs, n, dst_uids, err) < 0)
			goto out_ss;
		*dst_uidvalidity = ss.uidvalidity;
		if (move) {
			/* The file grew; find the originals again to drop them. */
			mbox_scan_free(&ss);
			if (fstat(sh.fd, &sh.st) < 0 || scan_for_view(mb, &sh, &ss, err) < 0)
				goto out_sh;
			rc = expunge_locked(mb, &sh, &ss, uids, n, 0, err);
			goto out_ss;
		}
		mb->dirty = 1;
		rc = 0;
		goto out_ss;
	}
	if (mbox_handle_open(mb->st, &dloc, MBOX_OPEN_WRITE, &dh, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			err->code = ERR_TRYCREATE;
		goto out_ss;
	}
	if (mbox_handle_scan(&dh, NULL, &ds, err) < 0)
		goto out_dh;
	if (copy_into(&dh, &ds, sh.fd, &ss, msgs, n, dst_uids, err) < 0)
		goto out_ds;
	*dst_uidvalidity = ds.uidvalidity;
	/* Copies are durable before the originals go: a crash in between
	 * duplicates messages, never loses them. */
	rc = move ? expunge_locked(mb, &sh, &ss, uids, n, 0, err) : 0;
out_ds:
	mbox_scan_free(&ds);
out_dh:
	mbox_handle_close(&dh);
out_ss:
	free(msgs);
	mbox_scan_free(&ss);
out_sh:
	mbox_handle_close(&sh);
out_loc:
	mbox_loc_free(&dloc);
	return rc;
}
