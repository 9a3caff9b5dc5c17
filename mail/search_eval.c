/* SEARCH evaluation over one message (see search.h).
 *
 * Two passes. The first looks at metadata only; a key that needs the
 * header or body answers "unknown", and three-valued AND / OR / NOT often
 * decide anyway (UNSEEN SUBJECT x on a seen message is false without
 * reading it). Only if the answer is still unknown is the message read:
 * just its header when no key needs the body. The second pass decides
 * every key; AND and OR stop at the first operand that settles them, so
 * the body is decoded and folded only when a BODY/TEXT key is reached,
 * and then once per message however many such keys there are. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../mail/emailid.h"
#include "../mail/imapdate.h"
#include "../mail/message.h"
#include "../mail/transfer.h"
#include "search.h"

enum { V_FALSE = 0, V_TRUE = 1, V_UNKNOWN = 2 };

/* One header field of the top-level header; its text is folded the first
 * time a key asks for it, and only once per message. */
struct fcache {
	const char *name;
	size_t name_len;
	const char *value;          /* as in the message (folded lines) */
	size_t value_len;
	int folded;
	size_t dec_off, dec_len;    /* in mstate.hdrtext: decoded value, folded */
	size_t raw_off, raw_len;    /* the value as written (unfolded), folded;
				     * raw_len 0 when it equals the decoded one */
};

/* What pass two knows about the message. */
struct mstate {
	const struct msg_meta *meta;
	uint32_t seq;
	int loaded;                 /* message read and parsed */
	struct buf raw;
	struct mail_message *mm;
	const char *hdr;            /* top-level header block */
	size_t hdr_len;
	int have_fields;
	struct fcache *fc;          /* fields, at most SEARCH_MAX_FIELDS */
	size_t nfc;
	struct buf hdrtext;         /* "name: decoded\0raw\0" per field, folded */
	int have_sent;
	int64_t sent_day;           /* INT64_MIN: no usable Date: */
	int have_body;
	struct buf body;            /* folded text of the body parts, NUL-separated */
	int have_parts;
	struct buf parts;           /* folded MIME headers beyond the top level */
	int have_emailid;
	char emailid[MAIL_EMAILID_SIZE];
};

/* Does every key that needs the message look only at fields the
 * backend's header_fields() block holds? */
int search_fields_suffice(const struct search_program *p)
{
	if (p->needs & SN_BODY)
		return 0;
	for (size_t i = 0; i < p->nnodes; i++) {
		const struct search_node *n = &p->nodes[i];
		if (n->op == SK_HEADER && !mail_envelope_field(n->field, n->field_len))
			return 0;
		/* The fixed keys' fields (From, To, Cc, Bcc, Subject, Date)
		 * are among them by definition. */
	}
	return 1;
}

void search_prepare(struct search_program *p, struct search_ctx *ctx)
{
	for (size_t i = 0; i < p->nnodes; i++) {
		struct search_node *n = &p->nodes[i];
		if (n->op == SK_SEQSET)
			seqset_resolve(&n->set, ctx->count);
		else if (n->op == SK_UIDSET)
			seqset_resolve(&n->set, ctx->maxuid);
	}
	ctx->use_fields = ctx->read_fields != NULL && search_fields_suffice(p);
	if (ctx->msg_arena == NULL)
		ctx->msg_arena = arena_new();
}

void search_ctx_free(struct search_ctx *ctx)
{
	if (ctx->msg_arena)
		arena_free(ctx->msg_arena);
	ctx->msg_arena = NULL;
}

/* ---- header fields ------------------------------------------------------ */

/* Append "name: decoded-value" NUL and, when it differs, the value as
 * written NUL to out, all folded; c (if not NULL) records where. */
static void fold_field(struct arena *a, const char *name, size_t name_len, const char *value,
		       size_t value_len, struct buf *out, struct fcache *c)
{
	struct buf u = BUF_INIT;
	const char *uv = value;
	size_t ulen = value_len;
	/* Unfold (line ends out), copying only when there are any. */
	if (memchr(value, '\n', value_len) || memchr(value, '\r', value_len)) {
		for (size_t i = 0; i < value_len; i++)
			if (value[i] != '\r' && value[i] != '\n')
				buf_append_byte(&u, value[i]);
		uv = u.data ? u.data : "";
		ulen = u.len;
	}
	char *d = mail_decode_words(a, uv, ulen);
	size_t dec_off, dec_len, raw_off;
	search_fold(name, name_len, out);
	buf_append(out, ": ", 2);
	dec_off = out->len;
	if (d != NULL)
		search_fold(d, strlen(d), out);
	dec_len = out->len - dec_off;
	buf_append_byte(out, '\0');
	raw_off = out->len;
	/* (As strcmp would compare them: up to a NUL in the value.) */
	size_t un = strnlen(uv, ulen);
	if (d == NULL || strlen(d) != un || memcmp(d, uv, un) != 0) {
		search_fold(uv, ulen, out);
		buf_append_byte(out, '\0');
	}
	if (c != NULL) {
		c->dec_off = dec_off;
		c->dec_len = dec_len;
		c->raw_off = raw_off;
		c->raw_len = out->len > raw_off ? out->len - raw_off - 1 : 0;
		c->folded = 1;
	}
	buf_free(&u);
}

