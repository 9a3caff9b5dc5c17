/* APPEND and STATUS, and the append step COPY shares with APPEND.
 *
 * Appending never rewrites: lock, write the new message after the last
 * byte, fsync, unlock; a failed write is cut off again with ftruncate, so
 * the file is the old one or the old one plus whole messages. A kill -9
 * half-way cannot cut anything off: a journal written first (next to the
 * index) lets the next opener of the mailbox do it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

int mbox_append_begin(struct mbox_handle *h, struct mbox_scan *s, struct mbox_writer *w,
		      uint32_t first_uid, uint64_t *orig_size, struct error *err)
{
	char jr[128];
	(void)err;
	*orig_size = (uint64_t)h->st.st_size;
	/* Where the file ended and which UIDs are ours, for mbox_append_recover
	 * should we be killed half-way. */
	snprintf(jr, sizeof(jr), "%llu %llu %llu %u\n", (unsigned long long)h->st.st_dev,
		 (unsigned long long)h->st.st_ino, (unsigned long long)*orig_size, first_uid);
	h->journal = mbox_journal_write(h->store, h->loc->name, "append", jr, strlen(jr)) == 0;
	mbox_writer_init(w, h->fd, *orig_size);
	/* The next From_ must start a line. The '\n' we add becomes the
	 * framing of the last message, which is what it already was read as
	 * (no '\n' is framing at EOF), so no existing message changes. */
	if (*orig_size > 0 && !s->ends_nl)
		mbox_writer_put(w, "\n", 1);
	return 0;
}

int mbox_append_commit(struct mbox_handle *h, struct mbox_writer *w, uint64_t orig_size,
		       struct error *err)
{
	int e = 0;
	if (mbox_writer_flush(w) < 0)
		e = w->err;
	else if (fsync(h->fd) < 0)
		e = errno;
	mbox_writer_free(w);
	if (e != 0) {
		/* All or nothing: a partial message would be read as a real one. */
		if (ftruncate(h->fd, (off_t)orig_size) < 0 || fsync(h->fd) < 0) {
			log_err("mbox: cannot truncate %s back after a failed append: %s",
				h->loc->path, strerror(errno));
			return mbox_errno_error(err, e, "append to", h->loc->path);
		}
	}
	if (h->journal)
		mbox_journal_remove(h->store, h->loc->name, "append");
	h->journal = 0;
	return e ? mbox_errno_error(err, e, "append to", h->loc->path) : 0;
}

/* The journal: "DEV INO ORIGINAL_SIZE FIRST_UID". Everything an append
 * wrote starts at ORIGINAL_SIZE: the message there, and any after it with
 * X-UID >= FIRST_UID, were ours and never acknowledged. Mail another
 * program appended after the kill has no such X-UID and stays. */
int mbox_append_recover(struct mbox_handle *h, struct error *err)
{
	struct buf jb = BUF_INIT;
	unsigned long long dev, ino, orig;
	unsigned first;
	struct mbox_scan s;
	size_t kept_after = 0, dropped = 0;
	int parsed;

	if (h->fd < 0 || mbox_journal_read(h->store, h->loc->name, "append", &jb) < 0) {
		buf_free(&jb);
		return 0;
	}
	buf_append_byte(&jb, '\0');
	parsed = sscanf(jb.data, "%llu %llu %llu %u", &dev, &ino, &orig, &first);
	buf_free(&jb);
	if (parsed != 4 ||
	    dev != (unsigned long long)h->st.st_dev || ino != (unsigned long long)h->st.st_ino ||
	    orig >= (unsigned long long)h->st.st_size) {
		/* Another file by now, or nothing was written. */
		mbox_journal_remove(h->store, h->loc->name, "append");
		return 0;
	}
	if (!h->writable)
		return 0;   /* cannot repair it; readers see what is there */
	if (!h->write_locked) {
		struct error busy;
		/* A writer holding the dotlock: the next opener repairs it. */
		if (mbox_lock_upgrade(&h->lock, h->timeout, &busy) < 0)
			return 0;
		h->write_locked = 1;
		if (fstat(h->fd, &h->st) < 0)
			return mbox_errno_error(err, errno, "stat", h->loc->path);
	}
	if (mbox_scan_fd(h->fd, &h->st, NULL, &s, err) < 0)
		return -1;
	for (size_t i = 0, ours = 1; i < s.n; i++) {
		struct mbox_smsg *m = &s.m[i];
		if (m->from_off < orig)
			continue;
		/* The first one from there is ours (after the '\n' we may have
		 * added to end the last line), whatever of it got written. */
		if (ours || (first && m->raw_uid >= first)) {
			ours = 0;
			m->drop = 1;
			dropped++;
		} else {
			kept_after++;
		}
	}
	log_warn("mbox: %s: removing %zu message(s) of an append that was killed half-way",
		 h->loc->path, dropped);
	if (kept_after == 0) {
		if (ftruncate(h->fd, (off_t)orig) < 0 || fsync(h->fd) < 0) {
			mbox_scan_free(&s);
			return mbox_errno_error(err, errno, "truncate", h->loc->path);
		}
		if (fstat(h->fd, &h->st) < 0) {
			mbox_scan_free(&s);
			return mbox_errno_error(err, errno, "stat", h->loc->path);
		}
	} else if (mbox_rewrite(h, &s, err) < 0) {
		mbox_scan_free(&s);
		return -1;
	}
	mbox_scan_free(&s);
	mbox_journal_remove(h->store, h->loc->name, "append");
	return 0;
}

