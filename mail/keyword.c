#include "keyword.h"

#include <string.h>
#include <strings.h>

int mail_keyword_valid(const char *kw, size_t len)
{
	if (len == 0 || len > MAIL_KEYWORD_MAX || kw[0] == '\\')
		return 0;
	/* An atom, but in a flag list a client reads it as nil. */
	if (len == 3 && strncasecmp(kw, "NIL", 3) == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		/* ATOM-CHAR minus resp-specials: no controls, space, 8-bit,
		 * list/quoted/literal/wildcard specials or ']'. */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c))
			return 0;
	}
	return 1;
}
