/* IMAP command framing (reader) and tokenizing (parser).
 *
 * The reader is a byte-driven state machine so that feeding one byte at a
 * time gives exactly the same result as feeding everything at once; the
 * fuzz target checks that. Once a command has failed, the reader keeps no
 * more of it than a small window at the end of each line, just enough to
 * recognise a literal announcement whose bytes must then be skipped rather
 * than misread as commands. */
#include "parser.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

enum reader_state {
	RS_IDLE = 0,   /* between commands */
	RS_LINE,       /* reading a line into cmd */
	RS_LIT_DECIDE, /* LITERAL returned: waiting for the caller's decision */
	RS_LIT_WAIT,   /* accepted after "+", no literal byte seen yet */
	RS_LIT,        /* reading literal bytes into cmd */
	RS_LIT_STREAM, /* passing literal bytes to the sink */
	RS_DONE,       /* complete command in cmd */
	RS_SKIP_LIT,   /* failed command: dropping literal bytes */
	RS_SKIP_LINE,  /* failed command: dropping to end of line */
};

/* Enough for "~{4294967295+}\r" with room to spare; only the end of a
 * discarded line matters. */
#define SKIP_WINDOW 32
/* A buffer that grew for one big command is not kept for the whole
 * session. */
#define KEEP_CAPACITY 65536
/* Limits are clamped so that limit + 2 can never overflow. */
#define LIMIT_MAX (SIZE_MAX / 4)

enum lit_scan { LIT_NONE = 0, LIT_OK, LIT_TOO_LONG_NUMBER };

/* Look for a literal announcement at the end of a line (CR already
 * stripped). A too-long number still reports its value when it fits in 63
 * bits (RFC 9051 number64), so a non-synchronizing one can be skipped. */
static enum lit_scan reader_scan_literal(const char *p, size_t n, uint64_t *size, int *sync,
					 int *countable, int *binary)
{
	size_t i, end, digits;
	uint64_t v = 0;

	*countable = 0;
	*binary = 0;
	if (n < 3 || p[n - 1] != '}')
		return LIT_NONE;
	i = n - 1;
	*sync = 1;
	if (p[i - 1] == '+' || p[i - 1] == '-') {
		*sync = 0;
		i--;
	}
	end = i;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	digits = end - i;
	if (digits == 0 || i == 0 || p[i - 1] != '{')
		return LIT_NONE;
	*binary = i >= 2 && p[i - 2] == '~';
	if (digits <= 19) {
		for (size_t k = i; k < end; k++)
			v = v * 10 + (uint64_t)(p[k] - '0');
		if (v <= INT64_MAX)
			*countable = 1;
	}
	*size = v;
	if (digits > 10 || v > UINT32_MAX)
		return LIT_TOO_LONG_NUMBER;
	return LIT_OK;
}

