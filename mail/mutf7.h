/* Modified UTF-7, the IMAP4rev1 encoding of mailbox names (RFC 3501
 * section 5.1.3), to and from UTF-8, which is what Haven uses everywhere
 * inside. Printable US-ASCII except '&' stands for itself, '&' is "&-",
 * anything else is UTF-16 in modified BASE64 (',' for '/', no padding)
 * between '&' and '-'.
 *
 * Pure functions: no state, output appended to a caller's buffer. */
#ifndef HAVEN_MUTF7_H
#define HAVEN_MUTF7_H
#include <stddef.h>

#include "../lib/buf.h"

/* Append the mUTF-7 form of UTF-8 text to out: 0, or -1 (out unchanged)
 * if in is not valid UTF-8 (mutf7_utf8_valid). The result is the
 * canonical form: one shift per run of non-printable characters. */
int mutf7_encode(const char *in, size_t len, struct buf *out);

/* Append the UTF-8 form of mUTF-7 text to out: 0, or -1 (out unchanged,
 * *why, if why is not NULL, a static message) for anything RFC 3501
 * does not allow: 8-bit or control bytes, a printable ASCII character in
 * BASE64, a shift without '-', a character outside the BASE64 alphabet,
 * leftover bits that are not zero or make a partial character, unpaired
 * surrogates, U+0000. Two shifts in a row ("&AOQ-&APY-") are accepted. */
int mutf7_decode(const char *in, size_t len, struct buf *out, const char **why);

/* 1 if s is strict UTF-8: no overlong forms, no surrogates, nothing past
 * U+10FFFF, no NUL byte. */
int mutf7_utf8_valid(const char *s, size_t len);

#endif
