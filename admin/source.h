/* What the readers of import sources (src_mbox.c, src_maildir.c) give:
 * one message at a time, with the state its source kept, in the form a
 * store's import takes (IMAP form: CRLF line ends). Readers parse bytes
 * from outside (any file an administrator points at): malformed input is
 * an error naming file and line, memory is bounded by the largest
 * message allowed, and nothing crashes (tests/fuzz/fuzz_import_*.c). */
#ifndef HAVEN_ADMIN_SOURCE_H
#define HAVEN_ADMIN_SOURCE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"

#define SRC_KEYWORDS_MAX 1000   /* per message */

struct src_msg {
	uint32_t uid;          /* 0: the source gave none (a new one is made) */
	uint32_t flags;        /* MF_* */
	char **kw;
	size_t nkw;
	time_t idate;          /* INTERNALDATE; 0: unknown */
	struct buf body;       /* the message, CRLF */
	size_t line;           /* where it starts in its file (mbox) */
};

void src_msg_reset(struct src_msg *m);
void src_msg_free(struct src_msg *m);
/* Add a keyword (once): 0, or -1 when it is not a valid IMAP keyword or
 * one too many. */
int src_msg_keyword(struct src_msg *m, const char *kw, size_t len);
/* Append a line of the source (LF or CRLF ended, or the last one, not
 * ended) in IMAP form: -1 when the message would pass max bytes. The line
 * end of the last line appended is held back: src_msg_line_end gives it
 * (the next line follows) or not (it was framing). */
int src_msg_line(struct src_msg *m, const char *p, size_t n, size_t max, int *pending_nl);
void src_msg_line_end(struct src_msg *m, int *pending_nl);

/* An mbox file (Dovecot's, UW-IMAP's, an MDA's, ours): From_ lines, and
 * the state headers X-IMAPbase / X-IMAP (pseudo message) / X-UID /
 * Status / X-Status / X-Keywords, Content-Length, which are taken out of
 * the message as Dovecot takes them out. */
struct src_mbox {
	FILE *f;
	const char *path;
	size_t max;            /* largest message */
	size_t line;           /* lines read */
	char *l;               /* the line read ahead */
	size_t llen, lcap;
	int eof;
	int have_base;         /* X-IMAPbase or X-IMAP seen */
	uint32_t uidvalidity, uidnext;
	size_t nmsg;           /* messages given */
};
/* 0 (an empty file is an mbox without messages; src_mbox_close it), -1
 * with err when the file does not start with a From_ line (nothing to
 * close). */
int src_mbox_open(struct src_mbox *s, FILE *f, const char *path, size_t max,
		  struct error *err);
/* 1 a message in m, 0 no more, -1 with err ("path:line: ..."). */
int src_mbox_next(struct src_mbox *s, struct src_msg *m, struct error *err);
void src_mbox_close(struct src_mbox *s);
/* The date of a From_ line ("From SENDER Www Mmm dd hh:mm:ss yyyy"),
 * UTC: 0, or -1 when it has none. */
int src_from_date(const char *p, size_t n, time_t *out);

/* A Maildir (cur/ and new/), with Dovecot's dovecot-uidlist (UIDVALIDITY,
 * UIDNEXT, the UID of each file) and dovecot-keywords (the letters a-z
 * of the file names' flags). Files the uidlist does not name get new UIDs
 * after the others, in the order of their names (delivery order). */
struct src_uidlist {
	uint32_t uidvalidity, uidnext;  /* 0: none given */
	struct src_uident {
		uint32_t uid;
		char *base;        /* the file's name up to ':' */
	} *e;
	size_t n;
};
#define SRC_UIDLIST_MAX 10000000   /* entries */
/* 0, or -1 with err ("path:line: ...") for a malformed list. */
int src_uidlist_parse(const char *data, size_t len, const char *path, struct src_uidlist *out,
		      struct error *err);
void src_uidlist_free(struct src_uidlist *u);
/* dovecot-keywords ("N name" lines) into names[0..25] (NULL: unused). */
int src_keywords_parse(const char *data, size_t len, const char *path, char *names[26],
		       struct error *err);
/* The flags and keywords of a Maildir file name ("...:2,FRS" and a-z)
 * into m: 0, or -1 for a letter that names no valid keyword. */
int src_maildir_flags(const char *fname, char *const names[26], struct src_msg *m);

struct src_mfile {
	char *name;            /* "cur/NAME" or "new/NAME" */
	uint32_t uid;          /* from the uidlist, 0 none */
};
struct src_maildir {
	char *path;
	struct src_uidlist ul;
	char *kw[26];
	struct src_mfile *f;   /* sorted: by UID, then the unlisted by name */
	size_t n;
	size_t max;
};
int src_maildir_open(struct src_maildir *md, const char *path, size_t max, struct error *err);
/* File i into m (its UID, flags, keywords, mtime as INTERNALDATE). */
int src_maildir_read(struct src_maildir *md, size_t i, struct src_msg *m, struct error *err);
void src_maildir_close(struct src_maildir *md);
/* A whole small file (at most max bytes) into out: 0, 1 when missing,
 * -1 with err. */
int src_file_read(const char *path, size_t max, struct buf *out, struct error *err);

#endif
