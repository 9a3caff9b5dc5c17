/* LMTP parsing (lmtp/): every verb and its argument forms, every MAIL and
 * RCPT parameter and its errors, RFC 5321 paths (quoted local parts,
 * address literals, source routes, <>, <postmaster>, bare local parts,
 * length, controls, UTF-8 with and without SMTPUTF8), the user/detail
 * split, and the DATA decoder: dot-stuffing, the end anywhere, every cut
 * of the input into two or three feeds, what follows the end, runs, and a
 * sink that fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/buf.h"
#include "../../lmtp/lmtp_parse.h"

/* The replies, as lmtp_parse.h lists them. */
#define E_TOO_LONG 500, "5.5.2 Line too long"
#define E_SYNTAX 500, "5.5.2 Syntax error"
#define E_PARAMS 501, "5.5.4 Invalid parameters"
#define E_LHLO 501, "5.5.2 Syntax: LHLO hostname"
#define E_MAIL 501, "5.5.2 Syntax: MAIL FROM:<address>"
#define E_RCPT 501, "5.5.2 Syntax: RCPT TO:<address>"
#define E_VRFY 501, "5.5.2 Syntax: VRFY address"
#define E_BDAT 501, "5.5.2 Syntax: BDAT size [LAST]"
#define E_SENDER 501, "5.1.7 Bad sender address syntax"
#define E_SENDER_LONG 501, "5.1.7 Sender address too long"
#define E_RECIPIENT 501, "5.1.3 Bad recipient address syntax"
#define E_RECIPIENT_LONG 501, "5.1.3 Recipient address too long"
#define E_NONASCII 553, "5.6.7 Non-ASCII address without SMTPUTF8"
#define E_UNSUPPORTED 555, "5.5.4 Unsupported parameter"

static struct lmtp_cmd cmd;

static struct lmtp_cmd *parse_n(const char *line, size_t len, int utf8)
{
	int code = 0;
	const char *text = NULL;

	if (lmtp_parse_line(line, len, utf8, &cmd, &code, &text) != 0)
		fail_msg("\"%s\" refused: %d %s", line, code, text);
	return &cmd;
}

static struct lmtp_cmd *parse(const char *line, int utf8)
{
	return parse_n(line, strlen(line), utf8);
}

static void refused_n(const char *line, size_t len, int utf8, int code, const char *text)
{
	int got = 0;
	const char *t = NULL;

	if (lmtp_parse_line(line, len, utf8, &cmd, &got, &t) == 0)
		fail_msg("\"%s\" accepted", line);
	if (got != code || t == NULL || strcmp(t, text) != 0)
		fail_msg("\"%s\": %d %s, expected %d %s", line, got, t, code, text);
}

static void refused(const char *line, int utf8, int code, const char *text)
{
	refused_n(line, strlen(line), utf8, code, text);
}

static void verb_is(const char *line, enum lmtp_verb v)
{
	assert_int_equal(parse(line, 0)->verb, v);
}

static void rcpt_is(const char *line, int utf8, const char *addr)
{
	assert_int_equal(parse(line, utf8)->verb, LMTP_RCPT);
	assert_string_equal(cmd.addr, addr);
}

static void mail_is(const char *line, const char *addr)
{
	assert_int_equal(parse(line, 0)->verb, LMTP_MAIL);
	assert_string_equal(cmd.addr, addr);
}

/* ---- verbs -------------------------------------------------------------- */

static void test_verbs(void **state)
{
	verb_is("LHLO mx.example.org", LMTP_LHLO);
	assert_string_equal(cmd.arg, "mx.example.org");
	verb_is("MAIL FROM:<a@example.org>", LMTP_MAIL);
	verb_is("RCPT TO:<b@example.org>", LMTP_RCPT);
	verb_is("DATA", LMTP_DATA);
	verb_is("BDAT 10", LMTP_BDAT);
	verb_is("RSET", LMTP_RSET);
	verb_is("NOOP", LMTP_NOOP);
	verb_is("NOOP whatever 1 2 3", LMTP_NOOP);
	verb_is("QUIT", LMTP_QUIT);
	verb_is("VRFY someone", LMTP_VRFY);
	assert_string_equal(cmd.arg, "someone");
	verb_is("HELO mx.example.org", LMTP_HELO_EHLO);
	verb_is("EHLO", LMTP_HELO_EHLO);
	verb_is("EHLO ~~~ not looked at", LMTP_HELO_EHLO);
	/* Unknown verbs are the session's to answer. */
	verb_is("STARTTLS", LMTP_UNKNOWN);
	verb_is("XYZZY a b c", LMTP_UNKNOWN);
	verb_is("RSETX", LMTP_UNKNOWN);
	verb_is("MAILFROM:<a@b>", LMTP_UNKNOWN);
	verb_is("D\xc3\xa4TA", LMTP_UNKNOWN);
	/* Trailing spaces are nothing. */
	verb_is("RSET   ", LMTP_RSET);
	verb_is("DATA ", LMTP_DATA);
}

static void test_verbs_any_case(void **state)
{
	verb_is("lhlo x.example", LMTP_LHLO);
	verb_is("LhLo x.example", LMTP_LHLO);
	verb_is("mail from:<a@b.example>", LMTP_MAIL);
	verb_is("Mail From:<a@b.example>", LMTP_MAIL);
	verb_is("rcpt to:<a@b.example>", LMTP_RCPT);
	verb_is("rCpT tO:<a@b.example>", LMTP_RCPT);
	verb_is("data", LMTP_DATA);
	verb_is("bdat 1 last", LMTP_BDAT);
	assert_int_equal(cmd.bdat_last, 1);
	verb_is("rset", LMTP_RSET);
	verb_is("noop", LMTP_NOOP);
	verb_is("quit", LMTP_QUIT);
	verb_is("vrfy x", LMTP_VRFY);
	verb_is("helo x", LMTP_HELO_EHLO);
	verb_is("ehlo x", LMTP_HELO_EHLO);
}

