/* The fail backend: another backend with errors injected on demand.
 *
 * mail_backend = fail stores through fail_backend (mbox by default) and
 * makes any operation named in the file fail_control fail with fail_code
 * (the file is read at every call, so a test switches failures on and off
 * while sessions run). It holds the protocol layer to the contract every
 * real backend has, whatever it is: a failed operation is a NO with a
 * response code, the session goes on, nothing half-done is visible.
 *
 * fail_control lists operation names (the members of struct backend_ops,
 * e.g. "append_finish select sync"), separated by blanks or newlines; "*"
 * fails all of them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../backend.h"

struct store {
	const struct backend_ops *inner;
	struct store *st;          /* the inner backend's store */
	char *control;
	enum error_code code;
};

struct mailbox {
	struct store *fs;
	struct mailbox *mb;        /* the inner backend's view */
};

struct appender {
	struct store *fs;
	struct appender *ap;
};

static const struct {
	const char *name;
	enum error_code code;
} codes[] = {
	{ "unavailable", ERR_UNAVAILABLE }, { "internal", ERR_INTERNAL },
	{ "overquota", ERR_OVERQUOTA },     { "limit", ERR_LIMIT },
	{ "inuse", ERR_INUSE },             { "noperm", ERR_NOPERM },
};

static const struct backend_setting fail_settings[] = {
	{ "fail_backend", BS_STR, "mbox", 0, 0, "the backend that really stores (fail backend, tests only)" },
	{ "fail_control", BS_STR, "", 0, 0, "file naming the operations that fail (fail backend)" },
	{ "fail_code", BS_STR, "unavailable", 0, 0, "how they fail: unavailable, internal, overquota, limit, inuse, noperm" },
	{ NULL, BS_STR, NULL, 0, 0, NULL },
};

