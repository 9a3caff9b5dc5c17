/* haven-admin who and kick across hosts: the text of the requests and
 * answers that travel as database notifications (the PostgreSQL store:
 * NOTIFY haven_admin, answers on haven_admin_<nonce>). A request:
 *   "who NONCE"  or  "kick NONCE LOGIN"
 * an answer, one per session or per kicking worker:
 *   "session HOST USER SINCE TLS CLIENT MAILBOX"   (MAILBOX: the rest, may be empty)
 *   "kicked HOST USER N"
 * NONCE is ADMIN_NONCE_LEN lowercase hex digits; HOST, USER, LOGIN and
 * CLIENT are 1..ADMIN_TOKEN_MAX printable ASCII bytes without blanks;
 * SINCE (seconds since 1970) and N are decimal, TLS 0 or 1. Parsing is
 * strict: the bytes come from anyone who may NOTIFY. */
#ifndef HAVEN_ADMIN_NOTE_H
#define HAVEN_ADMIN_NOTE_H
#include <stddef.h>
#include <stdint.h>

/* PostgreSQL refuses a NOTIFY payload of 8000 bytes or more. */
#define ADMIN_NOTE_MAX 7999
#define ADMIN_NONCE_LEN 16
#define ADMIN_TOKEN_MAX 255

enum admin_note_kind { ADMIN_NOTE_WHO, ADMIN_NOTE_KICK };

struct admin_request {
	enum admin_note_kind kind;
	char nonce[ADMIN_NONCE_LEN + 1];
	char login[ADMIN_TOKEN_MAX + 1];    /* kick only */
};

struct admin_answer {
	enum admin_note_kind kind;          /* WHO: a "session" line */
	char host[ADMIN_TOKEN_MAX + 1];
	char user[ADMIN_TOKEN_MAX + 1];
	char client[ADMIN_TOKEN_MAX + 1];   /* session only */
	uint64_t since;                     /* session only */
	int tls;                            /* session only */
	uint64_t n;                         /* kicked only */
	char mailbox[ADMIN_NOTE_MAX + 1];   /* session only; "" none selected */
};

/* 0, or -1 when s (len bytes, no NUL needed) is not exactly one such line. */
int admin_request_parse(const char *s, size_t len, struct admin_request *r);
int admin_answer_parse(const char *s, size_t len, struct admin_answer *a);
/* The line into out (size bytes, at most ADMIN_NOTE_MAX + 1 used): 0, or
 * -1 when a field cannot travel (a blank in a token, a control byte in
 * the mailbox name) or the line would be too long. */
int admin_request_format(const struct admin_request *r, char *out, size_t size);
int admin_answer_format(const struct admin_answer *a, char *out, size_t size);
/* 1 when s is a token as above. */
int admin_note_token(const char *s);

#endif