static void test_verbs_without_arguments(void **state)
{
	refused("RSET now", 0, E_PARAMS);
	refused("QUIT please", 0, E_PARAMS);
	refused("DATA x", 0, E_PARAMS);
	refused("", 0, E_SYNTAX);
	refused("   ", 0, E_SYNTAX);
	refused(" RSET", 0, E_SYNTAX);
}

static void test_lhlo(void **state)
{
	parse("LHLO [127.0.0.1]", 0);
	assert_string_equal(cmd.arg, "[127.0.0.1]");
	parse("LHLO [IPv6:::1]", 0);
	assert_string_equal(cmd.arg, "[IPv6:::1]");
	parse("LHLO localhost", 0);
	assert_string_equal(cmd.arg, "localhost");
	parse("LHLO a-b.c-d.example", 0);
	refused("LHLO", 0, E_LHLO);
	refused("LHLO ", 0, E_LHLO);
	refused("LHLO a b", 0, E_LHLO);
	refused("LHLO -a.example", 0, E_LHLO);
	refused("LHLO a-.example", 0, E_LHLO);
	refused("LHLO a..example", 0, E_LHLO);
	refused("LHLO a.example.", 0, E_LHLO);
	refused("LHLO a_b.example", 0, E_LHLO);
	refused("LHLO [1.2.3]", 0, E_LHLO);
	refused("LHLO [tag:x]", 0, E_LHLO);
	refused("LHLO  two.spaces", 0, E_LHLO);
	/* U-labels are for addresses; the client names itself in A-labels. */
	refused("LHLO b\xc3\xbc" "cher.example", 1, E_LHLO);
}

static void test_vrfy(void **state)
{
	parse("VRFY <u@example.org>", 0);
	assert_string_equal(cmd.arg, "<u@example.org>");
	parse("VRFY \"a b\" c", 0);
	assert_string_equal(cmd.arg, "\"a b\" c");
	refused("VRFY", 0, E_VRFY);
	refused("VRFY j\xc3\xb6rg", 0, E_NONASCII);
	parse("VRFY j\xc3\xb6rg", 1);
	assert_string_equal(cmd.arg, "j\xc3\xb6rg");
}

static void test_bdat(void **state)
{
	parse("BDAT 100", 0);
	assert_int_equal(cmd.bdat_len, 100);
	assert_int_equal(cmd.bdat_last, 0);
	parse("BDAT 0 LAST", 0);
	assert_int_equal(cmd.bdat_len, 0);
	assert_int_equal(cmd.bdat_last, 1);
	parse("BDAT 000000000000000000000000000007 LAST", 0);
	assert_int_equal(cmd.bdat_len, 7);
	parse("BDAT 18446744073709551615", 0);
	assert_true(cmd.bdat_len == UINT64_MAX);
	refused("BDAT 18446744073709551616", 0, E_PARAMS);
	refused("BDAT 99999999999999999999999", 0, E_PARAMS);
	refused("BDAT", 0, E_BDAT);
	refused("BDAT x", 0, E_BDAT);
	refused("BDAT -1", 0, E_BDAT);
	refused("BDAT 1x", 0, E_BDAT);
	refused("BDAT 10 NOTLAST", 0, E_BDAT);
	refused("BDAT 10 LAST x", 0, E_BDAT);
	refused("BDAT 10  LAST", 0, E_BDAT);
	refused("BDAT  10", 0, E_BDAT);
}

static void test_line_length(void **state)
{
	size_t max = LMTP_LINE_MAX - 2;
	char *line = calloc(1, max + 2);

	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', max - 5 + 1);
	parse_n(line, max, 0);
	refused_n(line, max + 1, 0, E_TOO_LONG);
	/* The longest VRFY argument fits arg. */
	memcpy(line, "VRFY ", 5);
	parse_n(line, max, 0);
	assert_int_equal(strlen(cmd.arg), max - 5);
	free(line);
}

static void test_controls(void **state)
{
	refused_n("RSET\0", 5, 0, E_SYNTAX);
	refused_n("NOOP a\0b", 8, 0, E_SYNTAX);
	refused_n("MAIL FROM:<a\0@b.example>", 24, 0, E_SYNTAX);
	refused("NOOP a\tb", 0, E_SYNTAX);
	refused("RSET\t", 0, E_SYNTAX);
	refused("RCPT TO:<a\r@b.example>", 0, E_SYNTAX);
	refused("RCPT TO:<a@b.example>\n", 0, E_SYNTAX);
	refused("RCPT TO:<\"a\x01\"@b.example>", 1, E_SYNTAX);
	refused("NOOP \x7f", 0, E_SYNTAX);
	refused("\x1b[A", 0, E_SYNTAX);
}

/* ---- MAIL --------------------------------------------------------------- */

