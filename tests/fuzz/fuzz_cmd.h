/* The command scaffolding the argument fuzz targets share: the input is
 * the text after "a VERB " (literals inline), parsed by the command
 * parser as the reader would hand it over. Header-only because each
 * target is one translation unit. */
#ifndef HAVEN_FUZZ_CMD_H
#define HAVEN_FUZZ_CMD_H
#include <stdint.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../protocol/parser.h"

/* Parses "a VERB " + data into *cmd (allocated in a); the raw text lives
 * until the next call, as the parser's result may point into it. */
static inline int fuzz_parse_cmd(struct arena *a, const char *verb, const uint8_t *data,
				 size_t size, struct imap_cmd *cmd, const char **err)
{
	static struct buf raw = BUF_INIT;

	buf_reset(&raw);
	buf_printf(&raw, "a %s ", verb);
	buf_append(&raw, data, size);
	return imap_parse_command(a, raw.data, raw.len, cmd, err);
}

#endif
