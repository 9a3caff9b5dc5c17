/* IMAP URLs (RFC 5092) naming a message: see imapurl.h. The grammar is
 * walked from left to right with explicit positions, no recursion; the
 * mailbox and section may hold "/" (bchar), never ";", so the first
 * ";UID=" after a "/" ends the mailbox and the first "/;" after the UID
 * or the section starts the next part. */
#include "imapurl.h"

#include <string.h>
#include <strings.h>

#include "../lib/hex.h"

/* RFC 5092 character classes, beyond pct-encoded. */
enum url_class { URL_ACHAR, URL_BCHAR };

static int url_char_ok(unsigned char c, enum url_class cls)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	if (strchr("-._~!$'()*+,&=", c) != NULL && c != '\0')
		return 1;
	return cls == URL_BCHAR && c != '\0' && strchr(":@/", c) != NULL;
}

/* Decode s[0..n) (n >= 1) of class cls into a; NULL on a character
 * outside it, a bad escape, or a decoded control character. */
static const char *url_decode(struct arena *a, const char *s, size_t n, enum url_class cls)
{
	char *out;
	size_t o = 0;

	if (n == 0)
		return NULL;
	out = arena_alloc(a, n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return NULL;
			hi = hex_value((unsigned char)s[i + 1]);
			lo = hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
			if (c < 0x20 || c == 0x7f)
				return NULL;
		} else if (!url_char_ok(c, cls)) {
			return NULL;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

/* A number of at most 32 bits from s[0..n); nz: no zero, no leading 0. */
static int url_number(const char *s, size_t n, int nz, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10 || (nz && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX || (nz && v == 0))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Where word (case-insensitive) first occurs in s[from..n), or n. */
static size_t url_find(const char *s, size_t n, size_t from, const char *word)
{
	size_t wl = strlen(word);

	for (size_t i = from; i + wl <= n; i++)
		if (strncasecmp(s + i, word, wl) == 0)
			return i;
	return n;
}

static int url_prefix(const char *s, size_t n, size_t at, const char *word)
{
	size_t wl = strlen(word);
	return at + wl <= n && strncasecmp(s + at, word, wl) == 0;
}

/* "[user[;AUTH=type]@]host[:port]" of s[0..n). */
static int url_server(struct arena *a, const char *s, size_t n, struct imapurl *u,
		      const char **err)
{
	const char *at = memrchr(s, '@', n);
	size_t hstart = 0, hend = n;

	*err = "Invalid server in IMAP URL";
	if (at != NULL) {
		size_t ulen = (size_t)(at - s), semi = url_find(s, ulen, 0, ";AUTH=");
		if (ulen == 0)
			return -1;   /* a user, an ;AUTH=, or both */
		if (semi < ulen && (u->auth = url_decode(a, s + semi + 6, ulen - semi - 6,
							 URL_ACHAR)) == NULL)
			return -1;
		if (semi > 0 && (u->user = url_decode(a, s, semi, URL_ACHAR)) == NULL)
			return -1;
		hstart = ulen + 1;
	}
	const char *colon = memrchr(s + hstart, ':', n - hstart);
	const char *bracket = memrchr(s + hstart, ']', n - hstart);
	if (colon != NULL && (bracket == NULL || colon > bracket)) {
		hend = (size_t)(colon - s);
		if (url_number(colon + 1, n - hend - 1, 1, &u->port) < 0 || u->port > 65535)
			return -1;
	}
	for (size_t i = hstart; i < hend; i++)
		if (!url_char_ok((unsigned char)s[i], URL_BCHAR) && s[i] != '[' && s[i] != ']')
			return -1;
	if (hend == hstart)
		return -1;
	u->host = arena_strndup(a, s + hstart, hend - hstart);
	return 0;
}

/* "mailbox[;UIDVALIDITY=n]" of s[0..n). */
static int url_mailbox(struct arena *a, const char *s, size_t n, struct imapurl *u,
		       const char **err)
{
	size_t semi = url_find(s, n, 0, ";");

	*err = "Invalid mailbox in IMAP URL";
	if (semi < n) {
		if (!url_prefix(s, n, semi, ";UIDVALIDITY=") ||
		    url_number(s + semi + 13, n - semi - 13, 1, &u->uidvalidity) < 0)
			return -1;
	}
	u->mailbox = url_decode(a, s, semi, URL_BCHAR);
	return u->mailbox ? 0 : -1;
}

/* "o[.l]" of ;PARTIAL=. */
static int url_partial(const char *s, size_t n, struct imapurl *u)
{
	const char *dot = memchr(s, '.', n);
	uint32_t off, len = 0;
	size_t k = dot ? (size_t)(dot - s) : n;

	if (url_number(s, k, 0, &off) < 0 || (dot && url_number(dot + 1, n - k - 1, 1, &len) < 0))
		return -1;
	u->partial = 1;
	u->partial_off = off;
	u->partial_len = len;
	return 0;
}

/* What follows the mailbox: ";UID=m[/;SECTION=s][/;PARTIAL=o[.l]]". */
static int url_message(struct arena *a, const char *s, size_t n, struct imapurl *u,
		       const char **err)
{
	size_t end = url_find(s, n, 5, "/;");

	*err = "Invalid UID in IMAP URL";
	if (url_number(s + 5, end - 5, 1, &u->uid) < 0)
		return -1;
	if (url_prefix(s, n, end, "/;SECTION=")) {
		size_t from = end + 10;
		end = url_find(s, n, from, "/;");
		*err = "Invalid section in IMAP URL";
		if ((u->section = url_decode(a, s + from, end - from, URL_BCHAR)) == NULL)
			return -1;
	}
	if (url_prefix(s, n, end, "/;PARTIAL=")) {
		size_t from = end + 10;
		end = url_find(s, n, from, "/;");
		*err = "Invalid partial range in IMAP URL";
		if (url_partial(s + from, end - from, u) < 0)
			return -1;
	}
	if (end < n) {
		*err = url_prefix(s, n, end, "/;URLAUTH=") || url_prefix(s, n, end, ";URLAUTH=")
			       ? "URLAUTH is not supported"
			       : "Unexpected data in IMAP URL";
		return -1;
	}
	return 0;
}

int imapurl_parse(struct arena *a, const char *s, size_t len, struct imapurl *out,
		  const char **err)
{
	size_t p = 0, uid;

	memset(out, 0, sizeof(*out));
	if (url_prefix(s, len, 0, "imap://")) {
		size_t slash = url_find(s, len, 7, "/");
		if (url_server(a, s + 7, slash - 7, out, err) < 0)
			return -1;
		p = slash;
	}
	*err = "IMAP URL does not name a message";
	if (p >= len || s[p] != '/')
		return -1;
	p++;
	uid = url_find(s, len, p, "/;UID=");
	if (uid == len || url_mailbox(a, s + p, uid - p, out, err) < 0)
		return -1;
	return url_message(a, s + uid + 1, len - uid - 1, out, err);
}
