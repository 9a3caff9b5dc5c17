/* ACL (RFC 4314) of the PostgreSQL store: rows of haven.acl
 * (sql/migrations/0016-acl.sql). Each call is one function call, one
 * statement: the caller's rights are checked in it, by SQL, so a worker
 * reads or changes another user's mailbox only as far as that user's
 * ACL lets it. Rights travel as the letters of the real rights. */
#include <string.h>

#include "pgsql.h"

/* Rights letters read back from the database -> bits. */
static int rights_in(const char *text, size_t len, unsigned *out, struct error *err)
{
	const char *why;

	if (acl_rights_parse(text, len, out, &why) < 0) {
		error_set(err, ERR_INTERNAL, "pgsql: bad rights in haven.acl: %s", why);
		return -1;
	}
	return 0;
}

/* The parameters every call starts with: the caller, the mailbox as the
 * caller names it, and the identifier (NULL: none). */
static void acl_params(struct pgp *p, const struct store *st, const char *mailbox,
		       const char *identifier)
{
	pgp_init(p);
	pgp_i64(p, st->user_id);
	pgp_str(p, mailbox);
	if (identifier)
		pgp_str(p, identifier);
}

/* A call that answers nothing but success. */
static int acl_change(struct store *st, enum pg_stmt stmt, const struct pgp *p,
		      struct error *err)
{
	PGresult *r;

	if (pgc_call(&st->db, stmt, p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

int pg_acl_list(struct store *st, const char *mailbox, backend_acl_cb cb, void *ctx,
		struct error *err)
{
	struct pgp p;
	PGresult *r;
	int rc = 0;

	acl_params(&p, st, mailbox, NULL);
	if (pgc_call(&st->db, PS_ACL_LIST, &p, 0, &r, err) < 0)
		return -1;
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		unsigned rights;
		rc = rights_in(pg_str(r, i, 1), (size_t)PQgetlength(r, i, 1), &rights, err);
		if (rc == 0)
			cb(ctx, pg_str(r, i, 0), rights);
	}
	PQclear(r);
	return rc;
}

int pg_acl_set(struct store *st, const char *mailbox, const char *identifier, enum acl_mod mod,
	       unsigned rights, struct error *err)
{
	char letters[ACL_RIGHTS_TEXT];
	struct pgp p;

	acl_rights_format(rights & ACL_ALL, 0, letters);
	acl_params(&p, st, mailbox, identifier);
	pgp_i64(&p, mod == ACL_REPLACE ? 0 : mod == ACL_ADD ? 1 : 2);
	pgp_str(&p, letters);
	return acl_change(st, PS_ACL_SET, &p, err);
}

int pg_acl_delete(struct store *st, const char *mailbox, const char *identifier,
		  struct error *err)
{
	struct pgp p;

	acl_params(&p, st, mailbox, identifier);
	return acl_change(st, PS_ACL_DELETE, &p, err);
}

int pg_acl_myrights(struct store *st, const char *mailbox, unsigned *rights,
		    struct error *err)
{
	struct pgp p;
	PGresult *r;
	int rc;

	acl_params(&p, st, mailbox, NULL);
	if (pgc_call(&st->db, PS_ACL_MYRIGHTS, &p, 0, &r, err) < 0)
		return -1;
	rc = rights_in(pg_str(r, 0, 0), (size_t)PQgetlength(r, 0, 0), rights, err);
	PQclear(r);
	return rc;
}
