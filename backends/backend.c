/* The backend registry, backend settings, and the store_*() / mailbox_*()
 * calls the protocol layer makes (backend.h). */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "../mail/keyword.h"
#include "../mail/search.h"

extern const struct backend_ops mbox_backend_ops;
extern const struct backend_ops fail_backend_ops;
#if HAVE_PGSQL
extern const struct backend_ops pgsql_backend_ops;
#endif

static const struct backend_ops *const backends[] = {
	&mbox_backend_ops,
	&fail_backend_ops,
#if HAVE_PGSQL
	&pgsql_backend_ops,
#endif
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/* The backend of the store this process opened (one per process). */
static const struct backend_ops *be;

/* The view and seq uid_to_seq found last: callers that go through a
 * view in order (FETCH and STORE of a set) ask for the next message, which
 * is tried before a binary search (17 calls of uid() a message in a
 * mailbox of 100,000; a tenth of a user worker's CPU in FETCH 1:*). */
static struct {
	const struct mailbox *mb;
	uint32_t seq;
} seq_hint;

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

/* ---- settings ------------------------------------------------------------ */

static const struct backend_setting *setting_find(const char *key)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		for (const struct backend_setting *s = backends[i]->settings; s && s->key; s++)
			if (strcmp(s->key, key) == 0)
				return s;
	return NULL;
}

int backend_settings_check(const struct config *cfg, struct error *err)
{
	for (size_t i = 0; i < cfg->nextra; i++) {
		const struct config_extra *x = &cfg->extra[i];
		const struct backend_setting *s;
		if (config_extra_role(x->key) != CONFIG_ROLE_WORKER)
			continue;
		if ((s = setting_find(x->key)) == NULL) {
			error_set(err, ERR_PARSE, "%s: unknown key \"%s\"", x->where, x->key);
			return -1;
		}
		if (setting_check(s, x->value, x->where, err) < 0)
			return -1;
	}
	return 0;
}

/* The setting of that name, which some backend must declare. */
static const struct backend_setting *setting_declared(const char *key)
{
	const struct backend_setting *s = setting_find(key);
	if (s == NULL)
		fatal("backend setting %s is not declared", key);
	return s;
}

const char *backend_setting_str(const struct config *cfg, const char *key)
{
	return setting_str(cfg, setting_declared(key));
}

long backend_setting_int(const struct config *cfg, const char *key)
{
	return setting_int(cfg, setting_declared(key));
}

int backend_setting_bool(const struct config *cfg, const char *key)
{
	return setting_bool(cfg, setting_declared(key));
}

/* ---- mailbox names -------------------------------------------------------- */

/* Strict UTF-8: no overlongs, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t need;
		unsigned cp, min;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int backend_name_check(const char *name, struct error *err)
{
	size_t len = strlen(name), depth = 0;
	const char *p = name;

	if (len == 0 || len > BACKEND_NAME_MAX) {
		error_set(err, ERR_CANNOT, "Invalid mailbox name length");
		return -1;
	}
	if (!utf8_valid((const unsigned char *)name, len)) {
		error_set(err, ERR_CANNOT, "Mailbox name is not valid UTF-8");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f) {
			error_set(err, ERR_CANNOT, "Mailbox name contains control characters");
			return -1;
		}
	}
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0) {
			error_set(err, ERR_CANNOT, "Mailbox name has an empty component");
			return -1;
		}
		if (p[0] == '.') {
			error_set(err, ERR_CANNOT, "Mailbox name components may not start with '.'");
			return -1;
		}
		if (n > 250) {   /* room for the ".lock" of a dotlock in NAME_MAX */
			error_set(err, ERR_CANNOT, "Mailbox name component too long");
			return -1;
		}
		if (n >= 5 && memcmp(p + n - 5, ".lock", 5) == 0) {
			error_set(err, ERR_CANNOT, "Mailbox names may not end in .lock");
			return -1;
		}
		if (++depth > BACKEND_DEPTH_MAX) {
			error_set(err, ERR_CANNOT, "Mailbox hierarchy too deep");
			return -1;
		}
		if (depth == 1 && slash && n == 5 && strncasecmp(p, "INBOX", 5) == 0) {
			error_set(err, ERR_CANNOT, "INBOX cannot have children");
			return -1;
		}
		if (!slash)
			break;
		p = slash + 1;
		if (*p == '\0') {
			error_set(err, ERR_CANNOT, "Mailbox name has an empty component");
			return -1;
		}
	}
	return 0;
}

