/* Reading an mbox file: a bounded line reader, the transformation from
 * the stored form to what IMAP sees, and the scan that finds every message
 * and its state in one buffered pass (a huge mailbox is never in memory).
 *
 * The scan counts RFC822.SIZE with the very code (mbox_xform_piece) that
 * open_message uses to produce the bytes, so the two cannot disagree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../lib/xmalloc.h"
#include "mbox_private.h"

/* ---- line reader ---------------------------------------------------- */

void mbox_reader_init(struct mbox_reader *r, int fd, uint64_t from, uint64_t end)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->pos = from;
	r->end = end;
	r->buf = xmalloc(MBOX_BUFSZ);
}

void mbox_reader_free(struct mbox_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

static int reader_fill(struct mbox_reader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->pos += r->start;
		r->len -= r->start;
		r->start = 0;
	}
	while (r->len < MBOX_BUFSZ && r->pos + r->len < r->end) {
		uint64_t left = r->end - (r->pos + r->len);
		size_t want = MBOX_BUFSZ - r->len;
		ssize_t got;
		if (left < want)
			want = (size_t)left;
		got = pread(r->fd, r->buf + r->len, want, (off_t)(r->pos + r->len));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0) {
			/* Shorter than its stat said: someone truncated it without
			 * our lock. Stop at what is there. */
			r->end = r->pos + r->len;
			break;
		}
		r->len += (size_t)got;
	}
	return 0;
}

int mbox_reader_next(struct mbox_reader *r, const char **p, size_t *n, uint64_t *off,
		     int *line_start)
{
	size_t avail, take;
	const char *nl;

	for (;;) {
		avail = r->len - r->start;
		nl = avail ? memchr(r->buf + r->start, '\n', avail) : NULL;
		if (nl || r->pos + r->len >= r->end)
			break;
		if (!r->midline && avail >= MBOX_BUFSZ)
			break;
		if (r->midline && avail > 0)
			break;
		if (reader_fill(r) < 0)
			return -1;
	}
	if (avail == 0)
		return 0;
	take = nl ? (size_t)(nl - (r->buf + r->start)) + 1 : avail;
	*p = r->buf + r->start;
	*n = take;
	*off = r->pos + r->start;
	*line_start = !r->midline;
	r->midline = r->buf[r->start + take - 1] != '\n';
	r->start += take;
	return 1;
}

/* ---- classification and transformation ------------------------------ */

enum mbox_hdr mbox_hdr_classify(const char *p, size_t n)
{
	static const struct { const char *name; enum mbox_hdr h; } hdrs[] = {
		{ "X-IMAPbase:", MH_XIMAPBASE }, { "X-IMAP:", MH_XIMAP },
		{ "X-UID:", MH_XUID }, { "Status:", MH_STATUS }, { "X-Status:", MH_XSTATUS },
		{ "X-Keywords:", MH_XKEYWORDS }, { "X-Haven-Modseq:", MH_MODSEQ },
		{ "X-Haven-Highestmodseq:", MH_HIGHESTMODSEQ }, { "X-Haven-Raw:", MH_RAW },
	};
	if (n < 6 || (p[0] != 'X' && p[0] != 'x' && p[0] != 'S' && p[0] != 's'))
		return MH_NONE;
	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		size_t l = strlen(hdrs[i].name);
		if (n >= l && strncasecmp(p, hdrs[i].name, l) == 0)
			return hdrs[i].h;
	}
	return MH_NONE;
}

