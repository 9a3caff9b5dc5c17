/* IMAP sequence sets: "1,3:5,7:*". Parsed into sorted, merged ranges.
 * '*' stands for the largest number in use and is resolved at match time
 * (RFC 9051: "n:*" with n > max means max:n's reverse, i.e. max). Every
 * number, 4294967295 included, is a number: '*' is kept as SEQ_STAR, a
 * value above every number, so "7:4294967295" never means "7:*". */
#ifndef HAVEN_SEQSET_H
#define HAVEN_SEQSET_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"

#define SEQ_STAR ((uint64_t)UINT32_MAX + 1)

struct seq_range {
	uint64_t lo, hi;    /* inclusive; SEQ_STAR for '*' until resolved */
};

struct seqset {
	struct seq_range *r;
	size_t n;
};

#define SEQSET_MAX_RANGES 100000

/* Parse s; returns -1 on syntax error, 0 (zero) or out-of-range numbers,
 * or more than SEQSET_MAX_RANGES ranges. "$" is not handled here. */
int seqset_parse(struct arena *a, const char *s, struct seqset *out);
/* Resolve '*' against max (the highest existing number; 0 if none),
 * normalise lo<=hi, sort and merge. After this ranges hold no SEQ_STAR
 * and no 0: every bound fits in a uint32_t. */
void seqset_resolve(struct seqset *s, uint32_t max);
int seqset_contains(const struct seqset *s, uint32_t n);  /* after resolve */

#endif