static size_t reader_min(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* 0 is a real limit (e.g. no literals before login), not "unlimited". */
static void reader_clamp(size_t *v)
{
	if (*v > LIMIT_MAX)
		*v = LIMIT_MAX;
}

void imap_reader_init(struct imap_reader *r, size_t max_line, size_t max_literal,
		      size_t max_command)
{
	memset(r, 0, sizeof(*r));
	reader_clamp(&max_line);
	reader_clamp(&max_literal);
	reader_clamp(&max_command);
	r->max_line = max_line;
	r->max_literal = max_literal;
	r->max_command = max_command;
	buf_init(&r->cmd);
	r->state = RS_IDLE;
}

void imap_reader_free(struct imap_reader *r)
{
	buf_free(&r->cmd);
	r->state = RS_IDLE;
}

static void reader_release(struct imap_reader *r)
{
	if (r->cmd.cap > KEEP_CAPACITY)
		buf_free(&r->cmd);
	else
		buf_reset(&r->cmd);
	r->line_start = 0;
	r->literal_left = 0;
}

static void reader_set_tag(struct imap_reader *r, const char *p, size_t n)
{
	if (imap_tag_valid(p, n)) {
		memcpy(r->tag, p, n);
		r->tag[n] = '\0';
	} else {
		r->tag[0] = '*';
		r->tag[1] = '\0';
	}
}

/* Called whenever the first line may have revealed its first token. */
static void reader_find_tag(struct imap_reader *r, size_t from, int line_complete)
{
	const char *sp;

	if (r->tag[0] != '\0' || r->line_start != 0)
		return;
	sp = memchr(r->cmd.data + from, ' ', r->cmd.len - from);
	if (sp)
		reader_set_tag(r, r->cmd.data, (size_t)(sp - r->cmd.data));
	else if (line_complete)
		reader_set_tag(r, r->cmd.data, r->cmd.len);
}

/* The command failed mid-line: keep only the tail of the line so a literal
 * announced at its end can still be recognised. */
static void reader_skip_line(struct imap_reader *r)
{
	char tail[SKIP_WINDOW];
	size_t linelen = r->cmd.len - r->line_start;
	size_t keep = linelen < SKIP_WINDOW ? linelen : SKIP_WINDOW;

	/* A first token that did not end within the buffered bytes is
	 * longer than any valid tag. */
	reader_find_tag(r, 0, 0);
	if (r->tag[0] == '\0')
		reader_set_tag(r, "", 0);
	memcpy(tail, r->cmd.data + r->cmd.len - keep, keep);
	reader_release(r);
	buf_append(&r->cmd, tail, keep);
	r->state = RS_SKIP_LINE;
}

static void reader_skip_literal(struct imap_reader *r, uint64_t n)
{
	reader_release(r);
	r->skip_left = n;
	r->state = RS_SKIP_LIT;
}

/* A failed command whose line (CR stripped) ended at cmd.len: skip a
 * non-synchronizing literal announced there, otherwise the command is over
 * (a synchronizing one is never sent without our "+"). */
static void reader_fail_at_eol(struct imap_reader *r, const char *line, size_t n)
{
	uint64_t size = 0;
	int sync = 1, countable = 0, binary;
	enum lit_scan s = reader_scan_literal(line, n, &size, &sync, &countable, &binary);

	sync = sync && !r->no_sync;
	if (s != LIT_NONE && !sync && countable) {
		reader_skip_literal(r, size);
	} else {
		reader_release(r);
		r->state = RS_IDLE;
	}
}

/* A full line sits in cmd[line_start..len) (LF consumed). */
static enum imap_read_status reader_end_line(struct imap_reader *r)
{
	size_t linelen;
	uint64_t size = 0;
	int sync = 1, countable = 0, binary;
	enum lit_scan s;

	if (r->cmd.len > r->line_start && r->cmd.data[r->cmd.len - 1] == '\r') {
		r->cmd.len--;
		r->cmd.data[r->cmd.len] = '\0';
	}
	linelen = r->cmd.len - r->line_start;
	if (r->line_start == 0 && linelen == 0 && !r->keep_blank) {
		/* Blank lines between commands are ignored. */
		r->state = RS_IDLE;
		return IMAP_READ_MORE;
	}
	reader_find_tag(r, 0, 1);
	if (linelen > r->max_line || r->cmd.len > r->max_command) {
		char tail[SKIP_WINDOW];
		size_t keep = linelen < SKIP_WINDOW ? linelen : SKIP_WINDOW;
		memcpy(tail, r->cmd.data + r->cmd.len - keep, keep);
		reader_fail_at_eol(r, tail, keep);
		return IMAP_READ_LINE_TOO_LONG;
	}
	s = reader_scan_literal(r->cmd.data + r->line_start, linelen, &size, &sync, &countable,
				&binary);
	sync = sync && !r->no_sync;
	if (s == LIT_NONE) {
		r->state = RS_DONE;
		return IMAP_READ_COMMAND;
	}
	if (s == LIT_TOO_LONG_NUMBER) {
		if (!sync && countable)
			reader_skip_literal(r, size);
		else {
			reader_release(r);
			r->state = RS_IDLE;
		}
		return IMAP_READ_BAD_LITERAL;
	}
	/* cmd.len <= max_command was checked just above. */
	if (size > r->max_literal || size + 2 > r->max_command - r->cmd.len) {
		if (sync) {
			reader_release(r);
			r->state = RS_IDLE;
		} else {
			reader_skip_literal(r, size);
		}
		return IMAP_READ_LITERAL_TOO_BIG;
	}
	/* Literal lines always end in CRLF in the stored command, whatever
	 * the client sent, so the parser sees one form. */
	buf_append(&r->cmd, "\r\n", 2);
	r->literal_left = size;
	r->lit_sync = sync;
	r->lit_binary = binary;
	r->state = RS_LIT_DECIDE;
	return IMAP_READ_LITERAL;
}

void imap_reader_literal(const struct imap_reader *r, struct imap_literal *lit)
{
	lit->size = r->literal_left;
	lit->sync = r->lit_sync;
	lit->binary = r->lit_binary;
}

void imap_reader_accept(struct imap_reader *r)
{
	if (r->state == RS_LIT_DECIDE)
		r->state = r->lit_sync ? RS_LIT_WAIT : RS_LIT;
}

void imap_reader_stream(struct imap_reader *r, imap_literal_sink sink, void *ctx)
{
	if (r->state != RS_LIT_DECIDE)
		return;
	r->sink = sink;
	r->sink_ctx = ctx;
	r->state = RS_LIT_STREAM;
}

void imap_reader_refuse(struct imap_reader *r)
{
	if (r->state != RS_LIT_DECIDE)
		return;
	if (r->lit_sync) {
		/* Never sent without our "+". */
		reader_release(r);
		r->state = RS_IDLE;
	} else {
		reader_skip_literal(r, r->literal_left);
	}
}

/* The literal in progress is complete: back to its line. */
static void reader_literal_done(struct imap_reader *r)
{
	r->line_start = r->cmd.len;
	r->state = RS_LINE;
	r->sink = NULL;
	r->sink_ctx = NULL;
}

/* Append to the discard window, keeping only its last SKIP_WINDOW bytes. */
static void reader_window_add(struct imap_reader *r, const char *p, size_t n)
{
	if (n >= SKIP_WINDOW) {
		buf_reset(&r->cmd);
		buf_append(&r->cmd, p + n - SKIP_WINDOW, SKIP_WINDOW);
		return;
	}
	buf_append(&r->cmd, p, n);
	if (r->cmd.len > SKIP_WINDOW)
		buf_consume(&r->cmd, r->cmd.len - SKIP_WINDOW);
}

enum imap_read_status imap_reader_feed(struct imap_reader *r, const char *data, size_t len,
				       size_t *used)
{
	size_t pos = 0;
	enum imap_read_status st = IMAP_READ_MORE;

	if (r->state == RS_DONE) {
		*used = 0;
		return IMAP_READ_COMMAND;
	}
	while (pos < len && st == IMAP_READ_MORE) {
		const char *nl;
		size_t avail = len - pos, n, room, k;

		switch (r->state) {
		case RS_IDLE:
			reader_release(r);
			r->tag[0] = '\0';
			r->state = RS_LINE;
			break;
		case RS_LINE: {
			size_t linelen = r->cmd.len - r->line_start, scan;
			/* The limits are public fields a caller may raise
			 * after init (e.g. after login): clamp again here. */
			size_t max_line = reader_min(r->max_line, LIMIT_MAX);
			size_t max_command = reader_min(r->max_command, LIMIT_MAX);
			/* One byte of slack for the CR before LF; the exact
			 * check happens in reader_end_line. */
			room = max_line + 1 > linelen ? max_line + 1 - linelen : 0;
			if (max_command + 1 > r->cmd.len)
				room = reader_min(room, max_command + 1 - r->cmd.len);
			else
				room = 0;
			/* Looking one byte past the room is enough to know the
			 * line is too long. */
			scan = reader_min(avail, room + 1);
			nl = memchr(data + pos, '\n', scan);
			n = nl ? (size_t)(nl - (data + pos)) : scan;
			k = reader_min(n, room);
			buf_append(&r->cmd, data + pos, k);
			reader_find_tag(r, r->cmd.len - k, 0);
			pos += k;
			if (k < n) {
				reader_skip_line(r);
				st = IMAP_READ_LINE_TOO_LONG;
			} else if (nl) {
				pos++;
				st = reader_end_line(r);
			}
			break;
		}
		case RS_LIT_DECIDE:
			/* A caller that did not decide reads it. */
			imap_reader_accept(r);
			break;
		case RS_LIT_WAIT:
			r->state = RS_LIT;
			/* fall through */
		case RS_LIT:
			k = (size_t)(r->literal_left < avail ? r->literal_left : avail);
			buf_append(&r->cmd, data + pos, k);
			pos += k;
			r->literal_left -= k;
			if (r->literal_left == 0)
				reader_literal_done(r);
			break;
		case RS_LIT_STREAM:
			k = (size_t)(r->literal_left < avail ? r->literal_left : avail);
			if (k)
				r->sink(r->sink_ctx, data + pos, k);
			pos += k;
			r->literal_left -= k;
			if (r->literal_left == 0)
				reader_literal_done(r);
			break;
		case RS_SKIP_LIT:
			k = (size_t)(r->skip_left < avail ? r->skip_left : avail);
			pos += k;
			r->skip_left -= k;
			if (r->skip_left == 0) {
				buf_reset(&r->cmd);
				r->state = RS_SKIP_LINE;
			}
			break;
		case RS_SKIP_LINE:
			nl = memchr(data + pos, '\n', avail);
			n = nl ? (size_t)(nl - (data + pos)) : avail;
			reader_window_add(r, data + pos, n);
			pos += n;
			if (nl) {
				pos++;
				if (r->cmd.len > 0 && r->cmd.data[r->cmd.len - 1] == '\r')
					r->cmd.len--;
				reader_fail_at_eol(r, r->cmd.data, r->cmd.len);
			}
			break;
		default:
			/* RS_DONE is handled before the loop. */
			*used = pos;
			return IMAP_READ_COMMAND;
		}
	}
	/* A zero-length literal is over as soon as it is announced; settle
	 * that now so pending() and next() see the line state. */
	if (st == IMAP_READ_MORE && (r->state == RS_LIT || r->state == RS_LIT_STREAM) &&
	    r->literal_left == 0)
		reader_literal_done(r);
	if (st == IMAP_READ_MORE && r->state == RS_SKIP_LIT && r->skip_left == 0) {
		buf_reset(&r->cmd);
		r->state = RS_SKIP_LINE;
	}
	*used = pos;
	return st;
}

const char *imap_reader_command(struct imap_reader *r, size_t *len)
{
	if (r->state == RS_IDLE || r->state == RS_SKIP_LIT || r->state == RS_SKIP_LINE ||
	    r->cmd.data == NULL) {
		*len = 0;
		return "";
	}
	*len = r->cmd.len;
	return r->cmd.data;
}

const char *imap_reader_tag(const struct imap_reader *r)
{
	return r->tag[0] != '\0' ? r->tag : "*";
}

void imap_reader_next(struct imap_reader *r)
{
	switch (r->state) {
	case RS_LINE:
		/* Abandoned mid-line: the client is still sending it. */
		reader_skip_line(r);
		break;
	case RS_LIT:
	case RS_LIT_STREAM:
		reader_skip_literal(r, r->literal_left);
		break;
	case RS_LIT_DECIDE:
		imap_reader_refuse(r);
		break;
	case RS_SKIP_LIT:
	case RS_SKIP_LINE:
		break;
	default:
		/* RS_LIT_WAIT: no "+" was sent, so the literal never comes. */
		reader_release(r);
		r->state = RS_IDLE;
		break;
	}
	r->sink = NULL;
	r->sink_ctx = NULL;
}

size_t imap_reader_pending(const struct imap_reader *r)
{
	switch (r->state) {
	case RS_LINE:
	case RS_LIT_DECIDE:
	case RS_LIT_WAIT:
	case RS_LIT:
	case RS_LIT_STREAM:
	case RS_DONE:
		return r->cmd.len;
	default:
		return 0;
	}
}

/* ---- parser ------------------------------------------------------------ */

struct parse_ctx {
	struct arena *a;
	const char *raw;
	size_t len, pos;
	struct imap_arg *stack; /* finished arguments not yet owned by a list */
	size_t top, cap;
	size_t nodes;
	int sections;           /* FETCH: "[" in an atom opens a section */
	int prefix;             /* imap_parse_prefix: ends in an unread literal */
	int announced;          /* ... which was found */
	uint64_t announced_size;
	const char *err;
};

static int parse_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 9051 ATOM-CHAR, plus the list wildcards and "]" that sequence sets,
 * LIST patterns and flags need in practice. Backslash is handled by the
 * caller because it is only allowed first (\Seen, \*). */
static int parse_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return c != '(' && c != ')' && c != '{' && c != '"' && c != '\\';
}

