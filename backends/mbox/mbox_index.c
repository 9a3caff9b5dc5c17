/* The private index: a cache of a mailbox file's parse state, so that
 * SELECT, STATUS and the sync after an MDA delivery cost what changed, not
 * what the file holds.
 *
 * The file's headers stay the only truth. The index records the parse
 * state (the raw X-UID/X-Haven-Modseq values, flags, keywords, offsets,
 * sizes, dates of every message, and the first message's X-IMAPbase) of
 * one exact version of the file, named by its identity (device, inode,
 * size, mtime, ctime) and by a fingerprint of its first and last 4 KiB.
 * A reader then either
 *   - finds the file as the index describes it: no read of the mailbox;
 *   - finds the same inode, grown, with the recorded bytes still in place
 *     and a From_ line at the old end (what an MDA's append looks like):
 *     parses only the new tail;
 *   - or parses the whole file, as without an index.
 * UIDs are derived from the parse state afterwards (mbox_scan_assign), so
 * all three give exactly what a full parse of the same bytes gives.
 *
 * Limits of the tail check, knowingly accepted (Dovecot's dirty syncs make
 * the same trade): a program that rewrites bytes in the middle of the file
 * without changing their length and also appends, both between two of our
 * looks, is seen as an append. Everything that changes a length (mutt,
 * UW-IMAP, Haven itself: rewrites go through a new inode) is caught.
 *
 * Files: MBOX_DIR/.haven-index/<64-bit hash of the name in hex>, holding the
 * mailbox name, so a collision is a miss. Written to a temp file and
 * renamed; no fsync (a torn or stale index is detected by its checksum and
 * identity and ignored). Mailboxes smaller than mbox_index_min_size get
 * none: parsing them costs less than the index's own write. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/hash64.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define IDX_DIR ".haven-index"
#define IDX_MAGIC "HVNMBXI\n"
/* 5: RB_RAW; 4: hash64 checksums (header and body apart), STATUS summary, lineage,
 * 56-byte records with their keyword references inline, read in pieces;
 * 3: hide_clen; 2: X-IMAPbase read as the last UID */
#define IDX_VERSION 5
#define IDX_FP_LEN 4096            /* bytes fingerprinted at each end */
#define IDX_MAX_FILE (1ULL << 31)  /* larger index files are not read */
#define IDX_CHUNK 65536            /* read size */

/* Fixed-size, native-endian (a cache never leaves its machine); sizes
 * are checked so a build with other layouts ignores it.
 *
 * File: header, mailbox name, keyword table (NUL-terminated names), then
 * per message a record followed by its nkw keyword indexes (uint32). The
 * header's own checksum covers it and the name, so STATUS can trust the
 * summary after reading just those; the body checksum covers the rest. */
struct idx_hdr {
	char magic[8];
	uint32_t version, hdr_size, rec_size, flags;
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint64_t head_fp, tail_fp, lineage;
	uint32_t base_uidvalidity, base_uidnext;
	uint64_t base_hms;
	uint64_t nmsg, nkw, nrefs, kwbytes, namelen;
	/* derived from the above and the records: */
	uint32_t s_messages, s_recent, s_unseen, s_first_unseen, s_uidnext, s_uidvalidity;
	uint32_t s_flags, s_pad;
	uint64_t s_hms, s_size;
	uint64_t head_sum;         /* hash64 of this header (both sums zero) and the name */
	uint64_t body_sum;         /* hash64 of everything after the name */
};
#define IF_BASE_SEEN 1u
#define IF_PSEUDO 2u
#define IF_ENDS_NL 4u
#define SF_NEEDS_PERSIST 1u
#define SF_HAVE_BASE 2u

struct idx_rec {
	uint64_t from_off, end_off, size, raw_modseq;
	int64_t idate;
	uint32_t from_len;         /* hdr_off - from_off */
	uint32_t raw_uid;
	uint32_t bits;             /* MF_* flags; RB_FRESH, RB_HIDE_CLEN, RB_RAW */
	int16_t tz;
	uint16_t nkw;              /* keyword indexes that follow */
};
#define RB_FRESH (1u << 8)
#define RB_HIDE_CLEN (1u << 9)
#define RB_RAW (1u << 10)

