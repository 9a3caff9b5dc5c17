/* libFuzzer target for the mbox store's METADATA file reader
 * (mbox_metadata_parse): any bytes are either refused whole or parse to
 * records with valid names, in strictly ascending order, that serialize
 * back to exactly the same bytes (one spelling per content). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_meta_set ms;
	struct error err;
	struct buf out = BUF_INIT;

	if (mbox_metadata_parse((const char *)data, size, &ms, &err) < 0) {
		if (err.code != ERR_INTERNAL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < ms.n; i++)
		if (store_metadata_entry_check(ms.v[i].entry, 0, &err) < 0)
			abort();
	mbox_metadata_serialize(&ms, &out);
	if (size > 0 && (out.len != size || memcmp(out.data, data, size) != 0))
		abort();
	buf_free(&out);
	mbox_metadata_free(&ms);
	return 0;
}
