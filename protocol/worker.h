/* The user worker: serves every session of one user through the backend
 * vtable. */
#ifndef HAVEN_WORKER_H
#define HAVEN_WORKER_H
#include <time.h>

#include "../backends/backend.h"
#include "../lib/ipc.h"
#include "../lib/config.h"
#include "../mail/seqset.h"
#include "session.h"

struct wsession;

struct worker {
	struct config cfg;
	struct store *store;
	struct backend_user user;
	struct wsession *sessions;   /* linked by next */
	unsigned nsessions;
	int quit_requested;   /* asked the master; waiting for QUIT_OK */
	int quitting;         /* master agreed: exit when the last session ends */
	unsigned sessions_seen;  /* received from the master, ever */
	int parked;           /* kept for another user (worker_reuse) */
};

extern struct worker *W;

struct wsession {
	struct session s;
	struct mailbox *mb;
	int readonly;
	char *mbname;
	struct event *idle_ev;     /* notify fd watch while in IDLE */
	int idle_fd;               /* the fd it watches, -1: polling */
	const char *idle_tag;      /* set while in IDLE */
	int idle_poked;            /* woken by another session's sync */
	char idle_tagbuf[IMAP_MAX_TAG + 1];
	/* SEARCH RETURN (SAVE) result for "$" (RFC 5182): UIDs, ascending;
	 * emptied when the mailbox is unselected. */
	uint32_t *saved;
	size_t nsaved;
	int saved_valid;
	/* Keywords of the view's table (mailbox_keywords) the client has
	 * been told of in FLAGS and PERMANENTFLAGS. */
	size_t kw_announced;
	/* CONDSTORE (condstore.c): the highest MODSEQ the view has shown
	 * (its HIGHESTMODSEQ at SELECT, raised by what sync and STORE
	 * report), whether the mailbox keeps none (NOMODSEQ), and whether
	 * the client has been told one of the two for this mailbox. */
	uint64_t hms;
	int nomodseq;
	int hms_told;
	uint32_t uidnext;   /* UIDNEXT at SELECT: what "*" reaches for VANISHED */
	/* The APPEND whose message is arriving (cmd_append.c; the
	 * command's arena holds it). */
	struct append_state *append;
	uint64_t bytes_in, bytes_out;  /* read from, written to the client */
	int compressed;                /* COMPRESS=DEFLATE is on (compress.c) */
	time_t since;                  /* logged in (haven-admin who) */
	struct notify *notify;         /* NOTIFY SET is in force (cmd_notify.c), or NULL */
	/* RETURN (UPDATE) contexts of the selected mailbox (search_update.c) */
	struct search_update *updates;
	struct wsession *next;
};

static inline struct wsession *wsession_of(struct session *s)
{
	return (struct wsession *)s;
}

/* worker_sync.c: send pending EXISTS/EXPUNGE/FETCH FLAGS for the selected
 * mailbox. Call only where RFC 9051 allows expunge responses. It also
 * wakes this worker's other sessions in IDLE: the sync may have drained
 * the store's notify fd (backend.h) of a change they wait for.
 * wsession_sync_view: the sync alone, for a session so woken. */
void wsession_sync(struct wsession *ws);
void wsession_sync_view(struct wsession *ws);
/* The sync alone, telling flag changes or not (NOTIFY SET without
 * FlagChange for the selected mailbox: RFC 5465 5.1). */
void wsession_sync_told(struct wsession *ws, int flags);
/* Untagged FLAGS and PERMANENTFLAGS naming every keyword of the view:
 * always (SELECT), or only when the view knows keywords the client has
 * not been told of. Call before any FETCH response that carries flags,
 * after the mailbox_meta() of its message (which may add keywords). */
void wsession_announce_flags(struct wsession *ws, int always);
void wsession_unselect(struct wsession *ws);
/* The store was written to: its deferred work (store_tidy) runs once
 * the worker has been idle a moment. */