static char parse_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static int parse_fail(struct parse_ctx *c, const char *msg)
{
	c->err = msg;
	return -1;
}

static int parse_push(struct parse_ctx *c, const struct imap_arg *arg)
{
	if (c->top == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		c->stack = xreallocarray(c->stack, ncap, sizeof(*c->stack));
		c->cap = ncap;
	}
	c->stack[c->top++] = *arg;
	return 0;
}

static int parse_count_node(struct parse_ctx *c)
{
	if (++c->nodes > IMAP_MAX_ARGS)
		return parse_fail(c, "Too many arguments");
	return 0;
}

/* Move stack[start..top) into an arena array. */
static struct imap_arg *parse_collect(struct parse_ctx *c, size_t start, size_t *count)
{
	struct imap_arg *arr = NULL;

	*count = c->top - start;
	if (*count > 0) {
		arr = arena_alloc(c->a, *count * sizeof(*arr));
		memcpy(arr, c->stack + start, *count * sizeof(*arr));
	}
	c->top = start;
	return arr;
}

/* pos is on the '['; on success pos is past the matching ']'. Quoted
 * strings inside may hold brackets, so they are skipped as units. */
static int parse_section(struct parse_ctx *c)
{
	size_t depth = 0;
	int inq = 0;

	for (; c->pos < c->len; c->pos++) {
		unsigned char ch = (unsigned char)c->raw[c->pos];
		if (ch == '\0')
			return parse_fail(c, "NUL character in command");
		if (parse_ctl(ch))
			return parse_fail(c, "Invalid character in section");
		if (inq) {
			if (ch == '\\') {
				if (c->pos + 1 >= c->len ||
				    (c->raw[c->pos + 1] != '"' && c->raw[c->pos + 1] != '\\'))
					return parse_fail(c, "Invalid escape in quoted string");
				c->pos++;
			} else if (ch == '"') {
				inq = 0;
			}
		} else if (ch == '"') {
			inq = 1;
		} else if (ch == '[') {
			depth++;
		} else if (ch == ']') {
			if (--depth == 0) {
				c->pos++;
				return 0;
			}
		}
	}
	return parse_fail(c, "Missing ']' in section");
}

