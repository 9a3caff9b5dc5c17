/* STORE, EXPUNGE, COPY and MOVE: one function call each (sql/migrations
 * 0003), so each is one transaction. The view learns of expunges and of
 * its own new messages in sync(), as backend.h says; its own flag changes
 * show in meta() at once (written into the metadata window). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

/* The store function returns the rows it changed. A message of the set
 * it returned nothing for is unchanged, or was expunged by another
 * session, which meta() must then say (NULL) until sync removes it: the
 * window is read again rather than kept (seen: the window's messages
 * that came back). */
static void forget_unreturned(struct mailbox *mb, const uint32_t *uids, size_t n,
			      const uint8_t *seen)
{
	for (size_t k = 0; k < n; k++) {
		long w = pg_window_index(mb, uids[k]);
		if (w >= 0 && !seen[w]) {
			pg_window_drop(mb);
			return;
		}
	}
}

int pg_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
		   uint32_t flags, const char *const *keywords, size_t nkeywords,
		   uint64_t unchangedsince, uint32_t *failed, size_t *nfailed, struct error *err)
{
	struct buf ua = BUF_INIT, ka = BUF_INIT;
	uint8_t *seen;
	struct pgp p;
	PGresult *r;
	int rc;

	*nfailed = 0;
	if (mb->readonly) {
		error_set(err, ERR_NOPERM, "Mailbox is read-only");
		return -1;
	}
	pg_uid_array(&ua, uids, n);
	pg_text_array(&ka, keywords, nkeywords);
	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_array(&p, ua.data);
	pgp_i64(&p, op == STORE_SET ? 0 : op == STORE_ADD ? 1 : 2);
	pgp_i64(&p, flags & MF_ALL);
	pgp_array(&p, ka.data);
	pgp_i64(&p, (int64_t)unchangedsince);
	rc = pgc_call(&mb->st->db, PS_STORE_FLAGS, &p, 0, &r, err);
	buf_free(&ua);
	buf_free(&ka);
	if (rc < 0)
		return -1;
	mb->own = xreallocarray(mb->own, mb->nown + (size_t)PQntuples(r) + 1, sizeof(*mb->own));
	seen = xcalloc(mb->win.n ? mb->win.n : 1, 1);
	for (int i = 0; i < PQntuples(r); i++) {
		uint32_t uid = (uint32_t)pg_i64(r, i, 0);
		long w = pg_window_index(mb, uid);
		if (w >= 0)
			seen[w] = 1;
		if (pg_str(r, i, 4)[0] == 't') {
			if (failed)
				failed[(*nfailed)++] = uid;
			continue;
		}
		mb->own[mb->nown].uid = uid;
		mb->own[mb->nown++].modseq = (uint64_t)pg_i64(r, i, 3);
		pg_window_update(mb, uid, (uint32_t)pg_i64(r, i, 1), pg_str(r, i, 2),
				 (uint64_t)pg_i64(r, i, 3));
	}
	if ((size_t)PQntuples(r) < n)
		forget_unreturned(mb, uids, n, seen);
	free(seen);
	PQclear(r);
	return 0;
}

int pg_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err)
{
	struct buf ua = BUF_INIT;
	struct pgp p;
	PGresult *r;
	int rc;

	if (mb->readonly) {
		error_set(err, ERR_NOPERM, "Mailbox is read-only");
		return -1;
	}
	pgp_init(&p);
	pgp_i64(&p, mb->id);
	if (uids) {
		pg_uid_array(&ua, uids, n);
		pgp_array(&p, ua.data);
	} else {
		pgp_str(&p, NULL);
	}
	rc = pgc_call(&mb->st->db, PS_EXPUNGE, &p, 0, &r, err);
	buf_free(&ua);
	if (rc < 0)
		return -1;
	PQclear(r);
	return 0;
}

int pg_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest, int move,
	    uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err)
{
	struct buf ua = BUF_INIT;
	struct pgp p;
	PGresult *r;
	int rc;

	if (move && mb->readonly) {
		error_set(err, ERR_NOPERM, "Mailbox is read-only");
		return -1;
	}
	pg_uid_array(&ua, uids, n);
	pgp_init(&p);
	pgp_i64(&p, mb->st->user_id);
	pgp_i64(&p, mb->id);
	pgp_array(&p, ua.data);
	pgp_str(&p, dest);
	pgp_bool(&p, move);
	rc = pgc_call(&mb->st->db, PS_COPY, &p, 0, &r, err);
	buf_free(&ua);
	if (rc < 0)
		return -1;
	/* Rows come in source UID order; a UID that is gone has none and
	 * keeps 0 (the caller reports only what was copied). */
	memset(dst_uids, 0, n * sizeof(uint32_t));
	*dst_uidvalidity = 0;
	for (int i = 0, k = 0; i < PQntuples(r); i++) {
		uint32_t src = (uint32_t)pg_i64(r, i, 1);
		while ((size_t)k < n && uids[k] < src)
			k++;
		if ((size_t)k < n && uids[k] == src)
			dst_uids[k] = (uint32_t)pg_i64(r, i, 2);
		*dst_uidvalidity = (uint32_t)pg_i64(r, i, 0);
	}
	PQclear(r);
	return 0;
}
