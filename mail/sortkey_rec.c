/* A message's sort keys as bytes a store can keep (mail/sort.h
 * mail_sort_keys_encode): made once per message, they spare every later
 * session the parsing, decoding and folding of its header fields.
 *
 *   version (1 byte) | flags (1: subject_reply) | date (8, little-endian,
 *   two's complement) | 9 strings, each a 4-byte little-endian length then
 *   its bytes: subject, from, to, cc, dfrom, dto, msgid, inreplyto,
 *   references
 *
 * The version names the key algorithm too: keys made by another one
 * (base subject, folding) are refused and made anew, never compared with
 * fresh ones. Stored bytes come back from disk or a database, so the
 * reader checks every length, refuses leftovers and NULs inside the
 * string keys: one spelling per content. */
#include <string.h>

#include "sort.h"

#define SK_NSTR 9

static const char **sk_str(struct mail_sort_keys *k, int i)
{
	const char **f[SK_NSTR - 1] = {
		&k->subject, &k->from, &k->to, &k->cc, &k->dfrom, &k->dto, &k->msgid, &k->inreplyto,
	};
	return i < SK_NSTR - 1 ? f[i] : &k->references;
}

static void put_le(struct buf *out, uint64_t v, size_t n)
{
	unsigned char b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	buf_append(out, b, n);
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void mail_sort_keys_encode(const struct mail_sort_keys *k, struct buf *out)
{
	struct mail_sort_keys c = *k;
	unsigned char head[2] = { MAIL_SORT_KEYS_VERSION, k->subject_reply ? 1 : 0 };

	buf_append(out, head, 2);
	put_le(out, (uint64_t)k->date, 8);
	for (int i = 0; i < SK_NSTR; i++) {
		const char *s = *sk_str(&c, i);
		size_t len = i == SK_NSTR - 1 ? k->references_len : strlen(s);
		put_le(out, len, 4);
		buf_append(out, s, len);
	}
}

int mail_sort_keys_decode(struct arena *a, const void *data, size_t len,
			  struct mail_sort_keys *k)
{
	const unsigned char *p = data, *end = p + len;

	memset(k, 0, sizeof(*k));
	if (len < 10 || p[0] != MAIL_SORT_KEYS_VERSION || p[1] > 1)
		return -1;
	k->subject_reply = p[1];
	k->date = (int64_t)get_le(p + 2, 8);
	p += 10;
	for (int i = 0; i < SK_NSTR; i++) {
		size_t n;
		if (end - p < 4 || (n = (size_t)get_le(p, 4)) > (size_t)(end - p) - 4)
			return -1;
		/* the C-string keys cannot hold a NUL (the encoder took strlen) */
		if (i < SK_NSTR - 1 && memchr(p + 4, '\0', n) != NULL)
			return -1;
		*sk_str(k, i) = arena_strndup(a, (const char *)p + 4, n);
		if (i == SK_NSTR - 1)
			k->references_len = n;
		p += 4 + n;
	}
	return p == end ? 0 : -1;
}

void mail_sort_keys_record(const char *hdr, size_t len, struct buf *out)
{
	struct arena *a = arena_new();
	struct mail_sort_keys k;

	mail_sort_keys_parse(a, hdr, len, &k);
	mail_sort_keys_encode(&k, out);
	arena_free(a);
}