/* Is op listed in the control file now? */
static int failing(const struct store *fs, const char *op)
{
	char text[4096];
	ssize_t n;
	int fd;

	if (fs->control[0] == '\0' || (fd = open(fs->control, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	for (char *save = NULL, *w = strtok_r(text, " \t\r\n", &save); w;
	     w = strtok_r(NULL, " \t\r\n", &save))
		if (strcmp(w, op) == 0 || strcmp(w, "*") == 0)
			return 1;
	return 0;
}

static int fail(const struct store *fs, const char *op, struct error *err)
{
	if (!failing(fs, op))
		return 0;
	error_set(err, fs->code, "Injected failure of %s", op);
	log_info("fail backend: %s fails (injected)", op);
	return 1;
}

static int f_store_open(const struct backend_user *u, const struct config *cfg,
			struct store **out, struct error *err)
{
	const char *inner = backend_setting_str(cfg, "fail_backend");
	const char *code = backend_setting_str(cfg, "fail_code");
	struct store *fs = xcalloc(1, sizeof(*fs));

	fs->inner = backend_find(inner);
	fs->code = ERR_UNAVAILABLE;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, code) == 0)
			fs->code = codes[i].code;
	if (fs->inner == NULL || strcmp(inner, "fail") == 0) {
		error_set(err, ERR_INTERNAL, "fail_backend: unknown backend \"%s\"", inner);
		free(fs);
		return -1;
	}
	fs->control = xstrdup(backend_setting_str(cfg, "fail_control"));
	if (fail(fs, "store_open", err) || fs->inner->store_open(u, cfg, &fs->st, err) < 0) {
		free(fs->control);
		free(fs);
		return -1;
	}
	*out = fs;
	return 0;
}

static void f_store_close(struct store *fs)
{
	fs->inner->store_close(fs->st);
	free(fs->control);
	free(fs);
}

#define FAIL_OR(fs, op, err, call) (fail(fs, op, err) ? -1 : (call))

static int f_list(struct store *fs, backend_list_cb cb, void *ctx, struct error *err)
{
	return FAIL_OR(fs, "list", err, fs->inner->list(fs->st, cb, ctx, err));
}

static int f_create(struct store *fs, const char *name, unsigned use, struct error *err)
{
	return FAIL_OR(fs, "create", err, fs->inner->create(fs->st, name, use, err));
}

static int f_delete(struct store *fs, const char *name, struct error *err)
{
	return FAIL_OR(fs, "delete", err, fs->inner->delete(fs->st, name, err));
}

static int f_rename(struct store *fs, const char *from, const char *to, struct error *err)
{
	return FAIL_OR(fs, "rename", err, fs->inner->rename(fs->st, from, to, err));
}

static int f_subscribe(struct store *fs, const char *name, int on, struct error *err)
{
	return FAIL_OR(fs, "subscribe", err, fs->inner->subscribe(fs->st, name, on, err));
}

static int f_status(struct store *fs, const char *name, struct mailbox_status *out,
		    struct error *err)
{
	return FAIL_OR(fs, "status", err, fs->inner->status(fs->st, name, out, err));
}

static int f_append_begin(struct store *fs, const char *name, uint64_t size, uint32_t flags,
			  const char *const *kw, size_t nkw, time_t date, int tz,
			  struct appender **out, struct error *err)
{
	struct appender *ap;
	if (fail(fs, "append_begin", err))
		return -1;
	ap = xcalloc(1, sizeof(*ap));
	ap->fs = fs;
	if (fs->inner->append_begin(fs->st, name, size, flags, kw, nkw, date, tz, &ap->ap, err) < 0) {
		free(ap);
		return -1;
	}
	*out = ap;
	return 0;
}

static int f_append_write(struct appender *ap, const void *data, size_t len, struct error *err)
{
	return FAIL_OR(ap->fs, "append_write", err, ap->fs->inner->append_write(ap->ap, data, len, err));
}

static void f_append_abort(struct appender *ap)
{
	ap->fs->inner->append_abort(ap->ap);
	free(ap);
}

static int f_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			   struct error *err)
{
	int rc;
	if (fail(ap->fs, "append_finish", err)) {
		f_append_abort(ap);
		return -1;
	}
	rc = ap->fs->inner->append_finish(ap->ap, uidvalidity, uid, err);
	free(ap);
	return rc;
}

/* MULTIAPPEND: the inner appenders go to the inner group finish. */
static int f_append_finish_group(struct appender *const *aps, size_t n, uint32_t *uidvalidity,
				 uint32_t *uids, struct error *err)
{
	struct appender **inner = xreallocarray(NULL, n, sizeof(*inner));
	const struct backend_ops *ops = aps[0]->fs->inner;
	int failed = fail(aps[0]->fs, "append_finish_group", err), rc = -1;

	for (size_t i = 0; i < n; i++) {
		inner[i] = aps[i]->ap;
		free(aps[i]);
	}
	if (failed || ops->append_finish_group == NULL) {
		if (!failed)
			error_set(err, ERR_NOTSUPPORTED, "No MULTIAPPEND in this store");
		for (size_t i = 0; i < n; i++)
			ops->append_abort(inner[i]);
	} else {
		rc = ops->append_finish_group(inner, n, uidvalidity, uids, err);
	}
	free(inner);
	return rc;
}

static int f_select(struct store *fs, const char *name, int readonly, struct mailbox **out,
		    struct mailbox_status *status, struct error *err)
{
	struct mailbox *mb;
	if (fail(fs, "select", err))
		return -1;
	mb = xcalloc(1, sizeof(*mb));
	mb->fs = fs;
	if (fs->inner->select(fs->st, name, readonly, &mb->mb, status, err) < 0) {
		free(mb);
		return -1;
	}
	*out = mb;
	return 0;
}

static void f_mailbox_close(struct mailbox *mb)
{
	mb->fs->inner->mailbox_close(mb->mb);
	free(mb);
}

