/* FETCH and UID FETCH: FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE,
 * BODY, BODYSTRUCTURE, RFC822[.HEADER|.TEXT], the FAST/ALL/FULL macros and
 * BODY[.PEEK][section]<partial> for every section form, BINARY[.PEEK] and
 * BINARY.SIZE (RFC 3516) for part numbers, through the MIME
 * parser in mail/. A message is read and parsed at most once per response,
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
#include "../mail/transfer.h"
#include "worker.h"

enum fetch_att {
	FA_UID = 1 << 0,
	FA_FLAGS = 1 << 1,
	FA_INTERNALDATE = 1 << 2,
	FA_SIZE = 1 << 3,
	FA_ENVELOPE = 1 << 4,
	FA_BODY = 1 << 5,          /* BODY without a section: non-extensible structure */
	FA_BODYSTRUCTURE = 1 << 6,
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

/* The decoded content of a part for BINARY: 1 ok, 0 unknown encoding. */
static int binary_content(const struct mail_message *msg, const struct body_item *bi,
			  struct buf *gen, const char **p, size_t *n)
{
	const struct mail_part *part = &msg->root;
	const char *enc;

	if (bi->speclen) {
		part = mail_find_part(msg, bi->spec, bi->speclen);
		if (part == NULL) {
			*p = "";
			*n = 0;
			return 1;
		}
	}
	*p = msg->data + part->body_off;
	*n = part->body_len;
	if (bi->speclen == 0) {
		/* BINARY[] is the whole message */
		*p = msg->data;
		*n = msg->len;
		return 1;
	}
	enc = part->encoding ? part->encoding : "7bit";
	if (!strcasecmp(enc, "base64")) {
		mail_decode_base64(*p, *n, gen);
	} else if (!strcasecmp(enc, "quoted-printable")) {
		mail_decode_qp(*p, *n, gen);
	} else if (!strcasecmp(enc, "7bit") || !strcasecmp(enc, "8bit") ||
		   !strcasecmp(enc, "binary")) {
		return 1;
	} else {
		return 0;
	}
	*p = gen->data ? gen->data : "";
	*n = gen->len;
	return 1;
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

static void write_body(struct session *s, const struct body_item *bi, const char *p, size_t n,
		       int sep)
{
	if (bi->binary == BIN_SIZE) {
		session_printf(s, "%s%s %zu", sep ? " " : "", bi->label, n);
		return;
	}
	if (bi->binary == BIN_CONTENT) {
		uint64_t o = bi->partial && bi->origin < n ? bi->origin : (bi->partial ? n : 0);
		uint64_t c = bi->partial && bi->count < n - o ? bi->count : n - o;
		/* literal8 only when the bytes need it (NUL) */
		int l8 = memchr(p + o, '\0', (size_t)c) != NULL;
		if (bi->partial)
			session_printf(s, "%s%s<%llu> %s{%llu}\r\n", sep ? " " : "", bi->label,
				       (unsigned long long)bi->origin, l8 ? "~" : "",
				       (unsigned long long)c);
		else
			session_printf(s, "%s%s %s{%llu}\r\n", sep ? " " : "", bi->label,
				       l8 ? "~" : "", (unsigned long long)c);
		session_write(s, p + o, (size_t)c);
		return;
	}
	if (bi->partial) {
		uint64_t o = bi->origin < n ? bi->origin : n;
		uint64_t c = bi->count < n - o ? bi->count : n - o;
		session_printf(s, "%s%s<%llu> ", sep ? " " : "", bi->label,
			       (unsigned long long)bi->origin);
		session_write_literal(s, p + o, (size_t)c);
	} else {
		session_printf(s, "%s%s ", sep ? " " : "", bi->label);
		session_write_literal(s, p, n);
	}
}

/* What a FETCH needs to carry on after yielding; lives in the arena. */
struct fetch_state {
	struct fetch_req req;
	const char *tag;
	uint32_t *uids;
	size_t n, next;
	int by_uid;
	int set_seen;
	uint8_t *seen_set;       /* per uid: \Seen was set by this FETCH */
	struct arena *msg_arena; /* one message's parse, reset per message */
};

/* Structure items (ENVELOPE, BODY, BODYSTRUCTURE) into out. */
static void write_structure(struct buf *out, const struct fetch_req *req,
			    const struct mail_message *msg, int *sep)
{
	if (req->atts & FA_ENVELOPE) {
		buf_printf(out, "%sENVELOPE ", *sep ? " " : "");
		mail_write_envelope(out, msg, &msg->root);
		*sep = 1;
	}
	if (req->atts & FA_BODY) {
		buf_printf(out, "%sBODY ", *sep ? " " : "");
		mail_write_bodystructure(out, msg, &msg->root, 0);
		*sep = 1;
	}
	if (req->atts & FA_BODYSTRUCTURE) {
		buf_printf(out, "%sBODYSTRUCTURE ", *sep ? " " : "");
		mail_write_bodystructure(out, msg, &msg->root, 1);
		*sep = 1;
	}
}

static int fetch_one(struct session *s, struct fetch_state *fs, size_t k)
{
	struct wsession *ws = wsession_of(s);
	uint32_t seq = uid_to_seq(ws->mb, fs->uids[k]);
	const struct msg_meta *m = seq ? W->be->meta(ws->mb, seq) : NULL;
	struct buf body = BUF_INIT, out = BUF_INIT;
	struct mail_message *msg = NULL;
	struct error e;
	int flags_now = (fs->req.atts & FA_FLAGS) != 0;
	int sep = 0;

	if (m == NULL)
		return 0;
	if (fs->req.nitems || (fs->req.atts & FA_NEEDS_PARSE)) {
		struct mail_limits lim = MAIL_LIMITS_DEFAULT;
		if (wsession_read_message(ws->mb, m->uid, 0, &body, &e) != 0) {
			buf_free(&body);
			session_tagged_error(s, fs->tag, &e);
			return -1;
		}
		arena_reset(fs->msg_arena);
		msg = mail_parse(fs->msg_arena, body.data ? body.data : "", body.len, &lim);
	}
	if (fs->seen_set && fs->seen_set[k])
		flags_now = 1;  /* tell the client \Seen was set */
	buf_printf(&out, "* %u FETCH (", seq);
	if (fs->req.atts & FA_UID) {
		buf_printf(&out, "UID %u", m->uid);
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
	if (msg)
		write_structure(&out, &fs->req, msg, &sep);
	session_write(s, out.data, out.len);
	for (size_t i = 0; i < fs->req.nitems; i++) {
		const struct body_item *bi = &fs->req.items[i];
		struct buf gen = BUF_INIT;
		const char *p = "", *err = NULL;
		size_t n = 0;
		if (bi->binary) {
			if (!binary_content(msg, bi, &gen, &p, &n)) {
				buf_free(&gen);
				session_write(s, ")\r\n", 3);
				buf_free(&out);
				buf_free(&body);
				session_tagged(s, fs->tag, "NO", "UNKNOWN-CTE",
					       "Unknown Content-Transfer-Encoding in message %u", seq);
				return -1;
			}
		} else if (mail_section(msg, bi->spec, bi->speclen, &gen, &p, &n, &err) < 0) {
			n = 0;  /* the spec was validated when the command was parsed */
		}
		write_body(s, bi, p, n, sep);
		buf_free(&gen);
		sep = 1;
	}
	session_write(s, ")\r\n", 3);
	buf_free(&out);
	buf_free(&body);
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
		uint32_t seq = uid_to_seq(ws->mb, fs->uids[k]);
		if (seq && !(W->be->meta(ws->mb, seq)->flags & MF_SEEN)) {
			unseen[nt++] = fs->uids[k];
			fs->seen_set[k] = 1;
		}
	}
	if (nt && W->be->store_flags(ws->mb, unseen, nt, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL,
				     &nf, &e) < 0) {
		/* The bodies can still be served; the flags just stay. */
		log_warn("setting \\Seen: %s", e.msg);
		memset(fs->seen_set, 0, fs->n);
	}
}

/* Emit messages until done or until the client falls behind; in the
 * latter case yield, and the session calls us again when output drains,
 * so a FETCH 1:* BODY[] of a large mailbox never sits in memory whole. */
static int fetch_continue(struct session *s)
{
	struct fetch_state *fs = s->cont_ctx;
	while (fs->next < fs->n) {
		if (session_output_full(s)) {
			s->cont = fetch_continue;
			log_debug("FETCH yields at %zu/%zu: client is reading slowly", fs->next, fs->n);
			return 0;
		}
		if (fetch_one(s, fs, fs->next++) < 0)
			goto done;
	}
	session_tagged(s, fs->tag, "OK", NULL, "%sFETCH completed", fs->by_uid ? "UID " : "");
done:
	arena_free(fs->msg_arena);
	fs->msg_arena = NULL;
	return 1;
}

void fetch_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	struct fetch_state *fs;
	const char *err = NULL;

	if (cmd->nargs != argi + 2 || cmd->args[argi].type != IMAP_ARG_ATOM) {
		session_tagged(s, cmd->tag, "BAD", NULL, "FETCH expects a sequence set and items");
		return;
	}
	fs = arena_alloc(s->arena, sizeof(*fs));
	fs->tag = cmd->tag;
	fs->by_uid = by_uid;
	fs->req.items = arena_alloc(s->arena, MAX_BODY_ITEMS * sizeof(struct body_item));
	const struct imap_arg *atts = &cmd->args[argi + 1];
	if (atts->type == IMAP_ARG_LIST) {
		if (atts->count == 0) {
			session_tagged(s, cmd->tag, "BAD", NULL, "Empty FETCH item list");
			return;
		}
		for (size_t i = 0; i < atts->count && err == NULL; i++)
			add_att(s, &fs->req, &atts->list[i], &err);
	} else {
		add_att(s, &fs->req, atts, &err);
	}
	if (err) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", err);
		return;
	}
	if (seqset_arg(s, cmd, ws->mb, cmd->args[argi].str, by_uid, &fs->uids, &fs->n) < 0)
		return;
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
