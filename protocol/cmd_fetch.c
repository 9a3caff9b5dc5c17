/* FETCH and UID FETCH: FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE,
 * BODY, BODYSTRUCTURE, RFC822[.HEADER|.TEXT], the FAST/ALL/FULL macros and
 * BODY[.PEEK][section]<partial> for every section form, BINARY[.PEEK] and
 * BINARY.SIZE (RFC 3516) for part numbers, MODSEQ and CHANGEDSINCE
 * (RFC 7162), through the MIME parser in mail/. A message is read and parsed at most once per response,
 * only when an item needs it, in an arena reset after each message; a long
 * FETCH yields when the client reads slowly (see fetch_continue). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "../mail/imapdate.h"
#include "../mail/message.h"
#include "../mail/structure.h"
#include "../mail/transfer.h"
#include "fetchext.h"
#include "worker.h"

enum fetch_att {
	FA_UID = 1 << 0,
	FA_FLAGS = 1 << 1,
	FA_INTERNALDATE = 1 << 2,
	FA_SIZE = 1 << 3,
	FA_ENVELOPE = 1 << 4,
	FA_BODY = 1 << 5,          /* BODY without a section: non-extensible structure */
	FA_BODYSTRUCTURE = 1 << 6,
	FA_MODSEQ = 1 << 7,        /* RFC 7162 */
	/* bits 8 and up: fetchext.h */
};
#define FA_NEEDS_PARSE (FA_ENVELOPE | FA_BODY | FA_BODYSTRUCTURE)

enum binary_kind { BIN_NONE, BIN_CONTENT, BIN_SIZE };

struct body_item {
	const char *label;      /* name to echo, e.g. "BODY[1.MIME]" or "RFC822" */
	enum binary_kind binary;
	const char *spec;       /* section spec as given between the brackets */
	size_t speclen;
	int peek;
	int partial;
	uint64_t origin, count;
};

struct fetch_req {
	unsigned atts;
	struct body_item *items;
	size_t nitems;
};

#define MAX_BODY_ITEMS 64

/* Check a section spec's syntax once, against an empty message, so a bad
 * spec is a BAD for the command rather than an error per message. */
static int section_valid(struct session *s, const char *spec, size_t len, const char **err)
{
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	struct mail_message *m = mail_parse(s->arena, "", 0, &lim);
	struct buf gen = BUF_INIT;
	const char *p;
	size_t n;
	int r = mail_section(m, spec, len, &gen, &p, &n, err);
	buf_free(&gen);
	return r;
}

/* What follows "]": nothing, or "<origin.count>" with count > 0. */
static int parse_partial(const char *q, struct body_item *bi, const char **err)
{
	char *end;
	if (*q == '\0')
		return 0;
	if (*q != '<' || !isdigit((unsigned char)q[1])) {
		*err = "Junk after section";
		return -1;
	}
	bi->origin = strtoull(q + 1, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1])) {
		*err = "Invalid partial";
		return -1;
	}
	q = end + 1;
	bi->count = strtoull(q, &end, 10);
	if (*end != '>' || end[1] != '\0' || bi->count == 0) {
		*err = "Invalid partial";
		return -1;
	}
	bi->partial = 1;
	return 0;
}

/* BODY[...]<o.n> / BODY.PEEK[...] */
static int parse_body(struct session *s, const char *att, struct body_item *bi,
		      const char **err)
{
	const char *p = strchr(att, '[') + 1;
	const char *close = strrchr(p, ']');

	memset(bi, 0, sizeof(*bi));
	bi->peek = strncasecmp(att, "BODY.PEEK[", 10) == 0;
	if (close == NULL) {
		*err = "Missing ] in section";
		return -1;
	}
	bi->spec = p;
	bi->speclen = (size_t)(close - p);
	if (section_valid(s, bi->spec, bi->speclen, err) < 0)
		return -1;
	/* Echoed as BODY[<section as given>]: PEEK is not part of the name. */
	bi->label = arena_printf(s->arena, "BODY[%.*s]", (int)bi->speclen, p);
	return parse_partial(close + 1, bi, err);
}

/* BINARY[1.2]<o.n>, BINARY.PEEK[...], BINARY.SIZE[...]: part numbers only
 * (RFC 3516 section-binary). */