/* Validate client keywords and dedupe them through the scan's table. */
static int keyword_names(struct mbox_scan *s, const char *const *keywords, size_t nkeywords,
			 const char ***names, size_t *nnames, struct error *err)
{
	*names = NULL;
	*nnames = 0;
	if (nkeywords == 0)
		return 0;
	*names = xreallocarray(NULL, nkeywords, sizeof(**names));
	for (size_t i = 0; i < nkeywords; i++) {
		size_t len = strlen(keywords[i]), k;
		long idx;
		if (!mail_keyword_valid(keywords[i], len)) {
			error_set(err, ERR_CANNOT, "Invalid keyword");
			goto fail;
		}
		if ((idx = mbox_scan_kw(s, keywords[i], len, 1)) < 0) {
			error_set(err, ERR_LIMIT, "Too many keywords in this mailbox");
			goto fail;
		}
		for (k = 0; k < *nnames && (*names)[k] != s->kw[idx]; k++)
			;
		if (k == *nnames)
			(*names)[(*nnames)++] = s->kw[idx];
	}
	return 0;
fail:
	free(*names);
	*names = NULL;
	return -1;
}

/* Test builds: a kill with the first message of a group on disk and the
 * rest not (test_multiappend.py). */
static void test_stop(struct mbox_writer *w)
{
	if (mbox_writer_flush(w) == 0)
		backend_test_stop("multiappend");
}

/* The keywords of every message, through the scan's table: all of them
 * are in it before the first message (which may carry the table in its
 * X-IMAPbase) is written. */
static int append_keywords(struct mbox_scan *s, const struct mbox_newmsg *m, size_t n,
			   const char ***names, size_t *nnames, struct error *err)
{
	for (size_t i = 0; i < n; i++)
		if (keyword_names(s, m[i].keywords, m[i].nkeywords, &names[i], &nnames[i], err) < 0)
			return -1;
	return 0;
}

/* Write the messages after the end of the locked, scanned file: the
 * UIDs from s->uidnext on, one MODSEQ for them all; the scan says what
 * the mailbox is after them (a fresh file's X-IMAPbase is written from
 * it with the first message). */
