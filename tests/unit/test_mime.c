/* MIME parsing, ENVELOPE, BODYSTRUCTURE, sections, encoded words, RFC 2231
 * parameters and RFC 5322 dates (mail/message.h). Sample messages are in
 * tests/data/mime (MimeKit's test data, MIT licence, CRLF line ends). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "../../mail/message.h"
#include "../../mail/structure.h"

#ifndef DATA_DIR
#define DATA_DIR "tests/data/mime/"
#endif

static char *load(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *d;
	long n;

	snprintf(path, sizeof(path), "%s%s", DATA_DIR, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	d = xmalloc((size_t)n + 1);
	assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
	d[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return d;
}

struct fixture {
	struct arena *a;
	char *data;
	size_t len;
	struct mail_message *m;
	struct buf out;
};

static void fx_open(struct fixture *fx, const char *name)
{
	fx->a = arena_new();
	fx->data = load(name, &fx->len);
	fx->m = mail_parse(fx->a, fx->data, fx->len, NULL);
	buf_init(&fx->out);
}

static void fx_mem(struct fixture *fx, const char *msg)
{
	fx->a = arena_new();
	fx->len = strlen(msg);
	fx->data = xstrndup(msg, fx->len);
	fx->m = mail_parse(fx->a, fx->data, fx->len, NULL);
	buf_init(&fx->out);
}

static void fx_close(struct fixture *fx)
{
	buf_free(&fx->out);
	free(fx->data);
	arena_free(fx->a);
}

static const char *bs(struct fixture *fx, const struct mail_part *p, int ext)
{
	buf_reset(&fx->out);
	mail_write_bodystructure(&fx->out, fx->m, p ? p : &fx->m->root, ext);
	return fx->out.data;
}

static const char *env(struct fixture *fx, const struct mail_part *p)
{
	buf_reset(&fx->out);
	mail_write_envelope(&fx->out, fx->m, p ? p : &fx->m->root);
	return fx->out.data;
}

/* Section content as a NUL-terminated copy (tests only). */
static char *sect(struct fixture *fx, const char *spec, size_t *off)
{
	struct buf gen = BUF_INIT;
	const char *p, *err = NULL;
	size_t len;
	char *r;

	assert_int_equal(mail_section(fx->m, spec, strlen(spec), &gen, &p, &len, &err), 0);
	if (off)
		*off = p >= fx->data && p <= fx->data + fx->len ? (size_t)(p - fx->data) : (size_t)-1;
	r = arena_strndup(fx->a, p, len);
	buf_free(&gen);
	return r;
}

#define MP_BOUNDARY "----=_NextPart_000_003F_01CE98CE.6E826F90"
#define MIMEKIT_ADDR "((NIL NIL \"mimekit\" \"example.com\"))"

static void test_simple_multipart(void **state)
{
	struct fixture fx;
	size_t off;
	(void)state;

	fx_open(&fx, "simple-multipart.eml");
	/* The preamble and epilogue are not parts. Part 1 ends before the
	 * CRLF that precedes the next boundary: "This is the message
	 * body.\r\n" = 27 bytes, one line (the empty line before the
	 * boundary line is the body's last CRLF + the boundary's CRLF). */
	assert_string_equal(bs(&fx, NULL, 1),
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL)"
		"(\"application\" \"octet-stream\" (\"name\" \"attachment.txt\") NIL NIL \"base64\" 54 "
		"NIL (\"attachment\" (\"filename\" \"attachment.txt\")) NIL NIL)"
		" \"mixed\" (\"boundary\" \"" MP_BOUNDARY "\") NIL NIL NIL)");
	assert_string_equal(bs(&fx, NULL, 0),
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1)"
		"(\"application\" \"octet-stream\" (\"name\" \"attachment.txt\") NIL NIL \"base64\" 54)"
		" \"mixed\")");
	assert_string_equal(env(&fx, NULL),
		"(\"Tue, 12 Nov 2013 09:12:42 -0500\" \"this is a simple multipart message\" "
		MIMEKIT_ADDR " " MIMEKIT_ADDR " " MIMEKIT_ADDR " " MIMEKIT_ADDR " NIL NIL NIL "
		"\"<54AD68C9E3B0184CAC6041320424FD1B5B81E74D@localhost.localdomain>\")");
	assert_int_equal(fx.m->root.nchildren, 2);
	assert_int_equal(fx.m->root.hdr_len, 363);
	assert_string_equal(sect(&fx, "1", &off), "This is the message body.\r\n");
	assert_int_equal(off, 519);
	assert_string_equal(sect(&fx, "2", &off),
			    "VGhpcyBpcyB0aGUgYmFzZTY0IGVuY29kZWQgYXR0YWNobWVudC4=\r\n");
	assert_int_equal(off, 753);
	assert_string_equal(sect(&fx, "1.MIME", &off),
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
	assert_int_equal(off, 443);
	assert_string_equal(sect(&fx, "HEADER", &off), arena_strndup(fx.a, fx.data, 363));
	assert_int_equal(off, 0);
	assert_string_equal(sect(&fx, "TEXT", &off), fx.data + 363);
	assert_int_equal(off, 363);
	assert_string_equal(sect(&fx, "", &off), fx.data);
	/* Field names are case-insensitive, kept in message order, and the
	 * result ends with the empty line. The folded Content-Type comes
	 * out with its continuation line. */
	assert_string_equal(sect(&fx, "HEADER.FIELDS (subject \"FROM\" Content-Type)", NULL),
		"From: mimekit@example.com\r\n"
		"Subject: this is a simple multipart message\r\n"
		"Content-Type: multipart/mixed;\r\n"
		"\tboundary=\"" MP_BOUNDARY "\"\r\n\r\n");
	assert_string_equal(sect(&fx, "HEADER.FIELDS.NOT (From To Subject Date MIME-Version "
				 "Message-ID Content-Type)", NULL),
		"X-Mailer: Microsoft Office Outlook 12.0\r\n\r\n");
	assert_string_equal(sect(&fx, "header.fields (X-None)", NULL), "\r\n");
	/* Parts that do not exist are empty, not errors. */
	assert_string_equal(sect(&fx, "3", NULL), "");
	assert_string_equal(sect(&fx, "1.1", NULL), "");
	assert_string_equal(sect(&fx, "1.HEADER", NULL), "");
	assert_string_equal(sect(&fx, "3.MIME", NULL), "");
	fx_close(&fx);
}

