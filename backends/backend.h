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
#include "../lib/settings.h"
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
	int64_t id;              /* the passdb's id of the user (SQL users.id); 0: none */
	uint64_t quota_bytes;    /* storage limit; 0: none */
	uint64_t quota_messages; /* message count limit; 0: none */
};

/* What STATUS / SELECT report. */
#define STORE_MAILBOXID_SIZE 48
struct mailbox_status {
	uint32_t messages;
	uint32_t recent;
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint32_t unseen;         /* count of messages without \Seen */
	uint32_t first_unseen;   /* seq of first unseen, 0 if none (SELECT only) */
	uint64_t highestmodseq;  /* 0: the mailbox keeps no MODSEQs (NOMODSEQ) */
	uint64_t size;           /* sum of RFC822.SIZE */
	/* RFC 8474 MAILBOXID: unique among the store's mailboxes, the same
	 * for the same name and UIDVALIDITY, kept by RENAME. A store that
	 * keeps no id of its own leaves it empty, and the status and select
	 * wrappers make it of the UIDVALIDITY (unique in a store that gives
	 * each new mailbox a new one). */
	char mailboxid[STORE_MAILBOXID_SIZE];
};

/* A user's quota (RFC 9208: one quota root per user): what every
 * mailbox holds together, a message in two mailboxes counting twice,
 * sizes as RFC822.SIZE; and the limits the store enforces on APPEND,
 * COPY and delivery (ERR_OVERQUOTA before anything is stored), from the
 * user's record or else the configured quota_bytes / quota_messages.
 * A MOVE changes no usage and is never refused for quota. */
struct store_quota {
	uint64_t used_bytes;
	uint64_t used_messages;
	uint64_t limit_bytes;     /* 0: none */
	uint64_t limit_messages;  /* 0: none */
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
/* An entry of a mailbox's ACL: an identifier and its rights (ACL_*). */
typedef void (*backend_acl_cb)(void *ctx, const char *identifier, unsigned rights);
/* A Sieve script's name, and whether it is the active one. */
typedef void (*backend_sieve_list_cb)(void *ctx, const char *name, int active);
/* A METADATA entry and its value (len bytes, any octets). */
typedef void (*backend_metadata_cb)(void *ctx, const char *entry, const void *value,
				    size_t len);
/* One change of a SETMETADATA: value NULL removes the entry. */
struct metadata_change {
	const char *entry;
	const void *value;
	size_t len;
};
/* A user's limits on METADATA entries (all mailboxes and the server). */
struct metadata_limits {
	size_t max_entries;      /* more: ERR_LIMIT ([METADATA TOOMANY]) */
	uint64_t max_total;      /* bytes of names and values; more: ERR_OVERQUOTA */
};

/* A readable, seekable stream of a message's exact bytes. A backend may
 * serve it from memory (mbox reads one message) or fetch the asked range
 * from its store (PostgreSQL reads chunks): callers read ranges, never
 * assume the whole message is anywhere. */
struct msg_stream {
	const struct msg_stream_ops *ops;
	uint64_t size;
};
struct msg_stream_ops {
	/* Read up to n bytes at offset off; returns bytes read, 0 at end, -1. */
	ssize_t (*pread)(struct msg_stream *s, void *buf, size_t n, uint64_t off);
	void (*close)(struct msg_stream *s);
};

/* A message being appended: begun with its mailbox, flags and date, fed
 * its bytes in pieces as they arrive, then finished (stored, atomically,
 * with its UID) or aborted (nothing stored). Between begin and finish the
 * backend holds no lock that others wait for: a client sending a big
 * message slowly must not stall deliveries. */
struct appender;

/* A mailbox being imported (haven-admin import): written whole with the
 * source's UIDVALIDITY, UIDs, flags, keywords and INTERNALDATE, and
 * visible only when finished, complete: a kill -9 before leaves no trace
 * of it (the mailbox stays absent, or as it was), so an import that
 * failed can simply be run again. */
struct importer;

/* import_begin's flags. */
enum import_flag {
	/* Replace a mailbox that holds messages (else ERR_ALREADYEXISTS; an
	 * absent or empty one is always taken). */
	IMPORT_REPLACE = 1 << 0,
};

enum store_op { STORE_SET, STORE_ADD, STORE_REMOVE };
/* SETACL's "rights", "+rights" and "-rights". */
enum acl_mod { ACL_REPLACE, ACL_ADD, ACL_REMOVE };

/* Changes discovered by sync(), reported in view order. */
struct sync_cb {
	/* A message left the view; seq is its number just before removal. */
	void (*expunged)(void *ctx, uint32_t seq, uint32_t uid);
	/* Flags or keywords of a message changed by someone else. */
	void (*flags_changed)(void *ctx, uint32_t seq);
	/* The view now holds `count` messages (after expunges). */
	void (*exists)(void *ctx, uint32_t count);
};

/* What search() says of each message of the view (indexed by seq - 1). */
enum backend_match { BM_NO = 0, BM_YES = 1, BM_MAYBE = 2 };

/* A setting a backend reads from haven.conf, named "<backend>_<name>"
 * (backends declare their own; the master routes such keys to the user
 * workers only and never to the login workers). */
#define backend_setting setting  /* lib/settings.h */
#define BS_STR SETTING_STR
#define BS_INT SETTING_INT
#define BS_BOOL SETTING_BOOL

struct search_program;
struct search_ctx;
struct mail_structure;
struct arena;

struct backend_ops {
	const char *name;
	/* Its settings, ending with a NULL key. */
	const struct backend_setting *settings;

