/* libFuzzer target for the mbox header-field cache reader
 * (mbox_fields_decode): any bytes are either refused or decode to entries
 * that lie inside the input, ascend by UID and encode back to exactly the
 * same bytes (one spelling per content). The fuzz build
 * (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION) skips the checksums; the
 * re-encoded file's are then taken from the input. Each entry's bytes are
 * The input is also run through the extractor (message bytes from anyone),
 * which only copies fields: never more than the input and one line end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_fields_file f;
	struct mbox_fields_rec *r;
	struct buf out = BUF_INIT, ex = BUF_INIT;
	uint64_t *offs;

	/* The extractor sees message bytes from anyone. */
	mbox_fields_extract((const char *)data, size, &ex);
	if (ex.len > size + 2)
		abort();
	buf_free(&ex);
	if (mbox_fields_decode(data, size, "INBOX", &f) < 0)
		return 0;
	offs = mbox_fields_offsets(&f);
	r = xreallocarray(NULL, f.nent ? f.nent : 1, sizeof(*r));
	for (size_t i = 0; i < f.nent; i++) {
		if (mbox_fields_entry(&f, i, offs, &r[i]) < 0)
			abort();
		if (r[i].data < f.data || r[i].len > f.datalen ||
		    (size_t)(r[i].data - f.data) > f.datalen - r[i].len)
			abort();
		if (i > 0 && r[i].uid <= r[i - 1].uid)
			abort();
		if (mbox_fields_find(&f, r[i].uid) != (long)i)
			abort();
	}
	mbox_fields_encode(f.lineage, f.uidvalidity, "INBOX", r, f.nent, &out);
	if (out.len != size)
		abort();
	size_t doff, dlen;
	mbox_fields_derived(&doff, &dlen);
	memcpy(out.data + doff, data + doff, dlen);
	if (memcmp(out.data, data, size) != 0)
		abort();
	free(r);
	free(offs);
	buf_free(&out);
	return 0;
}
