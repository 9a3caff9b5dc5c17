/* The header-field cache file (MBOX_DIR/.haven-index/<hash>.fields): for
 * each message of one lineage of a mailbox file (mbox_scan.lineage), the
 * header fields SEARCH and ENVELOPE look at, as mbox_fields.c extracted
 * them. Native-endian and fixed-layout like the index; its own checksums
 * (header + name, and the rest); everything checked on decode, so a
 * corrupt, truncated or foreign file is a miss, never a crash.
 *
 *   header | name | entries (uid ascending) | data (the entries' bytes, in
 *   entry order, back to back)
 *
 * One spelling per content (offsets implied by the order, padding zero),
 * so the fuzz target can demand that decode + encode gives the input. */
#include <stddef.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/hash64.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define FC_MAGIC "HVNFLDC\n"
#define FC_VERSION 2   /* 2: References: kept too (THREAD); a 1 is rebuilt */

struct fc_hdr {
	char magic[8];
	uint32_t version, hdr_size, ent_size, uidvalidity;
	uint64_t lineage;
	uint64_t nent, datalen, namelen;
	uint64_t head_sum;         /* hash64 of this header (both sums zero) and the name */
	uint64_t body_sum;         /* hash64 of entries and data */
};

struct fc_ent {
	uint32_t uid;
	uint32_t len;              /* bytes of data */
	uint64_t size;             /* RFC822.SIZE of the message they came from */
};

static uint64_t fc_head_sum(const struct fc_hdr *h, const void *name, size_t namelen)
{
	struct fc_hdr z = *h;
	struct hash64_state hs;
	z.head_sum = 0;
	z.body_sum = 0;
	hash64_init(&hs, 0);
	hash64_update(&hs, &z, sizeof(z));
	hash64_update(&hs, name, namelen);
	return hash64_final(&hs);
}

void mbox_fields_encode(uint64_t lineage, uint32_t uidvalidity, const char *name,
			const struct mbox_fields_rec *r, size_t n, struct buf *out)
{
	struct fc_hdr h;
	size_t body;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, FC_MAGIC, 8);
	h.version = FC_VERSION;
	h.hdr_size = sizeof(h);
	h.ent_size = sizeof(struct fc_ent);
	h.uidvalidity = uidvalidity;
	h.lineage = lineage;
	h.nent = n;
	h.namelen = strlen(name);
	for (size_t i = 0; i < n; i++)
		h.datalen += r[i].len;
	h.head_sum = fc_head_sum(&h, name, h.namelen);
	buf_reset(out);
	buf_reserve(out, sizeof(h) + h.namelen + n * sizeof(struct fc_ent) + h.datalen);
	buf_append(out, &h, sizeof(h));
	buf_append(out, name, h.namelen);
	body = out->len;
	for (size_t i = 0; i < n; i++) {
		struct fc_ent e = { r[i].uid, (uint32_t)r[i].len, r[i].size };
		buf_append(out, &e, sizeof(e));
	}
	for (size_t i = 0; i < n; i++)
		buf_append(out, r[i].data, r[i].len);
	h.body_sum = hash64(out->data + body, out->len - body, 0);
	memcpy(out->data + offsetof(struct fc_hdr, body_sum), &h.body_sum, sizeof(h.body_sum));
}

int mbox_fields_decode(const void *data, size_t len, const char *name, struct mbox_fields_file *f)
{
	const unsigned char *p = data;
	struct fc_hdr h;
	uint64_t need, total = 0;
	uint32_t prev = 0;

	memset(f, 0, sizeof(*f));
	if (len < sizeof(h))
		return -1;
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, FC_MAGIC, 8) != 0 || h.version != FC_VERSION ||
	    h.hdr_size != sizeof(h) || h.ent_size != sizeof(struct fc_ent) || h.lineage == 0 ||
	    h.nent > UINT32_MAX || h.datalen > len || h.namelen > MBOX_NAME_MAX)
		return -1;
	need = sizeof(h) + h.namelen + h.nent * sizeof(struct fc_ent) + h.datalen;
	if (need != len || h.namelen != strlen(name) || memcmp(p + sizeof(h), name, h.namelen) != 0)
		return -1;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* (The fuzz build skips the checksums, or no mutation would get past them.) */
	if (fc_head_sum(&h, name, h.namelen) != h.head_sum ||
	    hash64(p + sizeof(h) + h.namelen, len - sizeof(h) - h.namelen, 0) != h.body_sum)
		return -1;
#endif
	f->lineage = h.lineage;
	f->uidvalidity = h.uidvalidity;
	f->ents = p + sizeof(h) + h.namelen;
	f->nent = (size_t)h.nent;
	f->data = (const char *)f->ents + h.nent * sizeof(struct fc_ent);
	f->datalen = (size_t)h.datalen;
	/* UIDs strictly ascending, lengths adding up to the data. */
	for (size_t i = 0; i < f->nent; i++) {
		struct fc_ent e;
		memcpy(&e, f->ents + i * sizeof(e), sizeof(e));
		if (e.uid <= prev || e.len > h.datalen - total)
			return -1;
		prev = e.uid;
		total += e.len;
	}
	return total == h.datalen ? 0 : -1;
}

int mbox_fields_entry(const struct mbox_fields_file *f, size_t i, const uint64_t *offs,
		      struct mbox_fields_rec *out)
{
	struct fc_ent e;
	if (i >= f->nent)
		return -1;
	memcpy(&e, f->ents + i * sizeof(e), sizeof(e));
	out->uid = e.uid;
	out->size = e.size;
	out->len = e.len;
	out->data = f->data + offs[i];
	return 0;
}

uint64_t *mbox_fields_offsets(const struct mbox_fields_file *f)
{
	uint64_t *offs = xreallocarray(NULL, f->nent ? f->nent : 1, sizeof(uint64_t)), at = 0;
	for (size_t i = 0; i < f->nent; i++) {
		struct fc_ent e;
		memcpy(&e, f->ents + i * sizeof(e), sizeof(e));
		offs[i] = at;
		at += e.len;
	}
	return offs;
}

long mbox_fields_find(const struct mbox_fields_file *f, uint32_t uid)
{
	size_t lo = 0, hi = f->nent;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t u;
		memcpy(&u, f->ents + mid * sizeof(struct fc_ent), sizeof(u));
		if (u == uid)
			return (long)mid;
		if (u < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void mbox_fields_derived(size_t *off, size_t *len)
{
	*off = offsetof(struct fc_hdr, head_sum);
	*len = sizeof(struct fc_hdr) - *off;
}