void worker_tidy_later(void);
/* A mailbox or session was freed: give unused heap back once idle. */
void worker_memory_released(void);
void wsession_idle_stop(struct wsession *ws);
/* cmd_idle.c: make every other session in IDLE sync soon. */
void wsession_idle_poke_others(struct wsession *self);
const char *worker_capability(struct session *s);
/* worker_admin.c: haven-admin's questions, through the master */
/* MSG_WORKER_WHO: the sessions, as MSG_WORKER_SESSIONS. */
void worker_admin_who(struct ipc_msg *m);
/* MSG_WORKER_KICK: every session ends with BYE; MSG_WORKER_KICKED. */
void worker_admin_kick(struct ipc_msg *m);
/* Every session ends with BYE text (a kick); how many did. */
uint32_t worker_admin_end_all(const char *text);
/* worker_admin_db.c: haven-admin's questions through the store, from
 * any host (backend.h admin_*). init once before the sandbox; watch
 * (again) whenever a session arrives; poke after a command (a request
 * a sync read meanwhile waits in the store); stop before the end. */
void worker_admin_db_init(struct event_base *base);
void worker_admin_db_watch(void);
void worker_admin_db_poke(void);
void worker_admin_db_stop(void);
/* worker_stats.c: commands and bytes for the metrics endpoint */
void worker_stats_init(struct event_base *base);
void worker_stats_free(void);
/* A session's command handler ran for usec (session.h on_command). */
void worker_stats_command(const char *name, uint64_t usec);
/* Count what a session's buffers read and write (in ws too). */
void worker_stats_watch(struct wsession *ws, struct bufferevent *bev);
/* Send what is new to the master now. */
void worker_stats_flush(void);
/* worker_deliver.c: MSG_WORKER_DELIVER, a message from LMTP. */
struct ipc_msg;
void worker_deliver(struct ipc_msg *m);

/* worker_util.c */
/* The bit of a system flag ("\\Seen", any case): 0, or -1 when name is
 * none that can be stored. */
int flag_system_bit(const char *name, uint32_t *bit);
/* Flags list "(\Seen $Label)" -> system flag bits + keyword names. */
int flags_parse(struct session *s, const struct imap_arg *list, uint32_t *flags,
		const char ***keywords, size_t *nkeywords, const char **err);
void flags_write(struct session *s, struct mailbox *mb, const struct msg_meta *m);
/* Resolve a sequence set (by seq or uid) against the view into an array
 * of UIDs in ascending order (arena-allocated). */
int seqset_to_uids(struct session *s, struct mailbox *mb, const char *set, int by_uid,
		   uint32_t **uids, size_t *n);
/* The same, answering the command with BAD when the set is invalid. */
int seqset_arg(struct session *s, const struct imap_cmd *cmd, struct mailbox *mb,
	       const char *set, int by_uid, uint32_t **uids, size_t *n);
int wsession_read_message(struct mailbox *mb, uint32_t uid, int header_only, struct buf *out,
			  struct error *err);
/* Message uid's structure (allocated in a) and a stream of its bytes. */
struct mail_structure;
int wsession_open_structured(struct mailbox *mb, uint32_t uid, struct arena *a,
			     struct mail_structure **st, struct msg_stream **stream,
			     struct error *err);
void seqset_write(struct buf *b, const uint32_t *v, size_t n);
/* Mailbox-name argument (astring, modified UTF-7 for IMAP4rev1 clients,
 * UTF-8 after ENABLE IMAP4rev2 / UTF8=ACCEPT) -> UTF-8 name with INBOX
 * canonical; NULL if invalid. */
const char *mailbox_arg(struct session *s, const struct imap_arg *a);
/* The same, answering cmd on failure: BAD for syntax or a broken encoding,
 * NO [CANNOT] for a name no mailbox may have (control characters). */
const char *mailbox_arg_reply(struct session *s, const struct imap_cmd *cmd,
			      const struct imap_arg *a);
/* 1 when the client reads and writes names in UTF-8. */
int mailbox_utf8_mode(const struct session *s);
/* Client bytes (mUTF-7 or UTF-8 by mode) -> UTF-8 in the arena; -1 with
 * *why when not valid in the session's encoding. No other checks. */
int mailbox_name_in(struct session *s, const char *str, size_t len, const char **out,
		    const char **why);
/* Why a UTF-8 name can never be a mailbox name (controls, U+2028/9), or NULL. */
const char *mailbox_name_bad_char(const char *name);
/* UTF-8 name -> what this client reads (arena), NULL if not encodable. */
const char *mailbox_name_out(struct session *s, const char *name);
/* Write a name from mailbox_name_out as a quoted string (or a literal). */
void mailbox_write(struct session *s, const char *wire);