static void test_mail_paths(void **state)
{
	mail_is("MAIL FROM:<>", "");
	mail_is("MAIL FROM:<a@example.org>", "a@example.org");
	/* One space after the colon, as MTAs send it; two are too many. */
	mail_is("MAIL FROM: <a@example.org>", "a@example.org");
	mail_is("MAIL FROM: <>", "");
	refused("MAIL FROM:  <a@example.org>", 0, E_SENDER);
	mail_is("mail from:<Alice@Example.ORG>", "Alice@Example.ORG");
	refused("MAIL FROM:a@example.org", 0, E_SENDER);
	refused("MAIL FROM:<a@example.org", 0, E_SENDER);
	refused("MAIL FROM:", 0, E_SENDER);
	refused("MAIL FROM:<demo>", 0, E_SENDER);
	refused("MAIL FROM:<postmaster>", 0, E_SENDER);
	refused("MAIL FROM:<> <>", 0, E_PARAMS);
	refused("MAIL FROM <a@example.org>", 0, E_MAIL);
	refused("MAIL TO:<a@example.org>", 0, E_MAIL);
	refused("MAIL", 0, E_MAIL);
	refused("MAIL FROM", 0, E_MAIL);
	refused("MAIL  FROM:<a@example.org>", 0, E_MAIL);
}

static void test_mail_params(void **state)
{
	parse("MAIL FROM:<a@b.example>", 0);
	assert_true(cmd.size == 0 && cmd.body == LMTP_BODY_7BIT && !cmd.smtputf8);
	parse("MAIL FROM:<a@b.example> SIZE=123 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159",
	      0);
	assert_int_equal(cmd.size, 123);
	assert_int_equal(cmd.body, LMTP_BODY_8BITMIME);
	assert_int_equal(cmd.smtputf8, 1);
	parse("MAIL FROM:<>   size=5    body=binarymime  ", 0);
	assert_int_equal(cmd.size, 5);
	assert_int_equal(cmd.body, LMTP_BODY_BINARYMIME);
	parse("MAIL FROM:<> BODY=7bit", 0);
	assert_int_equal(cmd.body, LMTP_BODY_7BIT);
	parse("MAIL FROM:<> RET=full ENVID=a+2Bb+3D", 0);
	parse("MAIL FROM:<> SIZE=0", 0);
	assert_int_equal(cmd.size, 0);
}

