/* SORT and THREAD (backend_ops.sort_fields, sort_keys).
 *
 * sort_fields: the header fields they look at, for the view's messages in
 * batches, from the first bytes of each message. One statement per batch
 * (PS_SEARCH_ROWS, the one SEARCH's evaluator uses for the same purpose)
 * instead of one message read per message. The sort asks in ascending UID
 * order, so a batch is the view's next SORT_BATCH messages from the one
 * asked for; batches never overlap, so a sort fetches each message's
 * prefix at most once. A header longer than the prefix is left to the
 * caller (2: it reads the message).
 *
 * sort_keys: the keys kept per body in haven.sort_keys (0017), in the
 * same batches (PS_SORT_KEYS); a message without keys of this key version
 * comes with its prefix, its keys are made from it and stored for every
 * later session when the batch is done (PS_SORT_KEYS_PUT, one statement:
 * all of the batch's keys or none; a failure costs only the next session
 * the same work again, so it is logged, never the client's error). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/hex.h"
#include "../../lib/log.h"
#include "../../mail/message.h"
#include "../../mail/sort.h"
#include "pgsql.h"

#define SORT_PREFIX 16384
#define SORT_BATCH 1000

/* PS_SORT_KEYS's columns */
enum { SK_UID, SK_BODY, SK_SIZE, SK_KEYS, SK_PREFIX };

/* Run s over the view's next SORT_BATCH messages from uid (extra: $3 on):
 * *rows, or 1 if uid is not in the view. */
