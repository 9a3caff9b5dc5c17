/* Message structures apart from the message (structure.h).
 *
 * Stored form, all integers unsigned LEB128 ("varints"):
 *   "HVS" 0x01                      magic and format version
 *   size                            message bytes
 *   len envelope, len body, len bodystructure (each: length, then bytes)
 *   nparts, then per part in preorder (root first):
 *     hdr_off hdr_len body_off body_len nchildren, one byte:
 *       bits 0-1 kind (0 leaf, 1 multipart, 2 message/rfc822 holding a
 *       message), bit 2 the part is a message (root, or the one inside a
 *       message/rfc822 part), bits 3-5 transfer encoding (enc_names).
 * Nothing may follow the last part. */
#include "structure.h"

#include <string.h>
#include <strings.h>

#include "mail_private.h"

#define MAGIC "HVS\x01"
#define MAX_DEPTH 256          /* deeper than any parse makes (MAIL_LIMITS) */
#define MIN_PART_BYTES 6       /* five varints and the flag byte */

enum kind { K_LEAF, K_MULTIPART, K_MESSAGE };

/* Index 0: no Content-Transfer-Encoding; the last: one we do not know. */
static const char *const enc_names[] = { NULL, "7bit", "8bit", "binary", "base64",
					 "quoted-printable", "x-unknown" };
#define NENC (sizeof(enc_names) / sizeof(enc_names[0]))

struct mail_structure *mail_structure_from_message(struct arena *a, struct mail_message *m)
{
	struct mail_structure *s = arena_alloc(a, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->msg = m;
	return s;
}

void mail_structure_envelope(const struct mail_structure *s, struct buf *out)
{
	if (s->envelope)
		buf_append(out, s->envelope, s->envelope_len);
	else
		mail_write_envelope(out, s->msg, &s->msg->root);
}

void mail_structure_body(const struct mail_structure *s, int extended, struct buf *out)
{
	const char *t = extended ? s->bodystructure : s->body;
	if (t)
		buf_append(out, t, extended ? s->bodystructure_len : s->body_len);
	else
		mail_write_bodystructure(out, s->msg, &s->msg->root, extended);
}

/* ---- encoding ---------------------------------------------------------- */

static void put_varint(struct buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;
	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	buf_append(b, tmp, n);
}

static void put_text(struct buf *b, const struct buf *t)
{
	put_varint(b, t->len);
	buf_append(b, t->data ? t->data : "", t->len);
}

static enum kind part_kind(const struct mail_part *p)
{
	if (p->type && strcmp(p->type, "multipart") == 0 && p->nchildren > 0)
		return K_MULTIPART;
	if (p->type && strcmp(p->type, "message") == 0 && p->nchildren == 1 &&
	    p->children[0].is_message)
		return K_MESSAGE;
	return K_LEAF;
}

static unsigned enc_index(const char *e)
{
	if (e == NULL)
		return 0;
	for (unsigned i = 1; i + 1 < NENC; i++)
		if (strcasecmp(e, enc_names[i]) == 0)
			return i;
	return NENC - 1;
}

static void put_part(struct buf *b, const struct mail_part *p)
{
	put_varint(b, p->hdr_off);
	put_varint(b, p->hdr_len);
	put_varint(b, p->body_off);
	put_varint(b, p->body_len);
	put_varint(b, p->nchildren);
	buf_append_byte(b, (char)(part_kind(p) | (p->is_message ? 4 : 0) |
				  (enc_index(p->encoding) << 3)));
}

/* Preorder, with an explicit stack of (part, next child). */
static size_t walk_parts(const struct mail_part *root, struct buf *b)
{
	const struct mail_part *stack[MAX_DEPTH];
	size_t next[MAX_DEPTH], depth = 0, n = 1;

	if (b)
		put_part(b, root);
	stack[0] = root;
	next[0] = 0;
	while (1) {
		const struct mail_part *p = stack[depth];
		if (next[depth] == p->nchildren) {
			if (depth == 0)
				break;
			depth--;
			continue;
		}
		const struct mail_part *c = &p->children[next[depth]++];
		n++;
		if (b)
			put_part(b, c);
		if (c->nchildren > 0 && depth + 1 < MAX_DEPTH) {
			stack[++depth] = c;
			next[depth] = 0;
		}
	}
	return n;
}

void mail_structure_encode(const struct mail_structure *s, struct buf *out)
{
	struct buf env = BUF_INIT, body = BUF_INIT, bs = BUF_INIT;

	mail_structure_envelope(s, &env);
	mail_structure_body(s, 0, &body);
	mail_structure_body(s, 1, &bs);
	buf_append(out, MAGIC, 4);
	put_varint(out, s->msg->len);
	put_text(out, &env);
	put_text(out, &body);
	put_text(out, &bs);
	put_varint(out, walk_parts(&s->msg->root, NULL));
	walk_parts(&s->msg->root, out);
	buf_free(&env);
	buf_free(&body);
	buf_free(&bs);
}

/* ---- decoding ---------------------------------------------------------- */

struct rd {
	const unsigned char *p, *end;
	const char *why;
};

static int get_varint(struct rd *r, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p == r->end) {
			r->why = "truncated";
			return -1;
		}
		unsigned char c = *r->p++;
		if (shift == 63 && (c & 0x7e)) {
			r->why = "number too large";
			return -1;
		}
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			if (c == 0 && shift > 0) {
				/* One encoding per number: the stored form is
				 * canonical, so anything else is damage. */
				r->why = "number not in shortest form";
				return -1;
			}
			return 0;
		}
	}
	r->why = "number too long";
	return -1;
}