static void test_mail_size(void **state)
{
	parse("MAIL FROM:<> SIZE=18446744073709551615", 0);
	assert_true(cmd.size == UINT64_MAX);
	/* 20 digits are a size-value however large: more than any limit. */
	parse("MAIL FROM:<> SIZE=99999999999999999999", 0);
	assert_true(cmd.size == UINT64_MAX);
	refused("MAIL FROM:<> SIZE=100000000000000000000", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE=", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE=12a", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE=-1", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE==1", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE=1 SIZE=1", 0, E_PARAMS);
}

static void test_mail_param_errors(void **state)
{
	refused("MAIL FROM:<> BODY=9BIT", 0, E_PARAMS);
	refused("MAIL FROM:<> BODY", 0, E_PARAMS);
	refused("MAIL FROM:<> BODY=8BITMIME BODY=7BIT", 0, E_PARAMS);
	refused("MAIL FROM:<> SMTPUTF8=yes", 0, E_PARAMS);
	refused("MAIL FROM:<> SMTPUTF8 SMTPUTF8", 0, E_PARAMS);
	refused("MAIL FROM:<> RET=ALL", 0, E_PARAMS);
	refused("MAIL FROM:<> RET", 0, E_PARAMS);
	refused("MAIL FROM:<> ENVID=a+2bb", 0, E_PARAMS);   /* lower-case hex */
	refused("MAIL FROM:<> ENVID=a+2", 0, E_PARAMS);
	refused("MAIL FROM:<> ENVID=a+", 0, E_PARAMS);
	refused("MAIL FROM:<> ENVID", 0, E_PARAMS);
	/* Not esmtp-params at all. */
	refused("MAIL FROM:<> =5", 0, E_PARAMS);
	refused("MAIL FROM:<> -X", 0, E_PARAMS);
	refused("MAIL FROM:<> SI_ZE=5", 0, E_PARAMS);
	refused("MAIL FROM:<a@b.example>SIZE=5", 0, E_PARAMS);
	refused("MAIL FROM:<> SIZE=5=6", 0, E_PARAMS);
	/* Well-formed but not ours, or RCPT's. */
	refused("MAIL FROM:<> AUTH=<>", 0, E_UNSUPPORTED);
	refused("MAIL FROM:<> XFOO", 0, E_UNSUPPORTED);
	refused("MAIL FROM:<> X-FOO=bar", 0, E_UNSUPPORTED);
	refused("MAIL FROM:<> NOTIFY=NEVER", 0, E_UNSUPPORTED);
	refused("MAIL FROM:<> ORCPT=rfc822;a@b", 0, E_UNSUPPORTED);
	/* The first fault found is the one answered. */
	refused("MAIL FROM:<> XFOO SIZE=x", 0, E_UNSUPPORTED);
	refused("MAIL FROM:<> SIZE=x XFOO", 0, E_PARAMS);
}

/* ---- RCPT --------------------------------------------------------------- */

static void test_rcpt_paths(void **state)
{
	rcpt_is("RCPT TO:<u@example.org>", 0, "u@example.org");
	rcpt_is("RCPT TO: <u@example.org>", 0, "u@example.org");
	refused("RCPT TO:  <u@example.org>", 0, E_RECIPIENT);
	refused("RCPT TO:<>", 0, E_RECIPIENT);
	refused("RCPT TO:u@example.org", 0, E_RECIPIENT);
	refused("RCPT TO:", 0, E_RECIPIENT);
	refused("RCPT TO <u@example.org>", 0, E_RCPT);
	refused("RCPT FROM:<u@example.org>", 0, E_RCPT);
	refused("RCPT", 0, E_RCPT);
	/* A bare local part, and postmaster in any case. */
	rcpt_is("RCPT TO:<demo>", 0, "demo");
	rcpt_is("RCPT TO:<Demo.User>", 0, "Demo.User");
	rcpt_is("RCPT TO:<postmaster>", 0, "postmaster");
	rcpt_is("RCPT TO:<PostMaster>", 0, "postmaster");
	rcpt_is("RCPT TO:<\"Postmaster\">", 0, "postmaster");
	rcpt_is("RCPT TO:<PostMaster@Example.ORG>", 0, "PostMaster@Example.ORG");
	rcpt_is("RCPT TO:<postmasters>", 0, "postmasters");
	rcpt_is("RCPT TO:<\"a b\">", 0, "\"a b\"");
}

static void test_rcpt_params(void **state)
{
	parse("RCPT TO:<u@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;u+40example.org", 0);
	parse("RCPT TO:<u@example.org> notify=never", 0);
	parse("RCPT TO:<u@example.org> NOTIFY=delay", 0);
	parse("RCPT TO:<u@example.org> ORCPT=rfc822;", 0);
	parse("RCPT TO:<u@example.org> ORCPT=utf-8;j\xc3\xb6rg@example.org", 1);
	refused("RCPT TO:<u@example.org> ORCPT=utf-8;j\xc3\xb6rg@example.org", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY=NEVER,SUCCESS", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY=SUCCESS,", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY=,SUCCESS", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY=SOMETIMES", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> NOTIFY=NEVER NOTIFY=NEVER", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> ORCPT=rfc822", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> ORCPT=;u@example.org", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> ORCPT=rfc(822);u", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> ORCPT=rfc822;a+zz", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> ORCPT", 0, E_PARAMS);
	refused("RCPT TO:<u@example.org> SIZE=5", 0, E_UNSUPPORTED);
	refused("RCPT TO:<u@example.org> BODY=7BIT", 0, E_UNSUPPORTED);
	refused("RCPT TO:<u@example.org> SMTPUTF8", 0, E_UNSUPPORTED);
	refused("RCPT TO:<u@example.org>x", 0, E_PARAMS);
}

/* ---- addresses ---------------------------------------------------------- */

static void test_quoted_local_parts(void **state)
{
	/* Quotes that change nothing go; the others stay, minimally escaped. */
	rcpt_is("RCPT TO:<\"ab\"@x.example>", 0, "ab@x.example");
	rcpt_is("RCPT TO:<\"a.b\"@x.example>", 0, "a.b@x.example");
	rcpt_is("RCPT TO:<\"a\\b\"@x.example>", 0, "ab@x.example");
	rcpt_is("RCPT TO:<\"a b\"@x.example>", 0, "\"a b\"@x.example");
	rcpt_is("RCPT TO:<\"a\\ b\"@x.example>", 0, "\"a b\"@x.example");
	rcpt_is("RCPT TO:<\"a\\\"b\"@x.example>", 0, "\"a\\\"b\"@x.example");
	rcpt_is("RCPT TO:<\"a\\\\b\"@x.example>", 0, "\"a\\\\b\"@x.example");
	rcpt_is("RCPT TO:<\"a..b\"@x.example>", 0, "\"a..b\"@x.example");
	rcpt_is("RCPT TO:<\".a\"@x.example>", 0, "\".a\"@x.example");
	rcpt_is("RCPT TO:<\"a@b\"@x.example>", 0, "\"a@b\"@x.example");
	rcpt_is("RCPT TO:<\"\"@x.example>", 0, "\"\"@x.example");
	rcpt_is("RCPT TO:<\"(a)\"@x.example>", 0, "\"(a)\"@x.example");
	refused("RCPT TO:<\"ab@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<\"a\"b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a\"b\"@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<\"a\\", 0, E_RECIPIENT);
	refused("MAIL FROM:<\"ab@x.example>", 0, E_SENDER);
}

static void test_dot_strings(void **state)
{
	rcpt_is("RCPT TO:<!#$%&'*+-/=?^_`{|}~@x.example>", 0, "!#$%&'*+-/=?^_`{|}~@x.example");
	rcpt_is("RCPT TO:<first.m.last@x.example>", 0, "first.m.last@x.example");
	refused("RCPT TO:<a..b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<.a@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a.@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a(b)@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a<b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a,b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@b@x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@x.example>", 0, E_RECIPIENT);
}

static void test_domains(void **state)
{
	rcpt_is("RCPT TO:<a@x>", 0, "a@x");
	rcpt_is("RCPT TO:<a@1.2.3.4>", 0, "a@1.2.3.4");
	rcpt_is("RCPT TO:<a@X-1.Example.ORG>", 0, "a@X-1.Example.ORG");
	refused("RCPT TO:<a@>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@-x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@x-.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@x..example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@x.example.>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@.x.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@x_y.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@x.example >", 0, E_RECIPIENT);
}

static void test_address_literals(void **state)
{
	rcpt_is("RCPT TO:<a@[127.0.0.1]>", 0, "a@[127.0.0.1]");
	rcpt_is("RCPT TO:<a@[IPv6:::1]>", 0, "a@[IPv6:::1]");
	rcpt_is("RCPT TO:<a@[ipv6:2001:db8::1]>", 0, "a@[ipv6:2001:db8::1]");
	rcpt_is("RCPT TO:<a@[IPv6:::ffff:192.0.2.1]>", 0, "a@[IPv6:::ffff:192.0.2.1]");
	rcpt_is("RCPT TO:<a@[255.255.255.255]>", 0, "a@[255.255.255.255]");
	rcpt_is("RCPT TO:<a@[001.2.3.4]>", 0, "a@[001.2.3.4]");
	mail_is("MAIL FROM:<a@[IPv6:2001:db8:0:0:0:0:0:1]>", "a@[IPv6:2001:db8:0:0:0:0:0:1]");
	refused("RCPT TO:<a@[256.0.0.1]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[1.2.3]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[1.2.3.4.5]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[1234.1.1.1]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[1..2.3]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[IPv6:1.2.3.4]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[IPv6:]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[IPv6:::1:::::::::::::::::::::::::::::::::::::::::::::::1]>", 0,
		E_RECIPIENT);
	refused("RCPT TO:<a@[x-tag:y]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[127.0.0.1>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[]>", 0, E_RECIPIENT);
	refused("RCPT TO:<a@[127.0.0.1].x>", 0, E_RECIPIENT);
}

static void test_source_routes(void **state)
{
	rcpt_is("RCPT TO:<@a.example,@b.example:u@c.example>", 0, "u@c.example");
	rcpt_is("RCPT TO:<@a.example:u@c.example>", 0, "u@c.example");
	mail_is("MAIL FROM:<@a.example:u@c.example>", "u@c.example");
	refused("RCPT TO:<@:u@c.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@a.example,u@c.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@a.example,b.example:u@c.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@a.example,@b.example,:u@c.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@[192.0.2.1]:u@c.example>", 0, E_RECIPIENT);
	refused("RCPT TO:<@a.example:>", 0, E_RECIPIENT);
	refused("MAIL FROM:<@a.example:>", 0, E_SENDER);
}

/* "RCPT TO:<" + local + "@x.example>" with a local part of n bytes. */
static char *long_rcpt(size_t n, const char *verb, const char *domain)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, verb);
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&b, 'a');
	buf_append_str(&b, domain);
	return buf_steal(&b);
}

