/* SEARCH: parsing of every key, nesting, limits and syntax errors; case
 * folding and transfer decoding; evaluation over a small in-memory
 * mailbox (metadata keys without reading, header keys with encoded words,
 * base64 / quoted-printable bodies, "$", three-valued short cuts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../lib/xmalloc.h"
#include "../../mail/imapdate.h"
#include "../../mail/transfer.h"
#include "../../protocol/parser.h"
#include "../../protocol/search_parse.h"

static int setup(void **state)
{
	*state = arena_new();
	return 0;
}

static int teardown(void **state)
{
	arena_free(*state);
	return 0;
}

/* Parse "a SEARCH <args>" (raw command bytes, literals inline). */
static enum search_status parse(struct arena *a, const char *args, size_t len,
				struct search_program *p, const char **err)
{
	struct imap_cmd cmd;
	const char *perr = NULL;
	char *raw = arena_alloc(a, len + 16);
	memcpy(raw, "a SEARCH ", 9);
	memcpy(raw + 9, args, len);
	*err = NULL;
	if (imap_parse_command(a, raw, len + 9, &cmd, &perr) < 0) {
		*err = perr;
		return SEARCH_BAD;
	}
	return search_parse(a, cmd.args, cmd.nargs, p, err);
}

static enum search_status parse_s(struct arena *a, const char *args, struct search_program *p)
{
	const char *err;
	return parse(a, args, strlen(args), p, &err);
}

#define PARSE_LIT(a, lit, p, err) parse(a, lit, sizeof(lit) - 1, p, err)

static const char *opname(enum search_op op)
{
	static const char *names[] = {
		"AND", "OR", "NOT", "ALL", "NONE", "RECENT", "NEW", "OLD", "FLAG", "UNFLAG",
		"KEYWORD", "UNKEYWORD",
		"BEFORE", "ON", "SINCE", "LARGER", "SMALLER", "SEQSET", "UIDSET", "SAVED", "MODSEQ",
		"OLDER", "YOUNGER", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE", "SAVEDATESUPPORTED",
		"THREADID",
		"SENTBEFORE", "SENTON", "SENTSINCE", "FROM", "TO", "CC", "BCC", "SUBJECT",
		"HEADER", "EMAILID", "BODY", "TEXT",
	};
	return names[op];
}

/* The program as "AND(FLAG OR(SEEN NOT(ALL)))"-like text, from the flat
 * prefix array and the end indexes. */
static void dump(const struct search_program *p, char *out, size_t outsz)
{
	size_t ends[SEARCH_MAX_DEPTH + 4], sp = 0, n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->nnodes; i++) {
		while (sp > 0 && ends[sp - 1] == i) {
			n += (size_t)snprintf(out + n, outsz - n, ")");
			sp--;
		}
		const struct search_node *x = &p->nodes[i];
		int sep = i > 0 && out[n - 1] != '(';
		n += (size_t)snprintf(out + n, outsz - n, "%s%s", sep ? " " : "", opname(x->op));
		if (x->op == SK_AND || x->op == SK_OR || x->op == SK_NOT) {
			n += (size_t)snprintf(out + n, outsz - n, "(");
			ends[sp++] = x->end;
		} else {
			assert_int_equal(x->end, i + 1);
		}
	}
	while (sp-- > 0)
		n += (size_t)snprintf(out + n, outsz - n, ")");
}

static void expect_tree(void **state, const char *args, const char *tree)
{
	struct search_program p;
	char got[4096];
	if (parse_s(*state, args, &p) != SEARCH_OK)
		fail_msg("\"%s\" rejected", args);
	dump(&p, got, sizeof(got));
	if (strcmp(got, tree) != 0)
		fail_msg("\"%s\": got %s, want %s", args, got, tree);
}

static void expect_status(void **state, const char *args, enum search_status st)
{
	struct search_program p;
	enum search_status got = parse_s(*state, args, &p);
	if (got != st)
		fail_msg("\"%s\": status %d, want %d", args, got, st);
}

static void test_parse_every_key(void **state)
{
	static const struct {
		const char *args;
		enum search_op op;
	} cases[] = {
		{ "ALL", SK_ALL }, { "ANSWERED", SK_FLAG }, { "BCC x", SK_BCC },
		{ "BEFORE 1-Feb-1994", SK_BEFORE }, { "BODY \"a b\"", SK_BODY }, { "CC x", SK_CC },
		{ "DELETED", SK_FLAG }, { "DRAFT", SK_FLAG }, { "FLAGGED", SK_FLAG },
		{ "FROM {3}\r\nabc", SK_FROM }, { "HEADER X-Foo bar", SK_HEADER },
		{ "KEYWORD $Work", SK_KEYWORD }, { "LARGER 100", SK_LARGER }, { "NEW", SK_NEW },
		{ "OLD", SK_OLD }, { "ON \"3-Feb-2020\"", SK_ON }, { "RECENT", SK_RECENT },
		{ "SEEN", SK_FLAG }, { "SENTBEFORE 1-Jan-2000", SK_SENTBEFORE },
		{ "SENTON 1-Jan-2000", SK_SENTON }, { "SENTSINCE 1-Jan-2000", SK_SENTSINCE },
		{ "SINCE 01-Jan-2000", SK_SINCE }, { "SMALLER 9223372036854775807", SK_SMALLER },
		{ "SUBJECT x", SK_SUBJECT }, { "TEXT x", SK_TEXT }, { "TO x", SK_TO },
		{ "UID 1:*", SK_UIDSET }, { "UID $", SK_SAVED }, { "UNANSWERED", SK_UNFLAG },
		{ "UNDELETED", SK_UNFLAG }, { "UNDRAFT", SK_UNFLAG }, { "UNFLAGGED", SK_UNFLAG },
		{ "UNKEYWORD foo", SK_UNKEYWORD }, { "UNSEEN", SK_UNFLAG }, { "1,3:*", SK_SEQSET },
		{ "*", SK_SEQSET }, { "$", SK_SAVED }, { "seen", SK_FLAG }, { "subject X", SK_SUBJECT },
		{ "MODSEQ 0", SK_MODSEQ }, { "MODSEQ \"/flags/\\\\draft\" all 620162338", SK_MODSEQ },
		{ "modseq \"/flags/$Work\" PRIV 1", SK_MODSEQ },
		{ "OLDER 1", SK_OLDER }, { "younger 86400", SK_YOUNGER },
		{ "SAVEDBEFORE 1-Feb-1994", SK_SAVEDBEFORE }, { "SAVEDON \"3-Feb-2020\"", SK_SAVEDON },
		{ "SAVEDSINCE 01-Jan-2000", SK_SAVEDSINCE },
		{ "SAVEDATESUPPORTED", SK_SAVEDATESUPPORTED },
		{ "EMAILID M0a_-Z", SK_EMAILID }, { "THREADID \"T1\"", SK_THREADID },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct search_program p;
		const char *err;
		if (parse(*state, cases[i].args, strlen(cases[i].args), &p, &err) != SEARCH_OK)
			fail_msg("\"%s\" rejected: %s", cases[i].args, err);
		assert_int_equal(p.nnodes, 2);
		assert_int_equal(p.nodes[0].op, SK_AND);
		assert_int_equal(p.nodes[0].end, 2);
		if (p.nodes[1].op != cases[i].op)
			fail_msg("\"%s\": op %s", cases[i].args, opname(p.nodes[1].op));
	}
}

