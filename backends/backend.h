/* The storage interface. The protocol layer sees only this file: opaque
 * stores and mailboxes and a table of operations per backend. Everything a
 * backend does that changes mail is atomic (all or nothing, even under
 * kill -9), and every access check lives behind this boundary, so no
 * command handler can forget one.
 *
 * Conventions: functions return 0 on success, -1 on failure with err
 * filled (err->code picks the IMAP response code). Mailbox names are UTF-8,
 * hierarchy delimiter '/', "INBOX" is case-insensitive and always exists.
 * Sequence numbers are 1-based positions in the mailbox *view*, which
 * changes only inside sync(); UIDs are strictly ascending and never
 * reused under one UIDVALIDITY. A view's own flag changes (store_flags)
 * show in its meta() at once; everything else, including its own expunges
 * and appends, reaches the view in sync(). */
#ifndef HAVEN_BACKEND_H
#define HAVEN_BACKEND_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../lib/config.h"
#include "../lib/error.h"
#include "../mail/msgmeta.h"

struct store;
struct mailbox;
struct buf;

/* Who the store belongs to, as the auth helper resolved it. */
struct backend_user {
	const char *name;
	const char *home;
	uid_t uid;
	gid_t gid;
};

/* What STATUS / SELECT report. */
struct mailbox_status {
	uint32_t messages;
	uint32_t recent;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint32_t unseen;         /* count of messages without \Seen */
	uint32_t first_unseen;   /* seq of first unseen, 0 if none (SELECT only) */
	uint64_t highestmodseq;
	uint64_t size;           /* sum of RFC822.SIZE */
};

/* Mailbox attributes reported by list(). */
enum mbox_attr {
	MA_NOSELECT = 1 << 0,
	MA_NOINFERIORS = 1 << 1,
	MA_HASCHILDREN = 1 << 2,
	MA_HASNOCHILDREN = 1 << 3,
	MA_MARKED = 1 << 4,
	MA_UNMARKED = 1 << 5,
	MA_SUBSCRIBED = 1 << 6,
	MA_NONEXISTENT = 1 << 7,
	/* RFC 6154 special use */
	MA_DRAFTS = 1 << 8,
	MA_SENT = 1 << 9,
	MA_TRASH = 1 << 10,
	MA_JUNK = 1 << 11,
	MA_ARCHIVE = 1 << 12,
	MA_ALL = 1 << 13,
	MA_FLAGGED = 1 << 14,
};

typedef void (*backend_list_cb)(void *ctx, const char *name, unsigned attrs);

/* A readable, seekable stream of a message's exact bytes. */
struct msg_stream {
	const struct msg_stream_ops *ops;
	uint64_t size;
};
struct msg_stream_ops {
	/* Read up to n bytes at offset off; returns bytes read, 0 at end, -1. */
	ssize_t (*pread)(struct msg_stream *s, void *buf, size_t n, uint64_t off);
	void (*close)(struct msg_stream *s);
};

enum store_op { STORE_SET, STORE_ADD, STORE_REMOVE };

/* Changes discovered by sync(), reported in view order. */
struct sync_cb {
	/* A message left the view; seq is its number just before removal. */
	void (*expunged)(void *ctx, uint32_t seq, uint32_t uid);
	/* Flags or keywords of a message changed by someone else. */
	void (*flags_changed)(void *ctx, uint32_t seq);
	/* The view now holds `count` messages (after expunges). */
	void (*exists)(void *ctx, uint32_t count);
};

struct backend_ops {
	const char *name;

	/* store */
	int (*store_open)(const struct backend_user *u, const struct config *cfg,
			  struct store **out, struct error *err);
	void (*store_close)(struct store *st);

