/* The PostgreSQL backend's own types, shared by its files: a user's store
 * (two connections: one for statements, one that only LISTENs) and a
 * mailbox view. Each file's functions are declared here next to the type
 * they work on; the SQL they run is in pg_conn.c and sql/migrations. */
#ifndef HAVEN_PGSQL_H
#define HAVEN_PGSQL_H
#include <stddef.h>
#include <stdint.h>

#include "../backend.h"
#include "pg_conn.h"

/* Bodies are stored in chunks of this size (sql/migrations/0001). */
#define PG_CHUNK (256 * 1024)

/* haven-admin requests kept until the worker takes them: a burst of more
 * is somebody flooding the channel (the asker retries). */
#define PG_ADMIN_QUEUE 8
/* The channel every user worker LISTENs on for haven-admin (lib/admin_note.h). */
#define PG_ADMIN_CHANNEL "haven_admin"

struct store {
	struct pgc db;           /* statements */
	struct pgc listen;       /* LISTEN haven_<user id>: the notify fd */
	int listening;
	int64_t user_id;
	char *login;
	uint64_t max_message;
	long sieve_max_size;     /* sieve_max_script_size */
	long sieve_max_scripts;
	struct mailbox *views;   /* open views, for the listener's hints */
	/* QUOTA: a limit configured (quota_bytes / quota_messages), and
	 * whether the user had one at store open (the row's, or that) */
	int quota_default;
	int quota_limited;
	uint64_t hints;          /* notifications the listener has read (pg_notify.c) */
	int texts_pending;       /* stored bodies whose text pg_tidy may index */
	/* haven-admin requests the listener read, oldest first (pg_admin.c) */
	char *admin_q[PG_ADMIN_QUEUE];
	int admin_n;
};

/* The view's metadata window (pg_window.c): a view of at most
 * PG_META_WINDOW messages is read whole; in a bigger one reads start
 * with PG_META_WINDOW_FIRST messages and double while they go on in
 * order, up to PG_META_WINDOW_MAX (whose rows, while read, take about as
 * much memory as the UID list of 100,000 messages does while it is read:
 * the worker's peak stays where it was). */
#define PG_META_WINDOW 1024
#define PG_META_WINDOW_FIRST 256
#define PG_META_WINDOW_MAX 8192
struct pg_window {
	uint32_t first;          /* seq of metas[0]; 0: empty */
	uint32_t n;
	uint32_t cap;            /* room in metas and present */
	struct msg_meta *metas;
	uint8_t *present;
	uint32_t *kw;            /* keyword indexes of all of them */
	size_t nkw, capkw;
};

struct mailbox {
	struct store *st;
	struct mailbox *next;    /* in st->views */
	int64_t id;
	int readonly;
	uint32_t uidvalidity;
	uint32_t uidnext;        /* of the view's snapshot */
	uint64_t modseq;         /* changes up to here are in the view */
	uint32_t count;
	/* UIDs in view order, loaded on first need; count of them. */
	uint32_t *uids;
	int have_uids;
	/* \Recent for this view: [recent_lo, ..) of what it claimed, as
	 * ranges (one per claim). */
	struct { uint32_t lo, hi; } *recent;
	size_t nrecent;
	/* keyword table (names in first-seen order); the tables it outgrew,
	 * kept until the view closes (see pg_keyword_index) */
	char **kwnames;
	size_t nkwnames, capkwnames;
	char ***kwold;
	size_t nkwold;
	struct pg_window win;
	/* Flag changes this view made itself since its last sync: (uid,
	 * modseq) pairs sync() must not report back as someone else's. */
	struct { uint32_t uid; uint64_t modseq; } *own;
	size_t nown;
	/* Structures read ahead (rows of PS_MESSAGE_BODIES) for a FETCH that
	 * goes through the view in order; the UID asked for last. */
	PGresult *ahead;
	uint32_t ahead_last;
	/* the message whose body was asked for last */
	uint32_t body_uid;
	int64_t body_id;
	uint64_t body_size;
	/* SORT/THREAD: the batch of header prefixes being read (pg_sort.c) */
	PGresult *sort_rows;
	int sort_next;
	/* the batch of kept sort keys being read, and the keys made for it
	 * to be stored when it is done: body ids and hex records, as
	 * array literals being built ("{1,2", "{0a1b,..."), pg_sort.c */
	PGresult *keys_rows;
	int keys_next;
	struct buf keys_ids, keys_hex;
};

/* pg_backend.c */
extern const struct backend_ops pgsql_backend_ops;
/* "{a,b}" array literal of text values, into out (quoted, escaped). */
void pg_text_array(struct buf *out, const char *const *v, size_t n);
void pg_uid_array(struct buf *out, const uint32_t *v, size_t n);

