/* libFuzzer target for lib/admin_note.c: the haven-admin requests a user
 * worker reads from the database channel (anyone who may NOTIFY writes
 * there) and the answers haven-admin reads back. Besides "no crash" it
 * checks that whatever parses formats back to exactly the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/admin_note.h"

static void same(const char *made, const uint8_t *data, size_t size)
{
	if (strlen(made) != size || memcmp(made, data, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct admin_answer a;
	static char out[ADMIN_NOTE_MAX + 1];
	struct admin_request r;

	if (admin_request_parse((const char *)data, size, &r) == 0) {
		if (admin_request_format(&r, out, sizeof(out)) < 0)
			abort();
		same(out, data, size);
	}
	if (admin_answer_parse((const char *)data, size, &a) == 0) {
		if (admin_answer_format(&a, out, sizeof(out)) < 0)
			abort();
		same(out, data, size);
	}
	return 0;
}
