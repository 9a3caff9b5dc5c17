/* A selected mailbox in PostgreSQL: a snapshot (UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ, message count) taken from the mailbox row in one read,
 * and nothing per message until something asks.
 *
 * SELECT of a mailbox of any size is one function call: the view loads
 * its UID list (an index-only scan) the first time sequence numbers are
 * needed, and metadata in windows (pg_window.c: primary key ranges) when
 * a command looks at flags or dates. Memory stays a few bytes per message
 * plus one window.
 *
 * sync() asks the database only for what changed after the view's MODSEQ,
 * in one statement: the mailbox row, expunges from the expunge log, new
 * and changed messages by the (mailbox, modseq) index. The view's UID
 * list at any time is the messages below its UIDNEXT that exist now, plus
 * those expunged after its MODSEQ (still in the view until sync reports
 * them). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

static void view_link(struct mailbox *mb)
{
	mb->next = mb->st->views;
	mb->st->views = mb;
}

static void view_unlink(struct mailbox *mb)
{
	for (struct mailbox **pp = &mb->st->views; *pp; pp = &(*pp)->next) {
		if (*pp == mb) {
			*pp = mb->next;
			return;
		}
	}
}

static void add_recent(struct mailbox *mb, uint32_t lo, uint32_t hi)
{
	if (lo >= hi)
		return;
	mb->recent = xreallocarray(mb->recent, mb->nrecent + 1, sizeof(*mb->recent));
	mb->recent[mb->nrecent].lo = lo;
	mb->recent[mb->nrecent].hi = hi;
	mb->nrecent++;
}

int pg_view_recent(const struct mailbox *mb, uint32_t uid)
{
	for (size_t i = 0; i < mb->nrecent; i++)
		if (uid >= mb->recent[i].lo && uid < mb->recent[i].hi)
			return 1;
	return 0;
}

int pg_select(struct store *st, const char *name, int readonly, struct mailbox **out,
	      struct mailbox_status *status, struct error *err)
{
	struct mailbox *mb;
	struct pgp p;
	PGresult *r;

	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, name);
	pgp_bool(&p, readonly);
	if (pgc_call(&st->db, PS_SELECT, &p, 0, &r, err) < 0)
		return -1;
	mb = xcalloc(1, sizeof(*mb));
	mb->st = st;
	mb->readonly = readonly;
	mb->id = pg_i64(r, 0, 0);
	mb->uidvalidity = (uint32_t)pg_i64(r, 0, 1);
	mb->uidnext = (uint32_t)pg_i64(r, 0, 2);
	mb->modseq = (uint64_t)pg_i64(r, 0, 3);
	mb->count = (uint32_t)pg_i64(r, 0, 4);
	add_recent(mb, (uint32_t)pg_i64(r, 0, 6), mb->uidnext);
	memset(status, 0, sizeof(*status));
	status->messages = mb->count;
	status->uidvalidity = mb->uidvalidity;
	status->uidnext = mb->uidnext;
	status->highestmodseq = mb->modseq;
	status->unseen = (uint32_t)pg_i64(r, 0, 5);
	status->recent = (uint32_t)pg_i64(r, 0, 7);
	status->first_unseen = (uint32_t)pg_i64(r, 0, 8);
	pg_mailboxid(status, mb->id);
	pg_keywords_learn(mb, pg_str(r, 0, 9));
	PQclear(r);
	view_link(mb);
	*out = mb;
	return 0;
}

void pg_mailbox_close(struct mailbox *mb)
{
	view_unlink(mb);
	pg_ahead_drop(mb);
	pg_sort_fields_done(mb);
	pg_sort_keys_done(mb);
	buf_free(&mb->keys_ids);
	buf_free(&mb->keys_hex);
	for (size_t i = 0; i < mb->nkwnames; i++)
		free(mb->kwnames[i]);
	free(mb->kwnames);
	for (size_t i = 0; i < mb->nkwold; i++)
		free(mb->kwold[i]);
	free(mb->kwold);
	pg_window_free(mb);
	free(mb->uids);
	free(mb->recent);
	free(mb->own);
	free(mb);
}

uint32_t pg_count(struct mailbox *mb)
{
	return mb->count;
}

int pg_view_uids(struct mailbox *mb, struct error *err)
{
	struct pgp p;
	PGresult *r;
	int n;

	if (mb->have_uids)
		return 0;
	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_i64(&p, mb->uidnext);
	pgp_i64(&p, (int64_t)mb->modseq);
	/* (text: libpq aligns every binary value to 8 bytes, 16 a UID) */
	if (pgc_call(&mb->st->db, PS_VIEW_UIDS, &p, 0, &r, err) < 0)
		return -1;
	n = PQntuples(r);
	if ((uint32_t)n != mb->count)
		log_warn("pgsql: mailbox %lld: view of %u messages found %d (expunge log pruned?)",
			 (long long)mb->id, mb->count, n);
	mb->uids = xreallocarray(mb->uids, (size_t)n + 1, sizeof(uint32_t));
	mb->count = 0;
	for (int i = 0; i < n; i++) {
		uint32_t uid = (uint32_t)pg_i64(r, i, 0);
		/* (ascending and unique: the binary search of seqs needs it) */
		if (mb->count == 0 || uid > mb->uids[mb->count - 1])
			mb->uids[mb->count++] = uid;
	}
	mb->have_uids = 1;
	PQclear(r);
	return 0;
}

