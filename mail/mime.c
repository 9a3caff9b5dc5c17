/* The MIME parse: one forward pass over the lines of the message builds
 * the part tree with exact byte offsets.
 *
 * Open parts form an explicit stack (root, ..., current part); multiparts
 * whose boundary is active form a second stack. Every line is looked at
 * once: in a header it may end the header (empty line) or, broken as that
 * is, be a boundary; in a body only lines starting with "--" are compared
 * with the active boundaries, innermost first. A boundary closes every
 * open part inside its multipart (RFC 2046: the line end before it belongs
 * to the boundary), so a missing close delimiter ends a multipart with its
 * enclosing body. The work per line is bounded by the line length times
 * the depth cap, hence linear in the message.
 *
 * Limits: parts deeper than max_depth are leaves; after max_parts parts no
 * further boundary is recognised, and the rest of the message belongs to
 * the parts open at that point. Parts are built as a linked tree first and
 * then copied, breadth first, into the arrays message.h promises. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "mail_private.h"

struct tnode {
	struct mail_part p;
	struct tnode *parent, *first, *last, *next, *qnext;
	struct mail_part *final;
	size_t nchild;
	size_t lf_body;          /* LF bytes in the message before body_off */
	unsigned depth;
};

struct frame {
	const char *b;           /* boundary */
	size_t blen;
	struct tnode *node;      /* the multipart */
};

struct parser {
	struct arena *a;
	const char *d;
	size_t len;
	struct mail_limits lim;
	struct tnode **open;
	size_t nopen, capopen;
	struct frame *fr;
	size_t nfr, capfr;
	size_t nparts;
	int stopped;             /* part cap reached: structure parsing over */
	size_t pos;              /* start of the next line to look at */
	size_t nlf;              /* LF bytes before pos */
};

static void push_open(struct parser *ps, struct tnode *t)
{
	if (ps->nopen == ps->capopen) {
		ps->capopen = ps->capopen ? ps->capopen * 2 : 16;
		ps->open = xreallocarray(ps->open, ps->capopen, sizeof(*ps->open));
	}
	ps->open[ps->nopen++] = t;
}

static void push_frame(struct parser *ps, const char *b, size_t blen, struct tnode *t)
{
	if (ps->nfr == ps->capfr) {
		ps->capfr = ps->capfr ? ps->capfr * 2 : 16;
		ps->fr = xreallocarray(ps->fr, ps->capfr, sizeof(*ps->fr));
	}
	ps->fr[ps->nfr].b = b;
	ps->fr[ps->nfr].blen = blen;
	ps->fr[ps->nfr].node = t;
	ps->nfr++;
}

static struct tnode *new_child(struct parser *ps, struct tnode *parent, size_t hdr_off)
{
	struct tnode *t = arena_alloc(ps->a, sizeof(*t));
	t->parent = parent;
	t->depth = parent ? parent->depth + 1 : 0;
	t->p.hdr_off = hdr_off;
	if (parent) {
		if (parent->last)
			parent->last->next = t;
		else
			parent->first = t;
		parent->last = t;
		parent->nchild++;
	}
	ps->nparts++;
	push_open(ps, t);
	return t;
}

/* End of the line at s: past its LF, or the end of the data. */
static size_t line_end(const struct parser *ps, size_t s)
{
	const char *nl = memchr(ps->d + s, '\n', ps->len - s);
	return nl ? (size_t)(nl - ps->d) + 1 : ps->len;
}

/* Index of the active boundary that line [ls, le) is, innermost first;
 * -1 if none. *close: it is a close delimiter ("--b--"). */
static long match_boundary(const struct parser *ps, size_t ls, size_t le, int *close)
{
	const char *d = ps->d;
	size_t ce = le, k;

	if (ps->nfr == 0 || ps->stopped || le - ls < 2 || d[ls] != '-' || d[ls + 1] != '-')
		return -1;
	/* Trailing blanks (and the line end) are allowed after a boundary:
	 * find the last other byte once per line. */
	while (ce > ls + 2 && (d[ce - 1] == '\n' || d[ce - 1] == '\r' || d[ce - 1] == ' ' ||
			       d[ce - 1] == '\t'))
		ce--;
	for (k = ps->nfr; k-- > 0;) {
		const struct frame *f = &ps->fr[k];
		size_t r = ls + 2 + f->blen;
		if (r > ce || memcmp(d + ls + 2, f->b, f->blen) != 0)
			continue;
		if (r == ce) {
			*close = 0;
			return (long)k;
		}
		if (r + 2 == ce && d[r] == '-' && d[r + 1] == '-') {
			*close = 1;
			return (long)k;
		}
	}
	return -1;
}

