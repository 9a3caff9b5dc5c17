/* Parsed RFC 5322 / MIME messages: the structure IMAP clients see through
 * ENVELOPE, BODY, BODYSTRUCTURE and BODY[section].
 *
 * The parser works on the message exactly as FETCH BODY[] serves it (CRLF
 * line ends; a lone LF is tolerated) and records byte offsets and sizes
 * for the header and body of every part, so sections are served as slices
 * of the original bytes. Hostile input (missing boundaries, absurd nesting,
 * 500,000 header lines, 8-bit headers) yields a sensible structure in time
 * linear in the input: limits cap depth and part counts, and nothing is
 * parsed recursively. All memory comes from the caller's arena. */
#ifndef HAVEN_MESSAGE_H
#define HAVEN_MESSAGE_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"

struct mail_limits {
	unsigned max_depth;      /* MIME nesting; deeper parts become leaves */
	unsigned max_parts;      /* parts in one message */
	unsigned max_headers;    /* header fields examined per part */
};
#define MAIL_LIMITS_DEFAULT { 64, 10000, 10000 }

struct mail_param {
	const char *name;        /* as written (attribute), RFC 2231 continuations joined */
	const char *value;       /* decoded value (RFC 2231 charset'lang' removed -> UTF-8) */
	/* What BODYSTRUCTURE shows, as Dovecot and clients expect: sections
	 * joined but not decoded, "name*" for an extended value
	 * ("utf-8''Gr%C3%BC%C3%9Fe.txt"). */
	const char *raw_name;
	const char *raw_value;
};

struct mail_part {
	/* Byte ranges in the message: header includes its terminating empty
	 * line; body runs to the end of the part (before the CRLF that
	 * precedes the next boundary, per RFC 2046). */
	size_t hdr_off, hdr_len;
	size_t body_off, body_len;
	size_t body_lines;       /* lines in body (text/ and message/rfc822) */
	const char *type;        /* lower-case: "text", "multipart", ... */
	const char *subtype;     /* lower-case */
	/* As written in Content-Type, for BODY/BODYSTRUCTURE (which keep the
	 * sender's case); NULL when the type is a default. */
	const char *type_written, *subtype_written;
	struct mail_param *params;
	size_t nparams;
	const char *id, *description, *encoding, *md5; /* NULL if absent */
	const char *disposition; /* NULL if absent */
	struct mail_param *disp_params;
	size_t ndisp_params;
	const char **language;   /* Content-Language list */
	size_t nlanguage;
	const char *location;
	/* multipart: children; message/rfc822: exactly one child, the
	 * embedded message (whose own header is child->hdr_*). */
	struct mail_part *children;
	size_t nchildren;
	struct mail_part *parent;
	int is_message;          /* this part is an embedded message/rfc822 (or global) */
	/* A message-level part's (the root's, an embedded message's) header
	 * as read, at most MIME_HEADER_KEEP bytes: ENVELOPE without the
	 * message's bytes. NULL for other parts. */
	const char *hdr_data;
	size_t hdr_data_len;
};

struct mail_message {
	const char *data;
	size_t len;
	struct mail_part root;   /* the message itself */
};

/* Parse data[0..len). Never fails: garbage yields a text/plain leaf. */
struct mail_message *mail_parse(struct arena *a, const char *data, size_t len,
				const struct mail_limits *lim);

/* The same parse for a message that arrives in pieces and is not kept:
 * feed every byte in order, then finish. The result's data is NULL (the
 * bytes are elsewhere); parts' offsets are into the message as fed.
 * Memory: the headers (at most MIME_HEADER_KEEP bytes each) and the part
 * tree, whatever the message's size. */
#define MIME_LINE_KEEP 2048          /* of a line, for boundary tests */
#define MIME_HEADER_KEEP (1 << 20)   /* of a part's header, for its fields */
struct mail_parser;
struct mail_parser *mail_parser_new(struct arena *a, const struct mail_limits *lim);
void mail_parser_feed(struct mail_parser *ps, const char *data, size_t len);
struct mail_message *mail_parser_finish(struct mail_parser *ps);
/* Free what a parser holds outside its arena, for a message given up
 * before mail_parser_finish (which does this itself); idempotent. */
void mail_parser_abandon(struct mail_parser *ps);

/* Write the IMAP ENVELOPE of a message-level part (root, or the child of a
 * message/rfc822 part) as "(date subject from sender reply-to to cc bcc
 * in-reply-to message-id)": nstrings quoted or as literals, address lists
 * parsed with groups per RFC 9051 7.5.2. */
void mail_write_envelope(struct buf *out, const struct mail_message *m,
			 const struct mail_part *msgpart);
/* BODY (extended = 0) or BODYSTRUCTURE (extended = 1) of part. */
void mail_write_bodystructure(struct buf *out, const struct mail_message *m,
			      const struct mail_part *part, int extended);

/* Resolve a section spec as written between BODY[ and ] (e.g. "",
 * "HEADER", "1.2", "2.MIME", "1.HEADER.FIELDS (From To)", "TEXT",
 * "3.HEADER.FIELDS.NOT (X-Foo)"). On success *ptr and *len give the content:
 * a slice of m->data, or bytes generated into gen (HEADER.FIELDS[.NOT]).
 * A part number that does not exist yields empty content (as servers
 * conventionally answer), not an error. Returns -1 with *err for a
 * malformed spec. */
