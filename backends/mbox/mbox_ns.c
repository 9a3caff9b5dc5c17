/* The namespace: LIST, CREATE, DELETE, RENAME, SUBSCRIBE.
 *
 * A mailbox is a file under mbox_dir, a directory is a hierarchy level
 * (\Noselect); in mbox a name cannot be both. Subscriptions live in
 * <mbox_dir>/.subscriptions, one name per line, and special use beyond the
 * default names in <mbox_dir>/.specialuse; both are replaced atomically. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

/* ---- subscriptions ------------------------------------------------------ */

struct names {
	char **v;
	size_t n;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	ns->v = NULL;
	ns->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The small files beside the mailboxes (.subscriptions, .specialuse): one
 * entry per line, read whole (up to MBOX_SUBS_MAX), replaced atomically by
 * a temp file, fsync and rename, edited under a dotlock on their name. */

/* Every complete line of file (no file: none). */
static int lines_load(struct store *st, const char *file, struct names *out, struct error *err)
{
	struct error e2;
	struct buf b = BUF_INIT;
	char chunk[4096];
	ssize_t got;
	int fd, root = mbox_root_fd(st, 0, &e2);

	memset(out, 0, sizeof(*out));
	if (root < 0)
		return 0;
	fd = openat(root, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? 0 : mbox_errno_error(err, errno, "open", file);
	while ((got = read(fd, chunk, sizeof(chunk))) > 0 && b.len < MBOX_SUBS_MAX)
		buf_append(&b, chunk, (size_t)got);
	close(fd);
	for (char *p = b.data, *nl; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;   /* a torn last line (never from us): ignore */
		*nl = '\0';
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = xstrdup(p);
	}
	buf_free(&b);
	return 0;
}

static int lines_save(int root, const char *file, const struct names *ns, struct error *err)
{
	char tmp[96];
	struct buf b = BUF_INIT;
	int fd, e = 0;
	size_t off = 0;

	for (size_t i = 0; i < ns->n; i++) {
		buf_append_str(&b, ns->v[i]);
		buf_append_byte(&b, '\n');
	}
	mbox_tmp_name(tmp, sizeof(tmp));
	fd = openat(root, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_free(&b);
		return mbox_errno_error(err, errno, "create", file);
	}
	while (off < b.len) {
		ssize_t got = write(fd, b.data + off, b.len - off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			e = got < 0 ? errno : ENOSPC;
			break;
		}
		off += (size_t)got;
	}
	buf_free(&b);
	if (!e && fsync(fd) < 0)
		e = errno;
	close(fd);
	if (!e && renameat(root, tmp, root, file) < 0)
		e = errno;
	if (e) {
		unlinkat(root, tmp, 0);
		return mbox_errno_error(err, e, "write", file);
	}
	mbox_fsync_dir(root);
	return 0;
}

/* Read the subscriptions (sorted, valid names only); missing file: none. */
static int subs_load(struct store *st, struct names *out, struct error *err)
{
	struct names raw;
	if (lines_load(st, MBOX_SUBS_FILE, &raw, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < raw.n; i++) {
		struct error e3;
		char *p = raw.v[i];
		if (mbox_name_is_inbox(p) || mbox_name_check(p, &e3) == 0) {
			out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
			out->v[out->n++] = xstrdup(mbox_name_is_inbox(p) ? "INBOX" : p);
		}
	}
	names_free(&raw);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
	return 0;
}

static int subs_save(int root, const struct names *ns, struct error *err)
{
	return lines_save(root, MBOX_SUBS_FILE, ns, err);
}

int mbox_subscribe(struct store *st, const char *name, int on, struct error *err)
{
	struct names ns;
	struct mbox_lock lk;
	const char *canon = mbox_name_is_inbox(name) ? "INBOX" : name;
	int root, rc = -1;
	size_t i;

	if (!mbox_name_is_inbox(name) && mbox_name_check(name, err) < 0)
		return -1;
	if ((root = mbox_root_fd(st, 1, err)) < 0)
		return -1;
	/* The dotlock serialises sessions editing the list; the fcntl part
	 * of the lock is a read lock on the directory, which cannot conflict. */
	if (mbox_lock_acquire(&lk, root, MBOX_SUBS_FILE, root, 0, st->lock_timeout, err) < 0)
		return -1;
	if (subs_load(st, &ns, err) < 0)
		goto out;
	for (i = 0; i < ns.n && strcmp(ns.v[i], canon) != 0; i++)
		;
	if (on && i == ns.n) {
		ns.v = xreallocarray(ns.v, ns.n + 1, sizeof(*ns.v));
		ns.v[ns.n++] = xstrdup(canon);
	} else if (!on && i < ns.n) {
		free(ns.v[i]);
		ns.v[i] = ns.v[--ns.n];
	} else {
		rc = 0;   /* already so */
		goto out_names;
	}
	rc = subs_save(root, &ns, err);
out_names:
	names_free(&ns);
out:
	mbox_lock_release(&lk);
	return rc;
}

/* ---- special use ----------------------------------------------------------
 * <mbox_dir>/.specialuse: "name\t\Flag \Flag" per line, sorted by name.
 * An entry overrides the defaults by name (mbox_special_use: Sent,
 * Drafts, Trash, Junk, Archive at the top level). CREATE ... USE writes
 * one, RENAME carries it (and those below the name), DELETE drops it. */

static const struct {
	const char *name;
	unsigned bit;
} su_names[] = {
	{ "\\Drafts", MA_DRAFTS }, { "\\Sent", MA_SENT },       { "\\Trash", MA_TRASH },
	{ "\\Junk", MA_JUNK },     { "\\Archive", MA_ARCHIVE }, { "\\All", MA_ALL },
	{ "\\Flagged", MA_FLAGGED },
};
#define SU_NNAMES (sizeof(su_names) / sizeof(su_names[0]))

/* Compare two entries, or an entry and a bare name, by name ('\t' ends it). */
static int su_cmp_name(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = *a == '\t' ? 0 : (unsigned char)*a;
		unsigned cb = *b == '\t' ? 0 : (unsigned char)*b;
		if (ca != cb || ca == 0)
			return (int)ca - (int)cb;
	}
}

static int su_cmp(const void *a, const void *b)
{
	return su_cmp_name(*(char *const *)a, *(char *const *)b);
}

static unsigned su_parse(const char *flags)
{
	unsigned bits = 0;
	for (const char *p = flags; *p;) {
		size_t n = strcspn(p, " ");
		for (size_t k = 0; k < SU_NNAMES; k++)
			if (strlen(su_names[k].name) == n && strncasecmp(p, su_names[k].name, n) == 0)
				bits |= su_names[k].bit;
		p += n;
		p += strspn(p, " ");
	}
	return bits;
}

static char *su_line(const char *name, unsigned bits)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, name);
	buf_append_byte(&b, '\t');
	for (size_t k = 0, first = 1; k < SU_NNAMES; k++)
		if (bits & su_names[k].bit) {
			if (!first)
				buf_append_byte(&b, ' ');
			buf_append_str(&b, su_names[k].name);
			first = 0;
		}
	return buf_steal(&b);
}

