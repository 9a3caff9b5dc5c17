/* mbox backend internals. Nothing outside backends/mbox/ includes this,
 * except the mbox unit test and fuzz target.
 *
 * On-disk format (mboxrd, LF line endings):
 *
 *   From SENDER Www Mmm dd hh:mm:ss yyyy\n      separator (asctime, UTC)
 *   X-IMAPbase: UIDVALIDITY UIDNEXT kw1 kw2\n   first message only
 *   X-Haven-Highestmodseq: N\n                  first message only
 *   Status: RO\n  X-Status: AFDT\n  X-Keywords: kw1 kw2\n
 *   X-UID: n\n  X-Haven-Modseq: n\n
 *   ...the message, CRLF stored as LF, ^>*From  lines given one more '>'
 *   \n                                           framing
 *
 * \Recent follows UW-IMAP and Dovecot: a message whose Status header lacks
 * O (or that has none, as an MDA delivers it) is new. The first read-write
 * view that sees it claims it (reports it as \Recent and writes O, in one
 * rewrite that changes no modseq); read-only views report it without
 * claiming. APPEND and COPY write messages without O.
 *
 * The headers in the file are the truth (nothing else persists state), so
 * Dovecot, UW-IMAP, mutt and procmail can share the file with us. Our own
 * headers are written at the start of the header block (not at its end):
 * that is the one place where inserting whole lines can never change the
 * bytes of a message that has no header/body separator or no final newline.
 *
 * The one '\n' before each From_ line (and before EOF) is framing, not
 * message content (Dovecot and mboxrd agree), which lets a message without
 * a final newline survive: "abc" is stored as "abc\n".
 *
 * HIGHESTMODSEQ: the first message carries X-Haven-Highestmodseq (the
 * mailbox-wide counter, bumped by expunges) and every message carries its
 * own X-Haven-Modseq. Appends cannot rewrite the first message, so the
 * effective value is max(first message's counter, every message's modseq).
 *
 * A mailbox we empty keeps its state in a UW-IMAP style pseudo message
 * (first in the file, with X-IMAP instead of X-IMAPbase), which we, UW-IMAP
 * and Dovecot hide; it goes at the next rewrite that has real messages.
 * A mailbox we create starts with such a pseudo message too, carrying a
 * UIDVALIDITY above every one the store has had (<mbox_dir>/.uidvalidity),
 * so a mailbox created again after a DELETE never reuses one.
 * A file that is empty (created or emptied by another program) has no
 * state at all: its UIDVALIDITY is its mtime, and an open view carries its
 * own UIDVALIDITY over such a file until it gets headers again. */
#ifndef HAVEN_MBOX_PRIVATE_H
#define HAVEN_MBOX_PRIVATE_H
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../backend.h"
#include "../../mail/keyword.h"

#define MBOX_BUFSZ 65536              /* reader/writer buffer; also longest line prefix examined */
#define MBOX_NAME_MAX BACKEND_NAME_MAX  /* bytes in a mailbox name */
#define MBOX_DEPTH_MAX BACKEND_DEPTH_MAX /* hierarchy levels (names and LIST walk) */
#define MBOX_MAX_KEYWORDS 1000        /* distinct keywords per mailbox */
#define MBOX_STALE_DOTLOCK 300        /* seconds after which a dotlock is stale */
#define MBOX_LIST_MAX 100000          /* directory entries LIST looks at */
#define MBOX_SUBS_MAX (1024 * 1024)   /* size of the subscriptions file */
#define MBOX_SUBS_FILE ".subscriptions"
#define MBOX_SU_FILE ".specialuse"     /* special use beyond the default names */
#define MBOX_UIDV_FILE ".uidvalidity"  /* the highest UIDVALIDITY known (mbox_ns.c) */
#define MBOX_FROM_SENDER "MAILER-DAEMON"
#define MBOX_KW_PAD 24                /* X-Keywords value room, for in-place changes */
#define MBOX_MODSEQ_PAD 12            /* X-Haven-Modseq value room */

/* Identity of a file's contents: any write by anyone changes one of these
 * (a rewrite changes the inode, an append the size and times). */