static int parse_binary(struct session *s, const char *att, struct body_item *bi,
			const char **err)
{
	const char *p = strchr(att, '[') + 1;
	const char *close = strchr(p, ']');

	memset(bi, 0, sizeof(*bi));
	bi->binary = strncasecmp(att, "BINARY.SIZE[", 12) == 0 ? BIN_SIZE : BIN_CONTENT;
	bi->peek = bi->binary == BIN_SIZE || strncasecmp(att, "BINARY.PEEK[", 12) == 0;
	if (close == NULL) {
		*err = "Missing ] in section";
		return -1;
	}
	bi->spec = p;
	bi->speclen = (size_t)(close - p);
	for (size_t i = 0; i < bi->speclen; i++) {
		/* digits separated by single dots, no leading/trailing dot */
		int dot = p[i] == '.';
		if (!(isdigit((unsigned char)p[i]) || dot) ||
		    (dot && (i == 0 || i + 1 == bi->speclen || p[i - 1] == '.')) ||
		    (p[i] == '0' && (i == 0 || p[i - 1] == '.'))) {
			*err = "BINARY takes a part number";
			return -1;
		}
	}
	bi->label = arena_printf(s->arena, "%s[%.*s]", bi->binary == BIN_SIZE ? "BINARY.SIZE"
									  : "BINARY",
				 (int)bi->speclen, p);
	if (bi->binary == BIN_SIZE && close[1] != '\0') {
		*err = "Junk after section";
		return -1;
	}
	return parse_partial(close + 1, bi, err);
}

static int add_body_item(struct fetch_req *r, const struct body_item *bi, const char **err)
{
	if (r->nitems == MAX_BODY_ITEMS) {
		*err = "Too many body items";
		return -1;
	}
	r->items[r->nitems++] = *bi;
	return 0;
}

static const struct {
	const char *name;
	unsigned atts;
} simple_atts[] = {
	{ "UID", FA_UID },
	{ "FLAGS", FA_FLAGS },
	{ "INTERNALDATE", FA_INTERNALDATE },
	{ "RFC822.SIZE", FA_SIZE },
	{ "ENVELOPE", FA_ENVELOPE },
	{ "BODY", FA_BODY },
	{ "BODYSTRUCTURE", FA_BODYSTRUCTURE },
	{ "MODSEQ", FA_MODSEQ },
	{ "FAST", FA_FLAGS | FA_INTERNALDATE | FA_SIZE },
	{ "ALL", FA_FLAGS | FA_INTERNALDATE | FA_SIZE | FA_ENVELOPE },
	{ "FULL", FA_FLAGS | FA_INTERNALDATE | FA_SIZE | FA_ENVELOPE | FA_BODY },
};

static const struct {
	const char *name;
	const char *spec;
	int peek;
} rfc822_atts[] = {
	{ "RFC822", "", 0 },
	{ "RFC822.HEADER", "HEADER", 1 },
	{ "RFC822.TEXT", "TEXT", 0 },
};

static int add_att(struct session *s, struct fetch_req *r, const struct imap_arg *a,
		   const char **err)
{
	const char *n = a->str;
	struct body_item bi;

	if (a->type != IMAP_ARG_ATOM) {
		*err = "Invalid FETCH item";
		return -1;
	}
	for (size_t i = 0; i < sizeof(simple_atts) / sizeof(simple_atts[0]); i++) {
		if (strcasecmp(n, simple_atts[i].name) == 0) {
			r->atts |= simple_atts[i].atts;
			return 0;
		}
	}
	if (fetchext_att(n, &r->atts))
		return 0;
	memset(&bi, 0, sizeof(bi));
	for (size_t i = 0; i < sizeof(rfc822_atts) / sizeof(rfc822_atts[0]); i++) {
		if (strcasecmp(n, rfc822_atts[i].name) == 0) {
			bi.label = rfc822_atts[i].name;
			bi.spec = rfc822_atts[i].spec;
			bi.speclen = strlen(bi.spec);
			bi.peek = rfc822_atts[i].peek;
			return add_body_item(r, &bi, err);
		}
	}
	if (!strncasecmp(n, "BODY[", 5) || !strncasecmp(n, "BODY.PEEK[", 10)) {
		if (parse_body(s, n, &bi, err) < 0)
			return -1;
		return add_body_item(r, &bi, err);
	}
	if (!strncasecmp(n, "BINARY[", 7) || !strncasecmp(n, "BINARY.PEEK[", 12) ||
	    !strncasecmp(n, "BINARY.SIZE[", 12)) {
		if (parse_binary(s, n, &bi, err) < 0)
			return -1;
		return add_body_item(r, &bi, err);
	}
	*err = "Unknown FETCH item";
	return -1;
}

