/* libFuzzer target for the IMAP URL parser (mail/imapurl, RFC 5092, as
 * CATENATE gives URLs). Besides "no crash" it checks what the parser
 * promises of any bytes: a URL it takes names a message (UID not 0, a
 * mailbox that is not empty), and nothing it decoded holds a control
 * character; a URL it refuses says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../mail/imapurl.h"

static void printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	struct imapurl u;
	const char *err = NULL;

	if (imapurl_parse(a, (const char *)data, size, &u, &err) == 0) {
		if (u.uid == 0 || u.mailbox == NULL || u.mailbox[0] == '\0')
			abort();
		printable(u.mailbox);
		printable(u.section);
		printable(u.user);
	} else if (err == NULL) {
		abort();
	}
	arena_free(a);
	return 0;
}
