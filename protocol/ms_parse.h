/* ManageSieve (RFC 5804) command syntax: a command name (an atom) and
 * arguments that are strings (quoted, or a literal {n+} / {n} with its
 * bytes) or numbers. The session's reader (parser.h) frames a command the
 * same way as an IMAP one (a line, and after a literal announcement its
 * bytes and the rest of the command) and enforces the line and literal
 * limits; this parses one framed command into the imap_cmd shape the
 * command tables take, with no tag. Strict, bounded, no recursion; it has
 * a fuzz target (tests/fuzz/fuzz_managesieve.c). */
#ifndef HAVEN_MS_PARSE_H
#define HAVEN_MS_PARSE_H
#include <stddef.h>

#include "../lib/arena.h"
#include "parser.h"

#define MS_MAX_NAME 32       /* longest command name */
#define MS_MAX_ARGS 8        /* arguments of one command (PUTSCRIPT has 2) */
#define MS_MAX_QUOTED 1024   /* RFC 5804: quoted strings up to 1024 octets */

/* Parse a complete command (raw as the reader gives it: literals included,
 * final CRLF stripped). Arguments are IMAP_ARG_QUOTED, IMAP_ARG_LITERAL
 * (bytes as sent, may hold NUL) or IMAP_ARG_ATOM (a number). 0, or -1
 * with *errmsg saying why. cmd->tag is "". */
int ms_parse_command(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		     const char **errmsg);
/* The command name alone (a command whose literal is announced). */
int ms_parse_command_name(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
			  const char **errmsg);
/* A line that is one string alone (a SASL answer during AUTHENTICATE):
 * 0 with *out (NUL-terminated in a) and *outlen, or -1. */
int ms_parse_string(struct arena *a, const char *raw, size_t len, const char **out,
		    size_t *outlen);

#endif