/* What a FETCH needs to carry on after yielding; lives in the arena. */
struct fetch_state {
	struct fetch_req req;
	const char *tag;
	uint32_t *uids;
	size_t n, next;
	int by_uid;
	int set_seen;
	int vanished;            /* some messages were expunged meanwhile */
	uint8_t *seen_set;       /* per uid: \Seen was set by this FETCH */
	int push;                /* NOTIFY's (fetch_push): never yields */
	struct arena *msg_arena; /* one message's structure, reset per message */
	/* The message being answered: its structure and bytes when an item
	 * needs them, and how far its answer has got. */
	struct {
		int active;
		size_t k;            /* index into uids */
		uint32_t seq;
		struct mail_structure *st;
		struct msg_stream *stream;
		struct fetchext_vals ext;
		size_t item;         /* next body item to write */
		int sep;
		uint64_t off, left;  /* a literal being streamed from stream */
	} cur;
};

/* Literals above this size are copied from the stream piece by piece as
 * the client reads, never held whole. */
#define FETCH_STREAM_MIN (256 * 1024)
#define FETCH_CHUNK (64 * 1024)

static void write_structure(struct buf *out, const struct fetch_req *req,
			    const struct mail_structure *st, int *sep)
{
	if (req->atts & FA_ENVELOPE) {
		buf_printf(out, "%sENVELOPE ", *sep ? " " : "");
		mail_structure_envelope(st, out);
		*sep = 1;
	}
	if (req->atts & FA_BODY) {
		buf_printf(out, "%sBODY ", *sep ? " " : "");
		mail_structure_body(st, 0, out);
		*sep = 1;
	}
	if (req->atts & FA_BODYSTRUCTURE) {
		buf_printf(out, "%sBODYSTRUCTURE ", *sep ? " " : "");
		mail_structure_body(st, 1, out);
		*sep = 1;
	}
}

static int needs_structure(const struct fetch_req *req)
{
	if (req->atts & FA_NEEDS_PARSE)
		return 1;
	for (size_t i = 0; i < req->nitems; i++)
		if (req->items[i].speclen || req->items[i].binary)
			return 1;
	return 0;
}

