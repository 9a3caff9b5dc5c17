/* Content transfer decoding (see transfer.h). */
#include "../lib/base64.h"
#include "../lib/hex.h"
#include "message.h"
#include "search.h"
#include "transfer.h"

#include <stdint.h>
#include <strings.h>

void mail_decode_base64(const char *in, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=')
			break;
		int v = base64_value((unsigned char)c);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_byte(out, (char)((acc >> bits) & 0xff));
		}
	}
}

void mail_decode_qp(const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=') {
			int h, l;
			size_t j = i + 1;
			if (j + 1 < len && (h = hex_value((unsigned char)in[j])) >= 0 &&
			    (l = hex_value((unsigned char)in[j + 1])) >= 0) {
				buf_append_byte(out, (char)(h << 4 | l));
				i = j + 2;
				continue;
			}
			/* Soft line break: '=' [blanks] (CRLF / LF / end). */
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j == len) {
				i = j;
				continue;
			}
			if (in[j] == '\n' || (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
				i = j + (in[j] == '\r' ? 2 : 1);
				continue;
			}
			buf_append_byte(out, '=');
			i++;
			continue;
		}
		if (c == ' ' || c == '\t') {
			/* Drop blanks that end a line (added in transport). */
			size_t j = i;
			while (j < len && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j == len || in[j] == '\n' || (in[j] == '\r' && j + 1 < len && in[j + 1] == '\n')) {
				i = j;
				continue;
			}
			buf_append(out, in + i, j - i);
			i = j;
			continue;
		}
		buf_append_byte(out, (char)c);
		i++;
	}
}

static const char *part_charset(const struct mail_part *p)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (p->params[i].name && strcasecmp(p->params[i].name, "charset") == 0 &&
		    p->params[i].value && p->params[i].value[0])
			return p->params[i].value;
	return "us-ascii";
}

void mail_part_text(const struct mail_message *m, const struct mail_part *p, struct buf *out)
{
	if (m->data == NULL || p->body_off > m->len || p->body_len > m->len - p->body_off)
		return;
	const char *b = m->data + p->body_off;
	size_t blen = p->body_len;
	struct buf dec = BUF_INIT;

	if (p->encoding && strcasecmp(p->encoding, "base64") == 0) {
		mail_decode_base64(b, blen, &dec);
		b = dec.data ? dec.data : "";
		blen = dec.len;
	} else if (p->encoding && strcasecmp(p->encoding, "quoted-printable") == 0) {
		mail_decode_qp(b, blen, &dec);
		b = dec.data ? dec.data : "";
		blen = dec.len;
	}
	const char *cs = part_charset(p);
	size_t before = out->len;
	if (search_charset_is_utf8(cs) || search_charset_convert(cs, b, blen, 0, out) != 0) {
		out->len = before;
		buf_append(out, b, blen);
	}
	buf_free(&dec);
}