static uint32_t f_count(struct mailbox *mb)
{
	return mb->fs->inner->count(mb->mb);
}

static uint32_t f_uid(struct mailbox *mb, uint32_t seq)
{
	return mb->fs->inner->uid(mb->mb, seq);
}

/* A message whose metadata cannot be had looks gone (backend.h). */
static const struct msg_meta *f_meta(struct mailbox *mb, uint32_t seq)
{
	return failing(mb->fs, "meta") ? NULL : mb->fs->inner->meta(mb->mb, seq);
}

static size_t f_keywords(struct mailbox *mb, const char *const **names)
{
	return mb->fs->inner->keywords(mb->mb, names);
}

static int f_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err)
{
	return FAIL_OR(mb->fs, "sync", err, mb->fs->inner->sync(mb->mb, cb, ctx, err));
}

static int f_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
			  struct error *err)
{
	return FAIL_OR(mb->fs, "open_message", err,
		       mb->fs->inner->open_message(mb->mb, uid, out, err));
}

static int f_fetch_structure(struct mailbox *mb, uint32_t uid, struct arena *a,
			     struct mail_structure **out, struct error *err)
{
	if (fail(mb->fs, "fetch_structure", err))
		return -1;
	if (mb->fs->inner->fetch_structure == NULL)
		return 1;
	return mb->fs->inner->fetch_structure(mb->mb, uid, a, out, err);
}

static int f_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
			 uint32_t flags, const char *const *kw, size_t nkw, uint64_t since,
			 uint32_t *failed, size_t *nfailed, struct error *err)
{
	return FAIL_OR(mb->fs, "store_flags", err,
		       mb->fs->inner->store_flags(mb->mb, uids, n, op, flags, kw, nkw, since,
						  failed, nfailed, err));
}

static int f_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err)
{
	return FAIL_OR(mb->fs, "expunge", err, mb->fs->inner->expunge(mb->mb, uids, n, err));
}

static int f_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest, int move,
		  uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err)
{
	return FAIL_OR(mb->fs, "copy", err,
		       mb->fs->inner->copy(mb->mb, uids, n, dest, move, dst_uidvalidity, dst_uids,
					   err));
}

static int f_notify_fd(struct mailbox *mb)
{
	return mb->fs->inner->notify_fd(mb->mb);
}

static int f_watch_fd(struct store *fs)
{
	return fs->inner->watch_fd ? fs->inner->watch_fd(fs->st) : -1;
}

static uint64_t f_watch_changes(struct store *fs)
{
	return fs->inner->watch_changes ? fs->inner->watch_changes(fs->st) : 0;
}

/* haven-admin's requests pass through untouched: no failure to inject. */
static int f_admin_fd(struct store *fs)
{
	return fs->inner->admin_fd ? fs->inner->admin_fd(fs->st) : -1;
}

static int f_admin_take(struct store *fs, char *buf, size_t size)
{
	return fs->inner->admin_take ? fs->inner->admin_take(fs->st, buf, size) : 0;
}

static int f_admin_answer(struct store *fs, const char *nonce, const char *line,
			  struct error *err)
{
	if (fs->inner->admin_answer)
		return fs->inner->admin_answer(fs->st, nonce, line, err);
	error_set(err, ERR_NOTSUPPORTED, "this store cannot answer haven-admin");
	return -1;
}

static int f_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		    uint8_t *result, struct error *err)
{
	if (fail(mb->fs, "search", err))
		return -1;
	if (mb->fs->inner->search == NULL)
		return 1;
	return mb->fs->inner->search(mb->mb, p, ctx, result, err);
}

/* QUOTA (RFC 9208) */
static int f_quota_get(struct store *fs, struct store_quota *out, struct error *err)
{
	if (fail(fs, "quota_get", err))
		return -1;
	if (fs->inner->quota_get == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "This store keeps no quota");
		return -1;
	}
	return fs->inner->quota_get(fs->st, out, err);
}

