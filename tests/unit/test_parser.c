/* Reader and parser: framing, literals, limits, recovery after errors, and
 * the rule that one-byte-at-a-time feeding must not change anything. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../protocol/parser.h"
#include "../../lib/xmalloc.h"

/* ---- reader harness ---------------------------------------------------- */

struct event {
	enum imap_read_status st;
	char *data;      /* command bytes for IMAP_READ_COMMAND */
	size_t len;
	char tag[IMAP_MAX_TAG + 1];
};

struct events {
	struct event *ev;
	size_t n;
};

static void events_free(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->ev[i].data);
	free(e->ev);
	e->ev = NULL;
	e->n = 0;
}

/* Feed in chunks of at most chunk bytes (0: everything at once), acting
 * like a server: every literal is read into the command (a synchronizing
 * one recorded as an event, where the server sends "+"); after a command
 * or an error, call imap_reader_next(). */
static void run_reader(struct imap_reader *r, const char *in, size_t len, size_t chunk,
		       struct events *out)
{
	size_t pos = 0;

	out->ev = NULL;
	out->n = 0;
	while (pos < len) {
		size_t give = chunk == 0 || len - pos < chunk ? len - pos : chunk;
		size_t used = 12345;
		enum imap_read_status st = imap_reader_feed(r, in + pos, give, &used);
		assert_true(used <= give);
		pos += used;
		if (st == IMAP_READ_MORE) {
			assert_int_equal(used, give);
			continue;
		}
		if (st == IMAP_READ_LITERAL) {
			struct imap_literal lit;
			imap_reader_literal(r, &lit);
			imap_reader_accept(r);
			if (!lit.sync)
				continue;
		}
		out->ev = xreallocarray(out->ev, out->n + 1, sizeof(*out->ev));
		struct event *e = &out->ev[out->n++];
		memset(e, 0, sizeof(*e));
		e->st = st;
		strncpy(e->tag, imap_reader_tag(r), IMAP_MAX_TAG);
		if (st == IMAP_READ_COMMAND) {
			const char *c = imap_reader_command(r, &e->len);
			e->data = xmalloc(e->len + 1);
			memcpy(e->data, c, e->len);
			e->data[e->len] = '\0';
			imap_reader_next(r);
			assert_int_equal(imap_reader_pending(r), 0);
		} else if (st != IMAP_READ_LITERAL) {
			imap_reader_next(r);
		}
	}
}

static void run_fresh(const char *in, size_t len, size_t chunk, size_t max_line,
		      size_t max_literal, size_t max_command, struct events *out)
{
	struct imap_reader r;
	imap_reader_init(&r, max_line, max_literal, max_command);
	run_reader(&r, in, len, chunk, out);
	imap_reader_free(&r);
}

static void assert_events_equal(const struct events *a, const struct events *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->ev[i].st, b->ev[i].st);
		assert_string_equal(a->ev[i].tag, b->ev[i].tag);
		assert_int_equal(a->ev[i].len, b->ev[i].len);
		if (a->ev[i].len)
			assert_memory_equal(a->ev[i].data, b->ev[i].data, a->ev[i].len);
	}
}

/* Run with several chunk sizes and check they all agree; returns the
 * all-at-once events. */
static void run_all_chunkings(const char *in, size_t len, size_t max_line, size_t max_literal,
			      size_t max_command, struct events *out)
{
	static const size_t chunks[] = { 1, 2, 3, 5, 7, 13, 64 };
	run_fresh(in, len, 0, max_line, max_literal, max_command, out);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct events e;
		run_fresh(in, len, chunks[i], max_line, max_literal, max_command, &e);
		assert_events_equal(out, &e);
		events_free(&e);
	}
}

#define RUN(s, ml, mlit, mc, ev) run_all_chunkings((s), sizeof(s) - 1, (ml), (mlit), (mc), (ev))

static void assert_cmd(const struct event *e, const char *tag, const char *data, size_t len)
{
	assert_int_equal(e->st, IMAP_READ_COMMAND);
	assert_string_equal(e->tag, tag);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->data, data, len);
}

#define ASSERT_CMD(e, tag, s) assert_cmd((e), (tag), (s), sizeof(s) - 1)

/* ---- reader tests ------------------------------------------------------ */

static void test_reader_simple(void **state)
{
	struct events ev;
	(void)state;
	RUN("a1 NOOP\r\nb2 CAPABILITY\nc3 LOGOUT\r\n", 1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 3);
	ASSERT_CMD(&ev.ev[0], "a1", "a1 NOOP");
	ASSERT_CMD(&ev.ev[1], "b2", "b2 CAPABILITY");
	ASSERT_CMD(&ev.ev[2], "c3", "c3 LOGOUT");
	events_free(&ev);
}

static void test_reader_pipelined_used(void **state)
{
	struct imap_reader r;
	const char *in = "a NOOP\r\nb NOOP\r\npartial";
	size_t used, len;
	(void)state;

	imap_reader_init(&r, 1024, 4096, 65536);
	assert_int_equal(imap_reader_feed(&r, in, strlen(in), &used), IMAP_READ_COMMAND);
	assert_int_equal(used, 8);
	/* Not yet released: asking again gives the same command. */
	assert_int_equal(imap_reader_feed(&r, in + used, strlen(in) - used, &used),
			 IMAP_READ_COMMAND);
	assert_int_equal(used, 0);
	assert_string_equal(imap_reader_command(&r, &len), "a NOOP");
	imap_reader_next(&r);
	assert_int_equal(imap_reader_feed(&r, in + 8, strlen(in) - 8, &used), IMAP_READ_COMMAND);
	assert_int_equal(used, 8);
	assert_string_equal(imap_reader_tag(&r), "b");
	imap_reader_next(&r);
	assert_int_equal(imap_reader_feed(&r, in + 16, strlen(in) - 16, &used), IMAP_READ_MORE);
	assert_int_equal(used, 7);
	assert_int_equal(imap_reader_pending(&r), 7);
	imap_reader_free(&r);
}

static void test_reader_sync_literal(void **state)
{
	struct imap_reader r;
	size_t used, len;
	const char *c;
	(void)state;

	imap_reader_init(&r, 1024, 4096, 65536);
	assert_int_equal(imap_reader_feed(&r, "a LOGIN {5}\r\n", 13, &used), IMAP_READ_LITERAL);
	assert_int_equal(used, 13);
	assert_string_equal(imap_reader_tag(&r), "a");
	/* The command so far is readable, for a caller deciding about "+". */
	c = imap_reader_command(&r, &len);
	assert_int_equal(len, 13);
	assert_memory_equal(c, "a LOGIN {5}\r\n", 13);
	imap_reader_accept(&r);
	assert_int_equal(imap_reader_feed(&r, "alice {6}\r\n", 11, &used), IMAP_READ_LITERAL);
	imap_reader_accept(&r);
	assert_int_equal(used, 11);
	assert_int_equal(imap_reader_feed(&r, "secret\r\nb NOOP\r\n", 16, &used),
			 IMAP_READ_COMMAND);
	assert_int_equal(used, 8);
	c = imap_reader_command(&r, &len);
	assert_int_equal(len, 30);
	assert_memory_equal(c, "a LOGIN {5}\r\nalice {6}\r\nsecret", 30);
	imap_reader_next(&r);
	imap_reader_free(&r);
}