uint32_t pg_uid(struct mailbox *mb, uint32_t seq)
{
	struct error err;
	if (seq == 0 || seq > mb->count)
		return 0;
	if (mb->have_uids)
		return mb->uids[seq - 1];   /* (mailbox_uid_to_seq asks 17 times a message) */
	if (pg_view_uids(mb, &err) < 0) {
		log_warn("pgsql: %s", err.msg);
		return 0;
	}
	return seq <= mb->count ? mb->uids[seq - 1] : 0;
}

/* A bigger keyword table. The old one is not freed before the view
 * closes: a SEARCH holds it (search_ctx.kwnames) while the metadata it
 * reads may teach the view a keyword another session has just given a
 * message, and it must stay readable. (Doubling: the old ones together
 * are never larger than the table.) */
static void keywords_grow(struct mailbox *mb)
{
	size_t cap = mb->capkwnames ? 2 * mb->capkwnames : 16;
	char **t = xreallocarray(NULL, cap, sizeof(char *));

	if (mb->nkwnames)
		memcpy(t, mb->kwnames, mb->nkwnames * sizeof(char *));
	if (mb->kwnames) {
		mb->kwold = xreallocarray(mb->kwold, mb->nkwold + 1, sizeof(char **));
		mb->kwold[mb->nkwold++] = mb->kwnames;
	}
	mb->kwnames = t;
	mb->capkwnames = cap;
}

uint32_t pg_keyword_index(struct mailbox *mb, const char *name)
{
	for (size_t i = 0; i < mb->nkwnames; i++)
		if (strcasecmp(mb->kwnames[i], name) == 0)
			return (uint32_t)i;
	if (mb->nkwnames == mb->capkwnames)
		keywords_grow(mb);
	mb->kwnames[mb->nkwnames] = xstrdup(name);
	return (uint32_t)mb->nkwnames++;
}

size_t pg_keywords(struct mailbox *mb, const char *const **names)
{
	*names = (const char *const *)mb->kwnames;
	return mb->nkwnames;
}

/* ---- sync ---------------------------------------------------------------- */