int mail_section(const struct mail_message *m, const char *spec, size_t speclen,
		 struct buf *gen, const char **ptr, size_t *len, const char **err);

/* A section spec resolved to a byte range of the message, for a caller
 * that reads the bytes from somewhere else (a store that keeps the
 * structure and streams the message). HEADER.FIELDS[.NOT] is the header's
 * range plus the filter to apply to those bytes. */
struct mail_fieldname {
	const char *s;
	size_t len;
};
enum mail_section_filter {
	MAIL_SECTION_RANGE = 0,     /* the bytes of [off, off + len) as they are */
	MAIL_SECTION_FIELDS,        /* those fields of the header at off */
	MAIL_SECTION_FIELDS_NOT,    /* all fields but those */
	MAIL_SECTION_EMPTY,         /* HEADER.FIELDS of a part that is no message */
};
struct mail_section_loc {
	uint64_t off, len;
	enum mail_section_filter filter;
	struct mail_fieldname *names;   /* sorted; point into spec */
	size_t nnames;
};
/* As mail_section, for m's structure alone (m->data is not used). */
int mail_section_locate(const struct mail_message *m, const char *spec, size_t speclen,
			struct mail_section_loc *loc, const char **err);
/* Append the fields of header block hdr that loc selects, and the empty
 * line that ends a header. */
void mail_section_filter(const char *hdr, size_t len, const struct mail_section_loc *loc,
			 struct buf *gen);
void mail_section_loc_free(struct mail_section_loc *loc);

/* The part after p in a pre-order walk of m's MIME tree (from &m->root),
 * NULL after the last; no recursion, no stack (partwalk.c). */
const struct mail_part *mail_part_next(const struct mail_message *m, const struct mail_part *p);
/* What SEARCH TEXT sees of the MIME headers beyond the top-level header's
 * fields: every field of every part's header (unfolded, encoded words
 * decoded) and every Content-Type / Content-Disposition parameter of every
 * part, the root's included, RFC 2231-decoded ("filename=invoice.pdf").
 * NUL after each, appended to out. */
void mail_part_headers_text(struct arena *a, const struct mail_message *m, struct buf *out);

/* Find the part a dotted part number ("1.2.3") names; NULL if none. */
const struct mail_part *mail_find_part(const struct mail_message *m, const char *num,
				       size_t numlen);

/* Header fields as SEARCH matches them (hfield.c): the field runs until a
 * line that does not begin with a blank; lines without a colon are
 * skipped; the header ends at an empty line or at end. Linear. */
#define MAIL_SEARCH_FIELDS_MAX 10000   /* fields looked at per header block */
struct mail_hfield {
	const char *name;        /* trailing blanks before the colon removed */
	size_t name_len;
	const char *value;       /* folded lines, without the final line end */
	size_t value_len;
	const char *raw_end;     /* the field as written is [name, raw_end) */
};
/* Next field of the header block [*pp, end); 0 at the end of the header. */
int mail_hfield_next(const char **pp, const char *end, struct mail_hfield *f);
/* Length of the header block at d: through the first empty line, or all. */
const char *mail_header_block(const char *d, size_t len, size_t *hlen);

/* The addresses of an address field's value (From, To, ...), as parsed for
 * ENVELOPE (address.c). name is the display name, or the comment that
 * stands in for it; the parts are as written (encoded words left encoded),
 * NULL when missing. A group is a GROUP_START (name: the group's) and a
 * GROUP_END around its addresses. */
enum mail_addr_kind { MAIL_ADDR_MAILBOX, MAIL_ADDR_GROUP_START, MAIL_ADDR_GROUP_END };
struct mail_addr {
	enum mail_addr_kind kind;
	const char *name, *route, *mailbox, *host;
	size_t name_len, route_len, mailbox_len, host_len;
};
typedef void (*mail_addr_cb)(void *ctx, const struct mail_addr *ad);
/* Calls cb for each address and group marker of v[0..len) (folded or not),
 * at most 10,000; returns how many. Linear; never recurses. */
size_t mail_addresses_walk(struct arena *a, const char *v, size_t len, mail_addr_cb cb,
			   void *ctx);
/* The addresses of v in one normal form, for SEARCH FROM/TO/CC/BCC: RFC
 * 5322 comments and folding gone, encoded words in names decoded,
 * "Name <mailbox@host>" or "mailbox@host", ", " between them, groups as
 * "Group: a@b, c@d;". UTF-8 (or the header's own bytes), appended to out. */
void mail_address_text(struct arena *a, const char *v, size_t len, struct buf *out);

/* RFC 2047 encoded words in a header value, decoded to UTF-8 (unknown
 * charsets and malformed words are left as they are). */
char *mail_decode_words(struct arena *a, const char *s, size_t len);
/* RFC 5322 date (Date: header) to UTC; -1 if unparsable. */
int mail_parse_date(const char *s, size_t len, int64_t *t, int *zone_minutes);

#endif