/* Every field of a header block, folded into out (embedded messages'
 * headers are body text). At most SEARCH_MAX_FIELDS fields. */
static void fold_fields(struct arena *a, const char *hdr, size_t len, struct buf *out)
{
	const char *p = hdr, *end = hdr + len;
	struct mail_hfield f;
	size_t n = 0;
	while (n++ < SEARCH_MAX_FIELDS && mail_hfield_next(&p, end, &f))
		fold_field(a, f.name, f.name_len, f.value, f.value_len, out, NULL);
}

/* Index the top-level header's fields (at most SEARCH_MAX_FIELDS, so the
 * cost stays linear in the header whatever the program asks). */
static void load_fields(struct search_ctx *ctx, struct mstate *ms)
{
	const char *p = ms->hdr, *end = ms->hdr + ms->hdr_len;
	struct mail_hfield f;
	size_t cap = 0;

	if (ms->have_fields)
		return;
	ms->have_fields = 1;
	while (ms->nfc < SEARCH_MAX_FIELDS && mail_hfield_next(&p, end, &f)) {
		if (ms->nfc == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct fcache *nf = arena_alloc(ctx->msg_arena, ncap * sizeof(*nf));
			if (ms->nfc)
				memcpy(nf, ms->fc, ms->nfc * sizeof(*nf));
			ms->fc = nf;
			cap = ncap;
		}
		struct fcache *c = &ms->fc[ms->nfc++];
		memset(c, 0, sizeof(*c));
		c->name = f.name;
		c->name_len = f.name_len;
		c->value = f.value;
		c->value_len = f.value_len;
	}
}

static void fold_cached(struct search_ctx *ctx, struct mstate *ms, struct fcache *c)
{
	if (!c->folded)
		fold_field(ctx->msg_arena, c->name, c->name_len, c->value, c->value_len,
			   &ms->hdrtext, c);
}

/* FROM, TO, CC and BCC look at the addresses as parsed, too (RFC 3501:
 * "the envelope structure's FROM field"): "a (x) @ b.org" holds "a@b.org". */
static void fold_addresses(struct arena *a, const struct fcache *c, struct buf *out)
{
	struct buf text = BUF_INIT;
	mail_address_text(a, c->value, c->value_len, &text);
	search_fold(text.data ? text.data : "", text.len, out);
	buf_free(&text);
}

static int addresses_contain(struct search_ctx *ctx, const struct fcache *c,
			     const struct search_node *n)
{
	struct buf folded = BUF_INIT;
	int hit;

	fold_addresses(ctx->msg_arena, c, &folded);
	hit = memmem(folded.data ? folded.data : "", folded.len, n->str, n->len) != NULL;
	buf_free(&folded);
	return hit;
}

