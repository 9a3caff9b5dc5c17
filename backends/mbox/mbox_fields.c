/* The header-field cache (and the generic per-message cache under it,
 * mbox_fcache_*, which the sort-key cache of mbox_sortkeys.c shares): what a header SEARCH (FROM, TO, CC, BCC,
 * SUBJECT, SENT*, HEADER on those fields), SORT and THREAD (References:
 * too) need of each message, kept beside the index so that a search
 * after the first reads no message.
 *
 * Trust: entries belong to one lineage of the mailbox file (mbox_scan.
 * lineage, carried by the index): the file as an earlier scan saw it,
 * plus mail appended since, plus our own flag changes and rewrites, which
 * keep every message's bytes. Anything else (another program rewrote the
 * file, the index is gone or unusable) starts a new lineage, and the
 * cache is ignored and rebuilt. On top of that an entry is used only for
 * the UID it was made for (a UID on disk, never one assigned in memory
 * only) and only if the message still has the RFC822.SIZE it had then.
 *
 * A run of calls (one SEARCH) first checks that the file is still the one
 * the view was built from; if not, every message is read as before and
 * nothing is recorded. New entries are written (temp file + rename) when
 * the run ends. Mailboxes without an index have no lineage and no cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../../mail/message.h"
#include "../../mail/search.h"
#include "../../mail/sort.h"
#include "mbox_private.h"

#define FC_MAX_ENTRY 65536   /* fields of one message larger than this are not kept */

struct fc_new {
	uint32_t uid;
	uint64_t size;
	size_t off, len;           /* in mbox_fcache.nd */
};

struct mbox_fcache {
	const struct mbox_fcache_kind *kind;   /* its side file and what it holds */
	struct buf file;           /* the cache file as read or last written */
	struct mbox_fields_file ff;/* decoded from file, when loaded */
	uint64_t *offs;
	int loaded;
	uint64_t lineage;          /* what loaded / new entries belong to */
	uint32_t uidvalidity;
	int in_run, usable;
	struct buf nd;             /* new entries' bytes */
	struct fc_new *nw;
	size_t nnew;
	size_t hits, misses;
};

void mbox_fields_extract(const char *msg, size_t len, struct buf *out)
{
	mail_sort_fields_extract(msg, len, out);
}

static void drop_new(struct mbox_fcache *fc)
{
	buf_reset(&fc->nd);
	free(fc->nw);
	fc->nw = NULL;
	fc->nnew = 0;
}

static void drop_loaded(struct mbox_fcache *fc)
{
	buf_free(&fc->file);
	free(fc->offs);
	fc->offs = NULL;
	fc->loaded = 0;
	memset(&fc->ff, 0, sizeof(fc->ff));
}

static void load(struct mailbox *mb, struct mbox_fcache *fc)
{
	drop_loaded(fc);
	drop_new(fc);
	fc->lineage = mb->lineage;
	fc->uidvalidity = mb->uidvalidity;
	if (mbox_side_read(mb->st, mb->loc.name, fc->kind->file, &fc->file) < 0)
		return;
	if (mbox_fields_decode(fc->file.data, fc->file.len, mb->loc.name, &fc->ff) < 0 ||
	    fc->ff.lineage != mb->lineage || fc->ff.uidvalidity != mb->uidvalidity) {
		log_debug("mbox: %s: %s cache unusable (corrupt or for another "
			  "version of the file)", mb->loc.name, fc->kind->what);
		drop_loaded(fc);
		return;
	}
	fc->offs = mbox_fields_offsets(&fc->ff);
	fc->loaded = 1;
}

