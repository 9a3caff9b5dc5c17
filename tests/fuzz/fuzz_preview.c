/* libFuzzer target for PREVIEW extraction (mail/preview.c): the input is
 * a message (its preview made as FETCH PREVIEW makes it) and, on its own,
 * text and HTML for the text reducer. Besides "no crash" it checks every
 * preview's promises: valid UTF-8 without control characters, at most
 * MAIL_PREVIEW_CHARS characters, no space at either end and never two in
 * a row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../mail/message.h"
#include "../../mail/preview.h"

#define MAX_INPUT (256 * 1024)

/* Length of the UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t seq_len(const unsigned char *p, size_t n)
{
	size_t k = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
					: (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (k == 0 || k > n)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

static void check(const struct buf *b)
{
	const unsigned char *p = (const unsigned char *)b->data;
	size_t chars = 0;

	if (b->len == 0)
		return;
	if (p[0] == ' ' || p[b->len - 1] == ' ')
		abort();
	for (size_t i = 0; i < b->len; chars++) {
		size_t k = seq_len(p + i, b->len - i);
		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f)
			abort();
		if (p[i] == ' ' && i + 1 < b->len && p[i + 1] == ' ')
			abort();
		i += k;
	}
	if (chars > MAIL_PREVIEW_CHARS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_limits lim = { 8, 64, 200 };
	struct buf out = BUF_INIT;
	struct arena *a;

	if (size > MAX_INPUT)
		return 0;
	a = arena_new();
	mail_preview(mail_parse(a, (const char *)data, size, &lim), &out);
	check(&out);
	for (int html = 0; html < 2; html++) {
		buf_reset(&out);
		mail_preview_text((const char *)data, size, html, &out);
		check(&out);
	}
	buf_reset(&out);
	mail_preview_write(&out, (const char *)data, size);
	buf_free(&out);
	arena_free(a);
	return 0;
}
