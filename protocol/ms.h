/* ManageSieve (RFC 5804): the session dialect both workers speak it
 * with, and what the two halves share. The login worker runs the
 * not-authenticated state (ms_login.c: STARTTLS, AUTHENTICATE through the
 * same exchange with the auth helper as IMAP), the user worker the
 * authenticated one (ms_scripts.c, over the store's script interface). */
#ifndef HAVEN_MS_H
#define HAVEN_MS_H
#include <stddef.h>

#include "../lib/buf.h"
#include "session.h"

extern const struct session_dialect ms_dialect;

/* A string as RFC 5804 sends it: quoted when it can be, else a literal. */
void ms_write_string(struct session *s, const char *p, size_t n);
/* The capability lines (each "NAME" ["value"] CRLF) into b: sasl is the
 * space-separated mechanisms offered ("" none; NULL: no SASL line, after
 * login), starttls whether STARTTLS
 * is. A ManageSieve session's s->capability returns such a block. */
void ms_capability_text(struct buf *b, const char *sasl, int starttls);

/* Valid in both states and in both workers. */
void ms_cmd_capability(struct session *s, const struct imap_cmd *cmd);
void ms_cmd_noop(struct session *s, const struct imap_cmd *cmd);
void ms_cmd_logout(struct session *s, const struct imap_cmd *cmd);

/* ms_login.c: the not-authenticated command table */
extern const struct command ms_login_commands[];
extern const size_t ms_login_ncommands;
/* The login worker's capability block (its s->capability). */
const char *ms_login_capability(struct session *s);
/* The capability block and OK: the greeting, and again after STARTTLS. */
void ms_login_greet(struct session *s);

/* ms_scripts.c: the authenticated state in the user worker */
extern const struct command ms_worker_commands[];
extern const size_t ms_worker_ncommands;
const char *ms_worker_capability(struct session *s);

#endif
