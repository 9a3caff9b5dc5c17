/* IMAP URLs (RFC 5092) naming a message or a part of one, as CATENATE
 * (RFC 4469) gives them: the path-absolute form
 *   /mailbox[;UIDVALIDITY=n]/;UID=m[/;SECTION=s][/;PARTIAL=o[.l]]
 * or the same after "imap://[user[;AUTH=type]@]host[:port]". What RFC 5092
 * allows but a message reference cannot be (a search, a mailbox list,
 * URLAUTH) is refused. Percent escapes are decoded; a decoded NUL or
 * control character is refused. */
#ifndef HAVEN_IMAPURL_H
#define HAVEN_IMAPURL_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"

struct imapurl {
	const char *user;        /* NULL: none given */
	const char *auth;        /* ;AUTH= type, NULL: none given */
	const char *host;        /* NULL: the path-absolute form */
	uint32_t port;           /* 0: none given */
	const char *mailbox;     /* decoded; never empty */
	uint32_t uidvalidity;    /* 0: none given */
	uint32_t uid;            /* nz */
	const char *section;     /* decoded, NULL: the whole message */
	int partial;             /* ;PARTIAL= given */
	uint64_t partial_off;
	uint64_t partial_len;    /* 0: to the end */
};

/* Parse len bytes of s; everything is allocated in a. 0, or -1 with *err
 * saying why. */
int imapurl_parse(struct arena *a, const char *s, size_t len, struct imapurl *out,
		  const char **err);

#endif
