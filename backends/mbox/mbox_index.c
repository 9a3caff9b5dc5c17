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
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define IDX_DIR ".haven-index"
#define IDX_MAGIC "HVNMBXI\n"
#define IDX_VERSION 3   /* 3: hide_clen; 2: X-IMAPbase read as the last UID */
#define IDX_FP_LEN 4096            /* bytes fingerprinted at each end */
#define IDX_MAX_FILE (1ULL << 31)  /* larger index files are not read */

/* Fixed-size, native-endian (a cache never leaves its machine); sizes
 * are checked so a build with other layouts ignores it. */
struct idx_hdr {
	char magic[8];
	uint32_t version, hdr_size, rec_size, flags;
	uint64_t dev, ino, size;
	int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
	uint64_t head_fp, tail_fp;
	uint32_t base_uidvalidity, base_uidnext;
	uint64_t base_hms;
	uint64_t nmsg, nkw, nrefs, kwbytes, namelen;
	uint64_t checksum;         /* of the whole file with this field zero */
};
#define IF_BASE_SEEN 1u
#define IF_PSEUDO 2u
#define IF_ENDS_NL 4u

struct idx_rec {
	uint64_t from_off, hdr_off, end_off, size, raw_modseq;
	int64_t idate;
	int32_t tz;
	uint32_t raw_uid, flags, nkw, kwstart, fresh;   /* fresh: bit 0, hide_clen: bit 1 */
};

/* FNV-1a, 64 bits: names, fingerprints and the checksum. Not against an
 * adversary (the user owns these files and can only fool themselves). */
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
	*out = fnv(FNV_INIT, buf, (size_t)len);
	return 0;
}

/* Head and tail fingerprints of the first `size` bytes of the file. */
static int fingerprints(int fd, uint64_t size, uint64_t *head, uint64_t *tail)
{
	uint64_t n = size < IDX_FP_LEN ? size : IDX_FP_LEN;
	return fingerprint(fd, 0, n, head) < 0 || fingerprint(fd, size - n, n, tail) < 0 ? -1 : 0;
}

/* ---- encoding ---------------------------------------------------------- */

void mbox_index_encode(const struct mbox_scan *s, const char *name, uint64_t head_fp,
		       uint64_t tail_fp, struct buf *out)
{
	struct idx_hdr h;
	uint64_t refs = 0, kwbytes = 0, sum;
	uint32_t kwstart = 0;

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
	h.base_uidvalidity = s->base_uidvalidity;
	h.base_uidnext = s->base_uidnext;
	h.base_hms = s->base_hms;
	h.nmsg = s->n;
	h.nkw = s->nkw;
	for (size_t i = 0; i < s->n; i++)
		refs += s->m[i].nkw;
	for (size_t i = 0; i < s->nkw; i++)
		kwbytes += strlen(s->kw[i]) + 1;
	h.nrefs = refs;
	h.kwbytes = kwbytes;
	h.namelen = strlen(name);

	buf_reset(out);
	buf_append(out, &h, sizeof(h));
	for (size_t i = 0; i < s->n; i++) {
		const struct mbox_smsg *m = &s->m[i];
		struct idx_rec r;
		memset(&r, 0, sizeof(r));
		r.from_off = m->from_off;
		r.hdr_off = m->hdr_off;
		r.end_off = m->end_off;
		r.size = m->size;
		r.raw_modseq = m->raw_modseq;
		r.idate = m->idate;
		r.tz = m->tz;
		r.raw_uid = m->raw_uid;
		r.flags = m->flags;
		r.nkw = m->nkw;
		r.kwstart = kwstart;
		r.fresh = m->fresh | (uint32_t)m->hide_clen << 1;
		kwstart += m->nkw;
		buf_append(out, &r, sizeof(r));
	}
	for (size_t i = 0; i < s->n; i++)
		buf_append(out, s->m[i].kw, s->m[i].nkw * sizeof(uint32_t));
	for (size_t i = 0; i < s->nkw; i++)
		buf_append(out, s->kw[i], strlen(s->kw[i]) + 1);
	buf_append(out, name, strlen(name));
	sum = fnv(FNV_INIT, out->data, out->len);
	memcpy(out->data + offsetof(struct idx_hdr, checksum), &sum, sizeof(sum));
}