static void test_parse_arguments(void **state)
{
	struct search_program p;
	assert_int_equal(parse_s(*state, "ANSWERED UNSEEN LARGER 1234 SUBJECT \"HeLLo\"", &p),
			 SEARCH_OK);
	assert_int_equal(p.nodes[1].flag, MF_ANSWERED);
	assert_int_equal(p.nodes[2].flag, MF_SEEN);
	assert_int_equal(p.nodes[3].num, 1234);
	assert_string_equal(p.nodes[4].str, "hello");
	assert_int_equal(p.needs, SN_HEADER);
	assert_int_equal(parse_s(*state, "ON 3-Feb-2020", &p), SEARCH_OK);
	time_t t;
	assert_int_equal(imapdate_parse_date("3-Feb-2020", 10, &t), 0);
	assert_int_equal(p.nodes[1].day, imapdate_day(t, 0));
	assert_int_equal(parse_s(*state, "HEADER \"Message-ID\" \"\"", &p), SEARCH_OK);
	assert_int_equal(p.nodes[1].field_len, 10);
	assert_int_equal(p.nodes[1].len, 0);
	assert_int_equal(parse_s(*state, "BODY x", &p), SEARCH_OK);
	assert_int_equal(p.needs, SN_BODY);
	assert_int_equal(parse_s(*state, "TEXT x", &p), SEARCH_OK);
	assert_int_equal(p.needs, SN_BODY | SN_HEADER);
	/* WITHIN: the target time is now minus the interval, fixed at parse */
	time_t before = time(NULL);
	assert_int_equal(parse_s(*state, "OLDER 3600", &p), SEARCH_OK);
	assert_true(p.nodes[1].when >= (int64_t)before - 3600 &&
		    p.nodes[1].when <= (int64_t)time(NULL) - 3600);
	assert_int_equal(p.needs, 0);
	assert_int_equal(parse_s(*state, "OLDER 0", &p), SEARCH_BAD);
	assert_int_equal(parse_s(*state, "YOUNGER -1", &p), SEARCH_BAD);
	/* EMAILID needs the whole message (its id is the content's hash) */
	assert_int_equal(parse_s(*state, "EMAILID Mab", &p), SEARCH_OK);
	assert_int_equal(p.needs, SN_BODY);
	assert_int_equal(parse_s(*state, "EMAILID \"a.b\"", &p), SEARCH_BAD);
	assert_int_equal(parse_s(*state, "UID $ SEEN", &p), SEARCH_OK);
	assert_true(p.uses_saved);
	assert_false(p.has_return);
}

static void test_parse_nesting(void **state)
{
	expect_tree(state, "SEEN FLAGGED", "AND(FLAG FLAG)");
	expect_tree(state, "OR SEEN FLAGGED", "AND(OR(FLAG FLAG))");
	expect_tree(state, "NOT SEEN", "AND(NOT(FLAG))");
	expect_tree(state, "OR (SEEN FLAGGED) NOT (DELETED)",
		    "AND(OR(AND(FLAG FLAG) NOT(AND(FLAG))))");
	expect_tree(state, "OR OR SEEN DRAFT NOT NOT ALL LARGER 5",
		    "AND(OR(OR(FLAG FLAG) NOT(NOT(ALL))) LARGER)");
	expect_tree(state, "NOT OR SUBJECT a FROM b UNSEEN", "AND(NOT(OR(SUBJECT FROM)) UNFLAG)");
	expect_tree(state, "((SEEN)) (ALL DRAFT)", "AND(AND(AND(FLAG)) AND(ALL FLAG))");
	expect_tree(state, "OR SEEN (NOT ANSWERED TO x)", "AND(OR(FLAG AND(NOT(FLAG) TO)))");
	expect_tree(state, "RETURN (MIN) CHARSET UTF-8 OR 1:3 UID 5", "AND(OR(SEQSET UIDSET))");
}

static void test_parse_return(void **state)
{
	struct search_program p;
	assert_int_equal(parse_s(*state, "RETURN () ALL", &p), SEARCH_OK);
	assert_true(p.has_return);
	assert_int_equal(p.ret, SR_ALL);
	assert_int_equal(parse_s(*state, "RETURN (MIN MAX COUNT SAVE) ALL", &p), SEARCH_OK);
	assert_int_equal(p.ret, SR_MIN | SR_MAX | SR_COUNT | SR_SAVE);
	assert_int_equal(parse_s(*state, "RETURN (save) ALL", &p), SEARCH_OK);
	assert_int_equal(p.ret, SR_SAVE);
	assert_int_equal(parse_s(*state, "RETURN (ALL) CHARSET US-ASCII SEEN", &p), SEARCH_OK);
	expect_status(state, "RETURN (FOO) ALL", SEARCH_BAD);
	expect_status(state, "RETURN ALL", SEARCH_BAD);
	expect_status(state, "RETURN", SEARCH_BAD);
	expect_status(state, "RETURN ()", SEARCH_BAD);
	expect_status(state, "CHARSET UTF-8 RETURN () ALL", SEARCH_BAD);
}

