/* FETCH and UID FETCH. This cut serves the message-level items: FLAGS, UID,
 * INTERNALDATE, RFC822.SIZE, RFC822[.HEADER|.TEXT] and BODY[.PEEK] with the
 * top-level sections "", HEADER, TEXT, HEADER.FIELDS[.NOT] and partials.
 * ENVELOPE, BODYSTRUCTURE and MIME part sections need the MIME parser and
 * are refused with a clear BAD until it exists. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "../mail/imapdate.h"
#include "worker.h"

enum fetch_att {
	FA_UID = 1 << 0,
	FA_FLAGS = 1 << 1,
	FA_INTERNALDATE = 1 << 2,
	FA_SIZE = 1 << 3,
};

enum section_kind { SEC_ALL, SEC_HEADER, SEC_TEXT, SEC_FIELDS, SEC_FIELDS_NOT };

struct body_item {
	const char *label;      /* name to echo, e.g. "BODY[HEADER]" or "RFC822" */
	enum section_kind kind;
	const char **fields;
	size_t nfields;
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

static int parse_fields(struct session *s, const char *p, struct body_item *bi)
{
	/* p points just past "HEADER.FIELDS[.NOT] ", at "(a b c)]" */
	const char *e;
	size_t cap = 8;
	if (*p != '(')
		return -1;
	p++;
	e = strchr(p, ')');
	if (e == NULL || e[1] != ']')
		return -1;
	bi->fields = arena_alloc(s->arena, cap * sizeof(char *));
	while (p < e) {
		const char *w = p;
		while (p < e && *p != ' ')
			p++;
		if (p == w)
			return -1;
		if (bi->nfields == cap) {
			const char **nf = arena_alloc(s->arena, cap * 2 * sizeof(char *));
			memcpy(nf, bi->fields, cap * sizeof(char *));
			bi->fields = nf;
			cap *= 2;
		}
		char *f = arena_strndup(s->arena, w, (size_t)(p - w));
		/* Quoted field names are allowed; strip the quotes. */
		size_t fl = strlen(f);
		if (fl >= 2 && f[0] == '"' && f[fl - 1] == '"') {
			f[fl - 1] = '\0';
			f++;
		}
		bi->fields[bi->nfields++] = f;
		if (p < e)
			p++;
	}
	return bi->nfields ? 0 : -1;
}

/* BODY[...]<o.n> / BODY.PEEK[...] */
static int parse_body(struct session *s, const char *att, struct body_item *bi,
		      const char **err)
{
	const char *p = strchr(att, '[');
	const char *close;
	memset(bi, 0, sizeof(*bi));
	bi->peek = strncasecmp(att, "BODY.PEEK[", 10) == 0;
	p++;
	close = strrchr(p, ']');
	if (close == NULL) {
		*err = "Missing ] in section";
		return -1;
	}
	size_t sl = (size_t)(close - p);
	if (sl == 0) {
		bi->kind = SEC_ALL;
	} else if (sl == 6 && strncasecmp(p, "HEADER", 6) == 0) {
		bi->kind = SEC_HEADER;
	} else if (sl == 4 && strncasecmp(p, "TEXT", 4) == 0) {
		bi->kind = SEC_TEXT;
	} else if (strncasecmp(p, "HEADER.FIELDS.NOT ", 18) == 0) {
		bi->kind = SEC_FIELDS_NOT;
		if (parse_fields(s, p + 18, bi) < 0) {
			*err = "Invalid HEADER.FIELDS.NOT list";
			return -1;
		}
	} else if (strncasecmp(p, "HEADER.FIELDS ", 14) == 0) {
		bi->kind = SEC_FIELDS;
		if (parse_fields(s, p + 14, bi) < 0) {
			*err = "Invalid HEADER.FIELDS list";
			return -1;
		}
	} else if (isdigit((unsigned char)*p) || strncasecmp(p, "MIME", 4) == 0) {
		*err = "MIME part sections are not supported by this server version";
		return -1;
	} else {
		*err = "Invalid section";
		return -1;
	}
	/* Label echoed in the response: BODY[<section as given>] (PEEK dropped). */
	bi->label = arena_printf(s->arena, "BODY[%.*s]", (int)sl, p);
	const char *q = close + 1;
	if (*q == '<') {
		char *end;
		unsigned long long o, n;
		o = strtoull(q + 1, &end, 10);
		if (end == q + 1 || *end != '.') {
			*err = "Invalid partial";
			return -1;
		}
		q = end + 1;
		n = strtoull(q, &end, 10);
		if (end == q || *end != '>' || end[1] != '\0' || n == 0) {
			*err = "Invalid partial";
			return -1;
		}
		bi->partial = 1;
		bi->origin = o;
		bi->count = n;
	} else if (*q != '\0') {
		*err = "Junk after section";
		return -1;
	}
	return 0;
}

