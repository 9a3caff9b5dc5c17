/* IMAP command input: framing and tokenizing.
 *
 * Two stages. The reader (imap_reader_*) consumes raw client bytes and
 * finds command boundaries: a line, and if the line ends in a literal
 * announcement ({n}, {n+}, {n-}, ~{n}, ~{n+}) exactly n more bytes and then
 * another line, and so on. It enforces the line and literal limits before
 * buffering anything, stops at every literal announcement so the caller
 * can decide what becomes of the literal (read into the command, streamed
 * to the caller piece by piece as it arrives, or refused before a byte of
 * it is read; a synchronizing one gets the caller's "+" only if it is
 * wanted), and after an error discards the rest of the offending command
 * without storing it (memory stays bounded).
 *
 * The parser (imap_parse_command) turns one complete command into a tag, an
 * upper-cased command name and an argument tree (atoms, strings, NIL,
 * parenthesized lists), with no recursion and a depth cap. In FETCH and
 * UID FETCH, atoms may carry a bracketed section, so
 * BODY.PEEK[HEADER.FIELDS (From To)]<0.100> is one atom, as the FETCH
 * handler wants it; elsewhere "[" is an ordinary ASTRING-CHAR. It also
 * parses a command up to a literal announced and not yet read
 * (imap_parse_prefix), for a handler that decides on the literal. */
#ifndef HAVEN_PARSER_H
#define HAVEN_PARSER_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"

#define IMAP_MAX_TAG 64
#define IMAP_MAX_DEPTH 16      /* nested parenthesized lists */
#define IMAP_MAX_ARGS 100000   /* total argument nodes in one command */

enum imap_read_status {
	IMAP_READ_MORE = 0,     /* need more input */
	IMAP_READ_COMMAND,      /* a complete command: imap_reader_command() */
	IMAP_READ_LITERAL,      /* a literal is announced (imap_reader_literal);
				 * decide with imap_reader_accept, _stream or
				 * _refuse before feeding again */
	IMAP_READ_LINE_TOO_LONG,/* line over max_line; command discarded */
	IMAP_READ_LITERAL_TOO_BIG, /* literal over max_literal; command discarded.
				 * For a synchronizing literal nothing more is
				 * read; a non-synchronizing one is skipped. */
	IMAP_READ_BAD_LITERAL,  /* malformed literal announcement (e.g. {99999999999}) */
};

/* Where a streamed literal's bytes go, in pieces as they arrive. */
typedef void (*imap_literal_sink)(void *ctx, const char *data, size_t len);

struct imap_reader {
	size_t max_line;        /* per line, excluding literal data */
	size_t max_literal;     /* per literal */
	size_t max_command;     /* total bytes of one command incl. literals */
	int keep_blank;         /* a blank line is a line (a SASL answer), not
				 * nothing between commands */
	int no_sync;            /* every literal is non-synchronizing: the
				 * client sends {n} and its bytes at once
				 * (ManageSieve has no continuation), so a
				 * refused one is skipped, never read as
				 * commands */
	/* private */
	struct buf cmd;         /* command assembled so far */
	size_t line_start;      /* offset in cmd where the current line began */
	uint64_t literal_left;  /* literal bytes still to read */
	int state;
	int lit_sync, lit_binary; /* the literal announced last */
	imap_literal_sink sink; /* streaming: its destination */
	void *sink_ctx;
	uint64_t skip_left;     /* discarding: literal bytes to drop */
	char tag[IMAP_MAX_TAG + 1];
};

/* A literal announced by IMAP_READ_LITERAL. */
struct imap_literal {
	uint64_t size;
	int sync;               /* {n}: the client waits for "+" */
	int binary;             /* ~{n} (RFC 3516 literal8) */
};

void imap_reader_init(struct imap_reader *r, size_t max_line, size_t max_literal,
		      size_t max_command);
void imap_reader_free(struct imap_reader *r);
/* Consume bytes from data[0..len). Stops as soon as a status other than
 * IMAP_READ_MORE is reached; *used says how many bytes were taken (the
 * caller keeps the rest and calls again). */
enum imap_read_status imap_reader_feed(struct imap_reader *r, const char *data, size_t len,
				       size_t *used);
/* The literal IMAP_READ_LITERAL announced. */
void imap_reader_literal(const struct imap_reader *r, struct imap_literal *lit);
/* Decisions on it. accept: its bytes become part of the command; stream:
 * they go to sink as they arrive and the command keeps only the
 * announcement; (for a synchronizing literal, the caller sends "+" after
 * either). refuse: the command ends here, and nothing more of it is read
 * (a synchronizing literal is never sent without "+"; a non-synchronizing
 * one is skipped with the rest of the command). */
void imap_reader_accept(struct imap_reader *r);
void imap_reader_stream(struct imap_reader *r, imap_literal_sink sink, void *ctx);
void imap_reader_refuse(struct imap_reader *r);
/* The complete command after IMAP_READ_COMMAND (raw bytes, literals
 * included unless streamed, final CRLF stripped), or the command so far
 * after IMAP_READ_LITERAL (its last line ending in the announcement and
 * CRLF). Valid until imap_reader_next(). */
const char *imap_reader_command(struct imap_reader *r, size_t *len);
/* Tag of the command in progress or just finished/failed, "*" if none
 * could be read: used for BAD answers after an error status. */
const char *imap_reader_tag(const struct imap_reader *r);
/* Forget the current command; ready for the next one. */
void imap_reader_next(struct imap_reader *r);
/* Bytes of the command in progress buffered so far (0 between commands). */
size_t imap_reader_pending(const struct imap_reader *r);

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* includes NIL, numbers, sequence sets, BODY[...]<..> */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,  /* {n} */
	IMAP_ARG_LITERAL8, /* ~{n} */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;        /* NUL-terminated (unescaped for QUOTED); NULL for LIST */
	size_t len;             /* bytes in str (literals may contain NUL) */
	struct imap_arg *list;  /* children of a LIST */
	size_t count;
};

struct imap_cmd {
	const char *tag;
	const char *name;       /* upper-cased */
	struct imap_arg *args;  /* top-level arguments after the name */
	size_t nargs;
	/* imap_parse_prefix: the announced literal, the last argument (at
	 * the end of the lists still open; str "", len 0), and its size. */
	const struct imap_arg *literal;
	uint64_t literal_size;
};

/* Parse one complete command (from the reader). Everything is allocated in
 * a. On error returns -1, *errmsg says why (for a tagged BAD), and
 * cmd->tag is set if a valid tag was read (else NULL). */
int imap_parse_command(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		       const char **errmsg);
/* The command so far at IMAP_READ_LITERAL (imap_reader_command): parsed as
 * imap_parse_command would, lists still open closed, cmd->literal set. A
 * syntax error here is one the whole command would have. */
int imap_parse_prefix(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		      const char **errmsg);
/* Only its tag and command name (cmd->args empty). */
int imap_parse_name(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		    const char **errmsg);

/* Helpers for handlers. */
int imap_arg_is_string(const struct imap_arg *a);   /* quoted or literal */
int imap_arg_is_astring(const struct imap_arg *a);  /* atom, quoted or literal */
int imap_arg_is_nil(const struct imap_arg *a);
int imap_arg_is_atom(const struct imap_arg *a, const char *upper); /* case-insensitive */
/* Valid IMAP tag characters (astring chars except '+'). */
int imap_tag_valid(const char *tag, size_t len);

#endif