/* Everything is checked: a corrupt or hostile index is a miss, never a
 * crash or a wrong offset outside the file it claims to describe. */
int mbox_index_decode(const void *data, size_t len, const char *name, struct mbox_scan *s,
		      uint64_t *head_fp, uint64_t *tail_fp)
{
	const unsigned char *p = data;
	struct idx_hdr h;
	uint64_t sum, zero = 0, need, prev_end = 0, prev_from = 0, kwstart = 0;
	const unsigned char *recs, *refs, *kw, *nm;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, IDX_MAGIC, 8) != 0 || h.version != IDX_VERSION ||
	    h.hdr_size != sizeof(h) || h.rec_size != sizeof(struct idx_rec) ||
	    (h.flags & ~(IF_BASE_SEEN | IF_PSEUDO | IF_ENDS_NL)) || h.base_hms >= (1ULL << 62) ||
	    h.mtime_ns < 0 || h.mtime_ns >= 1000000000 || h.ctime_ns < 0 ||
	    h.ctime_ns >= 1000000000 || h.size > INT64_MAX)
		return -1;
	if (h.nmsg > UINT32_MAX || h.nkw > MBOX_MAX_KEYWORDS || h.nrefs > h.nmsg * MBOX_MAX_KEYWORDS ||
	    h.kwbytes > h.nkw * (MAIL_KEYWORD_MAX + 1) || h.namelen > MBOX_NAME_MAX)
		return -1;
	need = sizeof(h) + h.nmsg * sizeof(struct idx_rec) + h.nrefs * sizeof(uint32_t) +
	       h.kwbytes + h.namelen;
	if (need != len)
		return -1;
	/* Checksum with the field zeroed, without copying the file. */
	sum = fnv(FNV_INIT, p, offsetof(struct idx_hdr, checksum));
	sum = fnv(sum, &zero, sizeof(zero));
	sum = fnv(sum, p + sizeof(h), len - sizeof(h));
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (The fuzz build skips it, or no mutation would get past it.) */
	if (sum != h.checksum)
		return -1;
#endif
	recs = p + sizeof(h);
	refs = recs + h.nmsg * sizeof(struct idx_rec);
	kw = refs + h.nrefs * sizeof(uint32_t);
	nm = kw + h.kwbytes;
	if (h.namelen != strlen(name) || memcmp(nm, name, h.namelen) != 0)
		return -1;

	s->id.dev = (dev_t)h.dev;
	s->id.ino = (ino_t)h.ino;
	s->id.size = (off_t)h.size;
	s->id.mtime.tv_sec = (time_t)h.mtime_s;
	s->id.mtime.tv_nsec = (long)h.mtime_ns;
	s->id.ctime.tv_sec = (time_t)h.ctime_s;
	s->id.ctime.tv_nsec = (long)h.ctime_ns;
	s->base_seen = (h.flags & IF_BASE_SEEN) != 0;
	s->has_pseudo = (h.flags & IF_PSEUDO) != 0;
	s->ends_nl = (h.flags & IF_ENDS_NL) != 0;
	s->base_uidvalidity = h.base_uidvalidity;
	s->base_uidnext = h.base_uidnext;
	s->base_hms = h.base_hms;
	*head_fp = h.head_fp;
	*tail_fp = h.tail_fp;

	/* Keyword table, in file order (indexes are what records refer to). */
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
		struct idx_rec r;
		struct mbox_smsg *m = &s->m[i];
		memcpy(&r, recs + i * sizeof(r), sizeof(r));
		memset(m, 0, sizeof(*m));
		/* Messages lie in order inside the file, headers after their
		 * From_ line, contents inside [hdr_off, end_off]. */
		if (r.from_off < prev_end || (i > 0 && r.from_off <= prev_from) ||
		    r.hdr_off < r.from_off || r.end_off < r.hdr_off || r.end_off > h.size ||
		    r.size > 2 * (r.end_off - r.hdr_off) + 2 || r.raw_modseq >= (1ULL << 62) ||
		    r.flags & ~(uint32_t)MF_ALL || r.fresh > 3 || r.nkw > h.nkw ||
		    r.kwstart != kwstart || kwstart + r.nkw > h.nrefs || r.tz < -24 * 60 ||
		    r.tz > 24 * 60)
			goto bad;
		kwstart += r.nkw;
		prev_end = r.end_off;
		prev_from = r.from_off;
		m->from_off = r.from_off;
		m->hdr_off = r.hdr_off;
		m->end_off = r.end_off;
		m->size = r.size;
		m->raw_modseq = r.raw_modseq;
		m->idate = (time_t)r.idate;
		m->tz = r.tz;
		m->raw_uid = r.raw_uid;
		m->flags = r.flags;
		m->fresh = r.fresh & 1;
		m->hide_clen = r.fresh >> 1;
		s->n = (size_t)i + 1;
		if (r.nkw) {
			m->kw = xreallocarray(NULL, r.nkw, sizeof(uint32_t));
			memcpy(m->kw, refs + (uint64_t)r.kwstart * sizeof(uint32_t),
			       r.nkw * sizeof(uint32_t));
			m->nkw = r.nkw;
			for (uint32_t k = 0; k < r.nkw; k++)
				if (m->kw[k] >= h.nkw || (k > 0 && m->kw[k] <= m->kw[k - 1]))
					goto bad;
		}
	}
	if (kwstart != h.nrefs)
		goto bad;
	return 0;
