/* libFuzzer target for the ManageSieve command parser (protocol/ms_parse.c)
 * behind the reader that frames commands (protocol/parser.c), as the
 * login and user workers run them. The input is the client's bytes.
 * Besides "no crash" it checks:
 *  - every framed command that parses has a name of letters only,
 *    upper-cased, and at most MS_MAX_ARGS arguments; a quoted one has
 *    no CR, LF or NUL and at most MS_MAX_QUOTED bytes;
 *  - written back as a client would (name, each argument as a literal
 *    {n+} or a quoted string), it parses to the same name and arguments;
 *  - ms_parse_string on a single argument written back gives it back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../protocol/ms_parse.h"
#include "../../protocol/parser.h"

static void write_arg(struct buf *b, const struct imap_arg *a, int as_literal)
{
	if (a->type == IMAP_ARG_ATOM) {
		buf_append(b, a->str, a->len);
	} else if (as_literal) {
		buf_printf(b, "{%zu+}\r\n", a->len);
		buf_append(b, a->str, a->len);
	} else {
		buf_append_byte(b, '"');
		for (size_t i = 0; i < a->len; i++) {
			if (a->str[i] == '"' || a->str[i] == '\\')
				buf_append_byte(b, '\\');
			buf_append_byte(b, a->str[i]);
		}
		buf_append_byte(b, '"');
	}
}

static void check_same(const struct imap_cmd *x, const struct imap_cmd *y)
{
	if (strcmp(x->name, y->name) != 0 || x->nargs != y->nargs)
		abort();
	for (size_t i = 0; i < x->nargs; i++)
		if (x->args[i].len != y->args[i].len ||
		    memcmp(x->args[i].str, y->args[i].str, x->args[i].len) != 0)
			abort();
}

static void check_shape(const struct imap_cmd *c)
{
	if (c->name[0] == '\0' || c->nargs > MS_MAX_ARGS)
		abort();
	for (const char *p = c->name; *p; p++)
		if (*p < 'A' || *p > 'Z')
			abort();
	for (size_t i = 0; i < c->nargs; i++) {
		const struct imap_arg *a = &c->args[i];
		if (a->type == IMAP_ARG_QUOTED &&
		    (a->len > MS_MAX_QUOTED || memchr(a->str, '\r', a->len) ||
		     memchr(a->str, '\n', a->len) || memchr(a->str, '\0', a->len)))
			abort();
	}
}

/* Write c back (quoted where it was, or all literals) and parse again. */
static void check_roundtrip(struct arena *a, const struct imap_cmd *c, int literals)
{
	struct buf b = BUF_INIT;
	struct imap_cmd again;
	const char *err = NULL;

	buf_append_str(&b, c->name);
	for (size_t i = 0; i < c->nargs; i++) {
		buf_append_byte(&b, ' ');
		write_arg(&b, &c->args[i], literals || c->args[i].type == IMAP_ARG_LITERAL);
	}
	if (ms_parse_command(a, b.data, b.len, &again, &err) != 0)
		abort();
	check_same(c, &again);
	buf_free(&b);
}

static void check_string(struct arena *a, const struct imap_arg *arg)
{
	struct buf b = BUF_INIT;
	const char *out;
	size_t len;

	if (arg->type == IMAP_ARG_ATOM)
		return;
	write_arg(&b, arg, arg->type == IMAP_ARG_LITERAL);
	if (ms_parse_string(a, b.data, b.len, &out, &len) != 0 || len != arg->len ||
	    memcmp(out, arg->str, len) != 0)
		abort();
	buf_free(&b);
}

static void check_command(struct arena *a, const char *raw, size_t len)
{
	struct imap_cmd c, name;
	const char *err = NULL;
	const char *s;
	size_t slen;

	(void)ms_parse_string(a, raw, len, &s, &slen);
	if (ms_parse_command(a, raw, len, &c, &err) != 0) {
		if (err == NULL)
			abort();
		return;
	}
	if (ms_parse_command_name(a, raw, len, &name, &err) != 0 || strcmp(name.name, c.name) != 0)
		abort();
	check_shape(&c);
	check_roundtrip(a, &c, 0);
	check_roundtrip(a, &c, 1);
	for (size_t i = 0; i < c.nargs; i++)
		check_string(a, &c.args[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_reader r;
	struct arena *a = arena_new();
	const char *p = (const char *)data;
	size_t left = size;

	imap_reader_init(&r, 1024, 4096, 8192);
	r.no_sync = 1;  /* as a ManageSieve session reads (session_set_dialect) */
	while (left > 0) {
		size_t used = 0, len;
		enum imap_read_status st = imap_reader_feed(&r, p, left, &used);
		p += used;
		left -= used;
		if (st == IMAP_READ_LITERAL) {
			imap_reader_accept(&r);
		} else if (st == IMAP_READ_COMMAND) {
			const char *raw = imap_reader_command(&r, &len);
			check_command(a, raw, len);
			imap_reader_next(&r);
			arena_reset(a);
		} else if (st == IMAP_READ_MORE && used == 0) {
			break;
		}
	}
	imap_reader_free(&r);
	arena_free(a);
	return 0;
}
