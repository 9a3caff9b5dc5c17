/* METADATA (RFC 5464) of the mbox store: one file per user beside the
 * mailboxes and their index (mbox_metadata_file.c has its format). Every
 * change reads the file under a dotlock on its name, edits it in memory
 * and replaces it whole (temp file, fsync, rename): a SETMETADATA is all
 * or nothing even under kill -9, and sessions of the user (or another
 * host on the same NFS home) never lose each other's changes. Entries are
 * keyed by mailbox name, so DELETE drops them and RENAME moves them
 * (store_delete / store_rename call us after the mailbox changed). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

/* The whole file (bounded) parsed; no file or no mail dir: no entries. */
static int meta_load(struct store *st, struct mbox_meta_set *ms, struct error *err)
{
	struct error e2;
	struct buf b = BUF_INIT;
	char chunk[8192];
	ssize_t got;
	int fd, rc, root = mbox_root_fd(st, 0, &e2);

	memset(ms, 0, sizeof(*ms));
	if (root < 0)
		return 0;
	fd = openat(root, MBOX_METADATA_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : mbox_errno_error(err, errno, "open", MBOX_METADATA_FILE);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0 && b.len <= MBOX_METADATA_MAX)
		buf_append(&b, chunk, (size_t)got);
	close(fd);
	if (got < 0 || b.len > MBOX_METADATA_MAX) {
		buf_free(&b);
		error_set(err, ERR_INTERNAL, "mbox: %s unreadable or over %u bytes",
			  MBOX_METADATA_FILE, MBOX_METADATA_MAX);
		return -1;
	}
	rc = mbox_metadata_parse(b.data, b.len, ms, err);
	buf_free(&b);
	return rc;
}

static int meta_save(int root, struct mbox_meta_set *ms, struct error *err)
{
	struct buf b = BUF_INIT;
	int rc;

	mbox_metadata_sort(ms);
	mbox_metadata_serialize(ms, &b);
	/* never a file meta_load would refuse to read back */
	if (b.len > MBOX_METADATA_MAX) {
		buf_free(&b);
		error_set(err, ERR_OVERQUOTA, "Metadata over the mbox store's %u bytes",
			  MBOX_METADATA_MAX);
		return -1;
	}
	rc = mbox_file_replace(root, MBOX_METADATA_FILE, b.data, b.len, err);
	buf_free(&b);
	return rc;
}

/* Does mailbox exist (a file, or a directory: a \Noselect level)? */
static int meta_mailbox_exists(struct store *st, const char *mailbox, struct error *err)
{
	struct mbox_loc loc;
	struct stat sb;
	int ok;

	if (mailbox[0] == '\0' || mbox_name_is_inbox(mailbox))
		return 0;
	if (mbox_resolve(st, mailbox, 0, &loc, err) < 0) {
		if (err->code == ERR_CANNOT || err->code == ERR_NONEXISTENT)
			error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
		return -1;
	}
	ok = fstatat(loc.dirfd, loc.base, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	     (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode));
	mbox_loc_free(&loc);
	if (!ok)
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
	return ok ? 0 : -1;
}

static const char *meta_canon(const char *mailbox)
{
	return mbox_name_is_inbox(mailbox) ? "INBOX" : mailbox;
}

/* entry is prefix or below it ("" : every entry). */
static int meta_under(const char *entry, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(entry, prefix, n) == 0 && (entry[n] == '\0' || entry[n] == '/' || n == 0);
}

int mbox_metadata_list(struct store *st, const char *mailbox, const char *prefix,
		       backend_metadata_cb cb, void *ctx, struct error *err)
{
	struct mbox_meta_set ms;
	const char *mb = meta_canon(mailbox);

	if (meta_mailbox_exists(st, mailbox, err) < 0 || meta_load(st, &ms, err) < 0)
		return -1;
	for (size_t i = 0; i < ms.n; i++)
		if (strcmp(ms.v[i].mailbox, mb) == 0 && meta_under(ms.v[i].entry, prefix))
			cb(ctx, ms.v[i].entry, ms.v[i].value, ms.v[i].len);
	mbox_metadata_free(&ms);
	return 0;
}

/* The record of mailbox/entry, or NULL. */
static struct mbox_meta_rec *meta_find(struct mbox_meta_set *ms, const char *mailbox,
				       const char *entry)
{
	for (size_t i = 0; i < ms->n; i++)
		if (strcmp(ms->v[i].mailbox, mailbox) == 0 && strcmp(ms->v[i].entry, entry) == 0)
			return &ms->v[i];
	return NULL;
}

static void meta_remove(struct mbox_meta_set *ms, struct mbox_meta_rec *r)
{
	free(r->mailbox);
	free(r->entry);
	free(r->value);
	*r = ms->v[--ms->n];
}

static void meta_put(struct mbox_meta_set *ms, const char *mailbox,
		     const struct metadata_change *c)
{
	struct mbox_meta_rec *r = meta_find(ms, mailbox, c->entry);

	if (c->value == NULL) {
		if (r)
			meta_remove(ms, r);
		return;
	}
	if (r == NULL) {
		ms->v = xreallocarray(ms->v, ms->n + 1, sizeof(*ms->v));
		r = &ms->v[ms->n++];
		r->mailbox = xstrdup(mailbox);
		r->entry = xstrdup(c->entry);
	} else {
		free(r->value);
	}
	r->value = xmalloc(c->len ? c->len : 1);
	memcpy(r->value, c->value, c->len);
	r->len = c->len;
}

/* Entries and bytes (names and values) of the user's entries. */
static uint64_t meta_total(const struct mbox_meta_set *ms)
{
	uint64_t total = 0;

	for (size_t i = 0; i < ms->n; i++)
		total += strlen(ms->v[i].entry) + ms->v[i].len;
	return total;
}