static void test_reader_literal_forms(void **state)
{
	struct events ev;
	(void)state;
	/* Continuation exactly for {n} and ~{n}, never for + and - forms. */
	RUN("a X {3}\r\nabc\r\n"
	    "b X {3+}\r\nabc\r\n"
	    "c X {3-}\r\nabc\r\n"
	    "d X ~{3}\r\na\0c\r\n"
	    "e X ~{3+}\r\na\0c\r\n"
	    "f X {0}\r\n\r\n"
	    "g X {0+}\r\n {2}\r\nxy\r\n",
	    1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 11);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LITERAL);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "a", "a X {3}\r\nabc");
	ASSERT_CMD(&ev.ev[2], "b", "b X {3+}\r\nabc");
	ASSERT_CMD(&ev.ev[3], "c", "c X {3-}\r\nabc");
	assert_int_equal(ev.ev[4].st, IMAP_READ_LITERAL);
	ASSERT_CMD(&ev.ev[5], "d", "d X ~{3}\r\na\0c");
	ASSERT_CMD(&ev.ev[6], "e", "e X ~{3+}\r\na\0c");
	assert_int_equal(ev.ev[7].st, IMAP_READ_LITERAL);
	ASSERT_CMD(&ev.ev[8], "f", "f X {0}\r\n");
	assert_int_equal(ev.ev[9].st, IMAP_READ_LITERAL);
	ASSERT_CMD(&ev.ev[10], "g", "g X {0+}\r\n {2}\r\nxy");
	events_free(&ev);
}

static void test_reader_literal_data_opaque(void **state)
{
	struct events ev;
	(void)state;
	/* Literal bytes that look like line ends and announcements are data;
	 * a bare LF after an announcement is stored as CRLF. */
	RUN("a APPEND box {12+}\n{3}\r\nb NOOP\n\r\n", 1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 1);
	ASSERT_CMD(&ev.ev[0], "a", "a APPEND box {12+}\r\n{3}\r\nb NOOP\n");
	events_free(&ev);
}

static void test_reader_blank_lines(void **state)
{
	struct events ev;
	(void)state;
	RUN("\r\n\n\r\na NOOP\r\n\r\n", 1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 1);
	ASSERT_CMD(&ev.ev[0], "a", "a NOOP");
	events_free(&ev);
}