struct mbox_fid {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct store {
	char *user;
	char *home;            /* the user's home: Sieve scripts (mbox_sieve.c) */
	long sieve_max_size;   /* sieve_max_script_size */
	long sieve_max_scripts;
	char *inbox_path;      /* expanded mbox_inbox */
	char *inbox_base;      /* its last component */
	int inbox_dirfd;       /* its directory, -1 if that could not be opened */
	char *root_path;       /* expanded mbox_dir */
	int root_fd;           /* -1 until the directory exists */
	long lock_timeout;
	uint64_t max_message;  /* largest message open_message reads into memory */
	long index_min_size;   /* smallest file given an index; -1 never */
	int index_dirfd;       /* MBOX_DIR/.haven-index once opened, else -1 */
	struct {               /* the file our last rewrite made (mbox_index_rewritten) */
		char *name;
		struct mbox_fid id;
		uint64_t head, tail;   /* its fingerprints */
		uint64_t lineage;
	} rewritten;
	int notify;            /* inotify instance shared by the views, -1 none yet */
	time_t notify_retry;   /* could not get one: not before this time again */
	struct { int wd, refs; } *watch;   /* watch descriptors in use, counted */
	size_t nwatch;
	/* QUOTA (mbox_quota.c): the limits (0: none) and each mailbox's
	 * usage as last counted, with its file's identity */
	uint64_t quota_bytes, quota_messages;
	struct mbox_quota_entry *quota_cache;
	size_t nquota_cache;
	struct mbox_swatch *swatch;        /* NOTIFY's store watch (mbox_watch.c), or NULL */
};

/* Where a mailbox lives: a directory fd we reached without following
 * symlinks, and the last component. */
struct mbox_loc {
	int dirfd;             /* owned */
	char *base;
	char *path;            /* full path: inotify and messages */
	char *name;            /* canonical name ("INBOX" normalised) */
	int is_inbox;
};

struct mbox_lock {
	int fd;                /* locked file (not owned) */
	int have_fcntl;
	int dirfd;             /* not owned */
	char *dotname;
	int have_dot;
	dev_t dot_dev;
	ino_t dot_ino;
};

/* One message found by a scan. Offsets are in the scanned file. */
struct mbox_smsg {
	uint64_t from_off;     /* From_ line */
	uint64_t hdr_off;      /* first byte after the From_ line */
	uint64_t end_off;      /* end of content (the framing '\n' excluded) */
	uint64_t size;         /* RFC822.SIZE */
	uint64_t modseq;       /* effective (mbox_scan_assign) */
	uint64_t raw_modseq;   /* X-Haven-Modseq as found, 0 none */
	time_t idate;
	int tz;
	uint32_t uid;          /* effective (mbox_scan_assign) */
	uint32_t raw_uid;      /* X-UID as found, 0 none */
	uint32_t flags;
	uint32_t *kw;          /* sorted indexes into the scan's keyword table */
	uint32_t nkw;
	unsigned drop : 1;     /* left out by the next rewrite */
	unsigned virt : 1;     /* UID assigned by the scan, not yet on disk */
	unsigned fresh : 1;    /* no O in Status: no session has seen it (\Recent) */
	unsigned claimed : 1;  /* this scan's view just took it as its \Recent */
	unsigned taken : 1;    /* fresh, but claimed already (mbox_recent.c) */
	unsigned hide_clen : 1; /* its Content-Length frames it: mbox metadata, not shown */
	unsigned raw : 1;      /* stored as it came (X-Haven-Raw): see mbox_raw_needed */
};

struct mbox_scan {
	struct mbox_smsg *m;
	size_t n, cap;
	char **kw;             /* keyword table */
	size_t nkw;
	uint32_t *kwhash;      /* open addressing: index + 1, 0 empty */
	size_t hashcap;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	int have_base;         /* first message had X-IMAPbase */
	int needs_persist;     /* UIDs or UIDVALIDITY exist only in memory */
	int has_pseudo;        /* UW-IMAP pseudo message present (dropped on rewrite) */
	struct mbox_fid id;
	int ends_nl;           /* file empty or ending in '\n' */
	/* What the first message's X-IMAPbase / X-Haven-Highestmodseq say:
	 * parse state, from which mbox_scan_assign derives the fields above. */
	int base_seen;
	uint32_t base_uidvalidity, base_uidnext;
	uint64_t base_hms;
	/* Names one history of the file's contents: the same for every scan
	 * derived from the previous one through the index (unchanged file,
	 * appended mail, our own in-place changes and rewrites), new (random)
	 * after a full parse of a file we know nothing about. Message bytes
	 * cached under a lineage (mbox_fields.c) stay valid while it lasts.
	 * 0: none (a scan without an index). */
	uint64_t lineage;
};

/* What STATUS reports of a scan with no carry (mbox_scan_summarize); the
 * index keeps it so that STATUS reads nothing else. */
struct mbox_summary {
	uint32_t messages, recent, unseen, first_unseen, uidnext, uidvalidity;
	uint32_t needs_persist, have_base;
	uint64_t highestmodseq, size;
};

/* An open, locked mailbox file. */
struct mbox_handle {
	struct store *store;
	const struct mbox_loc *loc;
	int fd;
	int writable;          /* opened read-write */
	long timeout;          /* lock_timeout, for upgrades */
	int write_locked;
	int journal;           /* an append journal is out for this handle */
	struct mbox_lock lock;
	struct stat st;
};

/* The per-session view. */
struct mbox_vmsg {
	struct msg_meta meta;
	uint64_t hdr_off, end_off;
	int hide_clen;
	int gone;              /* found expunged by another session; sync removes it */
	uint32_t *kw;
};

struct mailbox {
	struct store *st;
	struct mbox_loc loc;
	int readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	struct mbox_vmsg *msgs;
	size_t count;
	char **kwnames;        /* append-only: indexes stay valid */
	size_t nkw;
	struct mbox_fid id;    /* file the view was last built from */
	uint64_t lineage;      /* that scan's (mbox_scan.lineage) */
	int have_file;         /* id is valid (the file existed) */
	int dirty;             /* this view changed the file since */
	uint64_t *own;         /* modseqs of this view's own flag changes */
	size_t nown;
	int watching;          /* watches held in the store's inotify instance */
	int file_wd, dir_wd;   /* those watches, -1 none */
	struct mbox_scan *cache; /* latest scan for open_message, or NULL */
	struct mbox_fcache *fields; /* header-field cache (mbox_fields.c), NULL until used */
	struct mbox_fcache *sortkeys; /* sort-key cache (mbox_sortkeys.c), NULL until used */
};

void mbox_view_apply_own(struct mailbox *mb, const struct mbox_scan *s, const uint32_t *uids,
			 size_t n);

/* mbox_store.c: names, paths */
int mbox_name_is_inbox(const char *name);
int mbox_name_check(const char *name, struct error *err);
int mbox_root_fd(struct store *st, int create, struct error *err);
/* create: make missing parent directories (0700). */
int mbox_resolve(struct store *st, const char *name, int create, struct mbox_loc *out,
		 struct error *err);
void mbox_loc_free(struct mbox_loc *loc);
unsigned mbox_special_use(const char *name);
int mbox_fsync_dir(int dirfd);
/* openat/unlinkat/renameat in a mailbox's directory, retried with the
 * privileged mail group where the directory refuses the user. */
int mbox_dir_openat(int dirfd, const char *name, int flags, mode_t mode);
int mbox_dir_unlinkat(int dirfd, const char *name);
int mbox_dir_renameat(int dirfd, const char *from, const char *to);
int mbox_dir_linkat(int dirfd, const char *from, const char *to);
/* Remove temp files left in a directory by processes that died. */
void mbox_tmp_cleanup(int dirfd);

/* mbox_sieve.c: Sieve scripts in Pigeonhole's layout */
int mbox_sieve_list(struct store *st, backend_sieve_list_cb cb, void *ctx, struct error *err);
int mbox_sieve_get(struct store *st, const char *name, struct buf *out, struct error *err);
int mbox_sieve_put(struct store *st, const char *name, const void *data, size_t len,
		   struct error *err);
int mbox_sieve_delete(struct store *st, const char *name, struct error *err);
int mbox_sieve_rename(struct store *st, const char *oldname, const char *newname,
		      struct error *err);
int mbox_sieve_activate(struct store *st, const char *name, struct error *err);
int mbox_sieve_active(struct store *st, struct buf *out, char **name, struct error *err);
/* data as file in dfd, replacing it atomically and durably (temp file,
 * fsync, rename, fsync of the directory). */
int mbox_file_replace(int dfd, const char *file, const void *data, size_t len,
		      struct error *err);
/* mbox_metadata.c: METADATA entries (RFC 5464) in <mbox_dir>/.haven-metadata */
#define MBOX_METADATA_FILE ".haven-metadata"
#define MBOX_METADATA_MAX (64u << 20)  /* bytes of the file read at most */
struct mbox_meta_rec {
	char *mailbox;         /* "" for the server */
	char *entry;
	char *value;
	size_t len;
};
struct mbox_meta_set {
	struct mbox_meta_rec *v;   /* sorted by mailbox, then entry */
	size_t n;
};
/* The file's bytes -> records; -1 with err when it is not one we wrote
 * (bad framing, names or order). */
int mbox_metadata_parse(const char *data, size_t len, struct mbox_meta_set *out,
			struct error *err);
void mbox_metadata_free(struct mbox_meta_set *ms);
void mbox_metadata_sort(struct mbox_meta_set *ms);
/* The file's bytes for ms (sorted) into out. */
void mbox_metadata_serialize(const struct mbox_meta_set *ms, struct buf *out);
int mbox_metadata_list(struct store *st, const char *mailbox, const char *prefix,
		       backend_metadata_cb cb, void *ctx, struct error *err);
int mbox_metadata_set(struct store *st, const char *mailbox, const struct metadata_change *v,
		      size_t n, const struct metadata_limits *lim, struct error *err);
int mbox_metadata_deleted(struct store *st, const char *name, struct error *err);
int mbox_metadata_renamed(struct store *st, const char *oldname, const char *newname, int copy,
			  struct error *err);
/* mbox_sieve_replies.c: vacation replies sent (store_sieve_reply_claim) */
int mbox_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds, time_t now,
			   struct error *err);