/* ---- memory streams -------------------------------------------------------- */

struct mem_stream {
	struct msg_stream base;
	unsigned char *data;
};

static ssize_t mem_pread(struct msg_stream *s, void *buf, size_t n, uint64_t off)
{
	struct mem_stream *m = (struct mem_stream *)s;
	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	memcpy(buf, m->data + off, n);
	return (ssize_t)n;
}

static void mem_close(struct msg_stream *s)
{
	struct mem_stream *m = (struct mem_stream *)s;
	free(m->data);
	free(m);
}

static const struct msg_stream_ops mem_ops = {
	.pread = mem_pread,
	.close = mem_close,
};

struct msg_stream *msg_stream_from_memory(void *data, size_t len)
{
	struct mem_stream *m = xcalloc(1, sizeof(*m));
	m->base.ops = &mem_ops;
	m->base.size = len;
	m->data = data;
	return &m->base;
}

/* ---- store ------------------------------------------------------------------ */

#ifdef HAVEN_TEST_HOOKS
static char *test_home;   /* the user's of the store opened last */

static void test_home_set(const struct backend_user *u)
{
	free(test_home);
	test_home = u->home ? xstrdup(u->home) : NULL;
}

void backend_test_stop(const char *what)
{
	char *path;

	if (test_home == NULL)
		return;
	path = xasprintf("%s/.haven-test-stop-%s", test_home, what);
	if (unlink(path) == 0)
		raise(SIGSTOP);
	free(path);
}
#else
static void test_home_set(const struct backend_user *u)
{
	(void)u;
}

void backend_test_stop(const char *what)
{
	(void)what;
}
#endif

int store_open(const char *backend, const struct backend_user *u, const struct config *cfg,
	       struct store **out, struct error *err)
{
	const struct backend_ops *ops = backend_find(backend);
	if (ops == NULL) {
		error_set(err, ERR_INTERNAL, "unknown mail backend \"%s\"", backend);
		return -1;
	}
	if (ops->store_open(u, cfg, out, err) < 0)
		return -1;
	be = ops;
	test_home_set(u);
	return 0;
}

void store_close(struct store *st)
{
	be->store_close(st);
}

int store_reopen(struct store **st, const struct backend_user *u, const struct config *cfg,
		 struct error *err)
{
	test_home_set(u);
	if (be->store_reopen) {
		if (be->store_reopen(*st, u, cfg, err) == 0)
			return 0;
		*st = NULL;
		return -1;
	}
	be->store_close(*st);
	*st = NULL;
	return be->store_open(u, cfg, st, err);
}

int store_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err)
{
	return be->list(st, cb, ctx, err);
}

/* Where a store with ACLs shows other users' mailboxes, none of the
 * user's own may be made (it could never be reached). */
static int own_name_check(const char *name, struct error *err)
{
	const char *pre = STORE_ACL_OTHER_PREFIX;

	if (store_acl_supported() && strncmp(name, pre, strlen(pre) - 1) == 0 &&
	    (name[strlen(pre) - 1] == '/' || name[strlen(pre) - 1] == '\0')) {
		error_set(err, ERR_CANNOT, "Names below \"%.*s\" are other users' mailboxes",
			  (int)strlen(pre) - 1, pre);
		return -1;
	}
	return 0;
}

