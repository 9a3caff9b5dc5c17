/* METADATA (RFC 5464) of the PostgreSQL store: rows of haven.metadata
 * (sql/migrations/0013-metadata.sql). A SETMETADATA is one call of
 * haven.metadata_set, one statement: all or nothing. Entries hang off the
 * mailbox's row, so DELETE and RENAME need nothing from here but the
 * copy a RENAME INBOX makes. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

int pg_metadata_list(struct store *st, const char *mailbox, const char *prefix,
		     backend_metadata_cb cb, void *ctx, struct error *err)
{
	struct pgp p;
	PGresult *r;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, mailbox);
	pgp_str(&p, prefix);
	if (pgc_call(&st->db, PS_METADATA_LIST, &p, 1, &r, err) < 0)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		char *entry = xstrndup(pg_str(r, i, 0), (size_t)PQgetlength(r, i, 0));
		cb(ctx, entry, pg_str(r, i, 1), (size_t)PQgetlength(r, i, 1));
		free(entry);
	}
	PQclear(r);
	return 0;
}

/* The changes as the function takes them: names, values end to end,
 * and each value's length (-1: NIL). */
static void metadata_params(const struct metadata_change *v, size_t n, struct buf *names,
			    struct buf *values, struct buf *lens)
{
	const char **ev = xreallocarray(NULL, n ? n : 1, sizeof(*ev));

	buf_append_byte(lens, '{');
	for (size_t i = 0; i < n; i++) {
		ev[i] = v[i].entry;
		if (v[i].value)
			buf_append(values, v[i].value, v[i].len);
		buf_printf(lens, "%s%lld", i ? "," : "",
			   v[i].value ? (long long)v[i].len : -1LL);
	}
	buf_append_byte(lens, '}');
	pg_text_array(names, ev, n);
	free(ev);
}

int pg_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		    size_t n, const struct metadata_limits *lim, struct error *err)
{
	struct buf names = BUF_INIT, values = BUF_INIT, lens = BUF_INIT;
	struct pgp p;
	PGresult *r;
	int rc;

	metadata_params(v, n, &names, &values, &lens);
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, mailbox);
	pgp_array(&p, names.data);
	pgp_bytes(&p, values.data ? values.data : "", values.len);
	pgp_array(&p, lens.data);
	pgp_i64(&p, (int64_t)lim->max_entries);
	pgp_i64(&p, (int64_t)lim->max_total);
	rc = pgc_call(&st->db, PS_METADATA_SET, &p, 0, &r, err);
	if (rc == 0)
		PQclear(r);
	buf_free(&names);
	buf_free(&values);
	buf_free(&lens);
	return rc;
}

int pg_metadata_renamed(struct store *st, const char *oldname, const char *newname, int copy,
			struct error *err)
{
	struct pgp p;
	PGresult *r;

	if (!copy)
		return 0;   /* the row was renamed: its entries went with it */
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, oldname);
	pgp_str(&p, newname);
	if (pgc_call(&st->db, PS_METADATA_COPY, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}