	/* store: one per user worker (the process serves one user). */
	int (*store_open)(const struct backend_user *u, const struct config *cfg,
			  struct store **out, struct error *err);
	void (*store_close)(struct store *st);
	/* Optional: the same store serves user u from now on (a kept worker
	 * adopted by the next user of its uid and gid, worker_reuse). No
	 * mailbox is open. What is process-wide stays (a database connection
	 * and what it prepared); nothing of the previous user may remain
	 * visible. On failure the store is closed and *st NULL. Without it,
	 * store_reopen closes and opens. */
	int (*store_reopen)(struct store *st, const struct backend_user *u,
			    const struct config *cfg, struct error *err);

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
	/* APPEND as a stream (see struct appender). size: what the client
	 * announced (the literal's length), for quota checks before a byte
	 * is stored. append_write may fail (e.g. over quota, store down):
	 * the caller then aborts. append_finish stores the message and
	 * frees ap whatever happens; append_abort frees it storing nothing.
	 * The message is stored byte for byte as written. */
	int (*append_begin)(struct store *st, const char *name, uint64_t size, uint32_t flags,
			    const char *const *keywords, size_t nkeywords, time_t internaldate,
			    int tz_minutes, struct appender **out, struct error *err);
	int (*append_write)(struct appender *ap, const void *data, size_t len,
			    struct error *err);
	int (*append_finish)(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			     struct error *err);
	void (*append_abort)(struct appender *ap);

	/* Optional: import (see struct importer). uidnext is the source's;
	 * every UID given to import_message is above the previous one and
	 * below uidnext. msg is the message in IMAP form (CRLF), len bytes.
	 * import_finish makes the mailbox appear, complete, and frees im
	 * whatever happens (the checks of import_begin are made again under
	 * the store's lock); import_abort frees it, storing nothing. */
	int (*import_begin)(struct store *st, const char *name, uint32_t uidvalidity,
			    uint32_t uidnext, unsigned flags, struct importer **out,
			    struct error *err);
	int (*import_message)(struct importer *im, uint32_t uid, uint32_t flags,
			      const char *const *keywords, size_t nkeywords, time_t internaldate,
			      int tz_minutes, const void *msg, size_t len, struct error *err);
	int (*import_finish)(struct importer *im, struct error *err);
	void (*import_abort)(struct importer *im);
	/* Optional: rebuild what the store keeps beside the mail itself (the
	 * mbox index) from the mail, under the store's own locks, while
	 * others may use the mailbox. 1: this store keeps nothing to rebuild. */
	int (*reindex)(struct store *st, const char *name, struct error *err);

