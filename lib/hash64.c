/* XXH64 (Yann Collet's algorithm, written from its specification): the
 * input in 32-byte stripes over four independent accumulators, so the
 * multiplies overlap instead of chaining byte by byte as FNV's do. Input
 * words are read little-endian whatever the host. */
#include <string.h>

#include "hash64.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t round1(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t merge(uint64_t acc, uint64_t v)
{
	acc ^= round1(0, v);
	return acc * P1 + P4;
}

/* Whole stripes of p[0..n) into v; returns the bytes consumed. */
static size_t stripes(uint64_t v[4], const unsigned char *p, size_t n)
{
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		v[0] = round1(v[0], rd64(p + i));
		v[1] = round1(v[1], rd64(p + i + 8));
		v[2] = round1(v[2], rd64(p + i + 16));
		v[3] = round1(v[3], rd64(p + i + 24));
	}
	return i;
}

/* The end: the lanes (if any stripe was taken), the length, the tail. */
static uint64_t finish(const uint64_t v[4], uint64_t total, uint64_t seed,
		       const unsigned char *p, size_t n)
{
	uint64_t h;
	size_t i = 0;

	if (total >= 32) {
		h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
		for (int k = 0; k < 4; k++)
			h = merge(h, v[k]);
	} else {
		h = seed + P5;
	}
	h += total;
	for (; i + 8 <= n; i += 8) {
		h ^= round1(0, rd64(p + i));
		h = rotl(h, 27) * P1 + P4;
	}
	if (i + 4 <= n) {
		h ^= (uint64_t)rd32(p + i) * P1;
		h = rotl(h, 23) * P2 + P3;
		i += 4;
	}
	for (; i < n; i++) {
		h ^= p[i] * P5;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

void hash64_init(struct hash64_state *h, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->seed = seed;
	h->v[0] = seed + P1 + P2;
	h->v[1] = seed + P2;
	h->v[2] = seed;
	h->v[3] = seed - P1;
}

void hash64_update(struct hash64_state *h, const void *data, size_t n)
{
	const unsigned char *p = data;
	h->total += n;
	if (h->ntail) {
		size_t take = 32 - h->ntail < n ? 32 - h->ntail : n;
		memcpy(h->tail + h->ntail, p, take);
		h->ntail += take;
		p += take;
		n -= take;
		if (h->ntail < 32)
			return;
		stripes(h->v, h->tail, 32);
		h->ntail = 0;
	}
	size_t used = stripes(h->v, p, n);
	memcpy(h->tail, p + used, n - used);
	h->ntail = n - used;
}

uint64_t hash64_final(const struct hash64_state *h)
{
	return finish(h->v, h->total, h->seed, h->tail, h->ntail);
}

uint64_t hash64(const void *data, size_t n, uint64_t seed)
{
	struct hash64_state h;
	hash64_init(&h, seed);
	size_t used = stripes(h.v, data, n);
	return finish(h.v, n, seed, (const unsigned char *)data + used, n - used);
}
