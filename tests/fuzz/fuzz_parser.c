/* libFuzzer target for everything that reads client command bytes: the
 * reader (framing, literals, limits, the decision on each literal: read,
 * streamed or refused), the parser (whole commands and the prefix up to an
 * announced literal), sequence sets and IMAP dates. Besides "no crash", it
 * checks that chunked feeding gives exactly the events of feeding
 * everything at once (streamed bytes included), that results are
 * well-formed, that a streamed literal delivers exactly its announced
 * size, and that a prefix the parser refuses belongs to a command it
 * refuses whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/xmalloc.h"
#include "../../mail/imapdate.h"
#include "../../protocol/parser.h"
#include "../../mail/seqset.h"

#define MAX_LINE 1024
#define MAX_LITERAL 4096
#define MAX_COMMAND 16384

struct trace {
	uint64_t *v;
	size_t n, cap;
};

static void trace_add(struct trace *t, uint64_t x)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 256;
		t->v = xreallocarray(t->v, t->cap, sizeof(*t->v));
	}
	t->v[t->n++] = x;
}

static int trace_equal(const struct trace *x, const struct trace *y)
{
	return x->n == y->n && (x->n == 0 || memcmp(x->v, y->v, x->n * sizeof(*x->v)) == 0);
}

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

/* Walk the tree without recursion (what the parser promises to produce:
 * depth within the cap, strings terminated where len says). */
static void check_args(const struct imap_arg *args, size_t n)
{
	struct { const struct imap_arg *a; size_t n, i; } st[IMAP_MAX_DEPTH + 2];
	size_t sp = 0;

	st[0].a = args;
	st[0].n = n;
	st[0].i = 0;
	for (;;) {
		if (st[sp].i == st[sp].n) {
			if (sp == 0)
				return;
			sp--;
			continue;
		}
		const struct imap_arg *a = &st[sp].a[st[sp].i++];
		if (a->type == IMAP_ARG_LIST) {
			if (a->str != NULL || sp + 1 > IMAP_MAX_DEPTH)
				abort();
			sp++;
			st[sp].a = a->list;
			st[sp].n = a->count;
			st[sp].i = 0;
		} else if (a->str == NULL || a->str[a->len] != '\0') {
			abort();
		}
	}
}

static uint64_t parse_one(struct arena *a, const char *raw, size_t len)
{
	struct imap_cmd cmd;
	const char *err;

	arena_reset(a);
	if (imap_parse_command(a, raw, len, &cmd, &err) < 0) {
		if (err == NULL || cmd.name != NULL)
			abort();
		if (cmd.tag && !imap_tag_valid(cmd.tag, strlen(cmd.tag)))
			abort();
		return fnv(err, strlen(err));
	}
	if (err != NULL || cmd.tag == NULL || cmd.name == NULL)
		abort();
	for (const char *p = cmd.name; *p; p++) {
		if (*p >= 'a' && *p <= 'z')
			abort();
	}
	check_args(cmd.args, cmd.nargs);
	for (size_t i = 0; i < cmd.nargs; i++) {
		(void)imap_arg_is_astring(&cmd.args[i]);
		(void)imap_arg_is_nil(&cmd.args[i]);
	}
	return cmd.nargs * 31 + fnv(cmd.name, strlen(cmd.name));
}

static int parses(struct arena *a, const char *raw, size_t len)
{
	struct imap_cmd cmd;
	const char *err;
	return imap_parse_command(a, raw, len, &cmd, &err) == 0;
}

/* Bytes of a streamed literal, as the sink got them. */
struct streamed {
	uint64_t hash, n;
};

static void sink(void *ctx, const char *p, size_t n)
{
	struct streamed *st = ctx;
	if (n == 0)
		abort();   /* the reader never calls with nothing */
	for (size_t i = 0; i < n; i++)
		st->hash = (st->hash ^ (unsigned char)p[i]) * 1099511628211ull;
	st->n += n;
}

/* The command so far at a literal announcement: prefix and name parse
 * agree, and the literal is the announced one. 1 if the prefix parses. */