int store_create(struct store *st, const char *name, unsigned special_use, struct error *err)
{
	if (own_name_check(name, err) < 0)
		return -1;
	return be->create(st, name, special_use, err);
}

int store_delete(struct store *st, const char *name, struct error *err)
{
	struct error e2;

	if (be->delete(st, name, err) < 0)
		return -1;
	/* The mailbox is gone: entries left behind would only reach a new
	 * one of that name (RFC 5464 4.1 says they must not). */
	if (be->metadata_deleted && be->metadata_deleted(st, name, &e2) < 0)
		log_warn("metadata: dropping the entries of %s: %s", name, e2.msg);
	return 0;
}

int store_rename(struct store *st, const char *oldname, const char *newname, struct error *err)
{
	struct error e2;
	int inbox = strcasecmp(oldname, "INBOX") == 0;

	if (own_name_check(newname, err) < 0 || be->rename(st, oldname, newname, err) < 0)
		return -1;
	if (be->metadata_renamed &&
	    be->metadata_renamed(st, inbox ? "INBOX" : oldname, newname, inbox, &e2) < 0)
		log_warn("metadata: moving the entries of %s: %s", oldname, e2.msg);
	return 0;
}

int store_subscribe(struct store *st, const char *name, int on, struct error *err)
{
	return be->subscribe(st, name, on, err);
}

/* MAILBOXID for a store that keeps none of its own (backend.h). */
static void status_mailboxid(struct mailbox_status *s)
{
	if (s->mailboxid[0] == '\0')
		snprintf(s->mailboxid, sizeof(s->mailboxid), "F%08x", s->uidvalidity);
}

int store_status(struct store *st, const char *name, struct mailbox_status *out,
		 struct error *err)
{
	int rc = be->status(st, name, out, err);
	if (rc == 0)
		status_mailboxid(out);
	return rc;
}

int store_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
		       const char *const *keywords, size_t nkeywords, time_t internaldate,
		       int tz_minutes, struct appender **out, struct error *err)
{
	return be->append_begin(st, name, size, flags, keywords, nkeywords, internaldate,
				tz_minutes, out, err);
}

int store_append_write(struct appender *ap, const void *data, size_t len, struct error *err)
{
	return be->append_write(ap, data, len, err);
}

int store_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			struct error *err)
{
	return be->append_finish(ap, uidvalidity, uid, err);
}

void store_append_abort(struct appender *ap)
{
	be->append_abort(ap);
}

int store_append_finish_group(struct appender *const *aps, size_t n, uint32_t *uidvalidity,
			      uint32_t *uids, struct error *err)
{
	if (n == 1)
		return be->append_finish(aps[0], uidvalidity, &uids[0], err);
	if (n > 1 && be->append_finish_group)
		return be->append_finish_group(aps, n, uidvalidity, uids, err);
	for (size_t i = 0; i < n; i++)
		be->append_abort(aps[i]);
	error_set(err, ERR_NOTSUPPORTED, "This store cannot append several messages as one");
	return -1;
}

int store_append(struct store *st, const char *name, const void *msg, size_t len,
		 uint32_t flags, const char *const *keywords, size_t nkeywords,
		 time_t internaldate, int tz_minutes, uint32_t *uidvalidity, uint32_t *uid,
		 struct error *err)
{
	struct appender *ap;
	if (store_append_begin(st, name, len, flags, keywords, nkeywords, internaldate, tz_minutes,
			       &ap, err) < 0)
		return -1;
	if (store_append_write(ap, msg, len, err) < 0) {
		store_append_abort(ap);
		return -1;
	}
	return store_append_finish(ap, uidvalidity, uid, err);
}

int store_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		       uint32_t uidnext, unsigned flags, struct importer **out,
		       struct error *err)
{
	if (be->import_begin == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "The %s store cannot import", be->name);
		return -1;
	}
	if (uidvalidity == 0 || uidnext == 0) {
		error_set(err, ERR_CANNOT, "UIDVALIDITY and UIDNEXT must not be 0");
		return -1;
	}
	return be->import_begin(st, name, uidvalidity, uidnext, flags, out, err);
}