static void test_embedded_message(void **state)
{
	struct fixture fx;
	const struct mail_part *p2, *msg;
	size_t off;
	(void)state;

	fx_open(&fx, "simple-embedded-message.eml");
	p2 = mail_find_part(fx.m, "2", 1);
	assert_non_null(p2);
	assert_int_equal(p2->nchildren, 1);
	msg = &p2->children[0];
	assert_true(msg->is_message);
	assert_ptr_equal(msg->parent, p2);
	/* message/rfc822: the envelope and body of the embedded message,
	 * then the line count of the whole embedded message (6 header
	 * lines, the empty line, one body line = 8). No charset default
	 * for message/ types. */
	assert_string_equal(bs(&fx, NULL, 1),
		"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 27 1 NIL NIL NIL NIL)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 216 "
		"(\"Tue, 12 Nov 2013 09:12:42 -0500\" \"embedded message\" " MIMEKIT_ADDR " "
		MIMEKIT_ADDR " " MIMEKIT_ADDR " " MIMEKIT_ADDR " NIL NIL NIL NIL) "
		"(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 36 1 NIL NIL NIL NIL) "
		"8 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"" MP_BOUNDARY "\") NIL NIL NIL)");
	assert_string_equal(env(&fx, msg),
		"(\"Tue, 12 Nov 2013 09:12:42 -0500\" \"embedded message\" " MIMEKIT_ADDR " "
		MIMEKIT_ADDR " " MIMEKIT_ADDR " " MIMEKIT_ADDR " NIL NIL NIL NIL)");
	/* BODY[2] is the whole embedded message; 2.HEADER / 2.TEXT its
	 * header and body; 2.1 the body too (non-multipart message: its
	 * body is part 1); 2.MIME the part's own MIME header. */
	assert_int_equal(strlen(sect(&fx, "2", &off)), 216);
	assert_int_equal(off, 587);
	assert_string_equal(sect(&fx, "2.TEXT", &off), "This is the embedded message body.\r\n");
	assert_int_equal(off, 767);
	assert_string_equal(sect(&fx, "2.1", &off), "This is the embedded message body.\r\n");
	assert_int_equal(off, 767);
	assert_string_equal(sect(&fx, "2.MIME", &off), "Content-Type: message/rfc822\r\n\r\n");
	assert_int_equal(off, 555);
	assert_int_equal(strlen(sect(&fx, "2.HEADER", &off)), 180);
	assert_int_equal(off, 587);
	assert_string_equal(sect(&fx, "2.HEADER.FIELDS (Subject)", NULL),
			    "Subject: embedded message\r\n\r\n");
	/* 2.1 is a text body, not a message: it has no HEADER. */
	assert_string_equal(sect(&fx, "2.1.HEADER", NULL), "");
	assert_string_equal(sect(&fx, "1.TEXT", NULL), "");
	fx_close(&fx);
}

