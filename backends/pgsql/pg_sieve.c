/* Sieve scripts of the PostgreSQL store: rows of haven.sieve_scripts
 * (sql/migrations/0009-sieve.sql). Every change is one call of a function
 * there, one transaction: atomic whatever happens to the worker. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

/* Statement s with the user's id and n (0..2) names, a NULL name an SQL
 * NULL; *r its rows (r NULL: the caller wants none). */
static int sieve_call(struct store *st, enum pg_stmt s, int n, const char *a, const char *b,
		      PGresult **r, struct error *err)
{
	struct pgp p;
	PGresult *res;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	if (n > 0)
		pgp_str(&p, a);
	if (n > 1)
		pgp_str(&p, b);
	if (pgc_call(&st->db, s, &p, 0, &res, err) < 0)
		return -1;
	if (r)
		*r = res;
	else
		PQclear(res);
	return 0;
}

int pg_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err)
{
	PGresult *r;

	if (sieve_call(st, PS_SIEVE_LIST, 0, NULL, NULL, &r, err) < 0)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		cb(ctx, pg_str(r, i, 0), pg_str(r, i, 1)[0] == 't');
	PQclear(r);
	return 0;
}

/* The text of column col of r's first row into out, bounded by the limit
 * (a row an administrator wrote may be bigger than a client may store). */
static int script_text(struct store *st, PGresult *r, int col, struct buf *out,
		       struct error *err)
{
	size_t len = (size_t)PQgetlength(r, 0, col);

	if (len > (size_t)st->sieve_max_size) {
		error_set(err, ERR_LIMIT, "Script larger than sieve_max_script_size");
		return -1;
	}
	buf_append(out, pg_str(r, 0, col), len);
	return 0;
}

int pg_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err)
{
	PGresult *r;
	int rc = -1;

	if (sieve_call(st, PS_SIEVE_GET, 1, name, NULL, &r, err) < 0)
		return -1;
	if (PQntuples(r) == 0)
		error_set(err, ERR_NONEXISTENT, "No such script");
	else
		rc = script_text(st, r, 0, out, err);
	PQclear(r);
	return rc;
}

int pg_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		 struct error *err)
{
	struct pgp p;
	PGresult *r;

	if (len > (size_t)st->sieve_max_size) {
		error_set(err, ERR_OVERQUOTA, "Script larger than %ld bytes", st->sieve_max_size);
		return -1;
	}
	if (memchr(data, '\0', len) != NULL) {
		error_set(err, ERR_CANNOT, "A script may not hold NUL bytes");
		return -1;
	}
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, name);
	pgp_bytes(&p, data, len);   /* text in binary format: the bytes as they are */
	pgp_i64(&p, st->sieve_max_scripts);
	if (pgc_call(&st->db, PS_SIEVE_PUT, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

int pg_sieve_delete(struct store *st, const char *name, struct error *err)
{
	return sieve_call(st, PS_SIEVE_DELETE, 1, name, NULL, NULL, err);
}

int pg_sieve_rename(struct store *st, const char *oldname, const char *newname,
		    struct error *err)
{
	return sieve_call(st, PS_SIEVE_RENAME, 2, oldname, newname, NULL, err);
}

int pg_sieve_activate(struct store *st, const char *name, struct error *err)
{
	return sieve_call(st, PS_SIEVE_ACTIVATE, 1, name, NULL, NULL, err);  /* NULL: none */
}

int pg_sieve_active(struct store *st, struct buf *out, char **name, struct error *err)
{
	PGresult *r;
	int rc = 0;

	if (sieve_call(st, PS_SIEVE_ACTIVE, 0, NULL, NULL, &r, err) < 0)
		return -1;
	if (PQntuples(r) > 0) {
		rc = script_text(st, r, 1, out, err);
		if (rc == 0)
			*name = xstrdup(pg_str(r, 0, 0));
	}
	PQclear(r);
	return rc;
}

/* The database's clock decides expiry (every host of a cluster agrees). */
int pg_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds, time_t now,
			 struct error *err)
{
	struct pgp p;
	PGresult *r;
	int fresh;

	(void)now;
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, key);
	pgp_i64(&p, (int64_t)seconds);
	if (pgc_call(&st->db, PS_SIEVE_REPLY, &p, 0, &r, err) < 0)
		return -1;
	fresh = pg_str(r, 0, 0)[0] == 't';
	PQclear(r);
	return fresh;
}