	/* mailbox (a per-session view) */
	int (*select)(struct store *st, const char *name, int readonly, struct mailbox **out,
		      struct mailbox_status *status, struct error *err);
	void (*mailbox_close)(struct mailbox *mb);
	uint32_t (*count)(struct mailbox *mb);
	/* UID of message seq (1..count): cheap, no I/O once the view holds
	 * its UID list. */
	uint32_t (*uid)(struct mailbox *mb, uint32_t seq);
	/* Metadata of message seq, or NULL when the message is gone from the
	 * store although still in the view (expunged by someone else; the
	 * next sync reports it). The pointer is valid until the next meta(),
	 * sync() or close of this view: a backend may keep only a window of
	 * the view's metadata in memory. */
	const struct msg_meta *(*meta)(struct mailbox *mb, uint32_t seq);
	/* Keyword table: names indexed by msg_meta.kw. */
	size_t (*keywords)(struct mailbox *mb, const char *const **names);
	/* Look for changes made by others (and by this view's own expunges
	 * and appends) and apply them to the view, reporting through cb.
	 * ERR_VIEWGONE: the view cannot be kept (UIDVALIDITY changed); any
	 * other error leaves the view as it was, to be synced later. */
	int (*sync)(struct mailbox *mb, const struct sync_cb *cb, void *ctx,
		    struct error *err);
	int (*open_message)(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
			    struct error *err);
	/* Optional: the message's MIME structure as the store keeps it
	 * (parsed once at delivery), allocated in a. 0, 1 when this store
	 * does not keep it for this message (the caller parses the message),
	 * -1 with err (ERR_EXPUNGEISSUED: the message is gone). */
	int (*fetch_structure)(struct mailbox *mb, uint32_t uid, struct arena *a,
			       struct mail_structure **out, struct error *err);
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
	/* A descriptor that becomes readable when someone else may have
	 * changed the mailbox, or -1 (the caller then polls). It belongs to
	 * the backend and may be shared by every view of the store (one
	 * inotify instance, one LISTEN connection): a readable fd is drained
	 * by the next sync() of any view, so a caller woken by it must call
	 * sync() on its view, and must not read the fd itself; and a caller
	 * that syncs one view must let the other waiting views sync too
	 * (their wake-up may be what it drained). */
	int (*notify_fd)(struct mailbox *mb);
	/* Optional search push-down: decide, for every message of the view,
	 * BM_YES, BM_NO or BM_MAYBE (the caller evaluates those itself), in
	 * result[seq - 1]. ctx is prepared (search_prepare: '*' resolved,
	 * saved result, count). 0, 1 when this program is not pushed down at
	 * all (the caller evaluates every message), -1 with err. */
	int (*search)(struct mailbox *mb, const struct search_program *p,
		      struct search_ctx *ctx, uint8_t *result, struct error *err);

	/* Optional: the user's Sieve scripts (see store_sieve_list below
	 * for what each does; the wrappers have checked the names). */
	int (*sieve_list)(struct store *st, backend_sieve_list_cb cb, void *ctx,
			  struct error *err);
	int (*sieve_get)(struct store *st, const char *name, struct buf *out,
			 struct error *err);
	int (*sieve_put)(struct store *st, const char *name, const void *data, size_t len,
			 struct error *err);
	int (*sieve_delete)(struct store *st, const char *name, struct error *err);
	int (*sieve_rename)(struct store *st, const char *oldname, const char *newname,
			    struct error *err);
	int (*sieve_activate)(struct store *st, const char *name, struct error *err);
	int (*sieve_active)(struct store *st, struct buf *out, char **name, struct error *err);
	int (*sieve_reply_claim)(struct store *st, const char *key, unsigned long seconds,
				 time_t now, struct error *err);