static void test_rfc2060_numbering(void **state)
{
	/* RFC 2060's part-specifier example: every leaf says its number. */
	static const char *leaves[] = { "1", "2", "3.1", "3.2", "4.1", "4.2.1", "4.2.2.1", "4.2.2.2" };
	struct fixture fx;
	size_t i;
	(void)state;

	fx_open(&fx, "rfc2060.txt");
	for (i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		char want[128];
		snprintf(want, sizeof(want), "This part specifier should be: %s\r\n", leaves[i]);
		assert_string_equal(sect(&fx, leaves[i], NULL), want);
	}
	assert_string_equal(sect(&fx, "3.HEADER.FIELDS (Subject)", NULL),
			    "Subject: This part specifier should be: 3\r\n\r\n");
	assert_string_equal(sect(&fx, "4.2.HEADER.FIELDS (SUBJECT)", NULL),
			    "Subject: This part specifier should be: 4.2\r\n\r\n");
	assert_null(mail_find_part(fx.m, "5", 1));
	assert_null(mail_find_part(fx.m, "4.3", 3));
	assert_non_null(mail_find_part(fx.m, "4.2.2.2", 7));
	assert_string_equal(mail_find_part(fx.m, "4.2.2", 5)->subtype, "alternative");
	/* "Content-Type: TEXT/PLAIN" comes out lower-case. */
	assert_string_equal(mail_find_part(fx.m, "1", 1)->type, "text");
	fx_close(&fx);
}

static void test_digest(void **state)
{
	struct fixture fx;
	(void)state;

	fx_open(&fx, "multipart-digest.txt");
	/* The root is message/rfc822 (the mbox "From " line is not a field);
	 * parts of the digest without Content-Type are message/rfc822 (RFC
	 * 2046 5.1.5) and are parsed as messages. The boundary lines carry
	 * trailing blanks ("--foo "), which are allowed. */
	assert_string_equal(bs(&fx, NULL, 0),
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 358 "
		"(\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) "
		"((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) "
		"((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m1\" ((NIL NIL \"m1\" \"example.com\")) "
		"((NIL NIL \"m1\" \"example.com\")) ((NIL NIL \"m1\" \"example.com\")) NIL NIL NIL NIL NIL) "
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1) 4)"
		"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 46 (NIL \"m2\" ((NIL NIL \"m2\" \"example.com\")) "
		"((NIL NIL \"m2\" \"example.com\")) ((NIL NIL \"m2\" \"example.com\")) NIL NIL NIL NIL NIL) "
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 9 1) 4) \"digest\") 28)");
	assert_string_equal(sect(&fx, "1.2.MIME", NULL),
			    "Content-Type: message/rfc822\r\nX-Mime: m2 header\r\n\r\n");
	assert_string_equal(sect(&fx, "1.2.TEXT", NULL), "m2 body\r\n");
	fx_close(&fx);
}

static void test_broken_types(void **state)
{
	struct fixture fx;
	(void)state;

	/* "application-x-gzip" has no subtype: the Content-Type is invalid,
	 * so the RFC 2045 default text/plain; charset=us-ascii applies. */
	fx_open(&fx, "missing-subtype.txt");
	assert_string_equal(bs(&fx, NULL, 1),
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 1 NIL NIL NIL NIL)");
	assert_string_equal(env(&fx, NULL),
		"(\"Tue, 29 Dec 2015 09:06:17 -0400\" \"Test of an invalid mime-type\" "
		"((\"someone\" NIL \"someone\" \"somewhere.com\")) ((\"someone\" NIL \"someone\" \"somewhere.com\")) "
		"((\"someone\" NIL \"someone\" \"somewhere.com\")) "
		"((\"someone else\" NIL \"someone.else\" \"somewhere.else.com\")) NIL NIL NIL NIL)");
	fx_close(&fx);

	/* A multipart/alternative with no part at all: the grammar needs one
	 * body, so an empty text/plain stands in (as Dovecot does); the
	 * following part stays on the outer level. */
	fx_open(&fx, "empty-multipart.txt");
	assert_string_equal(bs(&fx, NULL, 0),
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"alternative\")"
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 85 1) \"mixed\")");
	fx_close(&fx);

	/* No boundary parameter: shown as text; Content-Transfer-Encoding
	 * that is not a token: "7bit"; a header without a body. */
	fx_mem(&fx, "Content-Type: multipart/mixed\r\nContent-Transfer-Encoding: ?bad\r\n\r\nx\r\n");
	assert_string_equal(bs(&fx, NULL, 0), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1)");
	fx_close(&fx);
	fx_mem(&fx, "Subject: only a header");
	assert_int_equal(fx.m->root.hdr_len, 22);
	assert_int_equal(fx.m->root.body_len, 0);
	assert_string_equal(bs(&fx, NULL, 0), "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
	fx_close(&fx);
}