/* Read [off, off + len) of the message into out. */
static int read_range(struct msg_stream *st, uint64_t off, uint64_t len, struct buf *out,
		      struct error *err)
{
	buf_reserve(out, (size_t)len);
	while (len > 0) {
		size_t want = len > FETCH_CHUNK ? FETCH_CHUNK : (size_t)len;
		buf_reserve(out, want);
		ssize_t r = st->ops->pread(st, out->data + out->len, want, off);
		if (r <= 0) {
			error_set(err, r == 0 ? ERR_EXPUNGEISSUED : ERR_INTERNAL,
				  "Message data could not be read");
			return -1;
		}
		out->len += (size_t)r;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* The message's stream, and its structure when an item needs it. */
static int load_message(struct mailbox *mb, struct fetch_state *fs, uint32_t uid, int structure,
			struct error *err)
{
	if (!structure)
		return mailbox_open_message(mb, uid, &fs->cur.stream, err);
	return wsession_open_structured(mb, uid, fs->msg_arena, &fs->cur.st, &fs->cur.stream, err);
}

/* Where a body item's bytes are: [*off, *off + *len) of the message, to be
 * written as they are (0), filtered (loc->filter) or, for BINARY, decoded. */
static void item_range(const struct mail_structure *st, uint64_t size,
		       const struct body_item *bi, struct mail_section_loc *loc,
		       const struct mail_part **part)
{
	const char *err;
	*part = NULL;
	memset(loc, 0, sizeof(*loc));
	if (st == NULL) {
		loc->len = size;  /* BODY[] or BINARY[]: no structure was needed */
		return;
	}
	if (!bi->binary) {
		if (mail_section_locate(st->msg, bi->spec, bi->speclen, loc, &err) < 0)
			memset(loc, 0, sizeof(*loc));  /* validated when parsed */
		return;
	}
	if (bi->speclen == 0) {
		loc->len = st->msg->len;   /* BINARY[] is the whole message */
		return;
	}
	*part = mail_find_part(st->msg, bi->spec, bi->speclen);
	if (*part) {
		loc->off = (*part)->body_off;
		loc->len = (*part)->body_len;
	} else {
		loc->filter = MAIL_SECTION_EMPTY;
	}
}

/* BINARY content: 1 decoded into out, 0 unknown encoding. */
static int binary_decode(const struct mail_part *part, const char *p, size_t n, struct buf *out)
{
	const char *enc = part && part->encoding ? part->encoding : "7bit";
	if (!strcasecmp(enc, "base64"))
		mail_decode_base64(p, n, out);
	else if (!strcasecmp(enc, "quoted-printable"))
		mail_decode_qp(p, n, out);
	else if (!strcasecmp(enc, "7bit") || !strcasecmp(enc, "8bit") || !strcasecmp(enc, "binary"))
		buf_append(out, p, n);
	else
		return 0;
	return 1;
}

/* "<origin.count>" applied to n bytes: the window to send. */
static void partial_window(const struct body_item *bi, uint64_t n, uint64_t *o, uint64_t *c)
{
	*o = 0;
	*c = n;
	if (!bi->partial)
		return;
	*o = bi->origin < n ? bi->origin : n;
	*c = bi->count < n - *o ? bi->count : n - *o;
}

static void item_label(struct session *s, const struct body_item *bi, int sep)
{
	if (bi->partial && bi->binary != BIN_SIZE)
		session_printf(s, "%s%s<%llu> ", sep ? " " : "", bi->label,
			       (unsigned long long)bi->origin);
	else
		session_printf(s, "%s%s ", sep ? " " : "", bi->label);
}

/* Bytes in memory (generated, decoded or small): the whole item now. */
static void write_item_bytes(struct session *s, const struct body_item *bi, const char *p,
			     size_t n, int sep)
{
	uint64_t o, c;
	if (bi->binary == BIN_SIZE) {
		session_printf(s, "%s%s %zu", sep ? " " : "", bi->label, n);
		return;
	}
	partial_window(bi, n, &o, &c);
	item_label(s, bi, sep);
	/* literal8 only when the bytes need it (NUL) */
	if (bi->binary == BIN_CONTENT && memchr(p + o, '\0', (size_t)c))
		session_write_literal8(s, p + o, (size_t)c);
	else
		session_write_literal(s, p + o, (size_t)c);
}

/* One body item. 0 written, 1 a big literal was begun (fs->cur.off/left:
 * the rest comes from stream_literal), -1 error (NO sent), -2 the client
 * must be told UNKNOWN-CTE. */
static int write_item(struct session *s, struct fetch_state *fs, const struct body_item *bi,
		      int sep, struct error *err)
{
	struct mail_section_loc loc;
	const struct mail_part *part;
	struct buf raw = BUF_INIT, gen = BUF_INIT;
	int rc = 0;
	uint64_t o, c;

	item_range(fs->cur.st, fs->cur.stream->size, bi, &loc, &part);
	if (loc.filter == MAIL_SECTION_RANGE && !bi->binary) {
		partial_window(bi, loc.len, &o, &c);
		if (c >= FETCH_STREAM_MIN) {
			item_label(s, bi, sep);
			session_printf(s, "{%llu}\r\n", (unsigned long long)c);
			fs->cur.off = loc.off + o;
			fs->cur.left = c;
			return 1;
		}
		loc.off += o;
		loc.len = c;
		o = 0;
	}
	if (loc.filter != MAIL_SECTION_EMPTY &&
	    read_range(fs->cur.stream, loc.off, loc.len, &raw, err) < 0) {
		rc = -1;
	} else if (loc.filter == MAIL_SECTION_FIELDS || loc.filter == MAIL_SECTION_FIELDS_NOT) {
		mail_section_filter(raw.data ? raw.data : "", raw.len, &loc, &gen);
		write_item_bytes(s, bi, gen.data ? gen.data : "", gen.len, sep);
	} else if (bi->binary && bi->speclen && loc.filter != MAIL_SECTION_EMPTY) {
		if (binary_decode(part, raw.data ? raw.data : "", raw.len, &gen))
			write_item_bytes(s, bi, gen.data ? gen.data : "", gen.len, sep);
		else
			rc = -2;
	} else if (!bi->binary && loc.filter == MAIL_SECTION_RANGE) {
		/* already narrowed to the partial window */
		item_label(s, bi, sep);
		session_write_literal(s, raw.data ? raw.data : "", raw.len);
	} else {
		write_item_bytes(s, bi, raw.data ? raw.data : "", raw.len, sep);
	}
	mail_section_loc_free(&loc);
	buf_free(&raw);
	buf_free(&gen);
	return rc;
}

static void end_message(struct fetch_state *fs)
{
	if (fs->cur.stream)
		fs->cur.stream->ops->close(fs->cur.stream);
	memset(&fs->cur, 0, sizeof(fs->cur));
}

/* The non-body items of message k: "* seq FETCH (UID .. FLAGS .. ...". */
static void write_head(struct session *s, struct fetch_state *fs, const struct msg_meta *m)
{
	struct wsession *ws = wsession_of(s);
	struct buf out = BUF_INIT;
	int seen_now = fs->seen_set && fs->seen_set[fs->cur.k];
	int flags_now = (fs->req.atts & FA_FLAGS) || seen_now;
	int sep = 0;

	if (flags_now)
		wsession_announce_flags(ws, 0);
	buf_printf(&out, "* %u FETCH (", fs->cur.seq);
	/* RFC 7162 3.2.4: a FETCH that sets \Seen tells UID and MODSEQ */
	if ((fs->req.atts & FA_UID) || (seen_now && qresync_on(ws))) {
		buf_printf(&out, "UID %u", m->uid);
		sep = 1;
	}
	if ((fs->req.atts & FA_MODSEQ) || (seen_now && condstore_on(ws))) {
		buf_append_str(&out, sep ? " " : "");
		modseq_write(ws, &out, m);
		sep = 1;
	}
	session_write(s, out.data, out.len);
	buf_reset(&out);
	if (flags_now) {
		session_printf(s, "%sFLAGS ", sep ? " " : "");
		flags_write(s, ws->mb, m);
		sep = 1;
	}
	if (fs->req.atts & FA_INTERNALDATE) {
		char d[IMAPDATE_DATETIME_SIZE];
		imapdate_format_datetime(d, sizeof(d), m->internaldate, m->tz_minutes);
		buf_printf(&out, "%sINTERNALDATE \"%s\"", sep ? " " : "", d);
		sep = 1;
	}
	if (fs->req.atts & FA_SIZE) {
		buf_printf(&out, "%sRFC822.SIZE %llu", sep ? " " : "", (unsigned long long)m->size);
		sep = 1;
	}
	fetchext_write(&out, fs->req.atts, m, &fs->cur.ext, &sep);
	if (fs->cur.st)
		write_structure(&out, &fs->req, fs->cur.st, &sep);
	session_write(s, out.data, out.len);
	buf_free(&out);
	fs->cur.sep = sep;
}

/* What message uid's items need: its structure, its stream, the items
 * made from its bytes (EMAILID not when the store keeps the digest). 0,
 * or -1 with e. */
static int message_load(struct wsession *ws, struct fetch_state *fs, uint32_t uid,
			struct error *e)
{
	unsigned atts = fs->req.atts;
	int known = 0;

	memset(&fs->cur.ext, 0, sizeof(fs->cur.ext));
	if ((atts & FA_EMAILID) &&
	    (known = fetchext_stored_emailid(ws->mb, uid, &fs->cur.ext, e)) < 0)
		return -1;
	if (known)
		atts &= ~FA_EMAILID;
	if (!fs->req.nitems && !(atts & (FA_NEEDS_PARSE | FA_EXT_NEEDS_BYTES)))
		return 0;
	if (load_message(ws->mb, fs, uid, needs_structure(&fs->req), e) < 0)
		return -1;
	return fetchext_prepare(fs->msg_arena, atts, fs->cur.stream, &fs->cur.ext, e);
}

/* Start message k: 0 begun (or skipped: expunged meanwhile), -1 error. */
static int begin_message(struct session *s, struct fetch_state *fs, size_t k)
{
	struct wsession *ws = wsession_of(s);
	uint32_t seq = mailbox_uid_to_seq(ws->mb, fs->uids[k]);
	const struct msg_meta *m = seq ? mailbox_meta(ws->mb, seq) : NULL;
	struct error e;

	if (m == NULL) {
		fs->vanished = 1;
		return 0;
	}
	arena_reset(fs->msg_arena);
	fs->cur.k = k;
	fs->cur.seq = seq;
	if (message_load(ws, fs, m->uid, &e) < 0) {
		end_message(fs);
		if (e.code == ERR_EXPUNGEISSUED) {
			fs->vanished = 1;
			return 0;
		}
		session_tagged_error(s, fs->tag, &e);
		return -1;
	}
	if ((m = mailbox_meta(ws->mb, seq)) == NULL) {
		/* (a store may have looked again while loading) */
		end_message(fs);
		fs->vanished = 1;
		return 0;
	}
	fs->cur.active = 1;
	write_head(s, fs, m);
	return 0;
}

/* Copy the big literal in progress while the client keeps up. 0 done,
 * 1 yielded, -1 error (the connection cannot go on: half a literal). */
static int stream_literal(struct session *s, struct fetch_state *fs)
{
	char tmp[FETCH_CHUNK];
	while (fs->cur.left > 0) {
		if (!fs->push && session_output_full(s))
			return 1;
		size_t want = fs->cur.left > sizeof(tmp) ? sizeof(tmp) : (size_t)fs->cur.left;
		ssize_t r = fs->cur.stream->ops->pread(fs->cur.stream, tmp, want, fs->cur.off);
		if (r <= 0) {
			log_warn("FETCH: message %u could not be read to its end", fs->cur.seq);
			session_close(s);
			return -1;
		}
		session_write_char8(s, tmp, (size_t)r);   /* BODY: never binary */
		fs->cur.off += (uint64_t)r;
		fs->cur.left -= (uint64_t)r;
	}
	return 0;
}

/* Body items of the current message from fs->cur.item on, then ")".
 * 0 message done, 1 yielded, -1 error (answered). */
static int message_items(struct session *s, struct fetch_state *fs)
{
	struct error e;
	int r;

	if ((r = stream_literal(s, fs)) != 0)
		return r;
	while (fs->cur.item < fs->req.nitems) {
		const struct body_item *bi = &fs->req.items[fs->cur.item++];
		r = write_item(s, fs, bi, fs->cur.sep, &e);
		fs->cur.sep = 1;
		if (r == -2 || r == -1) {
			session_write(s, ")\r\n", 3);
			if (r == -2)
				session_tagged(s, fs->tag, "NO", "UNKNOWN-CTE",
					       "Unknown Content-Transfer-Encoding in message %u",
					       fs->cur.seq);
			else
				session_tagged_error(s, fs->tag, &e);
			return -1;
		}
		if (r == 1 && (r = stream_literal(s, fs)) != 0)
			return r;
	}
	session_write(s, ")\r\n", 3);
	return 0;
}

/* Set \Seen on every fetched message that lacks it, in one store call (a
 * backend may rewrite a whole file per call), before any is sent. */
static void mark_seen(struct session *s, struct fetch_state *fs)
{
	struct wsession *ws = wsession_of(s);
	uint32_t *unseen = arena_alloc(s->arena, (fs->n ? fs->n : 1) * sizeof(uint32_t));
	size_t nt = 0, nf = 0;
	struct error e;

	fs->seen_set = arena_alloc(s->arena, fs->n ? fs->n : 1);
	for (size_t k = 0; k < fs->n; k++) {
		uint32_t seq = mailbox_uid_to_seq(ws->mb, fs->uids[k]);
		const struct msg_meta *m = seq ? mailbox_meta(ws->mb, seq) : NULL;
		if (m && !(m->flags & MF_SEEN)) {
			unseen[nt++] = fs->uids[k];
			fs->seen_set[k] = 1;
		}
	}
	if (nt && mailbox_store_flags(ws->mb, unseen, nt, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL,
				     &nf, &e) < 0) {
		/* The bodies can still be served; the flags just stay. */
		log_warn("setting \\Seen: %s", e.msg);
		memset(fs->seen_set, 0, fs->n);
	}
}

/* Emit messages until done or until the client falls behind; in the
 * latter case yield, and the session calls us again when output drains,
 * so a FETCH 1:* BODY[] of a large mailbox, or one big message, never sits
 * in memory whole. */
static int fetch_continue(struct session *s)
{
	struct fetch_state *fs = s->cont_ctx;
	int r = 0;

	for (;;) {
		if (fs->cur.active) {
			if ((r = message_items(s, fs)) == 1)
				break;
			end_message(fs);
			if (r < 0)
				goto done;
		}
		if (fs->next >= fs->n)
			break;
		if (session_output_full(s)) {
			r = 1;
			log_debug("FETCH yields at %zu/%zu: client is reading slowly", fs->next, fs->n);
			break;
		}
		if (begin_message(s, fs, fs->next++) < 0)
			goto done;
	}
	if (r == 1) {
		s->cont = fetch_continue;
		return 0;
	}
	if (fs->vanished)
		session_tagged(s, fs->tag, "OK", "EXPUNGEISSUED",
			       "Some messages were expunged meanwhile");
	else
		session_tagged(s, fs->tag, "OK", NULL, "%sFETCH completed",
			       fs->by_uid ? "UID " : "");
done:
	end_message(fs);
	arena_free(fs->msg_arena);
	fs->msg_arena = NULL;
	return 1;
}

/* FETCH modifiers (RFC 4466 2.4): CHANGEDSINCE n (RFC 7162 3.1.4.1) and,
 * for UID FETCH after ENABLE QRESYNC, VANISHED (3.2.6). */
struct fetch_mods {
	uint64_t changedsince;
	int vanished;
};

static const char *fetch_mods_parse(const struct imap_arg *list, struct fetch_mods *fm)
{
	if (list->count == 0)
		return "Empty FETCH modifier list";
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		if (imap_arg_is_atom(a, "CHANGEDSINCE") && i + 1 < list->count &&
		    !fm->changedsince && modseq_arg(&list->list[i + 1], 0, &fm->changedsince) == 0)
			i++;
		else if (imap_arg_is_atom(a, "VANISHED") && !fm->vanished)
			fm->vanished = 1;
		else
			return "Invalid FETCH modifier";
	}
	return NULL;
}

/* -1 after answering BAD. */
static int fetch_modifiers(struct session *s, const struct imap_cmd *cmd, int by_uid,
			   const struct imap_arg *list, struct fetch_mods *fm)
{
	const char *why = fetch_mods_parse(list, fm);

	if (why == NULL && fm->vanished) {
		if (!by_uid)
			why = "VANISHED is a UID FETCH modifier";
		else if (!fm->changedsince)
			why = "VANISHED needs CHANGEDSINCE";
		else if (!(s->enabled & EN_QRESYNC))
			why = "VANISHED needs ENABLE QRESYNC first";
	}
	if (why) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
		return -1;
	}
	return 0;
}

