/* PREVIEW (RFC 8970): a short plain-text extract of a message for a
 * mailbox listing.
 *
 * The text comes from the first part, in MIME order, that is text/plain
 * or text/html (or has no Content-Type) and is not an attachment:
 * transfer decoded, converted from its charset to UTF-8 (invalid
 * sequences become U+FFFD), HTML reduced to its text (tags, comments,
 * <script> and <style> content dropped; the usual character references
 * decoded), every run of white space and control characters collapsed
 * into one space, leading and trailing space removed, and cut to at most
 * MAIL_PREVIEW_CHARS characters (RFC 8970 3.3: SHOULD 200, never more
 * than 256). A message without such a part has the empty preview, the
 * RFC's answer for "no meaningful preview". */
#ifndef HAVEN_PREVIEW_H
#define HAVEN_PREVIEW_H
#include <stddef.h>

#include "../lib/buf.h"
#include "message.h"

#define MAIL_PREVIEW_CHARS 200

/* The preview of m (whose data must be set), appended to out. */
void mail_preview(const struct mail_message *m, struct buf *out);
/* The preview of text s[0..len), UTF-8 already; html: s is HTML. */
void mail_preview_text(const char *s, size_t len, int html, struct buf *out);
/* s[0..len) as an IMAP string (quoted, or a literal when it holds 8-bit
 * characters), appended to out. */
void mail_preview_write(struct buf *out, const char *s, size_t len);

#endif
