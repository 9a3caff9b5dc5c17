/* Sieve (sieve/): the RFCs' own examples, each extension, every checker
 * error with its line, runtime errors, limits, vacation eligibility and
 * the reply, and scripts as Roundcube and Thunderbird's Sieve add-on write
 * them. Results are compared as one line per run ("fileinto:X[flags] keep"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/buf.h"
#include "../../sieve/sieve.h"

static const char *const hdr_default =
	"Return-Path: <alice@example.com>\r\n"
	"From: Alice Example <alice@example.com>\r\n"
	"To: Bob <bob+lists@example.org>, carol@example.net\r\n"
	"Cc: \"Dave D.\" <dave@Example.COM>\r\n"
	"Subject: =?utf-8?q?caf=C3=A9?= make money fast\r\n"
	"Sender: owner-ietf-mta-filters@imc.org\r\n"
	"X-Priority: 2\r\n"
	"X-Spam-Score: 12\r\n"
	"Message-ID: <orig.1@example.com>\r\n"
	"References: <r0@example.com>\r\n"
	"X-Folded: first\r\n"
	"  second \r\n"
	"\r\n";

struct msg_spec {
	const char *hdr, *from, *to;
	uint64_t size;
};

static void msg_fill(struct sieve_msg *m, const struct msg_spec *ms)
{
	m->header = ms && ms->hdr ? ms->hdr : hdr_default;
	m->header_len = strlen(m->header);
	m->size = ms && ms->size ? ms->size : 5000;
	m->env_from = ms && ms->from ? ms->from : "alice@example.com";
	m->env_to = ms && ms->to ? ms->to : "bob+lists@example.org";
	m->delimiter = "+";
}

static const char *const kinds[] = { "keep", "fileinto", "redirect", "reject", "discard",
				     "vacation" };

static void describe_action(struct buf *b, const struct sieve_action *a)
{
	buf_append_str(b, kinds[a->kind]);
	if (a->mailbox)
		buf_printf(b, ":%s", a->mailbox);
	if (a->address)
		buf_printf(b, ":%s", a->address);
	if (a->kind == SIEVE_ACT_REJECT)
		buf_printf(b, ":%s", a->reason);
	if (a->kind == SIEVE_ACT_VACATION)
		buf_printf(b, ":%lus", a->seconds);
	if (a->copy)
		buf_append_str(b, "+copy");
	if (a->nflags > 0) {
		buf_append_byte(b, '[');
		for (size_t k = 0; k < a->nflags; k++)
			buf_printf(b, "%s%s", k ? " " : "", a->flags[k]);
		buf_append_byte(b, ']');
	}
}

/* "ERROR: msg" for a compile error, else the actions separated by blanks,
 * prefixed with "RUNTIME(msg) " after a runtime error. */
static char *run_msg(const char *src, const struct msg_spec *ms)
{
	struct sieve_script *s;
	struct error err = { 0 };
	struct sieve_result r;
	struct sieve_msg m;
	struct buf b = BUF_INIT;

	if (sieve_compile(src, strlen(src), &s, &err) < 0) {
		assert_int_equal(err.code, ERR_PARSE);
		buf_printf(&b, "ERROR: %s", err.msg);
		return buf_steal(&b);
	}
	msg_fill(&m, ms);
	assert_int_equal(sieve_execute(s, &m, &r, &err), 0);
	if (r.runtime_error)
		buf_printf(&b, "RUNTIME(%s) ", r.error);
	for (size_t k = 0; k < r.n; k++) {
		if (k)
			buf_append_byte(&b, ' ');
		describe_action(&b, &r.v[k]);
	}
	sieve_result_free(&r);
	sieve_script_free(s);
	buf_append_str(&b, "");
	return buf_steal(&b);
}

#define RUN_EQ(src, ms, want) do { \
	char *got_ = run_msg(src, ms); \
	assert_string_equal(got_, want); \
	free(got_); \
} while (0)
#define RUN(src, want) RUN_EQ(src, NULL, want)

/* head, unit n times, tail: the script; want: its result. */
static void run_repeated(const char *head, const char *unit, size_t n, const char *tail,
			 const char *want)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, head);
	for (size_t i = 0; i < n; i++)
		buf_append_str(&b, unit);
	buf_append_str(&b, tail);
	RUN(b.data, want);
	buf_free(&b);
}

/* ---- RFC 5228 ---- */

static const char *const rfc5228_example =
	"# Example Sieve Filter\n"
	"# Declare any optional features or extension used by the script\n"
	"require [\"fileinto\"];\n"
	"\n"
	"# Handle messages from known mailing lists\n"
	"# Move messages from IETF filter discussion list to filter mailbox\n"
	"if header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n"
	"        {\n"
	"        fileinto \"filter\";  # move to \"filter\" mailbox\n"
	"        }\n"
	"#\n"
	"# Keep all messages to or from people in my company\n"
	"#\n"
	"elsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n"
	"        {\n"
	"        keep;               # keep in \"In\" mailbox\n"
	"        }\n"
	"\n"
	"#\n"
	"# Try and catch unsolicited email.  If a message is not to me,\n"
	"# or it contains a subject known to be spam, file it away.\n"
	"#\n"
	"elsif anyof (NOT address :all :contains\n"
	"               [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n"
	"             header :matches \"subject\"\n"
	"               [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n"
	"        {\n"
	"        fileinto \"spam\";   # move to \"spam\" mailbox\n"
	"        }\n"
	"else\n"
	"        {\n"
	"        # Move all other (non-company) mail to \"personal\"\n"
	"        # mailbox.\n"
	"        fileinto \"personal\";\n"
	"        }\n";

static void test_rfc5228_example(void **state)
{
	struct msg_spec list = { .hdr = "Sender: owner-ietf-mta-filters@imc.org\r\n\r\n" };
	struct msg_spec company = { .hdr = "From: x@example.com\r\nTo: me@example.com\r\n\r\n" };
	struct msg_spec spam = { .hdr = "From: x@spam.test\r\nTo: x@y.test\r\n"
					"Cc: me@example.com\r\nSubject: Make MONEY fast!\r\n\r\n" };
	struct msg_spec notme = { .hdr = "From: x@other.test\r\nTo: you@example.net\r\n\r\n" };
	struct msg_spec personal = { .hdr = "From: x@other.test\r\nCc: me@example.com\r\n"
					    "Subject: hi\r\n\r\n" };
	(void)state;
	RUN_EQ(rfc5228_example, &list, "fileinto:filter");
	RUN_EQ(rfc5228_example, &company, "keep");
	RUN_EQ(rfc5228_example, &spam, "fileinto:spam");
	RUN_EQ(rfc5228_example, &notme, "fileinto:spam");
	RUN_EQ(rfc5228_example, &personal, "fileinto:personal");
}

static void test_core_commands(void **state)
{
	(void)state;
	RUN("", "keep");
	RUN("keep;", "keep");
	RUN("discard;", "discard");
	RUN("stop; discard;", "keep");
	/* stop inside a block ends the whole script. */
	RUN("if true { if true { stop; } discard; } discard;", "keep");
	RUN("require \"fileinto\"; fileinto \"A\"; if true { stop; } keep;", "fileinto:A");
	RUN("redirect \"x@example.net\";", "redirect:x@example.net");
	RUN("if true { discard; } else { keep; }", "discard");
	RUN("if false { discard; } elsif true { redirect \"a@b.c\"; } else { keep; }",
	    "redirect:a@b.c");
	RUN("if false { discard; } elsif false { discard; } else { stop; } discard;", "keep");
	RUN("if not false { discard; }", "discard");
	RUN("if allof (true, false) { discard; }", "keep");
	RUN("if anyof (false, true) { discard; }", "discard");
	RUN("if allof (true) { discard; }", "discard");
	/* Discard cancels only the implicit keep; an explicit keep stays. */
	RUN("keep; discard;", "keep discard");
	/* Duplicate redirects are one (RFC 5228 4.2). */
	RUN("redirect \"a@b.c\"; redirect \"A@B.C\";", "redirect:a@b.c");
	RUN("keep; keep;", "keep");
}