/* Close the top open part at byte *end (its body runs to there; *lf_end
 * LFs precede *end). A part whose header reached past *end (its empty
 * line was the line end that belongs to the boundary) gets an empty body
 * at body_off, and *end moves there so the parts around it contain it. */
static void close_top(struct parser *ps, size_t *end, size_t *lf_end)
{
	struct tnode *t = ps->open[--ps->nopen];
	if (*end >= t->p.body_off) {
		t->p.body_len = *end - t->p.body_off;
		t->p.body_lines = *lf_end - t->lf_body;
	} else {
		t->p.body_len = 0;
		t->p.body_lines = 0;
		*end = t->p.body_off;
		*lf_end = t->lf_body;
	}
}

/* A boundary of frame k on line [ls, le). Returns 1 if a new part's header
 * starts at ps->pos, 0 to go on scanning a body. */
static int on_boundary(struct parser *ps, size_t k, int close, size_t ls, size_t le)
{
	struct tnode *mp = ps->fr[k].node;
	size_t end = ls, lf_end = ps->nlf;

	/* The line end before the boundary belongs to it. */
	if (end > 0 && ps->d[end - 1] == '\n') {
		end--;
		lf_end--;
		if (end > 0 && ps->d[end - 1] == '\r')
			end--;
	}
	while (ps->nopen > 0 && ps->open[ps->nopen - 1] != mp)
		close_top(ps, &end, &lf_end);
	ps->nfr = k + 1;
	ps->pos = le;
	if (le > ls && ps->d[le - 1] == '\n')
		ps->nlf++;
	if (close) {
		ps->nfr = k; /* the epilogue is the multipart's, not a part */
		return 0;
	}
	if (ps->nparts >= ps->lim.max_parts) {
		ps->stopped = 1;
		return 0;
	}
	new_child(ps, mp, le);
	return 1;
}

static int enc_identity(const char *e)
{
	return e == NULL || strcasecmp(e, "7bit") == 0 || strcasecmp(e, "8bit") == 0 ||
	       strcasecmp(e, "binary") == 0;
}

static const char *param(const struct mail_part *p, const char *name)
{
	size_t i;
	for (i = 0; i < p->nparams; i++)
		if (strcasecmp(p->params[i].name, name) == 0)
			return p->params[i].value;
	return NULL;
}

/* The header of the top open part is [hdr_off, ps->pos) and its body starts
 * at ps->pos; parse its Content-* fields and decide how to go on. Returns
 * 1 if an embedded message's header follows, 0 to scan a body. */
static int after_header(struct parser *ps, int can_descend)
{
	struct tnode *t = ps->open[ps->nopen - 1];
	struct mail_part *p = &t->p;
	int digest = t->parent && !t->p.is_message && strcmp(t->parent->p.type, "multipart") == 0 &&
		     strcmp(t->parent->p.subtype, "digest") == 0;
	int deep_ok = can_descend && !ps->stopped && t->depth < ps->lim.max_depth;

	p->hdr_len = ps->pos - p->hdr_off;
	p->body_off = ps->pos;
	t->lf_body = ps->nlf;
	mail_content_parse(ps->a, p, ps->d + p->hdr_off, p->hdr_len, ps->lim.max_headers,
			   digest);
	if (strcmp(p->type, "multipart") == 0) {
		const char *b = param(p, "boundary");
		if (deep_ok && b != NULL && *b != '\0') {
			push_frame(ps, b, strlen(b), t);
			return 0;
		}
		/* A multipart we cannot parse as one is shown as text, so
		 * BODYSTRUCTURE never has a multipart without parts. */
		p->type = "text";
		p->subtype = "plain";
		return 0;
	}
	if (strcmp(p->type, "message") == 0 &&
	    (strcmp(p->subtype, "rfc822") == 0 || strcmp(p->subtype, "global") == 0) &&
	    enc_identity(p->encoding) && deep_ok && ps->nparts < ps->lim.max_parts) {
		struct tnode *c = new_child(ps, t, ps->pos);
		c->p.is_message = 1;
		return 1;
	}
	return 0;
}

