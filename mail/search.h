/* SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4) with ESEARCH result options
 * (RFC 4731) and the saved result "$" (RFC 5182).
 *
 * search_parse.c turns the command's argument tree into a program: the
 * search keys in prefix order in one flat array, each operator node (AND,
 * OR, NOT) followed by its operands and knowing where its subtree ends.
 * Parsing walks the argument lists with an explicit stack and caps the
 * number of keys and the nesting depth, so nothing recurses on client
 * input. Search strings are converted to UTF-8 (CHARSET) and case-folded
 * once, here.
 *
 * search_eval.c decides one message at a time, again with an explicit
 * stack. It first tries the message's metadata alone, with three-valued
 * logic (true / false / unknown), and reads and parses the message only
 * if the answer still depends on its header or body; AND and OR stop at
 * the first operand that decides them.
 *
 * search_text.c: case folding (i;unicode-casemap-like) and charset
 * conversion shared by both. */
#ifndef HAVEN_SEARCH_H
#define HAVEN_SEARCH_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "message.h"
#include "msgmeta.h"
#include "seqset.h"

#define SEARCH_MAX_KEYS 1000   /* search keys (incl. operators) per command */
#define SEARCH_MAX_DEPTH 32    /* nested OR / NOT / parenthesized lists */
#define SEARCH_MAX_FIELDS MAIL_SEARCH_FIELDS_MAX /* header fields looked at per header block */

enum search_op {
	/* operators */
	SK_AND,             /* the whole program, a parenthesized list */
	SK_OR,
	SK_NOT,
	/* metadata only */
	SK_ALL,
	SK_NONE,            /* matches nothing */
	SK_RECENT,          /* msg_meta.recent (never after ENABLE IMAP4rev2) */
	SK_NEW,             /* RECENT UNSEEN */
	SK_OLD,             /* NOT RECENT */
	SK_FLAG,            /* flag bit set */
	SK_UNFLAG,          /* flag bit clear */
	SK_KEYWORD,
	SK_UNKEYWORD,
	SK_BEFORE,          /* INTERNALDATE day < day */
	SK_ON,
	SK_SINCE,
	SK_LARGER,
	SK_SMALLER,
	SK_SEQSET,
	SK_UIDSET,
	SK_SAVED,           /* "$" (as a sequence set or after UID) */
	SK_MODSEQ,          /* MODSEQ >= num (RFC 7162 3.1.5) */
	SK_OLDER,           /* INTERNALDATE <= when (RFC 5032) */
	SK_YOUNGER,         /* INTERNALDATE >= when */
	SK_SAVEDBEFORE,     /* save date's day < day (RFC 8514; INTERNALDATE */
	SK_SAVEDON,         /* where the store keeps no save date) */
	SK_SAVEDSINCE,
	SK_SAVEDATESUPPORTED,
	SK_THREADID,        /* RFC 8474: no threads are computed, matches nothing */
	/* need the header */
	SK_SENTBEFORE,
	SK_SENTON,
	SK_SENTSINCE,
	SK_FROM,
	SK_TO,
	SK_CC,
	SK_BCC,
	SK_SUBJECT,
	SK_HEADER,
	/* need the body */
	SK_EMAILID,         /* RFC 8474: str is the ObjectID (mail/emailid.h) */
	SK_BODY,
	SK_TEXT,
};

struct search_node {
	enum search_op op;
	uint32_t end;           /* index just past this node's subtree */
	uint32_t flag;          /* SK_FLAG / SK_UNFLAG: enum msg_flag bit */
	int64_t day;            /* date keys: days since 1970-01-01 */
	int64_t when;           /* OLDER / YOUNGER: target time, seconds since the epoch */
	uint64_t num;           /* LARGER / SMALLER / MODSEQ */
	struct seqset set;      /* SK_SEQSET / SK_UIDSET */
	const char *field;      /* SK_HEADER: field name */
	size_t field_len;
	const char *str;        /* string keys: UTF-8, case-folded; keyword name */
	size_t len;
};

enum search_return {
	SR_MIN = 1 << 0,
	SR_MAX = 1 << 1,
	SR_ALL = 1 << 2,
	SR_COUNT = 1 << 3,
	SR_SAVE = 1 << 4,
	SR_PARTIAL = 1 << 5,        /* RFC 5267 4.4: partial_lo..partial_hi of the result */
	SR_UPDATE = 1 << 6,         /* RFC 5267 4.3: ADDTO/REMOVEFROM while selected */
	SR_CONTEXT = 1 << 7,        /* RFC 5267 4.2: a hint, taken as none */
};

/* What a program needs beyond metadata. */
enum search_need {
	SN_HEADER = 1 << 0,
	SN_BODY = 1 << 1,
};

