/* Helpers shared by the files of mail/ that implement message.h: header
 * field iteration, RFC 5322 lexing, IMAP string output, charsets. Not for
 * use outside mail/. */
#ifndef HAVEN_MAIL_PRIVATE_H
#define HAVEN_MAIL_PRIVATE_H
#include <stddef.h>

#include "message.h"

/* ---- header.c ---------------------------------------------------------- */

/* One header field: the raw lines (including the final line end, if the
 * field has one) and the name and folded value inside them. */
struct mail_field {
	const char *raw;         /* field start */
	size_t raw_len;          /* through the last line end of the field */
	const char *name;
	size_t name_len;         /* without trailing blanks before ':' */
	const char *value;       /* after ':' and leading blanks, still folded */
	size_t value_len;        /* without the final line end */
};

/* Iterates the fields of a header block [p, end). Lines that are not
 * fields (no ':', an mbox "From " line, a stray continuation at the
 * start) are skipped. Every byte is looked at once. */
struct mail_field_iter {
	const char *p, *end;
};

void mail_field_iter_init(struct mail_field_iter *it, const char *hdr, size_t len);
/* 1 and *f filled, or 0 at the end. */
int mail_field_next(struct mail_field_iter *it, struct mail_field *f);
/* Every line of the header up to the empty line that ends it, with its
 * continuation lines: a field, or (name and value NULL) a line that is no
 * field, whose bytes are still part of the header. 1 and *f filled, or 0
 * at the end. */
int mail_header_next(struct mail_field_iter *it, struct mail_field *f);

/* Folded value -> one line: CR and LF removed (the blanks that follow a
 * fold stay, as RFC 5322 unfolding says), NUL-terminated copy. */
char *mail_unfold(struct arena *a, const char *v, size_t len, size_t *outlen);

int mail_name_eq(const char *name, size_t len, const char *lit);

/* ---- lex.c: RFC 5322 / 2045 tokens over an unfolded value -------------- */

struct mail_lex {
	const char *p, *end;
};

/* Skip blanks, CR/LF and (nested) comments; the text of the first comment
 * seen is stored in *comment when comment is not NULL and still empty. */
void mail_lex_cfws(struct mail_lex *lx, struct arena *a, char **comment);
/* RFC 2045 token (any CHAR but SP, CTLs and tspecials); NULL if none. */
char *mail_lex_token(struct mail_lex *lx, struct arena *a);
/* Quoted string at *p == '"', unescaped; an unterminated one runs to the end. */
char *mail_lex_quoted(struct mail_lex *lx, struct arena *a);

/* ---- content.c --------------------------------------------------------- */

/* Fill part's Content-* fields from its header block (first occurrence of
 * each wins). digest_child: default type is message/rfc822. */
void mail_content_parse(struct arena *a, struct mail_part *part, const char *hdr,
			size_t hdr_len, unsigned max_headers, int digest_child);

/* ---- rfc2231.c --------------------------------------------------------- */

/* Parameters after the first ';' of a Content-Type/Disposition value. */
void mail_params_parse(struct arena *a, struct mail_lex *lx, struct mail_param **out,
		       size_t *nout);

/* ---- encwords.c -------------------------------------------------------- */

/* Convert in[0..len) from charset to UTF-8 into out (appended). 0 or -1
 * (unknown charset, invalid input: nothing appended). */
int mail_charset_to_utf8(const char *charset, const char *in, size_t len, struct buf *out);

/* ---- imapstr.c --------------------------------------------------------- */

/* nstring: NIL for NULL, a quoted string when safe, else a literal. */
void mail_imap_nstring(struct buf *out, const char *s, size_t len);
void mail_imap_cstring(struct buf *out, const char *s); /* s may be NULL -> NIL */
/* Quoted/literal string with ASCII letters lower-cased. */
void mail_imap_lstring(struct buf *out, const char *s);

/* ---- address.c --------------------------------------------------------- */

#define MAIL_MAX_ADDRESSES 10000 /* per header field: more are dropped */

/* Write an IMAP address list "((name adl mailbox host)...)" or NIL for the
 * unfolded header value v. */
void mail_write_addresses(struct buf *out, struct arena *a, const char *v, size_t len);

#endif
