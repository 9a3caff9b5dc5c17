/* libFuzzer target for the modified UTF-7 codec (mail/mutf7). Besides "no
 * crash" it checks the codec's promises on any bytes:
 *  - as UTF-8: encoding succeeds exactly when the input is valid UTF-8,
 *    gives printable US-ASCII only, and decodes back to the input;
 *  - as mUTF-7: whatever decodes is valid UTF-8 that encodes to a form no
 *    longer than the input (the canonical one) and decodes the same again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../mail/mutf7.h"

static int same(const struct buf *b, const void *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

static void printable_only(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] < 0x20 || b->data[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf e = BUF_INIT, d = BUF_INIT, d2 = BUF_INIT;
	const char *why = NULL;

	/* The input as UTF-8. */
	int valid = mutf7_utf8_valid(in, size);
	int r = mutf7_encode(in, size, &e);
	if (r != (valid ? 0 : -1) || (r < 0 && e.len != 0))
		abort();
	if (r == 0) {
		printable_only(&e);
		if (mutf7_decode(e.data, e.len, &d, &why) != 0 || !same(&d, in, size))
			abort();
	}
	buf_reset(&e);
	buf_reset(&d);

	/* The input as mUTF-7. */
	r = mutf7_decode(in, size, &d, &why);
	if (r < 0) {
		if (d.len != 0 || why == NULL)
			abort();
	} else {
		if (!mutf7_utf8_valid(d.data, d.len))
			abort();
		if (mutf7_encode(d.data, d.len, &e) != 0 || e.len > size)
			abort();
		printable_only(&e);
		if (mutf7_decode(e.data, e.len, &d2, &why) != 0 || !same(&d2, d.data, d.len))
			abort();
		/* Canonical input comes back byte for byte. */
		if (e.len == size && memcmp(e.data, in, size) != 0)
			abort();
	}
	buf_free(&e);
	buf_free(&d);
	buf_free(&d2);
	return 0;
}