static int sort_batch_query(struct mailbox *mb, enum pg_stmt s, uint32_t uid, int64_t extra,
			    PGresult **rows, struct error *err)
{
	uint32_t seq = pg_view_seq(mb, uid), n;
	uint32_t *uids;
	struct buf ua = BUF_INIT;
	struct pgp pp;
	int rc;

	if (seq == 0)
		return 1;
	n = mb->count - seq + 1 < SORT_BATCH ? mb->count - seq + 1 : SORT_BATCH;
	uids = malloc(n * sizeof(*uids));
	if (uids == NULL) {
		error_set(err, ERR_INTERNAL, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		uids[i] = pg_uid(mb, seq + i);
	pg_uid_array(&ua, uids, n);
	free(uids);
	pgp_init(&pp);
	pgp_i64(&pp, mb->id);
	pgp_array(&pp, ua.data);
	if (extra >= 0)
		pgp_i64(&pp, extra);
	pgp_i64(&pp, SORT_PREFIX);
	rc = pgc_call(&mb->st->db, s, &pp, 1, rows, err);
	buf_free(&ua);
	return rc < 0 ? -1 : 0;
}

/* The row of uid in rows at or after *next, -1 if not there. */
static int sort_row(const PGresult *rows, int *next, uint32_t uid)
{
	int nrows = rows ? PQntuples(rows) : 0;

	while (*next < nrows && (uint32_t)pg_bin_int(rows, *next, 0) < uid)
		(*next)++;
	if (*next < nrows && (uint32_t)pg_bin_int(rows, *next, 0) == uid)
		return *next;
	return -1;
}

/* The header fields in a message's first bytes p[0..len) (size: the
 * whole message's), as a header block appended to out; 2 if the header
 * goes on past them. */
static int prefix_fields(const char *p, size_t len, int64_t size, struct buf *out)
{
	if ((uint64_t)len != (uint64_t)size && !memmem(p, len, "\n\r\n", 3) &&
	    !memmem(p, len, "\n\n", 2))
		return 2;
	mail_sort_fields_extract(p, len, out);
	buf_append(out, "\r\n", 2);
	return 0;
}

int pg_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	int row = sort_row(mb->sort_rows, &mb->sort_next, uid), rc;

	if (row < 0) {
		pg_sort_fields_done(mb);
		rc = sort_batch_query(mb, PS_SEARCH_ROWS, uid, -1, &mb->sort_rows, err);
		if (rc != 0)
			return rc;
		if ((row = sort_row(mb->sort_rows, &mb->sort_next, uid)) < 0)
			return 1;   /* gone meanwhile */
	}
	return prefix_fields(PQgetvalue(mb->sort_rows, row, PG_SEARCH_ROWS_PREFIX),
			     (size_t)PQgetlength(mb->sort_rows, row, PG_SEARCH_ROWS_PREFIX),
			     pg_bin_int(mb->sort_rows, row, PG_SEARCH_ROWS_SIZE), out);
}

void pg_sort_fields_done(struct mailbox *mb)
{
	if (mb->sort_rows)
		PQclear(mb->sort_rows);
	mb->sort_rows = NULL;
	mb->sort_next = 0;
}

/* Remember rec (made for body) to be stored when the batch is done. */
static void keys_queue(struct mailbox *mb, int64_t body, const char *rec, size_t len)
{
	int first = mb->keys_ids.len == 0;

	buf_printf(&mb->keys_ids, first ? "{%lld" : ",%lld", (long long)body);
	buf_append_str(&mb->keys_hex, first ? "{" : ",");
	hex_append(&mb->keys_hex, rec, len);
}

/* Message row's keys made from its prefix, appended to out (and queued). */
static int keys_make(struct mailbox *mb, int row, struct buf *out)
{
	const PGresult *r = mb->keys_rows;
	struct buf hb = BUF_INIT;
	size_t hlen = 0, start = out->len;
	int rc = prefix_fields(PQgetvalue(r, row, SK_PREFIX), (size_t)PQgetlength(r, row, SK_PREFIX),
			       pg_bin_int(r, row, SK_SIZE), &hb);

	if (rc == 0) {
		mail_header_block(hb.data, hb.len, &hlen);
		mail_sort_keys_record(hb.data, hlen, out);
		keys_queue(mb, pg_bin_int(r, row, SK_BODY), out->data + start, out->len - start);
	}
	buf_free(&hb);
	return rc;
}

int pg_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	int row = sort_row(mb->keys_rows, &mb->keys_next, uid), rc;
	const char *k;

	if (row < 0) {
		pg_sort_keys_done(mb);
		rc = sort_batch_query(mb, PS_SORT_KEYS, uid, MAIL_SORT_KEYS_VERSION, &mb->keys_rows,
				      err);
		if (rc != 0)
			return rc;
		if ((row = sort_row(mb->keys_rows, &mb->keys_next, uid)) < 0)
			return 1;   /* gone meanwhile */
	}
	k = PQgetvalue(mb->keys_rows, row, SK_KEYS);
	if (!PQgetisnull(mb->keys_rows, row, SK_KEYS) &&
	    PQgetlength(mb->keys_rows, row, SK_KEYS) > 0 &&
	    (unsigned char)k[0] == MAIL_SORT_KEYS_VERSION) {
		buf_append(out, k, (size_t)PQgetlength(mb->keys_rows, row, SK_KEYS));
		return 0;
	}
	return keys_make(mb, row, out);
}

/* Store the keys made for the batch just read. */
static void keys_store(struct mailbox *mb)
{
	struct pgp pp;
	struct error err;
	PGresult *r = NULL;

	buf_append_str(&mb->keys_ids, "}");
	buf_append_str(&mb->keys_hex, "}");
	pgp_init(&pp);
	pgp_array(&pp, mb->keys_ids.data);
	pgp_array(&pp, mb->keys_hex.data);
	if (pgc_call(&mb->st->db, PS_SORT_KEYS_PUT, &pp, 0, &r, &err) < 0)
		log_info("pgsql: sort keys not stored (made again next time): %s", err.msg);
	if (r)
		PQclear(r);
}

void pg_sort_keys_done(struct mailbox *mb)
{
	if (mb->keys_ids.len > 0)
		keys_store(mb);
	buf_reset(&mb->keys_ids);
	buf_reset(&mb->keys_hex);
	if (mb->keys_rows)
		PQclear(mb->keys_rows);
	mb->keys_rows = NULL;
	mb->keys_next = 0;
}
