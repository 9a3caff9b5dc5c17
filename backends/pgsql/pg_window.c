/* The metadata window of a PostgreSQL view: flags, keywords, MODSEQ,
 * INTERNALDATE and size of a run of consecutive messages, read with one
 * primary-key range statement (backend.h: meta() pointers live until the
 * next call, so only the window is kept, never the whole mailbox).
 *
 * How many messages a read takes follows the access: a view of at most
 * PG_META_WINDOW messages is read whole (a FETCH here and a STORE there
 * then read it once); in a bigger one a read starts with
 * PG_META_WINDOW_FIRST messages from the one asked for, and each read
 * that goes on where the window ends takes twice as many as the last, up
 * to PG_META_WINDOW_MAX. A FETCH 1:* of 100,000 messages is 17 statements
 * instead of 98 of 1,024 (each a round trip, and on a busy machine each
 * a wait for the scheduler at both ends), and the SEARCH evaluator's
 * scattered lookups read 256 messages each instead of 1,024. The rows
 * come in binary: nothing to print and parse again per column. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

/* Keyword name: its index in the view's table (added if new), appended
 * to w's kw array when w is given. */
static void kw_push(struct mailbox *mb, struct pg_window *w, const char *name)
{
	uint32_t k = pg_keyword_index(mb, name);
	if (w == NULL)
		return;
	if (w->nkw == w->capkw) {
		w->capkw = w->capkw ? w->capkw * 2 : 256;
		w->kw = xreallocarray(w->kw, w->capkw, sizeof(uint32_t));
	}
	w->kw[w->nkw++] = k;
}

/* "{a,"b c"}" (as PostgreSQL writes text[]) -> kw_push of each; returns
 * how many. Anything else (NULL: "") holds none. */
