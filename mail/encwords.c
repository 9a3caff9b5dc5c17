/* RFC 2047 encoded words ("=?charset?B|Q?text?=") and charset conversion
 * to UTF-8 through iconv(3). Adjacent encoded words in the same charset
 * are converted together, because mailers split multi-byte characters
 * across words; the blanks between encoded words are dropped (RFC 2047
 * 6.2). Whatever does not decode is kept as written. */
#include "../lib/base64.h"
#include "../lib/hex.h"
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "mail_private.h"

#define MAX_CHARSET_NAME 64

static int charset_name_ok(const char *cs)
{
	size_t n = 0;
	/* iconv treats "//" suffixes and odd names specially: allow only
	 * what IANA charset names are made of. */
	for (; cs[n]; n++) {
		char c = cs[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':' || c == '+'))
			return 0;
	}
	return n > 0 && n < MAX_CHARSET_NAME;
}

int mail_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out)
{
	iconv_t cd;
	char *ip = (char *)in;
	size_t il = len, start = out->len;
	int ret = 0;

	if (!charset_name_ok(charset))
		return -1;
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1)
		return -1;
	while (il > 0) {
		char *op;
		size_t ol, r;
		buf_reserve(out, il * 4 + 16);
		op = out->data + out->len;
		ol = out->cap - out->len - 1;
		r = iconv(cd, &ip, &il, &op, &ol);
		out->len = (size_t)(op - out->data);
		if (r == (size_t)-1 && errno != E2BIG) {
			ret = -1;
			break;
		}
	}
	if (ret == 0) {
		/* Flush any shift state (ISO-2022-JP returns to ASCII). */
		char *op;
		size_t ol;
		buf_reserve(out, 16);
		op = out->data + out->len;
		ol = out->cap - out->len - 1;
		if (iconv(cd, NULL, NULL, &op, &ol) == (size_t)-1)
			ret = -1;
		else
			out->len = (size_t)(op - out->data);
	}
	iconv_close(cd);
	if (ret < 0)
		out->len = start;
	out->data[out->len] = '\0';
	return ret;
}

/* Decode the text of one word; lenient about base64 padding. */
static int decode_text(char enc, const char *t, size_t n, struct buf *out)
{
	size_t i;
	if (enc == 'B' || enc == 'b') {
		unsigned acc = 0, bits = 0;
		for (i = 0; i < n; i++) {
			int v;
			if (t[i] == '=')
				break;
			if ((v = base64_value((unsigned char)t[i])) < 0)
				return -1;
			acc = (acc << 6) | (unsigned)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				buf_append_byte(out, (char)((acc >> bits) & 0xff));
			}
		}
		return 0;
	}
	for (i = 0; i < n; i++) {
		int h, l;
		if (t[i] == '_') {
			buf_append_byte(out, ' ');
		} else if (t[i] == '=' && i + 2 < n && (h = hex_value((unsigned char)t[i + 1])) >= 0 &&
			   (l = hex_value((unsigned char)t[i + 2])) >= 0) {
			buf_append_byte(out, (char)(h * 16 + l));
			i += 2;
		} else {
			buf_append_byte(out, t[i]);
		}
	}
	return 0;
}

/* Recognise an encoded word at s[i]; fills charset (NUL-terminated in cs),
 * encoding and text span, returns its length or 0. */
static size_t match_word(const char *s, size_t len, size_t i, char *cs, char *enc,
			 size_t *toff, size_t *tlen)
{
	size_t j = i + 2, c0, k;
	if (i + 1 >= len || s[i] != '=' || s[i + 1] != '?')
		return 0;
	c0 = j;
	while (j < len && s[j] != '?' && s[j] != ' ' && s[j] != '\t' && j - c0 < MAX_CHARSET_NAME)
		j++;
	if (j >= len || s[j] != '?' || j == c0)
		return 0;
	memcpy(cs, s + c0, j - c0);
	cs[j - c0] = '\0';
	{
		char *star = strchr(cs, '*'); /* RFC 2231 5: charset*language */
		if (star)
			*star = '\0';
	}
	if (j + 2 >= len || s[j + 2] != '?' || !strchr("BbQq", s[j + 1]))
		return 0;
	*enc = s[j + 1];
	k = j + 3;
	*toff = k;
	while (k + 1 < len && !(s[k] == '?' && s[k + 1] == '=')) {
		if (s[k] == ' ' || s[k] == '\t' || s[k] == '?')
			return 0;
		k++;
	}
	if (k + 1 >= len)
		return 0;
	*tlen = k - *toff;
	return k + 2 - i;
}

char *mail_decode_words(struct arena *a, const char *in, size_t inlen)
{
	struct buf out = BUF_INIT, run = BUF_INIT;
	char *s, *res;
	size_t len, i = 0;
	char runcs[MAX_CHARSET_NAME + 1] = "";
	size_t run_src = 0, run_end = 0;   /* source span of the current run,
					    * with blanks dropped before it */
	size_t gap = (size_t)-1;           /* start of blanks skipped after a word */
	int in_run = 0;

	s = mail_unfold(a, in, inlen, &len);
	buf_reserve(&out, len + 1);
	while (i < len) {
		char cs[MAX_CHARSET_NAME + 1], enc;
		size_t toff, tlen, wl = match_word(s, len, i, cs, &enc, &toff, &tlen);
		size_t before = run.len;

		if (wl > 0 && in_run && strcasecmp(cs, runcs) != 0) {
			/* A new charset ends the run. */
			if (mail_charset_to_utf8(runcs, run.data, run.len, &out) < 0)
				buf_append(&out, s + run_src, run_end - run_src);
			buf_reset(&run);
			in_run = 0;
			before = 0;
		}
		if (wl > 0 && decode_text(enc, s + toff, tlen, &run) == 0) {
			if (!in_run) {
				in_run = 1;
				run_src = gap != (size_t)-1 ? gap : i;
				memcpy(runcs, cs, sizeof(runcs));
			}
			i += wl;
			run_end = i;
			/* Blanks between two encoded words vanish. */
			{
				size_t j = i;
				char cs2[MAX_CHARSET_NAME + 1], e2;
				size_t t2, l2;
				while (j < len && (s[j] == ' ' || s[j] == '\t'))
					j++;
				gap = (size_t)-1;
				if (j > i && match_word(s, len, j, cs2, &e2, &t2, &l2) > 0) {
					gap = i;
					i = j;
				}
			}
			continue;
		}
		run.len = before;
		if (in_run) {
			if (mail_charset_to_utf8(runcs, run.data, run.len, &out) < 0)
				buf_append(&out, s + run_src, run_end - run_src);
			buf_reset(&run);
			in_run = 0;
		}
		/* Blanks skipped before a word that then failed to decode:
		 * put them back. */
		if (gap != (size_t)-1)
			buf_append(&out, s + gap, i - gap);
		gap = (size_t)-1;
		buf_append_byte(&out, s[i]);
		i++;
	}
	if (in_run) {
		if (mail_charset_to_utf8(runcs, run.data, run.len, &out) < 0)
			buf_append(&out, s + run_src, run_end - run_src);
	}
	res = arena_strndup(a, out.data, out.len);
	buf_free(&out);
	buf_free(&run);
	return res;
}
