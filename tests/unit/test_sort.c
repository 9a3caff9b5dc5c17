/* SORT/THREAD's pure parts: base subject extraction (RFC 5256 2.1) on
 * the RFC's cases and hostile ones, the sort keys of a header block
 * (RFC 5256 section 3, RFC 5957), msg-id normalization. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../mail/sort.h"

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

static void base(struct arena *a, const char *in, const char *want, int reply)
{
	struct buf b = BUF_INIT;
	int r = mail_base_subject(a, in, strlen(in), &b);
	buf_append(&b, "", 1);
	if (strcmp(b.data, want) != 0 || r != reply)
		fail_msg("base subject of \"%s\": \"%s\" (%d), want \"%s\" (%d)", in, b.data, r,
			 want, reply);
	buf_free(&b);
}

static void test_base_subject(void **state)
{
	struct arena *a = *state;
	base(a, "", "", 0);
	base(a, "hello", "hello", 0);
	base(a, "  Hello   World  ", "hello world", 0);
	base(a, "Re: hello", "hello", 1);
	base(a, "RE: Re: re:hello", "hello", 1);
	base(a, "Fw: hello", "hello", 1);
	base(a, "FWD: hello", "hello", 1);
	base(a, "Re [2]: hello", "hello", 1);
	base(a, "[list] Re: hello", "hello", 1);
	base(a, "[list] hello", "hello", 0);
	base(a, "[list][other] hello", "hello", 0);
	base(a, "hello (fwd)", "hello", 1);
	base(a, "hello (fwd) (FWD)  ", "hello", 1);
	base(a, "[Fwd: hello]", "hello", 1);
	base(a, "Re: [Fwd: Re: hello (fwd)]", "hello", 1);
	/* a blob that would leave nothing stays */
	base(a, "[list]", "[list]", 0);
	base(a, "Re: [list]", "[list]", 1);
	/* "re" without a colon is a word */
	base(a, "Rewind", "rewind", 0);
	base(a, "re hello", "re hello", 0);
	/* folded lines and tabs are one space */
	base(a, "Re:\r\n\thello\r\n  there", "hello there", 1);
	/* encoded words decode before matching, and fold to lower case */
	base(a, "=?UTF-8?Q?Fwd:_APPLE?=", "apple", 1);
	base(a, "=?ISO-8859-1?Q?Re:_=C9t=E9?=", "e\xcc\x81te\xcc\x81", 1);
	/* unterminated blobs are text */
	base(a, "[list hello", "[list hello", 0);
	base(a, "(fwd)", "", 1);
}

static void test_hostile_subjects(void **state)
{
	struct arena *a = *state;
	size_t n = 200000;
	char *s = malloc(n * 4 + 8);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 4 * i, "re: ", 4);
	memcpy(s + 4 * n, "x", 2);
	base(a, s, "x", 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 4 * i, "[[]]", 4);
	s[4 * n] = '\0';
	struct buf b = BUF_INIT;
	mail_base_subject(a, s, 4 * n, &b);
	assert_true(b.len > 0);
	buf_free(&b);
	/* blobs without a leader: all but the last go, in linear time */
	for (size_t i = 0; i < n; i++)
		memcpy(s + 4 * i, "[a] ", 4);
	s[4 * n] = '\0';
	base(a, s, "[a]", 0);
	memcpy(s + 4 * n, "x", 2);
	base(a, s, "x", 0);
	free(s);
}

