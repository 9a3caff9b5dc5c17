/* Sequence sets. '*' and the number 4294967295 differ for a range that
 * starts above the highest number in use: "7:*" holds the highest number,
 * "7:4294967295" holds none (issue 17). So '*' is stored as SEQ_STAR, one
 * above every number, and only seqset_resolve() turns it into one. */
#include "seqset.h"

#include <stdlib.h>
#include <string.h>

/* One seq-number: nz-number or '*'. Advances *p. */
static int seqset_number(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s == '*') {
		*out = SEQ_STAR;
		*p = s + 1;
		return 0;
	}
	/* nz-number: no leading zero, so "0" and "01" are both rejected. */
	if (*s < '1' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return -1;
		s++;
	}
	*out = v;
	*p = s;
	return 0;
}

int seqset_parse(struct arena *a, const char *s, struct seqset *out)
{
	size_t items = 1, i = 0;
	const char *p;

	out->r = NULL;
	out->n = 0;
	for (p = s; *p; p++) {
		if (*p == ',' && ++items > SEQSET_MAX_RANGES)
			return -1;
	}
	if (*s == '\0')
		return -1;
	out->r = arena_alloc(a, items * sizeof(*out->r));
	p = s;
	for (;;) {
		uint64_t lo, hi;
		if (seqset_number(&p, &lo) < 0)
			return -1;
		hi = lo;
		if (*p == ':') {
			p++;
			if (seqset_number(&p, &hi) < 0)
				return -1;
		}
		/* '*' is kept as the upper end until resolved; it is the
		 * largest value so this ordering stays true. */
		if (lo > hi) {
			uint64_t t = lo;
			lo = hi;
			hi = t;
		}
		out->r[i].lo = lo;
		out->r[i].hi = hi;
		i++;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -1;
		p++;
	}
	out->n = i;
	return 0;
}

static int seqset_cmp(const void *x, const void *y)
{
	const struct seq_range *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	return 0;
}

void seqset_resolve(struct seqset *s, uint32_t max)
{
	size_t i, out = 0;

	for (i = 0; i < s->n; i++) {
		struct seq_range *r = &s->r[i];
		if (r->lo == SEQ_STAR)
			r->lo = max;
		if (r->hi == SEQ_STAR)
			r->hi = max;
		if (r->lo > r->hi) {
			uint64_t t = r->lo;
			r->lo = r->hi;
			r->hi = t;
		}
		/* Only an empty mailbox (max 0) produces 0; no number 0
		 * exists, so it must never match. */
		if (r->hi == 0)
			continue;
		if (r->lo == 0)
			r->lo = 1;
		s->r[out++] = *r;
	}
	s->n = out;
	if (s->n < 2)
		return;
	qsort(s->r, s->n, sizeof(*s->r), seqset_cmp);
	out = 0;
	for (i = 1; i < s->n; i++) {
		struct seq_range *cur = &s->r[out];
		/* Adjacent ranges merge too (bounds fit in 32 bits here, so
		 * the +1 cannot wrap). */
		if (s->r[i].lo <= cur->hi + 1) {
			if (s->r[i].hi > cur->hi)
				cur->hi = s->r[i].hi;
		} else {
			s->r[++out] = s->r[i];
		}
	}
	s->n = out + 1;
}

int seqset_contains(const struct seqset *s, uint32_t n)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (n < s->r[mid].lo)
			hi = mid;
		else if (n > s->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}
