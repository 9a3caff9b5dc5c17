/* A fast 64-bit hash of a byte range (the XXH64 algorithm: four lanes of
 * 64-bit multiply-rotate, ~10 bytes per cycle), for checksums of cache
 * files that are read on every open. Not a MAC: it catches torn writes,
 * truncation and bit rot, not an adversary. */
#ifndef HAVEN_HASH64_H
#define HAVEN_HASH64_H
#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *p, size_t n, uint64_t seed);

/* The same hash fed in pieces: hash64_update over consecutive ranges gives
 * hash64 of their concatenation. */
struct hash64_state {
	uint64_t v[4];
	uint64_t total;
	unsigned char tail[32];
	size_t ntail;
	uint64_t seed;
};
void hash64_init(struct hash64_state *h, uint64_t seed);
void hash64_update(struct hash64_state *h, const void *p, size_t n);
uint64_t hash64_final(const struct hash64_state *h);

#endif
