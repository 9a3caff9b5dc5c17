/* libFuzzer target for haven-admin's mbox reader (admin/src_mbox.c): any
 * bytes as an mbox file give messages or a clear error, never more than
 * the largest message in memory, only valid keywords and system flags,
 * and UIDs that are 0 or below 2^32 - 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../admin/source.h"
#include "../../mail/keyword.h"
#include "../../mail/msgmeta.h"

#define MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct src_mbox s;
	struct src_msg m = { 0 };
	struct error err;
	FILE *f = fmemopen((void *)data, size ? size : 1, "r");
	int rc;

	if (f == NULL || size == 0) {
		if (f)
			fclose(f);
		return 0;
	}
	if (src_mbox_open(&s, f, "fuzz", MAX, &err) == 0) {
		while ((rc = src_mbox_next(&s, &m, &err)) == 1) {
			if (m.body.len > MAX || (m.flags & ~(uint32_t)MF_ALL) || m.uid == UINT32_MAX)
				abort();
			for (size_t i = 0; i < m.nkw; i++)
				if (!mail_keyword_valid(m.kw[i], strlen(m.kw[i])))
					abort();
		}
		if (rc < 0 && strncmp(err.msg, "fuzz:", 5) != 0)
			abort();   /* every error names the file and line */
		src_mbox_close(&s);
	}
	src_msg_free(&m);
	fclose(f);
	return 0;
}