static size_t kw_parse(struct mailbox *mb, const char *arr, struct pg_window *w)
{
	size_t n = 0;
	const char *p = arr;

	if (*p++ != '{')
		return 0;
	while (*p && *p != '}') {
		char name[256];
		size_t len = 0;
		int quoted = *p == '"';
		p += quoted;
		while (*p && (quoted ? *p != '"' : (*p != ',' && *p != '}'))) {
			if (*p == '\\' && p[1])
				p++;
			if (len < sizeof(name) - 1)
				name[len++] = *p;
			p++;
		}
		p += quoted && *p == '"';
		p += *p == ',';
		name[len] = '\0';
		if (len == 0)
			continue;
		kw_push(mb, w, name);
		n++;
	}
	return n;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The same from a text[] in binary format: dimensions, a NULL flag, the
 * element type, per dimension its size and lower bound, then each
 * element as a length (-1: NULL) and its bytes. */
static size_t kw_parse_bin(struct mailbox *mb, const unsigned char *p, size_t len,
			   struct pg_window *w)
{
	const unsigned char *end = p + len;
	size_t n = 0;
	uint32_t count;

	if (len < 20 || be32(p) != 1)
		return 0;   /* no keywords (0 dimensions), or not a list */
	count = be32(p + 12);
	p += 20;
	for (uint32_t i = 0; i < count && end - p >= 4; i++) {
		int32_t elen = (int32_t)be32(p);
		char name[256];
		p += 4;
		if (end - p < elen)
			break;      /* cut short: what is there is all */
		if (elen <= 0)
			continue;   /* NULL or empty: no keyword */
		size_t cp = (size_t)elen < sizeof(name) - 1 ? (size_t)elen : sizeof(name) - 1;
		memcpy(name, p, cp);
		name[cp] = '\0';
		p += elen;
		kw_push(mb, w, name);
		n++;
	}
	return n;
}

void pg_keywords_learn(struct mailbox *mb, const char *arr)
{
	kw_parse(mb, arr, NULL);
}

void pg_window_drop(struct mailbox *mb)
{
	mb->win.first = 0;
	mb->win.n = 0;
	mb->win.nkw = 0;
}

void pg_window_free(struct mailbox *mb)
{
	free(mb->win.metas);
	free(mb->win.present);
	free(mb->win.kw);
	memset(&mb->win, 0, sizeof(mb->win));
}

/* Room for need keyword indexes in the window's array, the metadata's
 * pointers into it moved along if it moves. */
static void window_reserve(struct pg_window *w, size_t need)
{
	size_t *off;

	if (need <= w->capkw)
		return;
	off = xreallocarray(NULL, w->n + 1, sizeof(size_t));
	for (uint32_t i = 0; i < w->n; i++)
		off[i] = w->present[i] && w->metas[i].nkw ? (size_t)(w->metas[i].kw - w->kw) : 0;
	w->capkw = need > 2 * w->capkw ? need : 2 * w->capkw;
	w->kw = xreallocarray(w->kw, w->capkw, sizeof(uint32_t));
	for (uint32_t i = 0; i < w->n; i++)
		if (w->present[i] && w->metas[i].nkw)
			w->metas[i].kw = w->kw + off[i];
	free(off);
}

/* Room for n messages; a window much larger than needed gives its memory
 * back (one FETCH 1:* does not keep a session's view big). */
static void window_size(struct pg_window *w, uint32_t n)
{
	if (n <= w->cap && w->cap <= 4 * (size_t)n)
		return;
	w->metas = xreallocarray(w->metas, n, sizeof(*w->metas));
	w->present = xreallocarray(w->present, n, 1);
	w->cap = n;
}

long pg_window_index(const struct mailbox *mb, uint32_t uid)
{
	const struct pg_window *w = &mb->win;
	uint32_t seq = mb->have_uids ? pg_view_seq(mb, uid) : 0;

	if (seq == 0 || w->first == 0 || seq < w->first || seq >= w->first + w->n ||
	    !w->present[seq - w->first])
		return -1;
	return (long)(seq - w->first);
}

/* A message of the window got new flags, keywords and MODSEQ (this
 * view's STORE): changed in place, so that meta() needs no new read. */
void pg_window_update(struct mailbox *mb, uint32_t uid, uint32_t flags, const char *keywords,
		      uint64_t modseq)
{
	struct pg_window *w = &mb->win;
	long i = pg_window_index(mb, uid);
	size_t start = w->nkw, most = 1;
	struct msg_meta *m;

	if (i < 0)
		return;
	for (const char *p = keywords; *p; p++)
		most += *p == ',';
	window_reserve(w, w->nkw + most);
	m = &w->metas[i];
	m->flags = flags & MF_ALL;
	m->modseq = modseq;
	m->nkw = kw_parse(mb, keywords, w);
	m->kw = m->nkw ? w->kw + start : NULL;
}

void pg_meta_decode(struct mailbox *mb, const PGresult *r, int row, struct msg_meta *m,
		    struct pg_window *kw)
{
	memset(m, 0, sizeof(*m));
	m->uid = (uint32_t)pg_bin_int(r, row, 0);
	m->flags = (uint32_t)pg_bin_int(r, row, 1) & MF_ALL;
	m->nkw = kw_parse_bin(mb, (const unsigned char *)PQgetvalue(r, row, 2),
			      (size_t)PQgetlength(r, row, 2), kw);
	m->modseq = (uint64_t)pg_bin_int(r, row, 3);
	m->internaldate = (time_t)pg_bin_time(r, row, 4);
	m->tz_minutes = (int)pg_bin_int(r, row, 5);
	m->size = (uint64_t)pg_bin_int(r, row, 6);
	m->savedate = (time_t)pg_bin_time(r, row, 7);
	m->recent = pg_view_recent(mb, m->uid);
}

/* Metadata of seqs [first, first + n) from one primary-key range read. */
static int window_load(struct mailbox *mb, uint32_t first, uint32_t n, struct error *err)
{
	struct pg_window *w = &mb->win;
	size_t *kwstart = xreallocarray(NULL, n, sizeof(size_t));
	struct pgp p;
	PGresult *r;

	pgp_init(&p);
	pgp_i64(&p, mb->id);
	pgp_i64(&p, mb->uids[first - 1]);
	pgp_i64(&p, mb->uids[first + n - 2]);
	if (pgc_call(&mb->st->db, PS_META_RANGE, &p, 1, &r, err) < 0) {
		free(kwstart);
		return -1;
	}
	pg_window_drop(mb);
	window_size(w, n);
	memset(w->present, 0, n);
	int rows = PQntuples(r);
	for (uint32_t i = 0, row = 0; i < n && (int)row < rows; i++) {
		if ((uint32_t)pg_bin_int(r, (int)row, 0) != mb->uids[first - 1 + i])
			continue;   /* not in the database any more (or not this one) */
		kwstart[i] = w->nkw;
		pg_meta_decode(mb, r, (int)row++, &w->metas[i], w);
		w->present[i] = 1;
	}
	/* kw pointers only once the array stops moving */
	for (uint32_t i = 0; i < n; i++)
		if (w->present[i])
			w->metas[i].kw = w->kw + kwstart[i];
	w->first = first;
	w->n = n;
	PQclear(r);
	free(kwstart);
	return 0;
}

/* Where the read for seq starts and how many messages it takes. */
static uint32_t window_plan(const struct mailbox *mb, uint32_t seq, uint32_t *first)
{
	const struct pg_window *w = &mb->win;
	uint32_t n = PG_META_WINDOW_FIRST;

	if (mb->count <= PG_META_WINDOW) {
		*first = 1;
		return mb->count;
	}
	if (w->first != 0 && seq == w->first + w->n) {
		n = w->n >= PG_META_WINDOW_MAX / 2 ? PG_META_WINDOW_MAX : 2 * w->n;
		if (n < PG_META_WINDOW_FIRST)
			n = PG_META_WINDOW_FIRST;
	}
	*first = seq;
	return n < mb->count - seq + 1 ? n : mb->count - seq + 1;
}

const struct msg_meta *pg_meta(struct mailbox *mb, uint32_t seq)
{
	struct pg_window *w = &mb->win;
	struct error err;

	if (seq == 0 || seq > mb->count)
		return NULL;
	if (pg_view_uids(mb, &err) < 0) {
		log_warn("pgsql: %s", err.msg);
		return NULL;
	}
	if (seq > mb->count)
		return NULL;   /* (the view had fewer than it said) */
	if (w->first == 0 || seq < w->first || seq >= w->first + w->n) {
		uint32_t first, n = window_plan(mb, seq, &first);
		if (window_load(mb, first, n, &err) < 0) {
			log_warn("pgsql: %s", err.msg);
			return NULL;
		}
	}
	return w->present[seq - w->first] ? &w->metas[seq - w->first] : NULL;
}