/* Entries with a valid name and at least one known flag, sorted. */
static int su_load(struct store *st, struct names *out, struct error *err)
{
	struct names raw;
	if (lines_load(st, MBOX_SU_FILE, &raw, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < raw.n; i++) {
		struct error e3;
		char *tab = strchr(raw.v[i], '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		if (mbox_name_check(raw.v[i], &e3) == 0 && su_parse(tab + 1) != 0) {
			*tab = '\t';
			out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
			out->v[out->n++] = xstrdup(raw.v[i]);
		}
	}
	names_free(&raw);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), su_cmp);
	return 0;
}

/* The entry's flags for name; -1 if there is no entry. */
static long su_find(const struct names *su, const char *name)
{
	char *const *hit;
	if (su->n == 0)
		return -1;
	hit = bsearch(&name, su->v, su->n, sizeof(char *), su_cmp);
	return hit ? (long)su_parse(strchr(*hit, '\t') + 1) : -1;
}

enum su_op { SU_SET, SU_RENAME };

/* SU_SET: name gets bits (0: no entry). SU_RENAME: entries of name and of
 * everything below it move to newname; stale ones there go. */
static int su_edit(struct store *st, enum su_op op, const char *name, const char *newname,
		   unsigned bits, struct error *err)
{
	struct names su, out = { NULL, 0 };
	struct mbox_lock lk;
	size_t ol = strlen(name), nl = newname ? strlen(newname) : 0;
	int root, rc = -1, changed = 0;

	if ((root = mbox_root_fd(st, 1, err)) < 0)
		return -1;
	if (mbox_lock_acquire(&lk, root, MBOX_SU_FILE, root, 0, st->lock_timeout, err) < 0)
		return -1;
	if (su_load(st, &su, err) < 0)
		goto out;
	for (size_t i = 0; i < su.n; i++) {
		char *e = su.v[i];
		const char *target = op == SU_SET ? name : newname;
		size_t tl = op == SU_SET ? ol : nl;
		if (op == SU_RENAME && strncmp(e, name, ol) == 0 && (e[ol] == '\t' || e[ol] == '/')) {
			char *moved = xasprintf("%s%s", newname, e + ol);
			out.v = xreallocarray(out.v, out.n + 1, sizeof(*out.v));
			out.v[out.n++] = moved;
			changed = 1;
			continue;
		}
		/* the target name and (for a rename) what is below it: stale */
		if (strncmp(e, target, tl) == 0 && (e[tl] == '\t' || (op == SU_RENAME && e[tl] == '/'))) {
			changed = 1;
			continue;
		}
		out.v = xreallocarray(out.v, out.n + 1, sizeof(*out.v));
		out.v[out.n++] = xstrdup(e);
	}
	if (op == SU_SET && bits) {
		out.v = xreallocarray(out.v, out.n + 1, sizeof(*out.v));
		out.v[out.n++] = su_line(name, bits);
		changed = 1;
	}
	if (out.n)
		qsort(out.v, out.n, sizeof(*out.v), su_cmp);
	rc = changed ? lines_save(root, MBOX_SU_FILE, &out, err) : 0;
	names_free(&out);
	names_free(&su);
out:
	mbox_lock_release(&lk);
	return rc;
}