static void test_keys(void **state)
{
	struct arena *a = *state;
	struct mail_sort_keys k;
	const char *h =
		"From: =?UTF-8?Q?=C3=89mile?= <Carl@x.example>\r\n"
		"To: undisclosed:;, \"Ann\" <Zoe@y.example>\r\n"
		"Cc: dave@z.example, eve@z.example\r\n"
		"Subject: Re: [list] Hello\r\n"
		"Date: Mon, 01 Jan 2024 09:00:00 -0200\r\n"
		"Message-ID: < \"a b\"@c >\r\n"
		"In-Reply-To: <p1@x> <p2@x>\r\n"
		"References: <r1@x>\r\n <r2@x>\r\n"
		"Subject: second is ignored\r\n"
		"\r\n";
	mail_sort_keys_parse(a, h, strlen(h), &k);
	assert_string_equal(k.from, "CARL");
	assert_string_equal(k.dfrom, "E\xcc\x81MILE");
	/* a group first: its name, as Dovecot sorts it */
	assert_string_equal(k.to, "UNDISCLOSED");
	assert_string_equal(k.dto, "UNDISCLOSED");
	assert_string_equal(k.cc, "DAVE");
	assert_string_equal(k.subject, "HELLO");
	assert_int_equal(k.subject_reply, 1);
	assert_int_equal(k.date, 1704106800);   /* 2024-01-01 11:00:00 UTC */
	assert_string_equal(k.msgid, "ab@c");
	assert_string_equal(k.inreplyto, "p1@x");
	assert_string_equal(k.references, "<r1@x>\r\n <r2@x>");

	h = "From: bob@x\r\nDate: garbage\r\n\r\n";
	mail_sort_keys_parse(a, h, strlen(h), &k);
	assert_string_equal(k.from, "BOB");
	assert_string_equal(k.dfrom, "BOB@X");   /* no display name: the addr-spec */
	assert_string_equal(k.to, "");
	assert_string_equal(k.subject, "");
	assert_true(k.date == INT64_MIN);
	assert_string_equal(k.msgid, "");
}

static void test_msgid(void **state)
{
	(void)state;
	const char *v = "junk <a@b> <> (c) <\"q\\\"x\"@d> <unterminated";
	const char *p = v;
	struct buf b = BUF_INIT;
	assert_int_equal(mail_msgid_next(&p, v + strlen(v), &b), 1);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a@b", 3);
	buf_reset(&b);
	assert_int_equal(mail_msgid_next(&p, v + strlen(v), &b), 1);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "q\"x@d", 5);
	buf_reset(&b);
	assert_int_equal(mail_msgid_next(&p, v + strlen(v), &b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* Messages for threading: seq, Message-ID, References, In-Reply-To,
 * Subject, Date (hours into 2024). */
static const struct {
	const char *msgid, *refs, *irt, *subject;
	int hour;
} tmsgs[] = {
	{ "<a@x>", NULL, NULL, "hello", 1 },
	{ "<b@x>", "<a@x>", NULL, "Re: hello", 2 },
	{ "<c@x>", "<a@x> <b@x>", NULL, "Re: hello", 3 },
	{ "<d@x>", "<missing@x>", NULL, "other", 4 },
	{ "<e@x>", "<missing@x>", NULL, "Re: other", 5 },
	{ "<f@x>", NULL, NULL, "Re: hello", 0 },
	{ "<g@x>", NULL, "<c@x> <zzz@x>", "whatever", 7 },
	{ "<h@x>", "<h@x>", NULL, "self", 8 },
	/* same Message-ID as 1: only 1 keeps it */
	{ "<a@x>", NULL, NULL, "dup", 9 },
};
#define NT (sizeof(tmsgs) / sizeof(tmsgs[0]))

static void thread_check(struct arena *a, enum mail_thread_alg alg, size_t n, const char *want)
{
	struct mail_sort_keys *k = arena_alloc(a, NT * sizeof(*k));
	struct mail_thread_msg m[NT];
	struct buf h = BUF_INIT, out = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		buf_reset(&h);
		buf_printf(&h, "Message-ID: %s\r\nSubject: %s\r\n", tmsgs[i].msgid, tmsgs[i].subject);
		buf_printf(&h, "Date: Mon, 01 Jan 2024 %02d:00:00 +0000\r\n", tmsgs[i].hour);
		if (tmsgs[i].refs)
			buf_printf(&h, "References: %s\r\n", tmsgs[i].refs);
		if (tmsgs[i].irt)
			buf_printf(&h, "In-Reply-To: %s\r\n", tmsgs[i].irt);
		mail_sort_keys_parse(a, h.data, h.len, &k[i]);
		m[i].id = (uint32_t)(100 + i + 1);
		m[i].seq = (uint32_t)(i + 1);
		m[i].k = &k[i];
	}
	mail_thread(a, alg, m, n, &out);
	buf_append(&out, "", 1);
	assert_string_equal(out.data, want);
	buf_free(&h);
	buf_free(&out);
}

static void test_thread(void **state)
{
	struct arena *a = *state;
	thread_check(a, MAIL_THREAD_REFERENCES, NT,
		     "(101 (106)(102 103 107))((104)(105))(108)(109)");
	thread_check(a, MAIL_THREAD_ORDEREDSUBJECT, NT,
		     "(106 (101)(102)(103))(104 105)(107)(108)(109)");
	thread_check(a, MAIL_THREAD_REFS, NT, "(106)((104)(105))(101 102 103 107)(108)(109)");
	/* a dummy with one child at the top is promoted */
	thread_check(a, MAIL_THREAD_REFERENCES, 4, "(101 102 103)(104)");
	thread_check(a, MAIL_THREAD_REFERENCES, 0, "");
}

/* A chain of 50,000 messages each naming all its ancestors' last 3,
 * then one that closes a loop: no recursion, nothing quadratic. */
static void test_thread_deep(void **state)
{
	struct arena *a = *state;
	size_t n = 50000;
	struct mail_sort_keys *k = arena_alloc(a, n * sizeof(*k));
	struct mail_thread_msg *m = arena_alloc(a, n * sizeof(*m));
	struct buf h = BUF_INIT, out = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		buf_reset(&h);
		buf_printf(&h, "Message-ID: <%zu@x>\r\nSubject: s\r\nReferences:", i);
		for (size_t j = i > 3 ? i - 3 : 0; j < i; j++)
			buf_printf(&h, " <%zu@x>", j);
		if (i == n - 1)
			buf_printf(&h, " <%zu@x>", n - 1);   /* itself */
		buf_append_str(&h, "\r\n");
		mail_sort_keys_parse(a, h.data, h.len, &k[i]);
		m[i].id = m[i].seq = (uint32_t)(i + 1);
		m[i].k = &k[i];
	}
	mail_thread(a, MAIL_THREAD_REFERENCES, m, n, &out);
	/* one chain, and the message naming itself stands alone: same
	 * subject, so a dummy holds the two threads */
	assert_memory_equal(out.data, "((1 2 3 ", 8);
	assert_true(out.len > 14);
	assert_memory_equal(out.data + out.len - 14, "49999)(50000))", 14);
	buf_free(&h);
	buf_free(&out);
}