/* pg_namespace.c */
int pg_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err);
int pg_create(struct store *st, const char *name, unsigned special_use, struct error *err);
int pg_delete(struct store *st, const char *name, struct error *err);
int pg_rename(struct store *st, const char *oldname, const char *newname, struct error *err);
int pg_subscribe(struct store *st, const char *name, int on, struct error *err);
int pg_status(struct store *st, const char *name, struct mailbox_status *out, struct error *err);
/* status->mailboxid of the mailbox row id (and status->uidvalidity): pg_objectid.c */
void pg_mailboxid(struct mailbox_status *status, int64_t id);

/* pg_append.c */
int pg_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
		    const char *const *keywords, size_t nkeywords, time_t internaldate,
		    int tz_minutes, struct appender **out, struct error *err);
int pg_append_write(struct appender *ap, const void *data, size_t len, struct error *err);
int pg_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
		     struct error *err);
void pg_append_abort(struct appender *ap);
/* Store the message under uid in the import's transaction (pg_import.c):
 * haven.import_message instead of haven.append. Frees ap. */
int pg_append_finish_import(struct appender *ap, uint32_t uid, struct error *err);
/* MULTIAPPEND: one transaction for every message (backend.h). */
int pg_append_finish_group(struct appender *const *aps, size_t n, uint32_t *uidvalidity,
			   uint32_t *uids, struct error *err);
/* Statements of a transaction run by hand (BEGIN ... COMMIT): 0 while the
 * connection is still in it, else -1 with ERR_UNAVAILABLE and lost; and
 * a statement of fixed text. */
int pg_txn_check(struct store *st, const char *lost, struct error *err);
int pg_txn_run(struct store *st, const char *sql, struct error *err);

/* pg_import.c: backend.h's import */
int pg_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		    uint32_t uidnext, unsigned flags, struct importer **out, struct error *err);
int pg_import_message(struct importer *im, uint32_t uid, uint32_t flags,
		      const char *const *keywords, size_t nkeywords, time_t internaldate,
		      int tz_minutes, const void *msg, size_t len, struct error *err);
int pg_import_finish(struct importer *im, struct error *err);
void pg_import_abort(struct importer *im);

/* pg_quota.c: QUOTA (RFC 9208) */
int pg_quota_get(struct store *st, struct store_quota *out, struct error *err);
int pg_quota_get_user(struct store *st, const char *login, struct store_quota *out,
		      struct error *err);
int pg_quota_set_user(struct store *st, const char *login, uint64_t limit_bytes,
		      uint64_t limit_messages, struct error *err);
/* dsn with the configured default quotas as connection settings (a
 * copy of dsn when there are none); the caller frees it. */
char *pg_quota_dsn(const char *dsn, const struct config *cfg);
/* backend.h's append_begin: pg_append_begin after a look at the quota
 * (when st->quota_limited), so that an APPEND over it is answered before
 * the client sends the message. */
int pg_quota_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
			  const char *const *keywords, size_t nkeywords, time_t internaldate,
			  int tz_minutes, struct appender **out, struct error *err);

/* pg_view.c */
int pg_select(struct store *st, const char *name, int readonly, struct mailbox **out,
	      struct mailbox_status *status, struct error *err);
void pg_mailbox_close(struct mailbox *mb);
uint32_t pg_count(struct mailbox *mb);
uint32_t pg_uid(struct mailbox *mb, uint32_t seq);
size_t pg_keywords(struct mailbox *mb, const char *const **names);
int pg_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err);
/* The view's UID list, loaded if need be: 0 or -1 with err. */
int pg_view_uids(struct mailbox *mb, struct error *err);
/* Index of keyword name in the view's table, added if new. */
uint32_t pg_keyword_index(struct mailbox *mb, const char *name);
/* seq of uid in the view's UID list (loaded), 0 if not there. */
uint32_t pg_view_seq(const struct mailbox *mb, uint32_t uid);
/* Is uid \Recent in this view? */
int pg_view_recent(const struct mailbox *mb, uint32_t uid);

/* pg_window.c */
const struct msg_meta *pg_meta(struct mailbox *mb, uint32_t seq);
/* A row of PS_META_RANGE's columns (binary) into m, its keywords'
 * indexes appended to kw's array (m->kw is the caller's to point there,
 * once the array stops moving). */
void pg_meta_decode(struct mailbox *mb, const PGresult *r, int row, struct msg_meta *m,
		    struct pg_window *kw);
/* Keyword names of a text[] value into the view's table. */
void pg_keywords_learn(struct mailbox *mb, const char *arr);
/* Where the metadata of uid is in the window (present), or -1. */
long pg_window_index(const struct mailbox *mb, uint32_t uid);
/* New flags of a message (this view's STORE, a sync) into the window. */
void pg_window_update(struct mailbox *mb, uint32_t uid, uint32_t flags, const char *keywords,
		      uint64_t modseq);
