/* encoded-character (RFC 5228 2.4.2.4): "${hex: 41 42}" and
 * "${unicode:1F600}" inside strings. A sequence that is not well formed
 * stays as written; a code point outside Unicode is an error. */
#include <string.h>
#include <strings.h>

#include "../lib/hex.h"
#include "sieve_private.h"

static void put_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(b, u, n);
}

/* The items of s[0..len) (between "${kind:" and "}"), blank-separated,
 * each of 1..maxd hex digits (exactly 2 for hex). 0 if not well formed,
 * -1 for a code point out of range, else 1 with the bytes added to out. */
static int enc_items(const char *s, size_t len, int unicode, struct buf *out)
{
	size_t i = 0, items = 0;

	while (i < len) {
		if (s[i] == ' ' || s[i] == '\t') {
			i++;
			continue;
		}
		unsigned long v = 0;
		size_t d = 0;
		for (; i < len && hex_value((unsigned char)s[i]) >= 0; i++, d++)
			if (d < 8)
				v = v * 16 + (unsigned long)hex_value((unsigned char)s[i]);
		if (d == 0 || (!unicode && d != 2) || (unicode && d > 6) ||
		    (i < len && s[i] != ' ' && s[i] != '\t'))
			return 0;
		if (unicode && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)))
			return -1;
		if (unicode)
			put_utf8(out, v);
		else
			buf_append_byte(out, (char)v);
		items++;
	}
	return items > 0 ? 1 : 0;
}

/* A sequence at s (which starts with "${"): its length, or 0. */
static size_t enc_one(const char *s, size_t len, const char *close, struct buf *out, int *bad)
{
	size_t head;
	int unicode;

	if (close == NULL)
		return 0;
	if (len >= 6 && strncasecmp(s + 2, "hex:", 4) == 0)
		head = 6, unicode = 0;
	else if (len >= 10 && strncasecmp(s + 2, "unicode:", 8) == 0)
		head = 10, unicode = 1;
	else
		return 0;
	if (s + head > close)
		return 0;
	size_t mark = out->len;
	int r = enc_items(s + head, (size_t)(close - s) - head, unicode, out);
	if (r <= 0) {
		out->len = mark;
		*bad |= r < 0;
		return 0;
	}
	return (size_t)(close - s) + 1;
}

int sv_decode_encoded(struct arena *a, struct sv_str *s, const char **why)
{
	struct buf b = BUF_INIT;
	int bad = 0;
	size_t i = 0, used;
	/* The next '}', found again only once passed: linear in the string. */
	const char *close = memchr(s->s, '}', s->len);

	if (s->len < 2 || memmem(s->s, s->len, "${", 2) == NULL)
		return 0;
	while (i < s->len) {
		if (close != NULL && close < s->s + i)
			close = memchr(s->s + i, '}', s->len - i);
		if (s->s[i] == '$' && i + 1 < s->len && s->s[i + 1] == '{' &&
		    (used = enc_one(s->s + i, s->len - i, close, &b, &bad)) > 0) {
			i += used;
			continue;
		}
		if (bad)
			break;
		buf_append_byte(&b, s->s[i++]);
	}
	if (bad) {
		buf_free(&b);
		*why = "encoded character outside Unicode";
		return -1;
	}
	s->s = arena_strndup(a, b.data ? b.data : "", b.len);
	s->len = b.len;
	buf_free(&b);
	return 0;
}