int store_import_message(struct importer *im, uint32_t uid, uint32_t flags,
			 const char *const *keywords, size_t nkeywords, time_t internaldate,
			 int tz_minutes, const void *msg, size_t len, struct error *err)
{
	for (size_t i = 0; i < nkeywords; i++) {
		if (!mail_keyword_valid(keywords[i], strlen(keywords[i]))) {
			error_set(err, ERR_CANNOT, "Invalid keyword \"%.100s\"", keywords[i]);
			return -1;
		}
	}
	return be->import_message(im, uid, flags & MF_ALL, keywords, nkeywords, internaldate,
				  tz_minutes, msg, len, err);
}

int store_import_finish(struct importer *im, struct error *err)
{
	return be->import_finish(im, err);
}

void store_import_abort(struct importer *im)
{
	be->import_abort(im);
}

int store_reindex(struct store *st, const char *name, struct error *err)
{
	return be->reindex ? be->reindex(st, name, err) : 1;
}

int store_can_search(void)
{
	return be->search != NULL;
}

/* ---- mailbox views ------------------------------------------------------------ */

int mailbox_select(struct store *st, const char *name, int readonly, struct mailbox **out,
		   struct mailbox_status *status, struct error *err)
{
	int rc = be->select(st, name, readonly, out, status, err);
	if (rc == 0)
		status_mailboxid(status);
	return rc;
}

void mailbox_close(struct mailbox *mb)
{
	if (seq_hint.mb == mb)
		seq_hint.mb = NULL;
	be->mailbox_close(mb);
}

uint32_t mailbox_count(struct mailbox *mb)
{
	return be->count(mb);
}

uint32_t mailbox_uid(struct mailbox *mb, uint32_t seq)
{
	return be->uid(mb, seq);
}

const struct msg_meta *mailbox_meta(struct mailbox *mb, uint32_t seq)
{
	return be->meta(mb, seq);
}

size_t mailbox_keywords(struct mailbox *mb, const char *const **names)
{
	return be->keywords(mb, names);
}

int mailbox_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err)
{
	return be->sync(mb, cb, ctx, err);
}

int mailbox_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
			 struct error *err)
{
	return be->open_message(mb, uid, out, err);
}

int mailbox_fetch_structure(struct mailbox *mb, uint32_t uid, struct arena *a,
			    struct mail_structure **out, struct error *err)
{
	if (be->fetch_structure == NULL)
		return 1;
	return be->fetch_structure(mb, uid, a, out, err);
}

int mailbox_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
			uint32_t flags, const char *const *keywords, size_t nkeywords,
			uint64_t unchangedsince, uint32_t *failed, size_t *nfailed,
			struct error *err)
{
	*nfailed = 0;
	if (n == 0)
		return 0;
	return be->store_flags(mb, uids, n, op, flags, keywords, nkeywords, unchangedsince,
			       failed, nfailed, err);
}

int mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err)
{
	return be->expunge(mb, uids, n, err);
}

int mailbox_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest,
		 int move, uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err)
{
	return be->copy(mb, uids, n, dest, move, dst_uidvalidity, dst_uids, err);
}

int mailbox_notify_fd(struct mailbox *mb)
{
	return be->notify_fd(mb);
}

int store_watch_fd(struct store *st)
{
	return be->watch_fd ? be->watch_fd(st) : -1;
}

uint64_t store_watch_changes(struct store *st)
{
	return be->watch_changes ? be->watch_changes(st) : 0;
}

int store_admin_fd(struct store *st)
{
	return be->admin_fd ? be->admin_fd(st) : -1;
}

int store_admin_take(struct store *st, char *buf, size_t size)
{
	return be->admin_take ? be->admin_take(st, buf, size) : 0;
}