/* A key record (what a store keeps) decodes to the keys it was made of,
 * exactly; truncated, extended, or of another version it is refused. */
static void test_key_record(void **state)
{
	struct arena *a = *state;
	static const char hdr[] = "From: \"Zed\" <bob@x.example>\r\nSubject: Re: [l] apple (fwd)\r\n"
				  "Date: Mon, 01 Jan 2024 10:00:00 +0000\r\nReferences: <a@b>\r\n <c@d>\r\n"
				  "Message-ID: <m1@test>\r\n\r\n";
	struct mail_sort_keys k, back;
	struct buf rec = BUF_INIT;

	mail_sort_keys_parse(a, hdr, sizeof(hdr) - 1, &k);
	mail_sort_keys_record(hdr, sizeof(hdr) - 1, &rec);
	assert_int_equal(mail_sort_keys_decode(a, rec.data, rec.len, &back), 0);
	assert_int_equal(back.date, k.date);
	assert_int_equal(back.subject_reply, 1);
	assert_string_equal(back.subject, "APPLE");
	assert_string_equal(back.from, "BOB");
	assert_string_equal(back.dfrom, "ZED");
	assert_string_equal(back.to, "");
	assert_string_equal(back.msgid, "m1@test");
	assert_int_equal(back.references_len, k.references_len);
	assert_memory_equal(back.references, k.references, k.references_len);
	assert_int_equal(mail_sort_keys_decode(a, rec.data, rec.len - 1, &back), -1);
	buf_append(&rec, "", 1);
	assert_int_equal(mail_sort_keys_decode(a, rec.data, rec.len, &back), -1);
	rec.len--;
	rec.data[0] = MAIL_SORT_KEYS_VERSION + 1;
	assert_int_equal(mail_sort_keys_decode(a, rec.data, rec.len, &back), -1);
	rec.data[0] = MAIL_SORT_KEYS_VERSION;
	rec.data[1] = 2;   /* flags other than subject_reply */
	assert_int_equal(mail_sort_keys_decode(a, rec.data, rec.len, &back), -1);
	assert_int_equal(mail_sort_keys_decode(a, "", 0, &back), -1);
	buf_free(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_base_subject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_subjects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msgid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_deep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