bad:
	mbox_scan_free(s);
	return -1;
}

size_t mbox_index_sum_offset(void)
{
	return offsetof(struct idx_hdr, checksum);
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

static int index_read(struct store *st, const char *name, struct mbox_scan *s, uint64_t *head,
		      uint64_t *tail)
{
	char fname[32];
	struct stat sb;
	void *data;
	int dfd = index_dir(st, 0), fd, rc = -1;
	size_t got = 0;

	if (dfd < 0)
		return -1;
	index_file_name(name, fname, sizeof(fname));
	fd = openat(dfd, fname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > IDX_MAX_FILE ||
	    sb.st_size < (off_t)sizeof(struct idx_hdr)) {
		close(fd);
		return -1;
	}
	data = xmalloc((size_t)sb.st_size);
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, (char *)data + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got == (size_t)sb.st_size)
		rc = mbox_index_decode(data, got, name, s, head, tail);
	free(data);
	return rc;
}

static void index_write(struct store *st, const char *name, int fd, const struct mbox_scan *s)
{
	char fname[32], tmp[96];
	struct buf b = BUF_INIT;
	uint64_t head, tail;
	int dfd, tfd;
	size_t off = 0;

	if (fingerprints(fd, (uint64_t)s->id.size, &head, &tail) < 0)
		return;
	if ((dfd = index_dir(st, 1)) < 0)
		return;
	index_file_name(name, fname, sizeof(fname));
	mbox_tmp_name(tmp, sizeof(tmp));
	tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0) {
			return;
	}
	mbox_index_encode(s, name, head, tail, &b);
	while (off < b.len) {
		ssize_t w = write(tfd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (close(tfd) < 0 || off != b.len || renameat(dfd, tmp, dfd, fname) < 0) {
		log_info("mbox: cannot write the index of %s: %s", name, strerror(errno));
		unlinkat(dfd, tmp, 0);
	}
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

void mbox_index_forget(struct store *st, const char *name)
{
	char fname[32];
	int dfd = index_dir(st, 0);
	if (dfd < 0)
		return;
	index_file_name(name, fname, sizeof(fname));
	unlinkat(dfd, fname, 0);
}

void mbox_index_save(struct store *st, const struct mbox_loc *loc, int fd,
		     const struct mbox_scan *s)
{
	if (st->index_min_size >= 0 && (uint64_t)s->id.size >= (uint64_t)st->index_min_size)
		index_write(st, loc->name, fd, s);
}

/* ---- the cached scan --------------------------------------------------- */

/* May the file as it is now be the indexed one plus appended messages? */
static int only_appended(int fd, const struct stat *sb, const struct mbox_scan *s,
			 uint64_t head, uint64_t tail)
{
	uint64_t old = (uint64_t)s->id.size, h2, t2;
	char from[5];

	if ((uint64_t)sb->st_size <= old || !s->ends_nl || (s->n == 0 && !s->has_pseudo))
		return 0;
	if (pread(fd, from, 5, (off_t)old) != 5 || memcmp(from, "From ", 5) != 0)
		return 0;
	return fingerprints(fd, old, &h2, &t2) == 0 && h2 == head && t2 == tail;
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
	if (from == 0)
		memset(s, 0, sizeof(*s));
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