/* UID FETCH (CHANGEDSINCE n VANISHED): VANISHED (EARLIER) for the UIDs of
 * the command's set that are gone, before any FETCH (3.2.6). Here "*"
 * reaches the highest UID the mailbox ever gave out as far as the view
 * knows, not just the highest left: "1:*" is how clients ask, and UIDs
 * expunged from the top must be told too. */
static void fetch_vanished(struct wsession *ws, const char *uidset)
{
	uint32_t count = mailbox_count(ws->mb);
	uint32_t top = count ? mailbox_uid(ws->mb, count) : 0;
	struct seqset set;

	if (seqset_parse(ws->s.arena, uidset, &set) < 0)
		return;   /* "$": what it names is in the view */
	seqset_resolve(&set, ws->uidnext > top + 1 ? ws->uidnext - 1 : top);
	qresync_vanished_earlier(ws, &set);
}

/* CHANGEDSINCE: only the messages whose MODSEQ is above it. */
static void fetch_changedsince(struct fetch_state *fs, struct mailbox *mb, uint64_t since)
{
	size_t k = 0;

	for (size_t i = 0; i < fs->n; i++) {
		uint32_t seq = mailbox_uid_to_seq(mb, fs->uids[i]);
		const struct msg_meta *m = seq ? mailbox_meta(mb, seq) : NULL;
		if (m && m->modseq > since)
			fs->uids[k++] = fs->uids[i];
	}
	fs->n = k;
}