uint32_t pg_view_seq(const struct mailbox *mb, uint32_t uid)
{
	uint32_t lo = 0, hi = mb->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (mb->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mb->count && mb->uids[lo] == uid ? lo + 1 : 0;
}

/* The rows of one kind of a PS_VIEW_SYNC result: [*lo, *hi). */
static void sync_rows(const PGresult *r, int kind, int *lo, int *hi)
{
	int n = PQntuples(r);
	*lo = 0;
	while (*lo < n && pg_i64(r, *lo, 0) < kind)
		(*lo)++;
	*hi = *lo;
	while (*hi < n && pg_i64(r, *hi, 0) == kind)
		(*hi)++;
}

/* Expunges after the view's MODSEQ, highest sequence number first so
 * the numbers reported stay right; how many left the view. */
static uint32_t sync_expunges(struct mailbox *mb, const PGresult *r, const struct sync_cb *cb,
			  void *ctx)
{
	uint32_t before = mb->count;
	int lo, hi;

	sync_rows(r, 1, &lo, &hi);
	for (int i = hi - 1; i >= lo; i--) {
		uint32_t uid = (uint32_t)pg_i64(r, i, 1);
		uint32_t seq = pg_view_seq(mb, uid);
		if (seq == 0)
			continue;   /* came and went between two syncs */
		memmove(&mb->uids[seq - 1], &mb->uids[seq], (mb->count - seq) * sizeof(uint32_t));
		mb->count--;
		if (cb && cb->expunged)
			cb->expunged(ctx, seq, uid);
	}
	return before - mb->count;
}

/* Did this view make the change itself (store_flags)? Then the client
 * already has the new flags. */
static int own_change(const struct mailbox *mb, uint32_t uid, uint64_t modseq)
{
	for (size_t i = 0; i < mb->nown; i++)
		if (mb->own[i].uid == uid && mb->own[i].modseq == modseq)
			return 1;
	return 0;
}

/* New messages (UID at or above the view's UIDNEXT) join the view; known
 * ones whose MODSEQ moved had their flags changed (and get them in the
 * metadata window, which the sync keeps when nothing left the view). */
static void sync_changes(struct mailbox *mb, const PGresult *r, uint32_t uidnext,
			 const struct sync_cb *cb, void *ctx)
{
	uint32_t before = mb->count;
	int lo, hi;

	sync_rows(r, 2, &lo, &hi);
	mb->uids = xreallocarray(mb->uids, (size_t)mb->count + (size_t)(hi - lo) + 1,
				 sizeof(uint32_t));
	for (int i = lo; i < hi; i++) {
		uint32_t uid = (uint32_t)pg_i64(r, i, 1), seq;
		if (uid >= mb->uidnext) {
			if (uid < uidnext && (mb->count == 0 || uid > mb->uids[mb->count - 1]))
				mb->uids[mb->count++] = uid;
		} else if ((seq = pg_view_seq(mb, uid)) != 0 && seq <= before) {
			pg_window_update(mb, uid, (uint32_t)pg_i64(r, i, 2), pg_str(r, i, 5),
					 (uint64_t)pg_i64(r, i, 3));
			if (cb && cb->flags_changed && !own_change(mb, uid, (uint64_t)pg_i64(r, i, 3)))
				cb->flags_changed(ctx, seq);
		}
	}
}

/* Read-write views claim the new messages nobody else saw: \Recent;
 * read-only ones see them as \Recent without taking them. */
static void claim_recent(struct mailbox *mb, uint32_t from_uid, uint32_t uidnext)
{
	struct pgp p;
	PGresult *r;
	struct error err;

	if (from_uid >= uidnext)
		return;
	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_i64(&p, uidnext);
	pgp_bool(&p, mb->readonly);
	if (pgc_call(&mb->st->db, PS_CLAIM_RECENT, &p, 0, &r, &err) < 0)
		return;   /* no \Recent then: harmless */
	uint32_t first = (uint32_t)pg_i64(r, 0, 0);
	add_recent(mb, first > from_uid ? first : from_uid, uidnext);
	PQclear(r);
}

/* The mailbox row, expunges and changes after the view's MODSEQ, in one
 * statement (one snapshot); ERR_VIEWGONE when the mailbox is not the
 * view's any more. */
static int sync_read(struct mailbox *mb, PGresult **r, struct error *err)
{
	struct pgp p;

	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_i64(&p, (int64_t)mb->modseq);
	if (pgc_call(&mb->st->db, PS_VIEW_SYNC, &p, 0, r, err) < 0)
		return -1;
	if (PQntuples(*r) < 1 || pg_i64(*r, 0, 0) != 0 ||
	    (uint32_t)pg_i64(*r, 0, 1) != mb->uidvalidity || pg_i64(*r, 0, 4) != 0) {
		PQclear(*r);
		error_set(err, ERR_VIEWGONE, "Mailbox was deleted or replaced; select it again");
		return -1;
	}
	return 0;
}

int pg_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err)
{
	PGresult *r;
	uint32_t uidnext, old_uidnext = mb->uidnext;
	uint64_t modseq;
	uint32_t had;

	pg_listen_drain(mb->st);
	pg_ahead_drop(mb);
	if (sync_read(mb, &r, err) < 0)
		return -1;
	uidnext = (uint32_t)pg_i64(r, 0, 2);
	modseq = (uint64_t)pg_i64(r, 0, 3);
	if (modseq == mb->modseq && uidnext == mb->uidnext) {
		PQclear(r);
		return 0;
	}
	if (pg_view_uids(mb, err) < 0) {
		PQclear(r);
		return -1;
	}
	if (sync_expunges(mb, r, cb, ctx) > 0)
		pg_window_drop(mb);   /* its sequence numbers moved */
	had = mb->count;
	sync_changes(mb, r, uidnext, cb, ctx);
	PQclear(r);
	mb->nown = 0;
	mb->modseq = modseq;
	mb->uidnext = uidnext;
	claim_recent(mb, old_uidnext, uidnext);
	if (mb->count != had && cb && cb->exists)
		cb->exists(ctx, mb->count);
	return 0;
}
