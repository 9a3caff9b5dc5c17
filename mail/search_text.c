/* SEARCH text helpers: case folding and charset conversion.
 *
 * Comparison follows i;unicode-casemap (RFC 5051) in spirit: both the
 * search string and the text searched are mapped with Unicode full case
 * folding and then NFKD-normalised (libunistring's u8_casefold does both
 * in one call), and a match is a byte substring of the folded forms. So
 * "CAFÉ" finds "café" whether the é is precomposed or not, and "STRASSE"
 * finds "straße". RFC 5051 specifies titlecase mapping rather than case
 * folding; folding is what later practice (and RFC 5051's errata
 * discussion) settled on and differs only for a handful of characters. */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#include "search.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Valid UTF-8 copy of s: each byte that does not start a valid sequence
 * becomes U+FFFD. */
static void utf8_sanitize(const char *s, size_t len, struct buf *out)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + len;
	while (p < end) {
		const uint8_t *bad = u8_check(p, (size_t)(end - p));
		if (bad == NULL) {
			buf_append(out, p, (size_t)(end - p));
			return;
		}
		buf_append(out, p, (size_t)(bad - p));
		buf_append(out, replacement, 3);
		p = bad + 1;
	}
}

void search_fold(const char *s, size_t len, struct buf *out)
{
	size_t i;
	for (i = 0; i < len && !((unsigned char)s[i] & 0x80); i++)
		;
	if (i == len) {
		buf_reserve(out, len);
		for (i = 0; i < len; i++) {
			char c = s[i];
			out->data[out->len++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
		out->data[out->len] = '\0';
		return;
	}
	struct buf clean = BUF_INIT;
	const uint8_t *in = (const uint8_t *)s;
	if (u8_check(in, len) != NULL) {
		utf8_sanitize(s, len, &clean);
		in = (const uint8_t *)clean.data;
		len = clean.len;
	}
	size_t flen = 0;
	uint8_t *f = u8_casefold(in, len, NULL, UNINORM_NFKD, NULL, &flen);
	if (f != NULL) {
		buf_append(out, f, flen);
		free(f);
	} else {
		/* Out of memory inside libunistring: compare ASCII-folded. */
		for (i = 0; i < len; i++) {
			char c = (char)in[i];
			buf_append_byte(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
		}
	}
	buf_free(&clean);
}

int search_charset_is_utf8(const char *cs)
{
	return strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "UTF8") == 0 ||
	       strcasecmp(cs, "US-ASCII") == 0 || strcasecmp(cs, "ASCII") == 0;
}

static int charset_name_ok(const char *cs)
{
	size_t n = strlen(cs);
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)cs[i];
		/* No "//TRANSLIT"-style suffixes, no controls or spaces. */
		if (c <= ' ' || c >= 0x7f || c == '/' || c == '\\')
			return 0;
	}
	return 1;
}

int search_charset_convert(const char *cs, const char *s, size_t len, int strict,
			   struct buf *out)
{
	if (search_charset_is_utf8(cs)) {
		buf_append(out, s, len);
		return 0;
	}
	if (!charset_name_ok(cs))
		return -2;
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return -2;
	size_t start = out->len;
	char *in = (char *)(uintptr_t)s;
	size_t inleft = len;
	int rc = 0;
	for (;;) {
		char chunk[4096];
		char *o = chunk;
		size_t oleft = sizeof(chunk);
		size_t r = iconv(cd, inleft ? &in : NULL, inleft ? &inleft : NULL, &o, &oleft);
		buf_append(out, chunk, sizeof(chunk) - oleft);
		if (r != (size_t)-1) {
			if (inleft == 0)
				break;
			continue;
		}
		if (errno == E2BIG)
			continue;
		if (strict) {
			rc = -1;
			break;
		}
		/* EILSEQ: skip one byte; EINVAL: truncated sequence at the end. */
		buf_append(out, replacement, 3);
		if (errno == EINVAL || inleft <= 1)
			break;
		in++;
		inleft--;
	}
	/* Flush any shift state. */
	if (rc == 0) {
		char chunk[64];
		char *o = chunk;
		size_t oleft = sizeof(chunk);
		if (iconv(cd, NULL, NULL, &o, &oleft) != (size_t)-1)
			buf_append(out, chunk, sizeof(chunk) - oleft);
	}
	iconv_close(cd);
	if (rc < 0) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