static void test_header_tests(void **state)
{
	(void)state;
	/* Encoded words decoded, values unfolded and trimmed. */
	RUN("if header :is \"subject\" \"caf\xc3\xa9 make money fast\" { discard; }", "discard");
	RUN("if header :contains \"Subject\" \"CAF\xc3\xa9\" { discard; }", "discard");
	RUN("if header :is \"x-folded\" \"first  second\" { discard; }", "discard");
	RUN("if header :is \"x-missing\" \"\" { discard; }", "keep");
	RUN("if header :contains [\"x-none\", \"to\"] \"carol\" { discard; }", "discard");
	RUN("if exists [\"From\", \"X-Priority\"] { discard; }", "discard");
	RUN("if exists [\"From\", \"X-Nope\"] { discard; }", "keep");
	RUN("if header :comparator \"i;octet\" :contains \"subject\" \"MAKE\" { discard; }",
	    "keep");
	RUN("if header :comparator \"i;octet\" :contains \"subject\" \"make\" { discard; }",
	    "discard");
	/* :contains "" matches any present field. */
	RUN("if header :contains \"x-priority\" \"\" { discard; }", "discard");
}

static void test_matches(void **state)
{
	(void)state;
	RUN("if header :matches \"x-priority\" \"?\" { discard; }", "discard");
	RUN("if header :matches \"x-priority\" \"??\" { discard; }", "keep");
	RUN("if header :matches \"subject\" \"caf?*\" { discard; }", "discard");
	RUN("if header :matches \"subject\" \"caf\xc3\xa9*fast\" { discard; }", "discard");
	RUN("if header :matches \"subject\" \"*fast*\" { discard; }", "discard");
	RUN("if header :matches \"subject\" \"*fas\" { discard; }", "keep");
	/* Escapes: \\* is a literal star ("\\\\*" in C for the script's "\\*"). */
	RUN("if header :matches \"x-t\" \"a\\\\*b\" { discard; }",
	    "keep");
	{
		struct msg_spec st = { .hdr = "X-T: a*b\r\n\r\n" };
		struct msg_spec sq = { .hdr = "X-T: a?b\r\n\r\n" };
		RUN_EQ("if header :matches \"x-t\" \"a\\\\*b\" { discard; }", &st, "discard");
		RUN_EQ("if header :matches \"x-t\" \"a\\\\?b\" { discard; }", &sq, "discard");
		RUN_EQ("if header :matches \"x-t\" \"a\\\\?b\" { discard; }", &st, "keep");
		RUN_EQ("if header :matches \"x-t\" \"*\" { discard; }", &st, "discard");
	}
}

static void test_address_parts(void **state)
{
	(void)state;
	RUN("if address :is :all \"from\" \"alice@example.com\" { discard; }", "discard");
	RUN("if address :localpart \"from\" \"ALICE\" { discard; }", "discard");
	RUN("if address :domain \"cc\" \"example.com\" { discard; }", "discard");
	RUN("if address :domain :comparator \"i;octet\" \"cc\" \"example.com\" { discard; }",
	    "keep");
	RUN("if address \"to\" \"carol@example.net\" { discard; }", "discard");
	/* The display name is no part of the address. */
	RUN("if address :contains \"from\" \"Example <\" { discard; }", "keep");
}

static void test_size(void **state)
{
	struct msg_spec big = { .size = 200 * 1024 };
	(void)state;
	RUN("if size :over 4999 { discard; }", "discard");
	RUN("if size :over 5000 { discard; }", "keep");
	RUN("if size :under 5001 { discard; }", "discard");
	RUN("if size :under 5000 { discard; }", "keep");
	RUN_EQ("if size :over 100K { discard; }", &big, "discard");
	RUN_EQ("if size :over 1M { discard; }", &big, "keep");
	RUN_EQ("if size :under 1G { discard; }", &big, "discard");
}

/* RFC 5228 2.4.2: quoted strings, text: with dot-stuffing, comments. */
static void test_strings(void **state)
{
	(void)state;
	RUN("require \"reject\"; reject \"a\\\"b\\\\c\\d\";", "reject:a\"b\\cd");
	RUN("require \"reject\";\nreject text:   # comment\r\nline 1\r\n..dot\r\n.\r\n;",
	    "reject:line 1\r\n.dot\r\n");
	RUN("require \"reject\"; reject text:\n.\n;", "reject:");
	RUN("/* a\n bracket comment */ keep; # and a hash one", "keep");
	RUN("require \"fileinto\"; fileinto \"a/*not a comment*/\";",
	    "fileinto:a/*not a comment*/");
}

/* ---- extensions ---- */

static void test_fileinto_copy_flags(void **state)
{
	(void)state;
	RUN("require [\"fileinto\", \"copy\"]; fileinto :copy \"incoming\";",
	    "fileinto:incoming+copy keep");
	RUN("require [\"copy\"]; redirect :copy \"a@b.c\";", "redirect:a@b.c+copy keep");
	/* Merged: one fileinto per mailbox; :copy only if all had it. */
	RUN("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\"; fileinto \"A\";",
	    "fileinto:A");
	RUN("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\"; fileinto :copy \"A\";",
	    "fileinto:A+copy keep");
	RUN("require \"fileinto\"; fileinto \"A\"; fileinto \"B\"; fileinto \"A\";",
	    "fileinto:A fileinto:B");
	RUN("require [\"fileinto\", \"imap4flags\"]; fileinto :flags [\"\\\\Seen\", \"$Label1\"] "
	    "\"A\"; fileinto :flags \"\\\\Flagged \\\\seen\" \"A\";",
	    "fileinto:A[\\Seen $Label1 \\Flagged]");
	RUN("require [\"fileinto\", \"imap4flags\"]; keep :flags \"\\\\Seen\";", "keep[\\Seen]");
}

/* RFC 5232: the internal variable, the implicit keep, hasflag. */
static void test_imap4flags(void **state)
{
	(void)state;
	RUN("require \"imap4flags\"; addflag \"\\\\Seen \\\\Answered\"; "
	    "removeflag \"\\\\answered\";", "keep[\\Seen]");
	RUN("require \"imap4flags\"; addflag [\"a\", \"b\"]; setflag \"c\"; addflag \"C d\";",
	    "keep[c d]");
	RUN("require [\"imap4flags\", \"fileinto\"]; addflag \"$Work\"; fileinto \"W\"; "
	    "removeflag \"$Work\"; keep;", "fileinto:W[$Work] keep");
	RUN("require \"imap4flags\"; addflag \"\\\\Seen x\"; "
	    "if hasflag :is \"\\\\SEEN\" { discard; }", "discard");
	RUN("require \"imap4flags\"; addflag \"x\"; if hasflag \"y\" { discard; }", "keep[x]");
	RUN("require [\"imap4flags\", \"relational\", \"comparator-i;ascii-numeric\"]; "
	    "addflag \"a b c\"; if hasflag :count \"eq\" :comparator \"i;ascii-numeric\" \"3\" "
	    "{ discard; }", "discard");
	RUN("require \"imap4flags\"; if size :over 1K { setflag \"\\\\Deleted\"; }",
	    "keep[\\Deleted]");
	/* Only what IMAP can store: system flags written the usual way,
	 * keywords; control characters separate like blanks. */
	RUN("require \"imap4flags\"; addflag \"\\\\Bogus $ok (bad) \\\\seen x\ty \\\\Recent "
	    "a\\\\b \\\\Recent nil \xc3\xa9\";", "keep[$ok \\Seen x y]");
}

