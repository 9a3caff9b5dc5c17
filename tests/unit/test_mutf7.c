/* Modified UTF-7 (RFC 3501 section 5.1.3): known encodings both ways, the
 * RFC's own example, everything the decoder must refuse, and a round trip
 * over every BMP code point and a sample of the astral planes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../lib/buf.h"
#include "../../mail/mutf7.h"

struct pair {
	const char *utf8, *mutf7;
};

static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "Entw\xc3\xbc" "rfe", "Entw&APw-rfe" },
	/* RFC 3501's example */
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "&", "&-" },
	{ "A&B", "A&-B" },
	{ "&&", "&-&-" },
	{ "\xc3\xa4\xc3\xb6\xc3\xbc", "&AOQA9gD8-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },                     /* U+1F600 */
	{ "a\xf0\x9f\x98\x80" "b\xe2\x82\xac", "a&2D3eAA-b&IKw-" },
	{ "\x01", "&AAE-" },
	{ "\x7f", "&AH8-" },
	{ "\xc3\x9c" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9/Sub & Co",
	  "&ANw-n&AO8-c&APY-d&AOk-/Sub &- Co" },
	{ "-", "-" },
	{ "a-b", "a-b" },
	{ "\xc3\xa4-", "&AOQ--" },
	{ "\xef\xbf\xbf", "&,,8-" },                             /* U+FFFF */
	{ "\xf4\x8f\xbf\xbf", "&2,,f,w-" },                      /* U+10FFFF */
};

static void test_known_pairs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct buf b = BUF_INIT;
		const char *why = NULL;
		assert_int_equal(mutf7_encode(pairs[i].utf8, strlen(pairs[i].utf8), &b), 0);
		if (strcmp(b.data, pairs[i].mutf7) != 0)
			fail_msg("encode #%zu: got \"%s\", want \"%s\"", i, b.data, pairs[i].mutf7);
		buf_reset(&b);
		if (mutf7_decode(pairs[i].mutf7, strlen(pairs[i].mutf7), &b, &why) != 0)
			fail_msg("decode #%zu \"%s\": %s", i, pairs[i].mutf7, why);
		assert_string_equal(b.data, pairs[i].utf8);
		buf_free(&b);
	}
}

static void test_decode_refuses(void **state)
{
	static const char *const bad[] = {
		"Entw\xc3\xbcrfe",   /* raw 8-bit: a rev1 client must encode */
		"tab\there",
		"nl\n",
		"del\x7f",
		"&",                 /* shift never ended */
		"&AOQ",
		"x&AOQ-&",
		"&AOQ!-",            /* outside the alphabet */
		"&AOQ/-",            /* '/' is ',' in modified BASE64 */
		"&AOQ=-",            /* no padding */
		"&AGE-",             /* 'a' must stand for itself */
		"&ACY-",             /* '&' must be "&-" */
		"&ACA-",             /* space */
		"&AH4-",             /* '~' */
		"&AOR-",             /* leftover bits not zero */
		"&AOQA-",            /* a partial character */
		"&A-",
		"&AA-",
		"&AAA-",             /* U+0000 */
		"&2D0-",             /* high surrogate alone */
		"&2D3YPQ-",          /* high surrogate, high surrogate */
		"&3gA-",             /* low surrogate alone */
		"&2D0-&3gA-",        /* a pair split over two shifts */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b = BUF_INIT;
		const char *why = NULL;
		buf_append_str(&b, "keep");
		if (mutf7_decode(bad[i], strlen(bad[i]), &b, &why) != -1)
			fail_msg("decode accepted \"%s\" as \"%s\"", bad[i], b.data);
		assert_non_null(why);
		assert_string_equal(b.data, "keep");   /* output untouched */
		buf_free(&b);
	}
}

static void test_decode_lenient(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	/* Two shifts in a row are not canonical but unambiguous. */
	assert_int_equal(mutf7_decode("&AOQ-&APY-", 10, &b, NULL), 0);
	assert_string_equal(b.data, "\xc3\xa4\xc3\xb6");
	buf_free(&b);
}

static void test_encode_refuses(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc0\xaf",          /* overlong '/' */
		"\xed\xa0\x80",                        /* surrogate D800 */
		"\xf4\x90\x80\x80",                    /* past U+10FFFF */
		"\xe2\x82",                            /* truncated */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf b = BUF_INIT;
		buf_append_str(&b, "keep");
		assert_int_equal(mutf7_encode(bad[i], strlen(bad[i]), &b), -1);
		assert_string_equal(b.data, "keep");
		assert_int_equal(mutf7_utf8_valid(bad[i], strlen(bad[i])), 0);
		buf_free(&b);
	}
	/* an embedded NUL is not a name character */
	assert_int_equal(mutf7_utf8_valid("a\0b", 3), 0);
	{
		struct buf b = BUF_INIT;
		assert_int_equal(mutf7_encode("a\0b", 3, &b), -1);
		buf_free(&b);
	}
}

static size_t put_cp(char *p, uint32_t cp)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Every code point alone and next to ASCII and others, so every bit
 * alignment inside a shift is exercised. */
static void test_round_trip_all(void **state)
{
	struct buf e = BUF_INIT, d = BUF_INIT;
	char in[32];
	(void)state;
	for (uint32_t cp = 1; cp <= 0x10ffff; cp += cp < 0x10000 ? 1 : 97) {
		size_t n = 0;
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		for (unsigned rep = 0; rep < (cp % 3) + 1; rep++)
			n += put_cp(in + n, cp);
		in[n++] = 'x';
		n += put_cp(in + n, cp);
		buf_reset(&e);
		buf_reset(&d);
		if (mutf7_encode(in, n, &e) != 0)
			fail_msg("encode U+%04X failed", (unsigned)cp);
		for (size_t i = 0; i < e.len; i++)
			assert_true(e.data[i] >= 0x20 && e.data[i] <= 0x7e);
		if (mutf7_decode(e.data, e.len, &d, NULL) != 0 || d.len != n ||
		    memcmp(d.data, in, n) != 0)
			fail_msg("round trip of U+%04X failed (via \"%s\")", (unsigned)cp, e.data);
	}
	buf_free(&e);
	buf_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_pairs),
		cmocka_unit_test(test_decode_refuses),
		cmocka_unit_test(test_decode_lenient),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_round_trip_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