/* Forget cached metadata (flags changed, sequence numbers moved). */
void pg_window_drop(struct mailbox *mb);
void pg_window_free(struct mailbox *mb);

/* pg_message.c */
int pg_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out, struct error *err);
/* Forget structures read ahead (sync: messages may be gone). */
void pg_ahead_drop(struct mailbox *mb);
int pg_fetch_structure(struct mailbox *mb, uint32_t uid, struct arena *a,
		       struct mail_structure **out, struct error *err);

/* pg_mutate.c */
int pg_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
		   uint32_t flags, const char *const *keywords, size_t nkeywords,
		   uint64_t unchangedsince, uint32_t *failed, size_t *nfailed, struct error *err);
int pg_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err);
int pg_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest, int move,
	    uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err);

/* pg_listen.c */
int pg_notify_fd(struct mailbox *mb);
/* The listening connection's socket (LISTEN issued first), or -1. */
int pg_listen_fd(struct store *st);

/* pg_sort.c: backend_ops.sort_fields */
int pg_sort_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
/* pg_append.c: backend_ops.tidy (new bodies into the trigram index) */
int pg_tidy(struct store *st, struct error *err);
/* Up to batch waiting bodies into the trigram index, when this store
 * stored any: 1 when more may wait, 0 none, -1 with err. */
int pg_index_texts(struct store *st, int batch, struct error *err);
/* pg_message.c: backend_ops.message_sha256 */
int pg_message_sha256(struct mailbox *mb, uint32_t uid, unsigned char out[32],
		      struct error *err);
void pg_sort_fields_done(struct mailbox *mb);
/* backend_ops.sort_keys: kept in haven.sort_keys, made from the prefix
 * when missing (2: the header goes past it, as pg_sort_fields) */
int pg_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
void pg_sort_keys_done(struct mailbox *mb);
/* Read what the listener has (the hints themselves are not needed: every
 * sync asks the database what changed). */
void pg_listen_drain(struct store *st);
void pg_listen_close(struct store *st);
/* pg_notify.c: NOTIFY's store watch (backend.h watch_fd, watch_changes) */
int pg_watch_fd(struct store *st);
uint64_t pg_watch_changes(struct store *st);

/* pg_admin.c: haven-admin who/kick across hosts (backend_ops.admin_*).
 * pg_admin_note keeps a payload the listener read on PG_ADMIN_CHANNEL. */
void pg_admin_note(struct store *st, const char *payload);
int pg_admin_fd(struct store *st);
int pg_admin_take(struct store *st, char *buf, size_t size);
int pg_admin_answer(struct store *st, const char *nonce, const char *line, struct error *err);
void pg_admin_free(struct store *st);

/* pg_acl.c: ACL (the store_acl_* calls of backend.h) */
int pg_acl_list(struct store *st, const char *mailbox, backend_acl_cb cb, void *ctx,
		struct error *err);
int pg_acl_set(struct store *st, const char *mailbox, const char *identifier, enum acl_mod mod,
	       unsigned rights, struct error *err);
int pg_acl_delete(struct store *st, const char *mailbox, const char *identifier,
		  struct error *err);
int pg_acl_myrights(struct store *st, const char *mailbox, unsigned *rights,
		    struct error *err);
/* pg_metadata.c: METADATA entries (the store_metadata_* calls of backend.h) */
int pg_metadata_list(struct store *st, const char *mailbox, const char *prefix,
		     backend_metadata_cb cb, void *ctx, struct error *err);
int pg_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		    size_t n, const struct metadata_limits *lim, struct error *err);
int pg_metadata_renamed(struct store *st, const char *oldname, const char *newname, int copy,
			struct error *err);
/* pg_sieve.c: Sieve scripts (the store_sieve_* calls of backend.h) */
int pg_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err);
int pg_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err);
int pg_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		 struct error *err);
int pg_sieve_delete(struct store *st, const char *name, struct error *err);
int pg_sieve_rename(struct store *st, const char *oldname, const char *newname,
		    struct error *err);
int pg_sieve_activate(struct store *st, const char *name, struct error *err);
int pg_sieve_active(struct store *st, struct buf *out, char **name, struct error *err);
int pg_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds, time_t now,
			 struct error *err);

/* pg_search.c */
int pg_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
	      uint8_t *result, struct error *err);

/* pg_decide.c: the BM_MAYBE entries of result decided by the evaluator
 * on rows read in batches (those it can decide from a message's header).
 * 0, or -1 with err. */
int pg_search_decide(struct mailbox *mb, const struct search_program *p,
		     struct search_ctx *ctx, uint8_t *result, struct error *err);

#endif