	/* namespace: list() reports every mailbox (the protocol layer matches
	 * patterns); attrs carry \HasChildren, \Noselect, special use and
	 * \Subscribed. */
	int (*list)(struct store *st, backend_list_cb cb, void *ctx, struct error *err);
	/* special_use: MA_DRAFTS... bits or 0 */
	int (*create)(struct store *st, const char *name, unsigned special_use,
		      struct error *err);
	int (*delete)(struct store *st, const char *name, struct error *err);
	/* Renaming INBOX moves its messages to newname and leaves INBOX empty. */
	int (*rename)(struct store *st, const char *oldname, const char *newname,
		      struct error *err);
	int (*subscribe)(struct store *st, const char *name, int on, struct error *err);
	int (*status)(struct store *st, const char *name, struct mailbox_status *out,
		      struct error *err);
	int (*append)(struct store *st, const char *name, const void *msg, size_t len,
		      uint32_t flags, const char *const *keywords, size_t nkeywords,
		      time_t internaldate, int tz_minutes, uint32_t *uidvalidity,
		      uint32_t *uid, struct error *err);

	/* mailbox (a per-session view) */
	int (*select)(struct store *st, const char *name, int readonly, struct mailbox **out,
		      struct mailbox_status *status, struct error *err);
	void (*mailbox_close)(struct mailbox *mb);
	uint32_t (*count)(struct mailbox *mb);
	const struct msg_meta *(*meta)(struct mailbox *mb, uint32_t seq);
	/* Keyword table: names indexed by msg_meta.kw. */
	size_t (*keywords)(struct mailbox *mb, const char *const **names);
	/* Look for changes made by others (and by this view's own expunges
	 * and appends) and apply them to the view, reporting through cb.
	 * ERR_UNAVAILABLE: the view cannot be kept (UIDVALIDITY changed). */
	int (*sync)(struct mailbox *mb, const struct sync_cb *cb, void *ctx,
		    struct error *err);
	int (*open_message)(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
			    struct error *err);
	/* unchangedsince 0 = unconditional. uids failing the modseq test are
	 * written to *failed (caller-allocated, n entries) with *nfailed. */
	int (*store_flags)(struct mailbox *mb, const uint32_t *uids, size_t n,
			   enum store_op op, uint32_t flags, const char *const *keywords,
			   size_t nkeywords, uint64_t unchangedsince, uint32_t *failed,
			   size_t *nfailed, struct error *err);
	/* uids NULL: every message with \Deleted. Otherwise only those of the
	 * given uids that have \Deleted (UID EXPUNGE). The view changes at the
	 * next sync(). */
	int (*expunge)(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err);
	/* dst_uids (n entries, caller-allocated) receives the new UIDs in
	 * source order. move: expunge the sources atomically with the copy. */
	int (*copy)(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest,
		    int move, uint32_t *dst_uidvalidity, uint32_t *dst_uids,
		    struct error *err);
	/* fd readable when someone else may have changed the mailbox, or -1. */
	int (*notify_fd)(struct mailbox *mb);
	/* Optional (NULL: SEARCH reads the messages). The fields named in
	 * mail_envelope_fields of message uid's top-level header, appended
	 * to out: every occurrence among the first MAIL_SEARCH_FIELDS_MAX
	 * fields (mail/message.h), as written (name through its last line
	 * end), in message order, then an empty line. SEARCH evaluates keys
	 * on those fields over this block exactly as over the message, which
	 * the backend need not read: it may answer from a cache it keeps
	 * (checked against the mailbox as strictly as everything else) and
	 * fills as it reads. 0, 1 if the message is gone, -1 error.
	 * header_fields_done: the end of a run of calls (one SEARCH); the
	 * backend may now save what it learnt. */
	int (*header_fields)(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
	void (*header_fields_done)(struct mailbox *mb);
};

/* Registry: find a backend by name ("mbox"); NULL if unknown. */
const struct backend_ops *backend_find(const char *name);

/* A memory-backed msg_stream (takes ownership of data, freed on close). */
struct msg_stream *msg_stream_from_memory(void *data, size_t len);

#endif