/* Whether name has an entry: spares CREATE the lock when there is none. */
static int su_has(struct store *st, const char *name)
{
	struct names su;
	struct error e;
	long r;
	if (su_load(st, &su, &e) < 0)
		return 1;   /* unreadable: let su_edit report it */
	r = su_find(&su, name);
	names_free(&su);
	return r >= 0;
}

/* ---- LIST ----------------------------------------------------------------- */

/* A directory entry LIST may show: what mbox_name_check accepts. */
static int entry_listable(const char *d_name, int top)
{
	struct error e;
	if (top && mbox_name_is_inbox(d_name))
		return 0;   /* INBOX is the one in mbox_inbox, whatever is here */
	return strchr(d_name, '/') == NULL && mbox_name_check(d_name, &e) == 0;
}

static int open_rel_dir(int root, const char *rel)
{
	int fd = fcntl(root, F_DUPFD_CLOEXEC, 0);
	const char *p = rel;
	while (fd >= 0 && *p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char comp[256];
		int nfd;
		if (n >= sizeof(comp)) {
			close(fd);
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = nfd;
		p += n + (slash ? 1 : 0);
	}
	return fd;
}

struct list_ctx {
	backend_list_cb cb;
	void *ctx;
	struct names *subs;
	struct names *su;
	unsigned char *seen;   /* subs reported */
};

static void report(struct list_ctx *lc, const char *name, unsigned attrs, int top)
{
	char *const *hit;
	if (!(attrs & MA_NOSELECT)) {
		long su = su_find(lc->su, name);
		attrs |= su >= 0 ? (unsigned)su : top ? mbox_special_use(name) : 0;
	}
	hit = lc->subs->n ? bsearch(&name, lc->subs->v, lc->subs->n, sizeof(char *), cmp_str)
			  : NULL;
	if (hit) {
		attrs |= MA_SUBSCRIBED;
		lc->seen[hit - lc->subs->v] = 1;
	}
	lc->cb(lc->ctx, name, attrs);
}

/* Walk mbox_dir depth-first with an explicit stack: the depth of a tree
 * a user controls is never our recursion depth. */
static void list_tree(struct list_ctx *lc, int root)
{
	struct names stack = { NULL, 0 };
	size_t budget = MBOX_LIST_MAX;

	stack.v = xreallocarray(NULL, 1, sizeof(char *));
	stack.v[stack.n++] = xstrdup("");
	while (stack.n > 0) {
		char *rel = stack.v[--stack.n];
		int fd = open_rel_dir(root, rel), children = 0;
		size_t depth = 0;
		DIR *d;
		struct dirent *de;

		for (const char *c = rel; *c; c++)
			depth += *c == '/';
		depth += *rel != '\0';
		d = fd >= 0 ? fdopendir(fd) : NULL;
		if (d == NULL && fd >= 0)
			close(fd);
		if (d)
			rewinddir(d);   /* a dup of root_fd shares its offset */
		while (d && budget > 0 && (de = readdir(d)) != NULL) {
			struct stat sb;
			char *full;
			budget--;
			if (!entry_listable(de->d_name, *rel == '\0') ||
			    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
				continue;   /* symlinks and the rest are not mailboxes */
			full = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
			if (strlen(full) > MBOX_NAME_MAX) {
				free(full);
				continue;
			}
			children = 1;
			if (S_ISREG(sb.st_mode)) {
				/* A file cannot also be a directory: no mailbox
				 * can ever be created below it. */
				report(lc, full, MA_NOINFERIORS | MA_HASNOCHILDREN, *rel == '\0');
				free(full);
			} else if (depth + 1 < MBOX_DEPTH_MAX) {
				stack.v = xreallocarray(stack.v, stack.n + 1, sizeof(char *));
				stack.v[stack.n++] = full;
			} else {
				free(full);
			}
		}
		if (d)
			closedir(d);
		if (*rel) {
			/* Reported after its entries so we know if it has any. */
			report(lc, rel, MA_NOSELECT | (children ? MA_HASCHILDREN : MA_HASNOCHILDREN),
			       0);
		}
		free(rel);
	}
	names_free(&stack);
}

int mbox_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err)
{
	struct names subs, su;
	struct list_ctx lc;
	struct error e2;
	int root;

	if (subs_load(st, &subs, err) < 0)
		return -1;
	if (su_load(st, &su, err) < 0) {
		names_free(&subs);
		return -1;
	}
	lc.cb = cb;
	lc.ctx = ctx;
	lc.subs = &subs;
	lc.su = &su;
	lc.seen = xcalloc(subs.n + 1, 1);
	report(&lc, "INBOX", MA_NOINFERIORS | MA_HASNOCHILDREN, 0);
	root = mbox_root_fd(st, 0, &e2);
	if (root >= 0)
		list_tree(&lc, root);
	/* Subscribed names that do not exist (LIST (SUBSCRIBED) shows them). */
	for (size_t i = 0; i < subs.n; i++)
		if (!lc.seen[i])
			cb(ctx, subs.v[i], MA_SUBSCRIBED | MA_NONEXISTENT | MA_NOSELECT);
	free(lc.seen);
	names_free(&subs);
	names_free(&su);
	return 0;
}

/* ---- CREATE / DELETE / RENAME -------------------------------------------- */

static int rename_noreplace(int odir, const char *obase, int ndir, const char *nbase,
			    struct error *err)
{
	struct stat sb;
	if (renameat2(odir, obase, ndir, nbase, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS) {
		/* File system without RENAME_NOREPLACE: check, then rename. */
		if (fstatat(ndir, nbase, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			errno = EEXIST;
		else if (renameat(odir, obase, ndir, nbase) == 0)
			return 0;
	}
	if (errno == EEXIST)
		error_set(err, ERR_ALREADYEXISTS, "Mailbox already exists");
	else
		mbox_errno_error(err, errno, "rename", nbase);
	return -1;
}

/* A new mailbox file: a pseudo message holding its UIDVALIDITY (the file
 * then never lacks one), written under a temporary name and moved into
 * place only if the name is free, so nobody sees it half-made. */
static int create_file(struct store *st, const struct mbox_loc *loc, struct error *err)
{
	struct mbox_scan s;
	struct mbox_writer w;
	char tmp[96];
	int fd, e, root = mbox_root_fd(st, 1, err);

	memset(&s, 0, sizeof(s));
	if (root < 0 || mbox_uidv_update(st, root, 0, &s.uidvalidity, err) < 0)
		return -1;
	s.uidnext = 1;
	s.highestmodseq = 1;
	mbox_tmp_name(tmp, sizeof(tmp));
	fd = openat(loc->dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mbox_errno_error(err, errno, "create", loc->path);
	mbox_writer_init(&w, fd, 0);
	mbox_emit_pseudo(&w, &s);
	e = mbox_writer_flush(&w) < 0 ? w.err : 0;
	mbox_writer_free(&w);
	if (e == 0 && fsync(fd) < 0)
		e = errno;
	close(fd);
	if (e != 0) {
		unlinkat(loc->dirfd, tmp, 0);
		return mbox_errno_error(err, e, "create", loc->path);
	}
	if (rename_noreplace(loc->dirfd, tmp, loc->dirfd, loc->base, err) < 0) {
		unlinkat(loc->dirfd, tmp, 0);
		return -1;
	}
	return 0;
}

/* INBOX is a file too: nothing is ever below it. */
static int below_inbox(const char *name)
{
	return strncasecmp(name, "INBOX/", 6) == 0;
}

/* A mailbox that must already exist. A name below a mailbox (a file, which
 * cannot have children) or below a link names no mailbox: that is
 * [NONEXISTENT], not the [CANNOT] of creating one there. */
static int resolve_existing(struct store *st, const char *name, struct mbox_loc *loc,
			    struct error *err)
{
	struct error e2;

	if (mbox_resolve(st, name, 0, loc, err) == 0)
		return 0;
	if (err->code == ERR_CANNOT && (below_inbox(name) || mbox_name_check(name, &e2) == 0))
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
	return -1;
}

int mbox_create(struct store *st, const char *name, unsigned special_use, struct error *err)
{
	struct mbox_loc loc;
	size_t len = strlen(name);
	char *n;
	int dir_only = len > 1 && name[len - 1] == '/', rc = 0;

	n = dir_only ? xstrndup(name, len - 1) : xstrdup(name);
	if (mbox_name_is_inbox(n)) {
		error_set(err, ERR_ALREADYEXISTS, "INBOX already exists");
		free(n);
		return -1;
	}
	if (special_use & (MA_ALL | MA_FLAGGED)) {
		error_set(err, ERR_NOTSUPPORTED,
			  "\\All and \\Flagged need virtual mailboxes, which mbox does not have");
		free(n);
		return -1;
	}
	special_use &= MA_DRAFTS | MA_SENT | MA_TRASH | MA_JUNK | MA_ARCHIVE;
	if (special_use && dir_only) {
		error_set(err, ERR_NOTSUPPORTED,
			  "A special use needs a mailbox that holds messages, not a hierarchy level");
		free(n);
		return -1;
	}
	if (mbox_resolve(st, n, 1, &loc, err) < 0) {
		free(n);
		return -1;
	}
	if (dir_only && mkdirat(loc.dirfd, loc.base, 0700) < 0) {
		if (errno == EEXIST)
			error_set(err, ERR_ALREADYEXISTS, "Mailbox already exists");
		else
			mbox_errno_error(err, errno, "create", loc.path);
		rc = -1;
	} else if (!dir_only && create_file(st, &loc, err) < 0) {
		rc = -1;
	} else if (!dir_only && (special_use || su_has(st, n)) &&
		   su_edit(st, SU_SET, n, NULL, special_use, err) < 0) {
		/* Without its special use the mailbox must not exist. */
		unlinkat(loc.dirfd, loc.base, 0);
		rc = -1;
	} else {
		mbox_fsync_dir(loc.dirfd);
	}
	mbox_loc_free(&loc);
	free(n);
	return rc;
}

int mbox_delete(struct store *st, const char *name, struct error *err)
{
	struct mbox_loc loc;
	struct stat sb;
	int rc = -1;

	if (mbox_name_is_inbox(name)) {
		error_set(err, ERR_CANNOT, "INBOX cannot be deleted");
		return -1;
	}
	if (resolve_existing(st, name, &loc, err) < 0)
		return -1;
	if (fstatat(loc.dirfd, loc.base, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
	} else if (S_ISREG(sb.st_mode)) {
		struct mbox_handle h;
		/* Under the lock, so no MDA is half-way through a delivery. */
		if (mbox_handle_open(st, &loc, MBOX_OPEN_WRITE, &h, err) == 0) {
			struct error e2;
			/* Its successor under this name must get a greater
			 * UIDVALIDITY, however this one got its own. */
			if (mbox_uidv_update(st, mbox_root_fd(st, 0, &e2), mbox_uidv_of_file(&h),
					     NULL, &e2) < 0)
				log_warn("mbox: recording the UIDVALIDITY of %s: %s", loc.name, e2.msg);
			if (unlinkat(loc.dirfd, loc.base, 0) < 0) {
				mbox_errno_error(err, errno, "delete", loc.path);
			} else {
				mbox_index_forget(st, loc.name);
				rc = 0;
			}
			mbox_handle_close(&h);
		}
	} else if (unlinkat(loc.dirfd, loc.base, AT_REMOVEDIR) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			error_set(err, ERR_CANNOT, "Mailbox has inferior mailboxes; delete them first");
		else
			mbox_errno_error(err, errno, "delete", loc.path);
	} else {
		rc = 0;
	}
	if (rc == 0) {
		struct error e2;
		mbox_fsync_dir(loc.dirfd);
		/* A stale entry would only reach a new mailbox of this name,
		 * and CREATE rewrites it: a failure here is not the client's. */
		if (su_has(st, loc.name) && su_edit(st, SU_SET, loc.name, NULL, 0, &e2) < 0)
			log_warn("mbox: dropping the special use of %s: %s", loc.name, e2.msg);
	}
	mbox_loc_free(&loc);
	return rc;
}

/* RENAME INBOX x: x gets every message, INBOX stays, empty. x is written
 * in full (temp file, fsync, no-replace rename) before INBOX is emptied,
 * so a crash in between duplicates mail, never loses it. */
static int rename_inbox(struct store *st, const char *newname, struct error *err)
{
	struct mbox_loc iloc, nloc;
	struct mbox_handle h;
	struct mbox_scan s;
	struct stat sb;
	char tmp[96];
	size_t kept;
	int fd, rc = -1;

	if (mbox_resolve(st, "INBOX", 0, &iloc, err) < 0)
		return -1;
	if (mbox_resolve(st, newname, 1, &nloc, err) < 0) {
		mbox_loc_free(&iloc);
		return -1;
	}
	if (fstatat(nloc.dirfd, nloc.base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		error_set(err, ERR_ALREADYEXISTS, "Mailbox already exists");
		goto out_loc;
	}
	if (mbox_handle_open(st, &iloc, MBOX_OPEN_WRITE, &h, err) < 0)
		goto out_loc;
	if (mbox_handle_scan(&h, NULL, &s, err) < 0)
		goto out_h;
	mbox_tmp_name(tmp, sizeof(tmp));
	fd = openat(nloc.dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mbox_errno_error(err, errno, "create", nloc.path);
		goto out_s;
	}
	if (mbox_write_messages(fd, h.fd, &s, &kept) < 0) {
		mbox_errno_error(err, errno, "write", nloc.path);
		unlinkat(nloc.dirfd, tmp, 0);
		close(fd);
		goto out_s;
	}
	close(fd);
	if (rename_noreplace(nloc.dirfd, tmp, nloc.dirfd, nloc.base, err) < 0) {
		unlinkat(nloc.dirfd, tmp, 0);
		goto out_s;
	}
	mbox_fsync_dir(nloc.dirfd);
	/* Emptied in place (the INBOX directory may not let us create files)
	 * down to a pseudo message that keeps UIDVALIDITY and UIDNEXT, so
	 * INBOX never hands out a UID twice. */
	{
		struct mbox_writer w;
		if (ftruncate(h.fd, 0) < 0) {
			mbox_errno_error(err, errno, "empty", iloc.path);
			goto out_s;
		}
		mbox_writer_init(&w, h.fd, 0);
		mbox_emit_pseudo(&w, &s);
		if (mbox_writer_flush(&w) < 0 || fsync(h.fd) < 0) {
			mbox_errno_error(err, w.err ? w.err : errno, "empty", iloc.path);
			mbox_writer_free(&w);
			goto out_s;
		}
		mbox_writer_free(&w);
	}
	rc = 0;
out_s:
	mbox_scan_free(&s);
out_h:
	mbox_handle_close(&h);
out_loc:
	mbox_loc_free(&iloc);
	mbox_loc_free(&nloc);
	return rc;
}

int mbox_rename(struct store *st, const char *oldname, const char *newname,
		struct error *err)
{
	struct mbox_loc oloc, nloc;
	struct stat sb;
	size_t ol = strlen(oldname);
	int rc;

	if (mbox_name_is_inbox(newname)) {
		error_set(err, ERR_ALREADYEXISTS, "INBOX already exists");
		return -1;
	}
	if (mbox_name_check(newname, err) < 0)
		return -1;
	if (mbox_name_is_inbox(oldname)) {
		struct error e2;
		if (rename_inbox(st, newname, err) < 0)
			return -1;
		if (su_has(st, newname) && su_edit(st, SU_SET, newname, NULL, 0, &e2) < 0)
			log_warn("mbox: dropping the special use of %s: %s", newname, e2.msg);
		return 0;
	}
	if (below_inbox(oldname)) {
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
		return -1;
	}
	if (mbox_name_check(oldname, err) < 0)
		return -1;
	if (strcmp(oldname, newname) == 0) {
		error_set(err, ERR_ALREADYEXISTS, "Mailbox already exists");
		return -1;
	}
	if (strncmp(newname, oldname, ol) == 0 && newname[ol] == '/') {
		error_set(err, ERR_CANNOT, "Cannot move a mailbox into itself");
		return -1;
	}
	if (resolve_existing(st, oldname, &oloc, err) < 0)
		return -1;
	if (fstatat(oloc.dirfd, oloc.base, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode))) {
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
		mbox_loc_free(&oloc);
		return -1;
	}
	if (mbox_resolve(st, newname, 1, &nloc, err) < 0) {
		mbox_loc_free(&oloc);
		return -1;
	}
	/* A whole hierarchy moves with its directory. Sessions that have
	 * the old name selected see their messages vanish at next sync. */
	rc = rename_noreplace(oloc.dirfd, oloc.base, nloc.dirfd, nloc.base, err);
	if (rc == 0) {
		struct error e2;
		mbox_fsync_dir(nloc.dirfd);
		mbox_fsync_dir(oloc.dirfd);
		/* The special use goes with the mailbox (and with those below
		 * it). After a crash just before this, it stays behind. */
		if (su_edit(st, SU_RENAME, oldname, newname, 0, &e2) < 0)
			log_warn("mbox: moving the special use of %s: %s", oldname, e2.msg);
		/* Indexes are per name; the new name builds its own. */
		if (S_ISREG(sb.st_mode))
			mbox_index_forget(st, oloc.name);
	}
	mbox_loc_free(&oloc);
	mbox_loc_free(&nloc);
	return rc;
}