static void test_multipart_edges(void **state)
{
	struct fixture fx;
	(void)state;

	/* Missing close delimiter, lone LF line ends, a boundary that is a
	 * prefix of the inner one, the inner multipart never closed: the
	 * outer boundary ends it. */
	fx_mem(&fx,
		"Content-Type: multipart/mixed; boundary=a\n\n"
		"--a\nContent-Type: multipart/alternative; boundary=\"ab\"\n\n"
		"--ab\n\none\n"
		"--ab\n\ntwo\n"
		"--a\n\nthree\n");
	assert_string_equal(bs(&fx, NULL, 0),
		"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0)"
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0) \"alternative\")"
		"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1) \"mixed\")");
	assert_string_equal(sect(&fx, "1.2", NULL), "two");
	assert_string_equal(sect(&fx, "2", NULL), "three\n");
	fx_close(&fx);

	/* Found by fuzz_mime: the embedded message's empty header line is
	 * also the line end that belongs to the close delimiter. The
	 * message/rfc822 part must still contain its message. */
	fx_mem(&fx,
		"Content-Type: multipart/mixed; boundary=a\n\n"
		"--a\nContent-Type: message/rfc822\n\nSubject: x\n\n--a--\n");
	{
		const struct mail_part *p1 = mail_find_part(fx.m, "1", 1), *msg;
		assert_non_null(p1);
		assert_int_equal(p1->nchildren, 1);
		msg = &p1->children[0];
		assert_int_equal(msg->body_len, 0);
		assert_true(msg->body_off <= p1->body_off + p1->body_len);
		assert_string_equal(sect(&fx, "1", NULL), "Subject: x\n\n");
		assert_string_equal(sect(&fx, "1.HEADER", NULL), "Subject: x\n\n");
		assert_string_equal(sect(&fx, "1.TEXT", NULL), "");
	}
	fx_close(&fx);

	/* message/rfc822 in base64 is a leaf (no envelope), like Dovecot. */
	fx_mem(&fx, "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n");
	assert_int_equal(fx.m->root.nchildren, 0);
	assert_string_equal(bs(&fx, NULL, 0), "(\"message\" \"rfc822\" NIL NIL NIL \"base64\" 6)");
	fx_close(&fx);

	/* Extension data: MD5, disposition, languages, location; RFC 2231
	 * continuations joined but left encoded, as "name*" (what Dovecot
	 * sends and clients decode themselves). */
	fx_mem(&fx,
		"Content-Type: text/x-myown; CHARSET=us-ascii; foo=\"quoted\\\"string\"\r\n"
		"Content-ID: <foo@example.com>\r\n"
		"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
		"Content-Disposition: inline;\r\n filename*0*=iso-8859-1'en'caf%E9;\r\n filename*1=\".txt\"\r\n"
		"Content-Description: hellodescription\r\n"
		"Content-Language: en, fi,\r\n se\r\n"
		"Content-Location: http://example.com/test.txt\r\n"
		"\r\nhello\r\n");
	assert_string_equal(bs(&fx, NULL, 1),
		"(\"text\" \"x-myown\" (\"charset\" \"us-ascii\" \"foo\" \"quoted\\\"string\") "
		"\"<foo@example.com>\" \"hellodescription\" \"7bit\" 7 1 \"Q2hlY2sgSW50ZWdyaXR5IQ==\" "
		"(\"inline\" (\"filename*\" \"iso-8859-1'en'caf%E9.txt\")) (\"en\" \"fi\" \"se\") "
		"\"http://example.com/test.txt\")");
	assert_string_equal(fx.m->root.disp_params[0].value, "caf\xc3\xa9.txt");
	fx_close(&fx);
}