/* The item list: one item or a parenthesized list. -1 after BAD. */
static int fetch_items(struct session *s, const struct imap_cmd *cmd,
		       const struct imap_arg *atts, struct fetch_req *req)
{
	const char *err = NULL;

	if (atts->type == IMAP_ARG_LIST) {
		if (atts->count == 0) {
			session_tagged(s, cmd->tag, "BAD", NULL, "Empty FETCH item list");
			return -1;
		}
		for (size_t i = 0; i < atts->count && err == NULL; i++) {
			add_att(s, req, &atts->list[i], &err);
			/* PREVIEW (LAZY): the item's modifiers follow it */
			if (err == NULL && imap_arg_is_atom(&atts->list[i], "PREVIEW") &&
			    i + 1 < atts->count && atts->list[i + 1].type == IMAP_ARG_LIST)
				err = fetchext_preview_mods(&atts->list[++i]);
		}
	} else {
		add_att(s, req, atts, &err);
	}
	if (err) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", err);
		return -1;
	}
	return 0;
}

void fetch_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	struct fetch_state *fs;
	struct fetch_mods fm = { 0, 0 };

	if ((cmd->nargs != argi + 2 && cmd->nargs != argi + 3) ||
	    cmd->args[argi].type != IMAP_ARG_ATOM ||
	    (cmd->nargs == argi + 3 && cmd->args[argi + 2].type != IMAP_ARG_LIST)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "FETCH expects a sequence set and items");
		return;
	}
	fs = arena_alloc(s->arena, sizeof(*fs));
	memset(fs, 0, sizeof(*fs));
	fs->tag = cmd->tag;
	fs->by_uid = by_uid;
	fs->req.items = arena_alloc(s->arena, MAX_BODY_ITEMS * sizeof(struct body_item));
	if (fetch_items(s, cmd, &cmd->args[argi + 1], &fs->req) < 0)
		return;
	if (cmd->nargs == argi + 3 &&
	    fetch_modifiers(s, cmd, by_uid, &cmd->args[argi + 2], &fm) < 0)
		return;
	if (fm.changedsince)
		fs->req.atts |= FA_MODSEQ;   /* RFC 7162 3.1.4.1: implied */
	if ((fs->req.atts & FA_MODSEQ) && condstore_require(ws, cmd) < 0)
		return;
	if (seqset_arg(s, cmd, ws->mb, cmd->args[argi].str, by_uid, &fs->uids, &fs->n) < 0)
		return;
	if (fm.vanished)
		fetch_vanished(ws, cmd->args[argi].str);
	if (fm.changedsince)
		fetch_changedsince(fs, ws->mb, fm.changedsince);
	if (by_uid)
		fs->req.atts |= FA_UID;
	for (size_t i = 0; i < fs->req.nitems; i++)
		if (!fs->req.items[i].peek && !ws->readonly)
			fs->set_seen = 1;
	if (fs->set_seen)
		mark_seen(s, fs);
	fs->msg_arena = arena_new();
	s->cont_ctx = fs;
	if (fetch_continue(s))
		s->cont_ctx = NULL;
}

