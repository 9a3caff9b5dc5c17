/* FETCH items of later extensions, kept apart from cmd_fetch.c's core:
 * SAVEDATE (RFC 8514), EMAILID and THREADID (RFC 8474), PREVIEW and
 * PREVIEW (LAZY) (RFC 8970). Their bits share fetch_req.atts with the
 * core items (cmd_fetch.c's enum fetch_att uses bits 0-7). */
#ifndef HAVEN_FETCHEXT_H
#define HAVEN_FETCHEXT_H
#include <stddef.h>

#include "../backends/backend.h"
#include "../lib/arena.h"
#include "../lib/buf.h"
#include "../mail/emailid.h"
#include "parser.h"

#define FA_SAVEDATE (1u << 8)
#define FA_EMAILID (1u << 9)
#define FA_THREADID (1u << 10)
#define FA_PREVIEW (1u << 11)
/* items made from the message's bytes */
#define FA_EXT_NEEDS_BYTES (FA_EMAILID | FA_PREVIEW)

/* What the byte-made items came to for one message. */
struct fetchext_vals {
	char emailid[MAIL_EMAILID_SIZE];
	const char *preview;    /* in the message's arena */
	size_t preview_len;
};

/* 1 (and its bit in *atts) if name is one of these items. */
int fetchext_att(const char *name, unsigned *atts);
/* PREVIEW's modifier list (RFC 8970 4.1): NULL, or why it is BAD. */
const char *fetchext_preview_mods(const struct imap_arg *list);
/* EMAILID from the digest the store keeps (backend_ops.message_sha256):
 * 1 with v->emailid set, 0 when the message's bytes must be hashed, -1
 * with err. */
int fetchext_stored_emailid(struct mailbox *mb, uint32_t uid, struct fetchext_vals *v,
			    struct error *err);
/* The byte-made items of atts, from the message's stream (read to its
 * end once), into v (zeroed by the caller). 0, or -1 with err. */
int fetchext_prepare(struct arena *a, unsigned atts, struct msg_stream *stream,
		     struct fetchext_vals *v, struct error *err);
/* " SAVEDATE ..." etc. for the items of atts, appended to out. */
void fetchext_write(struct buf *out, unsigned atts, const struct msg_meta *m,
		    const struct fetchext_vals *v, int *sep);

#endif
