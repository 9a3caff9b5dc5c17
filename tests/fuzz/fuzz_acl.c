/* libFuzzer target for backends/acl.c: rights strings from SETACL and as
 * the PostgreSQL store reads them back, and identifiers. Besides "no
 * crash" it checks that what parses formats back to letters that parse
 * to the same rights (without "c"/"d"; with them, a "d" written for one
 * of t e reads back as both, a "c" for k or x as both, which is why clients must ignore
 * it), never longer than ACL_RIGHTS_TEXT, and that a rejected string
 * holds a letter that is no right. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backends/backend.h"

static void check_roundtrip(unsigned rights)
{
	char text[ACL_RIGHTS_TEXT];
	unsigned back;
	const char *why;

	if (rights & ~ACL_ALL)
		abort();
	for (int with_virtual = 0; with_virtual <= 1; with_virtual++) {
		size_t n = acl_rights_format(rights, with_virtual, text);
		unsigned expect = rights;
		if (with_virtual && (rights & ACL_VCREATE))
			expect |= ACL_VCREATE;
		if (with_virtual && (rights & ACL_VDELETE))
			expect |= ACL_VDELETE;
		if (n >= ACL_RIGHTS_TEXT || strlen(text) != n)
			abort();
		if (acl_rights_parse(text, n, &back, &why) < 0 || back != expect)
			abort();
	}
}

static void check_rejected(const uint8_t *data, size_t size)
{
	static const char rights[] = "lrswipkxteacd";

	for (size_t i = 0; i < size; i++)
		if (data[i] == 0 || !strchr(rights, data[i]))
			return;
	abort();   /* every byte was a right, yet it was refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned rights;
	const char *why;
	struct error err;
	char *id;

	if (acl_rights_parse((const char *)data, size, &rights, &why) == 0)
		check_roundtrip(rights);
	else
		check_rejected(data, size);
	if ((id = malloc(size + 1)) == NULL)
		return 0;
	memcpy(id, data, size);
	id[size] = '\0';
	(void)store_acl_identifier_check(id, &err);
	free(id);
	return 0;
}