/* Command tables and handlers (cmd_*.c). */
extern const struct command worker_commands[];
extern const size_t worker_ncommands;
void cmd_select(struct session *s, const struct imap_cmd *cmd);
void cmd_create(struct session *s, const struct imap_cmd *cmd);
void cmd_delete(struct session *s, const struct imap_cmd *cmd);
void cmd_rename(struct session *s, const struct imap_cmd *cmd);
void cmd_subscribe(struct session *s, const struct imap_cmd *cmd);
void cmd_list(struct session *s, const struct imap_cmd *cmd);
void cmd_status(struct session *s, const struct imap_cmd *cmd);
void cmd_append(struct session *s, const struct imap_cmd *cmd);
enum literal_action append_literal(struct session *s, const struct imap_cmd *cmd,
				   const struct imap_literal *lit);
/* The APPEND of cmd's message (cmd: its arguments from the mailbox on);
 * replace_uid: REPLACE (RFC 8508), the message of the selected mailbox
 * that the new one replaces once stored (replace_finish). */
enum literal_action append_start(struct session *s, const struct imap_cmd *cmd,
				 const struct imap_literal *lit, uint32_t replace_uid);
/* catenate.c: CATENATE's URL parts (RFC 4469). The message being built:
 * its appender, its bytes so far (*size) and the most it may have. */
struct cat_target {
	struct appender *ap;
	uint64_t *size;
	uint64_t max;
};
enum { CAT_OK = 0, CAT_BADURL = -1, CAT_TOOBIG = -2, CAT_STORE = -3 };
/* Append what the URL part p names (catenate_parse.h; a message of this
 * user), with what it needs allocated in a: CAT_OK, or why not
 * (CAT_STORE: the store's err). */
struct cat_part;
int catenate_url(const struct cat_part *p, struct cat_target *t, struct arena *a,
		 struct error *err);
/* The tagged NO for a CAT_ result other than CAT_OK. */
void catenate_reply(struct session *s, const char *tag, int rc, const char *url,
		    const struct error *err);
/* cmd_replace.c: REPLACE and UID REPLACE (RFC 8508). */
void cmd_replace(struct session *s, const struct imap_cmd *cmd);
enum literal_action replace_literal(struct session *s, const struct imap_cmd *cmd,
				    const struct imap_literal *lit);
enum literal_action uid_literal(struct session *s, const struct imap_cmd *cmd,
				const struct imap_literal *lit);
/* The new message is stored (newuid): the old one goes, and the client
 * hears of both. */
void replace_finish(struct session *s, const char *tag, uint32_t uidvalidity, uint32_t newuid,
		    uint32_t olduid);
void cmd_fetch(struct session *s, const struct imap_cmd *cmd);
void cmd_store(struct session *s, const struct imap_cmd *cmd);
void cmd_expunge(struct session *s, const struct imap_cmd *cmd);
void cmd_close(struct session *s, const struct imap_cmd *cmd);
void cmd_uid(struct session *s, const struct imap_cmd *cmd);
void cmd_check(struct session *s, const struct imap_cmd *cmd);
void cmd_enable(struct session *s, const struct imap_cmd *cmd);
void cmd_namespace(struct session *s, const struct imap_cmd *cmd);
void cmd_copy(struct session *s, const struct imap_cmd *cmd);
void cmd_idle(struct session *s, const struct imap_cmd *cmd);
void cmd_compress(struct session *s, const struct imap_cmd *cmd);
void cmd_search(struct session *s, const struct imap_cmd *cmd);
/* cmd_acl.c: ACL (RFC 4314), as the store keeps them */
void cmd_setacl(struct session *s, const struct imap_cmd *cmd);
void cmd_deleteacl(struct session *s, const struct imap_cmd *cmd);
void cmd_getacl(struct session *s, const struct imap_cmd *cmd);
void cmd_listrights(struct session *s, const struct imap_cmd *cmd);
void cmd_myrights(struct session *s, const struct imap_cmd *cmd);
/* "* MYRIGHTS wire rights" of mailbox name (wire: mailbox_name_out's),
 * for MYRIGHTS and LIST RETURN (MYRIGHTS); -1 with err, nothing written. */
int acl_myrights_write(struct session *s, const char *name, const char *wire,
		       struct error *err);
