/* Errors travel as a code plus a human message. The code is what the
 * protocol layer maps to an RFC 5530 response code, so a backend never
 * needs to know IMAP to say "that mailbox does not exist". */
#ifndef HAVEN_ERROR_H
#define HAVEN_ERROR_H

enum error_code {
	ERR_NONE = 0,
	ERR_INTERNAL,       /* [SERVERBUG] */
	ERR_NONEXISTENT,    /* [NONEXISTENT] */
	ERR_TRYCREATE,      /* [TRYCREATE]: target of COPY/APPEND missing */
	ERR_ALREADYEXISTS,  /* [ALREADYEXISTS] */
	ERR_NOPERM,         /* [NOPERM] */
	ERR_INUSE,          /* [INUSE]: lock held too long by someone else */
	ERR_LIMIT,          /* [LIMIT] */
	ERR_OVERQUOTA,      /* [OVERQUOTA] */
	ERR_UNAVAILABLE,    /* [UNAVAILABLE]: backend down */
	ERR_NOTSUPPORTED,   /* [CANNOT]: operation this backend does not do (yet) */
	ERR_CANNOT,         /* [CANNOT]: refused, e.g. invalid mailbox name */
	ERR_PARSE,          /* [PARSE]: message could not be parsed */
	ERR_EXPUNGEISSUED,  /* [EXPUNGEISSUED] */
	ERR_VIEWGONE,       /* a selected mailbox's view cannot be kept (its
			     * UIDVALIDITY changed): the session must end */
};

struct error {
	enum error_code code;
	char msg[256];
};

void error_set(struct error *err, enum error_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void error_clear(struct error *err);
/* RFC 5530 response code name for an error code, or NULL. */
const char *error_resp_code(enum error_code code);

#endif
