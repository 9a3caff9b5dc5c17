/* libFuzzer target for the MIME parser and its writers: the input is a
 * message; it is parsed with small limits (so caps are exercised), and
 * ENVELOPE plus BODY and BODYSTRUCTURE are written for the root and every
 * embedded message; fixed sections and one derived from the first input
 * line are resolved; the first line also goes through RFC 2047 decoding
 * and RFC 5322 date parsing. Besides "no crash", it checks that every
 * part's ranges lie inside the message and inside its parent, that a
 * section slice lies inside the message, and that ENVELOPE and
 * BODYSTRUCTURE never carry a NUL byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "../../mail/message.h"

#define MAX_INPUT (256 * 1024)

static void check_section(const struct mail_message *m, const char *spec, size_t len)
{
	struct buf gen = BUF_INIT;
	const char *p = NULL, *err = NULL;
	size_t n = 0;

	if (mail_section(m, spec, len, &gen, &p, &n, &err) == 0) {
		int in_msg = p >= m->data && p + n <= m->data + m->len;
		int in_gen = gen.data != NULL && p >= gen.data && p + n <= gen.data + gen.len;
		if (!in_msg && !in_gen && n > 0)
			abort();
	} else if (err == NULL) {
		abort();
	}
	buf_free(&gen);
}

static void count_part(void *ctx, const struct mail_addr *ad)
{
	(void)ad;
	++*(size_t *)ctx;
}

/* mail_part_next visits every part once, in the order of the children
 * arrays (pre-order); the headers' text for SEARCH TEXT can be built. */
static void check_walk(struct arena *a, const struct mail_message *m)
{
	struct buf text = BUF_INIT;
	size_t parts = 0, walked = 0, addrs = 0;
	const struct mail_part *prev = NULL;

	for (const struct mail_part *p = &m->root; p != NULL; p = mail_part_next(m, p)) {
		if (prev != NULL && prev->nchildren > 0 && p != &prev->children[0])
			abort();   /* a first child comes right after its parent */
		walked++;
		parts += p->nchildren;
		prev = p;
	}
	if (walked != parts + 1)
		abort();
	mail_part_headers_text(a, m, &text);
	buf_free(&text);
	if (mail_addresses_walk(a, m->data, m->len, count_part, &addrs) != addrs)
		abort();
}

/* HEADER.FIELDS.NOT of a field nobody has is the whole header: every line
 * of it, fields or not (issue 17), then the empty line. Checked on headers
 * with LF line ends, where "the empty line" has one meaning. */
static void check_header_not(const struct mail_message *m)
{
	static const char spec[] = "HEADER.FIELDS.NOT (X-Fuzz-None)";
	struct buf gen = BUF_INIT, want = BUF_INIT;
	const char *p, *err, *h = m->data + m->root.hdr_off, *end;
	size_t n, hl = m->root.hdr_len, wl;

	if (mail_section(m, spec, sizeof(spec) - 1, &gen, &p, &n, &err) < 0)
		abort();
	if (memchr(h, '\r', hl) == NULL && memchr(h, '\0', hl) == NULL) {
		if (hl > 0 && h[0] == '\n')
			wl = 0;
		else
			wl = (end = memmem(h, hl, "\n\n", 2)) != NULL ? (size_t)(end - h) + 1 : hl;
		buf_append(&want, h, wl);
		if (wl > 0 && h[wl - 1] != '\n')
			buf_append_str(&want, "\r\n");
		buf_append_str(&want, "\r\n");
		if (n != want.len || memcmp(p, want.data, n) != 0)
			abort();
	}
	buf_free(&gen);
	buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_limits lim = { 8, 200, 100 };
	struct arena *a;
	struct mail_message *m;
	struct buf out = BUF_INIT;
	const struct mail_part **stack;
	size_t n = 0, cap = 64, firstline;
	const char *d = (const char *)data;
	static const char *const specs[] = {
		"1", "1.2.MIME", "HEADER.FIELDS (From Subject)", "2.TEXT", "2.HEADER",
		"HEADER.FIELDS.NOT (\"To\" Cc)", "1.1.1", "TEXT", "HEADER", "",
	};
	size_t i;

	if (size > MAX_INPUT)
		return 0;
	a = arena_new();
	m = mail_parse(a, d, size, &lim);
	if (m->len != size)
		abort();

	/* Walk the tree without recursion. */
	stack = xreallocarray(NULL, cap, sizeof(*stack));
	stack[n++] = &m->root;
	while (n > 0) {
		const struct mail_part *p = stack[--n];
		if (p->hdr_off + p->hdr_len > size || p->body_off + p->body_len > size ||
		    p->body_off < p->hdr_off + p->hdr_len)
			abort();
		if (p->parent != NULL &&
		    (p->hdr_off < p->parent->body_off ||
		     p->body_off + p->body_len > p->parent->body_off + p->parent->body_len))
			abort();
		if (p->parent == NULL || p->is_message) {
			mail_write_envelope(&out, m, p);
		}
		mail_write_bodystructure(&out, m, p, 0);
		mail_write_bodystructure(&out, m, p, 1);
		/* What a client reads in strings and plain literals holds
		 * no NUL (RFC 9051 CHAR8), whatever the message holds. */
		if (out.len && memchr(out.data, '\0', out.len))
			abort();
		for (i = 0; i < p->nchildren; i++) {
			if (p->children[i].parent != p)
				abort();
			if (n == cap) {
				cap *= 2;
				stack = xreallocarray(stack, cap, sizeof(*stack));
			}
			stack[n++] = &p->children[i];
		}
		buf_reset(&out);
	}
	free(stack);
	check_walk(a, m);
	check_header_not(m);

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		check_section(m, specs[i], strlen(specs[i]));
	/* First line as a section spec, a header value and a date. */
	for (firstline = 0; firstline < size && d[firstline] != '\n'; firstline++)
		;
	check_section(m, d, firstline < 200 ? firstline : 200);
	(void)mail_decode_words(a, d, firstline);
	mail_address_text(a, d, firstline, &out);
	buf_reset(&out);
	{
		int64_t t;
		int z;
		(void)mail_parse_date(d, firstline, &t, &z);
	}
	(void)mail_find_part(m, d, firstline < 50 ? firstline : 50);
	buf_free(&out);
	arena_free(a);
	return 0;
}