/* mbox_lock.c */
int mbox_lock_acquire(struct mbox_lock *lk, int dirfd, const char *base, int fd, int write,
		      long timeout, struct error *err);
/* Read lock -> write lock on the same file (the dotlock is already ours). */
int mbox_lock_upgrade(struct mbox_lock *lk, long timeout, struct error *err);
void mbox_lock_release(struct mbox_lock *lk);
/* fcntl-only lock on another fd (a temp file about to replace the mailbox). */
int mbox_lock_fd(int fd, int write);

/* mbox_date.c */
int mbox_date_from_line(const char *line, size_t len, time_t *t, int *tz);
int mbox_date_rfc5322(const char *s, size_t len, time_t *t, int *tz);
/* Into buf (>= 32 bytes): "Www Mmm dd hh:mm:ss yyyy" in UTC; returns length. */
size_t mbox_date_format(time_t t, char *buf, size_t size);

/* mbox_scan.c */
struct mbox_reader {
	int fd;
	uint64_t pos;          /* file offset of buf[0] */
	uint64_t end;          /* stop here */
	char *buf;
	size_t start, len;     /* unread bytes are buf[start..len) */
	int midline;           /* the last piece did not end a line */
};
void mbox_reader_init(struct mbox_reader *r, int fd, uint64_t from, uint64_t end);
void mbox_reader_free(struct mbox_reader *r);
/* Next piece of a line: the whole line, or (for lines longer than
 * MBOX_BUFSZ) chunks of it, the first always min(line, MBOX_BUFSZ) bytes so
 * every line is classified on the same prefix. 1 piece, 0 end, -1 error. */