static void test_reader_line_too_long(void **state)
{
	struct events ev;
	(void)state;
	RUN("a NOOP 0123456789012345678901234567890123456789\r\nb NOOP\r\n", 20, 100, 1000,
	    &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LINE_TOO_LONG);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_line_limit_exact(void **state)
{
	struct events ev;
	(void)state;
	/* Exactly max_line bytes is fine with CRLF or LF; one more is not. */
	RUN("a NOOP 123\r\na NOOP 123\na NOOP 1234\r\na NOOP 1234\nb NOOP\n", 10, 100, 1000,
	    &ev);
	assert_int_equal(ev.n, 5);
	ASSERT_CMD(&ev.ev[0], "a", "a NOOP 123");
	ASSERT_CMD(&ev.ev[1], "a", "a NOOP 123");
	assert_int_equal(ev.ev[2].st, IMAP_READ_LINE_TOO_LONG);
	assert_int_equal(ev.ev[3].st, IMAP_READ_LINE_TOO_LONG);
	ASSERT_CMD(&ev.ev[4], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_line_too_long_reported_early(void **state)
{
	struct imap_reader r;
	char big[200];
	size_t used;
	(void)state;

	memset(big, 'x', sizeof(big));
	memcpy(big, "tag1 LOGIN ", 11);
	imap_reader_init(&r, 50, 100, 1000);
	/* No line end yet: the error must come without waiting for one, and
	 * nothing past the limit is stored. */
	assert_int_equal(imap_reader_feed(&r, big, sizeof(big), &used), IMAP_READ_LINE_TOO_LONG);
	assert_true(used <= 52);
	assert_string_equal(imap_reader_tag(&r), "tag1");
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(imap_reader_feed(&r, big, sizeof(big), &used), IMAP_READ_MORE);
		assert_int_equal(used, sizeof(big));
		assert_true(imap_reader_pending(&r) == 0);
	}
	assert_int_equal(imap_reader_feed(&r, "\r\nz NOOP\r\n", 10, &used), IMAP_READ_COMMAND);
	assert_string_equal(imap_reader_tag(&r), "z");
	imap_reader_free(&r);
}

static void test_reader_long_line_with_literal(void **state)
{
	struct events ev;
	(void)state;
	/* The discarded line ends in a non-synchronizing literal: its bytes,
	 * which look like a command, must be skipped too. */
	RUN("a APPEND 0123456789012345678901234567890123456789 {8+}\r\nc NOOP\r\n\r\n"
	    "b NOOP\r\n",
	    20, 100, 1000, &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LINE_TOO_LONG);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_sync_literal_too_big(void **state)
{
	struct events ev;
	(void)state;
	/* The client never sends a refused synchronizing literal. */
	RUN("a APPEND box {100}\r\nb NOOP\r\n", 1024, 10, 65536, &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LITERAL_TOO_BIG);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_nonsync_literal_too_big(void **state)
{
	struct events ev;
	(void)state;
	/* 20 skipped bytes that look like commands, then the rest of the
	 * command with another (small, also skipped) literal. */
	RUN("a APPEND box {20+}\r\nc NOOP\r\nc NOOP\r\nxxxx {3+}\r\nabc more\r\nb NOOP\r\n",
	    1024, 10, 65536, &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LITERAL_TOO_BIG);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_too_big_reported_at_announcement(void **state)
{
	struct imap_reader r;
	size_t used;
	(void)state;

	imap_reader_init(&r, 1024, 10, 65536);
	assert_int_equal(imap_reader_feed(&r, "t7 APPEND x {1000000+}\r\n", 24, &used),
			 IMAP_READ_LITERAL_TOO_BIG);
	assert_int_equal(used, 24);
	assert_string_equal(imap_reader_tag(&r), "t7");
	/* The caller may or may not call next(); skipping must go on. */
	imap_reader_next(&r);
	char junk[4096];
	memset(junk, 'n', sizeof(junk));
	size_t total = 0;
	while (total + sizeof(junk) <= 1000000) {
		assert_int_equal(imap_reader_feed(&r, junk, sizeof(junk), &used), IMAP_READ_MORE);
		total += used;
	}
	assert_int_equal(imap_reader_feed(&r, junk, 1000000 - total, &used), IMAP_READ_MORE);
	assert_int_equal(imap_reader_feed(&r, "\r\nu NOOP\r\n", 10, &used), IMAP_READ_COMMAND);
	assert_string_equal(imap_reader_tag(&r), "u");
	imap_reader_free(&r);
}

static void test_reader_bad_literal(void **state)
{
	struct events ev;
	(void)state;
	RUN("a APPEND box {99999999999}\r\nb NOOP\r\n"
	    "c APPEND box {4294967296}\r\nd NOOP\r\n"
	    "e APPEND box {12345678901+}\r\n",
	    1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 5);
	assert_int_equal(ev.ev[0].st, IMAP_READ_BAD_LITERAL);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	assert_int_equal(ev.ev[2].st, IMAP_READ_BAD_LITERAL);
	ASSERT_CMD(&ev.ev[3], "d", "d NOOP");
	assert_int_equal(ev.ev[4].st, IMAP_READ_BAD_LITERAL);
	assert_string_equal(ev.ev[4].tag, "e");
	events_free(&ev);
}

static void test_reader_max_command(void **state)
{
	struct events ev;
	(void)state;
	/* Each literal fits max_literal, but together they exceed the
	 * command limit. */
	RUN("a X {30+}\r\n012345678901234567890123456789 {30+}\r\n"
	    "012345678901234567890123456789 {30+}\r\n012345678901234567890123456789\r\n"
	    "b NOOP\r\n",
	    1024, 40, 90, &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LITERAL_TOO_BIG);
	assert_string_equal(ev.ev[0].tag, "a");
	ASSERT_CMD(&ev.ev[1], "b", "b NOOP");
	events_free(&ev);
}

static void test_reader_limit_changes(void **state)
{
	struct imap_reader r;
	size_t used;
	(void)state;

	/* 0 means none allowed, not unlimited. */
	imap_reader_init(&r, 1024, 0, 65536);
	assert_int_equal(imap_reader_feed(&r, "a X {1+}\r\nx\r\n", 13, &used),
			 IMAP_READ_LITERAL_TOO_BIG);
	assert_int_equal(used, 10);
	assert_int_equal(imap_reader_feed(&r, "x\r\n", 3, &used), IMAP_READ_MORE);
	assert_int_equal(imap_reader_feed(&r, "b X {0}\r\n", 10, &used), IMAP_READ_LITERAL);
	assert_int_equal(imap_reader_feed(&r, "\r\n", 2, &used), IMAP_READ_COMMAND);
	imap_reader_next(&r);
	/* Raised after init, e.g. after login: huge values must not wrap. */
	r.max_line = SIZE_MAX;
	r.max_literal = SIZE_MAX;
	r.max_command = SIZE_MAX;
	assert_int_equal(imap_reader_feed(&r, "c X {3+}\r\nabc\r\n", 17, &used), IMAP_READ_LITERAL);
	assert_int_equal(used, 10);
	imap_reader_accept(&r);
	assert_int_equal(imap_reader_feed(&r, "abc\r\n", 5, &used), IMAP_READ_COMMAND);
	imap_reader_next(&r);
	imap_reader_free(&r);
}

static void test_reader_tags(void **state)
{
	struct events ev;
	(void)state;
	RUN("+ NOOP\r\na+b NOOP\r\nNOOP\r\n*x NOOP\r\n x\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123 NOOP\r\n"
	    "01234567890123456789012345678901234567890123456789012345678901234 NOOP\r\n"
	    "a]b NOOP\r\n",
	    1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 8);
	assert_string_equal(ev.ev[0].tag, "*");
	assert_string_equal(ev.ev[1].tag, "*");
	assert_string_equal(ev.ev[2].tag, "NOOP");
	assert_string_equal(ev.ev[3].tag, "*");
	assert_string_equal(ev.ev[4].tag, "*");
	assert_string_equal(ev.ev[5].tag,
			    "0123456789012345678901234567890123456789012345678901234567890123");
	assert_string_equal(ev.ev[6].tag, "*");
	assert_string_equal(ev.ev[7].tag, "a]b");
	events_free(&ev);
}

static void test_reader_tag_of_too_long_token(void **state)
{
	struct events ev;
	(void)state;
	/* The first token never ended within the limit: no tag. */
	RUN("abcdefghijklmnopqrstuvwxyz NOOP\r\n", 10, 100, 1000, &ev);
	assert_int_equal(ev.n, 1);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LINE_TOO_LONG);
	assert_string_equal(ev.ev[0].tag, "*");
	events_free(&ev);
}

static void test_reader_refused_continuation(void **state)
{
	struct imap_reader r;
	size_t used, len;
	(void)state;

	/* The caller answers NO instead of "+": the client does not send the
	 * literal and its next line is a new command. */
	imap_reader_init(&r, 1024, 4096, 65536);
	assert_int_equal(imap_reader_feed(&r, "a APPEND x {5}\r\n", 16, &used), IMAP_READ_LITERAL);
	imap_reader_next(&r);
	assert_int_equal(imap_reader_pending(&r), 0);
	assert_int_equal(imap_reader_feed(&r, "b NOOP\r\n", 8, &used), IMAP_READ_COMMAND);
	assert_string_equal(imap_reader_command(&r, &len), "b NOOP");
	imap_reader_next(&r);
	imap_reader_free(&r);
}

static void test_reader_abandon_midway(void **state)
{
	struct imap_reader r;
	size_t used;
	(void)state;

	/* Abandoning a non-synchronizing literal halfway must not let its
	 * remaining bytes be read as commands. */
	imap_reader_init(&r, 1024, 4096, 65536);
	assert_int_equal(imap_reader_feed(&r, "a X {10+}\r\nabc", 14, &used), IMAP_READ_LITERAL);
	imap_reader_accept(&r);
	assert_int_equal(imap_reader_feed(&r, "abc", 3, &used), IMAP_READ_MORE);
	imap_reader_next(&r);
	assert_int_equal(imap_reader_feed(&r, "\r\nc NOOP more\r\nb NOOP\r\n", 23, &used),
			 IMAP_READ_COMMAND);
	assert_string_equal(imap_reader_tag(&r), "b");
	imap_reader_free(&r);
}

static void test_reader_nul_passes(void **state)
{
	struct events ev;
	(void)state;
	RUN("a NOOP \0x\r\n", 1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 1);
	ASSERT_CMD(&ev.ev[0], "a", "a NOOP \0x");
	events_free(&ev);
}

/* Pseudo-random traffic: every chunking must agree. */
static void test_reader_random_chunkings(void **state)
{
	static const char *pieces[] = {
		"a NOOP\r\n", "b LOGIN {5}\r\nalice {3+}\r\npwd\r\n", "\r\n", "c X ~{2}\r\n\0\0\r\n",
		"d X {200}\r\n", "e X {200+}\r\n", "f X {4294967296}\n", "0123456789abcdef",
		"{", "}", "+", "\n", "\r", "g FETCH 1 BODY[]\r\n", "\0",
	};
	char in[4096];
	unsigned seed = 12345;
	(void)state;

	for (int round = 0; round < 300; round++) {
		size_t len = 0;
		while (len < sizeof(in) - 64) {
			seed = seed * 1103515245u + 12345u;
			const char *p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t n = p[0] == '\0' ? 1 : strlen(p);
			memcpy(in + len, p, n);
			len += n;
		}
		struct events ev;
		run_all_chunkings(in, len, 64, 100, 300, &ev);
		events_free(&ev);
	}
}

/* ---- parser tests ------------------------------------------------------ */

struct parse_fixture {
	struct arena *a;
};

static int parser_setup(void **state)
{
	struct parse_fixture *f = xcalloc(1, sizeof(*f));
	f->a = arena_new();
	*state = f;
	return 0;
}

static int parser_teardown(void **state)
{
	struct parse_fixture *f = *state;
	arena_free(f->a);
	free(f);
	return 0;
}

static int parse_ok(void **state, const char *raw, size_t len, struct imap_cmd *cmd)
{
	struct parse_fixture *f = *state;
	const char *err = "unset";
	int ret = imap_parse_command(f->a, raw, len, cmd, &err);
	if (ret != 0)
		fail_msg("parse of \"%.*s\" failed: %s", (int)len, raw, err);
	assert_null(err);
	return ret;
}

static const char *parse_err(void **state, const char *raw, size_t len, struct imap_cmd *cmd)
{
	struct parse_fixture *f = *state;
	const char *err = NULL;
	if (imap_parse_command(f->a, raw, len, cmd, &err) == 0)
		fail_msg("parse of \"%.*s\" unexpectedly succeeded", (int)len, raw);
	assert_non_null(err);
	assert_null(cmd->name);
	return err;
}

#define PARSE_OK(s, cmd) parse_ok(state, (s), sizeof(s) - 1, (cmd))
#define PARSE_ERR(s, cmd) parse_err(state, (s), sizeof(s) - 1, (cmd))

static void assert_arg(const struct imap_arg *a, enum imap_arg_type t, const char *s)
{
	assert_int_equal(a->type, t);
	assert_int_equal(a->len, strlen(s));
	assert_string_equal(a->str, s);
}

static void test_parse_simple(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a1 noop", &cmd);
	assert_string_equal(cmd.tag, "a1");
	assert_string_equal(cmd.name, "NOOP");
	assert_int_equal(cmd.nargs, 0);

	PARSE_OK("x Login alice \"se cret\"", &cmd);
	assert_string_equal(cmd.name, "LOGIN");
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "alice");
	assert_arg(&cmd.args[1], IMAP_ARG_QUOTED, "se cret");
}

static void test_parse_lists(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a SEARCH OR (FROM x (SUBJECT \"y\" ())) () NOT (DELETED)", &cmd);
	assert_int_equal(cmd.nargs, 5);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "OR");
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	assert_null(cmd.args[1].str);
	assert_int_equal(cmd.args[1].count, 3);
	assert_arg(&cmd.args[1].list[0], IMAP_ARG_ATOM, "FROM");
	assert_arg(&cmd.args[1].list[1], IMAP_ARG_ATOM, "x");
	const struct imap_arg *inner = &cmd.args[1].list[2];
	assert_int_equal(inner->type, IMAP_ARG_LIST);
	assert_int_equal(inner->count, 3);
	assert_arg(&inner->list[1], IMAP_ARG_QUOTED, "y");
	assert_int_equal(inner->list[2].type, IMAP_ARG_LIST);
	assert_int_equal(inner->list[2].count, 0);
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[2].count, 0);
	assert_arg(&cmd.args[3], IMAP_ARG_ATOM, "NOT");
	assert_int_equal(cmd.args[4].count, 1);
	assert_arg(&cmd.args[4].list[0], IMAP_ARG_ATOM, "DELETED");
}

static void test_parse_body_section_atoms(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> BODY[] "
		 "BINARY[1.2] BODY[HEADER.FIELDS (\"X]\" \"a\\\"]\")])",
		 &cmd);
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "1:*");
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[1].count, 5);
	assert_arg(&cmd.args[1].list[0], IMAP_ARG_ATOM, "FLAGS");
	assert_arg(&cmd.args[1].list[1], IMAP_ARG_ATOM,
		   "BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100>");
	assert_arg(&cmd.args[1].list[2], IMAP_ARG_ATOM, "BODY[]");
	assert_arg(&cmd.args[1].list[3], IMAP_ARG_ATOM, "BINARY[1.2]");
	assert_arg(&cmd.args[1].list[4], IMAP_ARG_ATOM, "BODY[HEADER.FIELDS (\"X]\" \"a\\\"]\")]");

	PARSE_OK("a FETCH 1 BODY[HEADER.FIELDS (From To)]", &cmd);
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "BODY[HEADER.FIELDS (From To)]");

	assert_string_equal(PARSE_ERR("a FETCH 1 BODY[HEADER", &cmd), "Missing ']' in section");
	PARSE_ERR("a FETCH 1 BODY[\"]", &cmd);
	PARSE_ERR("a FETCH 1 BODY[\r]", &cmd);
	PARSE_OK("a UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)])", &cmd);
	assert_arg(&cmd.args[2].list[0], IMAP_ARG_ATOM, "BODY.PEEK[HEADER.FIELDS (From To)]");
	assert_string_equal(PARSE_ERR("a uid fetch 1 BODY[HEADER", &cmd), "Missing ']' in section");
}

