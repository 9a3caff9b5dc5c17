/* RFC 8474 MAILBOXID in the database: the mailbox row's id, which RENAME
 * keeps (it changes the name in place) and no other mailbox ever gets,
 * with the UIDVALIDITY beside it: a row that was a hierarchy level comes
 * back as a mailbox with a new UIDVALIDITY, and a new MAILBOXID with it
 * (the RFC forbids one id for two such generations). */
#include <inttypes.h>
#include <stdio.h>

#include "pgsql.h"

void pg_mailboxid(struct mailbox_status *s, int64_t id)
{
	snprintf(s->mailboxid, sizeof(s->mailboxid), "F%" PRIx64 "-%08x", (uint64_t)id,
		 s->uidvalidity);
}