static int f_quota_get_user(struct store *fs, const char *login, struct store_quota *out,
			    struct error *err)
{
	if (fail(fs, "quota_get_user", err))
		return -1;
	if (fs->inner->quota_get_user == NULL) {
		error_set(err, ERR_CANNOT, "This store cannot change quota limits");
		return -1;
	}
	return fs->inner->quota_get_user(fs->st, login, out, err);
}

static int f_quota_set_user(struct store *fs, const char *login, uint64_t limit_bytes,
			    uint64_t limit_messages, struct error *err)
{
	if (fail(fs, "quota_set_user", err))
		return -1;
	if (fs->inner->quota_set_user == NULL) {
		error_set(err, ERR_CANNOT, "This store cannot change quota limits");
		return -1;
	}
	return fs->inner->quota_set_user(fs->st, login, limit_bytes, limit_messages, err);
}

/* ---- METADATA (RFC 5464) ---- */

static int f_metadata_inner(const struct store *fs, const char *op, struct error *err)
{
	if (fs->inner->metadata_list == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "This mail store keeps no metadata");
		return -1;
	}
	return fail(fs, op, err) ? -1 : 0;
}

static int f_metadata_list(struct store *fs, const char *mailbox, const char *prefix,
			   backend_metadata_cb cb, void *ctx, struct error *err)
{
	if (f_metadata_inner(fs, "metadata_list", err) < 0)
		return -1;
	return fs->inner->metadata_list(fs->st, mailbox, prefix, cb, ctx, err);
}

static int f_metadata_set(struct store *fs, const char *mailbox,
			  const struct metadata_change *v, size_t n,
			  const struct metadata_limits *lim, struct error *err)
{
	if (f_metadata_inner(fs, "metadata_set", err) < 0)
		return -1;
	return fs->inner->metadata_set(fs->st, mailbox, v, n, lim, err);
}

static int f_metadata_deleted(struct store *fs, const char *name, struct error *err)
{
	if (fs->inner->metadata_deleted == NULL)
		return 0;
	return fs->inner->metadata_deleted(fs->st, name, err);
}

static int f_metadata_renamed(struct store *fs, const char *from, const char *to, int copy,
			      struct error *err)
{
	if (fs->inner->metadata_renamed == NULL)
		return 0;
	return fs->inner->metadata_renamed(fs->st, from, to, copy, err);
}

/* SORT/THREAD */
static int f_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	if (fail(mb->fs, "sort_fields", err))
		return -1;
	if (mb->fs->inner->sort_fields == NULL)
		return 2;
	return mb->fs->inner->sort_fields(mb->mb, uid, out, err);
}

static void f_sort_fields_done(struct mailbox *mb)
{
	if (mb->fs->inner->sort_fields_done)
		mb->fs->inner->sort_fields_done(mb->mb);
}

static int f_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	if (fail(mb->fs, "sort_keys", err))
		return -1;
	if (mb->fs->inner->sort_keys == NULL)
		return 2;
	return mb->fs->inner->sort_keys(mb->mb, uid, out, err);
}

static void f_sort_keys_done(struct mailbox *mb)
{
	if (mb->fs->inner->sort_keys_done)
		mb->fs->inner->sort_keys_done(mb->mb);
}

/* OBJECTID */
static int f_message_sha256(struct mailbox *mb, uint32_t uid, unsigned char out[32],
			    struct error *err)
{
	if (fail(mb->fs, "message_sha256", err))
		return -1;
	if (mb->fs->inner->message_sha256 == NULL)
		return 1;
	return mb->fs->inner->message_sha256(mb->mb, uid, out, err);
}

/* ACL: the inner store's, or ERR_NOTSUPPORTED when it keeps none. */
static int f_acl_inner(const struct store *fs, const char *op, struct error *err)
{
	if (fs->inner->acl_list == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "This mail store keeps no access control lists");
		return -1;
	}
	return fail(fs, op, err) ? -1 : 0;
}