static void test_addresses(void **state)
{
	struct fixture fx;
	(void)state;

	fx_mem(&fx,
		"From: \"Doe, John\" <john@example.com>, jane@example.com (Jane Roe)\r\n"
		"To: undisclosed-recipients:;\r\n"
		"Cc: Team: a@x.org, B <b@y.org>; c@z.org\r\n"
		"Bcc: <@relay1,@relay2:joe@example.com>, nodomain, =?utf-8?q?J=C3=B6rg?= <j@x.de>\r\n"
		"Reply-To:\r\n"
		"Subject: =?utf-8?q?caf=C3=A9?= \"raw\"\r\n"
		"In-Reply-To: <a@b>\r\n"
		"\r\n");
	/* Sender is absent and Reply-To empty: both default to From. The
	 * comment stands in for a missing display name; the subject and the
	 * encoded display name stay encoded; "nodomain" gets Dovecot's
	 * MISSING_DOMAIN (a NIL host would be read as a group marker). */
	assert_string_equal(env(&fx, NULL),
		"(NIL \"=?utf-8?q?caf=C3=A9?= \\\"raw\\\"\" "
		"((\"Doe, John\" NIL \"john\" \"example.com\")(\"Jane Roe\" NIL \"jane\" \"example.com\")) "
		"((\"Doe, John\" NIL \"john\" \"example.com\")(\"Jane Roe\" NIL \"jane\" \"example.com\")) "
		"((\"Doe, John\" NIL \"john\" \"example.com\")(\"Jane Roe\" NIL \"jane\" \"example.com\")) "
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) "
		"((NIL NIL \"Team\" NIL)(NIL NIL \"a\" \"x.org\")(\"B\" NIL \"b\" \"y.org\")(NIL NIL NIL NIL)"
		"(NIL NIL \"c\" \"z.org\")) "
		"((NIL \"@relay1,@relay2\" \"joe\" \"example.com\")(NIL NIL \"nodomain\" \"MISSING_DOMAIN\")"
		"(\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x.de\")) "
		"\"<a@b>\" NIL)");
	fx_close(&fx);

	/* Folded values are unfolded; a group left open is closed; 8-bit
	 * text is sent as a literal. */
	fx_mem(&fx,
		"Subject: one\r\n two\r\n"
		"From: Group: x@y\r\n"
		"To: \"J\xc3\xb6rg\" <j@x.de>\r\n"
		"Sender: s@x\r\n"
		"\r\n");
	assert_string_equal(env(&fx, NULL),
		"(NIL \"one two\" ((NIL NIL \"Group\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) "
		"((NIL NIL \"s\" \"x\")) ((NIL NIL \"Group\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)) "
		"(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x.de\")) NIL NIL NIL NIL)");
	fx_close(&fx);
}

/* Issue 17 item 10: a header line without a colon is part of the header.
 * HEADER.FIELDS.NOT gives it back (it was dropped); HEADER.FIELDS, which
 * names fields, does not; nor does it the mbox-like "From " line or a
 * stray continuation line, which .NOT keeps as well. */
static void test_header_lines_without_colon(void **state)
{
	struct fixture fx;
	char junk[166];
	(void)state;

	memset(junk, 'j', 165);
	memcpy(junk, "X-Broken line without colon ", 28);
	junk[165] = '\0';
	char *msg = xasprintf(" stray continuation\r\nFrom: a@b\r\n%s\r\n\tfolded into it\r\n"
			      "From nobody Mon Jan  1 00:00:00 2024\r\nSubject: s\r\n\r\nbody\r\n",
			      junk);
	fx_mem(&fx, msg);
	char *want = xasprintf(" stray continuation\r\n%s\r\n\tfolded into it\r\n"
			       "From nobody Mon Jan  1 00:00:00 2024\r\n\r\n", junk);
	assert_string_equal(sect(&fx, "HEADER.FIELDS.NOT (From Subject)", NULL), want);
	assert_string_equal(sect(&fx, "HEADER.FIELDS (From Subject)", NULL),
			    "From: a@b\r\nSubject: s\r\n\r\n");
	free(want);
	/* Nothing named: .NOT is the whole header, byte for byte. */
	assert_string_equal(sect(&fx, "HEADER.FIELDS.NOT (X-None)", NULL),
			    sect(&fx, "HEADER", NULL));
	fx_close(&fx);
	free(msg);
	/* The header ends at the empty line even with LF line ends. */
	fx_mem(&fx, "nocolon\nA: 1\n\nB: not a header\n");
	assert_string_equal(sect(&fx, "HEADER.FIELDS.NOT (A)", NULL), "nocolon\n\r\n");
	fx_close(&fx);
}

/* Issue 17 item 10: malformed addresses keep what they are made of and are
 * never turned into other, valid-looking addresses. */
static void test_broken_addresses_not_rewritten(void **state)
{
	struct fixture fx;
	(void)state;

	fx_mem(&fx,
		"From: develop!nextmime@ebony@sblab.att.com\r\n"
		"To: <a@b@c.org>, john smith@example.com, x@exa mple.com\r\n"
		"Cc: john . smith @ example . com, j.(c)s@(c)x.org\r\n"
		"\r\n");
	assert_string_equal(env(&fx, NULL),
		"(NIL NIL ((NIL NIL \"develop!nextmime\" \"ebony@sblab.att.com\")) "
		"((NIL NIL \"develop!nextmime\" \"ebony@sblab.att.com\")) "
		"((NIL NIL \"develop!nextmime\" \"ebony@sblab.att.com\")) "
		"((NIL NIL \"a\" \"b@c.org\")(NIL NIL \"john smith\" \"example.com\")"
		"(NIL NIL \"x\" \"exa mple.com\")) "
		"((NIL NIL \"john.smith\" \"example.com\")(\"c\" NIL \"j.s\" \"x.org\")) "
		"NIL NIL NIL)");
	fx_close(&fx);
}

