/* libFuzzer target for the mbox index reader (mbox_index_decode): any
 * bytes are either refused or decode to a parse state that encodes back to
 * exactly the same bytes (the format has one spelling per state), and a
 * decoded state is consistent enough for the scan code to use (keyword
 * references inside the table, offsets ascending inside the file). The
 * fuzz build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) skips the checksum
 * so mutations reach the field checks behind it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_scan s;
	struct buf out = BUF_INIT;
	struct error err;
	uint64_t head, tail;

	if (mbox_index_decode(data, size, "INBOX", &s, &head, &tail) < 0)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.m[i].end_off > (uint64_t)s.id.size || s.m[i].hdr_off < s.m[i].from_off)
			abort();
		for (uint32_t k = 0; k < s.m[i].nkw; k++)
			if (s.m[i].kw[k] >= s.nkw)
				abort();
	}
	mbox_index_encode(&s, "INBOX", head, tail, &out);
	/* The fuzz build does not check the checksum: take the input's. */
	if (out.len == size)
		memcpy(out.data + mbox_index_sum_offset(), data + mbox_index_sum_offset(), 8);
	if (out.len != size || memcmp(out.data, data, size) != 0)
		abort();
	/* What a reader does next with it. */
	if (mbox_scan_assign(&s, NULL, 1, &err) == 0)
		for (size_t i = 1; i < s.n; i++)
			if (s.m[i].uid <= s.m[i - 1].uid)
				abort();
	buf_free(&out);
	mbox_scan_free(&s);
	return 0;
}