static int add_att(struct session *s, struct fetch_req *r, const struct imap_arg *a,
		   const char **err)
{
	const char *n = a->str;
	struct body_item bi;

	if (a->type != IMAP_ARG_ATOM) {
		*err = "Invalid FETCH item";
		return -1;
	}
	memset(&bi, 0, sizeof(bi));
	if (!strcasecmp(n, "UID"))
		r->atts |= FA_UID;
	else if (!strcasecmp(n, "FLAGS"))
		r->atts |= FA_FLAGS;
	else if (!strcasecmp(n, "INTERNALDATE"))
		r->atts |= FA_INTERNALDATE;
	else if (!strcasecmp(n, "RFC822.SIZE"))
		r->atts |= FA_SIZE;
	else if (!strcasecmp(n, "FAST"))
		r->atts |= FA_FLAGS | FA_INTERNALDATE | FA_SIZE;
	else if (!strcasecmp(n, "RFC822")) {
		bi.label = "RFC822";
		bi.kind = SEC_ALL;
	} else if (!strcasecmp(n, "RFC822.HEADER")) {
		bi.label = "RFC822.HEADER";
		bi.kind = SEC_HEADER;
		bi.peek = 1;
	} else if (!strcasecmp(n, "RFC822.TEXT")) {
		bi.label = "RFC822.TEXT";
		bi.kind = SEC_TEXT;
	} else if (!strncasecmp(n, "BODY[", 5) || !strncasecmp(n, "BODY.PEEK[", 10)) {
		if (parse_body(s, n, &bi, err) < 0)
			return -1;
	} else if (!strcasecmp(n, "ENVELOPE") || !strcasecmp(n, "BODYSTRUCTURE") ||
		   !strcasecmp(n, "BODY") || !strcasecmp(n, "ALL") || !strcasecmp(n, "FULL") ||
		   !strncasecmp(n, "BINARY", 6)) {
		*err = "ENVELOPE, BODYSTRUCTURE and BINARY are not supported by this server version";
		return -1;
	} else {
		*err = "Unknown FETCH item";
		return -1;
	}
	if (bi.label) {
		if (r->nitems == MAX_BODY_ITEMS) {
			*err = "Too many body items";
			return -1;
		}
		r->items[r->nitems++] = bi;
	}
	return 0;
}