/* "[" is an ASTRING-CHAR: outside FETCH it opens nothing (issue 17: SELECT
 * and LIST of such names were answered "BAD Missing ']' in section"). */
static void test_parse_bracket_in_astrings(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}", &cmd);
	assert_int_equal(cmd.nargs, 1);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "!#$&'+,-.0123456789:;<=>?@^_`|[}");
	assert_true(imap_arg_is_astring(&cmd.args[0]));
	PARSE_OK("a LIST \"\" x[}%*", &cmd);
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "x[}%*");
	PARSE_OK("a RENAME [a [b", &cmd);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "[a");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "[b");
	PARSE_OK("a CREATE body[ (USE (\\Sent))", &cmd);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "body[");
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LIST);
	PARSE_OK("a UID COPY 1 BODY[x y]", &cmd);
	assert_int_equal(cmd.nargs, 4);
	assert_arg(&cmd.args[2], IMAP_ARG_ATOM, "BODY[x");
	PARSE_OK("a STATUS a[b (MESSAGES)", &cmd);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "a[b");
}

static void test_parse_flags_and_wildcards(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a STORE 1,2:4 +FLAGS.SILENT (\\Seen \\* $Junk)", &cmd);
	assert_int_equal(cmd.nargs, 3);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "1,2:4");
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "+FLAGS.SILENT");
	assert_arg(&cmd.args[2].list[0], IMAP_ARG_ATOM, "\\Seen");
	assert_arg(&cmd.args[2].list[1], IMAP_ARG_ATOM, "\\*");
	assert_arg(&cmd.args[2].list[2], IMAP_ARG_ATOM, "$Junk");

	PARSE_OK("a LIST \"\" %/*", &cmd);
	assert_arg(&cmd.args[1], IMAP_ARG_ATOM, "%/*");
	PARSE_OK("a LIST ~/Mail *", &cmd);
	assert_arg(&cmd.args[0], IMAP_ARG_ATOM, "~/Mail");

	assert_string_equal(PARSE_ERR("a STORE 1 FLAGS a\\b", &cmd), "Invalid character in atom");
	PARSE_ERR("a STORE 1 FLAGS a{b", &cmd);
	PARSE_ERR("a STORE 1 FLAGS a\"b", &cmd);
	PARSE_ERR("a STORE 1 FLAGS a(b)", &cmd);
	PARSE_ERR("a STORE 1 FLAGS a\x01", &cmd);
	PARSE_ERR("a STORE 1 FLAGS \x7f", &cmd);
	PARSE_ERR("a SELECT Entw\xc3\xbcrfe", &cmd);
}