/* "[" is an ASTRING-CHAR like any other (a mailbox may be called "a[b");
 * only FETCH attributes (BODY[...], BINARY.PEEK[...]) have sections, whose
 * text may hold spaces and parentheses. */
static int parse_atom(struct parse_ctx *c, struct imap_arg *out)
{
	size_t start = c->pos;

	if (c->raw[c->pos] == '\\')
		c->pos++;
	while (c->pos < c->len) {
		unsigned char ch = (unsigned char)c->raw[c->pos];
		if (ch == ' ' || ch == ')')
			break;
		if (ch == '[' && c->sections) {
			if (parse_section(c) < 0)
				return -1;
			continue;
		}
		if (ch == '\0')
			return parse_fail(c, "NUL character in command");
		if (!parse_atom_char(ch))
			return parse_fail(c, "Invalid character in atom");
		c->pos++;
	}
	out->type = IMAP_ARG_ATOM;
	out->len = c->pos - start;
	out->str = arena_strndup(c->a, c->raw + start, out->len);
	return 0;
}

static int parse_quoted(struct parse_ctx *c, struct imap_arg *out)
{
	size_t start = ++c->pos, n = 0;
	char *dst;

	/* First find the end so the copy is sized once. */
	for (;;) {
		if (c->pos >= c->len)
			return parse_fail(c, "Unterminated quoted string");
		char ch = c->raw[c->pos];
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->pos + 1 >= c->len)
				return parse_fail(c, "Unterminated quoted string");
			if (c->raw[c->pos + 1] != '"' && c->raw[c->pos + 1] != '\\')
				return parse_fail(c, "Invalid escape in quoted string");
			c->pos++;
		} else if (ch == '\0') {
			return parse_fail(c, "NUL character in command");
		} else if (ch == '\r' || ch == '\n') {
			return parse_fail(c, "Invalid character in quoted string");
		}
		c->pos++;
	}
	dst = arena_alloc(c->a, c->pos - start + 1);
	for (size_t i = start; i < c->pos; i++) {
		if (c->raw[i] == '\\')
			i++;
		dst[n++] = c->raw[i];
	}
	dst[n] = '\0';
	c->pos++;
	out->type = IMAP_ARG_QUOTED;
	out->str = dst;
	out->len = n;
	return 0;
}