/* RFC 5233 */
static void test_subaddress(void **state)
{
	struct msg_spec plain = { .to = "bob@example.org" };
	struct msg_spec empty = { .to = "bob+@example.org" };
	(void)state;
	RUN("require [\"envelope\", \"subaddress\", \"fileinto\"]; "
	    "if envelope :user \"to\" \"bob\" { fileinto \"u\"; }", "fileinto:u");
	RUN("require [\"envelope\", \"subaddress\", \"fileinto\"]; "
	    "if envelope :detail \"to\" \"lists\" { fileinto \"d\"; }", "fileinto:d");
	RUN("require [\"subaddress\"]; if address :detail \"to\" \"lists\" { discard; }",
	    "discard");
	RUN("require [\"subaddress\"]; if address :user \"to\" \"bob\" { discard; }", "discard");
	/* No detail: :detail never matches, not even :matches "*". */
	RUN_EQ("require [\"envelope\", \"subaddress\"]; "
	       "if envelope :detail :matches \"to\" \"*\" { discard; }", &plain, "keep");
	RUN_EQ("require [\"envelope\", \"subaddress\"]; "
	       "if envelope :detail :is \"to\" \"\" { discard; }", &empty, "discard");
}

static void test_envelope(void **state)
{
	struct msg_spec null = { .from = "" };
	(void)state;
	RUN("require \"envelope\"; if envelope :all :is \"from\" \"alice@example.com\" "
	    "{ discard; }", "discard");
	RUN("require \"envelope\"; if envelope :domain \"TO\" \"example.org\" { discard; }",
	    "discard");
	RUN_EQ("require \"envelope\"; if envelope :is \"from\" \"\" { discard; }", &null,
	       "discard");
}

/* RFC 5231 */
static void test_relational(void **state)
{
	(void)state;
	RUN("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :value \"lt\" :comparator \"i;ascii-numeric\" \"x-priority\" \"3\" "
	    "{ discard; }", "discard");
	RUN("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :value \"ge\" :comparator \"i;ascii-numeric\" \"x-spam-score\" \"9\" "
	    "{ discard; }", "discard");
	/* Without i;ascii-numeric "12" < "9" as strings. */
	RUN("require \"relational\"; if header :value \"ge\" \"x-spam-score\" \"9\" "
	    "{ discard; }", "keep");
	RUN("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if address :count \"ge\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" "
	    "{ discard; }", "discard");
	RUN("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if address :count \"gt\" :comparator \"i;ascii-numeric\" [\"to\", \"cc\"] \"3\" "
	    "{ discard; }", "keep");
	RUN("require [\"relational\", \"comparator-i;ascii-numeric\"]; "
	    "if header :count \"eq\" :comparator \"i;ascii-numeric\" \"x-none\" \"0\" "
	    "{ discard; }", "discard");
	RUN("require \"relational\"; if header :value \"ne\" \"x-priority\" \"2\" { discard; }",
	    "keep");
	/* i;ascii-numeric: a value without digits is infinity, equal only to itself. */
	RUN("require \"comparator-i;ascii-numeric\"; if header :is :comparator "
	    "\"i;ascii-numeric\" \"subject\" \"x\" { discard; }", "discard");
	RUN("require \"comparator-i;ascii-numeric\"; if header :is :comparator "
	    "\"i;ascii-numeric\" \"x-priority\" \"002\" { discard; }", "discard");
}

/* RFC 5228 2.4.2.4 */
static void test_encoded_character(void **state)
{
	(void)state;
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"$${hex:40}\";",
	    "fileinto:$@");
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex: 40 }\";",
	    "fileinto:@");
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"${HEX: 40}\";",
	    "fileinto:@");
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:40\";",
	    "fileinto:${hex:40");
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:400}\";",
	    "fileinto:${hex:400}");
	RUN("require [\"encoded-character\", \"fileinto\"]; fileinto \"${hex:4${hex:30}}\";",
	    "fileinto:${hex:40}");
	RUN("require [\"encoded-character\", \"fileinto\"]; "
	    "fileinto \"${unicode:48 49}${unicode: E9 1F600}\";",
	    "fileinto:HI\xc3\xa9\xf0\x9f\x98\x80");
	/* Without the require the text stays as written. */
	RUN("require \"fileinto\"; fileinto \"${hex:40}\";", "fileinto:${hex:40}");
}

/* RFC 5229: its examples, modifiers, match variables, string, limits. */
static void test_variables(void **state)
{
	struct msg_spec list = { .hdr = "List-ID: Foo <foo@lists.example.org>\r\n"
					"Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\n" };
	struct msg_spec coyote = { .hdr = "To: coyote@ACME.Example.COM\r\n\r\n" };
	(void)state;
	RUN("require [\"variables\", \"reject\"];\nset \"honorific\" \"Mr\";\n"
	    "set \"first_name\" \"Joe\";\nset \"last_name\" \"Doe\";\n"
	    "set \"vacation\" text:\nDear ${HONORIFIC} ${last_name},\n"
	    "I'm out, please leave a message after the meep.\n.\n;\nreject \"${vacation}\";",
	    "reject:Dear Mr Doe,\nI'm out, please leave a message after the meep.\n");
	RUN_EQ("require [\"fileinto\", \"variables\"];\n"
	       "if header :matches \"List-ID\" \"*<*@*\" { fileinto \"INBOX.lists.${2}\"; stop; }",
	       &list, "fileinto:INBOX.lists.foo");
	RUN_EQ("require [\"fileinto\", \"variables\"];\n"
	       "if header :matches \"Subject\" \"[*] *\" { fileinto \"INBOX.lists.${1}/${2}\"; }",
	       &list, "fileinto:INBOX.lists.acme-users/[fwd] version 1.0 is out");
	RUN_EQ("require [\"fileinto\", \"variables\"];\n"
	       "if address :matches [\"To\", \"Cc\"] [\"coyote@**.com\", \"wile@**.com\"] {\n"
	       "  fileinto \"INBOX.business.${2}|${1}|${0}|${3}\"; }",
	       &coyote, "fileinto:INBOX.business.ACME.Example||coyote@ACME.Example.COM|");
	/* A test never evaluated or failing sets nothing. */
	RUN_EQ("require [\"fileinto\", \"variables\"];\n"
	       "if anyof (true, address :domain :matches \"To\" \"*.com\") { fileinto \"x${1}\"; }\n"
	       "if header :matches \"To\" \"nomatch*\" { keep; } fileinto \"y${0}\";",
	       &coyote, "fileinto:x fileinto:y");
	/* Modifiers (RFC 5229 4.1), in their order of precedence. */
	RUN("require [\"variables\", \"reject\"]; set \"a\" \"juMBlEd lETteRS\";\n"
	    "set :length \"b\" \"${a}\"; set :lower \"c\" \"${a}\"; set :upperfirst \"d\" \"${a}\";\n"
	    "set :upperfirst :lower \"e\" \"${a}\"; set :quotewildcard \"f\" \"Rock*?\\\\\";\n"
	    "set :upper :length \"g\" \"\xc3\xa9t\xc3\xa9\"; set :lowerfirst \"h\" \"ABC\";\n"
	    "reject \"${a}|${b}|${c}|${d}|${e}|${f}|${g}|${h}|${none}|${1}|${a.b}|${}\";",
	    "reject:juMBlEd lETteRS|15|jumbled letters|JuMBlEd lETteRS|Jumbled letters|"
	    "Rock\\*\\?\\\\|3|aBC|||${a.b}|${}");
	/* string (RFC 5229 5) */
	RUN("require \"variables\"; set \"state\" \"${state} pending\";\n"
	    "if string :matches \" ${state} \" \"* pending *\" { discard; }", "discard");
	RUN("require [\"variables\", \"relational\", \"comparator-i;ascii-numeric\"];\n"
	    "set \"a\" \"x\"; if string :count \"eq\" :comparator \"i;ascii-numeric\" "
	    "[\"${a}\", \"${b}\", \"y\"] \"2\" { discard; }", "discard");
	/* Values of variables go where constants went, checked at run time. */
	RUN("require [\"variables\", \"fileinto\", \"envelope\"];\n"
	    "set \"p\" \"from\"; if envelope :is \"${p}\" \"alice@example.com\" { fileinto \"F\"; }\n"
	    "set \"q\" \"auth\"; if envelope :is \"${q}\" \"alice@example.com\" { discard; }",
	    "fileinto:F");
	RUN("require [\"variables\", \"fileinto\"];\nfileinto \"${nothing}\";",
	    "RUNTIME(line 2: fileinto: invalid mailbox name \"\") keep");
	RUN("require \"variables\";\nset \"to\" \"nobody\";\nredirect \"${to}\";",
	    "RUNTIME(line 3: redirect: invalid address \"nobody\") keep");
	RUN("require \"variables\";\nset \"to\" \"a@b.c\r\nBcc: d@e.f\";\nredirect \"${to}\";",
	    "RUNTIME(line 4: redirect: invalid address \"a@b.c??Bcc: d@e.f\") keep");
}