	/* QUOTA (RFC 9208): optional. The user's usage over every mailbox
	 * and the limits the store enforces (see struct store_quota). */
	int (*quota_get)(struct store *st, struct store_quota *out, struct error *err);
	/* METADATA (RFC 5464): entries of the server (mailbox "") and of
	 * mailboxes (see store_metadata_list below; the wrappers have
	 * checked the names). Optional as a whole. */
	int (*metadata_list)(struct store *st, const char *mailbox, const char *prefix,
			     backend_metadata_cb cb, void *ctx, struct error *err);
	int (*metadata_set)(struct store *st, const char *mailbox,
			    const struct metadata_change *v, size_t n,
			    const struct metadata_limits *lim, struct error *err);
	/* Optional: called after a DELETE (name is gone) and a RENAME (copy:
	 * INBOX was renamed, and keeps its entries), for a store whose
	 * entries do not follow the mailbox by themselves. */
	int (*metadata_deleted)(struct store *st, const char *name, struct error *err);
	int (*metadata_renamed)(struct store *st, const char *oldname, const char *newname,
				int copy, struct error *err);
	/* NOTIFY (RFC 5465): a watch on the whole store, for sessions told of
	 * changes to mailboxes they have not selected. Optional.
	 * watch_fd: a descriptor that becomes readable when any mailbox of
	 * the store, the list of mailboxes or the subscriptions may have
	 * changed (by this process or another, on this host or another), or
	 * -1 when the store cannot watch (now: it may later). It belongs to
	 * the store; it may be the views' notify_fd, and then a view's
	 * sync() may drain it (see notify_fd): so the caller never reads it
	 * but calls watch_changes, which drains it and returns a count that
	 * grows whenever what it watches may have changed, whoever drained
	 * the fd. A caller keeps the count it saw last; when the count has
	 * grown it compares status() and list() with what it knows. Never
	 * blocks; a change the store cannot tell apart from none may grow
	 * the count (a hint), a change it watches never leaves it as it was.
	 * Calling status() or list() must not grow it for ever (no echo). */
	int (*watch_fd)(struct store *st);
	uint64_t (*watch_changes)(struct store *st);
	/* MULTIAPPEND (RFC 3502). Optional: finish n appenders (n >= 2),
	 * begun on one store for one mailbox and all written, as one
	 * append: every message is stored (uids[i], ascending, in the
	 * appenders' order) or none is, even under kill -9 or a full disk.
	 * Frees every appender whatever happens. */
	int (*append_finish_group)(struct appender *const *aps, size_t n,
				   uint32_t *uidvalidity, uint32_t *uids, struct error *err);
	/* SORT and THREAD (RFC 5256), optional: message uid's header fields
	 * of mail_envelope_fields (what SORT compares) and those
	 * mail_thread_field names (References: for THREAD), as a header block
	 * ("Name: value" lines, then an empty line) appended to out, from
	 * what the store keeps rather than the message. 0, 1 if the message
	 * is gone, -1 with err. sort_fields_done ends a run of calls (the
	 * store may keep what it had to read). */
	int (*sort_fields)(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
	void (*sort_fields_done)(struct mailbox *mb);
	/* OBJECTID (RFC 8474), optional: the SHA-256 of message uid's bytes
	 * as the store keeps it, for EMAILID without reading the message. 0,
	 * 1 when the store keeps none for it (the caller hashes the bytes),
	 * -1 with err (ERR_EXPUNGEISSUED: the message is gone). */
	int (*message_sha256)(struct mailbox *mb, uint32_t uid, unsigned char out[32],
			      struct error *err);
	/* QUOTA for an administrator (RFC 9208 SETQUOTA), optional: usage
	 * and limits of another user of the store, by login (quota_get's
	 * meaning; ERR_NONEXISTENT: no such user), and setting that user's
	 * limits (0: none, then the configured default applies), both in
	 * one atomic step. A store whose limits live where it cannot write
	 * (the passdb record, PAM/LDAP) leaves both NULL. */
	int (*quota_get_user)(struct store *st, const char *login, struct store_quota *out,
			      struct error *err);
	int (*quota_set_user)(struct store *st, const char *login, uint64_t limit_bytes,
			      uint64_t limit_messages, struct error *err);
	/* ACL (RFC 4314), optional as a whole: see "ACL" below for what
	 * each does; the store checks the caller's rights itself (in SQL
	 * for PostgreSQL), whatever the protocol layer did before. */
	int (*acl_list)(struct store *st, const char *mailbox, backend_acl_cb cb, void *ctx,
			struct error *err);
	int (*acl_set)(struct store *st, const char *mailbox, const char *identifier,
		       enum acl_mod mod, unsigned rights, struct error *err);
	int (*acl_delete)(struct store *st, const char *mailbox, const char *identifier,
			  struct error *err);
	int (*acl_myrights)(struct store *st, const char *mailbox, unsigned *rights,
			    struct error *err);
	/* SORT and THREAD, optional: message uid's sort keys as one record
	 * (mail_sort_keys_encode) appended to out, made once per message and
	 * kept by the store across sessions, so that a session's first SORT
	 * parses no header. The store makes them from its sort_fields when
	 * it has none, or none valid any more (another key version, the
	 * message bytes changed). 0, 1 if the message is gone, -1 with err.
	 * sort_keys_done ends a run of calls (the store keeps what it made). */
	int (*sort_keys)(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
	void (*sort_keys_done)(struct mailbox *mb);
	/* Deferred work, optional: a little of what the store leaves for
	 * later so that commands stay short (the PostgreSQL store: new
	 * bodies' search texts into the trigram index), in a transaction of
	 * its own, never changing what any command answers. The worker calls
	 * it once no command has come for a moment. 1: more remains (call
	 * again while still idle), 0: nothing left, -1 with err. */
	int (*tidy)(struct store *st, struct error *err);
	/* haven-admin who/kick across hosts (optional; lib/admin_note.h
	 * says the text): admin_fd, a descriptor readable when a request
	 * from haven-admin may have come, or -1 (no way now; asked again
	 * at the next session). admin_take copies the next request read
	 * (drain the fd first) into buf: 1, or 0 when none is waiting; with
	 * buf NULL only whether one read already waits, reading nothing.
	 * admin_answer sends one answer line to the asker of nonce. */
	int (*admin_fd)(struct store *st);
	int (*admin_take)(struct store *st, char *buf, size_t size);
	int (*admin_answer)(struct store *st, const char *nonce, const char *line,
			    struct error *err);
};

/* Test builds (HAVEN_TEST_HOOKS) only: when the home of the store's user
 * holds .haven-test-stop-<what>, remove it and stop (SIGSTOP) right here,
 * for a test to kill the process at that point. Nothing in other builds. */
void backend_test_stop(const char *what);

/* Registry: find a backend by name ("mbox"); NULL if unknown. */
const struct backend_ops *backend_find(const char *name);
/* Check every backend setting in cfg's extra keys against the backends'
 * declarations (unknown key, bad value), with file:line in err. */
int backend_settings_check(const struct config *cfg, struct error *err);
/* Settings of the given backend as configured (or defaulted). */
const char *backend_setting_str(const struct config *cfg, const char *key);
long backend_setting_int(const struct config *cfg, const char *key);
int backend_setting_bool(const struct config *cfg, const char *key);

/* Mailbox names every backend refuses, with ERR_CANNOT: empty or longer
 * than BACKEND_NAME_MAX bytes, not strict UTF-8, control characters, an
 * empty component (leading, trailing or doubled '/'), a component that
 * begins with '.' or ends in ".lock" or is over 250 bytes, more than
 * BACKEND_DEPTH_MAX levels, children of INBOX (\NoInferiors in every
 * store: a spool file in mbox, and the same everywhere so that a user
 * can move between stores). They keep a name a name everywhere: a file,
 * a directory, a database row, a client's folder list. */
#define BACKEND_NAME_MAX 1000
#define BACKEND_DEPTH_MAX 32
int backend_name_check(const char *name, struct error *err);

/* A memory-backed msg_stream (takes ownership of data, freed on close). */
struct msg_stream *msg_stream_from_memory(void *data, size_t len);

/* ---- the calls the protocol layer makes ---------------------------------
 *
 * Thin wrappers over the operations of the store's backend: optional
 * operations, argument checks that every backend needs, and logging of
 * failures live here once instead of in every command handler. A process
 * opens one store (the user worker serves one user); the wrappers use
 * the backend it was opened with. */
int store_open(const char *backend, const struct backend_user *u, const struct config *cfg,
	       struct store **out, struct error *err);
void store_close(struct store *st);
/* *st serves user u from now on (see store_reopen in the ops); on failure
 * *st is NULL. */
int store_reopen(struct store **st, const struct backend_user *u, const struct config *cfg,
		 struct error *err);
int store_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err);
int store_create(struct store *st, const char *name, unsigned special_use, struct error *err);
int store_delete(struct store *st, const char *name, struct error *err);
int store_rename(struct store *st, const char *oldname, const char *newname,
		 struct error *err);
int store_subscribe(struct store *st, const char *name, int on, struct error *err);
int store_status(struct store *st, const char *name, struct mailbox_status *out,
		 struct error *err);
int store_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
		       const char *const *keywords, size_t nkeywords, time_t internaldate,
		       int tz_minutes, struct appender **out, struct error *err);
int store_append_write(struct appender *ap, const void *data, size_t len, struct error *err);
int store_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			struct error *err);
void store_append_abort(struct appender *ap);
/* MULTIAPPEND: finish n >= 1 appenders as one (the ops'
 * append_finish_group; ERR_NOTSUPPORTED, storing nothing, when a backend
 * lacks it and n > 1). Frees every appender whatever happens. */