int mbox_line_is_blank(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static int is_escaped_from(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && p[i] == '>')
		i++;
	return i > 0 && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

static uint64_t parse_u64(const char *p, size_t n, int *ok)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;
	*ok = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		if (v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*ok = digits > 0;
	return v;
}

static const char *hdr_value(const char *p, size_t n, size_t *vlen)
{
	const char *colon = memchr(p, ':', n);
	size_t i = (size_t)(colon - p) + 1, e = n;
	while (e > i && (p[e - 1] == '\n' || p[e - 1] == '\r'))
		e--;
	*vlen = e - i;
	return p + i;
}

void mbox_xform_init(struct mbox_xform *x)
{
	memset(x, 0, sizeof(*x));
	x->in_header = 1;
}

enum mbox_hdr mbox_xform_piece(struct mbox_xform *x, const char *p, size_t n, int line_start,
			       struct buf *dst)
{
	enum mbox_hdr cls = MH_NONE;
	size_t start = 0, body;
	int has_nl;

	if (n == 0)
		return MH_NONE;
	if (line_start) {
		x->mode = 0;
		if (x->in_header) {
			if (mbox_line_is_blank(p, n))
				x->in_header = 0;
			else if ((cls = mbox_hdr_classify(p, n)) != MH_NONE)
				x->mode = 1;
			/* Content-Length is mbox metadata in messages others
			 * wrote (Dovecot adds one to each and hides it, as do
			 * mutt and Solaris mail) when it frames the body (the
			 * scan checks: smsg.hide_clen); in ours, whose state
			 * headers come first, it is what the client appended. */
			else if (!x->ours && n >= 15 && strncasecmp(p, "Content-Length:", 15) == 0)
				cls = MH_CLEN, x->mode = x->hide_clen ? 1 : 0;
			if (cls == MH_MODSEQ)
				x->ours = 1;
			/* Only in our block of state headers, which comes
			 * before any byte of the message. */
			if (cls == MH_RAW && x->ours)
				x->raw = 1;
		}
		if (x->mode == 0 && is_escaped_from(p, n))
			x->mode = 2;
		if (cls == MH_XUID && x->uid == 0) {
			size_t vl;
			const char *v = hdr_value(p, n, &vl);
			int ok;
			uint64_t u = parse_u64(v, vl, &ok);
			if (ok && u > 0 && u <= UINT32_MAX)
				x->uid = (uint32_t)u;
		}
	}
	has_nl = p[n - 1] == '\n';
	if (x->mode == 1) {
		x->last_nl = has_nl;
		x->last_lf_out = 0;
		x->prev = (unsigned char)p[n - 1];
		return cls;
	}
	if (x->mode == 2 && line_start)
		start = 1;
	body = n - start - (has_nl ? 1 : 0);
	if (dst && body)
		buf_append(dst, p + start, body);
	x->out += body;
	if (body)
		x->prev = (unsigned char)p[start + body - 1];
	if (has_nl) {
		if (x->prev == '\r' || x->raw) {
			if (dst)
				buf_append_byte(dst, '\n');
			x->last_lf_out = 1;
		} else {
			if (dst)
				buf_append(dst, "\r\n", 2);
			x->last_lf_out = 2;
		}
		x->out += (uint64_t)x->last_lf_out;
		x->prev = '\n';
	}
	x->last_nl = has_nl;
	return cls;
}

/* ---- scan -------------------------------------------------------------- */

void mbox_fid_from_stat(struct mbox_fid *f, const struct stat *st)
{
	memset(f, 0, sizeof(*f));
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->ctime = st->st_ctim;
}

int mbox_fid_equal(const struct mbox_fid *a, const struct mbox_fid *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

#define KWHASH_CAP 2048   /* power of two, > 2 * MBOX_MAX_KEYWORDS */

static uint32_t kw_hash(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

long mbox_scan_kw(struct mbox_scan *s, const char *name, size_t len, int add)
{
	uint32_t h;
	if (!mail_keyword_valid(name, len))
		return -1;
	if (s->kwhash == NULL) {
		s->hashcap = KWHASH_CAP;
		s->kwhash = xcalloc(s->hashcap, sizeof(*s->kwhash));
	}
	h = kw_hash(name, len) & (uint32_t)(s->hashcap - 1);
	for (;; h = (h + 1) & (uint32_t)(s->hashcap - 1)) {
		uint32_t slot = s->kwhash[h];
		if (slot == 0)
			break;
		if (strlen(s->kw[slot - 1]) == len && strncasecmp(s->kw[slot - 1], name, len) == 0)
			return (long)(slot - 1);
	}
	if (!add || s->nkw >= MBOX_MAX_KEYWORDS)
		return -1;
	s->kw = xreallocarray(s->kw, s->nkw + 1, sizeof(*s->kw));
	s->kw[s->nkw] = xstrndup(name, len);
	s->kwhash[h] = (uint32_t)(s->nkw + 1);
	return (long)s->nkw++;
}

struct mbox_scan *mbox_scan_new(void)
{
	return xcalloc(1, sizeof(struct mbox_scan));
}

void mbox_scan_free(struct mbox_scan *s)
{
	/* Keyword lists index s->kw: none without a table (and this loop
	 * over 100,000 records is a visible part of closing a big mailbox). */
	for (size_t i = 0; s->nkw > 0 && i < s->n; i++)
		free(s->m[i].kw);
	free(s->m);
	for (size_t i = 0; i < s->nkw; i++)
		free(s->kw[i]);
	free(s->kw);
	free(s->kwhash);
	memset(s, 0, sizeof(*s));
}

void mbox_scan_destroy(struct mbox_scan *s)
{
	if (s) {
		mbox_scan_free(s);
		free(s);
	}
}

struct mbox_smsg *mbox_scan_find(struct mbox_scan *s, uint32_t uid)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->m[mid].uid == uid)
			return &s->m[mid];
		if (s->m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* State of the message being scanned. */
struct scan_cur {
	struct mbox_smsg m;
	int active, in_from, first_in_file, pseudo, date_ok, content;
	int got_uid, got_status, got_xstatus, got_kw, got_modseq;
	uint64_t content_end;
	uint64_t clen;         /* Content-Length of a message others wrote, +1; 0 none */
	uint64_t clen_bytes;   /* what its line adds to RFC822.SIZE if shown */
	uint64_t framed_end;   /* its body, trusted up to here: no separators before */
	struct mbox_xform x;
	uint32_t kwv[MBOX_MAX_KEYWORDS];
	size_t nkwv;
	unsigned char kwbits[(MBOX_MAX_KEYWORDS + 7) / 8];
};

struct scan_base {
	int seen;
	uint32_t uidvalidity, uidnext;
	uint64_t hms;
};

static void add_kw(struct mbox_scan *s, struct scan_cur *c, const char *v, size_t vl)
{
	size_t i = 0;
	while (i < vl) {
		size_t j;
		long idx;
		while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		j = i;
		while (j < vl && v[j] != ' ' && v[j] != '\t' && v[j] != ',')
			j++;
		if (j > i && c && (idx = mbox_scan_kw(s, v + i, j - i, 1)) >= 0 &&
		    !(c->kwbits[idx / 8] & (1u << (idx % 8)))) {
			c->kwbits[idx / 8] |= (unsigned char)(1u << (idx % 8));
			c->kwv[c->nkwv++] = (uint32_t)idx;
		} else if (j > i && !c) {
			mbox_scan_kw(s, v + i, j - i, 1);
		}
		i = j;
	}
}

static void parse_hdr(struct mbox_scan *s, struct scan_base *b, struct scan_cur *c,
		      enum mbox_hdr cls, const char *p, size_t n)
{
	size_t vl, i;
	const char *v = hdr_value(p, n, &vl);
	uint64_t u;
	int ok;

	switch (cls) {
	case MH_XIMAP:
		if (c->first_in_file)
			c->pseudo = 1;
		/* UW-IMAP's pseudo message carries the base */
		/* fall through */
	case MH_XIMAPBASE:
		if (!c->first_in_file || b->seen)
			break;
		u = parse_u64(v, vl, &ok);
		if (!ok || u == 0 || u > UINT32_MAX)
			break;
		b->uidvalidity = (uint32_t)u;
		/* skip the uidvalidity, then uidnext, then keywords */
		for (i = 0; i < vl && (v[i] == ' ' || v[i] == '\t'); i++)
			;
		while (i < vl && v[i] >= '0' && v[i] <= '9')
			i++;
		/* The second number is the last UID given out (UW-IMAP and
		 * Dovecot write and read it so), not the next one. */
		u = parse_u64(v + i, vl - i, &ok);
		b->uidnext = ok && u < UINT32_MAX ? (uint32_t)u + 1 : 1;
		b->seen = 1;
		for (; i < vl && (v[i] == ' ' || v[i] == '\t'); i++)
			;
		while (i < vl && v[i] >= '0' && v[i] <= '9')
			i++;
		add_kw(s, NULL, v + i, vl - i);
		break;
	case MH_XUID:
		u = parse_u64(v, vl, &ok);
		if (!c->got_uid && ok && u > 0 && u <= UINT32_MAX)
			c->m.raw_uid = (uint32_t)u;
		c->got_uid = 1;
		break;
	case MH_STATUS:
		if (!c->got_status && memchr(v, 'R', vl))
			c->m.flags |= MF_SEEN;
		if (!c->got_status && memchr(v, 'O', vl))
			c->m.fresh = 0;
		c->got_status = 1;
		break;
	case MH_XSTATUS:
		for (i = 0; !c->got_xstatus && i < vl; i++) {
			if (v[i] == 'A')
				c->m.flags |= MF_ANSWERED;
			else if (v[i] == 'F')
				c->m.flags |= MF_FLAGGED;
			else if (v[i] == 'D')
				c->m.flags |= MF_DELETED;
			else if (v[i] == 'T')
				c->m.flags |= MF_DRAFT;
		}
		c->got_xstatus = 1;
		break;
	case MH_XKEYWORDS:
		if (!c->got_kw)
			add_kw(s, c, v, vl);
		c->got_kw = 1;
		break;
	case MH_MODSEQ:
		u = parse_u64(v, vl, &ok);
		/* Far below 2^64, so bumping it can never wrap. */
		if (!c->got_modseq && ok && u > 0 && u < (1ULL << 62))
			c->m.raw_modseq = u;
		c->got_modseq = 1;
		break;
	case MH_CLEN:
		u = parse_u64(v, vl, &ok);
		if (ok && u < (1ULL << 62))
			c->clen = u + 1;
		break;
	case MH_HIGHESTMODSEQ:
		u = parse_u64(v, vl, &ok);
		if (c->first_in_file && ok && u < (1ULL << 62) && u > b->hms)
			b->hms = u;
		break;
	case MH_RAW:     /* the transformer's business */
	case MH_NONE:
		break;
	}
}

static void cur_start(struct scan_cur *c, const char *p, size_t n, uint64_t off, int first)
{
	memset(&c->m, 0, sizeof(c->m));
	c->m.fresh = 1;   /* until a Status header with O says otherwise */
	c->active = 1;
	c->first_in_file = first;
	c->pseudo = c->content = 0;
	c->got_uid = c->got_status = c->got_xstatus = c->got_kw = c->got_modseq = 0;
	c->clen = c->framed_end = c->clen_bytes = 0;
	for (size_t i = 0; i < c->nkwv; i++)
		c->kwbits[c->kwv[i] / 8] = 0;
	c->nkwv = 0;
	c->m.from_off = off;
	c->in_from = p[n - 1] != '\n';
	c->m.hdr_off = off + n;
	c->content_end = c->m.hdr_off;
	c->date_ok = mbox_date_from_line(p, n, &c->m.idate, &c->m.tz) == 0;
	mbox_xform_init(&c->x);
}

static void cur_finish(struct mbox_scan *s, struct scan_cur *c)
{
	if (!c->active)
		return;
	c->active = 0;
	if (c->content && c->x.last_nl) {
		c->m.end_off = c->content_end - 1;
		c->m.size = c->x.out - (uint64_t)c->x.last_lf_out;
	} else {
		c->m.end_off = c->content_end;
		c->m.size = c->x.out;
	}
	if (c->m.hide_clen)
		c->m.size -= c->clen_bytes;
	c->m.raw = c->x.raw;
	if (c->pseudo) {
		s->has_pseudo = 1;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->m = xreallocarray(s->m, s->cap, sizeof(*s->m));
	}
	if (c->nkwv) {
		qsort(c->kwv, c->nkwv, sizeof(c->kwv[0]), cmp_u32);
		c->m.kw = xreallocarray(NULL, c->nkwv, sizeof(uint32_t));
		memcpy(c->m.kw, c->kwv, c->nkwv * sizeof(uint32_t));
		c->m.nkw = (uint32_t)c->nkwv;
	}
	s->m[s->n++] = c->m;
}

/* UIDs in the file must ascend; anything else (an MDA's new mail, a
 * message another program inserted) gets the next free UID, the same
 * answer for every reader of the same bytes. Works from the raw values
 * the parse found, so it can run again over a parse state that was
 * loaded from the index and extended by a tail scan. */
/* UIDs, modseqs and UIDVALIDITY from the parse state. apply: write them
 * into s (mbox_scan_assign); otherwise only add up what STATUS reports
 * into sum, leaving s as it is (mbox_scan_summarize). One function for
 * both, so the summary the index keeps can never drift from what a scan
 * assigns. */
static int assign(struct mbox_scan *s, const struct mbox_carry *carry, time_t mtime, int apply,
		  struct mbox_summary *sum, struct error *err)
{
	uint64_t next, last = 0, hms = s->base_hms;
	int any_virt = 0, needs_persist = 0;
	uint32_t uidvalidity;

	if (s->base_seen) {
		uidvalidity = s->base_uidvalidity;
		next = s->base_uidnext;
	} else {
		uidvalidity = carry ? carry->uidvalidity
				    : mtime < 1 ? 1 : (uint64_t)mtime > UINT32_MAX ? UINT32_MAX
										  : (uint32_t)mtime;
		next = carry && carry->uidnext > 1 ? carry->uidnext : 1;
		if (s->n > 0)
			needs_persist = 1;
	}
	if (sum)
		memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < s->n; i++) {
		struct mbox_smsg *m = &s->m[i];
		uint32_t uid = m->raw_uid;
		uint64_t modseq = m->raw_modseq;
		int virt = 0;
		if (uid == 0 || uid <= last) {
			uint64_t u = next > last + 1 ? next : last + 1;
			if (u > UINT32_MAX) {
				error_set(err, ERR_LIMIT, "Mailbox has run out of UIDs");
				return -1;
			}
			uid = (uint32_t)u;
			virt = 1;
			any_virt = 1;
		}
		last = uid;
		if (last + 1 > next)
			next = last + 1;
		if (modseq == 0 && !virt)
			modseq = 1;
		if (modseq > hms)
			hms = modseq;
		if (apply) {
			m->uid = uid;
			m->modseq = modseq;
			m->virt = (unsigned)virt;
		}
		if (sum) {
			sum->size += m->size;
			if (m->fresh)
				sum->recent++;
			if (!(m->flags & MF_SEEN) && sum->unseen++ == 0)
				sum->first_unseen = (uint32_t)(i + 1);
		}
	}
	if (next > UINT32_MAX)
		next = UINT32_MAX;   /* full: appends will fail, nothing is reused */
	if (hms == 0)
		hms = 1;
	if (any_virt) {
		hms++;
		needs_persist = 1;
		for (size_t i = 0; apply && i < s->n; i++)
			if (s->m[i].virt)
				s->m[i].modseq = hms;
	}
	if (apply) {
		s->have_base = s->base_seen;
		s->uidvalidity = uidvalidity;
		s->uidnext = (uint32_t)next;
		s->highestmodseq = hms;
		s->needs_persist = needs_persist;
	}
	if (sum) {
		sum->messages = (uint32_t)s->n;
		sum->uidvalidity = uidvalidity;
		sum->uidnext = (uint32_t)next;
		sum->highestmodseq = hms;
		sum->needs_persist = (uint32_t)needs_persist;
		sum->have_base = (uint32_t)s->base_seen;
	}
	return 0;
}

int mbox_scan_assign(struct mbox_scan *s, const struct mbox_carry *carry, time_t mtime,
		     struct error *err)
{
	return assign(s, carry, mtime, 1, NULL, err);
}

int mbox_scan_summarize(const struct mbox_scan *s, time_t mtime, struct mbox_summary *sum)
{
	struct error err;
	/* apply = 0: s is only read. */
	return assign((struct mbox_scan *)s, NULL, mtime, 0, sum, &err);
}

/* A Content-Length header (written by Dovecot, mutt or Solaris mail) is
 * trusted only when it checks out: the body it claims ends where the file
 * does, or where a From_ line follows the framing newline. Then a "From "
 * line inside that body (a forwarded mbox, unescaped) separates nothing.
 * Returns the offset up to which no separator is looked for (0: none). */
static uint64_t content_length_end(int fd, uint64_t body, uint64_t len, uint64_t end)
{
	char buf[6];
	uint64_t stop = body + len;
	if (len == 0 || stop > end || stop < body)
		return 0;
	if (stop == end || (stop + 1 == end && pread(fd, buf, 1, (off_t)stop) == 1 && buf[0] == '\n'))
		return stop;
	if (stop + 6 <= end && pread(fd, buf, 6, (off_t)stop) == 6 && memcmp(buf, "\nFrom ", 6) == 0)
		return stop;
	return 0;
}

static int from_line_is_separator(const char *p, size_t n)
{
	size_t i = 5, words = 0;
	if (mbox_date_from_line(p, n, &(time_t){ 0 }, &(int){ 0 }) == 0)
		return 1;
	/* No date: only "From" and a sender at most, nothing like prose. */
	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i < n)
			words++;
		while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			i++;
	}
	return words <= 1;
}