/* pos is on '{' or on the '~' of "~{". */
static int parse_literal(struct parse_ctx *c, struct imap_arg *out)
{
	uint64_t v = 0;
	size_t digits = 0;

	out->type = IMAP_ARG_LITERAL;
	if (c->raw[c->pos] == '~') {
		out->type = IMAP_ARG_LITERAL8;
		c->pos++;
	}
	c->pos++;
	while (c->pos < c->len && c->raw[c->pos] >= '0' && c->raw[c->pos] <= '9' && digits <= 10) {
		v = v * 10 + (uint64_t)(c->raw[c->pos] - '0');
		digits++;
		c->pos++;
	}
	if (digits == 0 || digits > 10 || v > UINT32_MAX)
		return parse_fail(c, "Invalid literal size");
	if (c->pos < c->len && (c->raw[c->pos] == '+' || c->raw[c->pos] == '-'))
		c->pos++;
	if (c->pos >= c->len || c->raw[c->pos] != '}')
		return parse_fail(c, "Invalid literal");
	c->pos++;
	if (c->pos < c->len && c->raw[c->pos] == '\r')
		c->pos++;
	if (c->pos >= c->len || c->raw[c->pos] != '\n')
		return parse_fail(c, "Literal announcement must end the line");
	c->pos++;
	if (c->prefix && c->pos == c->len) {
		/* The literal the caller is deciding on: its bytes are to come. */
		out->len = 0;
		out->str = arena_strndup(c->a, "", 0);
		c->announced = 1;
		c->announced_size = v;
		return 0;
	}
	if (v > c->len - c->pos)
		return parse_fail(c, "Literal data missing");
	out->len = (size_t)v;
	out->str = arena_strndup(c->a, c->raw + c->pos, out->len);
	c->pos += out->len;
	return 0;
}