int store_append_finish_group(struct appender *const *aps, size_t n, uint32_t *uidvalidity,
			      uint32_t *uids, struct error *err);
/* The whole append from one buffer (begin, one write, finish). */
int store_append(struct store *st, const char *name, const void *msg, size_t len,
		 uint32_t flags, const char *const *keywords, size_t nkeywords,
		 time_t internaldate, int tz_minutes, uint32_t *uidvalidity, uint32_t *uid,
		 struct error *err);
/* Import (the ops' import_*; ERR_NOTSUPPORTED when the backend lacks
 * them). The wrapper checks the UID order and the keywords. */
int store_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		       uint32_t uidnext, unsigned flags, struct importer **out,
		       struct error *err);
int store_import_message(struct importer *im, uint32_t uid, uint32_t flags,
			 const char *const *keywords, size_t nkeywords, time_t internaldate,
			 int tz_minutes, const void *msg, size_t len, struct error *err);
int store_import_finish(struct importer *im, struct error *err);
void store_import_abort(struct importer *im);
/* 0 rebuilt, 1 nothing to rebuild in this store, -1 with err. */
int store_reindex(struct store *st, const char *name, struct error *err);
/* Does the backend search (or cache header fields) itself? */
int store_can_search(void);
/* NOTIFY: the store's watch_fd, or -1 (no such op, or not now), and
 * watch_changes (0 without the op). See struct backend_ops. */