int mbox_reader_next(struct mbox_reader *r, const char **p, size_t *n, uint64_t *off,
		     int *line_start);

enum mbox_hdr {
	MH_NONE = 0, MH_XIMAPBASE, MH_XIMAP, MH_XUID, MH_STATUS, MH_XSTATUS, MH_XKEYWORDS,
	MH_MODSEQ, MH_HIGHESTMODSEQ,
	MH_RAW,                /* X-Haven-Raw: the stored bytes are the message's */
	MH_CLEN,               /* Content-Length of a message we did not write (xform only) */
};
/* Which of our headers a header line is (MH_NONE: not ours). */
enum mbox_hdr mbox_hdr_classify(const char *p, size_t n);
int mbox_line_is_blank(const char *p, size_t n);

/* Turns the stored form of a message into what IMAP sees: our headers
 * dropped, one '>' removed from ^>+From , LF -> CRLF. Fed line pieces. */
struct mbox_xform {
	int in_header;
	int mode;              /* current line: 0 copy, 1 strip, 2 unescape */
	unsigned char prev;    /* previous stored byte */
	uint64_t out;          /* bytes produced */
	int last_nl;           /* last stored byte was '\n' */
	int last_lf_out;       /* bytes that '\n' produced */
	uint32_t uid;          /* first X-UID seen (region mode check), 0 none */
	int ours;              /* X-Haven-Modseq seen: a message we wrote */
	int raw;               /* and X-Haven-Raw after it: no LF -> CRLF */
	int hide_clen;         /* set by the caller: smsg.hide_clen */
};
void mbox_xform_init(struct mbox_xform *x);
/* dst NULL: count only. Returns the header class of the line (first piece). */
enum mbox_hdr mbox_xform_piece(struct mbox_xform *x, const char *p, size_t n, int line_start,
			       struct buf *dst);

/* What a view already told its client. A file without X-IMAPbase
 * (emptied or written by another program) keeps these, so the view's
 * UIDVALIDITY stays valid and no UID it has seen is handed out again. */
struct mbox_carry {
	uint32_t uidvalidity;
	uint32_t uidnext;
};
int mbox_scan_fd(int fd, const struct stat *st, const struct mbox_carry *carry,
		 struct mbox_scan *out, struct error *err);
/* The two halves of mbox_scan_fd. parse: add the messages in [from, end)
 * to s (from > 0 continues a parse that ended at from, on a From_ line);
 * assign: derive UIDs, modseqs and UIDVALIDITY from the parse state. */
int mbox_scan_parse(int fd, uint64_t from, uint64_t end, struct mbox_scan *s,
		    struct error *err);
int mbox_scan_assign(struct mbox_scan *s, const struct mbox_carry *carry, time_t mtime,
		     struct error *err);
/* What mbox_scan_assign without a carry would give, for STATUS; s is not
 * changed. -1 if it would fail. */
int mbox_scan_summarize(const struct mbox_scan *s, time_t mtime, struct mbox_summary *sum);
void mbox_scan_free(struct mbox_scan *s);
struct mbox_scan *mbox_scan_new(void);
void mbox_scan_destroy(struct mbox_scan *s);
/* Keyword table: index of name, adding it if add; -1 if absent or full. */
long mbox_scan_kw(struct mbox_scan *s, const char *name, size_t len, int add);
struct mbox_smsg *mbox_scan_find(struct mbox_scan *s, uint32_t uid);
void mbox_fid_from_stat(struct mbox_fid *f, const struct stat *st);
int mbox_fid_equal(const struct mbox_fid *a, const struct mbox_fid *b);