/* Offset of the body: just past the first empty line (or the end). */
static size_t header_end(const char *m, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (m[i] == '\n' && m[i + 1] == '\n')
			return i + 2;
		if (m[i] == '\n' && m[i + 1] == '\r' && i + 2 < len && m[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

static int field_listed(const struct body_item *bi, const char *name, size_t nl)
{
	for (size_t i = 0; i < bi->nfields; i++)
		if (strlen(bi->fields[i]) == nl && strncasecmp(bi->fields[i], name, nl) == 0)
			return 1;
	return 0;
}

/* The header fields selected by HEADER.FIELDS[.NOT], plus the blank line. */
static void filter_fields(const struct body_item *bi, const char *m, size_t hlen, struct buf *out)
{
	size_t i = 0;
	while (i < hlen) {
		size_t start = i, colon;
		/* A field runs until a line that does not start with WSP. */
		do {
			const char *nl = memchr(m + i, '\n', hlen - i);
			i = nl ? (size_t)(nl - m) + 1 : hlen;
		} while (i < hlen && (m[i] == ' ' || m[i] == '\t'));
		if (i - start <= 2 && (m[start] == '\r' || m[start] == '\n'))
			continue;  /* the terminating empty line */
		for (colon = start; colon < i && m[colon] != ':'; colon++)
			;
		size_t nl = colon - start;
		while (nl > 0 && (m[start + nl - 1] == ' ' || m[start + nl - 1] == '\t'))
			nl--;
		int listed = colon < i && field_listed(bi, m + start, nl);
		if (listed == (bi->kind == SEC_FIELDS))
			buf_append(out, m + start, i - start);
	}
	buf_append(out, "\r\n", 2);
}

static void write_body(struct session *s, const struct body_item *bi, const char *m, size_t len,
		       int sep)
{
	size_t hl = header_end(m, len);
	struct buf tmp = BUF_INIT;
	const char *p = m;
	size_t n = len;

	switch (bi->kind) {
	case SEC_ALL:
		break;
	case SEC_HEADER:
		n = hl;
		break;
	case SEC_TEXT:
		p = m + hl;
		n = len - hl;
		break;
	case SEC_FIELDS:
	case SEC_FIELDS_NOT:
		filter_fields(bi, m, hl, &tmp);
		p = tmp.data;
		n = tmp.len;
		break;
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
	buf_free(&tmp);
}

static int read_message(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	struct msg_stream *st;
	char tmp[65536];
	uint64_t off = 0;
	if (W->be->open_message(mb, uid, &st, err) < 0)
		return -1;
	buf_reserve(out, (size_t)st->size);
	for (;;) {
		ssize_t r = st->ops->pread(st, tmp, sizeof(tmp), off);
		if (r < 0) {
			error_set(err, ERR_INTERNAL, "reading message %u failed", uid);
			st->ops->close(st);
			return -1;
		}
		if (r == 0)
			break;
		buf_append(out, tmp, (size_t)r);
		off += (uint64_t)r;
	}
	st->ops->close(st);
	return 0;
}

/* What a FETCH needs to carry on after yielding; lives in the arena. */
struct fetch_state {
	struct fetch_req req;
	const char *tag;
	uint32_t *uids;
	size_t n, next;
	int by_uid;
	int set_seen;
	uint8_t *seen_set;      /* per uid: \Seen was set by this FETCH */
};

static int fetch_one(struct session *s, struct fetch_state *fs, size_t k)
{
	uint32_t uid = fs->uids[k];
	struct wsession *ws = wsession_of(s);
	uint32_t seq = uid_to_seq(ws->mb, uid);
	const struct msg_meta *m = seq ? W->be->meta(ws->mb, seq) : NULL;
	struct buf body = BUF_INIT;
	struct error e;
	int flags_now = (fs->req.atts & FA_FLAGS) != 0;
	int sep = 0;

	if (m == NULL)
		return 0;
	if (fs->req.nitems && read_message(ws->mb, m->uid, &body, &e) < 0) {
		buf_free(&body);
		session_tagged_error(s, fs->tag, &e);
		return -1;
	}
	if (fs->seen_set && fs->seen_set[k])
		flags_now = 1;  /* tell the client \Seen was set */
	session_printf(s, "* %u FETCH (", seq);
	if (fs->req.atts & FA_UID) {
		session_printf(s, "UID %u", m->uid);
		sep = 1;
	}
	if (flags_now) {
		session_printf(s, "%sFLAGS ", sep ? " " : "");
		flags_write(s, ws->mb, m);
		sep = 1;
	}
	if (fs->req.atts & FA_INTERNALDATE) {
		char d[IMAPDATE_DATETIME_SIZE];
		imapdate_format_datetime(d, sizeof(d), m->internaldate, m->tz_minutes);
		session_printf(s, "%sINTERNALDATE \"%s\"", sep ? " " : "", d);
		sep = 1;
	}
	if (fs->req.atts & FA_SIZE) {
		session_printf(s, "%sRFC822.SIZE %llu", sep ? " " : "", (unsigned long long)m->size);
		sep = 1;
	}
	for (size_t i = 0; i < fs->req.nitems; i++) {
		write_body(s, &fs->req.items[i], body.data ? body.data : "", body.len, sep);
		sep = 1;
	}
	session_write(s, ")\r\n", 3);
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
			return 1;
	}
	session_tagged(s, fs->tag, "OK", NULL, "%sFETCH completed", fs->by_uid ? "UID " : "");
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
		for (size_t i = 0; i < atts->count; i++)
			if (add_att(s, &fs->req, &atts->list[i], &err) < 0)
				break;
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
	s->cont_ctx = fs;
	if (fetch_continue(s))
		s->cont_ctx = NULL;
}

void cmd_fetch(struct session *s, const struct imap_cmd *cmd)
{
	fetch_run(s, cmd, 0, 0);
}
