/* A message's MIME structure apart from its bytes: what FETCH needs to
 * answer ENVELOPE, BODY, BODYSTRUCTURE and to find the bytes of any
 * BODY[section] or BINARY[part] without parsing the message again.
 *
 * It is made from a parse (mail_structure_from_message), or decoded from
 * the compact form a store keeps for every message it parsed at delivery
 * (mail_structure_encode / _decode). The decoded form is read back from
 * outside the process (a database), so decoding trusts nothing: every
 * length, range, count and the shape of the tree are checked, and the
 * tree is rebuilt without recursion. */
#ifndef HAVEN_STRUCTURE_H
#define HAVEN_STRUCTURE_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"
#include "message.h"

struct mail_structure {
	/* The part tree with byte offsets, types "multipart"/"message" where
	 * section numbering needs them, and transfer encodings. msg->data is
	 * the message when made from a parse, NULL when decoded; msg->len is
	 * the message size either way. */
	struct mail_message *msg;
	/* As IMAP writes them; NULL when made from a parse (rendered from
	 * msg on demand). */
	const char *envelope, *body, *bodystructure;
	size_t envelope_len, body_len, bodystructure_len;
};

/* The structure of a parsed message, which must outlive it. */
struct mail_structure *mail_structure_from_message(struct arena *a, struct mail_message *m);
/* ENVELOPE of the message, BODY (extended 0) or BODYSTRUCTURE (1), appended. */
void mail_structure_envelope(const struct mail_structure *s, struct buf *out);
void mail_structure_body(const struct mail_structure *s, int extended, struct buf *out);

/* The stored form (versioned, self-checking). Encoding renders ENVELOPE,
 * BODY and BODYSTRUCTURE once. */
void mail_structure_encode(const struct mail_structure *s, struct buf *out);
/* 0, or -1 with *why when the bytes are not a structure this version can
 * read (corrupt, truncated, a later format). Everything in a. */
int mail_structure_decode(struct arena *a, const void *data, size_t len,
			  struct mail_structure **out, const char **why);

#endif