static void test_parse_quoted_escapes(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a LOGIN \"a\\\"b\\\\c\" \"\" \"\\\\\" \"\\\"\" \"caf\xc3\xa9\t\"", &cmd);
	assert_int_equal(cmd.nargs, 5);
	assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "a\"b\\c");
	assert_arg(&cmd.args[1], IMAP_ARG_QUOTED, "");
	assert_arg(&cmd.args[2], IMAP_ARG_QUOTED, "\\");
	assert_arg(&cmd.args[3], IMAP_ARG_QUOTED, "\"");
	assert_arg(&cmd.args[4], IMAP_ARG_QUOTED, "caf\xc3\xa9\t");

	assert_string_equal(PARSE_ERR("a LOGIN \"a\\nb\" x", &cmd),
			    "Invalid escape in quoted string");
	assert_string_equal(PARSE_ERR("a LOGIN \"abc", &cmd), "Unterminated quoted string");
	/* A backslash as the very last byte of the input. */
	assert_string_equal(PARSE_ERR("a LOGIN \"abc\\", &cmd), "Unterminated quoted string");
	assert_string_equal(PARSE_ERR("a LOGIN \"abc\\\"", &cmd), "Unterminated quoted string");
	assert_string_equal(PARSE_ERR("a LOGIN \"a\rb\"", &cmd),
			    "Invalid character in quoted string");
	PARSE_ERR("a LOGIN \"a\nb\"", &cmd);
	assert_string_equal(PARSE_ERR("a LOGIN \"ab\"c", &cmd), "Missing space between arguments");
}

/* Escapes split at every possible feed boundary: the reader must pass them
 * through unchanged and the parser must decode the same. */
static void test_parse_escapes_through_reader(void **state)
{
	static const char in[] = "e1 LOGIN \"\\\\\\\"x\\\\\" \"\\\"\"\r\n";
	struct parse_fixture *f = *state;
	for (size_t chunk = 0; chunk < 6; chunk++) {
		struct events ev;
		struct imap_cmd cmd;
		const char *err;
		run_fresh(in, sizeof(in) - 1, chunk, 1024, 4096, 65536, &ev);
		assert_int_equal(ev.n, 1);
		assert_int_equal(imap_parse_command(f->a, ev.ev[0].data, ev.ev[0].len, &cmd, &err), 0);
		assert_arg(&cmd.args[0], IMAP_ARG_QUOTED, "\\\"x\\");
		assert_arg(&cmd.args[1], IMAP_ARG_QUOTED, "\"");
		events_free(&ev);
	}
}

static void test_parse_literals(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a LOGIN {5}\r\nalice {6+}\r\nsecret", &cmd);
	assert_int_equal(cmd.nargs, 2);
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "alice");
	assert_arg(&cmd.args[1], IMAP_ARG_LITERAL, "secret");

	PARSE_OK("a APPEND box (\\Seen) ~{4}\r\na\0b\r", &cmd);
	assert_int_equal(cmd.nargs, 3);
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LITERAL8);
	assert_int_equal(cmd.args[2].len, 4);
	assert_memory_equal(cmd.args[2].str, "a\0b\r", 5);

	PARSE_OK("a APPEND box ~{2+}\r\n\r\n {0}\r\n (x {1-}\r\n))", &cmd);
	assert_int_equal(cmd.nargs, 4);
	assert_int_equal(cmd.args[1].type, IMAP_ARG_LITERAL8);
	assert_memory_equal(cmd.args[1].str, "\r\n", 2);
	assert_arg(&cmd.args[2], IMAP_ARG_LITERAL, "");
	assert_int_equal(cmd.args[3].type, IMAP_ARG_LIST);
	assert_arg(&cmd.args[3].list[1], IMAP_ARG_LITERAL, ")");

	/* A bare LF after the announcement is accepted too. */
	PARSE_OK("a LOGIN {1}\nx y", &cmd);
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "x");

	assert_string_equal(PARSE_ERR("a LOGIN {5}\r\nabc", &cmd), "Literal data missing");
	assert_string_equal(PARSE_ERR("a LOGIN {99999999999}\r\nabc", &cmd), "Invalid literal size");
	PARSE_ERR("a LOGIN {4294967296}\r\nabc", &cmd);
	PARSE_ERR("a LOGIN {}\r\n", &cmd);
	PARSE_ERR("a LOGIN {3x}\r\nabc", &cmd);
	assert_string_equal(PARSE_ERR("a LOGIN {3} abc", &cmd),
			    "Literal announcement must end the line");
	PARSE_ERR("a LOGIN {3}", &cmd);
	assert_string_equal(PARSE_ERR("a LOGIN {1}\r\nxy", &cmd), "Missing space between arguments");
	PARSE_ERR("a LOGIN ~{x}\r\n", &cmd);
}