int store_watch_fd(struct store *st);
uint64_t store_watch_changes(struct store *st);
/* haven-admin who/kick across hosts: see struct backend_ops. -1 / 0 /
 * ERR_UNSUPPORTED without the ops. */
int store_admin_fd(struct store *st);
int store_admin_take(struct store *st, char *buf, size_t size);
int store_admin_answer(struct store *st, const char *nonce, const char *line,
		       struct error *err);
/* The ops' tidy; 0 (nothing left) when the backend has none. */
int store_tidy(struct store *st, struct error *err);

int mailbox_select(struct store *st, const char *name, int readonly, struct mailbox **out,
		   struct mailbox_status *status, struct error *err);
void mailbox_close(struct mailbox *mb);
uint32_t mailbox_count(struct mailbox *mb);
uint32_t mailbox_uid(struct mailbox *mb, uint32_t seq);
const struct msg_meta *mailbox_meta(struct mailbox *mb, uint32_t seq);
size_t mailbox_keywords(struct mailbox *mb, const char *const **names);
int mailbox_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err);
int mailbox_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
			 struct error *err);
int mailbox_fetch_structure(struct mailbox *mb, uint32_t uid, struct arena *a,
			    struct mail_structure **out, struct error *err);
int mailbox_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
			uint32_t flags, const char *const *keywords, size_t nkeywords,
			uint64_t unchangedsince, uint32_t *failed, size_t *nfailed,
			struct error *err);
int mailbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err);
int mailbox_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest,
		 int move, uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err);
int mailbox_notify_fd(struct mailbox *mb);
int mailbox_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		   uint8_t *result, struct error *err);
/* Binary search of the view's UIDs: seq of uid, 0 if not in the view. */
uint32_t mailbox_uid_to_seq(struct mailbox *mb, uint32_t uid);
/* The ops' message_sha256; 1 when the backend lacks it. */
int mailbox_message_sha256(struct mailbox *mb, uint32_t uid, unsigned char out[32],
			   struct error *err);
/* SORT/THREAD: the header fields sort_fields gives, 2 when the store
 * keeps none (the caller reads the message's header), 0, 1 (gone), -1. */
int mailbox_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
void mailbox_sort_fields_done(struct mailbox *mb);
/* SORT/THREAD: the key record sort_keys gives, 2 when the store keeps no
 * keys (the caller makes them from mailbox_sort_fields), 0, 1 (gone), -1. */