static int get_text(struct rd *r, struct arena *a, const char **s, size_t *len)
{
	uint64_t n;
	if (get_varint(r, &n) < 0)
		return -1;
	if (n > (uint64_t)(r->end - r->p)) {
		r->why = "text runs past the end";
		return -1;
	}
	char *t = arena_alloc(a, (size_t)n + 1);
	memcpy(t, r->p, (size_t)n);
	t[n] = '\0';
	r->p += n;
	*s = t;
	*len = (size_t)n;
	return 0;
}

struct prec {
	uint64_t hdr_off, hdr_len, body_off, body_len, nchildren;
	unsigned kind, is_message, enc;
	size_t parent, ordinal;     /* parent index, position among its children */
	struct mail_part *slot;     /* where this part lives in the tree */
	struct mail_part *kids;     /* its children array */
};

static int range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int get_part(struct rd *r, uint64_t size, struct prec *pr)
{
	uint64_t flags = 0;
	if (get_varint(r, &pr->hdr_off) < 0 || get_varint(r, &pr->hdr_len) < 0 ||
	    get_varint(r, &pr->body_off) < 0 || get_varint(r, &pr->body_len) < 0 ||
	    get_varint(r, &pr->nchildren) < 0)
		return -1;
	if (r->p == r->end) {
		r->why = "truncated";
		return -1;
	}
	flags = *r->p++;
	pr->kind = flags & 3;
	pr->is_message = (flags >> 2) & 1;
	pr->enc = (unsigned)(flags >> 3);
	if (pr->kind > K_MESSAGE || pr->enc >= NENC || (flags >> 6)) {
		r->why = "bad part flags";
		return -1;
	}
	if (!range_ok(pr->hdr_off, pr->hdr_len, size) || !range_ok(pr->body_off, pr->body_len, size)) {
		r->why = "part outside the message";
		return -1;
	}
	return 0;
}

/* Read every part record and give each its parent: preorder with an
 * explicit stack of (part, children still to come). */
