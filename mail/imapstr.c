/* IMAP string output for ENVELOPE and BODYSTRUCTURE: a quoted string when
 * that is safe, otherwise a literal. Literals are used for CR, LF, NUL,
 * 8-bit bytes (a client that has not enabled UTF8=ACCEPT must not see
 * them quoted) and for long values; a literal carries no NUL (RFC 9051
 * CHAR8): a NUL in a header becomes 0x80, as in FETCH BODY. */
#include <ctype.h>
#include <string.h>

#include "mail_private.h"

#define MAX_QUOTED 4096

static void write_string(struct buf *out, const char *s, size_t len, int lower)
{
	size_t i;
	int literal = len >= MAX_QUOTED;

	for (i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0' || c == '\r' || c == '\n' || c >= 0x80)
			literal = 1;
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", len);
		if (!lower && memchr(s, '\0', len) == NULL) {
			buf_append(out, s, len);
			return;
		}
		for (i = 0; i < len; i++) {
			char c = lower ? (char)tolower((unsigned char)s[i]) : s[i];
			buf_append_byte(out, c == '\0' ? (char)0x80 : c);
		}
		return;
	}
	buf_reserve(out, len + 2);
	buf_append_byte(out, '"');
	for (i = 0; i < len; i++) {
		char c = s[i];
		if (c == '"' || c == '\\')
			buf_append_byte(out, '\\');
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf_append_byte(out, c);
	}
	buf_append_byte(out, '"');
}

void mail_imap_nstring(struct buf *out, const char *s, size_t len)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		write_string(out, s, len, 0);
}

void mail_imap_cstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		write_string(out, s, strlen(s), 0);
}

void mail_imap_lstring(struct buf *out, const char *s)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		write_string(out, s, strlen(s), 1);
}