int mailbox_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
void mailbox_sort_keys_done(struct mailbox *mb);

/* ---- Sieve scripts --------------------------------------------------------
 *
 * Per user, RFC 5804's model: named scripts, at most one of them active
 * (the one delivery runs). Every call answers ERR_NOTSUPPORTED when the
 * store keeps no scripts, and ERR_CANNOT for a name that breaks the rules
 * (store_sieve_name_check). Every change is atomic, even under kill -9. */
#define STORE_SIEVE_NAME_MAX 128
/* A script name: strict UTF-8 of 1..STORE_SIEVE_NAME_MAX bytes, no
 * control characters, no '/'. */
int store_sieve_name_check(const char *name, struct error *err);
int store_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err);
/* The script's text into out (appended); ERR_NONEXISTENT when there is
 * no such script. */
int store_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err);
/* Create or replace (the caller has compiled it first); ERR_OVERQUOTA
 * past sieve_max_script_size or sieve_max_scripts. */
int store_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		    struct error *err);
/* ERR_NONEXISTENT; the active script: ERR_INUSE ("ACTIVE" in ManageSieve). */
int store_sieve_delete(struct store *st, const char *name, struct error *err);
/* ERR_NONEXISTENT, ERR_ALREADYEXISTS; the active script stays active
 * under its new name. */
int store_sieve_rename(struct store *st, const char *oldname, const char *newname,
		       struct error *err);
/* name NULL: none active from now on; ERR_NONEXISTENT. */
int store_sieve_activate(struct store *st, const char *name, struct error *err);
/* The active script's text (into out) and name (*name, the caller frees
 * it); 0 with *name NULL when none is active. */
int store_sieve_active(struct store *st, struct buf *out, char **name, struct error *err);
/* Vacation replies sent (RFC 5230 4.2): 1 when none was sent under key
 * (the sender and the handle, hashed: printable, at most 128 bytes)
 * within the last `seconds`, and one is recorded as sent now; 0 when one
 * was. seconds 0 (RFC 6131): always 1. The record is bounded: entries
 * expire, and a store may forget the oldest. */
#define STORE_SIEVE_KEY_MAX 128
int store_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds,
			    struct error *err);

/* ---- QUOTA (RFC 9208) ------------------------------------------------------ */
/* Usage and limits of the store's user; ERR_NOTSUPPORTED when the
 * backend keeps no usage. */
int store_quota_get(struct store *st, struct store_quota *out, struct error *err);
/* For the backends: would bytes and messages more pass a limit of q? */
int store_quota_exceeded(const struct store_quota *q, uint64_t bytes, uint64_t messages);
/* Another user's usage and limits, and setting them (an administrator's
 * GETQUOTA and SETQUOTA); ERR_CANNOT when the store cannot. */
int store_quota_settable(const struct store *st);
int store_quota_get_user(struct store *st, const char *login, struct store_quota *out,
			 struct error *err);
int store_quota_set_user(struct store *st, const char *login, uint64_t limit_bytes,
			 uint64_t limit_messages, struct error *err);
/* ---- METADATA (RFC 5464) ----------------------------------------------------
 *
 * Per user: entries of the server (mailbox "") and of each mailbox, names
 * lower-case (store_metadata_entry_check), values any octets. A mailbox's
 * entries go with it when it is deleted and follow it when it is renamed
 * (RENAME INBOX copies them: INBOX keeps its own). /shared entries of a
 * user's own mailboxes are kept apart from the /private ones under their
 * own names (with one user per account and no ACL, nobody else reads
 * them). Every call answers ERR_NOTSUPPORTED when the store keeps no
 * entries, ERR_NONEXISTENT for a mailbox that does not exist. */
#define STORE_METADATA_ENTRY_MAX 1024
/* An entry name as stored: "/private/..." or "/shared/...", printable
 * ASCII without '*', '%' or upper-case letters, no "//", no trailing '/',
 * at most STORE_METADATA_ENTRY_MAX bytes. root: "/private" and "/shared"
 * alone pass too (GETMETADATA with DEPTH). -1 with a reason in err. */
int store_metadata_entry_check(const char *entry, int root, struct error *err);
/* cb for every entry of mailbox whose name is prefix or begins with
 * prefix "/" (prefix "": every entry), in name order. */