static int f_acl_list(struct store *fs, const char *mailbox, backend_acl_cb cb, void *ctx,
		      struct error *err)
{
	if (f_acl_inner(fs, "acl_list", err) < 0)
		return -1;
	return fs->inner->acl_list(fs->st, mailbox, cb, ctx, err);
}

static int f_acl_set(struct store *fs, const char *mailbox, const char *identifier,
		     enum acl_mod mod, unsigned rights, struct error *err)
{
	if (f_acl_inner(fs, "acl_set", err) < 0)
		return -1;
	return fs->inner->acl_set(fs->st, mailbox, identifier, mod, rights, err);
}

static int f_acl_delete(struct store *fs, const char *mailbox, const char *identifier,
			struct error *err)
{
	if (f_acl_inner(fs, "acl_delete", err) < 0)
		return -1;
	return fs->inner->acl_delete(fs->st, mailbox, identifier, err);
}

static int f_acl_myrights(struct store *fs, const char *mailbox, unsigned *rights,
			  struct error *err)
{
	if (f_acl_inner(fs, "acl_myrights", err) < 0)
		return -1;
	return fs->inner->acl_myrights(fs->st, mailbox, rights, err);
}

/* deferred work */
static int f_tidy(struct store *fs, struct error *err)
{
	if (fail(fs, "tidy", err))
		return -1;
	return fs->inner->tidy ? fs->inner->tidy(fs->st, err) : 0;
}

const struct backend_ops fail_backend_ops = {
	.name = "fail",
	.settings = fail_settings,
	.store_open = f_store_open,
	.store_close = f_store_close,
	.list = f_list,
	.create = f_create,
	.delete = f_delete,
	.rename = f_rename,
	.subscribe = f_subscribe,
	.status = f_status,
	.append_begin = f_append_begin,
	.append_write = f_append_write,
	.append_finish = f_append_finish,
	.append_abort = f_append_abort,
	.select = f_select,
	.mailbox_close = f_mailbox_close,
	.count = f_count,
	.uid = f_uid,
	.meta = f_meta,
	.keywords = f_keywords,
	.sync = f_sync,
	.open_message = f_open_message,
	.fetch_structure = f_fetch_structure,
	.store_flags = f_store_flags,
	.expunge = f_expunge,
	.copy = f_copy,
	.notify_fd = f_notify_fd,
	.search = f_search,
	/* QUOTA (RFC 9208) */
	.quota_get = f_quota_get,
	/* METADATA (RFC 5464) */
	.metadata_list = f_metadata_list,
	.metadata_set = f_metadata_set,
	.metadata_deleted = f_metadata_deleted,
	.metadata_renamed = f_metadata_renamed,
	/* NOTIFY */
	.watch_fd = f_watch_fd,
	.watch_changes = f_watch_changes,
	/* MULTIAPPEND */
	.append_finish_group = f_append_finish_group,
	/* SORT/THREAD */
	.sort_fields = f_sort_fields,
	.sort_fields_done = f_sort_fields_done,
	/* OBJECTID */
	.message_sha256 = f_message_sha256,
	/* QUOTA for an administrator */
	.quota_get_user = f_quota_get_user,
	.quota_set_user = f_quota_set_user,
	/* ACL */
	.acl_list = f_acl_list,
	.acl_set = f_acl_set,
	.acl_delete = f_acl_delete,
	.acl_myrights = f_acl_myrights,
	/* SORT/THREAD keys kept across sessions */
	.sort_keys = f_sort_keys,
	.sort_keys_done = f_sort_keys_done,
	/* deferred work */
	.tidy = f_tidy,
	/* haven-admin who/kick across hosts */
	.admin_fd = f_admin_fd,
	.admin_take = f_admin_take,
	.admin_answer = f_admin_answer,
};