/* mbox_uidv.c: the store's UIDVALIDITY counter (MBOX_UIDV_FILE in the
 * directory root). Raise it to at least seen; with next, also take the
 * value a new mailbox gets (greater than every one before, and not before
 * the clock). Under the counter's dotlock and fcntl lock. */
int mbox_uidv_update(struct store *st, int root, uint32_t seen, uint32_t *next,
		     struct error *err);
/* The UIDVALIDITY an open mailbox file has, read from its start (the first
 * message's X-IMAPbase or X-IMAP, or its mtime) as a scan would give it. */
uint32_t mbox_uidv_of_file(const struct mbox_handle *h);

/* mbox_index.c: the private index (a cache of the parse state) */
/* mbox_scan_fd through the index: the same result, reading only what the
 * index does not already describe. */
int mbox_scan_cached(struct store *st, const struct mbox_loc *loc, int fd, const struct stat *sb,
		     const struct mbox_carry *carry, struct mbox_scan *s, struct error *err);
/* Record s (parse state of the file on fd as it is now) as the index. */
void mbox_index_save(struct store *st, const struct mbox_loc *loc, int fd,
		     const struct mbox_scan *s);
/* Journals next to the index, one per mailbox and kind ("append": what a
 * killed append must cut off; "undo": the old bytes of an in-place flag
 * change): written before the mailbox is touched, removed when done; -1
 * if there is no place for one (the operation then goes without). */
int mbox_journal_write(struct store *st, const char *name, const char *kind, const void *data,
		       size_t len);
int mbox_journal_read(struct store *st, const char *name, const char *kind, struct buf *out);
void mbox_journal_remove(struct store *st, const char *name, const char *kind);
/* Caches beside the index, "<hash>.<kind>": replaced whole (temp file and
 * rename), read whole; -1 if missing or unusable. */
int mbox_side_write(struct store *st, const char *name, const char *kind, const void *data,
		    size_t len);
int mbox_side_read(struct store *st, const char *name, const char *kind, struct buf *out);
/* The same kind of file, opened for reading and writing in place (create:
 * made if missing); the caller closes it. -1 if there is no place. */
int mbox_side_open(struct store *st, const char *name, const char *kind, int create);
#define MBOX_FIELDS_KIND "fields"
#define MBOX_SORTKEYS_KIND "sortkeys"
/* The mailbox is gone or renamed: drop its index and caches. */
void mbox_index_forget(struct store *st, const char *name);
/* STATUS from the index alone: 0 and *sum if the index describes the file
 * on fd exactly as it is now (identity and fingerprints), else -1. */
int mbox_index_status(struct store *st, const struct mbox_loc *loc, int fd, const struct stat *sb,
		      struct mbox_summary *sum);
/* The lineage to give the scan of a file we have just written ourselves
 * (a rewrite), as it is or with mail appended: remembered until the next
 * full parse of that mailbox. */
void mbox_index_rewritten(struct store *st, const struct mbox_loc *loc, int fd,
			  const struct stat *sb, uint64_t lineage);
/* A new random lineage (never 0). */
uint64_t mbox_lineage_new(void);
/* The file format, for the unit test and the fuzz target. encode: -1 if
 * the scan cannot be recorded (it is then not cached). */
int mbox_index_encode(const struct mbox_scan *s, const char *name, uint64_t head_fp,
		      uint64_t tail_fp, struct buf *out);
int mbox_index_decode(const void *data, size_t len, const char *name, struct mbox_scan *s,
		      uint64_t *head_fp, uint64_t *tail_fp);
/* The header alone (what STATUS reads): identity, fingerprints, summary. */
struct mbox_index_head {
	struct mbox_fid id;
	uint64_t head_fp, tail_fp, lineage;
	struct mbox_summary sum;
	uint64_t file_len;     /* the index file's length the header accounts for */
};
int mbox_index_decode_head(const void *data, size_t len, const char *name,
			   struct mbox_index_head *out);
/* Bytes of the header that are derived (checksums, summary): the fuzz
 * target copies them over, as it cannot compute them from bad input. */
void mbox_index_derived(size_t *off, size_t *len);

/* mbox_inplace.c: write the new state of the messages marked in changed
 * over their padded state headers. 0 done (s and h->st describe the file
 * now, the index is updated), 1 not possible (nothing written: rewrite
 * instead), -1 error. */
int mbox_store_inplace(struct mbox_handle *h, struct mbox_scan *s, const uint8_t *changed,
		       struct error *err);
/* EXPUNGE of the last messages of the file only (typically the one a
 * client just appended, flagged \Deleted): the base updated in place and
 * the file truncated, instead of a rewrite. Returns like
 * mbox_store_inplace; the messages to go are those marked drop. */
int mbox_expunge_tail(struct mbox_handle *h, struct mbox_scan *s, struct error *err);
/* Put back the old bytes of an in-place change a kill interrupted (under
 * the write lock, taken here if h holds only a read lock). */
