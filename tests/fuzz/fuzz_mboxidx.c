/* libFuzzer target for the mbox index reader (mbox_index_decode and the
 * header-only mbox_index_decode_head STATUS uses): any bytes are either
 * refused or decode to a parse state that encodes back to exactly the same
 * bytes (the format has one spelling per state), and a decoded state is
 * consistent enough for the scan code to use (keyword references inside
 * the table, offsets ascending inside the file). The fuzz build
 * (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) skips the checksums so
 * mutations reach the field checks behind them; the derived header bytes
 * (checksums, STATUS summary) are then taken from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_scan s;
	struct mbox_index_head head;
	struct buf out = BUF_INIT;
	struct error err;
	uint64_t hfp, tfp;
	size_t doff, dlen;

	if (mbox_index_decode_head(data, size, "INBOX", &head) == 0) {
		if (head.sum.messages < head.sum.unseen || head.sum.messages < head.sum.recent ||
		    head.sum.first_unseen > head.sum.messages)
			abort();
	}
	if (mbox_index_decode(data, size, "INBOX", &s, &hfp, &tfp) < 0)
		return 0;
	if (mbox_index_decode_head(data, size, "INBOX", &head) < 0 || head.file_len != size ||
	    head.head_fp != hfp || head.tail_fp != tfp || head.lineage != s.lineage)
		abort();
	for (size_t i = 0; i < s.n; i++) {
		if (s.m[i].end_off > (uint64_t)s.id.size || s.m[i].hdr_off < s.m[i].from_off)
			abort();
		for (uint32_t k = 0; k < s.m[i].nkw; k++)
			if (s.m[i].kw[k] >= s.nkw)
				abort();
	}
	if (mbox_index_encode(&s, "INBOX", hfp, tfp, &out) < 0) {
		/* Only a state whose UIDs run out is never recorded. */
		struct mbox_summary sum;
		if (mbox_scan_summarize(&s, s.id.mtime.tv_sec, &sum) == 0)
			abort();
		buf_free(&out);
		mbox_scan_free(&s);
		return 0;
	}
	mbox_index_derived(&doff, &dlen);
	if (out.len == size)
		memcpy(out.data + doff, data + doff, dlen);
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