static void test_encoded_words(void **state)
{
	struct arena *a = arena_new();
#define DW(s) mail_decode_words(a, (s), strlen(s))
	(void)state;

	assert_string_equal(DW("=?utf-8?q?caf=C3=A9_au_lait?="), "caf\xc3\xa9 au lait");
	assert_string_equal(DW("=?ISO-8859-1?B?Y2Fm6Q==?="), "caf\xc3\xa9");
	/* Blanks between adjacent encoded words vanish, not elsewhere. */
	assert_string_equal(DW("a =?utf-8?q?b?=  \r\n =?utf-8?q?c?= d"), "a bc d");
	/* A character split over two words (ISO-2022-JP from japanese.txt). */
	assert_string_equal(DW("=?ISO-2022-JP?B?GyRCRnxLXDhsJWEhPCVrJUYlOSVIGyhCICh0ZXN0aW5nIEph?=\r\n"
			       " =?ISO-2022-JP?B?cGFuZXNlIGVtYWlscyk=?="),
			    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab"
			    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88 (testing Japanese emails)");
	/* Unknown charset, bad encoding, unterminated: left as written. */
	assert_string_equal(DW("=?x-nope?q?a?= b"), "=?x-nope?q?a?= b");
	assert_string_equal(DW("=?utf-8?x?a?="), "=?utf-8?x?a?=");
	assert_string_equal(DW("=?utf-8?q?a b?="), "=?utf-8?q?a b?=");
	assert_string_equal(DW("=?utf-8?q?\xff?="), "=?utf-8?q?\xff?=");
	assert_string_equal(DW("=?utf-8?q?a?= =?bogus?q?b?="), "a =?bogus?q?b?=");
	/* RFC 2231 language suffix on the charset. */
	assert_string_equal(DW("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
	assert_string_equal(DW(""), "");
#undef DW
	arena_free(a);
}

static void test_rfc2231(void **state)
{
	struct fixture fx;
	(void)state;

	/* RFC 2231 examples: continuations (out of order), an extended
	 * first section with charset and language, literal later ones. */
	fx_mem(&fx,
		"Content-Type: application/x-stuff;\r\n"
		" title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n"
		" title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
		" title*2=\"isn't it!\";\r\n"
		" URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\";\r\n"
		" name*=utf-8''%E2%82%AC%20rates\r\n"
		"\r\n");
	assert_int_equal(fx.m->root.nparams, 3);
	assert_string_equal(fx.m->root.params[0].name, "title");
	assert_string_equal(fx.m->root.params[0].value, "This is even more ***fun*** isn't it!");
	assert_string_equal(fx.m->root.params[1].name, "URL");
	assert_string_equal(fx.m->root.params[1].value,
			    "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	assert_string_equal(fx.m->root.params[2].name, "name");
	assert_string_equal(fx.m->root.params[2].value, "\xe2\x82\xac rates");
	/* Parameter names go out lower-case. */
	assert_non_null(strstr(bs(&fx, NULL, 0), "\"url\" \"ftp://cs.utk.edu/"));
	fx_close(&fx);
}

static void test_dates(void **state)
{
	int64_t t;
	int z;
#define PD(s) mail_parse_date((s), strlen(s), &t, &z)
	(void)state;

	assert_int_equal(PD("Tue, 12 Nov 2013 09:12:42 -0500"), 0);
	assert_int_equal(t, INT64_C(1384265562));
	assert_int_equal(z, -300);
	/* No day of week, no seconds, a comment, a named zone. */
	assert_int_equal(PD("12 Nov 2013 09:12 EST (Eastern)"), 0);
	assert_int_equal(t, INT64_C(1384265520));
	assert_int_equal(z, -300);
	/* Two-digit years: below 50 is 20xx, else 19xx; GMT/UT zones. */
	assert_int_equal(PD("Sat, 1 Jan 00 00:00:00 GMT"), 0);
	assert_int_equal(t, INT64_C(946684800));
	assert_int_equal(PD("Thu, 1 Jan 70 00:00:00 UT"), 0);
	assert_int_equal(t, 0);
	assert_int_equal(PD("1 Jan 070 00:00:00 +0000"), 0); /* 3 digits: 1900+ */
	assert_int_equal(t, 0);
	assert_int_equal(PD(" Fri , 17 Jul (c) 1996 02:44:25 +0100"), 0);
	assert_int_equal(t, INT64_C(837567865));
	assert_int_equal(z, 60);
	/* Military zone: treated as -0000. */
	assert_int_equal(PD("1 Jan 2000 00:00:00 Z"), 0);
	assert_int_equal(t, INT64_C(946684800));
	assert_int_equal(PD("garbage"), -1);
	assert_int_equal(PD("31 Feb 2001 00:00:00 +0000"), -1);
	assert_int_equal(PD("1 Foo 2001 00:00:00 +0000"), -1);
	assert_int_equal(PD("1 Jan 2001 25:00:00 +0000"), -1);
	assert_int_equal(PD(""), -1);
#undef PD
}

static void test_section_syntax(void **state)
{
	struct fixture fx;
	static const char *bad[] = {
		"0", "1.", "1..2", "HEADER.FIELDS", "HEADER.FIELDS ()", "HEADER.FIELDS (a",
		"HEADER.FIELDS (a) x", "MIME", "1.FOO", "TEXT.X", "01", "1234567890",
		"HEADER.FIELDS.NOT(a)", "1.MIME.TEXT",
	};
	size_t i;
	(void)state;

	fx_open(&fx, "simple-multipart.eml");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf gen = BUF_INIT;
		const char *p, *err = NULL;
		size_t len;
		assert_int_equal(mail_section(fx.m, bad[i], strlen(bad[i]), &gen, &p, &len, &err), -1);
		assert_non_null(err);
		buf_free(&gen);
	}
	fx_close(&fx);
}

/* ---- pathological input: these must finish (linear time) ---------------- */

static void test_many_headers(void **state)
{
	struct buf b = BUF_INIT;
	struct arena *a = arena_new();
	struct mail_message *m;
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	struct buf out = BUF_INIT;
	size_t i;
	(void)state;

	for (i = 0; i < 500000; i++)
		buf_printf(&b, "X-H%zu: v\r\n", i);
	/* Past the examined fields: not seen as the Content-Type. */
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nbody\r\n");
	m = mail_parse(a, b.data, b.len, &lim);
	assert_int_equal(m->root.hdr_len, b.len - strlen("--x\r\n\r\nbody\r\n"));
	assert_string_equal(m->root.type, "text");
	mail_write_envelope(&out, m, &m->root);
	mail_write_bodystructure(&out, m, &m->root, 1);
	{
		struct buf gen = BUF_INIT;
		const char *p, *err;
		size_t len;
		const char *spec = "HEADER.FIELDS (X-H499999 Content-Type)";
		assert_int_equal(mail_section(m, spec, strlen(spec), &gen, &p, &len, &err), 0);
		assert_int_equal(len, strlen("X-H499999: v\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n"));
		buf_free(&gen);
	}
	/* One field folded over 500,000 lines. */
	buf_reset(&b);
	buf_append_str(&b, "Subject: a\r\n");
	for (i = 0; i < 500000; i++)
		buf_append_str(&b, " b\r\n");
	buf_append_str(&b, "\r\n");
	arena_reset(a);
	m = mail_parse(a, b.data, b.len, &lim);
	assert_int_equal(m->root.hdr_len, b.len);
	buf_reset(&out);
	mail_write_envelope(&out, m, &m->root);
	assert_true(out.len > 1000000);
	buf_free(&out);
	buf_free(&b);
	arena_free(a);
}

static void test_deep_nesting(void **state)
{
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct arena *a = arena_new();
	struct mail_message *m;
	const struct mail_part *p;
	size_t i, depth = 0;
	(void)state;

	for (i = 0; i < 20000; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"b%zu\"\r\n\r\n--b%zu\r\n", i, i);
	buf_append_str(&b, "\r\nleaf\r\n");
	for (i = 20000; i-- > 0;)
		buf_printf(&b, "--b%zu--\r\n", i);
	m = mail_parse(a, b.data, b.len, NULL);
	for (p = &m->root; p->nchildren > 0; p = &p->children[0])
		depth++;
	assert_int_equal(depth, 64); /* MAIL_LIMITS_DEFAULT max_depth */
	mail_write_bodystructure(&out, m, &m->root, 1);
	mail_write_bodystructure(&out, m, &m->root, 0);
	assert_true(out.len > 0);

	/* The same with message/rfc822 nested in each other. */
	buf_reset(&b);
	for (i = 0; i < 20000; i++)
		buf_append_str(&b, "Content-Type: message/rfc822\r\n\r\n");
	arena_reset(a);
	m = mail_parse(a, b.data, b.len, NULL);
	depth = 0;
	for (p = &m->root; p->nchildren > 0; p = &p->children[0])
		depth++;
	assert_int_equal(depth, 64);
	buf_reset(&out);
	mail_write_bodystructure(&out, m, &m->root, 1);
	assert_true(out.len > 0);
	buf_free(&out);
	buf_free(&b);
	arena_free(a);
}

static void test_many_parts(void **state)
{
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct arena *a = arena_new();
	struct mail_message *m;
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	size_t i;
	(void)state;

	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (i = 0; i < 100000; i++)
		buf_append_str(&b, "--p\r\n\r\nx\r\n");
	buf_append_str(&b, "--p--\r\n");
	m = mail_parse(a, b.data, b.len, &lim);
	/* The root counts as a part: 9,999 children, then no more. */
	assert_int_equal(m->root.nchildren, lim.max_parts - 1);
	assert_int_equal(m->root.body_len, b.len - m->root.body_off);
	mail_write_bodystructure(&out, m, &m->root, 1);
	assert_true(out.len > 0);

	/* A long line with no line end at all, NULs, lone CRs. */
	buf_reset(&b);
	buf_append_str(&b, "Content-Type: multipart/mixed; boundary=--\r\n\r\n");
	for (i = 0; i < 1000000; i++)
		buf_append(&b, i % 3 ? "-\r" : "\0", i % 3 ? 2 : 1);
	arena_reset(a);
	m = mail_parse(a, b.data, b.len, NULL);
	assert_int_equal(m->root.nchildren, 0);
	buf_free(&out);
	buf_free(&b);
	arena_free(a);
}

/* A stored structure answers like the parse it was made from: the same
 * ENVELOPE, BODY, BODYSTRUCTURE and section ranges; and damage to the
 * stored bytes is refused with a reason, never trusted. */
static void test_structure_stored(void **state)
{
	static const char *const files[] = { "simple-multipart.eml", "simple-embedded-message.eml",
					     "rfc2060.txt", "multipart-digest.txt" };
	static const char *const specs[] = { "", "1", "2", "1.2", "2.MIME", "3.1.TEXT", "4.2.2.1",
					     "HEADER", "TEXT", "HEADER.FIELDS (From)" };
	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		struct fixture fx;
		struct buf enc = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
		struct mail_structure *s, *t;
		const char *why = NULL;
		fx_open(&fx, files[f]);
		s = mail_structure_from_message(fx.a, fx.m);
		mail_structure_encode(s, &enc);
		assert_int_equal(mail_structure_decode(fx.a, enc.data, enc.len, &t, &why), 0);
		assert_null(t->msg->data);
		assert_int_equal(t->msg->len, fx.len);
		mail_structure_body(s, 1, &a);
		mail_structure_body(t, 1, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
			struct mail_section_loc x, y;
			const char *err;
			assert_int_equal(mail_section_locate(fx.m, specs[i], strlen(specs[i]), &x, &err), 0);
			assert_int_equal(mail_section_locate(t->msg, specs[i], strlen(specs[i]), &y, &err), 0);
			assert_int_equal(x.off, y.off);
			assert_int_equal(x.len, y.len);
			assert_int_equal(x.filter, y.filter);
			mail_section_loc_free(&x);
			mail_section_loc_free(&y);
		}
		/* Every truncation is refused, as is a byte more, a later
		 * version and a part pointing outside the message. */
		for (size_t n = 0; n < enc.len; n++)
			assert_int_equal(mail_structure_decode(fx.a, enc.data, n, &t, &why), -1);
		buf_append_byte(&enc, 0);
		assert_int_equal(mail_structure_decode(fx.a, enc.data, enc.len, &t, &why), -1);
		assert_string_equal(why, "bytes after the last part");
		enc.len--;
		enc.data[3] = 2;
		assert_int_equal(mail_structure_decode(fx.a, enc.data, enc.len, &t, &why), -1);
		assert_string_equal(why, "a later structure format");
		enc.data[3] = 1;
		enc.data[4] = 1;   /* size 1 (and a continuation gone): parts fall outside */
		assert_int_equal(mail_structure_decode(fx.a, enc.data, enc.len, &t, &why), -1);
		buf_free(&enc);
		buf_free(&a);
		buf_free(&b);
		fx_close(&fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_multipart),
		cmocka_unit_test(test_embedded_message),
		cmocka_unit_test(test_rfc2060_numbering),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_broken_types),
		cmocka_unit_test(test_multipart_edges),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_header_lines_without_colon),
		cmocka_unit_test(test_broken_addresses_not_rewritten),
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_rfc2231),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_section_syntax),
		cmocka_unit_test(test_many_headers),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_many_parts),
		cmocka_unit_test(test_structure_stored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