int mbox_inplace_recover(struct mbox_handle *h, struct error *err);

/* mbox_write.c */
struct mbox_writer {
	int fd;
	uint64_t off;
	char *buf;
	size_t len;
	int err;               /* errno of the first failure */
};
void mbox_writer_init(struct mbox_writer *w, int fd, uint64_t off);
void mbox_writer_put(struct mbox_writer *w, const void *p, size_t n);
int mbox_writer_flush(struct mbox_writer *w);
void mbox_writer_free(struct mbox_writer *w);
/* Extra bit in the flags given to the emit functions: write the message
 * without O in Status (new, not yet claimed). Never in a view's flags. */
#define MBOX_F_FRESH (1u << 31)
/* ... and mark it as stored byte for byte (X-Haven-Raw). */
#define MBOX_F_RAW (1u << 30)
/* 1 when msg does not come back as it was through the usual stored form
 * (line ends as LF, CRLF on reading): a bare LF, or a CR before CRLF. Such
 * a message is stored with its line ends as they are and X-Haven-Raw. */
int mbox_raw_needed(const char *msg, size_t len);
/* State headers of one message; base != NULL adds the first-message ones. */
void mbox_emit_state(struct mbox_writer *w, const struct mbox_scan *base, uint32_t uid,
		     uint32_t flags, const char *const *kw, size_t nkw, uint64_t modseq);
/* Copy a stored message (From_ line, fresh state headers, content, framing). */
int mbox_emit_stored(struct mbox_writer *w, int srcfd, const struct mbox_smsg *m,
		     const struct mbox_scan *base, uint32_t uid, uint32_t flags,
		     const char *const *kw, size_t nkw, uint64_t modseq);
/* A new message in IMAP form (CRLF): converted, escaped, our headers
 * stripped from it. */
void mbox_emit_new(struct mbox_writer *w, const char *msg, size_t len, time_t idate,
		   const struct mbox_scan *base, uint32_t uid, uint32_t flags,
		   const char *const *kw, size_t nkw, uint64_t modseq);
/* UW-IMAP's "DON'T DELETE THIS MESSAGE" carrying the scan's base state. */
void mbox_emit_pseudo(struct mbox_writer *w, const struct mbox_scan *s);
/* Write the scan's messages (not dropped) from srcfd to dstfd at 0, fsync.
 * -1 with errno. */
int mbox_write_messages(int dstfd, int srcfd, const struct mbox_scan *s, size_t *kept);
/* A fresh name for a temp file (starts with '.': LIST never shows it). */
void mbox_tmp_name(char *buf, size_t size);
/* Replace the file with the scan's messages (those not dropped) through a
 * temp file + rename; h then refers to the new file, still locked. */
int mbox_rewrite(struct mbox_handle *h, struct mbox_scan *s, struct error *err);
int mbox_errno_error(struct error *err, int e, const char *what, const char *path);

/* mbox_access.c */
enum { MBOX_OPEN_WRITE = 1, MBOX_OPEN_READ = 0 };
/* Open and lock; ERR_NONEXISTENT if missing (INBOX is created). */
int mbox_handle_open(struct store *st, const struct mbox_loc *loc, int write,
		     struct mbox_handle *h, struct error *err);
void mbox_handle_close(struct mbox_handle *h);
/* Scan under the handle's lock; if UIDs exist only in memory, persist them
 * (upgrading to a write lock) and scan again. */
int mbox_handle_scan(struct mbox_handle *h, const struct mbox_carry *carry, struct mbox_scan *s,
		     struct error *err);
/* The same, and claim (\Recent) the fresh messages with UIDs above after:
 * mark them old in the file, in the rewrite that persists UIDs if there is
 * one, and set their claimed bit in s. A file that cannot be rewritten
 * leaves them fresh (still reported as recent) and is not an error. */
int mbox_handle_scan_claim(struct mbox_handle *h, const struct mbox_carry *carry,
			   uint32_t after, struct mbox_scan *s, struct error *err);
/* Read one message in IMAP form into memory: 0, -1 error, 1 if the bytes
 * there are not the message expected (size or X-UID differ). */
int mbox_read_message(int fd, uint64_t hdr_off, uint64_t end_off, uint64_t size,
		      int hide_clen, uint64_t max, struct buf *out, uint32_t *uid_seen,
		      struct error *err);

/* mbox_view.c */
int mbox_select(struct store *st, const char *name, int readonly, struct mailbox **out,
		struct mailbox_status *status, struct error *err);
void mbox_mailbox_close(struct mailbox *mb);
uint32_t mbox_count(struct mailbox *mb);
const struct msg_meta *mbox_meta(struct mailbox *mb, uint32_t seq);
uint32_t mbox_uid(struct mailbox *mb, uint32_t seq);
size_t mbox_keywords(struct mailbox *mb, const char *const **names);
int mbox_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err);