int store_metadata_list(struct store *st, const char *mailbox, const char *prefix,
			backend_metadata_cb cb, void *ctx, struct error *err);
/* All of v or nothing: each entry set (or removed), then the limits
 * checked on the user's entries as they would be. */
int store_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		       size_t n, const struct metadata_limits *lim, struct error *err);

/* ---- ACL (RFC 4314) ----------------------------------------------------------
 *
 * Per mailbox: its owner has every right, always (an ACL cannot name the
 * owner); other users get what the ACL gives their login, or else what
 * it gives "anyone". Rights are the real ones of RFC 4314 with
 * RIGHTS=texk; "c" stands for k x and "d" for t e (2.1.1). A user sees
 * another's mailbox bob's "Name" as "Other Users/bob/Name"
 * (STORE_ACL_OTHER_PREFIX). Every call answers ERR_NOTSUPPORTED when the
 * store keeps no ACLs; ERR_NONEXISTENT for a mailbox that does not exist
 * or on which the caller has no right at all (nothing is given away);
 * ERR_NOPERM when the caller lacks the right the call needs ("a" for all
 * but myrights). */
#define ACL_LOOKUP (1u << 0)   /* l */
#define ACL_READ (1u << 1)     /* r */
#define ACL_SEEN (1u << 2)     /* s */
#define ACL_WRITE (1u << 3)    /* w */
#define ACL_INSERT (1u << 4)   /* i */
#define ACL_POST (1u << 5)     /* p */
#define ACL_CREATE (1u << 6)   /* k */
#define ACL_DELMBOX (1u << 7)  /* x */
#define ACL_DELMSG (1u << 8)   /* t */
#define ACL_EXPUNGE (1u << 9)  /* e */
#define ACL_ADMIN (1u << 10)   /* a */
#define ACL_ALL ((1u << 11) - 1)
/* the virtual rights of RFC 4314 2.1.1, grouped as Dovecot and Cyrus
 * group them (the servers that kept DELETE of a mailbox under "c") */
#define ACL_VCREATE (ACL_CREATE | ACL_DELMBOX)   /* "c": k x */
#define ACL_VDELETE (ACL_DELMSG | ACL_EXPUNGE)   /* "d": t e */
/* "lrswipkxtecda" and its NUL */
#define ACL_RIGHTS_TEXT 14
#define STORE_ACL_OTHER_PREFIX "Other Users/"
#define STORE_ACL_IDENTIFIER_MAX 255
/* Client rights letters (len bytes, no sign) -> bits; -1 with *why for
 * a letter that is no right (RFC 4314 3.1: BAD). */
int acl_rights_parse(const char *s, size_t len, unsigned *out, const char **why);
/* Bits -> letters in the order "lrswipkxtecda"; with_virtual: "c" and
 * "d" when one of their members is there (what clients read). Returns
 * the length. */
size_t acl_rights_format(unsigned rights, int with_virtual, char out[ACL_RIGHTS_TEXT]);
/* Does the store keep ACLs (and so answer ACL commands, and take
 * "Other Users/" names)? */
int store_acl_supported(void);
/* An identifier as the stores take it: 1..STORE_ACL_IDENTIFIER_MAX
 * bytes of printable ASCII or UTF-8 without blanks; "-name" (a negative
 * right) is refused with ERR_CANNOT: Haven keeps none. */
int store_acl_identifier_check(const char *identifier, struct error *err);
/* The ACL: the owner first (all rights), then each identifier. Needs "a". */
int store_acl_list(struct store *st, const char *mailbox, backend_acl_cb cb, void *ctx,
		   struct error *err);
/* SETACL: rights replace, join or leave the identifier's; none left
 * removes it. Needs "a"; the owner's rights cannot change (ERR_CANNOT). */
int store_acl_set(struct store *st, const char *mailbox, const char *identifier,
		  enum acl_mod mod, unsigned rights, struct error *err);
/* DELETEACL: the identifier's entry goes (none: nothing changes). */
int store_acl_delete(struct store *st, const char *mailbox, const char *identifier,
		     struct error *err);
/* The caller's rights on the mailbox. */
int store_acl_myrights(struct store *st, const char *mailbox, unsigned *rights,
		       struct error *err);

#endif
