/* A message's bytes and structure from PostgreSQL.
 *
 * The stream reads the ranges FETCH asks for, chunk by chunk, with
 * substring() on uncompressed chunks: PostgreSQL then reads only the
 * TOAST slices it needs, so BODY[HEADER] of a 50 MB message reads a few
 * kilobytes. The structure was parsed at delivery; a damaged one is a
 * clear error, never trusted. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../../mail/structure.h"
#include "pgsql.h"

struct pg_stream {
	struct msg_stream base;
	struct store *st;
	int64_t body;
};

/* A FETCH of n messages in view order asks for their structures one by
 * one; after two neighbours the next ones come in batches of this many,
 * one statement each instead of one per message. */
#define AHEAD_BATCH 32

/* Rows (uid, body_id, size, structure, sha256) of the view's messages with UIDs
 * in [lo, hi), binary. */
static int bodies_read(struct mailbox *mb, uint32_t lo, uint32_t hi, PGresult **res,
		       struct error *err)
{
	struct pgp p;
	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_i64(&p, lo);
	pgp_i64(&p, hi);
	return pgc_call(&mb->st->db, PS_MESSAGE_BODIES, &p, 1, res, err);
}

/* Row of uid in r, or -1. */
static int row_of(const PGresult *r, uint32_t uid)
{
	int lo = 0, hi = r ? PQntuples(r) : 0;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		uint32_t u = (uint32_t)pg_bin_int(r, mid, 0);
		if (u == uid)
			return mid;
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Which body a message of the view has (remembered for the next ask). */
static int body_of(struct mailbox *mb, uint32_t uid, PGresult **res, struct error *err)
{
	if (bodies_read(mb, uid, uid, res, err) < 0)
		return -1;
	if (PQntuples(*res) != 1) {
		PQclear(*res);
		error_set(err, ERR_EXPUNGEISSUED, "Message was expunged");
		return -1;
	}
	mb->body_uid = uid;
	mb->body_id = pg_bin_int(*res, 0, 1);
	mb->body_size = (uint64_t)pg_bin_int(*res, 0, 2);
	return 0;
}

void pg_ahead_drop(struct mailbox *mb)
{
	PQclear(mb->ahead);
	mb->ahead = NULL;
	mb->ahead_last = 0;
}

/* The UID after the one asked for last, in view order (0: none). */
static uint32_t ahead_next(const struct mailbox *mb)
{
	uint32_t seq = mb->ahead_last && mb->have_uids ? pg_view_seq(mb, mb->ahead_last) : 0;
	return seq && seq < mb->count ? mb->uids[seq] : 0;
}

/* The row of uid's structure in mb->ahead: read now, with the next
 * AHEAD_BATCH - 1 messages of the view when uid follows the one asked
 * for last (the one asked for last again: its row is there); -1 with
 * err. */
static int ahead_row(struct mailbox *mb, uint32_t uid, struct error *err)
{
	int sequential = uid == ahead_next(mb);
	int row = sequential || (uid && uid == mb->ahead_last) ? row_of(mb->ahead, uid) : -1;
	uint32_t hi = uid;

	if (row >= 0)
		return row;
	if (sequential) {
		uint32_t seq = pg_view_seq(mb, uid);
		uint32_t last = seq + AHEAD_BATCH - 1 < mb->count ? seq + AHEAD_BATCH - 1 : mb->count;
		hi = mb->uids[last - 1];
	}
	pg_ahead_drop(mb);
	if (bodies_read(mb, uid, hi, &mb->ahead, err) < 0)
		return -1;
	if ((row = row_of(mb->ahead, uid)) < 0)
		error_set(err, ERR_EXPUNGEISSUED, "Message was expunged");
	return row;
}

static ssize_t stream_pread(struct msg_stream *s, void *buf, size_t n, uint64_t off)
{
	struct pg_stream *ps = (struct pg_stream *)s;
	struct error err;
	struct pgp p;
	PGresult *r;
	size_t in_chunk;

	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	in_chunk = (size_t)(off % PG_CHUNK);
	if (n > PG_CHUNK - in_chunk)
		n = PG_CHUNK - in_chunk;
	pgp_init(&p);
	pgp_i64(&p, ps->body);
	pgp_i64(&p, (int64_t)(off / PG_CHUNK));
	pgp_i64(&p, (int64_t)in_chunk + 1);
	pgp_i64(&p, (int64_t)n);
	if (pgc_call(&ps->st->db, PS_CHUNK_READ, &p, 1, &r, &err) < 0) {
		log_warn("pgsql: reading body %lld: %s", (long long)ps->body, err.msg);
		return -1;
	}
	if (PQntuples(r) != 1 || (size_t)PQgetlength(r, 0, 0) != n) {
		log_err("pgsql: body %lld is damaged (chunk %llu missing or short)",
			(long long)ps->body, (unsigned long long)(off / PG_CHUNK));
		PQclear(r);
		return -1;
	}
	memcpy(buf, PQgetvalue(r, 0, 0), n);
	PQclear(r);
	return (ssize_t)n;
}

static void stream_close(struct msg_stream *s)
{
	free(s);
}

static const struct msg_stream_ops stream_ops = {
	.pread = stream_pread,
	.close = stream_close,
};

int pg_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out, struct error *err)
{
	struct pg_stream *s;

	if (mb->body_uid != uid) {
		PGresult *r;
		if (body_of(mb, uid, &r, err) < 0)
			return -1;
		PQclear(r);
	}
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &stream_ops;
	s->base.size = mb->body_size;
	s->st = mb->st;
	s->body = mb->body_id;
	*out = &s->base;
	return 0;
}

int pg_fetch_structure(struct mailbox *mb, uint32_t uid, struct arena *a,
		       struct mail_structure **out, struct error *err)
{
	const char *why;
	int row = ahead_row(mb, uid, err);
	const PGresult *r = mb->ahead;

	if (row < 0)
		return -1;
	mb->ahead_last = uid;
	/* the stream of the same message comes next (open_message) */
	mb->body_uid = uid;
	mb->body_id = pg_bin_int(r, row, 1);
	mb->body_size = (uint64_t)pg_bin_int(r, row, 2);
	if (pg_null(r, row, 3)) {
		error_set(err, ERR_INTERNAL, "pgsql: message %u of mailbox %lld has no structure", uid,
			  (long long)mb->id);
		return -1;
	}
	if (mail_structure_decode(a, PQgetvalue(r, row, 3), (size_t)PQgetlength(r, row, 3), out,
				  &why) < 0) {
		error_set(err, ERR_INTERNAL, "pgsql: stored structure of message %u of mailbox %lld: %s",
			  uid, (long long)mb->id, why);
		return -1;
	}
	if ((*out)->msg->len != mb->body_size) {
		error_set(err, ERR_INTERNAL, "pgsql: stored structure of message %u does not fit its body",
			  uid);
		return -1;
	}
	return 0;
}

/* The digest the body was stored under (pg_append.c), from the same rows
 * (and batches) as the structures: FETCH EMAILID reads no message. */
int pg_message_sha256(struct mailbox *mb, uint32_t uid, unsigned char out[32],
		      struct error *err)
{
	int row = ahead_row(mb, uid, err);

	if (row < 0)
		return -1;
	mb->ahead_last = uid;
	if (pg_null(mb->ahead, row, 4) || PQgetlength(mb->ahead, row, 4) != 32)
		return 1;
	memcpy(out, PQgetvalue(mb->ahead, row, 4), 32);
	return 0;
}