void cmd_fetch(struct session *s, const struct imap_cmd *cmd)
{
	fetch_run(s, cmd, 0, 0);
}

/* ---- NOTIFY (RFC 5465 5.2): MessageNew's fetch-atts ------------------- */

int fetch_atts_check(struct session *s, const struct imap_arg *atts, const char **err)
{
	struct fetch_req req;

	memset(&req, 0, sizeof(req));
	req.items = arena_alloc(s->arena, MAX_BODY_ITEMS * sizeof(struct body_item));
	*err = NULL;
	for (size_t i = 0; i < atts->count && *err == NULL; i++)
		add_att(s, &req, &atts->list[i], err);
	return *err ? -1 : 0;
}

void fetch_push(struct session *s, const struct imap_arg *atts, const uint32_t *uids, size_t n)
{
	struct fetch_state *fs = arena_alloc(s->arena, sizeof(*fs));
	const char *err = NULL;

	memset(fs, 0, sizeof(*fs));
	fs->tag = "*";   /* a message that cannot be read: an untagged NO */
	fs->by_uid = 1;
	fs->push = 1;
	fs->req.items = arena_alloc(s->arena, MAX_BODY_ITEMS * sizeof(struct body_item));
	for (size_t i = 0; i < atts->count && err == NULL; i++)
		add_att(s, &fs->req, &atts->list[i], &err);
	if (err)
		return;
	fs->req.atts |= FA_UID;
	fs->uids = arena_alloc(s->arena, (n ? n : 1) * sizeof(uint32_t));
	memcpy(fs->uids, uids, n * sizeof(uint32_t));
	fs->n = n;
	fs->msg_arena = arena_new();
	/* No yielding: the caller bounds what it queues (NOTIFICATIONOVERFLOW). */
	while (fs->next < fs->n && begin_message(s, fs, fs->next++) == 0) {
		if (fs->cur.active)
			message_items(s, fs);
		end_message(fs);
	}
	end_message(fs);
	arena_free(fs->msg_arena);
}