static int get_parts(struct rd *r, uint64_t size, struct prec *pr, size_t n)
{
	size_t stack[MAX_DEPTH], left[MAX_DEPTH], depth = 0;

	for (size_t i = 0; i < n; i++) {
		if (get_part(r, size, &pr[i]) < 0)
			return -1;
		if (pr[i].nchildren > n) {
			r->why = "more children than parts";
			return -1;
		}
		if (i > 0) {
			while (depth > 0 && left[depth - 1] == 0)
				depth--;
			if (depth == 0) {
				r->why = "a part outside the tree";
				return -1;
			}
			size_t par = stack[depth - 1];
			pr[i].parent = par;
			pr[i].ordinal = pr[par].nchildren - left[depth - 1]--;
			if (pr[par].kind == K_MESSAGE && !pr[i].is_message) {
				r->why = "message/rfc822 part without its message";
				return -1;
			}
		}
		if (pr[i].kind == K_MESSAGE && pr[i].nchildren != 1) {
			r->why = "message/rfc822 part with other than one child";
			return -1;
		}
		if (pr[i].nchildren > 0) {
			if (depth == MAX_DEPTH) {
				r->why = "nested too deep";
				return -1;
			}
			stack[depth] = i;
			left[depth++] = (size_t)pr[i].nchildren;
		}
	}
	while (depth > 0 && left[depth - 1] == 0)
		depth--;
	if (depth != 0) {
		r->why = "fewer parts than announced";
		return -1;
	}
	return 0;
}

static const char *kind_type(unsigned kind)
{
	return kind == K_MULTIPART ? "multipart" : kind == K_MESSAGE ? "message" : "text";
}

/* Records -> the tree message.h describes (children in arrays). */
static void build_tree(struct arena *a, struct mail_message *m, struct prec *pr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pr[i].kids = pr[i].nchildren ? arena_alloc(a, (size_t)pr[i].nchildren *
								  sizeof(struct mail_part))
					     : NULL;
		if (pr[i].kids)
			memset(pr[i].kids, 0, (size_t)pr[i].nchildren * sizeof(struct mail_part));
	}
	for (size_t i = 0; i < n; i++) {
		struct mail_part *p = i == 0 ? &m->root : &pr[pr[i].parent].kids[pr[i].ordinal];
		pr[i].slot = p;
		p->hdr_off = (size_t)pr[i].hdr_off;
		p->hdr_len = (size_t)pr[i].hdr_len;
		p->body_off = (size_t)pr[i].body_off;
		p->body_len = (size_t)pr[i].body_len;
		p->type = kind_type(pr[i].kind);
		p->subtype = "";
		p->encoding = enc_names[pr[i].enc];
		p->is_message = (int)pr[i].is_message;
		p->children = pr[i].kids;
		p->nchildren = (size_t)pr[i].nchildren;
		p->parent = i == 0 ? NULL : pr[pr[i].parent].slot;
	}
}

int mail_structure_decode(struct arena *a, const void *data, size_t len,
			  struct mail_structure **out, const char **why)
{
	struct rd r = { data, (const unsigned char *)data + len, NULL };
	struct mail_structure *s;
	uint64_t size, nparts;

	if (len < 4 || memcmp(data, MAGIC, 4) != 0) {
		*why = len >= 3 && memcmp(data, MAGIC, 3) == 0 ? "a later structure format"
							       : "not a stored structure";
		return -1;
	}
	r.p += 4;
	s = arena_alloc(a, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->msg = arena_alloc(a, sizeof(*s->msg));
	memset(s->msg, 0, sizeof(*s->msg));
	if (get_varint(&r, &size) < 0 || size > SIZE_MAX ||
	    get_text(&r, a, &s->envelope, &s->envelope_len) < 0 ||
	    get_text(&r, a, &s->body, &s->body_len) < 0 ||
	    get_text(&r, a, &s->bodystructure, &s->bodystructure_len) < 0 ||
	    get_varint(&r, &nparts) < 0)
		goto bad;
	if (nparts == 0 || nparts > (uint64_t)(r.end - r.p) / MIN_PART_BYTES) {
		r.why = "bad part count";
		goto bad;
	}
	struct prec *pr = arena_alloc(a, (size_t)nparts * sizeof(*pr));
	memset(pr, 0, (size_t)nparts * sizeof(*pr));
	if (get_parts(&r, size, pr, (size_t)nparts) < 0)
		goto bad;
	if (r.p != r.end) {
		r.why = "bytes after the last part";
		goto bad;
	}
	s->msg->len = (size_t)size;
	build_tree(a, s->msg, pr, (size_t)nparts);
	*out = s;
	return 0;
bad:
	*why = r.why ? r.why : "malformed";
	return -1;
}
