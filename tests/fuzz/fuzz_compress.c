/* libFuzzer target for COMPRESS=DEFLATE (protocol/compress.c): what a
 * client's bytes reach. The first input byte picks a piece size; the rest
 * is the payload. Besides "no crash" it checks:
 *  - as a client's compressed stream, fed in pieces: each inflate step
 *    adds a bounded amount however the bytes expand, and a broken stream
 *    is refused, not read past;
 *  - as plain text: deflated in pieces by one pair and inflated by
 *    another, it comes back byte for byte, each deflate step ending in a
 *    sync flush (all of it readable at once). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "../../protocol/compress.h"

#define ROOM 4096
#define STEP_MAX (8 * 1024 * 1024)   /* far above what a step may make */

static void feed_compressed(const uint8_t *p, size_t n, size_t piece)
{
	struct deflate_pair *d = deflate_pair_new();
	struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();

	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;
		evbuffer_add(src, p + off, k);
		for (int rounds = 0; evbuffer_get_length(src) && rounds < 10000; rounds++) {
			size_t before = evbuffer_get_length(dst);
			if (deflate_pair_inflate(d, src, dst, ROOM) < 0)
				goto out;
			if (evbuffer_get_length(dst) - before > STEP_MAX)
				abort();
			evbuffer_drain(dst, evbuffer_get_length(dst));
		}
	}
out:
	evbuffer_free(src);
	evbuffer_free(dst);
	deflate_pair_free(d);
}

static void round_trip(const uint8_t *p, size_t n, size_t piece)
{
	struct deflate_pair *a = deflate_pair_new(), *b = deflate_pair_new();
	struct evbuffer *plain = evbuffer_new(), *wire = evbuffer_new(), *back = evbuffer_new();

	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;
		evbuffer_add(plain, p + off, k);
		if (deflate_pair_deflate(a, plain, wire) < 0 || evbuffer_get_length(plain))
			abort();
		/* flushed: everything so far inflates now */
		while (evbuffer_get_length(wire))
			if (deflate_pair_inflate(b, wire, back, 1 << 20) < 0)
				abort();
		if (evbuffer_get_length(back) != off + k)
			abort();
	}
	if (n && memcmp(evbuffer_pullup(back, -1), p, n) != 0)
		abort();
	evbuffer_free(plain);
	evbuffer_free(wire);
	evbuffer_free(back);
	deflate_pair_free(a);
	deflate_pair_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece;

	if (size < 1)
		return 0;
	piece = 1 + data[0] * 37u;
	feed_compressed(data + 1, size - 1, piece);
	round_trip(data + 1, size - 1, piece);
	return 0;
}
