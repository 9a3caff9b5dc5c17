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
 * then copied, breadth first, into the arrays message.h promises.
 *
 * The message may come in pieces (mail_parser_feed): a line is looked at
 * once it is complete, keeping only what a boundary test needs of it (its
 * first MIME_LINE_KEEP bytes, and whether the rest is blank), and a part's
 * header is kept (its first MIME_HEADER_KEEP bytes) until its end, when its
 * Content-* fields are read. A message-level part (the root, an embedded
 * message) keeps its header for ENVELOPE (hdr_data). So a message of any
 * size is parsed in memory bounded by its header sizes, and mail_parse(),
 * which feeds a message held in memory at once, takes the same path. */
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

struct mail_parser {
	struct arena *a;
	struct mail_limits lim;
	struct tnode *root;
	struct tnode **open;
	size_t nopen, capopen;
	struct frame *fr;
	size_t nfr, capfr;
	size_t nparts;
	int stopped;             /* part cap reached: structure parsing over */
	int in_header;
	size_t pos;              /* start of the next line to look at */
	size_t nlf;              /* LF bytes before pos */
	/* the line being assembled */
	size_t line_len;
	char line[MIME_LINE_KEEP];
	size_t kept;
	int tail_blank;          /* every byte past the kept ones is blank */
	char last2[2];           /* the line's last two bytes */
	int prev_eol;            /* the previous line's line end: 0, 1 (LF), 2 (CRLF) */
	/* the header being read, from the top open part's hdr_off */
	struct buf hdr;
};

static void push_open(struct mail_parser *ps, struct tnode *t)
{
	if (ps->nopen == ps->capopen) {
		ps->capopen = ps->capopen ? ps->capopen * 2 : 16;
		ps->open = xreallocarray(ps->open, ps->capopen, sizeof(*ps->open));
	}
	ps->open[ps->nopen++] = t;
}

static void push_frame(struct mail_parser *ps, const char *b, size_t blen, struct tnode *t)
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

static struct tnode *new_child(struct mail_parser *ps, struct tnode *parent, size_t hdr_off)
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