static void test_address_length(void **state)
{
	/* LMTP_ADDR_MAX - 1 bytes fit: 500 + "@x.example" (10) + 1 = 511. */
	char *s = long_rcpt(LMTP_ADDR_MAX - 12, "RCPT TO:<", "@x.example>");
	parse(s, 0);
	assert_int_equal(strlen(cmd.addr), LMTP_ADDR_MAX - 2);
	assert_memory_equal(cmd.addr, s + 9, LMTP_ADDR_MAX - 2);
	free(s);
	s = long_rcpt(LMTP_ADDR_MAX - 11, "RCPT TO:<", "@x.example>");
	parse(s, 0);
	assert_int_equal(strlen(cmd.addr), LMTP_ADDR_MAX - 1);
	assert_memory_equal(cmd.addr, s + 9, LMTP_ADDR_MAX - 1);
	free(s);
	s = long_rcpt(LMTP_ADDR_MAX - 10, "RCPT TO:<", "@x.example>");
	refused(s, 0, E_RECIPIENT_LONG);
	free(s);
	s = long_rcpt(3000, "MAIL FROM:<", "@x.example>");
	refused(s, 0, E_SENDER_LONG);
	free(s);
	s = long_rcpt(3000, "RCPT TO:<\"", "\">");
	refused(s, 0, E_RECIPIENT_LONG);
	free(s);
	/* A syntax error past the length wins: the path is no path at all. */
	s = long_rcpt(3000, "RCPT TO:<", "@-x.example>");
	refused(s, 0, E_RECIPIENT);
	free(s);
	/* Quoting counts: 255 '"' decode to 255 bytes but need 512. */
	struct buf b = BUF_INIT;
	buf_append_str(&b, "RCPT TO:<\"");
	for (int i = 0; i < 255; i++)
		buf_append_str(&b, "\\\"");
	buf_append_str(&b, "\">");
	refused(b.data, 0, E_RECIPIENT_LONG);
	buf_free(&b);
}

static void test_utf8_addresses(void **state)
{
	const char *jorg = "RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>";

	rcpt_is(jorg, 1, "j\xc3\xb6rg@b\xc3\xbc" "cher.example");
	refused(jorg, 0, E_NONASCII);
	rcpt_is("RCPT TO:<\"j\xc3\xb6 rg\"@x.example>", 1, "\"j\xc3\xb6 rg\"@x.example");
	rcpt_is("RCPT TO:<\xe7\x94\xa8\xe6\x88\xb7>", 1, "\xe7\x94\xa8\xe6\x88\xb7");
	rcpt_is("RCPT TO:<u@x.example> NOTIFY=NEVER", 1, "u@x.example");
	/* MAIL: its own SMTPUTF8 decides, whatever the session passes. */
	parse("MAIL FROM:<j\xc3\xb6rg@x.example> SMTPUTF8", 0);
	assert_string_equal(cmd.addr, "j\xc3\xb6rg@x.example");
	assert_int_equal(cmd.smtputf8, 1);
	refused("MAIL FROM:<j\xc3\xb6rg@x.example>", 1, E_NONASCII);
	refused("MAIL FROM:<@b\xc3\xbc" "cher.example:u@x.example>", 1, E_NONASCII);
	refused("MAIL FROM:<> ENVID=\xc3\xb6 SMTPUTF8", 0, E_PARAMS);
	/* Not UTF-8 at all: truncated, overlong, a surrogate, past U+10FFFF,
	 * a lone continuation byte, Latin-1. */
	refused("RCPT TO:<j\xc3@x.example>", 1, E_SYNTAX);
	refused("RCPT TO:<\xc0\xaf@x.example>", 1, E_SYNTAX);
	refused("RCPT TO:<\xed\xa0\x80@x.example>", 1, E_SYNTAX);
	refused("RCPT TO:<\xf4\x90\x80\x80@x.example>", 1, E_SYNTAX);
	refused("RCPT TO:<\x80@x.example>", 1, E_SYNTAX);
	refused("RCPT TO:<j\xf6rg@x.example>", 1, E_SYNTAX);
	/* UTF-8 is no more allowed where ASCII is not. */
	refused("RCPT TO:<\"\\\xc3\xb6\"@x.example>", 1, E_RECIPIENT);
	refused("RCPT TO:<a@[1.2.3.\xc3\xb6]>", 1, E_RECIPIENT);
}