static int append_emit(struct mbox_scan *s, struct mbox_writer *w,
		       const struct mbox_newmsg *m, size_t n, uint32_t *uids, struct error *err)
{
	const char ***names = xcalloc(n, sizeof(*names));
	size_t *nnames = xcalloc(n, sizeof(*nnames));
	int fresh = s->n == 0 && !s->has_pseudo, rc = -1;

	if (append_keywords(s, m, n, names, nnames, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		uids[i] = s->uidnext + (uint32_t)i;
	s->uidnext += (uint32_t)n;
	s->highestmodseq++;
	for (size_t i = 0; i < n; i++) {
		mbox_emit_new(w, m[i].msg, m[i].len, m[i].date ? m[i].date : time(NULL),
			      fresh && i == 0 ? s : NULL, uids[i],
			      (m[i].flags & MF_ALL) | MBOX_F_FRESH |
				      (mbox_raw_needed(m[i].msg, m[i].len) ? MBOX_F_RAW : 0),
			      names[i], nnames[i], s->highestmodseq);
		if (i == 0 && n > 1)
			test_stop(w);
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(nnames);
	return rc;
}

/* Check everything a group needs before a byte is written: keywords
 * valid, UIDs left for all of it. */
static int append_check(const struct mbox_scan *s, const struct mbox_newmsg *m, size_t n,
			struct error *err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < m[i].nkeywords; k++)
			if (!mail_keyword_valid(m[i].keywords[k], strlen(m[i].keywords[k]))) {
				error_set(err, ERR_CANNOT, "Invalid keyword");
				return -1;
			}
	if (s != NULL && (uint64_t)s->uidnext + n > UINT32_MAX) {
		error_set(err, ERR_LIMIT, "Mailbox has run out of UIDs");
		return -1;
	}
	return 0;
}

static uint64_t group_bytes(const struct mbox_newmsg *m, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += m[i].len;
	return sum;
}

int mbox_append_many(struct store *st, const char *name, const struct mbox_newmsg *m, size_t n,
		     uint32_t *uidvalidity, uint32_t *uids, struct error *err)
{
	struct mbox_loc loc;
	struct mbox_handle h;
	struct mbox_scan s;
	struct mbox_writer w;
	uint64_t orig;
	int rc = -1;

	if (append_check(NULL, m, n, err) < 0 ||
	    mbox_quota_check(st, group_bytes(m, n), n, err) < 0)   /* before any lock is ours */
		return -1;
	if (mbox_resolve(st, name, 0, &loc, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			err->code = ERR_TRYCREATE;
		return -1;
	}
	if (mbox_handle_open(st, &loc, MBOX_OPEN_WRITE, &h, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			err->code = ERR_TRYCREATE;
		mbox_loc_free(&loc);
		return -1;
	}
	if (mbox_handle_scan(&h, NULL, &s, err) < 0)
		goto out_handle;
	if (append_check(&s, m, n, err) < 0)
		goto out_scan;
	mbox_append_begin(&h, &s, &w, s.uidnext, &orig, err);
	if (append_emit(&s, &w, m, n, uids, err) < 0) {
		/* Nothing was flushed that the commit would keep. */
		w.err = EINVAL;
		mbox_append_commit(&h, &w, orig, &(struct error){0});
		goto out_scan;
	}
	if (mbox_append_commit(&h, &w, orig, err) < 0)
		goto out_scan;
	*uidvalidity = s.uidvalidity;
	rc = 0;
out_scan:
	mbox_scan_free(&s);
out_handle:
	mbox_handle_close(&h);
	mbox_loc_free(&loc);
	return rc;
}

int mbox_append(struct store *st, const char *name, const void *msg, size_t len,
		uint32_t flags, const char *const *keywords, size_t nkeywords,
		time_t internaldate, int tz_minutes, uint32_t *uidvalidity, uint32_t *uid,
		struct error *err)
{
	struct mbox_newmsg m = {
		.msg = msg, .len = len, .flags = flags, .keywords = keywords,
		.nkeywords = nkeywords, .date = internaldate,
	};

	(void)tz_minutes;   /* From_ lines carry UTC; the zone is not kept */
	return mbox_append_many(st, name, &m, 1, uidvalidity, uid, err);
}

/* From the index's summary when it describes the file as it is and a scan
 * would not persist anything (what mbox_handle_scan would do with it is
 * in scan_claim: a big file with X-IMAPbase, or a read-only one, is left
 * as it is); otherwise from a scan. */
static void status_fill(struct mailbox_status *out, const struct mbox_summary *sum)
{
	memset(out, 0, sizeof(*out));
	out->messages = sum->messages;
	out->recent = sum->recent;
	out->uidnext = sum->uidnext;
	out->uidvalidity = sum->uidvalidity;
	out->highestmodseq = sum->highestmodseq;
	out->size = sum->size;
	out->unseen = sum->unseen;
	out->first_unseen = sum->first_unseen;
}

static int status_from_index(struct mbox_handle *h, const struct mbox_loc *loc,
			     struct mailbox_status *out)
{
	struct mbox_summary sum;
	if (h->fd < 0 || mbox_index_status(h->store, loc, h->fd, &h->st, &sum) < 0)
		return -1;
	if (sum.needs_persist && h->writable && !sum.have_base)
		return -1;
	/* The summary counts what the file says is new; claims recorded
	 * beside it are only known message by message. */
	if (sum.recent > 0 && mbox_recent_first(h->store, loc->name, sum.uidvalidity) > 1)
		return -1;
	status_fill(out, &sum);
	return 0;
}

int mbox_status(struct store *st, const char *name, struct mailbox_status *out,
		struct error *err)
{
	struct mbox_loc loc;
	struct mbox_handle h;
	struct mbox_scan s;
	struct mbox_summary sum;
	int sum_rc;

	if (mbox_resolve(st, name, 0, &loc, err) < 0)
		return -1;
	if (mbox_handle_open(st, &loc, MBOX_OPEN_READ, &h, err) < 0) {
		mbox_loc_free(&loc);
		return -1;
	}
	if (status_from_index(&h, &loc, out) == 0) {
		mbox_handle_close(&h);
		mbox_loc_free(&loc);
		return 0;
	}
	if (mbox_handle_scan(&h, NULL, &s, err) < 0) {
		mbox_handle_close(&h);
		mbox_loc_free(&loc);
		return -1;
	}
	mbox_handle_close(&h);
	mbox_loc_free(&loc);
	/* The same numbers a summary gives (the scan's, without a carry). */
	sum_rc = mbox_scan_summarize(&s, h.st.st_mtime, &sum);
	sum.recent = mbox_recent_count(&s);
	mbox_scan_free(&s);
	if (sum_rc < 0) {
		error_set(err, ERR_LIMIT, "Mailbox has run out of UIDs");
		return -1;
	}
	status_fill(out, &sum);
	return 0;
}

/* ---- APPEND as a stream (backend.h) ------------------------------------ */

struct appender {
	struct store *st;
	char *name;
	uint32_t flags;
	char **keywords;
	size_t nkeywords;
	time_t date;
	int tz;
	struct buf msg;
};

int mbox_append_stream_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
			     const char *const *keywords, size_t nkeywords, time_t internaldate,
			     int tz_minutes, struct appender **out, struct error *err)
{
	struct appender *ap;

	if (size > st->max_message) {
		error_set(err, ERR_LIMIT, "Message too large");
		return -1;
	}
	/* Told before the client sends the message; finish checks again. */
	if (mbox_quota_check(st, size, 1, err) < 0)
		return -1;
	ap = xcalloc(1, sizeof(*ap));
	ap->st = st;
	ap->name = xstrdup(name);
	ap->flags = flags;
	ap->keywords = xreallocarray(NULL, nkeywords ? nkeywords : 1, sizeof(char *));
	for (size_t i = 0; i < nkeywords; i++)
		ap->keywords[i] = xstrdup(keywords[i]);
	ap->nkeywords = nkeywords;
	ap->date = internaldate;
	ap->tz = tz_minutes;
	buf_reserve(&ap->msg, (size_t)size);
	*out = ap;
	return 0;
}

int mbox_append_stream_write(struct appender *ap, const void *data, size_t len,
			     struct error *err)
{
	if (ap->msg.len + len > ap->st->max_message) {
		error_set(err, ERR_LIMIT, "Message too large");
		return -1;
	}
	buf_append(&ap->msg, data, len);
	return 0;
}

void mbox_append_stream_abort(struct appender *ap)
{
	for (size_t i = 0; i < ap->nkeywords; i++)
		free(ap->keywords[i]);
	free(ap->keywords);
	free(ap->name);
	buf_free(&ap->msg);
	free(ap);
}

int mbox_append_stream_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			      struct error *err)
{
	int rc = mbox_append(ap->st, ap->name, ap->msg.data ? ap->msg.data : "", ap->msg.len,
			     ap->flags, (const char *const *)ap->keywords, ap->nkeywords, ap->date,
			     ap->tz, uidvalidity, uid, err);
	mbox_append_stream_abort(ap);
	return rc;
}

/* MULTIAPPEND: the gathered messages go in together (mbox_append_many). */
int mbox_append_stream_finish_group(struct appender *const *aps, size_t n,
				    uint32_t *uidvalidity, uint32_t *uids, struct error *err)
{
	struct mbox_newmsg *m = xreallocarray(NULL, n ? n : 1, sizeof(*m));
	int rc;

	for (size_t i = 0; i < n; i++)
		m[i] = (struct mbox_newmsg){
			.msg = aps[i]->msg.data ? aps[i]->msg.data : "",
			.len = aps[i]->msg.len,
			.flags = aps[i]->flags,
			.keywords = (const char *const *)aps[i]->keywords,
			.nkeywords = aps[i]->nkeywords,
			.date = aps[i]->date,
		};
	rc = mbox_append_many(aps[0]->st, aps[0]->name, m, n, uidvalidity, uids, err);
	free(m);
	for (size_t i = 0; i < n; i++)
		mbox_append_stream_abort(aps[i]);
	return rc;
}