/* Header of the top open part, from ps->pos. Returns 1 if another header
 * follows (embedded message or a boundary started a part), 0 to scan. */
static int parse_header(struct parser *ps)
{
	while (ps->pos < ps->len) {
		size_t ls = ps->pos, le = line_end(ps, ls);
		int close;
		long k;

		if ((le - ls == 1 && ps->d[ls] == '\n') ||
		    (le - ls == 2 && ps->d[ls] == '\r' && ps->d[ls + 1] == '\n')) {
			ps->pos = le;
			ps->nlf++;
			return after_header(ps, 1);
		}
		k = match_boundary(ps, ls, le, &close);
		if (k >= 0) {
			/* A boundary inside a header: the header ends, the part
			 * has an empty body. */
			(void)after_header(ps, 0);
			return on_boundary(ps, (size_t)k, close, ls, le);
		}
		ps->pos = le;
		if (ps->d[le - 1] == '\n')
			ps->nlf++;
	}
	return after_header(ps, 0);
}

/* Body lines until a boundary or the end. 1 if a part header follows. */
static int scan_body(struct parser *ps)
{
	while (ps->pos < ps->len) {
		size_t ls = ps->pos, le = line_end(ps, ls);
		int close;
		long k = match_boundary(ps, ls, le, &close);

		if (k >= 0)
			return on_boundary(ps, (size_t)k, close, ls, le);
		ps->pos = le;
		if (ps->d[le - 1] == '\n')
			ps->nlf++;
	}
	return 0;
}

/* Linked tree -> arrays, breadth first, with a queue threaded through the
 * nodes (no recursion). */
static void flatten(struct arena *a, struct tnode *root, struct mail_part *out)
{
	struct tnode *q = root, *qtail = root;

	*out = root->p;
	root->final = out;
	root->qnext = NULL;
	for (; q != NULL; q = q->qnext) {
		struct mail_part *f = q->final;
		struct tnode *c;
		size_t i = 0;

		f->children = NULL;
		f->nchildren = q->nchild;
		if (q->nchild == 0)
			continue;
		f->children = arena_alloc(a, q->nchild * sizeof(*f->children));
		for (c = q->first; c != NULL; c = c->next, i++) {
			f->children[i] = c->p;
			f->children[i].parent = f;
			c->final = &f->children[i];
			c->qnext = NULL;
			qtail->qnext = c;
			qtail = c;
		}
	}
}

struct mail_message *mail_parse(struct arena *a, const char *data, size_t len,
				const struct mail_limits *lim)
{
	static const struct mail_limits dflt = MAIL_LIMITS_DEFAULT;
	struct mail_message *m = arena_alloc(a, sizeof(*m));
	struct parser ps;
	struct tnode *root;
	int in_header;

	memset(&ps, 0, sizeof(ps));
	ps.a = a;
	ps.d = data ? data : "";
	ps.len = data ? len : 0;
	ps.lim = lim ? *lim : dflt;
	if (ps.lim.max_parts == 0)
		ps.lim.max_parts = 1;
	root = new_child(&ps, NULL, 0);
	in_header = 1;
	for (;;) {
		if (in_header)
			in_header = parse_header(&ps);
		else if (ps.pos < ps.len)
			in_header = scan_body(&ps);
		if (!in_header && ps.pos >= ps.len)
			break;
	}
	{
		size_t end = ps.len, lf_end = ps.nlf;
		while (ps.nopen > 0)
			close_top(&ps, &end, &lf_end);
	}
	m->data = ps.d;
	m->len = ps.len;
	flatten(a, root, &m->root);
	m->root.parent = NULL;
	free(ps.open);
	free(ps.fr);
	return m;
}