/* ---- lmtp_addr_split ---------------------------------------------------- */

static void split_is(const char *addr, const char *delim, const char *user, const char *detail)
{
	char u[LMTP_ADDR_MAX], d[LMTP_ADDR_MAX];

	if (lmtp_addr_split(addr, delim, u, sizeof(u), d, sizeof(d)) != 0)
		fail_msg("split of \"%s\" failed", addr);
	assert_string_equal(u, user);
	assert_string_equal(d, detail);
}

static void test_addr_split(void **state)
{
	split_is("user+box@example.org", "+", "user@example.org", "box");
	split_is("user@example.org", "+", "user@example.org", "");
	split_is("user+a+b@example.org", "+", "user@example.org", "a+b");
	split_is("user-box+x@example.org", "+-", "user@example.org", "box+x");
	split_is("user+box-x@example.org", "+-", "user@example.org", "box-x");
	split_is("user+box@example.org", "", "user+box@example.org", "");
	split_is("user+box@example.org", NULL, "user+box@example.org", "");
	split_is("user+box@example.org", "-", "user+box@example.org", "");
	split_is("user+@example.org", "+", "user@example.org", "");
	split_is("user+box", "+", "user", "box");
	split_is("user+box@[127.0.0.1]", "+", "user@[127.0.0.1]", "box");
	/* A delimiter first leaves no user: not a split. */
	split_is("+user@example.org", "+", "+user@example.org", "");
	split_is("j\xc3\xb6rg+x@example.org", "+", "j\xc3\xb6rg@example.org", "x");
}

static void test_addr_split_quoted(void **state)
{
	split_is("\"a b+c d\"@x.example", "+", "\"a b\"@x.example", "c d");
	split_is("\"a+b c\"@x.example", "+", "a@x.example", "b c");
	split_is("\"a.+x\"@x.example", "+", "\"a.\"@x.example", "x");
	split_is("\"a\\\"b+\\\\\"@x.example", "+", "\"a\\\"b\"@x.example", "\\");
	split_is("\"a b\"", "+", "\"a b\"", "");
	split_is("\"a b+c\"", "+", "\"a b\"", "c");
	/* What the parser gives is what the split takes. */
	parse("RCPT TO:<\"a\\ b+x\"@x.example>", 0);
	split_is(cmd.addr, "+", "\"a b\"@x.example", "x");
}

static void test_addr_split_limits(void **state)
{
	char u[32], d[32];
	const char *a = "user+box@example.org";

	assert_int_equal(lmtp_addr_split(a, "+", u, 17, d, 4), 0);
	assert_string_equal(u, "user@example.org");
	assert_string_equal(d, "box");
	assert_int_equal(lmtp_addr_split(a, "+", u, 16, d, 4), -1);
	assert_int_equal(lmtp_addr_split(a, "+", u, 17, d, 3), -1);
	assert_int_equal(lmtp_addr_split(a, "+", u, 0, d, 4), -1);
	assert_int_equal(lmtp_addr_split("user@example.org", "+", u, sizeof(u), d, 1), 0);
	assert_string_equal(d, "");
	/* Not a canonical address. */
	assert_int_equal(lmtp_addr_split("\"ab@x", "+", u, sizeof(u), d, sizeof(d)), -1);
	assert_int_equal(lmtp_addr_split("a b@x", "+", u, sizeof(u), d, sizeof(d)), -1);
	assert_int_equal(lmtp_addr_split("", "+", u, sizeof(u), d, sizeof(d)), -1);
	assert_int_equal(lmtp_addr_split("\"a\"b@x", "+", u, sizeof(u), d, sizeof(d)), -1);
}

/* ---- DATA --------------------------------------------------------------- */

struct sink {
	struct buf out;
	size_t calls;
	size_t limit;      /* fail once out would pass it; 0: never */
};

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	assert_true(n > 0);
	s->calls++;
	if (s->limit && s->out.len + n > s->limit)
		return -1;
	buf_append(&s->out, p, n);
	return 0;
}

/* Feed in[0..len) cut at the cuts (ascending, may repeat), feeding on
 * only while the end is not found; the total consumed. */
static size_t feed_cut(struct lmtp_data *d, const char *in, size_t len, const size_t *cuts,
		       size_t ncuts, int *done)
{
	size_t at = 0, total = 0;

	*done = 0;
	for (size_t k = 0; k <= ncuts && !*done; k++) {
		size_t to = k < ncuts ? cuts[k] : len;
		ssize_t r = lmtp_data_feed(d, in + at, to - at, done);
		assert_true(r >= 0 && (size_t)r <= to - at);
		if (!*done)
			assert_int_equal((size_t)r, to - at);
		total += (size_t)r;
		at = to;
	}
	return total;
}

