/* QUOTA (RFC 9208) for the PostgreSQL store. The triggers of 0001 keep
 * each user's used_bytes / used_messages, and haven.check_quota (0012)
 * refuses an APPEND or COPY that would pass the limit inside its own
 * transaction. A user whose row sets no limit gets the configured one
 * (quota_bytes, quota_messages): this connection's settings
 * haven.default_quota_bytes / haven.default_quota_messages, given at
 * connection start-up so that a reconnection keeps them.
 *
 * APPEND asks too before the client sends the message (a synchronizing
 * literal gets its NO [OVERQUOTA] instead of "+"), when the user had a
 * limit at store open: that answer is early, the one in the transaction
 * is the one that holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

/* A conninfo value, quoted (libpq: '...' with \' and \\). */
static void conninfo_value(struct buf *out, const char *v)
{
	buf_append_byte(out, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			buf_append_byte(out, '\\');
		buf_append_byte(out, *v);
	}
	buf_append_byte(out, '\'');
}

/* The dsn's parameters as keyword='value' pairs, with extra appended to
 * its options (the server's command-line style settings). */
static char *conninfo_with_options(PQconninfoOption *opts, const char *extra)
{
	struct buf out = BUF_INIT, o = BUF_INIT;
	char *s;

	for (PQconninfoOption *k = opts; k->keyword; k++) {
		if (strcmp(k->keyword, "options") == 0) {
			if (k->val && *k->val)
				buf_printf(&o, "%s ", k->val);
		} else if (k->val) {
			buf_printf(&out, "%s=", k->keyword);
			conninfo_value(&out, k->val);
			buf_append_byte(&out, ' ');
		}
	}
	buf_append_str(&o, extra);
	buf_append_byte(&o, '\0');
	buf_append_str(&out, "options=");
	conninfo_value(&out, o.data);
	buf_append_byte(&out, '\0');
	s = xstrdup(out.data);
	buf_free(&out);
	buf_free(&o);
	return s;
}

char *pg_quota_dsn(const char *dsn, const struct config *cfg)
{
	PQconninfoOption *opts;
	char extra[128];
	char *s;

	if (cfg->quota_bytes <= 0 && cfg->quota_messages <= 0)
		return xstrdup(dsn);
	if ((opts = PQconninfoParse(dsn, NULL)) == NULL)
		return xstrdup(dsn);   /* libpq says why when it connects */
	snprintf(extra, sizeof(extra), "-c haven.default_quota_bytes=%ld "
		 "-c haven.default_quota_messages=%ld", cfg->quota_bytes, cfg->quota_messages);
	s = conninfo_with_options(opts, extra);
	PQconninfoFree(opts);
	return s;
}

/* Usage and limits of the one user a PS_QUOTA_GET* statement selects
 * (gone: none is a user of the store). */
static int quota_row(struct store *st, enum pg_stmt stmt, struct pgp *p,
		     struct store_quota *out, struct error *err)
{
	PGresult *r;

	if (pgc_call(&st->db, stmt, p, 0, &r, err) < 0)
		return -1;
	if (PQntuples(r) != 1) {
		PQclear(r);
		if (stmt == PS_QUOTA_GET)
			error_set(err, ERR_UNAVAILABLE, "The user is gone from the mail store");
		else
			error_set(err, ERR_NONEXISTENT, "No such quota root");
		return -1;
	}
	out->used_bytes = (uint64_t)pg_i64(r, 0, 0);
	out->used_messages = (uint64_t)pg_i64(r, 0, 1);
	out->limit_bytes = (uint64_t)pg_i64(r, 0, 2);
	out->limit_messages = (uint64_t)pg_i64(r, 0, 3);
	PQclear(r);
	return 0;
}

int pg_quota_get(struct store *st, struct store_quota *out, struct error *err)
{
	struct pgp p;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	return quota_row(st, PS_QUOTA_GET, &p, out, err);
}

int pg_quota_get_user(struct store *st, const char *login, struct store_quota *out,
		      struct error *err)
{
	struct pgp p;

	pgp_init(&p);
	pgp_str(&p, login);
	return quota_row(st, PS_QUOTA_GET_USER, &p, out, err);
}

/* Both limits in one statement, so in one transaction. The look-up
 * first only gives an unknown login its NONEXISTENT (the set fails
 * then too, with a less telling error). */
int pg_quota_set_user(struct store *st, const char *login, uint64_t limit_bytes,
		      uint64_t limit_messages, struct error *err)
{
	struct store_quota q;
	struct pgp p;
	PGresult *r;

	if (pg_quota_get_user(st, login, &q, err) < 0)
		return -1;
	pgp_init(&p);
	pgp_str(&p, login);
	pgp_i64(&p, (int64_t)limit_bytes);
	pgp_i64(&p, (int64_t)limit_messages);
	if (pgc_call(&st->db, PS_QUOTA_SET_USER, &p, 0, &r, err) < 0) {
		if (err->code == ERR_NOPERM)
			error_set(err, ERR_NOPERM, "The mail store's database role may not set "
				  "quotas (sql/README.md: GRANT EXECUTE ON haven.set_quota and "
				  "haven.set_message_quota)");
		return -1;
	}
	PQclear(r);
	return 0;
}

static int pg_quota_precheck(struct store *st, uint64_t bytes, struct error *err)
{
	struct store_quota q;

	if (!st->quota_limited)
		return 0;
	if (pg_quota_get(st, &q, err) < 0)
		return -1;
	if (store_quota_exceeded(&q, bytes, 1)) {
		error_set(err, ERR_OVERQUOTA, "Quota exceeded (mailbox full)");
		return -1;
	}
	return 0;
}

/* An import (pg_import.c) is the administrator's and is not held to the
 * quota, as haven.import_message is not: it calls pg_append_begin. */
int pg_quota_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
			  const char *const *keywords, size_t nkeywords, time_t internaldate,
			  int tz_minutes, struct appender **out, struct error *err)
{
	if (pg_quota_precheck(st, size, err) < 0)
		return -1;
	return pg_append_begin(st, name, size, flags, keywords, nkeywords, internaldate,
			       tz_minutes, out, err);
}