/* FNV-1a, 64 bits: index file names (short strings). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static int fingerprint(int fd, uint64_t off, uint64_t len, uint64_t *out)
{
	char buf[IDX_FP_LEN];
	uint64_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, buf + got, (size_t)(len - got), (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (uint64_t)r;
	}
	*out = hash64(buf, (size_t)len, 0);
	return 0;
}

/* Head and tail fingerprints of the first `size` bytes of the file. */
static int fingerprints(int fd, uint64_t size, uint64_t *head, uint64_t *tail)
{
	uint64_t n = size < IDX_FP_LEN ? size : IDX_FP_LEN;
	return fingerprint(fd, 0, n, head) < 0 || fingerprint(fd, size - n, n, tail) < 0 ? -1 : 0;
}

uint64_t mbox_lineage_new(void)
{
	static uint64_t counter;
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
		v = hash64(&v, sizeof(v), (uint64_t)getpid() << 32 ^ ++counter);
	}
	return v ? v : 1;
}

/* ---- encoding ---------------------------------------------------------- */

static uint64_t head_sum(const struct idx_hdr *h, const void *name, size_t namelen)
{
	struct idx_hdr z = *h;
	struct hash64_state hs;
	z.head_sum = 0;
	z.body_sum = 0;
	hash64_init(&hs, 0);
	hash64_update(&hs, &z, sizeof(z));
	hash64_update(&hs, name, namelen);
	return hash64_final(&hs);
}

int mbox_index_encode(const struct mbox_scan *s, const char *name, uint64_t head_fp,
		      uint64_t tail_fp, struct buf *out)
{
	struct idx_hdr h;
	struct mbox_summary sum;
	uint64_t refs = 0, kwbytes = 0;
	size_t body;

	if (mbox_scan_summarize(s, s->id.mtime.tv_sec, &sum) < 0)
		return -1;
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IDX_MAGIC, 8);
	h.version = IDX_VERSION;
	h.hdr_size = sizeof(struct idx_hdr);
	h.rec_size = sizeof(struct idx_rec);
	h.flags = (s->base_seen ? IF_BASE_SEEN : 0) | (s->has_pseudo ? IF_PSEUDO : 0) |
		  (s->ends_nl ? IF_ENDS_NL : 0);
	h.dev = (uint64_t)s->id.dev;
	h.ino = (uint64_t)s->id.ino;
	h.size = (uint64_t)s->id.size;
	h.mtime_s = s->id.mtime.tv_sec;
	h.mtime_ns = s->id.mtime.tv_nsec;
	h.ctime_s = s->id.ctime.tv_sec;
	h.ctime_ns = s->id.ctime.tv_nsec;
	h.head_fp = head_fp;
	h.tail_fp = tail_fp;
	h.lineage = s->lineage;
	h.base_uidvalidity = s->base_uidvalidity;
	h.base_uidnext = s->base_uidnext;
	h.base_hms = s->base_hms;
	h.nmsg = s->n;
	h.nkw = s->nkw;
	for (size_t i = 0; i < s->n; i++) {
		if (s->m[i].hdr_off - s->m[i].from_off > UINT32_MAX || s->m[i].nkw > UINT16_MAX)
			return -1;   /* a From_ line of 4 GiB: parse it every time */
		refs += s->m[i].nkw;
	}
	for (size_t i = 0; i < s->nkw; i++)
		kwbytes += strlen(s->kw[i]) + 1;
	h.nrefs = refs;
	h.kwbytes = kwbytes;
	h.namelen = strlen(name);
	h.s_messages = sum.messages;
	h.s_recent = sum.recent;
	h.s_unseen = sum.unseen;
	h.s_first_unseen = sum.first_unseen;
	h.s_uidnext = sum.uidnext;
	h.s_uidvalidity = sum.uidvalidity;
	h.s_flags = (sum.needs_persist ? SF_NEEDS_PERSIST : 0) | (sum.have_base ? SF_HAVE_BASE : 0);
	h.s_hms = sum.highestmodseq;
	h.s_size = sum.size;
	h.head_sum = head_sum(&h, name, h.namelen);

	buf_reset(out);
	buf_reserve(out, sizeof(h) + h.namelen + kwbytes + s->n * sizeof(struct idx_rec) +
			 refs * sizeof(uint32_t));
	buf_append(out, &h, sizeof(h));
	buf_append(out, name, h.namelen);
	body = out->len;
	for (size_t i = 0; i < s->nkw; i++)
		buf_append(out, s->kw[i], strlen(s->kw[i]) + 1);
	for (size_t i = 0; i < s->n; i++) {
		const struct mbox_smsg *m = &s->m[i];
		struct idx_rec r;
		memset(&r, 0, sizeof(r));
		r.from_off = m->from_off;
		r.end_off = m->end_off;
		r.size = m->size;
		r.raw_modseq = m->raw_modseq;
		r.idate = m->idate;
		r.from_len = (uint32_t)(m->hdr_off - m->from_off);
		r.raw_uid = m->raw_uid;
		r.bits = m->flags | (m->fresh ? RB_FRESH : 0) | (m->hide_clen ? RB_HIDE_CLEN : 0) |
			 (m->raw ? RB_RAW : 0);
		r.tz = (int16_t)m->tz;
		r.nkw = (uint16_t)m->nkw;
		buf_append(out, &r, sizeof(r));
		buf_append(out, m->kw, m->nkw * sizeof(uint32_t));
	}
	h.body_sum = hash64(out->data + body, out->len - body, 0);
	memcpy(out->data + offsetof(struct idx_hdr, body_sum), &h.body_sum, sizeof(h.body_sum));
	return 0;
}