/* mbox_notify.c */
int mbox_notify_fd(struct mailbox *mb);
void mbox_notify_drain(struct mailbox *mb);    /* in sync(): events read, watches renewed */
void mbox_notify_release(struct mailbox *mb);  /* the view closes */
void mbox_notify_close(struct store *st);
/* mbox_watch.c: NOTIFY's store watch (backend.h watch_fd, watch_changes) */
int mbox_watch_fd(struct store *st);
uint64_t mbox_watch_changes(struct store *st);
void mbox_watch_close(struct store *st);
/* mbox_recent.c: \Recent claims kept beside the index. FIRST of the
 * mailbox's record: messages below it have been claimed (1: none). */
uint32_t mbox_recent_first(struct store *st, const char *name, uint32_t uidvalidity);
/* Claim [*first, upto) where *first = max(FIRST, from), moving FIRST to
 * upto, all under the record's lock. -1 if the record cannot be kept. */
int mbox_recent_claim(struct store *st, const char *name, uint32_t uidvalidity, uint32_t from,
		      uint32_t upto, uint32_t *first);
/* Mark the fresh messages of s below first as taken. */
void mbox_recent_apply(struct mbox_scan *s, uint32_t first);
/* Fresh messages of s nobody has claimed: what STATUS reports as RECENT. */
uint32_t mbox_recent_count(const struct mbox_scan *s);

struct mbox_vmsg *mbox_view_find(struct mailbox *mb, uint32_t uid);
/* uid (if in the view) is gone from the file: meta() says so from now on. */
void mbox_view_gone(struct mailbox *mb, uint32_t uid);
void mbox_view_own_modseq(struct mailbox *mb, uint64_t modseq);

/* mbox_fields.c: the header-field cache (backend_ops.sort_fields) */
/* The fields of mail_envelope_fields and mail_thread_field (References)
 * of message uid's top-level header,
 * appended to out: every occurrence among the first MAIL_SEARCH_FIELDS_MAX
 * fields, as written, in message order, then an empty line; from the
 * header-field cache when it has the message, else extracted and
 * remembered. 0, 1 if the message is gone, -1 error. _done ends a run
 * of calls (one SEARCH): what was learnt is saved. */
int mbox_header_fields(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
void mbox_header_fields_done(struct mailbox *mb);
/* The backend's search(): programs that look only at the ENVELOPE
 * fields are decided here, through the header-field cache. */
int mbox_search(struct mailbox *mb, const struct search_program *p, struct search_ctx *ctx,
		uint8_t *result, struct error *err);
void mbox_fields_free(struct mailbox *mb);   /* both caches */
/* A per-message cache of one kind of side file, under the lineage and UID
 * rules above (mbox_fields_file.c's format): what *slot (made on first
 * use) has for uid appended to out, else what make() appends (0, 1 gone,
 * -1), recorded to be saved at mbox_fcache_done. */
struct mbox_fcache_kind {
	const char *file;          /* side-file kind (MBOX_FIELDS_KIND ...) */
	const char *what, *made;   /* for the log: "header fields" ... "read" */
	int (*make)(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
};
int mbox_fcache_get(struct mailbox *mb, struct mbox_fcache **slot,
		    const struct mbox_fcache_kind *kind, uint32_t uid, struct buf *out,
		    struct error *err);
void mbox_fcache_done(struct mailbox *mb, struct mbox_fcache *fc);
void mbox_fcache_free(struct mbox_fcache **slot);
/* mbox_sortkeys.c: backend_ops.sort_keys, kept in the sort-key cache. */
int mbox_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err);
void mbox_sort_keys_done(struct mailbox *mb);
/* Of the last run: fields given from the cache, and messages read. */
void mbox_fields_stats(struct mailbox *mb, size_t *hits, size_t *misses);
/* The fields of mail_envelope_fields and References in a message (IMAP
 * form), as mbox_header_fields() gives them, without the final empty line. */
void mbox_fields_extract(const char *msg, size_t len, struct buf *out);

/* mbox_fields_file.c: its file format */
struct mbox_fields_file {
	uint64_t lineage;
	uint32_t uidvalidity;
	const unsigned char *ents;   /* in the decoded bytes */
	size_t nent;
	const char *data;
	size_t datalen;
};
struct mbox_fields_rec {
	uint32_t uid;
	uint64_t size;               /* RFC822.SIZE of the message */
	const char *data;
	size_t len;
};
void mbox_fields_encode(uint64_t lineage, uint32_t uidvalidity, const char *name,
			const struct mbox_fields_rec *r, size_t n, struct buf *out);
/* -1 unless data is a whole, intact cache file of mailbox name. f points
 * into data. */
int mbox_fields_decode(const void *data, size_t len, const char *name, struct mbox_fields_file *f);
/* Where each entry's bytes start (f->nent offsets into f->data; free()). */
uint64_t *mbox_fields_offsets(const struct mbox_fields_file *f);
int mbox_fields_entry(const struct mbox_fields_file *f, size_t i, const uint64_t *offs,
		      struct mbox_fields_rec *out);
/* Index of the entry for uid, -1 if none. */
long mbox_fields_find(const struct mbox_fields_file *f, uint32_t uid);
/* The header's checksums (for the fuzz target, like mbox_index_derived). */
void mbox_fields_derived(size_t *off, size_t *len);

/* mbox_mailbox.c */
int mbox_open_message(struct mailbox *mb, uint32_t uid, struct msg_stream **out,
		      struct error *err);
int mbox_store_flags(struct mailbox *mb, const uint32_t *uids, size_t n, enum store_op op,
		     uint32_t flags, const char *const *keywords, size_t nkeywords,
		     uint64_t unchangedsince, uint32_t *failed, size_t *nfailed,
		     struct error *err);
int mbox_expunge(struct mailbox *mb, const uint32_t *uids, size_t n, struct error *err);
int mbox_copy(struct mailbox *mb, const uint32_t *uids, size_t n, const char *dest, int move,
	      uint32_t *dst_uidvalidity, uint32_t *dst_uids, struct error *err);

/* mbox_append.c */
/* The streaming APPEND of backend.h: the message is gathered in memory
 * (bounded by max_literal) and appended under the lock at finish, so a
 * slow client never holds the mailbox locked. */
int mbox_append_stream_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
			     const char *const *keywords, size_t nkeywords, time_t internaldate,
			     int tz_minutes, struct appender **out, struct error *err);
