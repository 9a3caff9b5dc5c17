/* EMAILID (RFC 8474 5.1): the ObjectID of a message's content.
 *
 * "M" and the first 128 bits of the SHA-256 of the message's bytes, in
 * lower-case hex. Both stores keep the bytes exactly as they were
 * delivered, so the id is the same in every session, survives COPY and
 * MOVE (the bytes go along unchanged) and is equal for the two stores.
 * Two messages with identical bytes share one EMAILID, which the RFC
 * allows ("the same EMAILID as an existing message upon APPEND ... if it
 * detects that the new message has exactly identical content"). */
#ifndef HAVEN_EMAILID_H
#define HAVEN_EMAILID_H
#include <stddef.h>

#define MAIL_EMAILID_HEX 32
#define MAIL_EMAILID_SIZE (1 + MAIL_EMAILID_HEX + 1)   /* "M", hex, NUL */

/* The EMAILID of the message whose SHA-256 digest (32 bytes) is sha. */
void mail_emailid_from_sha256(const unsigned char *sha, char out[MAIL_EMAILID_SIZE]);
/* The EMAILID of the message msg[0..len). */
void mail_emailid(const char *msg, size_t len, char out[MAIL_EMAILID_SIZE]);
/* 1 if s[0..len) is a syntactically valid ObjectID (1*255 of
 * ALPHA / DIGIT / "_" / "-"). */
int mail_objectid_valid(const char *s, size_t len);

/* The same, fed in pieces (a message streamed from its store). */
struct mail_emailid_state;
struct mail_emailid_state *mail_emailid_begin(void);
void mail_emailid_update(struct mail_emailid_state *st, const void *p, size_t n);
/* Writes the id and frees st. */
void mail_emailid_end(struct mail_emailid_state *st, char out[MAIL_EMAILID_SIZE]);

#endif