/* ---- decoding ---------------------------------------------------------- */

/* Where the body (what follows header and name) comes from: memory (the
 * fuzz target, the unit test) or an index file read in pieces (no buffer
 * the size of the file). The body checksum is taken over whole reads, not
 * per record: everything read must then be used, which decode checks. */
struct idx_src {
	const unsigned char *mem;
	size_t memlen, pos;
	int fd;                    /* -1: memory */
	unsigned char *buf;
	size_t bstart, blen, bcap;
	uint64_t left;             /* file: body bytes not read yet */
	struct hash64_state hs;
};

static const unsigned char *src_take(struct idx_src *r, size_t n)
{
	const unsigned char *p;
	if (r->fd < 0) {
		if (n > r->memlen - r->pos)
			return NULL;
		p = r->mem + r->pos;
		r->pos += n;
		return p;
	}
	if (r->blen - r->bstart < n) {
		memmove(r->buf, r->buf + r->bstart, r->blen - r->bstart);
		r->blen -= r->bstart;
		r->bstart = 0;
		if (n > r->bcap) {
			r->bcap = n;
			r->buf = xrealloc(r->buf, r->bcap);
		}
		while (r->blen < n) {
			size_t want = r->bcap - r->blen;
			ssize_t got;
			if (want > r->left)
				want = (size_t)r->left;
			got = want ? read(r->fd, r->buf + r->blen, want) : 0;
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return NULL;
			hash64_update(&r->hs, r->buf + r->blen, (size_t)got);
			r->blen += (size_t)got;
			r->left -= (uint64_t)got;
		}
	}
	p = r->buf + r->bstart;
	r->bstart += n;
	return p;
}

/* Nothing of the body left unread (so the checksum covers what was used). */
static int src_done(const struct idx_src *r)
{
	return r->fd < 0 ? r->pos == r->memlen : r->left == 0 && r->bstart == r->blen;
}

/* The checks every reader of a header makes; total: the file's length. */
static int hdr_check(const struct idx_hdr *h, const char *name, const void *nm, uint64_t *total)
{
	if (memcmp(h->magic, IDX_MAGIC, 8) != 0 || h->version != IDX_VERSION ||
	    h->hdr_size != sizeof(*h) || h->rec_size != sizeof(struct idx_rec) ||
	    (h->flags & ~(IF_BASE_SEEN | IF_PSEUDO | IF_ENDS_NL)) || h->base_hms >= (1ULL << 62) ||
	    h->mtime_ns < 0 || h->mtime_ns >= 1000000000 || h->ctime_ns < 0 ||
	    h->ctime_ns >= 1000000000 || h->size > INT64_MAX)
		return -1;
	if (h->nmsg > UINT32_MAX || h->nkw > MBOX_MAX_KEYWORDS ||
	    h->nrefs > h->nmsg * MBOX_MAX_KEYWORDS || h->kwbytes > h->nkw * (MAIL_KEYWORD_MAX + 1) ||
	    h->namelen > MBOX_NAME_MAX)
		return -1;
	if (h->s_messages != h->nmsg || h->s_recent > h->nmsg || h->s_unseen > h->nmsg ||
	    h->s_first_unseen > h->nmsg || (h->s_unseen == 0) != (h->s_first_unseen == 0) ||
	    (h->s_flags & ~(SF_NEEDS_PERSIST | SF_HAVE_BASE)) || h->s_pad != 0 ||
	    h->s_hms >= (1ULL << 62) || h->s_hms == 0)
		return -1;
	if (h->namelen != strlen(name) || memcmp(nm, name, h->namelen) != 0)
		return -1;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (The fuzz build skips the checksums, or no mutation would get past them.) */
	if (head_sum(h, nm, h->namelen) != h->head_sum)
		return -1;
#endif
	*total = sizeof(*h) + h->namelen + h->kwbytes + h->nmsg * sizeof(struct idx_rec) +
		 h->nrefs * sizeof(uint32_t);
	return 0;
}