static void check_cut(const char *in, size_t len, const char *expect, size_t elen,
		      size_t consumed, const size_t *cuts, size_t ncuts)
{
	struct sink s = { BUF_INIT, 0, 0 };
	struct lmtp_data *d = lmtp_data_new(sink_write, &s);
	int done;
	size_t got = feed_cut(d, in, len, cuts, ncuts, &done);

	if (!done || got != consumed || s.out.len != elen ||
	    (elen && memcmp(s.out.data, expect, elen) != 0))
		fail_msg("input \"%s\" cut at %zu,%zu: done %d, consumed %zu, output \"%s\"", in,
			 ncuts > 0 ? cuts[0] : len, ncuts > 1 ? cuts[1] : len, done, got,
			 s.out.data ? s.out.data : "");
	lmtp_data_free(d);
	buf_free(&s.out);
}

/* in (up to and with its end) then next: the output is expect and the
 * end is found after in, whole, in two pieces cut anywhere, in three
 * pieces cut anywhere, and byte by byte. */
static void data_is_n(const char *in, size_t inlen, const char *expect, size_t elen,
		      const char *next)
{
	struct buf wire = BUF_INIT;
	size_t len, cuts[256];

	buf_append(&wire, in, inlen);
	buf_append_str(&wire, next);
	len = wire.len;
	assert_true(len < sizeof(cuts) / sizeof(cuts[0]));
	check_cut(wire.data, len, expect, elen, inlen, NULL, 0);
	for (size_t i = 0; i <= len; i++) {
		cuts[0] = i;
		check_cut(wire.data, len, expect, elen, inlen, cuts, 1);
		for (size_t j = i; j <= len; j++) {
			cuts[1] = j;
			check_cut(wire.data, len, expect, elen, inlen, cuts, 2);
		}
	}
	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	check_cut(wire.data, len, expect, elen, inlen, cuts, len);
	buf_free(&wire);
}

static void data_is(const char *in, const char *expect, const char *next)
{
	data_is_n(in, strlen(in), expect, strlen(expect), next);
}

static void test_data_plain(void **state)
{
	data_is("Hello\r\nWorld\r\n.\r\n", "Hello\r\nWorld\r\n", "");
	data_is("Subject: x\r\n\r\nbody\r\n.\r\n", "Subject: x\r\n\r\nbody\r\n", "");
	/* Bare CRs and LFs are data, and so is every octet (BINARYMIME). */
	data_is("a\rb\nc\r\r\n.\r\n", "a\rb\nc\r\r\n", "");
	data_is_n("\0\xff\r\n.\r\n", 7, "\0\xff\r\n", 4, "");
}

static void test_data_dot_stuffing(void **state)
{
	data_is("..leading\r\n.\r\n", ".leading\r\n", "");
	data_is("a\r\n..\r\n.\r\n", "a\r\n.\r\n", "");
	data_is("...\r\n.\r\n", "..\r\n", "");
	data_is(".x\r\n.\r\n", "x\r\n", "");
	data_is(". \r\n.\r\n", " \r\n", "");
	/* A dot that does not start a line stays. */
	data_is("a.\r\nb..c\r\n.\r\n", "a.\r\nb..c\r\n", "");
	/* ".\r" not followed by LF: the dot goes, the CR is data. */
	data_is(".\r\r\n.\r\n", "\r\r\n", "");
	data_is(".\rx\r\n.\r\n", "\rx\r\n", "");
	data_is("a\r\n.\r.\r\n.\r\n", "a\r\n\r.\r\n", "");
}

static void test_data_end(void **state)
{
	/* The end at the very start: an empty message. */
	data_is(".\r\n", "", "");
	data_is("\r\n.\r\n", "\r\n", "");
	/* What follows the end is the next command's. */
	data_is(".\r\n", "", "QUIT\r\n");
	data_is("x\r\n.\r\n", "x\r\n", "MAIL FROM:<>\r\n");
	data_is("x\r\n.\r\n", "x\r\n", ".\r\n");
	/* Not an end: a bare LF ends no line, so ".\r\n" after one is inside
	 * a line, as are a CR's or a dot's. */
	data_is("a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n", "");
	data_is("a\n.\n.\r\n.\r\n", "a\n.\n.\r\n", "");
	data_is("\r.\r\n.\r\n", "\r.\r\n", "");
	data_is("a.\r\n.\r\n", "a.\r\n", "");
	data_is("x\r\r\n.\r\n", "x\r\r\n", "");
}

