/* libFuzzer target for CATENATE's arguments (RFC 4469): the input is the
 * text after "a APPEND INBOX " (literals inline), parsed by the command
 * parser, and every CATENATE list in it by catenate_parse. What parses
 * must hold together: at least one part, TEXT parts carrying a literal
 * (UTF8 ones a literal8), URL parts an astring, and a URL taken names a
 * message (UID not 0, a mailbox, no control character decoded); a list
 * refused says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../protocol/catenate_parse.h"
#include "../../protocol/parser.h"

static void printable(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

static void check_part(const struct cat_part *p)
{
	if (p->arg == NULL)
		abort();
	if (p->text && p->arg->type != IMAP_ARG_LITERAL && p->arg->type != IMAP_ARG_LITERAL8)
		abort();
	if (!p->text && !imap_arg_is_astring(p->arg))
		abort();
	if ((p->text && p->url_ok) || (p->utf8 && (!p->text || p->arg->type != IMAP_ARG_LITERAL8)))
		abort();
	if (p->url_ok && (p->url.uid == 0 || p->url.mailbox == NULL || p->url.mailbox[0] == '\0'))
		abort();
	if (p->url_ok) {
		printable(p->url.mailbox);
		printable(p->url.section);
	}
}

static void check_list(struct arena *a, const struct imap_arg *list)
{
	struct cat_part *parts;
	const char *err = NULL;
	size_t n = 0;

	if (catenate_parse(a, list, &parts, &n, &err) < 0) {
		if (err == NULL)
			abort();
		return;
	}
	if (n == 0 || n * 2 != list->count)
		abort();
	for (size_t i = 0; i < n; i++)
		check_part(&parts[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct buf raw = BUF_INIT;
	struct imap_cmd cmd;
	const char *err;

	if (size > 65536)
		return 0;
	a = arena_new();
	buf_append_str(&raw, "a APPEND INBOX ");
	buf_append(&raw, data, size);
	if (imap_parse_command(a, raw.data, raw.len, &cmd, &err) == 0)
		for (size_t i = 0; i + 1 < cmd.nargs; i++)
			if (imap_arg_is_atom(&cmd.args[i], "CATENATE"))
				check_list(a, &cmd.args[i + 1]);
	buf_free(&raw);
	arena_free(a);
	return 0;
}