static int parse_tag_and_name(struct parse_ctx *c, struct imap_cmd *cmd)
{
	size_t start;
	char *name;

	if (c->len == 0)
		return parse_fail(c, "Empty command");
	while (c->pos < c->len && c->raw[c->pos] != ' ')
		c->pos++;
	if (c->pos == 0)
		return parse_fail(c, "Missing tag");
	if (memchr(c->raw, '\0', c->pos) != NULL)
		return parse_fail(c, "NUL character in command");
	if (!imap_tag_valid(c->raw, c->pos))
		return parse_fail(c, "Invalid tag");
	cmd->tag = arena_strndup(c->a, c->raw, c->pos);
	if (c->pos == c->len)
		return parse_fail(c, "Missing command name");
	start = ++c->pos;
	while (c->pos < c->len && c->raw[c->pos] != ' ') {
		unsigned char ch = (unsigned char)c->raw[c->pos];
		if (ch == '\0')
			return parse_fail(c, "NUL character in command");
		if (!parse_atom_char(ch) || ch == '[' || ch == ']' || ch == '*' || ch == '%')
			return parse_fail(c, "Invalid command name");
		c->pos++;
	}
	if (c->pos == start)
		return parse_fail(c, "Missing command name");
	name = arena_strndup(c->a, c->raw + start, c->pos - start);
	for (char *p = name; *p; p++)
		*p = parse_upper(*p);
	cmd->name = name;
	/* NOTIFY: MessageNew's fetch-atts (RFC 5465) */
	c->sections = strcmp(name, "FETCH") == 0 || strcmp(name, "NOTIFY") == 0;
	return 0;
}