static void test_parse_charset(void **state)
{
	struct search_program p;
	const char *err;
	/* ISO-8859-1 é -> UTF-8, then folded and NFKD-decomposed. */
	assert_int_equal(PARSE_LIT(*state, "CHARSET ISO-8859-1 SUBJECT {4}\r\nCAF\xc9", &p, &err),
			 SEARCH_OK);
	assert_string_equal(p.nodes[1].str, "cafe\xcc\x81");
	assert_int_equal(PARSE_LIT(*state, "CHARSET \"utf-8\" BODY {5}\r\nCAF\xc3\x89", &p, &err),
			 SEARCH_OK);
	assert_string_equal(p.nodes[1].str, "cafe\xcc\x81");
	assert_int_equal(parse_s(*state, "CHARSET KOI8-R TEXT abc", &p), SEARCH_OK);
	assert_int_equal(parse_s(*state, "CHARSET X-NO-SUCH-CHARSET ALL", &p), SEARCH_BADCHARSET);
	assert_int_equal(parse_s(*state, "CHARSET \"UTF-8//TRANSLIT\" ALL", &p), SEARCH_BADCHARSET);
	assert_int_equal(parse_s(*state, "RETURN (SAVE) CHARSET FOO ALL", &p), SEARCH_BADCHARSET);
	assert_true(p.ret & SR_SAVE);   /* the caller empties "$" */
	/* Invalid in the named charset: BAD. */
	assert_int_equal(PARSE_LIT(*state, "CHARSET US-ASCII SUBJECT x", &p, &err), SEARCH_OK);
	assert_int_equal(PARSE_LIT(*state, "CHARSET ISO-2022-JP SUBJECT {2}\r\n\x1b\xff", &p, &err),
			 SEARCH_BAD);
	expect_status(state, "CHARSET", SEARCH_BAD);
	expect_status(state, "CHARSET UTF-8", SEARCH_BAD);
	expect_status(state, "CHARSET (UTF-8) ALL", SEARCH_BAD);
}

static void test_parse_bad(void **state)
{
	static const char *bad[] = {
		"FOO", "SUBJECT", "FROM (x)", "OR SEEN", "OR", "NOT", "()", "SEEN ()", "(SEEN",
		"LARGER", "LARGER abc", "LARGER -1", "LARGER 99999999999999999999",
		"SMALLER 9223372036854775808", "BEFORE 32-Jan-2020", "BEFORE yesterday", "SINCE",
		"ON (1-Jan-2020)", "UID", "UID x", "UID 0", "UID 1:x", "0", "1:0", "1,,2", "$1", "$ $x",
		"MODSEQ", "MODSEQ x", "MODSEQ -1", "MODSEQ 9223372036854775808",
		"MODSEQ \"/flags/\\\\seen\" sometimes 5", "MODSEQ \"/annotation/x\" all 5",
		"MODSEQ \"/flags/x\" all", "MODSEQ \"/flags/\" all 5", "MODSEQ (5)",
		"KEYWORD", "KEYWORD \\Seen", "KEYWORD (a)", "KEYWORD \"a b\"", "HEADER",
		"HEADER Subject", "HEADER \"bad:name\" x", "HEADER \"\" x", "HEADER \"a b\" x",
		"NIL", "\"SEEN\"", "{4}\r\nSEEN", "SUBJECT {3}\r\na\0b", "TEXT ~{1}\r\nx",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct search_program p;
		const char *err;
		size_t len = strlen(bad[i]);
		if (strncmp(bad[i], "SUBJECT {3}", 11) == 0)
			len = 16;
		enum search_status st = parse(*state, bad[i], len, &p, &err);
		if (st != SEARCH_BAD)
			fail_msg("\"%s\" gave %d", bad[i], st);
		assert_non_null(err);
	}
	/* The empty argument list. */
	struct search_program p;
	const char *err;
	assert_int_equal(search_parse(*state, NULL, 0, &p, &err), SEARCH_BAD);
}