static void test_parse_separators(void **state)
{
	struct imap_cmd cmd;
	/* One trailing space is tolerated, nothing else. */
	PARSE_OK("a NOOP ", &cmd);
	assert_int_equal(cmd.nargs, 0);
	PARSE_OK("a CHECK x ", &cmd);
	assert_int_equal(cmd.nargs, 1);
	assert_string_equal(PARSE_ERR("a NOOP  ", &cmd), "Unexpected space");
	PARSE_ERR("a NOOP  x", &cmd);
	PARSE_ERR("a X ( a)", &cmd);
	PARSE_ERR("a X (a )", &cmd);
	PARSE_ERR("a X ( )", &cmd);
	PARSE_ERR("a X (a ", &cmd);
	assert_string_equal(PARSE_ERR("a X (a)(b)", &cmd), "Missing space between arguments");
	PARSE_ERR("a X(a)", &cmd);
}

static void test_parse_structure_errors(void **state)
{
	struct imap_cmd cmd;
	assert_string_equal(PARSE_ERR("", &cmd), "Empty command");
	assert_null(cmd.tag);
	assert_string_equal(PARSE_ERR(" NOOP", &cmd), "Missing tag");
	assert_string_equal(PARSE_ERR("a", &cmd), "Missing command name");
	assert_string_equal(cmd.tag, "a");
	assert_string_equal(PARSE_ERR("a ", &cmd), "Missing command name");
	assert_string_equal(cmd.tag, "a");
	PARSE_ERR("a  NOOP", &cmd);
	assert_string_equal(PARSE_ERR("a+ NOOP", &cmd), "Invalid tag");
	assert_null(cmd.tag);
	PARSE_ERR("* NOOP", &cmd);
	PARSE_ERR("a\"b NOOP", &cmd);
	assert_string_equal(PARSE_ERR("a NO[OP", &cmd), "Invalid command name");
	assert_string_equal(cmd.tag, "a");
	assert_string_equal(PARSE_ERR("a X (a))", &cmd), "Unbalanced parentheses");
	assert_string_equal(PARSE_ERR("a X ((a)", &cmd), "Unbalanced parentheses");
	assert_string_equal(PARSE_ERR("a X )", &cmd), "Unbalanced parentheses");
	assert_string_equal(PARSE_ERR("a X a)", &cmd), "Unbalanced parentheses");
	assert_string_equal(cmd.tag, "a");
}

static void test_parse_nul_rejected(void **state)
{
	struct imap_cmd cmd;
	assert_string_equal(PARSE_ERR("a NOOP \0x", &cmd), "NUL character in command");
	assert_string_equal(cmd.tag, "a");
	PARSE_ERR("a NOOP x\0", &cmd);
	PARSE_ERR("a LOGIN \"x\0\" y", &cmd);
	PARSE_ERR("a NO\0OP", &cmd);
	PARSE_ERR("a\0 NOOP", &cmd);
	assert_null(cmd.tag);
	PARSE_ERR("a FETCH 1 BODY[\0]", &cmd);
	PARSE_ERR("a X (\0)", &cmd);
	/* Inside a literal NUL is data. */
	PARSE_OK("a X {1}\r\n\0", &cmd);
	assert_int_equal(cmd.args[0].len, 1);
}

static void test_parse_nesting_cap(void **state)
{
	char raw[256];
	struct imap_cmd cmd;
	size_t n = 0;
	const char *err;
	struct parse_fixture *f = *state;

	memcpy(raw, "a X ", 4);
	n = 4;
	for (int i = 0; i < IMAP_MAX_DEPTH; i++)
		raw[n++] = '(';
	raw[n++] = 'x';
	for (int i = 0; i < IMAP_MAX_DEPTH; i++)
		raw[n++] = ')';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), 0);
	const struct imap_arg *a = &cmd.args[0];
	for (int i = 0; i < IMAP_MAX_DEPTH; i++) {
		assert_int_equal(a->type, IMAP_ARG_LIST);
		assert_int_equal(a->count, 1);
		a = &a->list[0];
	}
	assert_arg(a, IMAP_ARG_ATOM, "x");

	n = 4;
	for (int i = 0; i <= IMAP_MAX_DEPTH; i++)
		raw[n++] = '(';
	for (int i = 0; i <= IMAP_MAX_DEPTH; i++)
		raw[n++] = ')';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), -1);
	assert_string_equal(err, "Too deeply nested lists");
	assert_string_equal(cmd.tag, "a");
}

static void test_parse_arg_cap(void **state)
{
	struct parse_fixture *f = *state;
	char *raw = xmalloc(4 + 4 * (size_t)IMAP_MAX_ARGS);
	struct imap_cmd cmd;
	const char *err;
	size_t n = 4;

	memcpy(raw, "a X ", 4);
	for (size_t i = 0; i < IMAP_MAX_ARGS; i++) {
		raw[n++] = 'x';
		raw[n++] = ' ';
	}
	assert_int_equal(imap_parse_command(f->a, raw, n - 1, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, IMAP_MAX_ARGS);
	raw[n++] = 'y';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), -1);
	assert_string_equal(err, "Too many arguments");
	arena_reset(f->a);

	/* Lists count as nodes too: (x) is two. */
	n = 4;
	for (size_t i = 0; i < IMAP_MAX_ARGS / 2; i++) {
		memcpy(raw + n, "(x) ", 4);
		n += 4;
	}
	assert_int_equal(imap_parse_command(f->a, raw, n - 1, &cmd, &err), 0);
	memcpy(raw + n, "()", 2);
	assert_int_equal(imap_parse_command(f->a, raw, n + 2, &cmd, &err), -1);
	assert_string_equal(err, "Too many arguments");
	arena_reset(f->a);
	free(raw);
}

/* Big inputs must parse in roughly linear time: 4 MB of escapes, a wide
 * list and a long section each stay well under a second. */
static void test_parse_linear(void **state)
{
	struct parse_fixture *f = *state;
	size_t big = 4 * 1024 * 1024, n;
	char *raw = xmalloc(big + 64);
	struct imap_cmd cmd;
	const char *err;
	clock_t t0 = clock();

	memcpy(raw, "a X \"", 5);
	n = 5;
	while (n < big) {
		raw[n++] = '\\';
		raw[n++] = '"';
	}
	raw[n++] = '"';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), 0);
	assert_int_equal(cmd.args[0].len, (n - 6) / 2);
	arena_reset(f->a);

	memcpy(raw, "a X (", 5);
	n = 5;
	while (n < 150000) {
		raw[n++] = 'a';
		raw[n++] = ' ';
	}
	raw[n - 1] = ')';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), 0);
	arena_reset(f->a);

	memcpy(raw, "a FETCH B[", 10);
	n = 10;
	while (n < big)
		raw[n++] = '[';
	while (n < big + 32)
		raw[n++] = ']';
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), -1);
	arena_reset(f->a);
	/* Outside FETCH the same bytes are one long atom. */
	memcpy(raw, "a X BBBBB[", 10);
	assert_int_equal(imap_parse_command(f->a, raw, n, &cmd, &err), 0);
	assert_int_equal(cmd.args[0].len, n - 4);
	arena_reset(f->a);
	free(raw);
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

