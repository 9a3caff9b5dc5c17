/* libFuzzer target for the sort-key records stores keep
 * (mail_sort_keys_decode: read back from an mbox side file or a database
 * row). Any bytes are either refused or decode to keys that encode back
 * to exactly the input (one spelling per content). The input is also
 * taken as a header block: the keys made from it encode to a record that
 * decodes to the same keys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../mail/sort.h"

static void same_record(const struct mail_sort_keys *k, const void *want, size_t len)
{
	struct buf b = BUF_INIT;

	mail_sort_keys_encode(k, &b);
	if (b.len != len || (len && memcmp(b.data, want, len) != 0))
		abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	struct mail_sort_keys k, back;
	struct buf rec = BUF_INIT;

	if (mail_sort_keys_decode(a, data, size, &k) == 0)
		same_record(&k, data, size);
	mail_sort_keys_parse(a, (const char *)data, size, &k);
	mail_sort_keys_encode(&k, &rec);
	if (mail_sort_keys_decode(a, rec.data, rec.len, &back) < 0)
		abort();
	if (back.date != k.date || back.subject_reply != k.subject_reply ||
	    strcmp(back.subject, k.subject) != 0 || strcmp(back.dfrom, k.dfrom) != 0 ||
	    back.references_len != k.references_len)
		abort();
	same_record(&back, rec.data, rec.len);
	buf_free(&rec);
	arena_free(a);
	return 0;
}
