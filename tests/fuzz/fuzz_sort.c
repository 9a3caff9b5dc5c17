/* libFuzzer target for SORT and THREAD. The input is used three ways:
 *  - as the arguments of "a SORT " and "a THREAD " (literals inline),
 *    through the command parser and sort_parse / thread_parse: a parse
 *    that succeeds has 1..SORT_MAX_CRITERIA criteria and a program;
 *  - as a header block: its sort keys, and its base subject, which is
 *    never longer than the folded subject and is stable (the base subject
 *    of a base subject without reply markers is itself);
 *  - split at NUL bytes into up to 200 header blocks, threaded with every
 *    algorithm: the answer's parentheses balance and every message
 *    appears in it exactly once. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../mail/sort.h"
#include "../../protocol/sort_parse.h"
#include "fuzz_cmd.h"

#define MAX_INPUT 65536
#define MAX_MSGS 200

static struct arena *a;

static void parse_as(const char *verb, const uint8_t *data, size_t size)
{
	struct imap_cmd cmd;
	struct search_program p;
	struct sort_spec sp;
	enum mail_thread_alg alg;
	unsigned need = 0;
	const char *err = NULL;
	enum search_status st;

	arena_reset(a);
	if (fuzz_parse_cmd(a, verb, data, size, &cmd, &err) < 0)
		return;
	err = NULL;
	if (verb[0] == 'S') {
		st = sort_parse(a, cmd.args, cmd.nargs, &sp, &p, &err);
		if (st == SEARCH_OK && (sp.n == 0 || sp.n > SORT_MAX_CRITERIA))
			abort();
	} else {
		st = thread_parse(a, cmd.args, cmd.nargs, &alg, &need, &p, &err);
	}
	if (st == SEARCH_OK ? p.nnodes < 2 : err == NULL)
		abort();
}

static void check_base_subject(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT, again = BUF_INIT;
	struct mail_sort_keys k;

	arena_reset(a);
	mail_sort_keys_parse(a, (const char *)data, size, &k);
	if (!k.subject || !k.from || !k.dfrom || !k.references)
		abort();
	if (mail_base_subject(a, (const char *)data, size, &b) == 0 && b.len > 0 &&
	    memchr(b.data, '=', b.len) == NULL) {
		/* no reply marker and no encoded word left to decode: a fixpoint */
		mail_base_subject(a, b.data, b.len, &again);
		if (again.len != b.len || memcmp(again.data, b.data, b.len) != 0)
			abort();
	}
	buf_free(&b);
	buf_free(&again);
}

/* Balanced parentheses, and every id 1..n exactly once. */
static void check_threads(const struct buf *out, size_t n)
{
	unsigned char seen[MAX_MSGS + 1] = { 0 };
	long depth = 0;
	size_t found = 0;

	for (size_t i = 0; i < out->len; i++) {
		char c = out->data[i];
		if (c == '(' || c == ')') {
			depth += c == '(' ? 1 : -1;
			if (depth < 0)
				abort();
		} else if (c >= '0' && c <= '9') {
			unsigned long v = 0;
			while (i < out->len && out->data[i] >= '0' && out->data[i] <= '9')
				v = v * 10 + (unsigned long)(out->data[i++] - '0');
			i--;
			if (v == 0 || v > n || seen[v]++)
				abort();
			found++;
		} else if (c != ' ') {
			abort();
		}
	}
	if (depth != 0 || found != n)
		abort();
}

static void thread_all(const uint8_t *data, size_t size)
{
	struct mail_sort_keys *k;
	struct mail_thread_msg m[MAX_MSGS];
	size_t n = 0, start = 0;

	arena_reset(a);
	k = arena_alloc(a, MAX_MSGS * sizeof(*k));
	for (size_t i = 0; i <= size && n < MAX_MSGS; i++) {
		if (i < size && data[i] != '\0')
			continue;
		mail_sort_keys_parse(a, (const char *)data + start, i - start, &k[n]);
		m[n].id = m[n].seq = (uint32_t)(n + 1);
		m[n].k = &k[n];
		n++;
		start = i + 1;
	}
	for (int alg = MAIL_THREAD_ORDEREDSUBJECT; alg <= MAIL_THREAD_REFS; alg++) {
		struct buf out = BUF_INIT;
		mail_thread(a, (enum mail_thread_alg)alg, m, n, &out);
		check_threads(&out, n);
		buf_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	if (a == NULL)
		a = arena_new();
	parse_as("SORT", data, size);
	parse_as("THREAD", data, size);
	check_base_subject(data, size);
	thread_all(data, size);
	return 0;
}
