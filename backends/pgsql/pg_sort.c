/* SORT and THREAD (backend_ops.sort_fields): the header fields they look
 * at, for the view's messages in batches, from the first bytes of each
 * message. One statement per batch (PS_SEARCH_ROWS, the one SEARCH's
 * evaluator uses for the same purpose) instead of one message read per
 * message. The sort asks in ascending UID order, so a batch is the view's
 * next SORT_BATCH messages from the one asked for; batches never overlap,
 * so a sort fetches each message's prefix at most once. A header longer
 * than the prefix is left to the caller (2: it reads the message). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../mail/sort.h"
#include "pgsql.h"

#define SORT_PREFIX 16384
#define SORT_BATCH 1000

static int sort_batch_load(struct mailbox *mb, uint32_t uid, struct error *err)
{
	uint32_t seq = pg_view_seq(mb, uid), n;
	uint32_t *uids;
	struct buf ua = BUF_INIT;
	struct pgp pp;
	int rc;

	pg_sort_fields_done(mb);
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
	pgp_i64(&pp, SORT_PREFIX);
	rc = pgc_call(&mb->st->db, PS_SEARCH_ROWS, &pp, 1, &mb->sort_rows, err);
	buf_free(&ua);
	mb->sort_next = 0;
	return rc < 0 ? -1 : 0;
}

/* The row of uid in the batch at or after the cursor, -1 if not there. */
static int sort_row(struct mailbox *mb, uint32_t uid)
{
	int nrows = mb->sort_rows ? PQntuples(mb->sort_rows) : 0;

	while (mb->sort_next < nrows && (uint32_t)pg_bin_int(mb->sort_rows, mb->sort_next, 0) < uid)
		mb->sort_next++;
	if (mb->sort_next < nrows && (uint32_t)pg_bin_int(mb->sort_rows, mb->sort_next, 0) == uid)
		return mb->sort_next;
	return -1;
}

int pg_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	int row = sort_row(mb, uid), rc;
	const char *p;
	size_t len;

	if (row < 0) {
		if ((rc = sort_batch_load(mb, uid, err)) != 0)
			return rc;
		if ((row = sort_row(mb, uid)) < 0)
			return 1;   /* gone meanwhile */
	}
	p = PQgetvalue(mb->sort_rows, row, PG_SEARCH_ROWS_PREFIX);
	len = (size_t)PQgetlength(mb->sort_rows, row, PG_SEARCH_ROWS_PREFIX);
	if ((uint64_t)len != (uint64_t)pg_bin_int(mb->sort_rows, row, PG_SEARCH_ROWS_SIZE) &&
	    !memmem(p, len, "\n\r\n", 3) && !memmem(p, len, "\n\n", 2))
		return 2;   /* the header goes on past the prefix */
	mail_sort_fields_extract(p, len, out);
	buf_append(out, "\r\n", 2);
	return 0;
}

void pg_sort_fields_done(struct mailbox *mb)
{
	if (mb->sort_rows)
		PQclear(mb->sort_rows);
	mb->sort_rows = NULL;
	mb->sort_next = 0;
}