int store_admin_answer(struct store *st, const char *nonce, const char *line,
		       struct error *err)
{
	if (be->admin_answer)
		return be->admin_answer(st, nonce, line, err);
	error_set(err, ERR_NOTSUPPORTED, "this store cannot answer haven-admin");
	return -1;
}

int store_tidy(struct store *st, struct error *err)
{
	return be->tidy ? be->tidy(st, err) : 0;
}

int mailbox_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		   uint8_t *result, struct error *err)
{
	if (be->search == NULL)
		return 1;
	return be->search(mb, p, ctx, result, err);
}

int mailbox_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	if (be->sort_fields == NULL)
		return 2;
	return be->sort_fields(mb, uid, out, err);
}

void mailbox_sort_fields_done(struct mailbox *mb)
{
	if (be->sort_fields_done)
		be->sort_fields_done(mb);
}

int mailbox_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	if (be->sort_keys == NULL)
		return 2;
	return be->sort_keys(mb, uid, out, err);
}

void mailbox_sort_keys_done(struct mailbox *mb)
{
	if (be->sort_keys_done)
		be->sort_keys_done(mb);
}

int mailbox_message_sha256(struct mailbox *mb, uint32_t uid, unsigned char out[32],
			   struct error *err)
{
	if (be->message_sha256 == NULL)
		return 1;
	return be->message_sha256(mb, uid, out, err);
}

uint32_t mailbox_uid_to_seq(struct mailbox *mb, uint32_t uid)
{
	uint32_t lo = 1, hi = be->count(mb);

	if (seq_hint.mb == mb && seq_hint.seq < hi && be->uid(mb, seq_hint.seq + 1) == uid)
		return ++seq_hint.seq;
	while (lo <= hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t u = be->uid(mb, mid);
		if (u == uid) {
			seq_hint.mb = mb;
			seq_hint.seq = mid;
			return mid;
		}
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return 0;
}

/* ---- Sieve scripts ------------------------------------------------------------ */

int store_sieve_name_check(const char *name, struct error *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > STORE_SIEVE_NAME_MAX) {
		error_set(err, ERR_CANNOT, "Script names are 1 to %d bytes long",
			  STORE_SIEVE_NAME_MAX);
		return -1;
	}
	if (!utf8_valid((const unsigned char *)name, len)) {
		error_set(err, ERR_CANNOT, "Script name is not valid UTF-8");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/') {
			error_set(err, ERR_CANNOT,
				  "Script names may not hold '/' or control characters");
			return -1;
		}
	}
	return 0;
}

/* The store keeps scripts (the backend has the operation), and the
 * names given are valid ones. */
static int sieve_usable(int have, const char *a, const char *b, struct error *err)
{
	if (!have) {
		error_set(err, ERR_NOTSUPPORTED, "This mail store keeps no Sieve scripts");
		return -1;
	}
	if (a && store_sieve_name_check(a, err) < 0)
		return -1;
	return b ? store_sieve_name_check(b, err) : 0;
}

int store_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err)
{
	if (sieve_usable(be->sieve_list != NULL, NULL, NULL, err) < 0)
		return -1;
	return be->sieve_list(st, cb, ctx, err);
}

int store_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err)
{
	if (sieve_usable(be->sieve_get != NULL, name, NULL, err) < 0)
		return -1;
	return be->sieve_get(st, name, out, err);
}

int store_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		    struct error *err)
{
	if (sieve_usable(be->sieve_put != NULL, name, NULL, err) < 0)
		return -1;
	return be->sieve_put(st, name, data, len, err);
}

int store_sieve_delete(struct store *st, const char *name, struct error *err)
{
	if (sieve_usable(be->sieve_delete != NULL, name, NULL, err) < 0)
		return -1;
	return be->sieve_delete(st, name, err);
}

int store_sieve_rename(struct store *st, const char *oldname, const char *newname,
		       struct error *err)
{
	if (sieve_usable(be->sieve_rename != NULL, oldname, newname, err) < 0)
		return -1;
	return be->sieve_rename(st, oldname, newname, err);
}

