/* Modified UTF-7 <-> UTF-8 for mailbox names (RFC 3501 section 5.1.3). */
#include "mutf7.h"

#include <stdint.h>
#include <string.h>

#include "../lib/base64.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Modified BASE64 (RFC 3501 5.1.3) is base64 with ',' for '/'. */
static int b64val(unsigned char c)
{
	if (c == ',')
		return 63;
	return c == '/' ? -1 : base64_value(c);
}

/* One code point from strict UTF-8 at s[0..n): its length, or 0 if the
 * bytes there are not valid UTF-8 (or are NUL). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned c = s[0];
	size_t need;
	uint32_t v, min;

	if (c == 0)
		return 0;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		need = 1;
		v = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2;
		v = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		need = 3;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n - 1 < need)
		return 0;
	for (size_t k = 1; k <= need; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return need + 1;
}

int mutf7_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_next(p + i, len - i, &cp);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

/* Printable US-ASCII: the characters that must represent themselves. */
static int direct(uint32_t cp)
{
	return cp >= 0x20 && cp <= 0x7e;
}

int mutf7_encode(const char *in, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t start = out->len, i = 0;
	uint32_t bits = 0;      /* pending bits, right-aligned */
	unsigned nbits = 0;     /* how many (< 6 between characters) */
	int shifted = 0;

	while (i < len) {
		uint32_t cp, units[2];
		size_t k = utf8_next(p + i, len - i, &cp), nu;
		if (k == 0) {
			out->len = start;
			if (out->data)
				out->data[start] = '\0';
			return -1;
		}
		i += k;
		if (direct(cp)) {
			if (shifted) {
				if (nbits > 0)
					buf_append_byte(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
				buf_append_byte(out, '-');
				shifted = 0;
				bits = 0;
				nbits = 0;
			}
			if (cp == '&')
				buf_append(out, "&-", 2);
			else
				buf_append_byte(out, (char)cp);
			continue;
		}
		if (!shifted) {
			buf_append_byte(out, '&');
			shifted = 1;
		}
		if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000;
			units[0] = 0xd800 | (v >> 10);
			units[1] = 0xdc00 | (v & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
			nu = 1;
		}
		for (size_t u = 0; u < nu; u++) {
			bits = (bits << 16) | units[u];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				buf_append_byte(out, b64chars[(bits >> nbits) & 0x3f]);
			}
			bits &= (1u << nbits) - 1;
		}
	}
	if (shifted) {
		if (nbits > 0)
			buf_append_byte(out, b64chars[(bits << (6 - nbits)) & 0x3f]);
		buf_append_byte(out, '-');
	}
	if (out->data == NULL)
		buf_append(out, "", 0);   /* "" encodes to "": still a string */
	return 0;
}

static int fail(struct buf *out, size_t start, const char **why, const char *msg)
{
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	if (why)
		*why = msg;
	return -1;
}

int mutf7_decode(const char *in, size_t len, struct buf *out, const char **why)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t start = out->len, i = 0;

	while (i < len) {
		unsigned char c = p[i];
		uint32_t bits = 0, high = 0;
		unsigned nbits = 0;
		size_t units = 0;

		if (c < 0x20 || c > 0x7e)
			return fail(out, start, why,
				    c >= 0x80 ? "8-bit character (not modified UTF-7)"
					      : "control character");
		if (c != '&') {
			buf_append_byte(out, (char)c);
			i++;
			continue;
		}
		i++;
		if (i < len && p[i] == '-') {
			buf_append_byte(out, '&');
			i++;
			continue;
		}
		/* A shift: BASE64 up to '-'. */
		for (;;) {
			int v;
			if (i >= len)
				return fail(out, start, why, "'&' shift not ended by '-'");
			if (p[i] == '-') {
				i++;
				break;
			}
			v = b64val(p[i]);
			if (v < 0)
				return fail(out, start, why, "character outside modified BASE64");
			i++;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			uint32_t u = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			units++;
			if (high) {
				if (u < 0xdc00 || u > 0xdfff)
					return fail(out, start, why, "unpaired UTF-16 surrogate");
				put_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if (u >= 0xdc00 && u <= 0xdfff) {
				return fail(out, start, why, "unpaired UTF-16 surrogate");
			} else if (u == 0) {
				return fail(out, start, why, "NUL character");
			} else if (direct(u)) {
				return fail(out, start, why,
					    "printable US-ASCII character in BASE64");
			} else {
				put_utf8(out, u);
			}
		}
		if (units == 0)
			return fail(out, start, why, "empty or partial BASE64 shift");
		if (high)
			return fail(out, start, why, "unpaired UTF-16 surrogate");
		if (nbits >= 6 || bits != 0)
			return fail(out, start, why, "BASE64 shift has leftover bits");
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return 0;
}
