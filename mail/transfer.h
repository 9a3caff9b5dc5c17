/* MIME content transfer encodings (RFC 2045 6.7, 6.8): decoding of part
 * bodies as they appear in the message, for SEARCH BODY/TEXT. Both
 * decoders are lenient, as mail in the wild needs: they never fail, skip
 * what does not belong and keep going. */
#ifndef HAVEN_TRANSFER_H
#define HAVEN_TRANSFER_H
#include <stddef.h>

#include "../lib/buf.h"

struct mail_message;
struct mail_part;

/* Base64: characters outside the alphabet (line ends, blanks, junk) are
 * skipped; decoding stops at the first '='; a trailing partial group
 * yields the whole bytes it holds. Appends to out. */
void mail_decode_base64(const char *in, size_t len, struct buf *out);
/* Quoted-printable: "=XX" (either hex case) is a byte, "=" before a line
 * end (optionally after blanks) is a soft line break, any other "=" is
 * kept as it is; blanks at the end of a line are dropped. Line ends are
 * kept. Appends to out. */
void mail_decode_qp(const char *in, size_t len, struct buf *out);

/* A leaf part's content as text: transfer decoded, converted from its
 * charset to UTF-8 (the bytes as they are when the charset is unknown or
 * the conversion fails), appended to out. Nothing for a part outside
 * m->data. */
void mail_part_text(const struct mail_message *m, const struct mail_part *p, struct buf *out);

#endif