static int blank(char c)
{
	return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

/* Index of the active boundary the current line is, innermost first; -1
 * if none. *close: it is a close delimiter ("--b--"). Trailing blanks
 * (and the line end) are allowed after a boundary. */
static long match_boundary(const struct mail_parser *ps, int *close)
{
	const char *d = ps->line;
	size_t ce = ps->kept, k;

	if (ps->nfr == 0 || ps->stopped || ps->line_len < 2 || d[0] != '-' || d[1] != '-')
		return -1;
	if (ps->kept < ps->line_len && !ps->tail_blank)
		return -1;   /* longer than any boundary we compare */
	while (ce > 2 && blank(d[ce - 1]))
		ce--;
	for (k = ps->nfr; k-- > 0;) {
		const struct frame *f = &ps->fr[k];
		size_t r = 2 + f->blen;
		if (r > ce || memcmp(d + 2, f->b, f->blen) != 0)
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
static void close_top(struct mail_parser *ps, size_t *end, size_t *lf_end)
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

/* A boundary of frame k on the current line, which starts at ls and ends
 * at le. Returns 1 if a new part's header starts at le, 0 to go on
 * scanning a body. */
static int on_boundary(struct mail_parser *ps, size_t k, int close, size_t ls, size_t le)
{
	struct tnode *mp = ps->fr[k].node;
	size_t end = ls, lf_end = ps->nlf;

	/* The line end before the boundary belongs to it. */
	if (ps->prev_eol > 0) {
		end -= (size_t)ps->prev_eol;
		lf_end--;
	}
	while (ps->nopen > 0 && ps->open[ps->nopen - 1] != mp)
		close_top(ps, &end, &lf_end);
	ps->nfr = k + 1;
	ps->pos = le;
	if (ps->last2[1] == '\n')
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
static int after_header(struct mail_parser *ps, int can_descend)
{
	struct tnode *t = ps->open[ps->nopen - 1];
	struct mail_part *p = &t->p;
	int digest = t->parent && !t->p.is_message && strcmp(t->parent->p.type, "multipart") == 0 &&
		     strcmp(t->parent->p.subtype, "digest") == 0;
	int deep_ok = can_descend && !ps->stopped && t->depth < ps->lim.max_depth;

	p->hdr_len = ps->pos - p->hdr_off;
	p->body_off = ps->pos;
	t->lf_body = ps->nlf;
	if (ps->hdr.len > p->hdr_len)
		ps->hdr.len = p->hdr_len;   /* (a boundary line that ended it) */
	mail_content_parse(ps->a, p, ps->hdr.data ? ps->hdr.data : "", ps->hdr.len,
			   ps->lim.max_headers, digest);
	if (t->depth == 0 || p->is_message) {
		p->hdr_data = arena_alloc(ps->a, ps->hdr.len + 1);
		memcpy((char *)p->hdr_data, ps->hdr.data ? ps->hdr.data : "", ps->hdr.len);
		p->hdr_data_len = ps->hdr.len;
	}
	buf_reset(&ps->hdr);
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

/* A line of the header of the top open part: the header may end (an
 * empty line, or a boundary, broken as that is). Returns whether a header
 * goes on at the next line. */
static int header_line(struct mail_parser *ps, size_t ls, size_t le)
{
	int close;
	long k;

	if ((ps->line_len == 1 && ps->line[0] == '\n') ||
	    (ps->line_len == 2 && ps->line[0] == '\r' && ps->line[1] == '\n')) {
		ps->pos = le;
		ps->nlf++;
		return after_header(ps, 1);
	}
	k = match_boundary(ps, &close);
	if (k >= 0) {
		/* the part has an empty body */
		(void)after_header(ps, 0);
		return on_boundary(ps, (size_t)k, close, ls, le);
	}
	ps->pos = le;
	if (ps->last2[1] == '\n')
		ps->nlf++;
	return 1;
}

/* A line of a body: a boundary, or nothing to note. Returns whether a
 * part header starts at the next line. */
static int body_line(struct mail_parser *ps, size_t ls, size_t le)
{
	int close;
	long k = match_boundary(ps, &close);

	if (k >= 0)
		return on_boundary(ps, (size_t)k, close, ls, le);
	ps->pos = le;
	if (ps->last2[1] == '\n')
		ps->nlf++;
	return 0;
}

static void end_line(struct mail_parser *ps)
{
	size_t ls = ps->pos, le = ls + ps->line_len;

	ps->in_header = ps->in_header ? header_line(ps, ls, le) : body_line(ps, ls, le);
	ps->prev_eol = ps->last2[1] != '\n' ? 0 : ps->line_len >= 2 && ps->last2[0] == '\r' ? 2 : 1;
	ps->line_len = ps->kept = 0;
	ps->tail_blank = 1;
	ps->last2[0] = ps->last2[1] = 0;
}

/* Bytes of the current line, up to and including its LF if there. */
static void add_to_line(struct mail_parser *ps, const char *p, size_t n)
{
	size_t take = n < sizeof(ps->line) - ps->kept ? n : sizeof(ps->line) - ps->kept;

	memcpy(ps->line + ps->kept, p, take);
	ps->kept += take;
	for (size_t i = take; i < n && ps->tail_blank; i++)
		ps->tail_blank = blank(p[i]);
	if (n >= 2) {
		ps->last2[0] = p[n - 2];
		ps->last2[1] = p[n - 1];
	} else if (n == 1) {
		ps->last2[0] = ps->line_len > 0 ? ps->last2[1] : 0;
		ps->last2[1] = p[0];
	}
	ps->line_len += n;
	if (ps->in_header && ps->hdr.len < MIME_HEADER_KEEP)
		buf_append(&ps->hdr, p, n < MIME_HEADER_KEEP - ps->hdr.len ? n
								  : MIME_HEADER_KEEP - ps->hdr.len);
}

void mail_parser_feed(struct mail_parser *ps, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) + 1 : len;
		add_to_line(ps, data, n);
		if (nl)
			end_line(ps);
		data += n;
		len -= n;
	}
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

struct mail_parser *mail_parser_new(struct arena *a, const struct mail_limits *lim)
{
	static const struct mail_limits dflt = MAIL_LIMITS_DEFAULT;
	struct mail_parser *ps = arena_alloc(a, sizeof(*ps));

	memset(ps, 0, sizeof(*ps));
	ps->a = a;
	ps->lim = lim ? *lim : dflt;
	if (ps->lim.max_parts == 0)
		ps->lim.max_parts = 1;
	ps->tail_blank = 1;
	ps->root = new_child(ps, NULL, 0);
	ps->in_header = 1;
	return ps;
}

struct mail_message *mail_parser_finish(struct mail_parser *ps)
{
	struct mail_message *m = arena_alloc(ps->a, sizeof(*m));
	size_t end, lf_end;

	if (ps->line_len > 0)
		end_line(ps);   /* the last line, without a line end */
	if (ps->in_header)
		(void)after_header(ps, 0);
	end = ps->pos;
	lf_end = ps->nlf;
	while (ps->nopen > 0)
		close_top(ps, &end, &lf_end);
	memset(m, 0, sizeof(*m));
	m->data = NULL;
	m->len = ps->pos;
	flatten(ps->a, ps->root, &m->root);
	m->root.parent = NULL;
	mail_parser_abandon(ps);
	return m;
}

void mail_parser_abandon(struct mail_parser *ps)
{
	free(ps->open);
	free(ps->fr);
	buf_free(&ps->hdr);
	ps->open = NULL;
	ps->fr = NULL;
	ps->nopen = ps->capopen = 0;
	ps->nfr = ps->capfr = 0;
}

struct mail_message *mail_parse(struct arena *a, const char *data, size_t len,
				const struct mail_limits *lim)
{
	struct mail_parser *ps = mail_parser_new(a, lim);
	struct mail_message *m;

	mail_parser_feed(ps, data ? data : "", data ? len : 0);
	m = mail_parser_finish(ps);
	m->data = data ? data : "";
	return m;
}