int mbox_scan_parse(int fd, uint64_t from, uint64_t end, struct mbox_scan *s,
		    struct error *err)
{
	struct mbox_reader r;
	struct scan_cur *c = xcalloc(1, sizeof(*c));
	struct scan_base b;
	const char *p;
	size_t n;
	uint64_t off;
	int ls, rc, first = from == 0 && s->n == 0 && !s->has_pseudo, last_nl = s->ends_nl;

	b.seen = s->base_seen;
	b.uidvalidity = s->base_uidvalidity;
	b.uidnext = s->base_uidnext;
	b.hms = s->base_hms;
	if (from == 0)
		last_nl = 1;
	mbox_reader_init(&r, fd, from, end);
	while ((rc = mbox_reader_next(&r, &p, &n, &off, &ls)) == 1) {
		enum mbox_hdr cls;
		last_nl = p[n - 1] == '\n';
		/* A separator is a From_ line with a date (as mutt and Dovecot
		 * take it): writers that do not escape bodies (Dovecot) leave
		 * "From here on..." lines in them. Some writers put no date
		 * ("From -": Mozilla's old files), so a From_ line with just a
		 * sender counts too; the file's first line is one whatever it
		 * says: nothing else could be there. */
		if (ls && n >= 5 && memcmp(p, "From ", 5) == 0 && off >= c->framed_end &&
		    (!c->active || from_line_is_separator(p, n))) {
			cur_finish(s, c);
			cur_start(c, p, n, off, first);
			first = 0;
			continue;
		}
		if (!c->active) {
			if (ls && mbox_line_is_blank(p, n))
				continue;
			error_set(err, ERR_PARSE, "Not an mbox file (no From_ line at the start)");
			goto fail;
		}
		if (c->in_from) {
			if (p[n - 1] == '\n') {
				c->in_from = 0;
				c->m.hdr_off = c->content_end = off + n;
			}
			continue;
		}
		{
			int was_header = c->x.in_header;
			uint64_t before = c->x.out;
			cls = mbox_xform_piece(&c->x, p, n, ls, NULL);
			if (cls == MH_CLEN && !c->clen_bytes)
				c->clen_bytes = c->x.out - before;
			if (was_header && !c->x.in_header && c->clen) {
				c->framed_end = content_length_end(fd, off + n, c->clen - 1, end);
				/* It checks out: metadata, hidden like Dovecot hides it. */
				c->m.hide_clen = c->framed_end != 0;
			}
		}
		c->content = 1;
		c->content_end = off + n;
		if (ls && cls != MH_NONE)
			parse_hdr(s, &b, c, cls, p, n);
		else if (ls && !c->date_ok && c->x.in_header && n > 5 &&
			 strncasecmp(p, "Date:", 5) == 0)
			c->date_ok = mbox_date_rfc5322(p + 5, n - 5, &c->m.idate, &c->m.tz) == 0;
	}
	if (rc < 0) {
		mbox_errno_error(err, errno, "read", "mailbox");
		goto fail;
	}
	if (c->active && c->in_from)
		c->m.hdr_off = c->content_end = end;
	cur_finish(s, c);
	s->ends_nl = last_nl;
	s->base_seen = b.seen;
	s->base_uidvalidity = b.uidvalidity;
	s->base_uidnext = b.uidnext;
	s->base_hms = b.hms;
	mbox_reader_free(&r);
	free(c);
	return 0;
fail:
	mbox_reader_free(&r);
	free(c);
	return -1;
}

int mbox_scan_fd(int fd, const struct stat *st, const struct mbox_carry *carry,
		 struct mbox_scan *s, struct error *err)
{
	memset(s, 0, sizeof(*s));
	mbox_fid_from_stat(&s->id, st);
	if (mbox_scan_parse(fd, 0, (uint64_t)st->st_size, s, err) < 0 ||
	    mbox_scan_assign(s, carry, st->st_mtime, err) < 0) {
		mbox_scan_free(s);
		return -1;
	}
	return 0;
}