static char *repeat(struct arena *a, const char *unit, size_t n, const char *tail)
{
	size_t ul = strlen(unit), tl = strlen(tail);
	char *s = arena_alloc(a, ul * n + tl + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	memcpy(s + ul * n, tail, tl + 1);
	return s;
}

static void test_parse_limits(void **state)
{
	struct search_program p;
	/* Keys: exactly the cap passes, one more is refused with LIMIT. */
	char *s = repeat(*state, "SEEN ", SEARCH_MAX_KEYS - 1, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_OK);
	assert_int_equal(p.nnodes, SEARCH_MAX_KEYS + 1);
	s = repeat(*state, "SEEN ", SEARCH_MAX_KEYS, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	/* Operators count as keys. */
	s = repeat(*state, "NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT SEEN ",
		   62, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	/* Depth: NOT chains, OR chains, parentheses and mixtures. */
	s = repeat(*state, "NOT ", SEARCH_MAX_DEPTH, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_OK);
	s = repeat(*state, "NOT ", SEARCH_MAX_DEPTH + 1, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	s = repeat(*state, "OR SEEN ", SEARCH_MAX_DEPTH, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_OK);
	s = repeat(*state, "OR SEEN ", SEARCH_MAX_DEPTH + 1, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	s = repeat(*state, "OR ", SEARCH_MAX_DEPTH + 1, "SEEN");
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	/* Left- and right-leaning OR chains nest one level per OR. */
	s = repeat(*state, "OR ", SEARCH_MAX_DEPTH, repeat(*state, "SEEN ", SEARCH_MAX_DEPTH, "SEEN"));
	assert_int_equal(parse_s(*state, s, &p), SEARCH_OK);
	s = repeat(*state, "OR ", SEARCH_MAX_DEPTH + 1,
		   repeat(*state, "SEEN ", SEARCH_MAX_DEPTH + 1, "SEEN"));
	assert_int_equal(parse_s(*state, s, &p), SEARCH_LIMIT);
	/* Parenthesized nesting beyond the parser's own cap is a BAD from it. */
	s = repeat(*state, "(", IMAP_MAX_DEPTH + 1, repeat(*state, ")", IMAP_MAX_DEPTH + 1, ""));
	assert_int_not_equal(parse_s(*state, s, &p), SEARCH_OK);
	/* Parentheses and NOT together past the cap. */
	s = repeat(*state, "NOT (", IMAP_MAX_DEPTH - 1, "SEEN");
	char *t = arena_printf(*state, "%s%s", s, repeat(*state, ")", IMAP_MAX_DEPTH - 1, ""));
	assert_int_equal(parse_s(*state, t, &p), SEARCH_OK);
	s = repeat(*state, "NOT NOT (", IMAP_MAX_DEPTH - 1, "SEEN");
	t = arena_printf(*state, "%s%s", s, repeat(*state, ")", IMAP_MAX_DEPTH - 1, ""));
	assert_int_equal(parse_s(*state, t, &p), SEARCH_LIMIT);
}

/* ---- text helpers -------------------------------------------------------- */

static char *fold(struct arena *a, const char *s)
{
	struct buf b = BUF_INIT;
	search_fold(s, strlen(s), &b);
	char *r = arena_strndup(a, b.data ? b.data : "", b.len);
	buf_free(&b);
	return r;
}

static void test_fold(void **state)
{
	assert_string_equal(fold(*state, "Hello WORLD 123"), "hello world 123");
	assert_string_equal(fold(*state, "CAF\xc3\x89"), fold(*state, "caf\xc3\xa9"));
	assert_string_equal(fold(*state, "CAF\xc3\x89"), fold(*state, "cafe\xcc\x81"));
	assert_string_equal(fold(*state, "STRASSE"), fold(*state, "stra\xc3\x9f" "e"));
	/* Greek final sigma, Cyrillic, the Kelvin sign. */
	assert_string_equal(fold(*state, "\xce\xa3\xce\x9f\xce\xa6\xce\x9f\xce\xa3"),
			    fold(*state, "\xcf\x83\xce\xbf\xcf\x86\xce\xbf\xcf\x82"));
	assert_string_equal(fold(*state, "\xd0\x9e\xd0\xa2\xd0\x9f\xd0\xa3\xd0\xa1\xd0\x9a"),
			    fold(*state, "\xd0\xbe\xd1\x82\xd0\xbf\xd1\x83\xd1\x81\xd0\xba"));
	assert_string_equal(fold(*state, "\xe2\x84\xaa"), "k");
	/* Invalid UTF-8 becomes U+FFFD, the rest still folds. */
	assert_string_equal(fold(*state, "A\xff" "B\xc3\x89"), "a\xef\xbf\xbd" "be\xcc\x81");
	assert_string_equal(fold(*state, ""), "");
}

static void test_charset_convert(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(search_charset_convert("ISO-8859-1", "\xe9t\xe9", 3, 1, &b), 0);
	assert_string_equal(b.data, "\xc3\xa9t\xc3\xa9");
	buf_reset(&b);
	assert_int_equal(search_charset_convert("x-unknown-cs", "a", 1, 0, &b), -2);
	assert_int_equal(search_charset_convert("UTF-8//IGNORE", "a", 1, 0, &b), -2);
	/* Lenient: invalid bytes become U+FFFD. */
	buf_reset(&b);
	assert_int_equal(search_charset_convert("UTF-16LE", "a\0b", 3, 0, &b), 0);
	assert_string_equal(b.data, "a\xef\xbf\xbd");
	buf_reset(&b);
	assert_int_equal(search_charset_convert("UTF-16LE", "a\0b", 3, 1, &b), -1);
	assert_int_equal(b.len, 0);
	/* Long input crosses the conversion chunk size. */
	char big[10000];
	memset(big, '\xe9', sizeof(big));
	buf_reset(&b);
	assert_int_equal(search_charset_convert("ISO-8859-1", big, sizeof(big), 1, &b), 0);
	assert_int_equal(b.len, 2 * sizeof(big));
	assert_true(search_charset_is_utf8("us-ascii"));
	assert_false(search_charset_is_utf8("latin1"));
	buf_free(&b);
	(void)state;
}

static void test_transfer(void **state)
{
	struct buf b = BUF_INIT;
	mail_decode_base64("SGVs\r\nbG8g\r\nd29y bGQ=\r\n", 23, &b);
	assert_string_equal(b.data, "Hello world");
	buf_reset(&b);
	mail_decode_base64("SGk", 3, &b);   /* unpadded */
	assert_string_equal(b.data, "Hi");
	buf_reset(&b);
	mail_decode_base64("!!!", 3, &b);
	assert_int_equal(b.len, 0);
	buf_reset(&b);
	const char *qp = "Caf=C3=A9 soft=\r\nbreak =3d=3D trail  \r\nx=\n=ZZ=4";
	mail_decode_qp(qp, strlen(qp), &b);
	assert_string_equal(b.data, "Caf\xc3\xa9 softbreak == trail\r\nx=ZZ=4");
	buf_reset(&b);
	mail_decode_qp("end=", 4, &b);
	assert_string_equal(b.data, "end");
	buf_reset(&b);
	mail_decode_qp("a= \r\nb", 6, &b);
	assert_string_equal(b.data, "ab");
	buf_free(&b);
	(void)state;
}

/* ---- evaluation over a fake mailbox ----------------------------------- */

struct fake_msg {
	uint32_t uid;
	uint32_t flags;
	uint32_t kw[2];
	size_t nkw;
	const char *idate;     /* IMAP date-time */
	const char *text;      /* message, CRLF */
};

static const struct fake_msg fake[] = {
	{ 10, MF_SEEN, { 0 }, 1, "01-Jan-2020 12:00:00 +0000",
	  "From: =?ISO-8859-1?Q?Zo=EB_=C4rger?= <zoe@example.org>\r\n"
	  "To: bob@example.com\r\n"
	  "Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1l?=\r\n"
	  "Date: Mon, 3 Feb 2020 10:00:00 +0100\r\n"
	  "Content-Type: text/plain; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "w5xuw69jb2RlIGJvZHkgd2l0aCBuZWVkbGUtYjY0IGFuZCBzdHJhw59l\r\n" },
	{ 11, MF_ANSWERED, { 1, 0 }, 2, "15-Jan-2020 23:30:00 -0800",
	  "From: hans@example.de\r\n"
	  "To: alice@example.com\r\n"
	  "Bcc: secret@example.com\r\n"
	  "Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=\r\n"
	  "Date: Tue, 4 Feb 2020 23:30:00 -0800\r\n"
	  "Content-Type: text/plain; charset=iso-8859-1\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n"
	  "\r\n"
	  "Sch=F6ne Gr=FC=DFe, qp-needle-=\r\nsplit\r\n" },
	{ 15, MF_DELETED | MF_DRAFT, { 0 }, 0, "01-Feb-2020 00:00:00 +0000",
	  "From: Alice Example <alice@example.com>\r\n"
	  "To: dave@example.com\r\n"
	  "Cc: carol@example.net\r\n"
	  "X-Custom: magic-value-42\r\n"
	  "Subject: Meeting\r\n tomorrow\r\n"
	  "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
	  "\r\n"
	  "preamble words\r\n"
	  "--b\r\n"
	  "Content-Type: text/plain\r\n"
	  "\r\n"
	  "plain body words xyzzy\r\n"
	  "--b\r\n"
	  "Content-Type: application/octet-stream\r\n"
	  "Content-Transfer-Encoding: base64\r\n"
	  "\r\n"
	  "YXR0YWNobWVudC1zZWNyZXQ=\r\n"
	  "--b\r\n"
	  "Content-Type: message/rfc822\r\n"
	  "\r\n"
	  "Subject: inner-subject\r\n"
	  "\r\n"
	  "inner body text\r\n"
	  "--b--\r\n" },
	{ 16, 0, { 0 }, 0, "01-Mar-2020 00:00:00 +0000",
	  "Subject: no date here\r\n"
	  "\r\n"
	  "short\r\n" },
};
#define NFAKE (sizeof(fake) / sizeof(fake[0]))

static const char *const kwnames[] = { "$Work", "Urgent" };

struct fake_box {
	struct msg_meta meta[NFAKE];
	size_t reads;
	int fail_uid;           /* read error for this uid */
	int gone_uid;           /* expunged */
};

static int fake_read(void *arg, uint32_t uid, int header_only, struct buf *out,
		     struct error *err)
{
	struct fake_box *fb = arg;
	fb->reads++;
	if ((int)uid == fb->fail_uid) {
		error_set(err, ERR_INTERNAL, "read failed");
		return -1;
	}
	if ((int)uid == fb->gone_uid)
		return 1;
	for (size_t i = 0; i < NFAKE; i++)
		if (fake[i].uid == uid) {
			buf_append_str(out, fake[i].text);
			return 0;
		}
	return 1;
}

static void fake_init(struct fake_box *fb)
{
	memset(fb, 0, sizeof(*fb));
	for (size_t i = 0; i < NFAKE; i++) {
		struct msg_meta *m = &fb->meta[i];
		m->uid = fake[i].uid;
		m->flags = fake[i].flags;
		m->kw = fake[i].kw;
		m->nkw = fake[i].nkw;
		m->size = strlen(fake[i].text);
		assert_int_equal(imapdate_parse_datetime(fake[i].idate, strlen(fake[i].idate),
							 &m->internaldate, &m->tz_minutes), 0);
	}
}

/* Run a search; result as "1 3" sequence numbers. */
static char *run(void **state, struct fake_box *fb, const uint32_t *saved, size_t nsaved,
		 const char *args, size_t *reads)
{
	struct search_program p;
	struct search_ctx ctx;
	struct error err;
	const char *perr;
	char *out = arena_alloc(*state, 256);
	size_t n = 0;

	if (parse(*state, args, strlen(args), &p, &perr) != SEARCH_OK)
		fail_msg("\"%s\" rejected: %s", args, perr);
	memset(&ctx, 0, sizeof(ctx));
	ctx.kwnames = kwnames;
	ctx.nkwnames = 2;
	ctx.saved = saved;
	ctx.nsaved = nsaved;
	ctx.count = NFAKE;
	ctx.maxuid = fake[NFAKE - 1].uid;
	ctx.read = fake_read;
	ctx.read_arg = fb;
	search_prepare(&p, &ctx);
	fb->reads = 0;
	for (uint32_t seq = 1; seq <= NFAKE; seq++) {
		int r = search_match(&p, &ctx, seq, &fb->meta[seq - 1], &err);
		if (r < 0) {
			search_ctx_free(&ctx);
			return NULL;
		}
		if (r)
			n += (size_t)snprintf(out + n, 256 - n, "%s%u", n ? " " : "", seq);
	}
	assert_int_equal(ctx.messages_read, fb->reads - (fb->gone_uid ? 1 : 0));
	search_ctx_free(&ctx);
	if (reads)
		*reads = fb->reads;
	return out;
}

static void expect(void **state, const char *args, const char *want)
{
	struct fake_box fb;
	fake_init(&fb);
	char *got = run(state, &fb, NULL, 0, args, NULL);
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", args, got ? got : "(error)", want);
}

static void expect_reads(void **state, const char *args, const char *want, size_t reads)
{
	struct fake_box fb;
	size_t r;
	fake_init(&fb);
	char *got = run(state, &fb, NULL, 0, args, &r);
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", args, got ? got : "(error)", want);
	if (r != reads)
		fail_msg("\"%s\": %zu reads, want %zu", args, r, reads);
}

static void test_eval_metadata(void **state)
{
	expect_reads(state, "ALL", "1 2 3 4", 0);
	expect_reads(state, "SEEN", "1", 0);
	expect_reads(state, "UNSEEN", "2 3 4", 0);
	expect_reads(state, "ANSWERED", "2", 0);
	expect_reads(state, "UNANSWERED", "1 3 4", 0);
	expect_reads(state, "DELETED", "3", 0);
	expect_reads(state, "UNDELETED", "1 2 4", 0);
	expect_reads(state, "DRAFT", "3", 0);
	expect_reads(state, "UNDRAFT", "1 2 4", 0);
	expect_reads(state, "FLAGGED", "", 0);
	expect_reads(state, "UNFLAGGED", "1 2 3 4", 0);
	expect_reads(state, "RECENT", "", 0);
	expect_reads(state, "NEW", "", 0);
	expect_reads(state, "OLD", "1 2 3 4", 0);
	expect_reads(state, "KEYWORD $work", "1 2", 0);
	expect_reads(state, "KEYWORD Urgent", "2", 0);
	expect_reads(state, "KEYWORD nosuch", "", 0);
	expect_reads(state, "UNKEYWORD $Work", "3 4", 0);
	expect_reads(state, "UNKEYWORD nosuch", "1 2 3 4", 0);
	/* Internal dates, each in its own zone: 15-Jan-2020 23:30 -0800. */
	expect_reads(state, "ON 15-Jan-2020", "2", 0);
	expect_reads(state, "ON 16-Jan-2020", "", 0);
	expect_reads(state, "BEFORE 15-Jan-2020", "1", 0);
	expect_reads(state, "BEFORE 16-Jan-2020", "1 2", 0);
	expect_reads(state, "SINCE 15-Jan-2020", "2 3 4", 0);
	expect_reads(state, "SINCE 1-Feb-2020", "3 4", 0);
	expect_reads(state, "SINCE 2-Mar-2020", "", 0);
	size_t s1 = strlen(fake[0].text);
	expect_reads(state, arena_printf(*state, "LARGER %zu", s1 - 1), "1 2 3", 0);
	expect_reads(state, arena_printf(*state, "SMALLER %zu", s1), "4", 0);
	expect_reads(state, "LARGER 100000", "", 0);
	expect_reads(state, "SMALLER 0", "", 0);
	expect_reads(state, "2:3", "2 3", 0);
	expect_reads(state, "*", "4", 0);
	expect_reads(state, "3:*", "3 4", 0);
	expect_reads(state, "7:*", "4", 0);
	expect_reads(state, "1,4,9", "1 4", 0);
	expect_reads(state, "UID 11:15", "2 3", 0);
	expect_reads(state, "UID *", "4", 0);
	expect_reads(state, "UID 100:*", "4", 0);
	expect_reads(state, "UID 12:14", "", 0);
	expect_reads(state, "$", "", 0);
	/* Combinations. */
	expect_reads(state, "OR SEEN DRAFT", "1 3", 0);
	expect_reads(state, "NOT OR SEEN DRAFT", "2 4", 0);
	expect_reads(state, "UNSEEN (OR ANSWERED DELETED) NOT DRAFT", "2", 0);
	expect_reads(state, "NOT NOT NOT SEEN", "2 3 4", 0);
	expect_reads(state, "OR (SEEN KEYWORD $Work) (UID 16)", "1 4", 0);
}

/* \Recent is what the view says (msg_meta.recent); NEW = RECENT UNSEEN. */
static void test_eval_recent(void **state)
{
	static const struct {
		const char *args, *want;
	} cases[] = {
		{ "RECENT", "1 2" }, { "NEW", "2" }, { "OLD", "3 4" }, { "NOT RECENT", "3 4" },
		{ "NOT OLD", "1 2" }, { "OR NEW DELETED", "2 3" }, { "RECENT SEEN", "1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_box fb;
		char *got;
		fake_init(&fb);
		fb.meta[0].recent = 1;   /* \Seen */
		fb.meta[1].recent = 1;   /* unseen */
		got = run(state, &fb, NULL, 0, cases[i].args, NULL);
		if (got == NULL || strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].args,
				 got ? got : "(error)", cases[i].want);
	}
}

static void test_eval_saved(void **state)
{
	struct fake_box fb;
	static const uint32_t saved[] = { 11, 16, 99 };
	fake_init(&fb);
	assert_string_equal(run(state, &fb, saved, 3, "$", NULL), "2 4");
	assert_string_equal(run(state, &fb, saved, 3, "UID $", NULL), "2 4");
	assert_string_equal(run(state, &fb, saved, 3, "NOT $", NULL), "1 3");
	assert_string_equal(run(state, &fb, saved, 3, "OR $ SEEN", NULL), "1 2 4");
}

static void test_eval_header(void **state)
{
	/* Encoded words decoded, folded, matched in raw form too. */
	expect(state, "FROM zoe", "1");
	expect(state, "CHARSET UTF-8 FROM {4}\r\nZO\xc3\x8b", "1");
	expect(state, "FROM \"=?ISO-8859-1?Q?Zo=EB\"", "1");
	expect(state, "FROM example", "1 2 3");
	expect(state, "FROM \"Alice Example\"", "3");
	expect(state, "TO alice", "2");
	expect(state, "TO EXAMPLE.COM", "1 2 3");
	expect(state, "CC carol", "3");
	expect(state, "CC example", "3");
	expect(state, "BCC secret", "2");
	expect(state, "SUBJECT {5}\r\nCAF\xc3\x89", "1");
	expect(state, "SUBJECT {13}\r\ncafe\xcc\x81 CR\xc3\x88ME", "1");
	expect(state, "SUBJECT {7}\r\ngr\xc3\xbc\xc3\x9f" "e", "2");
	expect(state, "SUBJECT GRUSSE", "");   /* ü is not u */
	expect(state, "SUBJECT strasse", "");
	expect(state, "CHARSET ISO-8859-1 SUBJECT {7}\r\nM\xfcnchen", "2");
	expect(state, "SUBJECT \"meeting tomorrow\"", "3");  /* unfolded: CRLF removed, blank kept */
	expect(state, "SUBJECT \"meeting  tomorrow\"", "");
	expect(state, "SUBJECT \"tomorrow\"", "3");
	expect(state, "SUBJECT \"\"", "1 2 3 4");
	expect(state, "HEADER X-Custom \"\"", "3");
	expect(state, "HEADER x-custom MAGIC-VALUE", "3");
	expect(state, "HEADER X-Custom nope", "");
	expect(state, "HEADER Content-Type multipart", "3");
	expect(state, "HEADER Subject inner-subject", "");  /* only the top-level header */
	expect(state, "HEADER X-Missing \"\"", "");
	/* Date: header, as written in its own zone. */
	expect(state, "SENTON 3-Feb-2020", "1");
	expect(state, "SENTON 4-Feb-2020", "2");
	expect(state, "SENTON 5-Feb-2020", "");
	expect(state, "SENTBEFORE 4-Feb-2020", "1");
	expect(state, "SENTSINCE 4-Feb-2020", "2");
	expect(state, "SENTSINCE 1-Jan-1970", "1 2");   /* 3 and 4 have no Date */
}

/* One message, one search: 1 if it matches. */
struct one_msg {
	const char *text;
};

static int one_read(void *arg, uint32_t uid, int header_only, struct buf *out, struct error *err)
{
	buf_append_str(out, ((struct one_msg *)arg)->text);
	return 0;
}

static int match_one(void **state, const char *text, const char *args)
{
	struct search_program p;
	struct search_ctx ctx;
	struct msg_meta meta;
	struct error err;
	struct one_msg om = { text };
	const char *perr;

	if (parse(*state, args, strlen(args), &p, &perr) != SEARCH_OK)
		fail_msg("\"%s\" rejected: %s", args, perr);
	memset(&ctx, 0, sizeof(ctx));
	memset(&meta, 0, sizeof(meta));
	meta.uid = 1;
	meta.size = strlen(text);
	ctx.count = 1;
	ctx.maxuid = 1;
	ctx.read = one_read;
	ctx.read_arg = &om;
	search_prepare(&p, &ctx);
	int r = search_match(&p, &ctx, 1, &meta, &err);
	search_ctx_free(&ctx);
	assert_true(r >= 0);
	return r;
}

/* Issue 17 item 8: an address key matches the address with RFC 5322
 * comments and folding gone (and, as before, the display name and the raw
 * text). Every way of writing user-from@domain.org, in every address key;
 * other addresses do not match. */
static void test_eval_address_forms(void **state)
{
	static const char *const same[] = {
		"user-from@domain.org",
		"<user-from@domain.org>",
		"Name <user-from@domain.org>",
		"<user-from (comment)@ (comment) domain.org>",
		"user-from(c)@(c)domain.org",
		"\"User, F.\" <user-from@\r\n domain.org>",
		"user-from @ domain . org",
		"(comment) user-from@domain.org (trailing)",
		"\"user-from\"@domain.org",
		"=?utf-8?q?N=C3=A4me?= <user-from@domain.org>",
		"list: user-from@domain.org;",
		"<@route1,@route2:user-from@domain.org>",
		"USER-FROM@DOMAIN.ORG",
		"a@b.c, <user-from (x)\r\n\t@domain.org>",
		"user-from@(a (nested) comment)domain.org",
	};
	static const char *const other[] = {
		"user-from@other.org", "user@from.domain.org", "<user-from@domain.com>",
		"user-from (@domain.org)",
	};
	static const char *const keys[] = { "From", "To", "Cc", "Bcc" };
	char msg[512], args[64];

	for (size_t k = 0; k < 4; k++) {
		snprintf(args, sizeof(args), "%s user-from@domain.org", keys[k]);
		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
			snprintf(msg, sizeof(msg), "%s: %s\r\nSubject: x\r\n\r\nbody\r\n", keys[k],
				 same[i]);
			if (!match_one(state, msg, args))
				fail_msg("%s: %s does not match", keys[k], same[i]);
		}
		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			snprintf(msg, sizeof(msg), "%s: %s\r\n\r\nbody\r\n", keys[k], other[i]);
			if (match_one(state, msg, args))
				fail_msg("%s: %s matches", keys[k], other[i]);
		}
	}
	/* The display name as parsed (comments gone, encoded words decoded),
	 * as well as the raw text. */
	assert_true(match_one(state, "From: Joe (the boss) Smith <j@x.org>\r\n\r\n", "FROM \"Joe Smith\""));
	assert_true(match_one(state, "From: Joe (the boss) Smith <j@x.org>\r\n\r\n", "FROM \"the boss\""));
	assert_true(match_one(state, "From: Joe Smith <j@x.org>\r\n\r\n", "FROM \"Joe Smith <j@x.org>\""));
	assert_true(match_one(state, "From: =?utf-8?q?J=C3=B6rg?= <j@x.org>\r\n\r\n",
			      "CHARSET UTF-8 FROM {10}\r\nj\xc3\xb6rg <j@x"));
	/* The key names the field: a Subject or another header is not looked at. */
	assert_false(match_one(state, "Subject: <user-from (c)@domain.org>\r\n\r\n",
			       "SUBJECT user-from@domain.org"));
	assert_false(match_one(state, "Reply-To: <user-from (c)@domain.org>\r\n\r\n",
			       "FROM user-from@domain.org"));
	/* HEADER is the field's text, not its addresses. */
	assert_false(match_one(state, "From: <user-from (c)@domain.org>\r\n\r\n",
			       "HEADER From user-from@domain.org"));
}

/* Issue 17 item 9: TEXT covers every header of the message and of its
 * parts, RFC 2231-decoded; BODY still covers only the body text. Each
 * place a header can be gets its own word. */
static void test_eval_text_every_header(void **state)
{
	static const char msg[] =
		"Subject: top-word\r\n"
		"Content-Type: multipart/mixed; boundary=\"o\"; x-top=param-top\r\n"
		"\r\n"
		"--o\r\n"
		"Content-Type: text/plain\r\n"
		"X-Part: child-word\r\n"
		"\r\n"
		"plain text\r\n"
		"--o\r\n"
		"Content-Type: application/pdf; name=\"invoice.pdf\"\r\n"
		"Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"JVBERi0=\r\n"
		"--o\r\n"
		"Content-Type: multipart/alternative; boundary=\"i\"\r\n"
		"\r\n"
		"--i\r\n"
		"Content-Type: text/html\r\n"
		"Content-Description: =?utf-8?q?grandchild-w=C3=B6rd?=\r\n"
		"\r\n"
		"<p>x</p>\r\n"
		"--i\r\n"
		"Content-Type: image/png\r\n"
		"Content-Disposition: inline;\r\n"
		" filename*0*=utf-8''Rechnung%20%E2%82%AC;\r\n"
		" filename*1=\".png\"\r\n"
		"\r\n"
		"iVBO\r\n"
		"--i--\r\n"
		"--o\r\n"
		"Content-Type: message/rfc822\r\n"
		"X-Wrapper: wrapper-word\r\n"
		"\r\n"
		"Subject: embedded-word\r\n"
		"Content-Type: multipart/mixed; boundary=\"e\"\r\n"
		"\r\n"
		"--e\r\n"
		"Content-Type: application/zip\r\n"
		"Content-Disposition: attachment; filename*=us-ascii'en'deep%2Dword.zip\r\n"
		"\r\n"
		"UEsDBA==\r\n"
		"--e--\r\n"
		"--o--\r\n";
	static const char *const words[] = {
		"top-word", "param-top", "child-word", "invoice.pdf", "invoice",
		"grandchild-w\xc3\xb6rd", "filename=rechnung \xe2\x82\xac.png", "wrapper-word",
		"embedded-word", "deep-word.zip", "RECHNUNG",
	};
	char args[128];

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(args, sizeof(args), "CHARSET UTF-8 TEXT {%zu}\r\n%s", strlen(words[i]),
			 words[i]);
		if (!match_one(state, msg, args))
			fail_msg("TEXT %s: no match", words[i]);
	}
	assert_false(match_one(state, msg, "TEXT nowhere-word"));
	/* BODY is the body text, not the MIME headers. */
	assert_false(match_one(state, msg, "BODY invoice"));
	assert_false(match_one(state, msg, "BODY child-word"));
	assert_true(match_one(state, msg, "BODY \"plain text\""));
}

static void test_eval_body(void **state)
{
	expect(state, "BODY needle-b64", "1");
	expect(state, "BODY {9}\r\n\xc3\xbcN\xc3\x8f" "CODE", "1");   /* decoded base64, UTF-8 */
	expect(state, "BODY STRASSE", "1");
	expect(state, "BODY qp-needle-split", "2");
	expect(state, "BODY {6}\r\nSCH\xc3\x96N", "2");   /* QP + ISO-8859-1 */
	expect(state, "BODY xyzzy", "3");
	expect(state, "BODY attachment-secret", "");     /* not a text part */
	expect(state, "BODY YXR0YWNobWVudC1zZWNyZXQ", "");
	expect(state, "BODY preamble", "");
	expect(state, "BODY inner-subject", "3");         /* embedded message header */
	expect(state, "BODY \"inner body\"", "3");
	expect(state, "BODY hans", "");                   /* BODY is not the header */
	expect(state, "BODY \"\"", "1 2 3 4");
	expect(state, "TEXT hans", "2");
	expect(state, "TEXT {5}\r\nZO\xc3\x8b ", "1");     /* decoded header text */
	expect(state, "TEXT xyzzy", "3");
	expect(state, "TEXT magic-value", "3");
	expect(state, "TEXT short", "4");
	expect(state, "TEXT nowhere-to-be-found", "");
	expect(state, "OR BODY xyzzy SUBJECT caf", "1 3");
	expect(state, "NOT BODY needle", "3 4");
}

static void test_eval_lazy(void **state)
{
	/* Metadata settles it: no reads for seen messages. */
	expect_reads(state, "UNSEEN SUBJECT caf", "", 3);
	expect_reads(state, "SEEN SUBJECT caf", "1", 1);
	expect_reads(state, "OR SEEN SUBJECT gr", "1 2", 3);
	expect_reads(state, "NOT OR SEEN SUBJECT gr", "3 4", 3);
	expect_reads(state, "UID 11 BODY qp", "2", 1);
	expect_reads(state, "SUBJECT x NOT ALL", "", 0);
	expect_reads(state, "OR ALL BODY x", "1 2 3 4", 0);
	expect_reads(state, "NOT NOT (LARGER 100000 TEXT x)", "", 0);
}

static void test_eval_errors(void **state)
{
	struct fake_box fb;
	fake_init(&fb);
	fb.gone_uid = 11;
	assert_string_equal(run(state, &fb, NULL, 0, "SUBJECT e", NULL), "1 3 4");
	fake_init(&fb);
	fb.gone_uid = 11;
	assert_string_equal(run(state, &fb, NULL, 0, "NOT SUBJECT nothing", NULL), "1 3 4");
	fake_init(&fb);
	fb.fail_uid = 15;
	assert_null(run(state, &fb, NULL, 0, "SUBJECT e", NULL));
	fake_init(&fb);
	fb.fail_uid = 15;
	assert_string_equal(run(state, &fb, NULL, 0, "SEEN SUBJECT e", NULL), "1");
}

/* Hostile messages: deep MIME nesting, many header lines, a header
 * without an end. */
static struct buf hostile;

static int hostile_read(void *arg, uint32_t uid, int header_only, struct buf *out,
			struct error *err)
{
	buf_append(out, hostile.data, hostile.len);
	return 0;
}

static int hostile_match(void **state, const char *args)
{
	struct search_program p;
	struct search_ctx ctx;
	struct error err;
	struct msg_meta m;
	assert_int_equal(parse_s(*state, args, &p), SEARCH_OK);
	memset(&ctx, 0, sizeof(ctx));
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.size = hostile.len;
	ctx.count = 1;
	ctx.maxuid = 1;
	ctx.read = hostile_read;
	search_prepare(&p, &ctx);
	int r = search_match(&p, &ctx, 1, &m, &err);
	search_ctx_free(&ctx);
	return r;
}

/* MODSEQ n: the message's MODSEQ at least n (RFC 7162 3.1.5); a program
 * naming it says so, for the "(MODSEQ n)" of the answer. */
static int modseq_match(void **state, const char *args, uint64_t modseq)
{
	struct search_program p;
	struct search_ctx ctx;
	struct error err;
	struct msg_meta m;
	assert_int_equal(parse_s(*state, args, &p), SEARCH_OK);
	assert_true(p.uses_modseq);
	memset(&ctx, 0, sizeof(ctx));
	memset(&m, 0, sizeof(m));
	m.uid = 1;
	m.modseq = modseq;
	ctx.count = 1;
	ctx.maxuid = 1;
	search_prepare(&p, &ctx);
	int r = search_match(&p, &ctx, 1, &m, &err);
	search_ctx_free(&ctx);
	return r;
}

static void test_eval_modseq(void **state)
{
	struct search_program p;

	assert_int_equal(modseq_match(state, "MODSEQ 7", 7), 1);
	assert_int_equal(modseq_match(state, "MODSEQ 8", 7), 0);
	assert_int_equal(modseq_match(state, "MODSEQ 0", 1), 1);
	assert_int_equal(modseq_match(state, "NOT MODSEQ 8", 7), 1);
	assert_int_equal(modseq_match(state, "MODSEQ \"/flags/\\\\seen\" shared 7", 7), 1);
	assert_int_equal(modseq_match(state, "OR MODSEQ 9 MODSEQ 3", 7), 1);
	assert_int_equal(parse_s(*state, "LARGER 5", &p), SEARCH_OK);
	assert_false(p.uses_modseq);
}

static void test_eval_hostile(void **state)
{
	buf_init(&hostile);
	for (int i = 0; i < 2000; i++)
		buf_printf(&hostile, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n",
			   i, i);
	buf_append_str(&hostile, "Content-Type: text/plain\r\n\r\ndeep needle\r\n");
	assert_int_equal(hostile_match(state, "BODY needle"), 1);
	assert_int_equal(hostile_match(state, "BODY nothing"), 0);
	buf_reset(&hostile);
	buf_append_str(&hostile, "Subject: first\r\nX-Early: early-needle\r\n");
	for (int i = 0; i < 200000; i++)
		buf_append_str(&hostile, "X-H: v\r\n");
	buf_append_str(&hostile, "X-Last: needle"); /* no line end, no body */
	assert_int_equal(hostile_match(state, "HEADER X-Early needle"), 1);
	assert_int_equal(hostile_match(state, "TEXT early-needle"), 1);
	assert_int_equal(hostile_match(state, "SUBJECT first"), 1);
	/* Fields past SEARCH_MAX_FIELDS are not looked at. */
	assert_int_equal(hostile_match(state, "HEADER X-Last needle"), 0);
	assert_int_equal(hostile_match(state, "TEXT \"last: needle\""), 0);
	/* Many header keys over a big header: each field folded once. */
	char *many = repeat(*state, "OR HEADER X-H w ", 30, "HEADER X-Nope \"\"");
	assert_int_equal(hostile_match(state, many), 0);
	buf_reset(&hostile);
	for (int i = 0; i < SEARCH_MAX_FIELDS - 1; i++)
		buf_append_str(&hostile, "X-H: v\r\n");
	buf_append_str(&hostile, "X-Last: needle\r\n\r\n");
	assert_int_equal(hostile_match(state, "HEADER X-Last needle"), 1);
	assert_int_equal(hostile_match(state, "SENTON 1-Jan-2000"), 0);
	buf_reset(&hostile);
	buf_append_str(&hostile, "Date: garbage\r\nSubject: =?UTF-8?B?####?= =?x?Q?\r\n\r\n");
	assert_int_equal(hostile_match(state, "SENTSINCE 1-Jan-1970"), 0);
	assert_int_equal(hostile_match(state, "SUBJECT ####"), 1);
	buf_reset(&hostile);
	assert_int_equal(hostile_match(state, "TEXT x"), 0);
	assert_int_equal(hostile_match(state, "BODY \"\""), 1);
	buf_free(&hostile);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_charset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charset_convert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_recent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_address_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_text_every_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_lazy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eval_hostile, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
