/* libFuzzer target for the stored message structure (mail/structure.h),
 * which a store reads back from outside the process (a database row).
 *
 * Two ways in. The input as a stored structure: decoding must either fail
 * with a reason or give a tree whose every range lies inside the message
 * size, whose shape matches what section lookup expects, that resolves
 * sections inside the message, and that encodes to exactly the input (the
 * format has one encoding per structure). And the input as a message:
 * parse, encode, decode, and the decoded structure must answer ENVELOPE,
 * BODY, BODYSTRUCTURE and every section range exactly as the parse does;
 * the same message fed to the parser in pieces must give the very same
 * stored form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "../../mail/message.h"
#include "../../mail/structure.h"

#define MAX_INPUT (256 * 1024)

static const char *const specs[] = {
	"", "1", "2", "1.2", "1.MIME", "2.1.3", "HEADER", "TEXT", "1.TEXT", "2.HEADER",
	"HEADER.FIELDS (From To)", "3.HEADER.FIELDS.NOT (Subject)", "1.1.1.1",
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static void same_loc(const struct mail_message *a, const struct mail_message *b)
{
	for (size_t i = 0; i < NSPECS; i++) {
		struct mail_section_loc x, y;
		const char *err;
		int rx = mail_section_locate(a, specs[i], strlen(specs[i]), &x, &err);
		int ry = mail_section_locate(b, specs[i], strlen(specs[i]), &y, &err);
		if (rx != ry || (rx == 0 && (x.off != y.off || x.len != y.len || x.filter != y.filter)))
			abort();
		if (rx == 0 && (x.off > a->len || x.len > a->len - x.off))
			abort();
		mail_section_loc_free(&x);
		mail_section_loc_free(&y);
	}
}

static void check_decoded(const struct mail_structure *s, const uint8_t *data, size_t size)
{
	struct buf re = BUF_INIT;
	for (size_t i = 0; i < NSPECS; i++) {
		struct mail_section_loc loc;
		const char *err;
		if (mail_section_locate(s->msg, specs[i], strlen(specs[i]), &loc, &err) == 0 &&
		    (loc.off > s->msg->len || loc.len > s->msg->len - loc.off))
			abort();
		mail_section_loc_free(&loc);
	}
	mail_structure_encode(s, &re);
	if (re.len != size || memcmp(re.data, data, size) != 0)
		abort();
	buf_free(&re);
}

static void round_trip(const char *d, size_t size)
{
	struct mail_limits lim = { 8, 200, 100 };
	struct arena *a = arena_new();
	struct mail_message *m = mail_parse(a, d, size, &lim);
	struct mail_structure *s = mail_structure_from_message(a, m), *t;
	struct buf enc = BUF_INIT, x = BUF_INIT, y = BUF_INIT;
	const char *why;

	mail_structure_encode(s, &enc);
	if (mail_structure_decode(a, enc.data, enc.len, &t, &why) < 0 || t->msg->len != size)
		abort();
	for (int k = 0; k < 3; k++) {
		buf_reset(&x);
		buf_reset(&y);
		if (k == 0) {
			mail_structure_envelope(s, &x);
			mail_structure_envelope(t, &y);
		} else {
			mail_structure_body(s, k - 1, &x);
			mail_structure_body(t, k - 1, &y);
		}
		if (x.len != y.len || (x.len && memcmp(x.data, y.data, x.len) != 0))
			abort();
	}
	same_loc(m, t->msg);
	/* Fed in pieces (lengths from the data itself), the parse is the
	 * same: the same stored form, ENVELOPE read from the kept header. */
	struct mail_parser *ps = mail_parser_new(a, &lim);
	for (size_t off = 0, k = 0; off < size; k++) {
		size_t n = 1 + (size_t)(unsigned char)d[k % size] % 97;
		if (n > size - off)
			n = size - off;
		mail_parser_feed(ps, d + off, n);
		off += n;
	}
	struct buf enc2 = BUF_INIT;
	mail_structure_encode(mail_structure_from_message(a, mail_parser_finish(ps)), &enc2);
	if (enc2.len != enc.len || memcmp(enc2.data, enc.data, enc.len) != 0)
		abort();
	buf_free(&enc2);
	buf_free(&enc);
	buf_free(&x);
	buf_free(&y);
	arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct mail_structure *s;
	const char *why = NULL;

	if (size > MAX_INPUT)
		return 0;
	a = arena_new();
	if (mail_structure_decode(a, data, size, &s, &why) == 0)
		check_decoded(s, data, size);
	else if (why == NULL)
		abort();
	arena_free(a);
	round_trip((const char *)data, size);
	return 0;
}