static void test_arg_helpers(void **state)
{
	struct imap_cmd cmd;
	PARSE_OK("a FETCH nil NIL \"NIL\" {3}\r\nNIL ~{1}\r\nx * \\Seen ab] () BODY[1 2]", &cmd);
	assert_int_equal(cmd.nargs, 10);
	assert_true(imap_arg_is_nil(&cmd.args[0]));
	assert_true(imap_arg_is_nil(&cmd.args[1]));
	assert_false(imap_arg_is_nil(&cmd.args[2]));
	assert_false(imap_arg_is_nil(&cmd.args[3]));
	assert_true(imap_arg_is_atom(&cmd.args[0], "NIL"));
	assert_false(imap_arg_is_atom(&cmd.args[0], "NILS"));
	assert_false(imap_arg_is_atom(&cmd.args[0], "NI"));
	assert_false(imap_arg_is_string(&cmd.args[0]));
	assert_true(imap_arg_is_string(&cmd.args[2]));
	assert_true(imap_arg_is_string(&cmd.args[3]));
	assert_false(imap_arg_is_string(&cmd.args[4]));
	assert_true(imap_arg_is_astring(&cmd.args[0]));
	assert_true(imap_arg_is_astring(&cmd.args[2]));
	assert_true(imap_arg_is_astring(&cmd.args[3]));
	assert_false(imap_arg_is_astring(&cmd.args[4]));
	assert_false(imap_arg_is_astring(&cmd.args[5]));   /* * */
	assert_false(imap_arg_is_astring(&cmd.args[6]));   /* \Seen */
	assert_true(imap_arg_is_astring(&cmd.args[7]));    /* ab] */
	assert_false(imap_arg_is_astring(&cmd.args[8]));   /* () */
	assert_false(imap_arg_is_astring(&cmd.args[9]));   /* section with a space */
	assert_false(imap_arg_is_atom(&cmd.args[8], "NIL"));
}

static void test_tag_valid(void **state)
{
	(void)state;
	assert_true(imap_tag_valid("a", 1));
	assert_true(imap_tag_valid("A001", 4));
	assert_true(imap_tag_valid("a]b", 3));
	assert_true(imap_tag_valid("a.b-c_d!#$&'", 12));
	assert_false(imap_tag_valid("", 0));
	assert_false(imap_tag_valid("a+", 2));
	assert_false(imap_tag_valid("*", 1));
	assert_false(imap_tag_valid("a%", 2));
	assert_false(imap_tag_valid("a(", 2));
	assert_false(imap_tag_valid("a)", 2));
	assert_false(imap_tag_valid("a{", 2));
	assert_false(imap_tag_valid("a\"", 2));
	assert_false(imap_tag_valid("a\\", 2));
	assert_false(imap_tag_valid("a b", 3));
	assert_false(imap_tag_valid("a\0", 2));
	assert_false(imap_tag_valid("a\x7f", 2));
	assert_false(imap_tag_valid("\xc3\xa9", 2));
	char t[IMAP_MAX_TAG + 1];
	memset(t, 'x', sizeof(t));
	assert_true(imap_tag_valid(t, IMAP_MAX_TAG));
	assert_false(imap_tag_valid(t, IMAP_MAX_TAG + 1));
}

/* Reader and parser together, one byte at a time, on a realistic APPEND. */
static void test_reader_parser_append(void **state)
{
	static const char in[] = "A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" "
				 "{25}\r\nSubject: x\r\n\r\nHello {5}\r\n\r\n";
	struct parse_fixture *f = *state;
	struct events ev;
	struct imap_cmd cmd;
	const char *err;

	run_fresh(in, sizeof(in) - 1, 1, 1024, 4096, 65536, &ev);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.ev[0].st, IMAP_READ_LITERAL);
	assert_int_equal(imap_parse_command(f->a, ev.ev[1].data, ev.ev[1].len, &cmd, &err), 0);
	assert_string_equal(cmd.name, "APPEND");
	assert_int_equal(cmd.nargs, 4);
	assert_arg(&cmd.args[2], IMAP_ARG_QUOTED, " 7-Feb-1994 21:52:25 -0800");
	assert_arg(&cmd.args[3], IMAP_ARG_LITERAL, "Subject: x\r\n\r\nHello {5}\r\n");
	events_free(&ev);
}

/* Every literal is announced, synchronizing or not, with its size and
 * kind; a streamed one goes to the sink in pieces and not into the
 * command; a refused one ends the command. */
struct sunk {
	char buf[64];
	size_t n, calls;
};

static void sink_to(void *ctx, const char *p, size_t n)
{
	struct sunk *k = ctx;
	assert_true(k->n + n <= sizeof(k->buf));
	memcpy(k->buf + k->n, p, n);
	k->n += n;
	k->calls++;
}

static void test_reader_literal_decisions(void **state)
{
	static const char in[] = "a APPEND box {5+}\r\nhello\r\n"      /* streamed */
				 "b APPEND box ~{3}\r\na\0c)\r\n"        /* streamed, binary */
				 "c X {4+}\r\nskip {2+}\r\nno\r\n"     /* refused */
				 "d X {9}\r\n"                           /* refused: never sent */
				 "e NOOP\r\n"
				 "f APPEND box {0+}\r\n\r\n";             /* streamed, empty */
	static const size_t chunks[] = { 0, 1, 2, 3, 7 };
	(void)state;

	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct imap_reader r;
		struct sunk k = { .n = 0 };
		struct imap_literal lit;
		char cmds[8][32];
		size_t ncmds = 0, nlit = 0, pos = 0, len = sizeof(in) - 1, used;
		imap_reader_init(&r, 1024, 4096, 65536);
		while (pos < len) {
			size_t give = chunks[c] && len - pos > chunks[c] ? chunks[c] : len - pos;
			enum imap_read_status st = imap_reader_feed(&r, in + pos, give, &used);
			pos += used;
			if (st == IMAP_READ_LITERAL) {
				imap_reader_literal(&r, &lit);
				assert_int_equal(lit.size, ((size_t[]){ 5, 3, 4, 9, 0 })[nlit]);
				assert_int_equal(lit.sync, nlit == 1 || nlit == 3);
				assert_int_equal(lit.binary, nlit == 1);
				assert_true(imap_reader_pending(&r) > 0);
				if (nlit == 2 || nlit == 3)
					imap_reader_refuse(&r);
				else
					imap_reader_stream(&r, sink_to, &k);
				nlit++;
			} else if (st == IMAP_READ_COMMAND) {
				size_t n;
				const char *cmd = imap_reader_command(&r, &n);
				assert_true(n < sizeof(cmds[0]));
				memcpy(cmds[ncmds], cmd, n);
				cmds[ncmds++][n] = '\0';
				imap_reader_next(&r);
			}
		}
		assert_int_equal(nlit, 5);
		assert_int_equal(ncmds, 4);
		/* The command keeps the announcement and what follows the literal. */
		assert_memory_equal(cmds[0], "a APPEND box {5+}\r\n", 20);
		assert_memory_equal(cmds[1], "b APPEND box ~{3}\r\n)", 21);
		assert_string_equal(cmds[2], "e NOOP");
		assert_string_equal(cmds[3], "f APPEND box {0+}\r\n");
		assert_int_equal(k.n, 8);
		assert_memory_equal(k.buf, "helloa\0c", 8);
		assert_true(chunks[c] != 1 || k.calls == 8);   /* piece by piece */
		imap_reader_free(&r);
	}
}

