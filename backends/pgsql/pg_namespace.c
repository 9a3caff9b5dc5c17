/* Mailbox names: LIST, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS.
 * Hierarchy levels without a mailbox of their own are rows with noselect
 * set (made by CREATE of a child, kept by DELETE of a parent), so LIST
 * needs nothing but the user's rows. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

static const struct {
	const char *name;
	unsigned bit;
} special_uses[] = {
	{ "\\Drafts", MA_DRAFTS }, { "\\Sent", MA_SENT },       { "\\Trash", MA_TRASH },
	{ "\\Junk", MA_JUNK },     { "\\Archive", MA_ARCHIVE },
};
#define NSPECIAL (sizeof(special_uses) / sizeof(special_uses[0]))

/* Special-use bits of a text[] value as PostgreSQL writes it. */
static unsigned special_use_bits(const char *arr)
{
	unsigned bits = 0;
	for (size_t i = 0; i < NSPECIAL; i++) {
		/* elements are written "\\Sent" (quoted, backslash escaped) */
		const char *n = special_uses[i].name + 1;
		const char *p = arr;
		while ((p = strcasestr(p, n)) != NULL) {
			size_t l = strlen(n);
			if (p[l] == '"' || p[l] == ',' || p[l] == '}') {
				bits |= special_uses[i].bit;
				break;
			}
			p += l;
		}
	}
	return bits;
}

/* The names every backend refuses, and "INBOX" spelled otherwise. */
static int name_check(const char *name, struct error *err)
{
	return backend_name_check(name, err);
}

/* ---- LIST ---------------------------------------------------------------- */

struct lrow {
	const char *name;
	unsigned attrs;
};

static int lrow_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lrow *)a)->name, ((const struct lrow *)b)->name);
}

static struct lrow *lrow_find(struct lrow *v, size_t n, const char *name)
{
	struct lrow key = { name, 0 };
	return bsearch(&key, v, n, sizeof(*v), lrow_cmp);
}

/* \HasChildren on every parent, \HasNoChildren on the rest. */
static void mark_children(struct lrow *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(v[i].name, '/');
		if (slash == NULL)
			continue;
		char *parent = xstrndup(v[i].name, (size_t)(slash - v[i].name));
		struct lrow *p = lrow_find(v, n, parent);
		if (p)
			p->attrs |= MA_HASCHILDREN;
		free(parent);
	}
	for (size_t i = 0; i < n; i++)
		if (!(v[i].attrs & MA_HASCHILDREN))
			v[i].attrs |= MA_HASNOCHILDREN;
}

int pg_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err)
{
	PGresult *r;
	struct pgp p;
	struct lrow *v;
	size_t n = 0;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	if (pgc_call(&st->db, PS_LIST, &p, 0, &r, err) < 0)
		return -1;
	v = xreallocarray(NULL, (size_t)PQntuples(r) + 1, sizeof(*v));
	for (int i = 0; i < PQntuples(r); i++) {
		if (pg_str(r, i, 4)[0] != 't') {
			cb(ctx, pg_str(r, i, 0), MA_SUBSCRIBED | MA_NONEXISTENT | MA_NOSELECT);
			continue;
		}
		v[n].name = pg_str(r, i, 0);
		v[n++].attrs = (pg_str(r, i, 1)[0] == 't' ? MA_NOSELECT : 0) |
			       (pg_str(r, i, 3)[0] == 't' ? MA_SUBSCRIBED : 0) |
			       special_use_bits(pg_str(r, i, 2));
	}
	qsort(v, n, sizeof(*v), lrow_cmp);
	mark_children(v, n);
	for (size_t i = 0; i < n; i++)
		cb(ctx, v[i].name, v[i].attrs | (strcmp(v[i].name, "INBOX") == 0 ? MA_NOINFERIORS : 0));
	free(v);
	PQclear(r);
	return 0;
}

/* ---- CREATE, DELETE, RENAME, SUBSCRIBE ------------------------------------ */

int pg_create(struct store *st, const char *name, unsigned special_use, struct error *err)
{
	size_t len = strlen(name);
	int level = len > 1 && name[len - 1] == '/';
	char *n = level ? xstrndup(name, len - 1) : xstrdup(name);
	const char *uses[NSPECIAL];
	size_t nuses = 0;
	struct buf arr = BUF_INIT;
	struct pgp p;
	PGresult *r;
	int rc = -1;

	if (special_use & (MA_ALL | MA_FLAGGED)) {
		error_set(err, ERR_NOTSUPPORTED, "\\All and \\Flagged need virtual mailboxes");
		goto out;
	}
	if (special_use && level) {
		error_set(err, ERR_NOTSUPPORTED,
			  "A special use needs a mailbox that holds messages, not a hierarchy level");
		goto out;
	}
	if (name_check(n, err) < 0)
		goto out;
	for (size_t i = 0; i < NSPECIAL; i++)
		if (special_use & special_uses[i].bit)
			uses[nuses++] = special_uses[i].name;
	pg_text_array(&arr, uses, nuses);
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, n);
	pgp_array(&p, arr.data);
	pgp_bool(&p, level);
	if (pgc_call(&st->db, PS_CREATE, &p, 0, &r, err) == 0) {
		PQclear(r);
		rc = 0;
	}
out:
	buf_free(&arr);
	free(n);
	return rc;
}

static int call_names(struct store *st, enum pg_stmt s, const char *a, const char *b,
		      struct error *err)
{
	struct pgp p;
	PGresult *r;
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, a);
	if (b)
		pgp_str(&p, b);
	if (pgc_call(&st->db, s, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

int pg_delete(struct store *st, const char *name, struct error *err)
{
	return call_names(st, PS_DELETE, name, NULL, err);
}

int pg_rename(struct store *st, const char *oldname, const char *newname, struct error *err)
{
	if (name_check(newname, err) < 0)
		return -1;
	if (strcmp(oldname, newname) == 0) {
		error_set(err, ERR_ALREADYEXISTS, "Mailbox already exists");
		return -1;
	}
	return call_names(st, PS_RENAME, oldname, newname, err);
}

int pg_subscribe(struct store *st, const char *name, int on, struct error *err)
{
	struct pgp p;
	PGresult *r;
	if (name_check(name, err) < 0)
		return -1;
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, name);
	pgp_bool(&p, on);
	if (pgc_call(&st->db, PS_SUBSCRIBE, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

/* ---- STATUS: the mailbox row's counters, no message is read -------------- */

int pg_status(struct store *st, const char *name, struct mailbox_status *out,
	      struct error *err)
{
	struct pgp p;
	PGresult *r;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, name);
	if (pgc_call(&st->db, PS_STATUS, &p, 0, &r, err) < 0)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		error_set(err, ERR_NONEXISTENT, "Mailbox does not exist");
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->messages = (uint32_t)pg_i64(r, 0, 0);
	out->uidnext = (uint32_t)pg_i64(r, 0, 1);
	out->uidvalidity = (uint32_t)pg_i64(r, 0, 2);
	out->unseen = (uint32_t)pg_i64(r, 0, 3);
	out->highestmodseq = (uint64_t)pg_i64(r, 0, 4);
	out->size = (uint64_t)pg_i64(r, 0, 5);
	out->recent = (uint32_t)pg_i64(r, 0, 7);
	pg_mailboxid(out, pg_i64(r, 0, 8));
	PQclear(r);
	return 0;
}