/* cmd_quota.c: QUOTA (RFC 9208), one root "" per user */
void cmd_getquota(struct session *s, const struct imap_cmd *cmd);
void cmd_getquotaroot(struct session *s, const struct imap_cmd *cmd);
void cmd_setquota(struct session *s, const struct imap_cmd *cmd);
/* QUOTASET is offered to this session's user */
int quota_set_offered(void);
/* cmd_unauth.c: UNAUTHENTICATE (RFC 8437) */
void cmd_unauthenticate(struct session *s, const struct imap_cmd *cmd);
/* SEARCH / UID SEARCH with the search arguments from args[argi]. */
void search_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi);
/* Forget the saved search result ("$" becomes empty). */
void search_saved_reset(struct wsession *ws);
/* Run a parsed search program over the selected view: the matching
 * messages, ascending, as sequence numbers and UIDs (in the command's
 * arena). 0, or -1 with err. name is for the log. */
int search_collect(struct session *s, struct search_program *prog, const char *name,
		   uint32_t **seqs, uint32_t **uids, size_t *n, struct error *err);

/* The highest MODSEQ of the messages a result returns (RFC 7162 3.1.5;
 * with only MIN and/or MAX asked, of uids[0] and uids[n - 1]); 0 if none. */
uint64_t search_results_modseq(struct mailbox *mb, unsigned ret, const uint32_t *uids, size_t n);
/* An ESEARCH response (RFC 4731, 5267) for the command tagged tag: the
 * result options of p over res[0..n), in the requested order. */
void esearch_write(struct session *s, const char *tag, int by_uid,
		   const struct search_program *p, const uint32_t *res, size_t n, uint64_t modseq);
/* The plain form: "* SEARCH n..." or "* SORT n..." (name), with
 * "(MODSEQ m)" when modseq is not 0. */
void search_list_write(struct session *s, const char *name, const uint32_t *res, size_t n,
		       uint64_t modseq);

/* cmd_sort.c / cmd_thread.c: SORT, THREAD (RFC 5256, 5957) and ESORT
 * (RFC 5267); UID SORT / UID THREAD with by_uid and args from argi. */
void cmd_sort(struct session *s, const struct imap_cmd *cmd);
void sort_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi);
void cmd_thread(struct session *s, const struct imap_cmd *cmd);
void thread_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi);
void copy_run(struct session *s, const struct imap_cmd *cmd, int by_uid, int move, size_t argi);
/* FETCH/STORE with a flag saying whether the set is UIDs. */
void fetch_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi);
/* NOTIFY's MessageNew fetch-atts (a list): -1 with *err when FETCH would
 * answer them BAD; and the untagged FETCH of uids (UID always in it),
 * written whole, without yielding. */
int fetch_atts_check(struct session *s, const struct imap_arg *atts, const char **err);
void fetch_push(struct session *s, const struct imap_arg *atts, const uint32_t *uids, size_t n);
void store_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi);
void expunge_run(struct session *s, const struct imap_cmd *cmd, const char *uidset);

/* condstore.c: CONDSTORE (RFC 7162 section 3.1). */
/* A mod-sequence argument: 1..2^63-1, or 0 too when zero_ok
 * (mod-sequence-valzer). -1 if a is not one. */
int modseq_arg(const struct imap_arg *a, int zero_ok, uint64_t *out);
/* A CONDSTORE enabling command ran: from now on every FETCH that carries
 * flags carries MODSEQ. The first time with a mailbox selected, the
 * client learns its HIGHESTMODSEQ (or NOMODSEQ) in an untagged OK. */
void condstore_enable(struct wsession *ws);
/* SELECT/EXAMINE opened a view with status st: remember its
 * HIGHESTMODSEQ and tell it if CONDSTORE is on. */
void condstore_selected(struct wsession *ws, const struct mailbox_status *st);
/* For a command that needs mod-sequences (MODSEQ, CHANGEDSINCE,
 * UNCHANGEDSINCE): -1 after answering BAD when the selected mailbox
 * keeps none (RFC 7162 3.1.2.2); otherwise CONDSTORE is enabled. */
int condstore_require(struct wsession *ws, const struct imap_cmd *cmd);
/* Does a FETCH response carrying flags carry MODSEQ too? */
int condstore_on(const struct wsession *ws);
/* " MODSEQ (n)" for message m, raising the view's highest. */
void modseq_write(struct wsession *ws, struct buf *out, const struct msg_meta *m);

