/* What SORT and THREAD (RFC 5256, RFC 5957) compare, made from a
 * message's header fields, and the threading algorithms over it.
 *
 * basesubject.c: the base subject of RFC 5256 section 2.1, case-folded
 * (i;unicode-casemap, as SEARCH folds: search_fold).
 * sortkey.c: the sort keys of one message from its header block.
 * thread.c: ORDEREDSUBJECT and REFERENCES threading.
 *
 * Everything here is pure (no store, no session) and linear or n log n
 * in its input, with no recursion: attacker mail goes through it. */
#ifndef HAVEN_SORT_H
#define HAVEN_SORT_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"

/* The base subject of a Subject: field's value as written (folded lines,
 * encoded words), decoded and case-folded, appended to out. Returns 1 if
 * the subject marked a reply or forward ("Re:", "Fwd:", "(fwd)",
 * "[fwd: ...]"), else 0. */
int mail_base_subject(struct arena *a, const char *v, size_t len, struct buf *out);

/* What one message sorts by. Strings are UTF-8, case-folded with ASCII
 * letters as capitals (i;unicode-casemap's titlecase order), in the
 * caller's arena, never NULL (empty when the field is missing). */
struct mail_sort_keys {
	int64_t date;            /* Date: as UTC seconds, INT64_MIN if none */
	const char *subject;     /* base subject */
	const char *from, *to, *cc;     /* first mailbox's local part (a group's name) */
	const char *dfrom, *dto; /* RFC 5957 display: name, else addr-spec */
	const char *msgid;       /* Message-ID normalized ("local@domain"), "" */
	const char *inreplyto;   /* In-Reply-To's first msg-id, normalized */
	const char *references;  /* References: as written (folded), "" if none */
	size_t references_len;
	int subject_reply;       /* the subject marked a reply or forward */
};

/* Keys of the header block hdr[0..len) (fields as mail_hfield_next reads
 * them; the first of each name counts). */
void mail_sort_keys_parse(struct arena *a, const char *hdr, size_t len,
			  struct mail_sort_keys *k);

/* ---- sortkey_rec.c: keys as a store keeps them ----------------------- */

/* Bumped whenever the keys' bytes would change for the same message (the
 * record layout, base subject, folding): older records are then refused
 * and made anew. */
#define MAIL_SORT_KEYS_VERSION 1

/* k as one record, appended to out. */
void mail_sort_keys_encode(const struct mail_sort_keys *k, struct buf *out);
/* The keys of the header block hdr[0..len) (mail_sort_keys_parse) as one
 * record, appended to out: what a store keeps. */
void mail_sort_keys_record(const char *hdr, size_t len, struct buf *out);
/* The record data[0..len) (from a store: untrusted) into *k, strings
 * copied into a. 0, or -1 (another version, truncated, leftovers). */
int mail_sort_keys_decode(struct arena *a, const void *data, size_t len,
			  struct mail_sort_keys *k);

/* 1 if the field name (len bytes, any case) is one THREAD needs beyond
 * mail_envelope_fields (References). */
int mail_thread_field(const char *name, size_t len);

/* The fields of mail_envelope_fields and mail_thread_field in a message
 * or header (every occurrence among the first MAIL_SEARCH_FIELDS_MAX
 * fields, as written, each ending in CRLF), appended to out: what a store
 * keeps for SORT and THREAD. */
void mail_sort_fields_extract(const char *msg, size_t len, struct buf *out);

/* ---- thread.c ----------------------------------------------------------- */

enum mail_thread_alg {
	MAIL_THREAD_ORDEREDSUBJECT,
	MAIL_THREAD_REFERENCES,
	/* REFERENCES without grouping by subject, threads ordered by their
	 * latest message (draft-ietf-morg-inthread, Dovecot's REFS) */
	MAIL_THREAD_REFS,
};

struct mail_thread_msg {
	uint32_t id;               /* what the response shows (seq or UID) */
	uint32_t seq;              /* ties in date order */
	const struct mail_sort_keys *k;   /* k->date: the sent date to use */
};

/* The THREAD response's threads for msgs[0..n) (ascending seq), e.g.
 * "(2)(3 6 (4 23)(44 7 96))", appended to out. Everything temporary in a.
 * No recursion; n log n plus the References given. */
void mail_thread(struct arena *a, enum mail_thread_alg alg, const struct mail_thread_msg *msgs,
		 size_t n, struct buf *out);

/* The next msg-id ("<" ... ">") of a field value [*p, end) in the
 * normalized form REFERENCES compares: between the angle brackets,
 * without quoting, escapes, blanks and line ends. Appended to out; 1, or
 * 0 when there is no further (non-empty) one. *p moves past it. */
int mail_msgid_next(const char **p, const char *end, struct buf *out);

#endif