struct search_program {
	struct search_node *nodes;  /* nodes[0] is the top-level AND */
	size_t nnodes;
	int has_return;             /* RETURN (...) was given */
	unsigned ret;               /* enum search_return; RETURN () means SR_ALL */
	uint32_t partial_lo, partial_hi;  /* SR_PARTIAL: 1-based positions, lo <= hi */
	unsigned needs;             /* enum search_need */
	int uses_saved;             /* "$" appears */
	int uses_modseq;            /* MODSEQ appears: results carry the highest */
};

/* ---- evaluation ---------------------------------------------------------- */

/* Reads a message: at least its whole header (header_only) or all of it,
 * appended to out. Returns 0, 1 if the message is gone (expunged: it then
 * matches nothing), or -1 with err. */
typedef int (*search_read_fn)(void *arg, uint32_t uid, int header_only, struct buf *out,
			      struct error *err);

struct search_ctx {
	const char *const *kwnames; /* mailbox keyword table (msg_meta.kw indexes) */
	size_t nkwnames;
	const uint32_t *saved;      /* "$": saved UIDs, ascending */
	size_t nsaved;
	uint32_t count;             /* messages in the view ('*' for sequence numbers) */
	uint32_t maxuid;            /* UID of the last message ('*' for UIDs) */
	int no_recent;              /* IMAP4rev2 session: \Recent does not exist */
	search_read_fn read;
	/* Optional: the header block of the fields in mail_envelope_fields
	 * (backend_ops.header_fields), used instead of read when every key
	 * that needs the message looks only at those fields. */
	search_read_fn read_fields;
	void *read_arg;
	/* statistics */
	size_t messages_read;
	uint64_t bytes_read;
	size_t fields_read;         /* messages decided on read_fields' block */
	/* private */
	struct arena *msg_arena;    /* per message, reset after each */
	int use_fields;             /* read_fields suffices for this program */
};

/* 1 when every key of p that needs the message looks only at fields of
 * mail_envelope_fields: a store that keeps those fields apart can decide
 * p without reading messages (ctx->read_fields). */
int search_fields_suffice(const struct search_program *p);

/* Resolve '*' in the program's sets against ctx->count / ctx->maxuid and
 * set up ctx (msg_arena). Call once before search_match(); release with
 * search_ctx_free(). */
void search_prepare(struct search_program *p, struct search_ctx *ctx);
void search_ctx_free(struct search_ctx *ctx);
/* 1 if message seq (meta m) matches, 0 if not, -1 with err. */
int search_match(const struct search_program *p, struct search_ctx *ctx, uint32_t seq,
		 const struct msg_meta *m, struct error *err);

/* ---- what a store indexes ------------------------------------------------
 *
 * A store that keeps, per message, the text built here can decide text
 * keys without reading messages. It is, folded and decoded as the
 * evaluator sees them and separated by SEARCH_TEXT_SEP: every top-level
 * header field and the MIME parts' headers (up to body_start), the body
 * text (up to addr_start), the parsed addresses of From, To, Cc and Bcc.
 * A needle that search_text_needle_ok accepts satisfies TEXT exactly
 * when it occurs before addr_start, BODY when it occurs between
 * body_start and addr_start; FROM, TO, CC, BCC, SUBJECT and HEADER can
 * only match if it occurs anywhere. Built by the evaluator's own code, so
 * the two cannot drift apart. */
#define SEARCH_TEXT_SEP '\x01'
struct search_texts {
	struct buf text;
	int complete;           /* nothing was cut off at max bytes */
	size_t body_start;      /* character (from 1) where the body's text begins */
	size_t addr_start;      /* ... and where the addresses begin */
	int64_t sent_day;       /* SENT*: day of Date:, INT64_MIN if none */
};
void search_texts_build(const struct mail_message *m, size_t max, struct search_texts *t);
/* SENT*: the day of the first Date: field of a header block as written in
 * its own zone (days since 1970-01-01), INT64_MIN if none is usable. */
int64_t search_sent_day(const char *hdr, size_t hdr_len);
/* 1 if a needle cannot straddle a separator (no NUL, no SEARCH_TEXT_SEP). */
int search_text_needle_ok(const char *s, size_t len);

/* ---- search_text.c -------------------------------------------------------- */

/* Append the case-folded form of UTF-8 text s[0..len) to out: Unicode
 * full case folding plus NFKD (libunistring u8_casefold), so "CAFÉ",
 * "café" and "cafe\u0301" compare equal; invalid UTF-8 sequences become
 * U+FFFD first. Pure ASCII takes a fast path (ASCII lower-casing). */
void search_fold(const char *s, size_t len, struct buf *out);
/* 1 if charset names UTF-8 or US-ASCII (no conversion needed). */
int search_charset_is_utf8(const char *charset);
/* Convert s[0..len) from charset to UTF-8, appended to out. strict: fail
 * on invalid input (returns -1) instead of substituting U+FFFD. Returns
 * -2 if the charset is unknown. */
int search_charset_convert(const char *charset, const char *s, size_t len, int strict,
			   struct buf *out);

#endif