/* "UID FETCH": the first argument names the command that has sections. */
static void parse_note_uid_command(struct parse_ctx *c, const struct imap_cmd *cmd,
				   const struct imap_arg *arg)
{
	if (c->top == 0 && strcmp(cmd->name, "UID") == 0 && imap_arg_is_atom(arg, "FETCH"))
		c->sections = 1;
}

/* Arguments after the command name. Lists are built bottom-up on one flat
 * stack: an open list remembers where its children start, and closing it
 * moves them into the list node. Every byte and node is handled a bounded
 * number of times, so this is linear and never recurses. */
static int parse_args(struct parse_ctx *c, struct imap_cmd *cmd)
{
	size_t frames[IMAP_MAX_DEPTH];
	size_t depth = 0;
	int need_sep = 1, just_opened = 0;
	struct imap_arg arg;

	while (c->pos < c->len) {
		char ch = c->raw[c->pos];

		if (need_sep) {
			if (ch == ')') {
				if (depth == 0)
					return parse_fail(c, "Unbalanced parentheses");
				goto close_list;
			}
			if (ch != ' ')
				return parse_fail(c, "Missing space between arguments");
			c->pos++;
			if (c->pos == c->len && depth == 0)
				break; /* a lone trailing space: some clients send it */
			if (c->pos < c->len && c->raw[c->pos] == ')' && depth == 0)
				return parse_fail(c, "Unbalanced parentheses");
			if (c->pos < c->len && (c->raw[c->pos] == ' ' || c->raw[c->pos] == ')'))
				return parse_fail(c, "Unexpected space");
			need_sep = 0;
			continue;
		}

		memset(&arg, 0, sizeof(arg));
		if (ch == '(') {
			if (depth == IMAP_MAX_DEPTH)
				return parse_fail(c, "Too deeply nested lists");
			if (parse_count_node(c) < 0)
				return -1;
			frames[depth++] = c->top;
			c->pos++;
			just_opened = 1;
			continue;
		}
		if (ch == ')') {
			if (depth == 0 || !just_opened)
				return parse_fail(c, "Unbalanced parentheses");
			goto close_list;
		}
		if (ch == ' ')
			return parse_fail(c, "Unexpected space");
		if (parse_count_node(c) < 0)
			return -1;
		if (ch == '"') {
			if (parse_quoted(c, &arg) < 0)
				return -1;
		} else if (ch == '{' || (ch == '~' && c->pos + 1 < c->len && c->raw[c->pos + 1] == '{')) {
			if (parse_literal(c, &arg) < 0)
				return -1;
		} else if (ch == '\0') {
			return parse_fail(c, "NUL character in command");
		} else if (ch == '\\' || parse_atom_char((unsigned char)ch)) {
			if (parse_atom(c, &arg) < 0)
				return -1;
		} else {
			return parse_fail(c, "Invalid character in atom");
		}
		if (depth == 0)
			parse_note_uid_command(c, cmd, &arg);
		parse_push(c, &arg);
		need_sep = 1;
		just_opened = 0;
		continue;

close_list:
		memset(&arg, 0, sizeof(arg));
		arg.type = IMAP_ARG_LIST;
		depth--;
		arg.list = parse_collect(c, frames[depth], &arg.count);
		parse_push(c, &arg);
		c->pos++;
		need_sep = 1;
		just_opened = 0;
	}
	if (depth > 0 && !c->announced)
		return parse_fail(c, "Unbalanced parentheses");
	/* A prefix ends inside the lists its literal is in: close them. */
	while (depth > 0) {
		memset(&arg, 0, sizeof(arg));
		arg.type = IMAP_ARG_LIST;
		depth--;
		arg.list = parse_collect(c, frames[depth], &arg.count);
		parse_push(c, &arg);
	}
	cmd->args = parse_collect(c, 0, &cmd->nargs);
	return 0;
}