/* qresync.c: QRESYNC (RFC 7162 section 3.2). */
struct qresync_req {             /* SELECT's (QRESYNC (...)) */
	uint32_t uidvalidity;
	uint64_t modseq;
	int have_known;
	struct seqset known;         /* known-uids, parsed, not yet resolved */
};
/* ENABLE QRESYNC is on and the selected mailbox keeps mod-sequences:
 * expunges are told as VANISHED, FETCH responses carry UIDs. */
int qresync_on(const struct wsession *ws);
/* Parse SELECT's QRESYNC parameter p (the list after the word). -1 with
 * *why for a BAD. */
int qresync_param(struct session *s, const struct imap_arg *p, struct qresync_req *q,
		  const char **why);
/* After SELECT with QRESYNC opened st: VANISHED (EARLIER) and the FETCH
 * of flags changed since the client's mod-sequence (3.2.5.1). */
void qresync_selected(struct wsession *ws, struct qresync_req *q,
		      const struct mailbox_status *st);
/* "* VANISHED (EARLIER) ..." for the UIDs of set (resolved) that the view
 * lacks, if any. */
void qresync_vanished_earlier(struct wsession *ws, const struct seqset *set);
/* worker_sync.c: "* seq FETCH (UID u [MODSEQ (m) ]FLAGS (...))". */
void wsession_fetch_flags(struct wsession *ws, uint32_t seq, const struct msg_meta *m);

/* cmd_mailbox.c: STATUS items, shared with LIST-STATUS (RFC 5819). */
enum status_item {
	SI_MESSAGES = 1 << 0,
	SI_RECENT = 1 << 1,
	SI_UIDNEXT = 1 << 2,
	SI_UIDVALIDITY = 1 << 3,
	SI_UNSEEN = 1 << 4,
	SI_DELETED = 1 << 5,
	SI_SIZE = 1 << 6,
	SI_HIGHESTMODSEQ = 1 << 7,
	SI_MAILBOXID = 1 << 8,      /* RFC 8474 */
	/* QUOTA (RFC 9208) and APPENDLIMIT (RFC 7889) */
	SI_DELETED_STORAGE = 1 << 9,
	SI_APPENDLIMIT = 1 << 10,
};
struct status_result {
	struct mailbox_status st;
	uint32_t deleted;
	uint64_t deleted_size;   /* RFC822.SIZE of the \Deleted messages */
};
/* "(MESSAGES UNSEEN ...)" -> SI_ bits; -1 if empty or unknown items. */
int status_items_parse(const struct imap_arg *list, int rev2, unsigned *items);
int status_get(const char *name, unsigned items, struct status_result *r, struct error *err);
/* "* STATUS name (...)" in a fixed order; wire from mailbox_name_out. */
void status_write(struct session *s, const char *wire, unsigned items,
		  const struct status_result *r);
/* cmd_list.c: "* LIST (attributes) "/" name" for one mailbox (IMAP4rev2
 * SELECT); nothing if the backend does not list it. */
void list_write_one(struct session *s, const char *name);
/* The same with the attributes given (MA_ bits, \Subscribed included). */
void list_write_attrs(struct session *s, const char *name, unsigned attrs);
/* The same for a renamed mailbox: ... ("OLDNAME" ("oldname")). */
void list_write_renamed(struct session *s, const char *name, unsigned attrs,
			const char *oldname);

/* cmd_notify.c: NOTIFY (RFC 5465). */
void cmd_notify(struct session *s, const struct imap_cmd *cmd);
/* A mailbox was selected (after SELECT/EXAMINE's responses), or the
 * selection ends (before the view closes). */
void notify_selected(struct wsession *ws);
void notify_unselected(struct wsession *ws);
/* Another session's sync may have drained the store's fd (backend.h):
 * look again soon. */
void notify_poke(struct wsession *ws);
/* The session ends. */
void notify_free(struct wsession *ws);
/* Around a command that changes the store (CREATE, DELETE, RENAME,
 * (UN)SUBSCRIBE, APPEND, COPY, MOVE, REPLACE): others' changes are told
 * before it, the session's own are not told after it (RFC 5465 5). */
void notify_own_begin(struct wsession *ws);
void notify_own_end(struct wsession *ws);

/* listmatch.c: IMAP LIST wildcard match ('*' any, '%' any but '/'). */
int list_match(const char *pattern, const char *name);

#endif