/* RFC 5232 with RFC 5229: flags kept in variables. */
static void test_variables_flags(void **state)
{
	(void)state;
	RUN("require [\"imap4flags\", \"variables\", \"fileinto\"];\n"
	    "setflag \"flagvar\" \"\\\\Flagged\";\n"
	    "addflag \"flagvar\" [\"\\\\Deleted\", \"\\\\Answered \\\\deleted\"];\n"
	    "removeflag \"FLAGVAR\" \"\\\\flagged\";\n"
	    "if hasflag \"flagvar\" \"\\\\answered\" { fileinto :flags \"${flagvar}\" \"F\"; }",
	    "fileinto:F[\\Deleted \\Answered]");
	/* The internal variable is untouched by the named one, and the other way. */
	RUN("require [\"imap4flags\", \"variables\"]; addflag \"x\" \"$a\"; addflag \"$b\";\n"
	    "if not hasflag \"$a\" { if hasflag [\"y\", \"x\"] \"$a\" { addflag \"$c\"; } }",
	    "keep[$b $c]");
	RUN("require [\"imap4flags\", \"variables\", \"relational\", "
	    "\"comparator-i;ascii-numeric\"];\nset \"v\" \"a b  c\";\n"
	    "if hasflag :count \"eq\" :comparator \"i;ascii-numeric\" \"v\" \"3\" { discard; }",
	    "discard");
}

static void test_variables_limits(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	/* A value is cut at SIEVE_MAX_VALUE bytes. */
	run_repeated("require [\"variables\", \"reject\"]; set \"a\" \"", "x", 5000,
		     "\"; set :length \"n\" \"${a}\"; reject \"${n}\";", "reject:4096");
	/* 16 copies of a full value fill SIEVE_MAX_EXPANDED exactly; 17 are too many. */
	run_repeated("require [\"variables\", \"reject\"]; set \"a\" \"", "x", 4096,
		     "\";\nset \"b\" \"${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}\";"
		     "\nset \"c\" \"${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}${a}\";",
		     "RUNTIME(line 3: string longer than 65536 bytes after expansion) keep");
	/* SIEVE_MAX_VARIABLES */
	buf_append_str(&b, "require \"variables\";\n");
	for (int i = 0; i <= SIEVE_MAX_VARIABLES; i++)
		buf_printf(&b, "set \"v%d\" \"x\";\n", i);
	RUN(b.data, "RUNTIME(line 130: more than 128 variables) keep");
	buf_free(&b);
}

/* ---- errors the checker reports, with their lines ---- */

struct bad {
	const char *src, *msg;
};