static void head_fill(const struct idx_hdr *h, struct mbox_index_head *out)
{
	memset(out, 0, sizeof(*out));
	out->id.dev = (dev_t)h->dev;
	out->id.ino = (ino_t)h->ino;
	out->id.size = (off_t)h->size;
	out->id.mtime.tv_sec = (time_t)h->mtime_s;
	out->id.mtime.tv_nsec = (long)h->mtime_ns;
	out->id.ctime.tv_sec = (time_t)h->ctime_s;
	out->id.ctime.tv_nsec = (long)h->ctime_ns;
	out->head_fp = h->head_fp;
	out->tail_fp = h->tail_fp;
	out->lineage = h->lineage;
	out->sum.messages = h->s_messages;
	out->sum.recent = h->s_recent;
	out->sum.unseen = h->s_unseen;
	out->sum.first_unseen = h->s_first_unseen;
	out->sum.uidnext = h->s_uidnext;
	out->sum.uidvalidity = h->s_uidvalidity;
	out->sum.needs_persist = (h->s_flags & SF_NEEDS_PERSIST) != 0;
	out->sum.have_base = (h->s_flags & SF_HAVE_BASE) != 0;
	out->sum.highestmodseq = h->s_hms;
	out->sum.size = h->s_size;
}

int mbox_index_decode_head(const void *data, size_t len, const char *name,
			   struct mbox_index_head *out)
{
	struct idx_hdr h;
	uint64_t total;
	if (len < sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (h.namelen > len - sizeof(h) ||
	    hdr_check(&h, name, (const char *)data + sizeof(h), &total) < 0)
		return -1;
	head_fill(&h, out);
	out->file_len = total;
	return 0;
}

/* Everything is checked: a corrupt or hostile index is a miss, never a
 * crash or a wrong offset outside the file it claims to describe. h and
 * head: the header, already checked (mbox_index_decode_head); r: the body. */
static int decode_body(const struct idx_hdr *hp, const struct mbox_index_head *hd,
		       struct idx_src *r, struct mbox_scan *s, uint64_t *head_fp,
		       uint64_t *tail_fp)
{
	const unsigned char *p, *kw;
	const struct idx_hdr h = *hp;
	const struct mbox_index_head head = *hd;
	uint64_t prev_end = 0, prev_from = 0, refs = 0;

	memset(s, 0, sizeof(*s));
	s->id = head.id;
	s->lineage = head.lineage;
	s->base_seen = (h.flags & IF_BASE_SEEN) != 0;
	s->has_pseudo = (h.flags & IF_PSEUDO) != 0;
	s->ends_nl = (h.flags & IF_ENDS_NL) != 0;
	s->base_uidvalidity = h.base_uidvalidity;
	s->base_uidnext = h.base_uidnext;
	s->base_hms = h.base_hms;
	*head_fp = h.head_fp;
	*tail_fp = h.tail_fp;

	/* Keyword table, in file order (indexes are what records refer to). */
	if ((kw = src_take(r, (size_t)h.kwbytes)) == NULL)
		return -1;
	for (uint64_t i = 0, at = 0; i < h.nkw; i++) {
		const unsigned char *e = memchr(kw + at, '\0', (size_t)(h.kwbytes - at));
		size_t n;
		if (e == NULL)
			goto bad;
		n = (size_t)(e - (kw + at));
		if (n == 0 || mbox_scan_kw(s, (const char *)kw + at, n, 1) != (long)i)
			goto bad;
		at += n + 1;
		if (i + 1 == h.nkw && at != h.kwbytes)
			goto bad;
	}
	if (h.nkw == 0 && h.kwbytes != 0)
		goto bad;

	s->cap = h.nmsg ? (size_t)h.nmsg : 1;
	s->m = xreallocarray(NULL, s->cap, sizeof(*s->m));
	for (uint64_t i = 0; i < h.nmsg; i++) {
		struct idx_rec rec;
		struct mbox_smsg *m = &s->m[i];
		uint64_t hdr_off;
		if ((p = src_take(r, sizeof(rec))) == NULL)
			goto bad;
		memcpy(&rec, p, sizeof(rec));
		hdr_off = rec.from_off + rec.from_len;
		/* Messages lie in order inside the file, headers after their
		 * From_ line, contents inside [hdr_off, end_off]. */
		if (rec.from_off < prev_end || (i > 0 && rec.from_off <= prev_from) ||
		    rec.from_off > h.size || rec.end_off < hdr_off || rec.end_off > h.size ||
		    rec.size > 2 * (rec.end_off - hdr_off) + 2 || rec.raw_modseq >= (1ULL << 62) ||
		    (rec.bits & ~(uint32_t)(MF_ALL | RB_FRESH | RB_HIDE_CLEN | RB_RAW)) ||
		    rec.nkw > h.nkw ||
		    refs + rec.nkw > h.nrefs || rec.tz < -24 * 60 || rec.tz > 24 * 60)
			goto bad;
		refs += rec.nkw;
		prev_end = rec.end_off;
		prev_from = rec.from_off;
		memset(m, 0, sizeof(*m));
		m->from_off = rec.from_off;
		m->hdr_off = hdr_off;
		m->end_off = rec.end_off;
		m->size = rec.size;
		m->raw_modseq = rec.raw_modseq;
		m->idate = (time_t)rec.idate;
		m->tz = rec.tz;
		m->raw_uid = rec.raw_uid;
		m->flags = rec.bits & MF_ALL;
		m->fresh = (rec.bits & RB_FRESH) != 0;
		m->hide_clen = (rec.bits & RB_HIDE_CLEN) != 0;
		m->raw = (rec.bits & RB_RAW) != 0;
		s->n = (size_t)i + 1;
		if (rec.nkw) {
			if ((p = src_take(r, rec.nkw * sizeof(uint32_t))) == NULL)
				goto bad;
			m->kw = xreallocarray(NULL, rec.nkw, sizeof(uint32_t));
			memcpy(m->kw, p, rec.nkw * sizeof(uint32_t));
			m->nkw = rec.nkw;
			for (uint32_t k = 0; k < rec.nkw; k++)
				if (m->kw[k] >= h.nkw || (k > 0 && m->kw[k] <= m->kw[k - 1]))
					goto bad;
		}
	}
	if (refs != h.nrefs || !src_done(r))
		goto bad;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	if (hash64_final(&r->hs) != h.body_sum)
		goto bad;
#endif
	return 0;
bad:
	mbox_scan_free(s);
	return -1;
}

int mbox_index_decode(const void *data, size_t len, const char *name, struct mbox_scan *s,
		      uint64_t *head_fp, uint64_t *tail_fp)
{
	struct idx_src r;
	struct idx_hdr h;
	struct mbox_index_head head;
	size_t at;

	memset(s, 0, sizeof(*s));
	if (mbox_index_decode_head(data, len, name, &head) < 0 || head.file_len != len)
		return -1;
	memcpy(&h, data, sizeof(h));
	at = sizeof(h) + (size_t)h.namelen;
	memset(&r, 0, sizeof(r));
	r.mem = (const unsigned char *)data + at;
	r.memlen = len - at;
	r.fd = -1;
	hash64_init(&r.hs, 0);
	hash64_update(&r.hs, r.mem, r.memlen);
	return decode_body(&h, &head, &r, s, head_fp, tail_fp);
}

void mbox_index_derived(size_t *off, size_t *len)
{
	*off = offsetof(struct idx_hdr, s_messages);
	*len = sizeof(struct idx_hdr) - *off;
}

/* ---- files ------------------------------------------------------------- */

static void index_file_name(const char *name, char *out, size_t size)
{
	snprintf(out, size, "%016llx", (unsigned long long)fnv(FNV_INIT, name, strlen(name)));
}

/* The index directory, created on demand; -1 if there is no place for it. */
/* The index directory, opened once per store and created on demand; -1
 * if there is no place for it. The fd is the store's: callers never close
 * it. (Every open of a mailbox looks for journals here: one openat, not
 * three.) */
static int index_dir(struct store *st, int create)
{
	struct error err;
	int root;
	if (st->index_dirfd >= 0)
		return st->index_dirfd;
	if ((root = mbox_root_fd(st, 0, &err)) < 0)
		return -1;
	st->index_dirfd = openat(root, IDX_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->index_dirfd < 0 && errno == ENOENT && create) {
		if (mkdirat(root, IDX_DIR, 0700) < 0 && errno != EEXIST)
			return -1;
		st->index_dirfd = openat(root, IDX_DIR,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return st->index_dirfd;
}

static int index_open(struct store *st, const char *name, struct stat *sb)
{
	char fname[32];
	int dfd = index_dir(st, 0), fd;

	if (dfd < 0)
		return -1;
	index_file_name(name, fname, sizeof(fname));
	fd = openat(dfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode) || (uint64_t)sb->st_size > IDX_MAX_FILE ||
	    sb->st_size < (off_t)sizeof(struct idx_hdr)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int index_read(struct store *st, const char *name, struct mbox_scan *s, uint64_t *head,
		      uint64_t *tail)
{
	unsigned char first[sizeof(struct idx_hdr) + MBOX_NAME_MAX];
	struct mbox_index_head hd;
	struct idx_hdr h;
	struct stat sb;
	struct idx_src r;
	ssize_t got;
	int fd = index_open(st, name, &sb), rc = -1;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return -1;
	got = pread(fd, first, sizeof(first), 0);
	if (got < 0 || mbox_index_decode_head(first, (size_t)got, name, &hd) < 0 ||
	    hd.file_len != (uint64_t)sb.st_size)
		goto out;
	memcpy(&h, first, sizeof(h));
	memset(&r, 0, sizeof(r));
	r.fd = fd;
	r.left = (uint64_t)sb.st_size - sizeof(h) - h.namelen;
	if (lseek(fd, (off_t)(sizeof(h) + h.namelen), SEEK_SET) < 0)
		goto out;
	r.bcap = IDX_CHUNK;
	r.buf = xmalloc(r.bcap);
	hash64_init(&r.hs, 0);
	rc = decode_body(&h, &hd, &r, s, head, tail);
	free(r.buf);
out:
	close(fd);
	return rc;
}

int mbox_index_status(struct store *st, const struct mbox_loc *loc, int fd, const struct stat *sb,
		      struct mbox_summary *sum)
{
	unsigned char buf[sizeof(struct idx_hdr) + MBOX_NAME_MAX];
	struct mbox_index_head head;
	struct mbox_fid now;
	struct stat isb;
	uint64_t h2, t2;
	ssize_t got;
	int ifd;

	if (st->index_min_size < 0 || (uint64_t)sb->st_size < (uint64_t)st->index_min_size)
		return -1;
	if ((ifd = index_open(st, loc->name, &isb)) < 0)
		return -1;
	got = pread(ifd, buf, sizeof(buf), 0);
	close(ifd);
	if (got < 0 || mbox_index_decode_head(buf, (size_t)got, loc->name, &head) < 0 ||
	    head.file_len != (uint64_t)isb.st_size)
		return -1;
	mbox_fid_from_stat(&now, sb);
	if (!mbox_fid_equal(&head.id, &now) ||
	    fingerprints(fd, (uint64_t)now.size, &h2, &t2) < 0 || h2 != head.head_fp ||
	    t2 != head.tail_fp)
		return -1;
	*sum = head.sum;
	return 0;
}

/* Replace dfd/fname with data through a temp file and a rename: a reader
 * sees the old file or the new one, never a mix. No fsync: these are
 * caches, checked when read. */
static int write_replace(int dfd, const char *fname, const void *data, size_t len)
{
	char tmp[96];
	int tfd;
	size_t off = 0;

	mbox_tmp_name(tmp, sizeof(tmp));
	tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(tfd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (close(tfd) < 0 || off != len || renameat(dfd, tmp, dfd, fname) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

static void index_write(struct store *st, const char *name, int fd, const struct mbox_scan *s)
{
	char fname[32];
	struct buf b = BUF_INIT;
	uint64_t head, tail;
	int dfd;

	if (fingerprints(fd, (uint64_t)s->id.size, &head, &tail) < 0)
		return;
	if ((dfd = index_dir(st, 1)) < 0)
		return;
	index_file_name(name, fname, sizeof(fname));
	if (mbox_index_encode(s, name, head, tail, &b) == 0 &&
	    write_replace(dfd, fname, b.data, b.len) < 0)
		log_info("mbox: cannot write the index of %s: %s", name, strerror(errno));
	buf_free(&b);
}

/* Journals live beside the index: "<hash>.<kind>". */
static void journal_name(const char *name, const char *kind, char *out, size_t size)
{
	char h[32];
	index_file_name(name, h, sizeof(h));
	snprintf(out, size, "%s.%s", h, kind);
}

int mbox_journal_write(struct store *st, const char *name, const char *kind, const void *data,
		       size_t len)
{
	char fname[64];
	int dfd = index_dir(st, 1), fd;
	size_t off = 0;

	if (dfd < 0)
		return -1;
	journal_name(name, kind, fname, sizeof(fname));
	fd = openat(dfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fd);
	return off == len ? 0 : -1;
}

int mbox_journal_read(struct store *st, const char *name, const char *kind, struct buf *out)
{
	char fname[64], chunk[8192];
	int dfd = index_dir(st, 0), fd;
	ssize_t n;

	if (dfd < 0)
		return -1;
	journal_name(name, kind, fname, sizeof(fname));
	fd = openat(dfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && out->len < IDX_MAX_FILE)
		buf_append(out, chunk, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

void mbox_journal_remove(struct store *st, const char *name, const char *kind)
{
	char fname[64];
	int dfd = index_dir(st, 0);
	if (dfd < 0)
		return;
	journal_name(name, kind, fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
}

/* Caches beside the index ("<hash>.<kind>", like journals), replaced as
 * a whole. */
int mbox_side_write(struct store *st, const char *name, const char *kind, const void *data,
		    size_t len)
{
	char fname[64];
	int dfd = index_dir(st, 1);
	if (dfd < 0)
		return -1;
	journal_name(name, kind, fname, sizeof(fname));
	return write_replace(dfd, fname, data, len);
}

int mbox_side_open(struct store *st, const char *name, const char *kind, int create)
{
	char fname[64];
	int dfd = index_dir(st, create);

	if (dfd < 0)
		return -1;
	journal_name(name, kind, fname, sizeof(fname));
	return openat(dfd, fname, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (create ? O_CREAT : 0),
		      0600);
}

int mbox_side_read(struct store *st, const char *name, const char *kind, struct buf *out)
{
	char fname[64];
	struct stat sb;
	int dfd = index_dir(st, 0), fd;
	size_t got = 0;

	if (dfd < 0)
		return -1;
	journal_name(name, kind, fname, sizeof(fname));
	fd = openat(dfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > IDX_MAX_FILE) {
		close(fd);
		return -1;
	}
	buf_reset(out);
	buf_reserve(out, (size_t)sb.st_size);
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, out->data + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	out->len = got;
	return got == (size_t)sb.st_size ? 0 : -1;
}

void mbox_index_forget(struct store *st, const char *name)
{
	char fname[64];
	int dfd = index_dir(st, 0);
	if (dfd < 0)
		return;
	index_file_name(name, fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
	journal_name(name, MBOX_FIELDS_KIND, fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
	journal_name(name, MBOX_SORTKEYS_KIND, fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
	journal_name(name, "recent", fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
}

void mbox_index_save(struct store *st, const struct mbox_loc *loc, int fd,
		     const struct mbox_scan *s)
{
	if (st->index_min_size >= 0 && (uint64_t)s->id.size >= (uint64_t)st->index_min_size)
		index_write(st, loc->name, fd, s);
}

/* ---- the cached scan --------------------------------------------------- */

void mbox_index_rewritten(struct store *st, const struct mbox_loc *loc, int fd,
			  const struct stat *sb, uint64_t lineage)
{
	free(st->rewritten.name);
	st->rewritten.name = NULL;
	if (lineage == 0 ||
	    fingerprints(fd, (uint64_t)sb->st_size, &st->rewritten.head, &st->rewritten.tail) < 0)
		return;
	st->rewritten.name = xstrdup(loc->name);
	mbox_fid_from_stat(&st->rewritten.id, sb);
	st->rewritten.lineage = lineage;
}

static int only_appended_to(int fd, const struct stat *sb, uint64_t old, uint64_t head,
			    uint64_t tail);

/* The lineage of a file parsed from scratch: a new one, unless it is the
 * file our own rewrite made (same messages, same bytes), as it was or with
 * mail appended since (checked as the index's own tail parse is). */
static uint64_t fresh_lineage(struct store *st, const struct mbox_loc *loc, int fd,
			      const struct stat *sb, const struct mbox_fid *now)
{
	uint64_t l = 0;
	const struct mbox_fid *was = &st->rewritten.id;
	if (st->rewritten.name && strcmp(st->rewritten.name, loc->name) == 0 &&
	    was->dev == now->dev && was->ino == now->ino &&
	    (mbox_fid_equal(was, now) ||
	     only_appended_to(fd, sb, (uint64_t)was->size, st->rewritten.head, st->rewritten.tail)))
		l = st->rewritten.lineage;
	free(st->rewritten.name);
	st->rewritten.name = NULL;
	return l ? l : mbox_lineage_new();
}

/* May the file as it is now be one of old bytes (with those fingerprints)
 * plus appended messages? */
static int only_appended_to(int fd, const struct stat *sb, uint64_t old, uint64_t head,
			    uint64_t tail)
{
	uint64_t h2, t2;
	char from[5];

	if ((uint64_t)sb->st_size <= old || old == 0)
		return 0;
	if (pread(fd, from, 5, (off_t)old) != 5 || memcmp(from, "From ", 5) != 0)
		return 0;
	return fingerprints(fd, old, &h2, &t2) == 0 && h2 == head && t2 == tail;
}

/* May the file as it is now be the indexed one plus appended messages? */
static int only_appended(int fd, const struct stat *sb, const struct mbox_scan *s,
			 uint64_t head, uint64_t tail)
{
	if (!s->ends_nl || (s->n == 0 && !s->has_pseudo))
		return 0;
	return only_appended_to(fd, sb, (uint64_t)s->id.size, head, tail);
}

int mbox_scan_cached(struct store *st, const struct mbox_loc *loc, int fd, const struct stat *sb,
		     const struct mbox_carry *carry, struct mbox_scan *s, struct error *err)
{
	uint64_t head, tail, h2, t2, from = 0;
	int use = st->index_min_size >= 0 && (uint64_t)sb->st_size >= (uint64_t)st->index_min_size;
	struct mbox_fid now;

	mbox_fid_from_stat(&now, sb);
	if (use && index_read(st, loc->name, s, &head, &tail) == 0) {
		if (s->id.dev != now.dev || s->id.ino != now.ino) {
			mbox_scan_free(s);
		} else if (mbox_fid_equal(&s->id, &now) &&
			   fingerprints(fd, (uint64_t)now.size, &h2, &t2) == 0 && h2 == head &&
			   t2 == tail) {
			s->id = now;
			log_debug("mbox: %s: index up to date (%zu messages)", loc->name, s->n);
			if (mbox_scan_assign(s, carry, sb->st_mtime, err) < 0) {
				mbox_scan_free(s);
				return -1;
			}
			return 0;
		} else if (only_appended(fd, sb, s, head, tail)) {
			from = (uint64_t)s->id.size;
		} else {
			mbox_scan_free(s);
		}
	}
	if (from == 0) {
		memset(s, 0, sizeof(*s));
		if (use)
			s->lineage = fresh_lineage(st, loc, fd, sb, &now);
	}
	if (use)
		log_debug("mbox: %s: index %s, parsing from byte %llu of %llu", loc->name,
			  from ? "describes a prefix" : "unusable", (unsigned long long)from,
			  (unsigned long long)sb->st_size);
	s->id = now;
	if (mbox_scan_parse(fd, from, (uint64_t)sb->st_size, s, err) < 0) {
		mbox_scan_free(s);
		return -1;
	}
	if (use)
		index_write(st, loc->name, fd, s);
	if (mbox_scan_assign(s, carry, sb->st_mtime, err) < 0) {
		mbox_scan_free(s);
		return -1;
	}
	return 0;
}
