/* Top-level header fields the way SEARCH matches them (protocol/
 * search_eval.c), shared with backends that cache those fields
 * (backends/mbox/mbox_fields.c), so a cached field is exactly what a read
 * of the message would have given. */
#include <string.h>

#include "message.h"

int mail_hfield_next(const char **pp, const char *end, struct mail_hfield *f)
{
	const char *p = *pp;
	for (;;) {
		if (p >= end || *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
			return 0;
		const char *start = p, *lend;
		/* The field runs until a line that does not begin with a blank. */
		for (;;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl ? nl + 1 : end;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		lend = p;
		if (lend > start && lend[-1] == '\n')
			lend--;
		if (lend > start && lend[-1] == '\r')
			lend--;
		const char *colon = memchr(start, ':', (size_t)(lend - start));
		const char *eol = memchr(start, '\n', (size_t)(lend - start));
		if (colon == NULL || (eol != NULL && eol < colon))
			continue;
		size_t nl = (size_t)(colon - start);
		while (nl > 0 && (start[nl - 1] == ' ' || start[nl - 1] == '\t'))
			nl--;
		const char *v = colon + 1;
		while (v < lend && (*v == ' ' || *v == '\t'))
			v++;
		f->name = start;
		f->name_len = nl;
		f->value = v;
		f->value_len = (size_t)(lend - v);
		f->raw_end = p;
		*pp = p;
		return 1;
	}
}

const char *mail_header_block(const char *d, size_t len, size_t *hlen)
{
	for (size_t i = 0; i < len; i++) {
		if (d[i] != '\n')
			continue;
		if (i + 1 < len && d[i + 1] == '\n') {
			*hlen = i + 2;
			return d;
		}
		if (i + 2 < len && d[i + 1] == '\r' && d[i + 2] == '\n') {
			*hlen = i + 3;
			return d;
		}
	}
	*hlen = len;
	return d;
}