/* Within the limits after a change from (n, total)? Only growth is
 * refused: a change that removes or shrinks passes even over limits an
 * administrator lowered. */
static int meta_within(size_t n, uint64_t total, const struct mbox_meta_set *ms,
		       const struct metadata_limits *lim, struct error *err)
{
	uint64_t now = meta_total(ms);

	if (ms->n > lim->max_entries && ms->n > n) {
		error_set(err, ERR_LIMIT, "Too many metadata entries (at most %zu)", lim->max_entries);
		return -1;
	}
	if (now > lim->max_total && now > total) {
		error_set(err, ERR_OVERQUOTA, "Metadata over %llu bytes in all",
			  (unsigned long long)lim->max_total);
		return -1;
	}
	return 0;
}

/* Under the file's dotlock: load, edit (fn: 1 changed, 0 not, -1
 * failed), save what fn changed. */
typedef int (*meta_edit_fn)(struct mbox_meta_set *ms, void *arg, struct error *err);

static int meta_edit(struct store *st, meta_edit_fn fn, void *arg, struct error *err)
{
	struct mbox_meta_set ms;
	struct mbox_lock lk;
	int root, rc;

	if ((root = mbox_root_fd(st, 1, err)) < 0)
		return -1;
	if (mbox_lock_acquire(&lk, root, MBOX_METADATA_FILE, root, 0, st->lock_timeout, err) < 0)
		return -1;
	mbox_tmp_cleanup(root);
	rc = meta_load(st, &ms, err);
	if (rc == 0)
		rc = fn(&ms, arg, err);
	if (rc == 1)
		rc = meta_save(root, &ms, err);
	mbox_metadata_free(&ms);
	mbox_lock_release(&lk);
	return rc;
}

struct meta_set_arg {
	const char *mailbox;
	const struct metadata_change *v;
	size_t n;
	const struct metadata_limits *lim;
};

static int meta_apply(struct mbox_meta_set *ms, void *arg, struct error *err)
{
	const struct meta_set_arg *a = arg;
	size_t n = ms->n;
	uint64_t total = meta_total(ms);

	for (size_t i = 0; i < a->n; i++)
		meta_put(ms, a->mailbox, &a->v[i]);
	return meta_within(n, total, ms, a->lim, err) < 0 ? -1 : 1;
}

int mbox_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		      size_t n, const struct metadata_limits *lim, struct error *err)
{
	struct meta_set_arg a = { meta_canon(mailbox), v, n, lim };

	if (meta_mailbox_exists(st, mailbox, err) < 0)
		return -1;
	return meta_edit(st, meta_apply, &a, err) < 0 ? -1 : 0;
}

/* A mailbox name is name or below it. */
static int meta_in_tree(const char *mailbox, const char *name)
{
	size_t n = strlen(name);
	return strncmp(mailbox, name, n) == 0 && (mailbox[n] == '\0' || mailbox[n] == '/');
}

static int meta_drop(struct mbox_meta_set *ms, void *arg, struct error *err)
{
	const char *name = arg;
	size_t before = ms->n;

	(void)err;
	for (size_t i = ms->n; i-- > 0;)
		if (strcmp(ms->v[i].mailbox, name) == 0)
			meta_remove(ms, &ms->v[i]);
	return ms->n != before;
}

int mbox_metadata_deleted(struct store *st, const char *name, struct error *err)
{
	/* A mailbox that is still there (a \Noselect level) keeps its
	 * entries; none left behind: nothing to lock for. */
	if (meta_mailbox_exists(st, name, err) == 0)
		return 0;
	return meta_edit(st, meta_drop, (void *)meta_canon(name), err) < 0 ? -1 : 0;
}

struct meta_rename_arg {
	const char *from, *to;
	int copy;
};

static char *meta_renamed_name(const char *mailbox, const struct meta_rename_arg *a)
{
	return xasprintf("%s%s", a->to, mailbox + strlen(a->from));
}

static int meta_move(struct mbox_meta_set *ms, void *arg, struct error *err)
{
	const struct meta_rename_arg *a = arg;
	size_t n = ms->n;
	int changed = 0;

	(void)err;
	/* stale entries under the new names first (left by a crash) */
	for (size_t i = ms->n; i-- > 0;)
		if (meta_in_tree(ms->v[i].mailbox, a->to) && !meta_in_tree(ms->v[i].mailbox, a->from))
			meta_remove(ms, &ms->v[i]);
	changed = ms->n != n;
	n = ms->n;
	for (size_t i = 0; i < n; i++) {
		struct mbox_meta_rec *r = &ms->v[i];
		if (!meta_in_tree(r->mailbox, a->from))
			continue;
		changed = 1;
		if (!a->copy) {
			char *moved = meta_renamed_name(r->mailbox, a);
			free(r->mailbox);
			r->mailbox = moved;
			continue;
		}
		ms->v = xreallocarray(ms->v, ms->n + 1, sizeof(*ms->v));
		r = &ms->v[i];
		ms->v[ms->n].mailbox = meta_renamed_name(r->mailbox, a);
		ms->v[ms->n].entry = xstrdup(r->entry);
		ms->v[ms->n].value = xmalloc(r->len ? r->len : 1);
		memcpy(ms->v[ms->n].value, r->value, r->len);
		ms->v[ms->n++].len = r->len;
	}
	return changed;
}

int mbox_metadata_renamed(struct store *st, const char *oldname, const char *newname, int copy,
			  struct error *err)
{
	struct meta_rename_arg a = { meta_canon(oldname), newname, copy };

	return meta_edit(st, meta_move, &a, err) < 0 ? -1 : 0;
}