/* Abandoning a command while its literal streams skips the rest of it. */
static void test_reader_stream_abandoned(void **state)
{
	struct imap_reader r;
	struct sunk k = { .n = 0 };
	size_t used, len;
	(void)state;

	imap_reader_init(&r, 1024, 4096, 65536);
	assert_int_equal(imap_reader_feed(&r, "a APPEND x {10+}\r\nabc", 22, &used),
			 IMAP_READ_LITERAL);
	imap_reader_stream(&r, sink_to, &k);
	assert_int_equal(imap_reader_feed(&r, "abc", 3, &used), IMAP_READ_MORE);
	assert_int_equal(k.n, 3);
	imap_reader_next(&r);
	assert_int_equal(imap_reader_feed(&r, "defghij\r\nb NOOP\r\n", 17, &used), IMAP_READ_COMMAND);
	assert_int_equal(k.n, 3);
	assert_string_equal(imap_reader_command(&r, &len), "b NOOP");
	imap_reader_free(&r);
}

/* The command so far at an announcement, as a decider sees it. */
static void test_parse_prefix(void **state)
{
	struct parse_fixture *f = *state;
	struct imap_cmd cmd;
	const char *err;
	static const char p1[] = "a1 APPEND Drafts (\\Seen $x) \" 7-Feb-1994 21:52:25 -0800\" {310}\r\n";
	static const char p2[] = "a2 APPEND {5}\r\n";
	static const char p3[] = "a3 APPEND {5}\r\nINBOX UTF8 (~{42+}\r\n";
	static const char p4[] = "a4 X (a (b {3}\r\n";
	static const char *const bad[] = {
		"a5 APPEND box \"open {3}\r\n",      /* unterminated quoted */
		"a6 {3}\r\n",                          /* no command name */
		"a7 X {3}\r\nabc",                     /* nothing announced at the end */
		"a8 X a\\b {3}\r\n",                   /* bad atom */
		"a9 X ))) {3}\r\n",
	};

	assert_int_equal(imap_parse_prefix(f->a, p1, sizeof(p1) - 1, &cmd, &err), 0);
	assert_string_equal(cmd.tag, "a1");
	assert_string_equal(cmd.name, "APPEND");
	assert_int_equal(cmd.nargs, 4);
	assert_true(cmd.literal == &cmd.args[3]);
	assert_int_equal(cmd.literal->type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd.literal_size, 310);
	assert_int_equal(cmd.args[1].count, 2);

	assert_int_equal(imap_parse_prefix(f->a, p2, sizeof(p2) - 1, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 1);
	assert_true(cmd.literal == &cmd.args[0]);
	assert_int_equal(cmd.literal_size, 5);

	assert_int_equal(imap_parse_prefix(f->a, p3, sizeof(p3) - 1, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 3);
	assert_arg(&cmd.args[0], IMAP_ARG_LITERAL, "INBOX");
	assert_int_equal(cmd.args[2].type, IMAP_ARG_LIST);
	assert_int_equal(cmd.args[2].count, 1);
	assert_true(cmd.literal == &cmd.args[2].list[0]);
	assert_int_equal(cmd.literal->type, IMAP_ARG_LITERAL8);
	assert_int_equal(cmd.literal_size, 42);

	assert_int_equal(imap_parse_prefix(f->a, p4, sizeof(p4) - 1, &cmd, &err), 0);
	assert_int_equal(cmd.nargs, 1);
	assert_true(cmd.literal == &cmd.args[0].list[1].list[1]);

	assert_int_equal(imap_parse_name(f->a, p1, sizeof(p1) - 1, &cmd, &err), 0);
	assert_string_equal(cmd.name, "APPEND");
	assert_int_equal(cmd.nargs, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(imap_parse_prefix(f->a, bad[i], strlen(bad[i]), &cmd, &err), -1);
		assert_non_null(err);
		assert_null(cmd.literal);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_simple),
		cmocka_unit_test(test_reader_pipelined_used),
		cmocka_unit_test(test_reader_sync_literal),
		cmocka_unit_test(test_reader_literal_forms),
		cmocka_unit_test(test_reader_literal_data_opaque),
		cmocka_unit_test(test_reader_blank_lines),
		cmocka_unit_test(test_reader_line_too_long),
		cmocka_unit_test(test_reader_line_limit_exact),
		cmocka_unit_test(test_reader_line_too_long_reported_early),
		cmocka_unit_test(test_reader_long_line_with_literal),
		cmocka_unit_test(test_reader_sync_literal_too_big),
		cmocka_unit_test(test_reader_nonsync_literal_too_big),
		cmocka_unit_test(test_reader_too_big_reported_at_announcement),
		cmocka_unit_test(test_reader_bad_literal),
		cmocka_unit_test(test_reader_max_command),
		cmocka_unit_test(test_reader_limit_changes),
		cmocka_unit_test(test_reader_tags),
		cmocka_unit_test(test_reader_tag_of_too_long_token),
		cmocka_unit_test(test_reader_refused_continuation),
		cmocka_unit_test(test_reader_abandon_midway),
		cmocka_unit_test(test_reader_nul_passes),
		cmocka_unit_test(test_reader_literal_decisions),
		cmocka_unit_test(test_reader_stream_abandoned),
		cmocka_unit_test(test_reader_random_chunkings),
		cmocka_unit_test(test_tag_valid),
		cmocka_unit_test_setup_teardown(test_parse_simple, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_lists, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_bracket_in_astrings, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_body_section_atoms, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_flags_and_wildcards, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_quoted_escapes, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_escapes_through_reader, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_literals, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_separators, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_structure_errors, parser_setup,
						parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_nul_rejected, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_nesting_cap, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_arg_cap, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_linear, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_arg_helpers, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_parse_prefix, parser_setup, parser_teardown),
		cmocka_unit_test_setup_teardown(test_reader_parser_append, parser_setup,
						parser_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
