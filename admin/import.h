/* haven-admin import: sources read (source.h) into a user's store through
 * backend.h's import operations, one mailbox at a time. */
#ifndef HAVEN_ADMIN_IMPORT_H
#define HAVEN_ADMIN_IMPORT_H
#include "../backends/backend.h"
#include "source.h"

struct import_run {
	struct store *st;
	unsigned flags;        /* IMPORT_REPLACE (-f) */
	size_t max;            /* largest message (max_literal) */
	size_t mailboxes, messages;
};

/* One mailbox, from an mbox file or a Maildir: 0, or -1 after printing
 * why (the mailbox is then as it was). */
int import_mbox_file(struct import_run *r, const char *path, const char *name);
int import_maildir(struct import_run *r, const char *path, const char *name);

/* UIDs for the messages of one mailbox, in source order (uids: the
 * source's, 0 for none; replaced in place): a source UID is kept while
 * they ascend, the others get new ones above every UID before and the
 * source's UIDNEXT. The mailbox's UIDNEXT. */
uint32_t import_uid_plan(uint32_t *uids, size_t n, uint32_t src_uidnext);

#endif
