/* ACL rights (RFC 4314): the letters a client sends and reads, and the
 * bit set the stores and the protocol layer pass between them. Shared by
 * both sides of backend.h, so that "c" and "d" mean one thing everywhere. */
#include "backend.h"

#include <string.h>

/* The real rights; a right's bit is 1 << its place here. */
static const char acl_letters[] = "lrswipkxtea";

/* The bit of a real right's letter, 0 for any other byte. */
static unsigned acl_bit(char c)
{
	const char *p = c ? strchr(acl_letters, c) : NULL;

	return p ? 1u << (p - acl_letters) : 0;
}

/* "c" and "d" stand for their groups (RFC 4314 2.1.1, as Dovecot and
 * Cyrus read them: create = k x; delete = t e). */
static unsigned acl_virtual(char c)
{
	if (c == 'c')
		return ACL_VCREATE;
	if (c == 'd')
		return ACL_VDELETE;
	return 0;
}

int acl_rights_parse(const char *s, size_t len, unsigned *out, const char **why)
{
	unsigned r = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned bit = acl_bit(s[i]) | acl_virtual(s[i]);
		if (bit == 0) {
			*why = s[i] >= 'A' && s[i] <= 'Z' ? "Uppercase rights are not allowed"
							  : "Unknown right in the rights list";
			return -1;
		}
		r |= bit;
	}
	*out = r;
	return 0;
}

size_t acl_rights_format(unsigned rights, int with_virtual, char out[ACL_RIGHTS_TEXT])
{
	/* the order of RFC 4314's examples of an owner: "lrswipkxtecda" */
	static const char order[] = "lrswipkxtecda";
	size_t n = 0;

	for (size_t i = 0; order[i]; i++) {
		unsigned v = acl_virtual(order[i]);
		if (v ? with_virtual && (rights & v) : (rights & acl_bit(order[i])) != 0)
			out[n++] = order[i];
	}
	out[n] = '\0';
	return n;
}