static int check_prefix(struct arena *a, struct imap_reader *r, struct trace *t)
{
	struct imap_cmd cmd, name;
	struct imap_literal lit;
	const char *err, *err2;
	size_t len;
	const char *raw = imap_reader_command(r, &len);
	int ok = imap_parse_prefix(a, raw, len, &cmd, &err) == 0;
	int nok = imap_parse_name(a, raw, len, &name, &err2) == 0;

	imap_reader_literal(r, &lit);
	if (ok && (!nok || strcmp(cmd.name, name.name) != 0 || strcmp(cmd.tag, name.tag) != 0 ||
		   cmd.literal == NULL || cmd.literal_size != lit.size || cmd.literal->len != 0 ||
		   (cmd.literal->type == IMAP_ARG_LITERAL8) != lit.binary))
		abort();
	if (ok)
		check_args(cmd.args, cmd.nargs);
	trace_add(t, ok ? cmd.nargs : fnv(err, strlen(err)));
	return ok;
}

/* chunk_seed 0: everything in one call; 1: one byte at a time; otherwise
 * chunk sizes 1..16 from a small generator. Literals are read, streamed
 * or refused in turn, the same way in every run, to exercise each path. */
static void run(const uint8_t *data, size_t size, uint32_t chunk_seed, struct arena *a,
		struct trace *t)
{
	struct imap_reader r;
	struct imap_literal lit;
	struct streamed got = { 0, 0 };
	size_t pos = 0, events = 0;
	uint64_t want = 0;
	uint32_t rnd = chunk_seed;
	int bad_prefix = 0, streamed = 0;

	imap_reader_init(&r, MAX_LINE, MAX_LITERAL, MAX_COMMAND);
	while (pos < size) {
		size_t give = size - pos, used = 0, len;
		if (chunk_seed == 1) {
			give = 1;
		} else if (chunk_seed) {
			rnd = rnd * 1103515245u + 12345u;
			size_t c = 1 + ((rnd >> 16) % 16);
			if (c < give)
				give = c;
		}
		enum imap_read_status st = imap_reader_feed(&r, (const char *)data + pos, give, &used);
		if (used > give || (st == IMAP_READ_MORE && used != give))
			abort();
		if (imap_reader_pending(&r) > MAX_COMMAND + 2)
			abort();
		pos += used;
		if (st == IMAP_READ_MORE)
			continue;
		events++;
		const char *tag = imap_reader_tag(&r);
		if (strcmp(tag, "*") != 0 && !imap_tag_valid(tag, strlen(tag)))
			abort();
		trace_add(t, (uint64_t)st);
		trace_add(t, fnv(tag, strlen(tag)));
		switch (st) {
		case IMAP_READ_COMMAND: {
			const char *raw = imap_reader_command(&r, &len);
			uint64_t parsed;
			if (len > MAX_COMMAND || got.n != want)
				abort();
			trace_add(t, fnv(raw, len));
			trace_add(t, got.hash);
			parsed = parse_one(a, raw, len);
			trace_add(t, parsed);
			/* A refused prefix is a refused command (when the
			 * whole command holds every literal). */
			if (bad_prefix && !streamed && parses(a, raw, len))
				abort();
			imap_reader_next(&r);
			bad_prefix = streamed = 0;
			got.n = got.hash = want = 0;
			break;
		}
		case IMAP_READ_LITERAL:
			bad_prefix |= !check_prefix(a, &r, t);
			imap_reader_literal(&r, &lit);
			if (events % 7 == 0) {
				imap_reader_refuse(&r);
				bad_prefix = streamed = 0;
				got.n = got.hash = want = 0;
			} else if (events % 3 == 0) {
				want += lit.size;
				streamed = 1;
				imap_reader_stream(&r, sink, &got);
			} else if (events % 11 != 0) {
				imap_reader_accept(&r);
			}   /* else: undecided, which reads it */
			break;
		default:
			/* Some callers release after errors, some do not. */
			if (events % 2 == 0)
				imap_reader_next(&r);
			bad_prefix = streamed = 0;
			got.n = got.hash = want = 0;
			break;
		}
	}
	imap_reader_free(&r);
}

