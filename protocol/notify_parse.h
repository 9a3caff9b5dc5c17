/* NOTIFY arguments (RFC 5465 section 8) as the client sent them -> what
 * to watch, see notify_parse.c. No session state: the fuzz target runs
 * it on the command parser's output. */
#ifndef HAVEN_NOTIFY_PARSE_H
#define HAVEN_NOTIFY_PARSE_H
#include <stddef.h>

#include "../lib/arena.h"
#include "parser.h"

enum notify_event {
	NE_MESSAGE_NEW = 1 << 0,
	NE_MESSAGE_EXPUNGE = 1 << 1,
	NE_FLAG_CHANGE = 1 << 2,
	NE_ANNOTATION_CHANGE = 1 << 3,
	NE_MAILBOX_NAME = 1 << 4,
	NE_SUBSCRIPTION_CHANGE = 1 << 5,
	NE_MAILBOX_METADATA_CHANGE = 1 << 6,
	NE_SERVER_METADATA_CHANGE = 1 << 7,
};
#define NE_MESSAGE_EVENTS \
	(NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE)
/* The events Haven sends (the others are refused with BADEVENT). */
#define NE_SUPPORTED \
	(NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE | NE_MAILBOX_NAME | \
	 NE_SUBSCRIPTION_CHANGE)
/* What a tagged NO [BADEVENT ...] lists: the supported events. */
#define NOTIFY_BADEVENT_CODE "BADEVENT (MessageNew MessageExpunge FlagChange MailboxName " \
			     "SubscriptionChange)"

enum notify_filter {
	NF_SELECTED,
	NF_SELECTED_DELAYED,
	NF_INBOXES,
	NF_PERSONAL,
	NF_SUBSCRIBED,
	NF_SUBTREE,
	NF_MAILBOXES,
};

struct notify_group {
	enum notify_filter filter;
	const struct imap_arg *names;   /* SUBTREE, MAILBOXES: mailbox arguments */
	size_t nnames;
	unsigned events;                /* NE_ bits; 0: NONE */
	const struct imap_arg *fetch;   /* MessageNew's fetch-att list (SELECTED*), or NULL */
};

struct notify_spec {
	int none;                       /* NOTIFY NONE */
	int status;                     /* SET STATUS */
	struct notify_group *groups;
	size_t ngroups;
};

enum notify_status {
	NOTIFY_OK = 0,
	NOTIFY_BAD = -1,                /* syntax or RFC 5465 section 5 rules: tagged BAD */
	NOTIFY_BADEVENT = -2,           /* an event Haven does not send: NO [BADEVENT (...)] */
};

/* Parse args[0..nargs) (everything after "NOTIFY"). On error *err says
 * why. Allocated in a; the imap_args are referenced, not copied. */
enum notify_status notify_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				struct notify_spec *out, const char **err);

#endif