static int is_address_field(const struct fcache *c)
{
	static const char *const names[] = { "From", "To", "Cc", "Bcc" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (c->name_len == strlen(names[i]) && strncasecmp(c->name, names[i], c->name_len) == 0)
			return 1;
	return 0;
}

static int match_header(struct search_ctx *ctx, struct mstate *ms, const char *name,
			size_t name_len, const struct search_node *n)
{
	load_fields(ctx, ms);
	for (size_t i = 0; i < ms->nfc; i++) {
		struct fcache *c = &ms->fc[i];
		if (c->name_len != name_len || strncasecmp(c->name, name, name_len) != 0)
			continue;
		if (n->len == 0)
			return 1;
		fold_cached(ctx, ms, c);
		const char *t = ms->hdrtext.data;
		if (memmem(t + c->dec_off, c->dec_len, n->str, n->len) ||
		    (c->raw_len && memmem(t + c->raw_off, c->raw_len, n->str, n->len)))
			return 1;
		if (n->op != SK_HEADER && n->op != SK_SUBJECT && addresses_contain(ctx, c, n))
			return 1;
	}
	return 0;
}

/* Day of the first Date: field as written in its own zone, once per message. */
int64_t search_sent_day(const char *hdr, size_t hdr_len)
{
	const char *p = hdr, *end = hdr + hdr_len;
	struct mail_hfield f;
	size_t seen = 0;

	while (seen++ < SEARCH_MAX_FIELDS && mail_hfield_next(&p, end, &f)) {
		if (f.name_len != 4 || strncasecmp(f.name, "Date", 4) != 0)
			continue;
		int64_t t;
		int zone;
		char buf[256];
		size_t len = 0;
		for (size_t i = 0; i < f.value_len && len < sizeof(buf) - 1; i++)
			if (f.value[i] != '\r' && f.value[i] != '\n')
				buf[len++] = f.value[i];
		buf[len] = '\0';
		if (mail_parse_date(buf, len, &t, &zone) == 0)
			return imapdate_day((time_t)t, zone);
		return INT64_MIN;
	}
	return INT64_MIN;
}

static int64_t sent_day(struct mstate *ms)
{
	if (!ms->have_sent) {
		ms->have_sent = 1;
		ms->sent_day = search_sent_day(ms->hdr, ms->hdr_len);
	}
	return ms->sent_day;
}

static int match_sent(struct mstate *ms, const struct search_node *n)
{
	int64_t day = sent_day(ms);
	if (day == INT64_MIN)
		return 0;   /* no Date: nothing to compare */
	switch (n->op) {
	case SK_SENTBEFORE:
		return day < n->day;
	case SK_SENTON:
		return day == n->day;
	default:
		return day >= n->day;
	}
}

/* ---- body --------------------------------------------------------------- */

/* Decode one leaf's content to folded UTF-8, appended to out. */
static void add_part_text(const struct mail_message *m, const struct mail_part *p,
			  struct buf *out)
{
	struct buf utf8 = BUF_INIT;
	/* Unknown charsets: the bytes as they are (folding turns what is not
	 * UTF-8 into U+FFFD, ASCII still matches). */
	mail_part_text(m, p, &utf8);
	search_fold(utf8.data ? utf8.data : "", utf8.len, out);
	buf_append_byte(out, '\0');
	buf_free(&utf8);
}

static int is_embedded_message(const struct mail_part *p)
{
	const struct mail_part *up = p->parent;
	return up != NULL && up->nchildren == 1 &&
	       (up->is_message || (up->type && strcasecmp(up->type, "message") == 0));
}

/* Pre-order walk of the MIME tree through parent links (no recursion, no
 * stack): text leaves are decoded, headers of embedded messages count as
 * body text, other media types are left out (RFC 9051 allows that). */
static void build_body(struct search_ctx *ctx, struct mstate *ms)
{
	const struct mail_message *m = ms->mm;
	const struct mail_part *p = &m->root;

	while (p != NULL) {
		if (p != &m->root && is_embedded_message(p) && p->hdr_off <= m->len &&
		    p->hdr_len <= m->len - p->hdr_off)
			fold_fields(ctx->msg_arena, m->data + p->hdr_off, p->hdr_len, &ms->body);
		if (p->nchildren > 0) {
			p = &p->children[0];
			continue;
		}
		if (p->type == NULL || strcasecmp(p->type, "text") == 0 ||
		    strcasecmp(p->type, "message") == 0)
			add_part_text(m, p, &ms->body);
		/* Next sibling, or the next sibling of the nearest ancestor. */
		while (p != NULL) {
			const struct mail_part *up = p->parent;
			if (up == NULL || p == &m->root) {
				p = NULL;
				break;
			}
			if (p + 1 < up->children + up->nchildren) {
				p = p + 1;
				break;
			}
			p = up;
		}
	}
}

static int body_contains(struct search_ctx *ctx, struct mstate *ms, const struct search_node *n)
{
	if (n->len == 0)
		return 1;
	if (!ms->have_body) {
		build_body(ctx, ms);
		ms->have_body = 1;
	}
	return memmem(ms->body.data ? ms->body.data : "", ms->body.len, n->str, n->len) != NULL;
}

/* The MIME parts' headers and parameters, folded, once per message. */
static void build_parts(struct search_ctx *ctx, struct mstate *ms)
{
	struct buf t = BUF_INIT;
	if (ms->have_parts)
		return;
	mail_part_headers_text(ctx->msg_arena, ms->mm, &t);
	search_fold(t.data ? t.data : "", t.len, &ms->parts);
	buf_free(&t);
	ms->have_parts = 1;
}

static int text_contains(struct search_ctx *ctx, struct mstate *ms, const struct search_node *n)
{
	if (n->len == 0)
		return 1;
	load_fields(ctx, ms);
	for (size_t i = 0; i < ms->nfc; i++)
		fold_cached(ctx, ms, &ms->fc[i]);
	if (memmem(ms->hdrtext.data ? ms->hdrtext.data : "", ms->hdrtext.len, n->str, n->len))
		return 1;
	build_parts(ctx, ms);
	if (memmem(ms->parts.data ? ms->parts.data : "", ms->parts.len, n->str, n->len))
		return 1;
	return body_contains(ctx, ms, n);
}

/* ---- keys --------------------------------------------------------------- */

static int has_keyword(struct search_ctx *ctx, const struct msg_meta *m, const char *kw)
{
	for (size_t i = 0; i < m->nkw; i++)
		if (m->kw[i] < ctx->nkwnames && strcasecmp(ctx->kwnames[m->kw[i]], kw) == 0)
			return 1;
	return 0;
}

static int in_saved(struct search_ctx *ctx, uint32_t uid)
{
	size_t lo = 0, hi = ctx->nsaved;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->saved[mid] == uid)
			return 1;
		if (ctx->saved[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* EMAILID: the id of the whole message read (the program needs the body). */
static int emailid_is(struct mstate *ms, const struct search_node *n)
{
	if (!ms->have_emailid) {
		mail_emailid(ms->raw.data ? ms->raw.data : "", ms->raw.len, ms->emailid);
		ms->have_emailid = 1;
	}
	return n->len == strlen(ms->emailid) && memcmp(n->str, ms->emailid, n->len) == 0;
}

/* SAVED*: the save date's day in UTC (as FETCH SAVEDATE shows it), or,
 * where the store keeps none, INTERNALDATE's (RFC 8514 4.3). */
static int64_t saved_day(const struct msg_meta *m)
{
	if (m->savedate != 0)
		return imapdate_day(m->savedate, 0);
	return imapdate_day(m->internaldate, m->tz_minutes);
}

static int leaf(struct search_ctx *ctx, struct mstate *ms, const struct search_node *n)
{
	const struct msg_meta *m = ms->meta;
	switch (n->op) {
	case SK_ALL:
		return V_TRUE;
	case SK_NONE:
		return V_FALSE;
	case SK_RECENT:
		return m->recent && !ctx->no_recent;
	case SK_NEW:
		return m->recent && !ctx->no_recent && !(m->flags & MF_SEEN);
	case SK_OLD:
		return !(m->recent && !ctx->no_recent);
	case SK_FLAG:
		return (m->flags & n->flag) != 0;
	case SK_UNFLAG:
		return (m->flags & n->flag) == 0;
	case SK_KEYWORD:
		return has_keyword(ctx, m, n->str);
	case SK_UNKEYWORD:
		return !has_keyword(ctx, m, n->str);
	case SK_BEFORE:
		return imapdate_day(m->internaldate, m->tz_minutes) < n->day;
	case SK_ON:
		return imapdate_day(m->internaldate, m->tz_minutes) == n->day;
	case SK_SINCE:
		return imapdate_day(m->internaldate, m->tz_minutes) >= n->day;
	case SK_LARGER:
		return m->size > n->num;
	case SK_SMALLER:
		return m->size < n->num;
	case SK_SEQSET:
		return seqset_contains(&n->set, ms->seq);
	case SK_UIDSET:
		return seqset_contains(&n->set, m->uid);
	case SK_SAVED:
		return in_saved(ctx, m->uid);
	case SK_MODSEQ:
		return m->modseq >= n->num;
	case SK_OLDER:
		return (int64_t)m->internaldate <= n->when;
	case SK_YOUNGER:
		return (int64_t)m->internaldate >= n->when;
	case SK_SAVEDBEFORE:
		return saved_day(m) < n->day;
	case SK_SAVEDON:
		return saved_day(m) == n->day;
	case SK_SAVEDSINCE:
		return saved_day(m) >= n->day;
	case SK_SAVEDATESUPPORTED:
		return m->savedate != 0;
	case SK_THREADID:
		return V_FALSE;   /* RFC 8474 5.2: without THREADIDs nothing matches */
	default:
		break;
	}
	if (!ms->loaded)
		return V_UNKNOWN;
	switch (n->op) {
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		return match_sent(ms, n);
	case SK_FROM:
		return match_header(ctx, ms, "From", 4, n);
	case SK_TO:
		return match_header(ctx, ms, "To", 2, n);
	case SK_CC:
		return match_header(ctx, ms, "Cc", 2, n);
	case SK_BCC:
		return match_header(ctx, ms, "Bcc", 3, n);
	case SK_SUBJECT:
		return match_header(ctx, ms, "Subject", 7, n);
	case SK_HEADER:
		return match_header(ctx, ms, n->field, n->field_len, n);
	case SK_EMAILID:
		return emailid_is(ms, n);
	case SK_BODY:
		return body_contains(ctx, ms, n);
	case SK_TEXT:
		return text_contains(ctx, ms, n);
	default:
		return V_FALSE;
	}
}

static int and3(int a, int b)
{
	if (a == V_FALSE || b == V_FALSE)
		return V_FALSE;
	return a == V_TRUE && b == V_TRUE ? V_TRUE : V_UNKNOWN;
}

static int or3(int a, int b)
{
	if (a == V_TRUE || b == V_TRUE)
		return V_TRUE;
	return a == V_FALSE && b == V_FALSE ? V_FALSE : V_UNKNOWN;
}

static int not3(int a)
{
	return a == V_UNKNOWN ? V_UNKNOWN : !a;
}

/* Evaluate the program with an explicit stack of operator frames (the
 * parser capped the nesting depth). */
static int eval(const struct search_program *p, struct search_ctx *ctx, struct mstate *ms)
{
	struct frame {
		uint32_t node, child;
		int acc;
	} st[SEARCH_MAX_DEPTH + 2];
	size_t sp = 0;
	const struct search_node *nodes = p->nodes;

	if (p->nnodes == 0)
		return V_FALSE;
	st[0].node = 0;
	st[0].child = 1;
	st[0].acc = V_TRUE;
	for (;;) {
		struct frame *f = &st[sp];
		const struct search_node *n = &nodes[f->node];
		int done = f->child >= n->end || (n->op == SK_AND && f->acc == V_FALSE) ||
			   (n->op == SK_OR && f->acc == V_TRUE);
		if (done) {
			int v = n->op == SK_NOT ? not3(f->acc) : f->acc;
			if (sp == 0)
				return v;
			sp--;
			f = &st[sp];
			n = &nodes[f->node];
			f->acc = n->op == SK_AND ? and3(f->acc, v) : n->op == SK_OR ? or3(f->acc, v) : v;
			continue;
		}
		uint32_t ci = f->child;
		const struct search_node *c = &nodes[ci];
		f->child = c->end > ci ? c->end : ci + 1;   /* next operand */
		if (c->op == SK_AND || c->op == SK_OR || c->op == SK_NOT) {
			if (sp + 1 >= sizeof(st) / sizeof(st[0]))
				return V_FALSE;   /* cannot happen: the parser caps depth */
			sp++;
			st[sp].node = ci;
			st[sp].child = ci + 1;
			st[sp].acc = c->op == SK_AND ? V_TRUE : c->op == SK_OR ? V_FALSE : V_UNKNOWN;
			continue;
		}
		int v = leaf(ctx, ms, c);
		f->acc = n->op == SK_AND ? and3(f->acc, v) : n->op == SK_OR ? or3(f->acc, v) : v;
	}
}

int search_match(const struct search_program *p, struct search_ctx *ctx, uint32_t seq,
		 const struct msg_meta *m, struct error *err)
{
	struct mstate ms;
	int v, rc;

	memset(&ms, 0, sizeof(ms));
	ms.meta = m;
	ms.seq = seq;
	v = eval(p, ctx, &ms);
	if (v != V_UNKNOWN)
		return v;

	/* The answer depends on the message itself. */
	int header_only = !(p->needs & SN_BODY);
	rc = ctx->use_fields ? ctx->read_fields(ctx->read_arg, m->uid, 1, &ms.raw, err)
			     : ctx->read(ctx->read_arg, m->uid, header_only, &ms.raw, err);
	if (rc < 0) {
		buf_free(&ms.raw);
		return -1;
	}
	if (rc > 0) {
		buf_free(&ms.raw);
		return 0;   /* expunged meanwhile: matches nothing */
	}
	const char *data = ms.raw.data ? ms.raw.data : "";
	if (ctx->use_fields) {
		/* Just the fields the program looks at: a header block as is. */
		ctx->fields_read++;
		ms.hdr = data;
		ms.hdr_len = ms.raw.len;
		ms.loaded = 1;
		v = eval(p, ctx, &ms);
		buf_free(&ms.raw);
		buf_free(&ms.hdrtext);
		arena_reset(ctx->msg_arena);
		return v == V_TRUE;
	}
	ctx->messages_read++;
	ctx->bytes_read += ms.raw.len;
	if (header_only) {
		/* Parse just the header block (a reader may return more). */
		size_t hl;
		mail_header_block(data, ms.raw.len, &hl);
		ms.raw.len = hl;
	}
	static const struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	ms.mm = mail_parse(ctx->msg_arena, data, ms.raw.len, &lim);
	ms.hdr = data + ms.mm->root.hdr_off;
	ms.hdr_len = ms.mm->root.hdr_len;
	if (ms.mm->root.hdr_off > ms.raw.len || ms.hdr_len > ms.raw.len - ms.mm->root.hdr_off) {
		ms.hdr = data;
		mail_header_block(data, ms.raw.len, &ms.hdr_len);
	}
	ms.loaded = 1;
	v = eval(p, ctx, &ms);
	buf_free(&ms.raw);
	buf_free(&ms.hdrtext);
	buf_free(&ms.body);
	buf_free(&ms.parts);
	arena_reset(ctx->msg_arena);
	return v == V_TRUE;
}

/* ---- what a store indexes ------------------------------------------------ */

/* Characters (not bytes) in a UTF-8 buffer: PostgreSQL counts those. */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Keep at most max bytes, ending on a whole character. */
static void cut(struct buf *b, size_t max)
{
	if (b->len <= max)
		return;
	b->len = max;
	while (b->len > 0 && ((unsigned char)b->data[b->len - 1] & 0xc0) == 0x80)
		b->len--;
	if (b->len > 0 && (unsigned char)b->data[b->len - 1] >= 0xc0)
		b->len--;
	b->data[b->len] = '\0';
}

void search_texts_build(const struct mail_message *m, size_t max, struct search_texts *t)
{
	struct search_ctx ctx;
	struct mstate ms;
	struct buf addrs = BUF_INIT;

	memset(&ctx, 0, sizeof(ctx));
	memset(&ms, 0, sizeof(ms));
	ctx.msg_arena = arena_new();
	ms.mm = (struct mail_message *)m;
	ms.hdr = m->data + m->root.hdr_off;
	ms.hdr_len = m->root.hdr_len;
	ms.loaded = 1;
	/* What TEXT looks at (text_contains): the top-level fields, the MIME
	 * parts' headers, the body text; then what FROM, TO, CC and BCC look
	 * at besides the fields: the addresses as parsed. */
	load_fields(&ctx, &ms);
	for (size_t i = 0; i < ms.nfc; i++) {
		fold_cached(&ctx, &ms, &ms.fc[i]);
		if (is_address_field(&ms.fc[i])) {
			fold_addresses(ctx.msg_arena, &ms.fc[i], &addrs);
			buf_append_byte(&addrs, '\0');
		}
	}
	build_parts(&ctx, &ms);
	build_body(&ctx, &ms);
	buf_reset(&t->text);
	buf_append(&t->text, ms.hdrtext.data ? ms.hdrtext.data : "", ms.hdrtext.len);
	buf_append_byte(&t->text, '\0');
	buf_append(&t->text, ms.parts.data ? ms.parts.data : "", ms.parts.len);
	buf_append_byte(&t->text, '\0');
	t->body_start = 1 + utf8_chars(t->text.data, t->text.len);
	buf_append(&t->text, ms.body.data ? ms.body.data : "", ms.body.len);
	buf_append_byte(&t->text, '\0');
	t->addr_start = 1 + utf8_chars(t->text.data, t->text.len);
	buf_append(&t->text, addrs.data ? addrs.data : "", addrs.len);
	t->complete = t->text.len <= max;
	cut(&t->text, max);
	for (size_t i = 0; i < t->text.len; i++)
		if (t->text.data[i] == '\0')
			t->text.data[i] = SEARCH_TEXT_SEP;
	t->sent_day = sent_day(&ms);
	buf_free(&addrs);
	buf_free(&ms.hdrtext);
	buf_free(&ms.parts);
	buf_free(&ms.body);
	arena_free(ctx.msg_arena);
}

int search_text_needle_ok(const char *s, size_t len)
{
	return memchr(s, '\0', len) == NULL && memchr(s, SEARCH_TEXT_SEP, len) == NULL;
}
