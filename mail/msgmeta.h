/* What IMAP knows about a stored message besides its bytes: system flags,
 * keywords, UID, MODSEQ, INTERNALDATE and size. Shared by the storage
 * interface (backends/backend.h), which fills it, and by everything that
 * decides about messages without reading them (SEARCH, mail/search.h). */
#ifndef HAVEN_MSGMETA_H
#define HAVEN_MSGMETA_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* System flags. \Recent is per view: msg_meta.recent, set by the backend
 * when the message enters the view (select or sync), never stored. */
enum msg_flag {
	MF_SEEN = 1 << 0,
	MF_ANSWERED = 1 << 1,
	MF_FLAGGED = 1 << 2,
	MF_DELETED = 1 << 3,
	MF_DRAFT = 1 << 4,
};
#define MF_ALL (MF_SEEN | MF_ANSWERED | MF_FLAGGED | MF_DELETED | MF_DRAFT)

/* Per-message metadata of a mailbox view (backend.h says how long a
 * pointer to one stays valid). */
struct msg_meta {
	uint32_t uid;
	uint32_t flags;          /* enum msg_flag */
	const uint32_t *kw;      /* indexes into the mailbox keyword table */
	size_t nkw;
	uint64_t modseq;
	time_t internaldate;
	int tz_minutes;          /* zone of internaldate, minutes east of UTC */
	time_t savedate;         /* RFC 8514 save date (UTC); 0: the store keeps none */
	uint64_t size;           /* RFC822.SIZE: exact bytes open_message gives */
	unsigned recent;         /* this view reports it as \Recent (IMAP4rev1) */
};

/* The header fields of ENVELOPE, which are also the ones the SEARCH keys
 * FROM, TO, CC, BCC, SUBJECT and SENT* look at: what a store may keep
 * apart from the message to answer those without reading it.
 * NULL-terminated. */
extern const char *const mail_envelope_fields[];
/* 1 if the field name (len bytes, any case) is one of them. */
int mail_envelope_field(const char *name, size_t len);

#endif