static const struct bad bad_scripts[] = {
	/* lexer */
	{ "keep;\n\"open", "line 2: unterminated string" },
	{ "keep;\n/* open", "line 2: unterminated comment" },
	{ "keep;\n\nkeep @;", "line 3: unexpected character" },
	{ "if size :over 99999999999999999999 { keep; }", "line 1: number too large" },
	{ "if size :over 17179869184G { keep; }", "line 1: number too large" },
	{ "require \"reject\";\nreject text: x\n.\n;", "line 2: text: must end its line" },
	{ "require \"reject\";\nreject text:\nabc\n", "line 2: unterminated multi-line string" },
	/* grammar */
	{ "require [\"fileinto\" \"x\"];", "line 1: ',' or ']' expected in string list" },
	{ "require [1];", "line 1: string expected in string list" },
	{ "if anyof (true; false) { keep; }", "line 1: ',' or ')' expected in test list" },
	/* The grammar lets a test take a test: the checker refuses it. */
	{ "if anyof (true false) { keep; }", "line 1: true takes no test" },
	{ "if anyof (1) { keep; }", "line 1: test expected" },
	{ "keep", "line 1: ';' or '{' expected" },
	{ "if true {\nkeep;\n", "line 3: '}' expected" },
	{ "keep;\n}", "line 2: unexpected '}'" },
	{ "keep; 12;", "line 1: command expected" },
	/* checker */
	{ "require \"frobnicate\";", "line 1: unknown extension \"frobnicate\"" },
	{ "keep;\nfrob;", "line 2: unknown command \"frob\"" },
	{ "if\nfrob { keep; }", "line 2: unknown test \"frob\"" },
	{ "if keep { keep; }", "line 1: unknown test \"keep\"" },
	{ "header \"a\" \"b\";", "line 1: unknown command \"header\"" },
	{ "\nfileinto \"x\";", "line 2: fileinto needs require \"fileinto\"" },
	{ "reject \"x\";", "line 1: reject needs require \"reject\"" },
	{ "vacation \"x\";", "line 1: vacation needs require \"vacation\"" },
	{ "addflag \"x\";", "line 1: addflag needs require \"imap4flags\"" },
	{ "if envelope \"to\" \"x\" { keep; }", "line 1: envelope needs require \"envelope\"" },
	{ "if hasflag \"x\" { keep; }", "line 1: hasflag needs require \"imap4flags\"" },
	{ "require \"fileinto\";\nfileinto :copy \"x\";", "line 2: :copy needs require \"copy\"" },
	{ "keep :flags \"x\";", "line 1: :flags needs require \"imap4flags\"" },
	{ "if address :user \"to\" \"x\" { keep; }", "line 1: :user needs require \"subaddress\"" },
	{ "if header :count \"eq\" \"to\" \"1\" { keep; }",
	  "line 1: :count needs require \"relational\"" },
	{ "require \"vacation\"; vacation :seconds 1 \"x\";",
	  "line 1: :seconds needs require \"vacation-seconds\"" },
	{ "keep;\nelsif true { keep; }", "line 2: elsif without if" },
	{ "else { keep; }", "line 1: else without if" },
	{ "if true { keep; } keep; else { keep; }", "line 1: else without if" },
	{ "keep;\nrequire \"fileinto\";", "line 2: require must come first" },
	{ "if true {\n require \"fileinto\"; }", "line 2: require must come first" },
	{ "require \"fileinto\";\nfileinto;", "line 2: fileinto takes 1 argument, not 0" },
	{ "redirect \"a@b.c\" \"d@e.f\";", "line 1: redirect takes 1 argument, not 2" },
	{ "if header \"subject\" { keep; }", "line 1: header takes 2 arguments, not 1" },
	{ "require \"fileinto\";\nfileinto [\"a\", \"b\"];",
	  "line 2: fileinto: argument 1 must be a string" },
	{ "if size :over \"10\" { keep; }", "line 1: size: argument 1 must be a number" },
	{ "if header 1 \"x\" { keep; }", "line 1: header: argument 1 must be a string list" },
	{ "if header :comparator { keep; }", "line 1: :comparator needs a string" },
	{ "require \"vacation\";\nvacation :days \"7\" \"x\";", "line 2: :days needs a number" },
	{ "require \"vacation\";\nvacation :addresses 7 \"x\";",
	  "line 2: :addresses needs a string list" },
	{ "if header :is :contains \"a\" \"b\" { keep; }",
	  "line 1: header: more than one match type" },
	{ "if header :comparator \"i;octet\" :comparator \"i;octet\" \"a\" \"b\" { keep; }",
	  "line 1: header: more than one comparator" },
	{ "if address :all :domain \"a\" \"b\" { keep; }",
	  "line 1: address: more than one address part" },
	{ "if size :over :under 1 { keep; }", "line 1: size: more than one :over or :under" },
	{ "require \"vacation\"; vacation :days 1 :days 2 \"x\";",
	  "line 1: vacation: more than one :days or :seconds" },
	{ "require [\"vacation\", \"vacation-seconds\"]; vacation :days 1 :seconds 2 \"x\";",
	  "line 1: vacation: more than one :days or :seconds" },
	{ "if header :comparator \"i;frob\" \"a\" \"b\" { keep; }",
	  "line 1: unknown comparator \"i;frob\"" },
	{ "if header :comparator \"i;ascii-numeric\" \"a\" \"b\" { keep; }",
	  "line 1: comparator \"i;ascii-numeric\" needs require \"comparator-i;ascii-numeric\"" },
	{ "require \"comparator-i;ascii-numeric\";\n"
	  "if header :contains :comparator \"i;ascii-numeric\" \"a\" \"1\" { keep; }",
	  "line 2: header: comparator \"i;ascii-numeric\" allows only :is, :count and :value" },
	{ "require \"relational\"; if header :value \"xx\" \"a\" \"b\" { keep; }",
	  "line 1: unknown relational operator \"xx\"" },
	{ "require \"vacation\"; vacation :mime :mime \"x\";", "line 1: :mime given twice" },
	{ "require [\"fileinto\", \"copy\"]; fileinto :copy :copy \"x\";",
	  "line 1: :copy given twice" },
	{ "require \"vacation\"; vacation :subject \"a\" :subject \"b\" \"x\";",
	  "line 1: :subject given twice" },
	{ "keep :copy;", "line 1: keep: unknown tag :copy" },
	{ "if header :over \"a\" \"b\" { keep; }", "line 1: header: unknown tag :over" },
	{ "if size 10 { keep; }", "line 1: size needs :over or :under" },
	{ "require \"fileinto\"; fileinto \"\";", "line 1: fileinto: invalid mailbox name" },
	{ "require \"fileinto\"; fileinto \"\xff\xfe\";", "line 1: fileinto: invalid mailbox name" },
	{ "redirect \"nobody\";", "line 1: redirect: invalid address \"nobody\"" },
	{ "redirect \"a@b.c\r\nBcc: x@y.z\";",
	  "line 1: redirect: invalid address \"a@b.c??Bcc: x@y.z\"" },
	/* Messages are one line of UTF-8 whatever they quote. */
	{ "keep;\nfrob\xc3\xa9;", "line 2: unexpected character" },
	{ "if header :comparator \"\xc3\xa9\" \"a\" \"b\" { keep; }",
	  "line 1: unknown comparator \"\xc3\xa9\"" },
	{ "if header :comparator \"\xff\xc3\xa9\t\" \"a\" \"b\" { keep; }",
	  "line 1: unknown comparator \"????\"" },
	{ "require \"envelope\"; if envelope \"auth\" \"x\" { keep; }",
	  "line 1: unknown envelope part \"auth\"" },
	{ "require \"vacation\"; vacation :from \"nobody\" \"x\";",
	  "line 1: vacation: invalid :from address" },
	{ "require \"vacation\";\nvacation :from \"a@b.c\nBcc: d@e.f\" \"x\";",
	  "line 2: vacation: invalid :from address" },
	{ "keep true;", "line 1: keep takes no test" },
	{ "if { keep; }", "line 1: if needs one test" },
	{ "if (true) { keep; }", "line 1: if needs one test" },
	{ "if not (true, false) { keep; }", "line 1: not needs one test" },
	{ "if anyof true { keep; }", "line 1: anyof needs a list of tests" },
	{ "if true;", "line 1: if needs a block" },
	{ "keep { }", "line 1: keep takes no block" },
	{ "if true { keep; } else true { keep; }", "line 1: else takes no test" },
	{ "require \"encoded-character\";\nkeep;\nredirect \"${unicode:110000}@x.y\";",
	  "line 3: encoded character outside Unicode" },
	{ "set \"a\" \"b\";", "line 1: set needs require \"variables\"" },
	{ "if string \"a\" \"b\" { keep; }", "line 1: string needs require \"variables\"" },
	{ "require \"variables\";\nset \"1a\" \"b\";", "line 2: set: invalid variable name \"1a\"" },
	{ "require \"variables\"; set \"a.b\" \"c\";", "line 1: set: invalid variable name \"a.b\"" },
	{ "require \"variables\"; set :lower :upper \"a\" \"b\";",
	  "line 1: set: :upper conflicts with a modifier given before" },
	{ "require \"variables\"; set :length :length \"a\" \"b\";",
	  "line 1: set: :length conflicts with a modifier given before" },
	{ "require \"variables\"; set \"a\";", "line 1: set takes 2 arguments, not 1" },
	{ "require \"variables\"; set :copy \"a\" \"b\";", "line 1: set: unknown tag :copy" },
	{ "require [\"variables\", \"imap4flags\"];\naddflag [\"a\"] \"b\";",
	  "line 2: addflag: the variable name must be a string" },
	{ "require [\"variables\", \"imap4flags\"]; setflag \"a-b\" \"b\";",
	  "line 1: setflag: invalid variable name \"a-b\"" },
	{ "require [\"variables\", \"imap4flags\"]; if hasflag [\"a\", \"9\"] \"b\" { keep; }",
	  "line 1: hasflag: invalid variable name \"9\"" },
	{ "require \"imap4flags\"; addflag \"a\" \"b\";", "line 1: addflag takes 1 argument, not 2" },
	{ "require \"encoded-character\"; redirect \"${unicode:D800}@x.y\";",
	  "line 1: encoded character outside Unicode" },
};

static void test_checker_errors(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(bad_scripts) / sizeof(bad_scripts[0]); k++) {
		char *got = run_msg(bad_scripts[k].src, NULL);
		char want[400];
		snprintf(want, sizeof(want), "ERROR: %s", bad_scripts[k].msg);
		if (strcmp(got, want) != 0)
			fail_msg("script %zu: got \"%s\", want \"%s\"", k, got, want);
		free(got);
	}
}

/* ---- runtime errors (RFC 5228 2.10.6, RFC 5429, RFC 5230) ---- */