int store_sieve_activate(struct store *st, const char *name, struct error *err)
{
	if (sieve_usable(be->sieve_activate != NULL, name, NULL, err) < 0)
		return -1;
	return be->sieve_activate(st, name, err);
}

int store_sieve_active(struct store *st, struct buf *out, char **name, struct error *err)
{
	*name = NULL;
	if (sieve_usable(be->sieve_active != NULL, NULL, NULL, err) < 0)
		return -1;
	return be->sieve_active(st, out, name, err);
}

int store_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds,
			    struct error *err)
{
	size_t len = strlen(key);
	int bad = len == 0 || len > STORE_SIEVE_KEY_MAX;

	if (sieve_usable(be->sieve_reply_claim != NULL, NULL, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		bad |= key[i] <= ' ' || key[i] > '~';
	if (bad) {
		error_set(err, ERR_CANNOT, "Invalid reply key");
		return -1;
	}
	if (seconds == 0)
		return 1;
	return be->sieve_reply_claim(st, key, seconds, time(NULL), err);
}

/* ---- QUOTA (RFC 9208) ------------------------------------------------------ */

int store_quota_get(struct store *st, struct store_quota *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (be->quota_get == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "This store keeps no quota");
		return -1;
	}
	if (be->quota_get(st, out, err) < 0) {
		log_warn("quota of the store: %s", err->msg);
		return -1;
	}
	return 0;
}

/* (written so that nothing overflows, whatever the client announced) */
int store_quota_exceeded(const struct store_quota *q, uint64_t bytes, uint64_t messages)
{
	return (q->limit_bytes && (bytes > q->limit_bytes ||
				   q->used_bytes > q->limit_bytes - bytes)) ||
	       (q->limit_messages && (messages > q->limit_messages ||
				      q->used_messages > q->limit_messages - messages));
}

static int quota_user_usable(int settable, struct error *err)
{
	if (settable)
		return 0;
	error_set(err, ERR_CANNOT, "This store cannot change quota limits: they come from "
		  "the users' passdb records or the configuration");
	return -1;
}

int store_quota_settable(const struct store *st)
{
	(void)st;
	return be->quota_get_user != NULL && be->quota_set_user != NULL;
}

int store_quota_get_user(struct store *st, const char *login, struct store_quota *out,
			 struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (quota_user_usable(store_quota_settable(st), err) < 0)
		return -1;
	return be->quota_get_user(st, login, out, err);
}

int store_quota_set_user(struct store *st, const char *login, uint64_t limit_bytes,
			 uint64_t limit_messages, struct error *err)
{
	if (quota_user_usable(store_quota_settable(st), err) < 0)
		return -1;
	if (limit_bytes > INT64_MAX || limit_messages > INT64_MAX) {
		error_set(err, ERR_LIMIT, "Quota limit too large");
		return -1;
	}
	if (be->quota_set_user(st, login, limit_bytes, limit_messages, err) < 0) {
		log_warn("quota of %s: %s", login, err->msg);
		return -1;
	}
	return 0;
}

/* ---- METADATA ------------------------------------------------------------------ */

/* Length of the /private or /shared that entry begins with, or 0. */
static size_t metadata_scope_len(const char *entry)
{
	static const char *const scopes[] = { "/private", "/shared" };

	for (size_t i = 0; i < 2; i++) {
		size_t n = strlen(scopes[i]);
		if (strncmp(entry, scopes[i], n) == 0 && (entry[n] == '/' || entry[n] == '\0'))
			return n;
	}
	return 0;
}

static const char *metadata_entry_flaw(const char *entry, int root)
{
	size_t len = strlen(entry), scope = metadata_scope_len(entry);

	if (scope == 0)
		return "Entry names begin with /private or /shared";
	if (len > STORE_METADATA_ENTRY_MAX)
		return "Entry name too long";
	if (entry[len - 1] == '/' || strstr(entry, "//") != NULL)
		return "Entry names have no empty component";
	if (!root && len == scope)
		return "Entry name needs a component below /private or /shared";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)entry[i];
		if (c < 0x20 || c > 0x7e || c == '*' || c == '%' || (c >= 'A' && c <= 'Z'))
			return "Invalid character in entry name";
	}
	return NULL;
}