static void test_data_not_ended(void **state)
{
	struct sink s = { BUF_INIT, 0, 0 };
	struct lmtp_data *d = lmtp_data_new(sink_write, &s);
	int done = -1;

	assert_int_equal(lmtp_data_feed(d, "abc\r\n.", 6, &done), 6);
	assert_int_equal(done, 0);
	assert_int_equal(lmtp_data_feed(d, "", 0, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(lmtp_data_feed(d, "\r", 1, &done), 1);
	assert_int_equal(done, 0);
	assert_int_equal(lmtp_data_feed(d, "\nNOOP\r\n", 7, &done), 1);
	assert_int_equal(done, 1);
	/* Once done, nothing more is taken. */
	assert_int_equal(lmtp_data_feed(d, "NOOP\r\n", 6, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(s.out.len, 5);
	assert_memory_equal(s.out.data, "abc\r\n", 5);
	lmtp_data_free(d);
	buf_free(&s.out);
}

static void test_data_runs(void **state)
{
	struct sink s = { BUF_INIT, 0, 0 };
	struct lmtp_data *d = lmtp_data_new(sink_write, &s);
	const char *in = "Hello world\r\nline two\r\n.\r\n";
	int done;

	/* One feed, no stuffing: one call. */
	assert_int_equal(lmtp_data_feed(d, in, strlen(in), &done), (ssize_t)strlen(in));
	assert_int_equal(s.calls, 1);
	lmtp_data_free(d);
	/* A stuffed line cuts the run once. */
	buf_reset(&s.out);
	s.calls = 0;
	d = lmtp_data_new(sink_write, &s);
	in = "a\r\n..b\r\nc\r\n.\r\n";
	assert_int_equal(lmtp_data_feed(d, in, strlen(in), &done), (ssize_t)strlen(in));
	assert_int_equal(s.calls, 2);
	assert_string_equal(s.out.data, "a\r\n.b\r\nc\r\n");
	lmtp_data_free(d);
	buf_free(&s.out);
}

/* The sink refuses past s.limit bytes: -1, then the same bytes again find
 * the end without the sink. */
static void test_data_sink_failure(void **state)
{
	struct sink s = { BUF_INIT, 0, 5 };
	struct lmtp_data *d = lmtp_data_new(sink_write, &s);
	const char *in = "0123456789\r\n..x\r\n.\r\nNEXT";
	size_t calls;
	int done = -1;

	assert_int_equal(lmtp_data_feed(d, in, strlen(in), &done), -1);
	assert_int_equal(done, 0);
	calls = s.calls;
	assert_int_equal(lmtp_data_feed(d, in, strlen(in), &done), 20);
	assert_int_equal(done, 1);
	assert_int_equal(s.calls, calls);
	lmtp_data_free(d);

	/* Failing in a later feed, in the middle of ".\r" held back. */
	buf_reset(&s.out);
	s.calls = 0;
	s.limit = 5;
	d = lmtp_data_new(sink_write, &s);
	assert_int_equal(lmtp_data_feed(d, "abc\r\n.", 6, &done), 6);
	assert_int_equal(lmtp_data_feed(d, "\rx\r\n", 4, &done), -1);
	calls = s.calls;
	assert_int_equal(lmtp_data_feed(d, "\rx\r\n", 4, &done), 4);
	assert_int_equal(done, 0);
	assert_int_equal(lmtp_data_feed(d, ".\r\nQUIT\r\n", 9, &done), 3);
	assert_int_equal(done, 1);
	assert_int_equal(s.calls, calls);
	lmtp_data_free(d);

	/* The feed after a CR fails at the dot: read again from where it
	 * stood (after the CR), its LF ends a line and ".\r\n" the data. */
	buf_reset(&s.out);
	s.limit = 2;
	d = lmtp_data_new(sink_write, &s);
	assert_int_equal(lmtp_data_feed(d, "a\r", 2, &done), 2);
	assert_int_equal(lmtp_data_feed(d, "\n.\r\nNEXT", 8, &done), -1);
	assert_int_equal(lmtp_data_feed(d, "\n.\r\nNEXT", 8, &done), 4);
	assert_int_equal(done, 1);
	lmtp_data_free(d);
	buf_free(&s.out);
}

/* Random bodies over the bytes that matter, dot-stuffed as a client does,
 * decoded in random pieces: the body comes back, and the end is found
 * exactly where the client put it. */
static void test_data_round_trip(void **state)
{
	static const char alphabet[] = ".\r\nx";
	unsigned seed = 12345;
	struct buf body = BUF_INIT, wire = BUF_INIT;

	for (int round = 0; round < 2000; round++) {
		struct sink s = { BUF_INIT, 0, 0 };
		struct lmtp_data *d = lmtp_data_new(sink_write, &s);
		size_t n, at = 0, total = 0;
		int done = 0;

		buf_reset(&body);
		buf_reset(&wire);
		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % 40;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			buf_append_byte(&body, alphabet[(seed >> 16) % 4]);
		}
		buf_append_str(&body, "\r\n");
		for (size_t i = 0; i < body.len; i++) {
			if (body.data[i] == '.' &&
			    (i == 0 || (i >= 2 && body.data[i - 2] == '\r' && body.data[i - 1] == '\n')))
				buf_append_byte(&wire, '.');
			buf_append_byte(&wire, body.data[i]);
		}
		buf_append_str(&wire, ".\r\nNEXT");
		while (!done) {
			seed = seed * 1103515245 + 12345;
			size_t piece = (seed >> 16) % 5;
			if (piece > wire.len - at)
				piece = wire.len - at;
			ssize_t r = lmtp_data_feed(d, wire.data + at, piece, &done);
			assert_true(r >= 0);
			total += (size_t)r;
			at += piece;
		}
		assert_int_equal(total, wire.len - 4);
		assert_int_equal(s.out.len, body.len);
		assert_memory_equal(s.out.data, body.data, body.len);
		lmtp_data_free(d);
		buf_free(&s.out);
	}
	buf_free(&body);
	buf_free(&wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs),
		cmocka_unit_test(test_verbs_any_case),
		cmocka_unit_test(test_verbs_without_arguments),
		cmocka_unit_test(test_lhlo),
		cmocka_unit_test(test_vrfy),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_mail_paths),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_mail_size),
		cmocka_unit_test(test_mail_param_errors),
		cmocka_unit_test(test_rcpt_paths),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_quoted_local_parts),
		cmocka_unit_test(test_dot_strings),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_address_literals),
		cmocka_unit_test(test_source_routes),
		cmocka_unit_test(test_address_length),
		cmocka_unit_test(test_utf8_addresses),
		cmocka_unit_test(test_addr_split),
		cmocka_unit_test(test_addr_split_quoted),
		cmocka_unit_test(test_addr_split_limits),
		cmocka_unit_test(test_data_plain),
		cmocka_unit_test(test_data_dot_stuffing),
		cmocka_unit_test(test_data_end),
		cmocka_unit_test(test_data_not_ended),
		cmocka_unit_test(test_data_runs),
		cmocka_unit_test(test_data_sink_failure),
		cmocka_unit_test(test_data_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
