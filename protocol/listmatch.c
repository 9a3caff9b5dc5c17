/* LIST pattern matching. '*' matches anything, '%' anything but the
 * hierarchy delimiter. Dynamic programming over one row keeps it
 * O(len(pattern) * len(name)) for any pattern: no backtracking blow-up. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "worker.h"

#define LIST_MAX_LEN 4096

int list_match(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), nl = strlen(name);
	unsigned char *row, *next;
	int r;

	if (pl > LIST_MAX_LEN || nl > LIST_MAX_LEN)
		return 0;
	/* INBOX is case-insensitive, also as the first component. */
	char *pbuf = NULL;
	if (strncasecmp(pattern, "INBOX", 5) == 0 && (pattern[5] == '\0' || pattern[5] == '/')) {
		pbuf = xstrdup(pattern);
		memcpy(pbuf, "INBOX", 5);
		pattern = pbuf;
	}
	row = xcalloc(nl + 1, 1);
	next = xcalloc(nl + 1, 1);
	/* row[j]: pattern[0..i) matches name[0..j) */
	row[0] = 1;
	for (size_t i = 0; i < pl; i++) {
		char c = pattern[i];
		memset(next, 0, nl + 1);
		if (c == '*' || c == '%') {
			int run = 0;
			for (size_t j = 0; j <= nl; j++) {
				if (c == '%' && j > 0 && name[j - 1] == '/')
					run = 0;
				run |= row[j];
				next[j] = (unsigned char)run;
			}
		} else {
			for (size_t j = 0; j < nl; j++)
				if (row[j] && name[j] == c)
					next[j + 1] = 1;
		}
		unsigned char *t = row;
		row = next;
		next = t;
	}
	r = row[nl];
	free(row);
	free(next);
	free(pbuf);
	return r;
}