int store_metadata_entry_check(const char *entry, int root, struct error *err)
{
	const char *why = metadata_entry_flaw(entry, root);

	if (why) {
		error_set(err, ERR_CANNOT, "%s", why);
		return -1;
	}
	return 0;
}

static int metadata_usable(const char *mailbox, struct error *err)
{
	if (be->metadata_list == NULL || be->metadata_set == NULL) {
		error_set(err, ERR_NOTSUPPORTED, "This mail store keeps no metadata");
		return -1;
	}
	return mailbox[0] == '\0' ? 0 : backend_name_check(mailbox, err);
}

int store_metadata_list(struct store *st, const char *mailbox, const char *prefix,
			backend_metadata_cb cb, void *ctx, struct error *err)
{
	if (metadata_usable(mailbox, err) < 0 ||
	    (prefix[0] && store_metadata_entry_check(prefix, 1, err) < 0))
		return -1;
	return be->metadata_list(st, mailbox, prefix, cb, ctx, err);
}

int store_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		       size_t n, const struct metadata_limits *lim, struct error *err)
{
	if (metadata_usable(mailbox, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (store_metadata_entry_check(v[i].entry, 0, err) < 0)
			return -1;
	return be->metadata_set(st, mailbox, v, n, lim, err);
}

/* ---- ACL (RFC 4314) ------------------------------------------------------------ */

int store_acl_supported(void)
{
	return be && be->acl_list && be->acl_set && be->acl_delete && be->acl_myrights;
}

static int acl_usable(struct error *err)
{
	if (!store_acl_supported()) {
		error_set(err, ERR_NOTSUPPORTED, "This mail store keeps no access control lists");
		return -1;
	}
	return 0;
}

int store_acl_identifier_check(const char *identifier, struct error *err)
{
	size_t len = strlen(identifier);

	if (len == 0 || len > STORE_ACL_IDENTIFIER_MAX ||
	    !utf8_valid((const unsigned char *)identifier, len)) {
		error_set(err, ERR_PARSE, "Invalid identifier");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)identifier[i] <= 0x20 || identifier[i] == 0x7f) {
			error_set(err, ERR_PARSE, "Identifiers have no blanks or control characters");
			return -1;
		}
	if (identifier[0] == '-') {
		error_set(err, ERR_CANNOT, "Negative rights are not supported");
		return -1;
	}
	return 0;
}

int store_acl_list(struct store *st, const char *mailbox, backend_acl_cb cb, void *ctx,
		   struct error *err)
{
	if (acl_usable(err) < 0)
		return -1;
	return be->acl_list(st, mailbox, cb, ctx, err);
}

int store_acl_set(struct store *st, const char *mailbox, const char *identifier,
		  enum acl_mod mod, unsigned rights, struct error *err)
{
	if (acl_usable(err) < 0 || store_acl_identifier_check(identifier, err) < 0)
		return -1;
	return be->acl_set(st, mailbox, identifier, mod, rights & ACL_ALL, err);
}

int store_acl_delete(struct store *st, const char *mailbox, const char *identifier,
		     struct error *err)
{
	if (acl_usable(err) < 0 || store_acl_identifier_check(identifier, err) < 0)
		return -1;
	return be->acl_delete(st, mailbox, identifier, err);
}

int store_acl_myrights(struct store *st, const char *mailbox, unsigned *rights,
		       struct error *err)
{
	if (acl_usable(err) < 0)
		return -1;
	return be->acl_myrights(st, mailbox, rights, err);
}