static void test_runtime_errors(void **state)
{
	(void)state;
	RUN("require \"reject\";\nkeep;\nreject \"no\";",
	    "RUNTIME(line 3: reject cannot be combined with an earlier keep) keep");
	RUN("require [\"reject\", \"fileinto\"];\nfileinto \"A\"; reject \"no\";",
	    "RUNTIME(line 2: reject cannot be combined with an earlier fileinto) keep");
	RUN("require \"reject\";\nredirect \"a@b.c\";\nreject \"no\";",
	    "RUNTIME(line 3: reject cannot be combined with an earlier redirect) keep");
	RUN("require \"reject\";\nreject \"a\";\nreject \"b\";",
	    "RUNTIME(line 3: reject cannot be combined with an earlier reject) keep");
	RUN("require [\"reject\", \"fileinto\"];\nreject \"no\";\nfileinto \"A\";",
	    "RUNTIME(line 3: fileinto cannot follow reject) keep");
	RUN("require \"reject\";\nreject \"no\";\nkeep;",
	    "RUNTIME(line 3: keep cannot follow reject) keep");
	RUN("require [\"reject\", \"vacation\"];\nvacation \"away\";\nreject \"no\";",
	    "RUNTIME(line 3: reject cannot be combined with vacation) keep");
	RUN("require [\"reject\", \"vacation\"];\nreject \"no\";\nvacation \"away\";",
	    "RUNTIME(line 3: vacation cannot follow reject) keep");
	RUN("require \"vacation\";\nvacation \"a\";\nvacation \"b\";",
	    "RUNTIME(line 3: more than one vacation) keep");
	/* reject with discard is fine, and so is reject alone. */
	RUN("require \"reject\"; discard; reject \"go away\";", "discard reject:go away");
	RUN("require \"reject\"; reject \"go away\";", "reject:go away");
}

/* ---- limits ---- */

static void test_limit_nesting(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	/* 32 nested ifs put the innermost test at depth 32: allowed. */
	for (int i = 0; i < 32; i++)
		buf_append_str(&b, "if true {\n");
	run_repeated(b.data, "}", 31, "", "ERROR: line 33: '}' expected");
	buf_append_str(&b, "discard;");
	run_repeated(b.data, "}", 32, "", "discard");
	run_repeated("", "if true {\n", 33, "", "ERROR: line 33: nested too deeply");
	run_repeated("if ", "not ", 100000, "true { keep; }", "ERROR: line 1: nested too deeply");
	run_repeated("if ", "anyof(", 100000, "", "ERROR: line 1: nested too deeply");
	buf_free(&b);
}

static void test_limit_sizes(void **state)
{
	struct buf b = BUF_INIT;
	struct sieve_script *s;
	struct error err = { 0 };
	(void)state;
	/* A string of 1,000,000 bytes compiles and runs. */
	run_repeated("require \"reject\"; if false { reject \"", "abcdefghij", 100000, "\"; }",
		     "keep");
	/* One byte over the script limit is refused before parsing. */
	for (size_t i = 0; i <= SIEVE_MAX_SCRIPT; i++)
		buf_append_byte(&b, ' ');
	assert_int_equal(sieve_compile(b.data, b.len, &s, &err), -1);
	assert_string_equal(err.msg, "line 1: script larger than 1048576 bytes");
	buf_free(&b);
	/* A string list of SIEVE_MAX_LIST strings, and one more. */
	run_repeated("if header :is \"x\" [\"0\"", ",\"a\"", SIEVE_MAX_LIST - 1,
		     "] { discard; }", "keep");
	run_repeated("if header :is \"x\" [\"0\"", ",\"a\"", SIEVE_MAX_LIST,
		     "] { discard; }", "ERROR: line 1: string list too long");
	run_repeated("", "keep;", SIEVE_MAX_NODES + 1, "", "ERROR: line 1: script too complex");
}

static void test_limit_actions(void **state)
{
	struct buf b = BUF_INIT;
	char *got;
	(void)state;
	for (int i = 0; i < SIEVE_MAX_ACTIONS; i++)
		buf_printf(&b, "redirect \"u%d@example.net\";\n", i);
	got = run_msg(b.data, NULL);
	assert_int_equal(strncmp(got, "redirect:u0@example.net ", 24), 0);
	assert_non_null(strstr(got, "redirect:u63@example.net"));
	free(got);
	run_repeated(b.data, "redirect \"one-too-many@example.net\";\n", 1, "",
		     "RUNTIME(line 65: more than 64 actions) keep");
	buf_free(&b);
	/* Merged duplicates do not count. */
	run_repeated("", "redirect \"same@example.net\"; keep;\n", 1000, "",
		     "redirect:same@example.net keep");
}

/* SIEVE_MAX_WORK: a costly script on a big message fails (and keeps it)
 * before the work is done. */
static void test_limit_work(void **state)
{
	struct buf hdr = BUF_INIT, keys = BUF_INIT;
	char *got;
	(void)state;
	buf_append_str(&hdr, "Subject: ");
	while (hdr.len < 1000000 - 4)
		buf_append_byte(&hdr, 'a');
	buf_append_str(&hdr, "\r\n\r\n");
	struct msg_spec big = { .hdr = hdr.data };
	/* 999 scans of the 1,000,000-byte header fit, the 1000th does not. */
	buf_append_str(&keys, "if header :is \"x-none\" \"y\" { discard; }\n");
	got = run_msg(keys.data, &big);
	assert_string_equal(got, "keep");
	free(got);
	buf_reset(&keys);
	for (int i = 0; i < 1000; i++)
		buf_append_str(&keys, "if header :is \"x-none\" \"y\" { discard; }\n");
	RUN_EQ(keys.data, &big,
	       "RUNTIME(line 1000: too much work for one message (limit 1000000000)) keep");
	/* :contains with 1000 keys of 1,000 bytes on that subject. */
	buf_reset(&keys);
	buf_append_str(&keys, "if header :contains \"subject\" [\"b\"");
	for (int i = 0; i < 1000; i++) {
		buf_append_str(&keys, ", \"");
		for (int j = 0; j < 1000; j++)
			buf_append_byte(&keys, 'a');
		buf_append_str(&keys, "b\"");
	}
	buf_append_str(&keys, "] { discard; }");
	RUN_EQ(keys.data, &big,
	       "RUNTIME(line 1: too much work for one message (limit 1000000000)) keep");
	buf_free(&keys);
	buf_free(&hdr);
}

/* ---- vacation (RFC 5230) ---- */

static void test_vacation_periods(void **state)
{
	(void)state;
	RUN("require \"vacation\"; vacation \"away\";", "vacation:604800s keep");
	RUN("require \"vacation\"; vacation :days 23 :addresses [\"tjs@example.edu\", "
	    "\"ts4z@landru.example.edu\"] \"I'm away until October 19.\";",
	    "vacation:1987200s keep");
	RUN("require \"vacation\"; vacation :days 0 \"away\";", "vacation:86400s keep");
	RUN("require \"vacation\"; vacation :days 1000 \"away\";", "vacation:2592000s keep");
	RUN("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 0 \"away\";",
	    "vacation:0s keep");
	RUN("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 3600 \"away\";",
	    "vacation:3600s keep");
	RUN("require [\"vacation\", \"vacation-seconds\"]; vacation :seconds 99999999 \"a\";",
	    "vacation:2592000s keep");
	/* RFC 5230 4.1's second example. */
	RUN("require \"vacation\";\nif header :contains \"from\" \"boss@example.edu\" {\n"
	    "redirect \"pleeb@xanadu.wasteland.example.com\"; } else {\n"
	    "vacation \"Sorry, I'm away, I'll read your message when I get around to it.\"; }",
	    "vacation:604800s keep");
}