/* The last argument, inside the last lists: where a prefix's literal is. */
static const struct imap_arg *parse_last_leaf(const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->nargs ? &cmd->args[cmd->nargs - 1] : NULL;
	while (a && a->type == IMAP_ARG_LIST && a->count)
		a = &a->list[a->count - 1];
	return a;
}

enum parse_mode { PARSE_WHOLE, PARSE_PREFIX, PARSE_NAME };

static int parse_run(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		     const char **errmsg, enum parse_mode mode)
{
	struct parse_ctx c;
	int ret;

	memset(&c, 0, sizeof(c));
	memset(cmd, 0, sizeof(*cmd));
	c.a = a;
	c.raw = raw;
	c.len = len;
	c.prefix = mode == PARSE_PREFIX;
	ret = parse_tag_and_name(&c, cmd);
	if (ret == 0 && mode != PARSE_NAME)
		ret = parse_args(&c, cmd);
	if (ret == 0 && c.prefix) {
		cmd->literal = parse_last_leaf(cmd);
		cmd->literal_size = c.announced_size;
		if (!c.announced || cmd->literal == NULL ||
		    (cmd->literal->type != IMAP_ARG_LITERAL && cmd->literal->type != IMAP_ARG_LITERAL8))
			ret = parse_fail(&c, "Literal expected");
	}
	free(c.stack);
	if (ret < 0) {
		cmd->name = NULL;
		cmd->args = NULL;
		cmd->nargs = 0;
		cmd->literal = NULL;
		*errmsg = c.err;
		return -1;
	}
	*errmsg = NULL;
	return 0;
}

int imap_parse_command(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		       const char **errmsg)
{
	return parse_run(a, raw, len, cmd, errmsg, PARSE_WHOLE);
}

int imap_parse_prefix(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		      const char **errmsg)
{
	return parse_run(a, raw, len, cmd, errmsg, PARSE_PREFIX);
}

int imap_parse_name(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		    const char **errmsg)
{
	return parse_run(a, raw, len, cmd, errmsg, PARSE_NAME);
}

/* ---- helpers for handlers --------------------------------------------- */

int imap_arg_is_string(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL;
}

int imap_arg_is_astring(const struct imap_arg *a)
{
	if (imap_arg_is_string(a))
		return 1;
	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return 0;
	/* ASTRING-CHAR: ATOM-CHAR or "]"; wildcards, backslash and section
	 * text are atom-only extensions. */
	for (size_t i = 0; i < a->len; i++) {
		unsigned char ch = (unsigned char)a->str[i];
		if (!parse_atom_char(ch) || ch == '*' || ch == '%')
			return 0;
	}
	return 1;
}

int imap_arg_is_nil(const struct imap_arg *a)
{
	return imap_arg_is_atom(a, "NIL");
}

int imap_arg_is_atom(const struct imap_arg *a, const char *upper)
{
	size_t n = strlen(upper);

	if (a->type != IMAP_ARG_ATOM || a->len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (parse_upper(a->str[i]) != parse_upper(upper[i]))
			return 0;
	}
	return 1;
}

int imap_tag_valid(const char *tag, size_t len)
{
	if (len == 0 || len > IMAP_MAX_TAG)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)tag[i];
		/* astring chars except '+': atom chars without the wildcards. */
		if (!parse_atom_char(ch) || ch == '+' || ch == '*' || ch == '%')
			return 0;
	}
	return 1;
}