int mbox_append_stream_write(struct appender *ap, const void *data, size_t len,
			     struct error *err);
int mbox_append_stream_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
			      struct error *err);
void mbox_append_stream_abort(struct appender *ap);
int mbox_append(struct store *st, const char *name, const void *msg, size_t len,
		uint32_t flags, const char *const *keywords, size_t nkeywords,
		time_t internaldate, int tz_minutes, uint32_t *uidvalidity, uint32_t *uid,
		struct error *err);
/* One message of mbox_append_many. */
struct mbox_newmsg {
	const void *msg;
	size_t len;
	uint32_t flags;
	const char *const *keywords;
	size_t nkeywords;
	time_t date;
};
/* Append n messages (MULTIAPPEND) under one lock, with one journal and
 * one fsync: all of them (uids[i], ascending) or none. */
int mbox_append_many(struct store *st, const char *name, const struct mbox_newmsg *m, size_t n,
		     uint32_t *uidvalidity, uint32_t *uids, struct error *err);
/* The group finish of backend.h (MULTIAPPEND): frees every appender. */
int mbox_append_stream_finish_group(struct appender *const *aps, size_t n,
				    uint32_t *uidvalidity, uint32_t *uids, struct error *err);
int mbox_status(struct store *st, const char *name, struct mailbox_status *out,
		struct error *err);
/* Append messages to a locked, scanned destination at its end; dst_uids
 * receives the new UIDs. Used by append and copy. */
int mbox_append_begin(struct mbox_handle *h, struct mbox_scan *s, struct mbox_writer *w,
		      uint32_t first_uid, uint64_t *orig_size, struct error *err);
/* Undo an append a killed process left half done (its journal is there):
 * under the write lock, taken here if h holds only a read lock. */
int mbox_append_recover(struct mbox_handle *h, struct error *err);
int mbox_append_commit(struct mbox_handle *h, struct mbox_writer *w, uint64_t orig_size,
		       struct error *err);

/* mbox_import.c: backend.h's import and reindex */
int mbox_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		      uint32_t uidnext, unsigned flags, struct importer **out, struct error *err);
int mbox_import_message(struct importer *im, uint32_t uid, uint32_t flags,
			const char *const *keywords, size_t nkeywords, time_t internaldate,
			int tz_minutes, const void *msg, size_t len, struct error *err);
int mbox_import_finish(struct importer *im, struct error *err);
void mbox_import_abort(struct importer *im);
int mbox_reindex(struct store *st, const char *name, struct error *err);

/* mbox_ns.c */
int mbox_list(struct store *st, backend_list_cb cb, void *ctx, struct error *err);
int mbox_create(struct store *st, const char *name, unsigned special_use, struct error *err);
int mbox_delete(struct store *st, const char *name, struct error *err);
int mbox_rename(struct store *st, const char *oldname, const char *newname,
		struct error *err);
int mbox_subscribe(struct store *st, const char *name, int on, struct error *err);

/* mbox_quota.c: QUOTA (RFC 9208), see backend.h's struct store_quota */
int mbox_quota_get(struct store *st, struct store_quota *out, struct error *err);
/* ERR_OVERQUOTA when bytes and messages more would pass a limit; 0 at
 * once when there is none. Call holding no mailbox lock. */
int mbox_quota_check(struct store *st, uint64_t bytes, uint64_t messages, struct error *err);
void mbox_quota_free(struct store *st);

/* mbox_store.c */
int mbox_store_open(const struct backend_user *u, const struct config *cfg, struct store **out,
		    struct error *err);
void mbox_store_close(struct store *st);

#endif
