/* PREVIEW extraction (mail/preview.h) and EMAILID (mail/emailid.h): which
 * part is used, transfer and charset decoding, HTML reduced to text,
 * white space collapsed, the length cap on a character boundary, invalid
 * UTF-8, and the IMAP string the preview is sent as. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../mail/emailid.h"
#include "../../mail/message.h"
#include "../../mail/preview.h"

/* The preview of a whole message given as a C string. */
static void check_msg(const char *msg, const char *want)
{
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	struct arena *a = arena_new();
	struct buf out = BUF_INIT;

	mail_preview(mail_parse(a, msg, strlen(msg), &lim), &out);
	buf_append_byte(&out, '\0');
	assert_string_equal(out.data, want);
	buf_free(&out);
	arena_free(a);
}

static void check_text(const char *text, int html, const char *want)
{
	struct buf out = BUF_INIT;
	mail_preview_text(text, strlen(text), html, &out);
	buf_append_byte(&out, '\0');
	assert_string_equal(out.data, want);
	buf_free(&out);
}

static void test_plain(void **state)
{
	(void)state;
	check_msg("Subject: x\r\n\r\nHello,\r\n\r\n   world\t!  \r\n", "Hello, world !");
	check_msg("Subject: x\r\n\r\n", "");
	check_msg("Subject: x\r\n\r\n \r\n\t\r\n", "");
	/* no Content-Type: text/plain */
	check_msg("\r\nbody only", "body only");
}

static void test_part_choice(void **state)
{
	(void)state;
	/* the first text part, not the attachment before it */
	check_msg("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		  "--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\n"
		  "attached\r\n"
		  "--b\r\nContent-Type: image/png\r\n\r\nPNG\r\n"
		  "--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n"
		  "--c\r\nContent-Type: text/plain\r\n\r\nthe text\r\n"
		  "--c\r\nContent-Type: text/html\r\n\r\n<p>the html</p>\r\n--c--\r\n"
		  "--b--\r\n",
		  "the text");
	/* nothing but an image: the empty preview */
	check_msg("Content-Type: image/gif\r\nContent-Transfer-Encoding: base64\r\n\r\nR0lGOD\r\n",
		  "");
	/* an HTML-only message */
	check_msg("Content-Type: text/html\r\n\r\n<html><body><p>Only&nbsp;HTML</p></body></html>",
		  "Only HTML");
}

static void test_decoding(void **state)
{
	(void)state;
	check_msg("Content-Type: text/plain; charset=iso-8859-1\r\n"
		  "Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me=\r\n br=FBl=E9e\r\n",
		  "Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e");
	check_msg("Content-Type: text/plain; charset=utf-8\r\n"
		  "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd8O2cmxk\r\n",
		  "Hello w\xc3\xb6rld");
	/* an unknown charset: the bytes, made valid UTF-8 */
	check_msg("Content-Type: text/plain; charset=x-unknown\r\n\r\nab\xff" "cd",
		  "ab\xef\xbf\xbd" "cd");
}

static void test_html(void **state)
{
	(void)state;
	check_text("<html><head><title>T</title><style>p { color: red }</style></head>"
		   "<body><p>Hi&nbsp;<b>the</b>re</p><script>alert('x<y')</script>"
		   "<!-- a <b>comment</b> -->&amp; bye &#233;&#x263A; &bogus; &lt;3</body></html>",
		   1, "T Hi there & bye \xc3\xa9\xe2\x98\xba &bogus; <3");
	check_text("a < b and c > d", 1, "a < b and c > d");
	check_text("x<br>y<br/>z<span>w</span>", 1, "x y zw");
	check_text("unterminated <b", 1, "unterminated <b");
	check_text("<style>never closed", 1, "");
	check_text("&#0; &#xD800; &#99999999;", 1, "\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
	/* plain text keeps what looks like markup */
	check_text("<p>&amp;</p>", 0, "<p>&amp;</p>");
}

static void test_cap(void **state)
{
	char text[1200];
	struct buf out = BUF_INIT;
	(void)state;

	/* 300 two-byte characters: 200 of them, whole */
	for (size_t i = 0; i < 300; i++) {
		text[2 * i] = (char)0xc3;
		text[2 * i + 1] = (char)0xa9;
	}
	mail_preview_text(text, 600, 0, &out);
	assert_int_equal(out.len, 2 * MAIL_PREVIEW_CHARS);
	buf_reset(&out);
	/* words: the space before a cut counts too, none trails */
	for (size_t i = 0; i < 400; i++)
		text[i] = i % 2 ? ' ' : 'w';
	mail_preview_text(text, 400, 0, &out);
	assert_int_equal(out.len, MAIL_PREVIEW_CHARS - 1);
	assert_true(out.data[out.len - 1] == 'w');
	buf_free(&out);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	/* overlong, surrogate, truncated, stray continuation */
	check_text("a\xc0\xaf" "b\xed\xa0\x80" "c\xe2\x82" "d\x80", 0,
		   "a\xef\xbf\xbd\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		   "c\xef\xbf\xbd\xef\xbf\xbd" "d\xef\xbf\xbd");
	/* controls are white space */
	check_text("a\x01\x02" "b\x7f" "c", 0, "a b c");
}

static void test_imap_string(void **state)
{
	struct buf out = BUF_INIT;
	(void)state;
	mail_preview_write(&out, "say \"hi\" \\o/", 12);
	buf_append_byte(&out, '\0');
	assert_string_equal(out.data, "\"say \\\"hi\\\" \\\\o/\"");
	buf_reset(&out);
	mail_preview_write(&out, "caf\xc3\xa9", 5);
	buf_append_byte(&out, '\0');
	assert_string_equal(out.data, "{5}\r\ncaf\xc3\xa9");
	buf_free(&out);
}

static void test_emailid(void **state)
{
	char id[MAIL_EMAILID_SIZE], id2[MAIL_EMAILID_SIZE];
	struct mail_emailid_state *st;
	(void)state;

	/* SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a3... */
	mail_emailid("abc", 3, id);
	assert_string_equal(id, "Mba7816bf8f01cfea414140de5dae2223");
	st = mail_emailid_begin();
	mail_emailid_update(st, "a", 1);
	mail_emailid_update(st, "bc", 2);
	mail_emailid_end(st, id2);
	assert_string_equal(id, id2);
	assert_true(mail_objectid_valid(id, strlen(id)));
	assert_true(mail_objectid_valid("a_B-9", 5));
	assert_false(mail_objectid_valid("", 0));
	assert_false(mail_objectid_valid("a.b", 3));
	assert_false(mail_objectid_valid("a b", 3));
	char longid[257];
	memset(longid, 'x', sizeof(longid));
	assert_true(mail_objectid_valid(longid, 255));
	assert_false(mail_objectid_valid(longid, 256));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_part_choice),
		cmocka_unit_test(test_decoding),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_imap_string),
		cmocka_unit_test(test_emailid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
