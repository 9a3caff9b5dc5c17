/* Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric) and
 * match types (:is, :contains, :matches with * ? and \ escapes, :value of
 * RFC 5231). :matches is the iterative two-pointer glob, so a hostile
 * pattern costs at most value length times pattern length. */
#include <string.h>

#include "sieve_private.h"

static unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

static int char_eq(enum sv_cmp cmp, char a, char b)
{
	return cmp == CMP_CASEMAP ? fold((unsigned char)a) == fold((unsigned char)b) : a == b;
}

int sv_ascii_casecmp_n(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;

	for (size_t i = 0; i < n; i++) {
		int d = (int)fold((unsigned char)a[i]) - (int)fold((unsigned char)b[i]);
		if (d != 0)
			return d;
	}
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int octet_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int d = n ? memcmp(a, b, n) : 0;

	if (d != 0)
		return d;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* The digits i;ascii-numeric reads: leading zeros skipped; *inf when the
 * string does not start with a digit (positive infinity, RFC 4790 9.1). */
static const char *numeric_digits(const char *s, size_t len, size_t *n, int *inf)
{
	size_t i = 0, j;

	*inf = len == 0 || s[0] < '0' || s[0] > '9';
	while (i < len && s[i] == '0')
		i++;
	for (j = i; j < len && s[j] >= '0' && s[j] <= '9'; j++)
		;
	*n = j - i;
	return s + i;
}

int sv_numeric_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t na, nb;
	int ia, ib;
	const char *da = numeric_digits(a, alen, &na, &ia);
	const char *db = numeric_digits(b, blen, &nb, &ib);

	if (ia || ib)
		return ia - ib;
	if (na != nb)
		return na < nb ? -1 : 1;
	return na ? memcmp(da, db, na) : 0;
}

static int cmp_order(enum sv_cmp cmp, const char *a, size_t alen, const char *b, size_t blen)
{
	if (cmp == CMP_NUMERIC)
		return sv_numeric_cmp(a, alen, b, blen);
	if (cmp == CMP_CASEMAP)
		return sv_ascii_casecmp_n(a, alen, b, blen);
	return octet_cmp(a, alen, b, blen);
}

int sv_rel_holds(enum sv_rel rel, int c)
{
	switch (rel) {
	case REL_GT: return c > 0;
	case REL_GE: return c >= 0;
	case REL_LT: return c < 0;
	case REL_LE: return c <= 0;
	case REL_EQ: return c == 0;
	case REL_NE: return c != 0;
	}
	return 0;
}

static int match_contains(enum sv_cmp cmp, const char *v, size_t vlen, const char *k, size_t klen)
{
	if (klen == 0)
		return 1;
	for (size_t i = 0; i + klen <= vlen; i++) {
		size_t j = 0;
		while (j < klen && char_eq(cmp, v[i + j], k[j]))
			j++;
		if (j == klen)
			return 1;
	}
	return 0;
}

/* Bytes of the UTF-8 character at s (1 for a stray byte). */
static size_t utf8_char_len(const char *s, size_t len)
{
	size_t n = 1;

	if ((unsigned char)s[0] < 0xc0)
		return 1;
	while (n < len && n < 4 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/* One pattern element at k[*pi]: 1 if it matches at v[*vi] (both advanced). */
static int glob_step(enum sv_cmp cmp, const char *v, size_t vlen, size_t *vi, const char *k,
		     size_t klen, size_t *pi)
{
	size_t p = *pi;

	if (*vi >= vlen)
		return 0;
	if (k[p] == '?') {
		*vi += utf8_char_len(v + *vi, vlen - *vi);
		*pi = p + 1;
		return 1;
	}
	if (k[p] == '\\' && p + 1 < klen)
		p++;
	if (!char_eq(cmp, v[*vi], k[p]))
		return 0;
	(*vi)++;
	*pi = p + 1;
	return 1;
}

static int match_glob(enum sv_cmp cmp, const char *v, size_t vlen, const char *k, size_t klen)
{
	size_t vi = 0, pi = 0, star_p = 0, star_v = 0;
	int have_star = 0;

	while (vi < vlen || pi < klen) {
		if (pi < klen && k[pi] == '*') {
			have_star = 1;
			star_p = ++pi;
			star_v = vi;
			continue;
		}
		if (pi < klen && glob_step(cmp, v, vlen, &vi, k, klen, &pi))
			continue;
		if (!have_star || star_v >= vlen)
			return 0;
		/* Let the last star take one more character and retry. */
		pi = star_p;
		vi = ++star_v;
	}
	return 1;
}

int sv_match_one(enum sv_cmp cmp, enum sv_match match, enum sv_rel rel, const char *value,
		 size_t vlen, const char *key, size_t klen)
{
	switch (match) {
	case MATCH_IS:
		return cmp_order(cmp, value, vlen, key, klen) == 0;
	case MATCH_CONTAINS:
		return match_contains(cmp, value, vlen, key, klen);
	case MATCH_MATCHES:
		return match_glob(cmp, value, vlen, key, klen);
	case MATCH_VALUE:
		return sv_rel_holds(rel, cmp_order(cmp, value, vlen, key, klen));
	case MATCH_COUNT:
		break;
	}
	return 0;
}
