/* QUOTA (RFC 9208) for the mbox store: the user's usage over every
 * mailbox, and the check APPEND, COPY and delivery make before they
 * store anything.
 *
 * The usage is the sum of each mailbox's STATUS (messages, RFC822.SIZE),
 * which the index keeps (mbox_index_status), so nothing reads messages.
 * Each mailbox's figures are also remembered in the store with the
 * identity of its file (struct mbox_fid): a mailbox whose file has not
 * changed since costs one fstatat, and any write by anyone (us, an MDA,
 * another server) changes the identity, so the figure stays current.
 *
 * One worker serves all of a user's sessions and deliveries, so within
 * Haven the check and the write that follows it cannot interleave with
 * another of the user's; a program writing the spool meanwhile (an MDA)
 * is not held to the quota. The limits: the user's record, else the
 * configured quota_bytes / quota_messages. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../lib/xmalloc.h"
#include "mbox_private.h"

struct mbox_quota_entry {
	char *name;
	struct mbox_fid id;
	uint64_t bytes, messages;
};

struct usage_walk {
	struct store *st;
	struct mbox_quota_entry *old, *cur;   /* the cache before, being built */
	size_t nold, ncur, cap;
	uint64_t bytes, messages;
	struct error *err;
	int failed;
};

static void fid_of(const struct stat *sb, struct mbox_fid *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = sb->st_dev;
	id->ino = sb->st_ino;
	id->size = sb->st_size;
	id->mtime = sb->st_mtim;
	id->ctime = sb->st_ctim;
}

static int fid_same(const struct mbox_fid *a, const struct mbox_fid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* The cached entry of name, taken out of the old cache; NULL if none.
 * LIST reports names in a stable order, so the same position is tried
 * first. */
static struct mbox_quota_entry *cache_take(struct usage_walk *w, const char *name)
{
	size_t hint = w->ncur;

	for (size_t k = 0; k < w->nold; k++) {
		size_t i = (hint + k) % w->nold;
		if (w->old[i].name != NULL && strcmp(w->old[i].name, name) == 0)
			return &w->old[i];
	}
	return NULL;
}

/* Messages and bytes of one mailbox, into e (its identity first: a write
 * after it makes the next walk look again). 1 when it is gone. */
static int mailbox_usage(struct store *st, const char *name, struct mbox_quota_entry *e,
			 const struct mbox_quota_entry *cached, struct error *err)
{
	struct mbox_loc loc;
	struct mailbox_status ms;
	struct stat sb;

	if (mbox_resolve(st, name, 0, &loc, err) < 0)
		return err->code == ERR_NONEXISTENT ? 1 : -1;
	if (fstatat(loc.dirfd, loc.base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		int e2 = errno;
		mbox_loc_free(&loc);
		return e2 == ENOENT ? 1 : mbox_errno_error(err, e2, "stat", name);
	}
	mbox_loc_free(&loc);
	fid_of(&sb, &e->id);
	if (cached != NULL && fid_same(&cached->id, &e->id)) {
		e->bytes = cached->bytes;
		e->messages = cached->messages;
		return 0;
	}
	if (mbox_status(st, name, &ms, err) < 0)
		return err->code == ERR_NONEXISTENT ? 1 : -1;
	e->bytes = ms.size;
	e->messages = ms.messages;
	return 0;
}

static void walk_one(void *arg, const char *name, unsigned attrs)
{
	struct usage_walk *w = arg;
	struct mbox_quota_entry e = { 0 }, *cached;
	int rc;

	if (w->failed || (attrs & (MA_NOSELECT | MA_NONEXISTENT)))
		return;
	cached = cache_take(w, name);
	rc = mailbox_usage(w->st, name, &e, cached, w->err);
	if (rc < 0) {
		w->failed = 1;
		return;
	}
	if (rc > 0)
		return;   /* gone meanwhile: holds nothing */
	if (w->ncur == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->cur = xreallocarray(w->cur, w->cap, sizeof(*w->cur));
	}
	e.name = xstrdup(name);
	w->cur[w->ncur++] = e;
	w->bytes += e.bytes;
	w->messages += e.messages;
}

static void cache_free(struct mbox_quota_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void mbox_quota_free(struct store *st)
{
	cache_free(st->quota_cache, st->nquota_cache);
	st->quota_cache = NULL;
	st->nquota_cache = 0;
}

/* Walk every mailbox; the cache becomes what this walk saw (mailboxes
 * deleted or renamed meanwhile drop out of it). */
static int quota_usage(struct store *st, uint64_t *bytes, uint64_t *messages,
		       struct error *err)
{
	struct usage_walk w = { .st = st, .old = st->quota_cache, .nold = st->nquota_cache,
				.err = err };

	if (mbox_list(st, walk_one, &w, err) < 0 || w.failed) {
		cache_free(w.cur, w.ncur);
		return -1;
	}
	mbox_quota_free(st);
	st->quota_cache = w.cur;
	st->nquota_cache = w.ncur;
	*bytes = w.bytes;
	*messages = w.messages;
	return 0;
}

int mbox_quota_get(struct store *st, struct store_quota *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	out->limit_bytes = st->quota_bytes;
	out->limit_messages = st->quota_messages;
	return quota_usage(st, &out->used_bytes, &out->used_messages, err);
}

int mbox_quota_check(struct store *st, uint64_t bytes, uint64_t messages, struct error *err)
{
	struct store_quota q;

	if (st->quota_bytes == 0 && st->quota_messages == 0)
		return 0;   /* no limit: nothing to count */
	if (mbox_quota_get(st, &q, err) < 0)
		return -1;
	if (store_quota_exceeded(&q, bytes, messages)) {
		error_set(err, ERR_OVERQUOTA, "Quota exceeded (mailbox full)");
		return -1;
	}
	return 0;
}