/* Start of a run: may this view's offsets and lineage be used? */
static void run_begin(struct mailbox *mb, struct mbox_fcache *fc)
{
	struct stat sb;
	struct mbox_fid now;

	fc->in_run = 1;
	fc->usable = 0;
	fc->hits = fc->misses = 0;
	if (mb->lineage == 0 || !mb->have_file || mb->dirty ||
	    fstatat(mb->loc.dirfd, mb->loc.base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	mbox_fid_from_stat(&now, &sb);
	if (!mbox_fid_equal(&now, &mb->id))
		return;   /* changed since the view's last sync: read as before */
	fc->usable = 1;
	if (fc->lineage != mb->lineage || fc->uidvalidity != mb->uidvalidity || !fc->loaded)
		load(mb, fc);
}

/* May what was just read of uid be kept under the view's lineage? Only if
 * it came from the file the view describes, under a UID on disk. */
static int recordable(struct mailbox *mb, uint32_t uid, const struct mbox_vmsg *v)
{
	struct mbox_smsg *m;
	if (mb->cache == NULL || !mbox_fid_equal(&mb->cache->id, &mb->id) ||
	    mb->cache->lineage != mb->lineage)
		return 0;
	m = mbox_scan_find(mb->cache, uid);
	return m != NULL && !m->virt && m->size == v->meta.size;
}

static int read_message(struct mailbox *mb, uint32_t uid, struct buf *msg, struct error *err)
{
	struct msg_stream *st;
	uint64_t off = 0, size;

	if (mbox_open_message(mb, uid, &st, err) < 0)
		return err->code == ERR_EXPUNGEISSUED || err->code == ERR_NONEXISTENT ? 1 : -1;
	size = st->size;
	buf_reserve(msg, (size_t)size);
	while (off < size) {
		ssize_t r = st->ops->pread(st, msg->data + msg->len, (size_t)(size - off), off);
		if (r <= 0)
			break;
		msg->len += (size_t)r;
		off += (uint64_t)r;
	}
	st->ops->close(st);
	if (off != size) {
		error_set(err, ERR_INTERNAL, "reading message %u failed", uid);
		return -1;
	}
	return 0;
}

/* The fields of uid, extracted from the message (mbox_fcache_get's make). */
static int fields_make(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	struct buf msg = BUF_INIT;
	int rc = read_message(mb, uid, &msg, err);

	if (rc == 0)
		mbox_fields_extract(msg.data, msg.len, out);
	buf_free(&msg);
	return rc;
}

static struct mbox_fcache *fc_of(struct mbox_fcache **slot, const struct mbox_fcache_kind *kind)
{
	if (*slot == NULL) {
		*slot = xcalloc(1, sizeof(**slot));
		(*slot)->kind = kind;
	}
	return *slot;
}

int mbox_fcache_get(struct mailbox *mb, struct mbox_fcache **slot,
		    const struct mbox_fcache_kind *kind, uint32_t uid, struct buf *out,
		    struct error *err)
{
	struct mbox_fcache *fc = fc_of(slot, kind);
	struct mbox_vmsg *v;
	size_t start;
	int rc;

	if (!fc->in_run)
		run_begin(mb, fc);
	if ((v = mbox_view_find(mb, uid)) == NULL)
		return 1;
	if (fc->usable && fc->loaded) {
		long i = mbox_fields_find(&fc->ff, uid);
		struct mbox_fields_rec r;
		if (i >= 0 && mbox_fields_entry(&fc->ff, (size_t)i, fc->offs, &r) == 0 &&
		    r.size == v->meta.size) {
			buf_append(out, r.data, r.len);
			fc->hits++;
			return 0;
		}
	}
	fc->misses++;
	start = out->len;
	if ((rc = fc->kind->make(mb, uid, out, err)) != 0)
		return rc;
	if (fc->usable && out->len - start <= FC_MAX_ENTRY && recordable(mb, uid, v)) {
		struct fc_new *n;
		fc->nw = xreallocarray(fc->nw, fc->nnew + 1, sizeof(*fc->nw));
		n = &fc->nw[fc->nnew++];
		n->uid = uid;
		n->size = v->meta.size;
		n->off = fc->nd.len;
		n->len = out->len - start;
		buf_append(&fc->nd, out->data + start, n->len);
	}
	return 0;
}

static const struct mbox_fcache_kind fields_kind = {
	.file = MBOX_FIELDS_KIND, .what = "header fields", .made = "read", .make = fields_make,
};

int mbox_header_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	int rc = mbox_fcache_get(mb, &mb->fields, &fields_kind, uid, out, err);

	if (rc == 0)
		buf_append(out, "\r\n", 2);
	return rc;
}

static int cmp_new(const void *a, const void *b)
{
	uint32_t x = ((const struct fc_new *)a)->uid, y = ((const struct fc_new *)b)->uid;
	return x < y ? -1 : x > y;
}

/* Old entries and new ones, by UID, for messages the view still has. */
static void save(struct mailbox *mb, struct mbox_fcache *fc)
{
	struct mbox_fields_rec *r = xreallocarray(NULL, fc->ff.nent + fc->nnew, sizeof(*r));
	struct buf enc = BUF_INIT;
	size_t n = 0, i = 0, j = 0;

	qsort(fc->nw, fc->nnew, sizeof(*fc->nw), cmp_new);
	while (i < fc->ff.nent || j < fc->nnew) {
		struct mbox_fields_rec old;
		int have_old = fc->loaded && i < fc->ff.nent &&
			       mbox_fields_entry(&fc->ff, i, fc->offs, &old) == 0;
		if (j < fc->nnew && (!have_old || fc->nw[j].uid <= old.uid)) {
			const struct fc_new *w = &fc->nw[j++];
			if (have_old && old.uid == w->uid)
				i++;
			if (n > 0 && r[n - 1].uid == w->uid)
				continue;   /* asked twice in one run */
			r[n].uid = w->uid;
			r[n].size = w->size;
			r[n].data = fc->nd.data + w->off;
			r[n].len = w->len;
		} else if (have_old) {
			r[n] = old;
			i++;
		} else {
			break;
		}
		if (mbox_view_find(mb, r[n].uid))
			n++;
	}
	mbox_fields_encode(fc->lineage, fc->uidvalidity, mb->loc.name, r, n, &enc);
	free(r);
	if (mbox_side_write(mb->st, mb->loc.name, fc->kind->file, enc.data, enc.len) < 0)
		log_info("mbox: cannot write the %s cache of %s: %s", fc->kind->what, mb->loc.name,
			 strerror(errno));
	/* What was written is what is cached now. */
	drop_loaded(fc);
	drop_new(fc);
	fc->file = enc;
	if (mbox_fields_decode(fc->file.data, fc->file.len, mb->loc.name, &fc->ff) == 0) {
		fc->offs = mbox_fields_offsets(&fc->ff);
		fc->loaded = 1;
	} else {
		drop_loaded(fc);
	}
}

void mbox_fcache_done(struct mailbox *mb, struct mbox_fcache *fc)
{
	if (fc == NULL || !fc->in_run)
		return;
	fc->in_run = 0;
	if (fc->hits + fc->misses)
		log_debug("mbox: %s: %s of %zu messages from the cache, %zu %s",
			  mb->loc.name, fc->kind->what, fc->hits, fc->misses, fc->kind->made);
	if (fc->usable && fc->nnew > 0)
		save(mb, fc);
	else
		drop_new(fc);
}

void mbox_header_fields_done(struct mailbox *mb)
{
	mbox_fcache_done(mb, mb->fields);
}

/* The search evaluator's reader of header-field blocks (mail/search.h
 * read_fields). */
static int read_fields(void *arg, uint32_t uid, int header_only, struct buf *out,
		       struct error *err)
{
	(void)header_only;
	return mbox_header_fields(arg, uid, out, err);
}

int mbox_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		uint8_t *result, struct error *err)
{
	int rc = 0;

	if (!search_fields_suffice(p))
		return 1;
	ctx->read_fields = read_fields;
	ctx->read_arg = mb;
	ctx->use_fields = 1;
	for (uint32_t seq = 1; seq <= mb->count && rc >= 0; seq++) {
		rc = search_match(p, ctx, seq, &mb->msgs[seq - 1].meta, err);
		result[seq - 1] = rc > 0 ? BM_YES : BM_NO;
	}
	mbox_header_fields_done(mb);
	return rc < 0 ? -1 : 0;
}

void mbox_fields_stats(struct mailbox *mb, size_t *hits, size_t *misses)
{
	*hits = mb->fields ? mb->fields->hits : 0;
	*misses = mb->fields ? mb->fields->misses : 0;
}

void mbox_fcache_free(struct mbox_fcache **slot)
{
	if (*slot == NULL)
		return;
	drop_loaded(*slot);
	buf_free(&(*slot)->nd);
	free((*slot)->nw);
	free(*slot);
	*slot = NULL;
}

void mbox_fields_free(struct mailbox *mb)
{
	mbox_fcache_free(&mb->fields);
	mbox_fcache_free(&mb->sortkeys);
}