static void test_vacation_fields(void **state)
{
	struct sieve_script *s;
	struct error err = { 0 };
	struct sieve_result r;
	struct sieve_msg m;
	const char *src = "require \"vacation\"; vacation :subject \"Gone\" :from "
			  "\"bob@example.org\" :handle \"h1\" :mime :addresses [\"b@x.y\"] "
			  ":days 2 \"Content-Type: text/plain\r\n\r\naway\";";
	(void)state;
	assert_int_equal(sieve_compile(src, strlen(src), &s, &err), 0);
	msg_fill(&m, NULL);
	assert_int_equal(sieve_execute(s, &m, &r, &err), 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.v[0].kind, SIEVE_ACT_VACATION);
	assert_string_equal(r.v[0].subject, "Gone");
	assert_string_equal(r.v[0].from, "bob@example.org");
	assert_string_equal(r.v[0].handle, "h1");
	assert_int_equal(r.v[0].mime, 1);
	assert_int_equal(r.v[0].naddresses, 1);
	assert_string_equal(r.v[0].addresses[0], "b@x.y");
	assert_int_equal(r.v[0].seconds, 2 * 86400);
	assert_string_equal(r.v[0].reply_to, "alice@example.com");
	assert_string_equal(r.v[0].reason, "Content-Type: text/plain\r\n\r\naway");
	sieve_result_free(&r);
	sieve_script_free(s);
}

struct elig {
	struct msg_spec ms;
	const char *want;
};

