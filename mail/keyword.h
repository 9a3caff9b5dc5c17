/* IMAP keywords (flag-keyword = atom, RFC 9051), checked the same way by
 * the protocol when a client names one and by backends before storing. */
#ifndef HAVEN_KEYWORD_H
#define HAVEN_KEYWORD_H
#include <stddef.h>

#define MAIL_KEYWORD_MAX 100   /* bytes; longer ones are refused */

/* 1 for a valid keyword: atom characters except resp-specials, not a
 * system flag (no leading '\'), not NIL in any case, at most
 * MAIL_KEYWORD_MAX bytes. */
int mail_keyword_valid(const char *kw, size_t len);

#endif