static void fuzz_seqset(struct arena *a, const char *s, size_t len)
{
	struct seqset set;

	arena_reset(a);
	if (seqset_parse(a, s, &set) < 0)
		return;
	uint32_t max = len > 0 ? (uint32_t)(unsigned char)s[0] * 977u : 0;
	seqset_resolve(&set, max);
	for (size_t i = 0; i < set.n; i++) {
		if (set.r[i].lo > set.r[i].hi || set.r[i].lo == 0)
			abort();
		if (i > 0 && set.r[i].lo <= set.r[i - 1].hi + 1ull)
			abort();
		if (!seqset_contains(&set, set.r[i].lo) || !seqset_contains(&set, set.r[i].hi) ||
		    seqset_contains(&set, set.r[i].lo - 1))
			abort();
	}
	(void)seqset_contains(&set, 0);
}

/* The input's ASTRING-CHARs (issue 17: "[" once opened a section in any
 * atom) as a mailbox name: outside FETCH any run of them is one atom and
 * an astring, byte for byte. */
static void fuzz_astring_name(struct arena *a, const uint8_t *data, size_t size)
{
	static const char prefix[] = "a SELECT ";
	struct imap_cmd cmd;
	const char *err;
	char *raw = xmalloc(sizeof(prefix) + size);
	size_t n = sizeof(prefix) - 1;

	memcpy(raw, prefix, n);
	for (size_t i = 0; i < size; i++)
		if (data[i] > ' ' && data[i] < 0x7f && !strchr("(){%*\"\\", data[i]))
			raw[n++] = (char)data[i];
	arena_reset(a);
	if (n > sizeof(prefix) - 1) {
		if (imap_parse_command(a, raw, n, &cmd, &err) < 0 || cmd.nargs != 1 ||
		    cmd.args[0].type != IMAP_ARG_ATOM || !imap_arg_is_astring(&cmd.args[0]) ||
		    cmd.args[0].len != n - (sizeof(prefix) - 1) ||
		    memcmp(cmd.args[0].str, raw + sizeof(prefix) - 1, cmd.args[0].len) != 0)
			abort();
	}
	free(raw);
}

static void fuzz_dates(const char *s, size_t len)
{
	time_t t, back;
	int zone, zone2;
	char out[IMAPDATE_DATETIME_SIZE];

	if (imapdate_parse_datetime(s, len, &t, &zone) == 0) {
		if (imapdate_format_datetime(out, sizeof(out), t, zone) < 0)
			abort();
		if (imapdate_parse_datetime(out, strlen(out), &back, &zone2) < 0 || back != t ||
		    zone2 != zone)
			abort();
	}
	if (imapdate_parse_date(s, len, &t) == 0 && t % 86400 != 0)
		abort();
	if (len >= 8) {
		int64_t x;
		memcpy(&x, s, sizeof(x));
		if (imapdate_format_datetime(out, sizeof(out), (time_t)x, (int)(x % 1439)) == 0 &&
		    (imapdate_parse_datetime(out, strlen(out), &back, &zone) < 0 || back != (time_t)x))
			abort();
		(void)imapdate_day((time_t)x, (int)(x % 2000));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct trace whole = { 0 }, chunked = { 0 }, bytes = { 0 };
	char *str;

	if (a == NULL)
		a = arena_new();

	run(data, size, 0, a, &whole);
	run(data, size, (uint32_t)fnv(data, size) | 2u, a, &chunked);
	if (!trace_equal(&whole, &chunked))
		abort();
	if (size < 4096) {
		run(data, size, 1, a, &bytes);
		if (!trace_equal(&whole, &bytes))
			abort();
	}
	free(whole.v);
	free(chunked.v);
	free(bytes.v);

	/* The raw input as one command, without reader framing. */
	(void)parse_one(a, (const char *)data, size);

	str = xmalloc(size + 1);
	memcpy(str, data, size);
	str[size] = '\0';
	fuzz_seqset(a, str, size);
	fuzz_dates(str, size);
	fuzz_astring_name(a, data, size);
	free(str);
	arena_reset(a);
	return 0;
}