static void test_vacation_eligibility(void **state)
{
	static const char *const src = "require \"vacation\"; vacation \"away\";";
	static const char *const with_addr =
		"require \"vacation\"; vacation :addresses \"bob@alias.test\" \"away\";";
	const struct elig cases[] = {
		{ { .hdr = "To: bob+lists@example.org\r\n\r\n" }, "vacation:604800s keep" },
		/* The recipient without the detail is the user too. */
		{ { .hdr = "Cc: BOB@example.org\r\n\r\n" }, "vacation:604800s keep" },
		{ { .hdr = "Resent-To: bob@example.org\r\n\r\n" }, "vacation:604800s keep" },
		{ { .hdr = "To: someone@else.test\r\n\r\n" }, "keep" },
		{ { .from = "" }, "keep" },
		{ { .from = "MAILER-DAEMON@example.com" }, "keep" },
		{ { .from = "owner-list@example.com" }, "keep" },
		{ { .from = "list-request@example.com" }, "keep" },
		{ { .from = "bob+lists@example.org" }, "keep" },
		{ { .hdr = "To: bob@example.org\r\nAuto-Submitted: auto-generated\r\n\r\n" },
		  "keep" },
		{ { .hdr = "To: bob@example.org\r\nAuto-Submitted: no\r\n\r\n" },
		  "vacation:604800s keep" },
		{ { .hdr = "To: bob@example.org\r\nAuto-Submitted: No (human)\r\n\r\n" },
		  "vacation:604800s keep" },
		{ { .hdr = "To: bob@example.org\r\nAuto-Submitted: notified\r\n\r\n" },
		  "keep" },
		{ { .hdr = "To: bob@example.org\r\nPrecedence: bulk\r\n\r\n" }, "keep" },
		{ { .hdr = "To: bob@example.org\r\nPrecedence: junk\r\n\r\n" }, "keep" },
		{ { .hdr = "To: bob@example.org\r\nList-Id: <l.example.org>\r\n\r\n" }, "keep" },
		{ { .hdr = "To: bob@example.org\r\nList-Unsubscribe: <mailto:x@y>\r\n\r\n" },
		  "keep" },
	};
	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char *got = run_msg(src, &cases[k].ms);
		if (strcmp(got, cases[k].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", k, got, cases[k].want);
		free(got);
	}
	struct msg_spec alias = { .hdr = "To: bob@alias.test\r\n\r\n" };
	RUN_EQ(src, &alias, "keep");
	RUN_EQ(with_addr, &alias, "vacation:604800s keep");
}

static char *compose(const char *src, const char *hdr, const char *user)
{
	struct sieve_script *s;
	struct error err = { 0 };
	struct sieve_result r;
	struct sieve_msg m;
	struct msg_spec ms = { .hdr = hdr };
	struct buf b = BUF_INIT;

	assert_int_equal(sieve_compile(src, strlen(src), &s, &err), 0);
	msg_fill(&m, &ms);
	assert_int_equal(sieve_execute(s, &m, &r, &err), 0);
	assert_int_equal(r.v[0].kind, SIEVE_ACT_VACATION);
	assert_int_equal(sieve_vacation_compose(&r.v[0], &m, user, "mx.example.org",
						1700000000, &b, &err), 0);
	sieve_result_free(&r);
	sieve_script_free(s);
	return buf_steal(&b);
}

static void test_vacation_compose(void **state)
{
	char *got;
	(void)state;
	got = compose("require \"vacation\"; vacation \"I am away.\nBack on Monday.\";",
		      "From: Alice <alice@example.com>\r\nTo: bob@example.org\r\n"
		      "Subject: Lunch?\r\nMessage-ID: <m1@example.com>\r\n"
		      "References: <m0@example.com>\r\n\r\n", "bob@example.org");
	assert_string_equal(got,
		"From: <bob@example.org>\r\n"
		"To: <alice@example.com>\r\n"
		"Subject: Auto: Lunch?\r\n"
		"In-Reply-To: <m1@example.com>\r\n"
		"References: <m0@example.com>\r\n <m1@example.com>\r\n"
		"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
		"Message-ID: <sieve.6553f100.03057ed76b19aa7a@mx.example.org>\r\n"
		"Auto-Submitted: auto-replied (vacation)\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"I am away.\r\nBack on Monday.\r\n");
	free(got);
	/* Non-ASCII :subject in encoded words; :from with a name; no Message-ID. */
	got = compose("require \"vacation\"; vacation :subject \"Abwesenheit: B\xc3\xbcro\" "
		      ":from \"Bob <bob@example.org>\" \"Gr\xc3\xbc\xc3\x9f" "e\";",
		      "To: bob@example.org\r\n\r\n", "bob@example.org");
	assert_non_null(strstr(got, "From: Bob <bob@example.org>\r\n"));
	assert_non_null(strstr(got, "Subject: =?utf-8?B?QWJ3ZXNlbmhlaXQ6IELDvHJv?=\r\n"));
	assert_null(strstr(got, "In-Reply-To"));
	assert_non_null(strstr(got, "Content-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9f"
				    "e\r\n"));
	free(got);
	/* No subject at all; a :mime body goes after MIME-Version as given. */
	got = compose("require \"vacation\"; vacation :mime text:\n"
		      "Content-Type: text/plain; charset=us-ascii\n\naway\n.\n;",
		      "To: bob@example.org\r\n\r\n", "bob@example.org");
	assert_non_null(strstr(got, "Subject: Automated reply\r\n"));
	assert_non_null(strstr(got, "MIME-Version: 1.0\r\nContent-Type: text/plain; "
				    "charset=us-ascii\r\n\r\naway\r\n"));
	assert_null(strstr(got, "charset=utf-8"));
	free(got);
	/* A long thread's References are folded, one message-id a line. */
	got = compose("require \"vacation\"; vacation \"b\";",
		      "To: bob@example.org\r\nMessage-ID: <m3@x>\r\n"
		      "References: <m0@x>  <m1@x>\r\n\t<m2@x> \r\n\r\n", "bob@example.org");
	assert_non_null(strstr(got, "\r\nReferences: <m0@x>\r\n <m1@x>\r\n <m2@x>\r\n <m3@x>\r\n"));
	free(got);
	/* A subject that would add a field stays on its line. */
	got = compose("require \"vacation\"; vacation :subject \"a\r\nBcc: x@y.z\" \"b\";",
		      "To: bob@example.org\r\n\r\n", "bob@example.org");
	assert_non_null(strstr(got, "Subject: a  Bcc: x@y.z\r\n"));
	assert_null(strstr(got, "\nBcc"));
	free(got);
}

/* What is no vacation reply to compose is refused, not guessed. */
static void test_vacation_compose_refuses(void **state)
{
	struct sieve_action keep = { .kind = SIEVE_ACT_KEEP };
	struct sieve_action nobody = { .kind = SIEVE_ACT_VACATION, .reason = (char *)"x",
				       .reply_to = (char *)"" };
	struct sieve_action ok = { .kind = SIEVE_ACT_VACATION, .reason = (char *)"x",
				   .reply_to = (char *)"a@b.c" };
	struct sieve_msg m;
	struct buf b = BUF_INIT;
	struct error err = { 0 };
	(void)state;
	msg_fill(&m, NULL);
	assert_int_equal(sieve_vacation_compose(&keep, &m, "u@h", "h", 0, &b, &err), -1);
	assert_int_equal(err.code, ERR_INTERNAL);
	assert_int_equal(sieve_vacation_compose(&nobody, &m, "u@h", "h", 0, &b, &err), -1);
	assert_int_equal(sieve_vacation_compose(&ok, &m, NULL, "h", 0, &b, &err), -1);
	assert_int_equal(sieve_vacation_compose(&ok, &m, "u@h", NULL, 0, &b, &err), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(sieve_vacation_compose(&ok, &m, "u@h", "h", 0, &b, &err), 0);
	assert_non_null(strstr(b.data, "Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"));
	buf_free(&b);
}

/* A long non-ASCII subject is cut into several words between characters. */
static void test_vacation_long_subject(void **state)
{
	struct buf src = BUF_INIT;
	char *got;
	(void)state;
	buf_append_str(&src, "require \"vacation\"; vacation :subject \"");
	for (int i = 0; i < 40; i++)
		buf_append_str(&src, "\xc3\xa9");
	buf_append_str(&src, "\" \"x\";");
	got = compose(src.data, "To: bob@example.org\r\n\r\n", "bob@example.org");
	/* 80 bytes: 44 (22 characters) + 36 */
	assert_non_null(strstr(got, "Subject: =?utf-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?=\r\n"
				    " =?utf-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?=\r\n"));
	free(got);
	buf_free(&src);
}

/* ---- scripts as filter editors write them ---- */

static const char *const roundcube_script =
	"require [\"fileinto\",\"reject\",\"vacation\",\"imap4flags\"];\n"
	"# rule:[Spam]\n"
	"if header :contains \"x-spam-score\" \"12\"\n"
	"{\n"
	"\tfileinto \"Junk\";\n"
	"\tstop;\n"
	"}\n"
	"# rule:[Boss]\n"
	"if allof (address :is \"from\" \"boss@example.com\", not header :contains \"subject\" "
	"\"lunch\")\n"
	"{\n"
	"\taddflag \"\\\\Flagged\";\n"
	"\tfileinto :flags \"\\\\Flagged\" \"Boss\";\n"
	"}\n"
	"# rule:[Away]\n"
	"if true\n"
	"{\n"
	"\tvacation :days 7 :subject \"Out of office\" :from \"bob@example.org\" "
	":addresses [\"bob@example.org\"] \"I am away until Monday.\";\n"
	"}\n"
	"# rule:[Block]\n"
	"if header :is \"from\" \"pest@example.net\"\n"
	"{\n"
	"\treject \"Go away.\";\n"
	"\tstop;\n"
	"}\n";

static void test_roundcube(void **state)
{
	struct msg_spec spam = { .hdr = hdr_default };
	struct msg_spec boss = { .hdr = "From: boss@example.com\r\nTo: bob@example.org\r\n"
					"Subject: Q3\r\n\r\n", .from = "boss@example.com" };
	struct msg_spec pest = { .hdr = "From: pest@example.net\r\nTo: bob@example.org\r\n\r\n",
				 .from = "pest@example.net" };
	(void)state;
	RUN_EQ(roundcube_script, &spam, "fileinto:Junk");
	RUN_EQ(roundcube_script, &boss, "fileinto:Boss[\\Flagged] vacation:604800s");
	/* Roundcube writes reject after vacation: RFC 5429 makes it a runtime error. */
	RUN_EQ(roundcube_script, &pest,
	       "RUNTIME(line 22: reject cannot be combined with vacation) keep");
}

/* Thunderbird's Sieve add-on: CRLF line ends, anyof over headers, :matches. */
static const char *const thunderbird_script =
	"require [\"fileinto\", \"envelope\", \"copy\"];\r\n"
	"\r\n"
	"# Filter: Mailing lists\r\n"
	"if anyof (header :contains \"List-Id\" \"dev.lists.example.org\",\r\n"
	"          envelope :is \"to\" \"dev@lists.example.org\")\r\n"
	"{\r\n"
	"  fileinto \"INBOX/Lists/dev\";\r\n"
	"  stop;\r\n"
	"}\r\n"
	"\r\n"
	"# Filter: Invoices\r\n"
	"if header :matches \"Subject\" [\"Invoice *\", \"Rechnung *\"]\r\n"
	"{\r\n"
	"  fileinto :copy \"INBOX/Invoices\";\r\n"
	"}\r\n";

static void test_thunderbird(void **state)
{
	struct msg_spec list = { .hdr = "List-Id: Dev <dev.lists.example.org>\r\n\r\n" };
	struct msg_spec invoice = { .hdr = "Subject: Rechnung 2024-11\r\n\r\n" };
	struct msg_spec other = { .hdr = "Subject: Hello\r\n\r\n" };
	(void)state;
	RUN_EQ(thunderbird_script, &list, "fileinto:INBOX/Lists/dev");
	RUN_EQ(thunderbird_script, &invoice, "fileinto:INBOX/Invoices+copy keep");
	RUN_EQ(thunderbird_script, &other, "keep");
}

static void test_extensions_list(void **state)
{
	const char *ext = sieve_extensions();
	char *copy = strdup(ext), *save = NULL;
	(void)state;
	/* Every advertised extension can be required. */
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char src[200];
		snprintf(src, sizeof(src), "require \"%s\";", w);
		char *got = run_msg(src, NULL);
		if (strcmp(got, "keep") != 0)
			fail_msg("require \"%s\": %s", w, got);
		free(got);
	}
	free(copy);
	assert_non_null(strstr(ext, "fileinto reject envelope vacation"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5228_example),
		cmocka_unit_test(test_core_commands),
		cmocka_unit_test(test_header_tests),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_address_parts),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_fileinto_copy_flags),
		cmocka_unit_test(test_imap4flags),
		cmocka_unit_test(test_subaddress),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_relational),
		cmocka_unit_test(test_encoded_character),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_variables_flags),
		cmocka_unit_test(test_variables_limits),
		cmocka_unit_test(test_checker_errors),
		cmocka_unit_test(test_runtime_errors),
		cmocka_unit_test(test_limit_nesting),
		cmocka_unit_test(test_limit_sizes),
		cmocka_unit_test(test_limit_actions),
		cmocka_unit_test(test_limit_work),
		cmocka_unit_test(test_vacation_periods),
		cmocka_unit_test(test_vacation_fields),
		cmocka_unit_test(test_vacation_eligibility),
		cmocka_unit_test(test_vacation_compose),
		cmocka_unit_test(test_vacation_compose_refuses),
		cmocka_unit_test(test_vacation_long_subject),
		cmocka_unit_test(test_roundcube),
		cmocka_unit_test(test_thunderbird),
		cmocka_unit_test(test_extensions_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
