/* SEARCH arguments -> search program (see search.h). No recursion: the
 * argument lists and the OR / NOT operands are walked with an explicit
 * stack of at most SEARCH_MAX_DEPTH + 1 contexts. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../mail/emailid.h"
#include "../mail/imapdate.h"
#include "../mail/keyword.h"
#include "search_parse.h"

enum arg_kind {
	A_NONE, A_STRING, A_DATE, A_NUM, A_SET, A_KEYWORD, A_HEADER, A_MODSEQ, A_INTERVAL,
	A_OBJECTID
};

static const struct {
	const char *name;
	enum search_op op;
	uint32_t flag;
	enum arg_kind arg;
} keys[] = {
	{ "ALL", SK_ALL, 0, A_NONE },
	{ "ANSWERED", SK_FLAG, MF_ANSWERED, A_NONE },
	{ "DELETED", SK_FLAG, MF_DELETED, A_NONE },
	{ "DRAFT", SK_FLAG, MF_DRAFT, A_NONE },
	{ "FLAGGED", SK_FLAG, MF_FLAGGED, A_NONE },
	{ "SEEN", SK_FLAG, MF_SEEN, A_NONE },
	{ "UNANSWERED", SK_UNFLAG, MF_ANSWERED, A_NONE },
	{ "UNDELETED", SK_UNFLAG, MF_DELETED, A_NONE },
	{ "UNDRAFT", SK_UNFLAG, MF_DRAFT, A_NONE },
	{ "UNFLAGGED", SK_UNFLAG, MF_FLAGGED, A_NONE },
	{ "UNSEEN", SK_UNFLAG, MF_SEEN, A_NONE },
	/* IMAP4rev1 only; after ENABLE IMAP4rev2 nothing is \Recent. */
	{ "RECENT", SK_RECENT, 0, A_NONE },
	{ "NEW", SK_NEW, 0, A_NONE },
	{ "OLD", SK_OLD, 0, A_NONE },
	{ "KEYWORD", SK_KEYWORD, 0, A_KEYWORD },
	{ "UNKEYWORD", SK_UNKEYWORD, 0, A_KEYWORD },
	{ "BEFORE", SK_BEFORE, 0, A_DATE },
	{ "ON", SK_ON, 0, A_DATE },
	{ "SINCE", SK_SINCE, 0, A_DATE },
	{ "SENTBEFORE", SK_SENTBEFORE, 0, A_DATE },
	{ "SENTON", SK_SENTON, 0, A_DATE },
	{ "SENTSINCE", SK_SENTSINCE, 0, A_DATE },
	{ "LARGER", SK_LARGER, 0, A_NUM },
	{ "SMALLER", SK_SMALLER, 0, A_NUM },
	{ "UID", SK_UIDSET, 0, A_SET },
	{ "FROM", SK_FROM, 0, A_STRING },
	{ "TO", SK_TO, 0, A_STRING },
	{ "CC", SK_CC, 0, A_STRING },
	{ "BCC", SK_BCC, 0, A_STRING },
	{ "SUBJECT", SK_SUBJECT, 0, A_STRING },
	{ "HEADER", SK_HEADER, 0, A_HEADER },
	{ "BODY", SK_BODY, 0, A_STRING },
	{ "TEXT", SK_TEXT, 0, A_STRING },
	{ "MODSEQ", SK_MODSEQ, 0, A_MODSEQ },
	/* RFC 5032 */
	{ "OLDER", SK_OLDER, 0, A_INTERVAL },
	{ "YOUNGER", SK_YOUNGER, 0, A_INTERVAL },
	/* RFC 8514 */
	{ "SAVEDBEFORE", SK_SAVEDBEFORE, 0, A_DATE },
	{ "SAVEDON", SK_SAVEDON, 0, A_DATE },
	{ "SAVEDSINCE", SK_SAVEDSINCE, 0, A_DATE },
	{ "SAVEDATESUPPORTED", SK_SAVEDATESUPPORTED, 0, A_NONE },
	/* RFC 8474 */
	{ "EMAILID", SK_EMAILID, 0, A_OBJECTID },
	{ "THREADID", SK_THREADID, 0, A_OBJECTID },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* One open context: a list being walked (the whole program or a
 * parenthesized list: its operands are ANDed) or an operator still
 * waiting for operands (OR: 2, NOT: 1) that come from the nearest list. */
struct pctx {
	uint32_t node;
	int is_list;
	unsigned need;              /* operator: operands still to come */
	const struct imap_arg *args;/* list: its items */
	size_t n, pos;
	size_t list;                /* index of the nearest list context */
};

struct pstate {
	struct arena *a;
	struct search_program *p;
	size_t cap;
	const char *charset;        /* NULL: strings are UTF-8 already */
	struct buf conv, fold;
	const char *err;
};

static struct search_node *new_node(struct pstate *ps, enum search_op op)
{
	struct search_program *p = ps->p;
	if (p->nnodes == ps->cap) {
		size_t ncap = ps->cap ? ps->cap * 2 : 16;
		struct search_node *nn = arena_alloc(ps->a, ncap * sizeof(*nn));
		if (p->nnodes)
			memcpy(nn, p->nodes, p->nnodes * sizeof(*nn));
		p->nodes = nn;
		ps->cap = ncap;
	}
	struct search_node *n = &p->nodes[p->nnodes++];
	memset(n, 0, sizeof(*n));
	n->op = op;
	return n;
}

static int bad(struct pstate *ps, const char *msg)
{
	ps->err = msg;
	return SEARCH_BAD;
}

static int is_astring(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
	       a->type == IMAP_ARG_LITERAL;
}

/* A search string: converted from the CHARSET to UTF-8 and folded. */
static int arg_string(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	const char *s = a->str;
	size_t len = a->len;

	if (!is_astring(a))
		return bad(ps, "Search string expected");
	if (memchr(s, '\0', len))
		return bad(ps, "NUL in search string");
	if (ps->charset) {
		buf_reset(&ps->conv);
		if (search_charset_convert(ps->charset, s, len, 1, &ps->conv) < 0)
			return bad(ps, "Search string is not valid in the given charset");
		s = ps->conv.data ? ps->conv.data : "";
		len = ps->conv.len;
		if (memchr(s, '\0', len))
			return bad(ps, "NUL in search string");
	}
	buf_reset(&ps->fold);
	search_fold(s, len, &ps->fold);
	n->str = arena_strndup(ps->a, ps->fold.data ? ps->fold.data : "", ps->fold.len);
	n->len = ps->fold.len;
	return SEARCH_OK;
}

static int arg_date(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	time_t t;
	if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_QUOTED) ||
	    imapdate_parse_date(a->str, a->len, &t) < 0)
		return bad(ps, "Invalid date");
	n->day = imapdate_day(t, 0);
	return SEARCH_OK;
}

static int arg_num(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	uint64_t v = 0;
	if (a->type != IMAP_ARG_ATOM || a->len == 0)
		return bad(ps, "Number expected");
	for (size_t i = 0; i < a->len; i++) {
		unsigned d = (unsigned char)a->str[i] - '0';
		if (d > 9)
			return bad(ps, "Number expected");
		if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10)
			return bad(ps, "Number too large");
		v = v * 10 + d;
	}
	n->num = v;
	return SEARCH_OK;
}

/* OLDER / YOUNGER nz-number (RFC 5032): the target time is fixed once,
 * here, so every message of one SEARCH is measured against the same
 * moment. */
static int arg_interval(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	int rc = arg_num(ps, a, n);
	if (rc != SEARCH_OK)
		return rc;
	if (n->num == 0)
		return bad(ps, "Interval must be a positive number of seconds");
	n->when = (int64_t)time(NULL) - (int64_t)n->num;
	return SEARCH_OK;
}

/* EMAILID / THREADID objectid (RFC 8474 7): case-sensitive, as given. */
static int arg_objectid(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	if (!is_astring(a) || !mail_objectid_valid(a->str, a->len))
		return bad(ps, "Invalid ObjectID");
	n->str = a->str;
	n->len = a->len;
	return SEARCH_OK;
}

static int arg_set(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	if (a->type != IMAP_ARG_ATOM)
		return bad(ps, "Sequence set expected");
	if (a->len == 1 && a->str[0] == '$') {
		n->op = SK_SAVED;
		ps->p->uses_saved = 1;
		return SEARCH_OK;
	}
	if (seqset_parse(ps->a, a->str, &n->set) < 0)
		return bad(ps, "Invalid sequence set");
	return SEARCH_OK;
}

static int arg_keyword(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	if (a->type != IMAP_ARG_ATOM || !mail_keyword_valid(a->str, a->len))
		return bad(ps, "Invalid keyword");
	n->str = a->str;
	n->len = a->len;
	return SEARCH_OK;
}

static int arg_field(struct pstate *ps, const struct imap_arg *a, struct search_node *n)
{
	if (!is_astring(a) || a->len == 0 || a->len > 998)
		return bad(ps, "Invalid header field name");
	for (size_t i = 0; i < a->len; i++) {
		unsigned char c = (unsigned char)a->str[i];
		if (c <= ' ' || c >= 0x7f || c == ':')
			return bad(ps, "Invalid header field name");
	}
	n->field = a->str;
	n->field_len = a->len;
	return SEARCH_OK;
}

/* The next item of the enclosing list, for a key's argument. */
static const struct imap_arg *next_arg(struct pctx *list)
{
	return list->pos < list->n ? &list->args[list->pos++] : NULL;
}

/* MODSEQ ["/flags/<flag>" shared|priv|all] n (RFC 7162 3.1.5). The
 * stores keep one MODSEQ per message, so the entry is checked and then
 * ignored, as the RFC asks of such servers. */
static int arg_modseq(struct pstate *ps, const struct imap_arg *x, struct pctx *list,
		      struct search_node *n)
{
	if (x->type == IMAP_ARG_QUOTED || x->type == IMAP_ARG_LITERAL) {
		const struct imap_arg *type = next_arg(list);
		if (strncasecmp(x->str, "/flags/", 7) != 0 || x->len <= 7 || type == NULL ||
		    !(imap_arg_is_atom(type, "SHARED") || imap_arg_is_atom(type, "PRIV") ||
		      imap_arg_is_atom(type, "ALL")))
			return bad(ps, "Invalid MODSEQ entry");
		if ((x = next_arg(list)) == NULL)
			return bad(ps, "Missing argument to search key");
	}
	ps->p->uses_modseq = 1;
	return arg_num(ps, x, n);
}

static int parse_leaf(struct pstate *ps, const struct imap_arg *a, struct pctx *list,
		      struct search_node *n)
{
	const struct imap_arg *x;
	size_t k;

	if (a->type != IMAP_ARG_ATOM)
		return bad(ps, "Search key expected");
	if (a->str[0] == '$' || a->str[0] == '*' || (a->str[0] >= '0' && a->str[0] <= '9')) {
		n->op = SK_SEQSET;
		return arg_set(ps, a, n);
	}
	for (k = 0; k < NKEYS; k++)
		if (strcasecmp(a->str, keys[k].name) == 0)
			break;
	if (k == NKEYS)
		return bad(ps, "Unknown search key");
	n->op = keys[k].op;
	n->flag = keys[k].flag;
	if (keys[k].arg == A_NONE)
		return SEARCH_OK;
	if ((x = next_arg(list)) == NULL)
		return bad(ps, "Missing argument to search key");
	switch (keys[k].arg) {
	case A_STRING:
		return arg_string(ps, x, n);
	case A_DATE:
		return arg_date(ps, x, n);
	case A_NUM:
		return arg_num(ps, x, n);
	case A_SET:
		return arg_set(ps, x, n);
	case A_KEYWORD:
		return arg_keyword(ps, x, n);
	case A_MODSEQ:
		return arg_modseq(ps, x, list, n);
	case A_INTERVAL:
		return arg_interval(ps, x, n);
	case A_OBJECTID:
		return arg_objectid(ps, x, n);
	case A_HEADER: {
		int rc = arg_field(ps, x, n);
		if (rc != SEARCH_OK)
			return rc;
		if ((x = next_arg(list)) == NULL)
			return bad(ps, "Missing argument to search key");
		return arg_string(ps, x, n);
	}
	case A_NONE:
		break;
	}
	return SEARCH_OK;
}

static int parse_keys(struct pstate *ps, const struct imap_arg *args, size_t nargs)
{
	struct pctx st[SEARCH_MAX_DEPTH + 1];
	size_t sp = 0;
	struct search_program *p = ps->p;

	new_node(ps, SK_AND);
	memset(&st[0], 0, sizeof(st[0]));
	st[0].node = 0;
	st[0].is_list = 1;
	st[0].args = args;
	st[0].n = nargs;
	st[0].list = 0;
	for (;;) {
		struct pctx *c = &st[sp];
		if (c->is_list ? c->pos == c->n : c->need == 0) {
			if (c->is_list && c->n == 0)
				return bad(ps, "Empty parenthesized list");
			p->nodes[c->node].end = (uint32_t)p->nnodes;
			if (sp == 0)
				return SEARCH_OK;
			sp--;
			continue;
		}
		struct pctx *list = &st[c->list];
		const struct imap_arg *a = next_arg(list);
		if (a == NULL)
			return bad(ps, "Missing operand to OR or NOT");
		if (!c->is_list)
			c->need--;
		if (p->nnodes > SEARCH_MAX_KEYS) {
			ps->err = "Too many search keys";
			return SEARCH_LIMIT;
		}
		uint32_t idx = (uint32_t)p->nnodes;
		struct search_node *n = new_node(ps, SK_AND);
		int is_list = a->type == IMAP_ARG_LIST;
		unsigned need = 0;
		if (!is_list && a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "OR") == 0) {
			n->op = SK_OR;
			need = 2;
		} else if (!is_list && a->type == IMAP_ARG_ATOM && strcasecmp(a->str, "NOT") == 0) {
			n->op = SK_NOT;
			need = 1;
		} else if (!is_list) {
			int rc = parse_leaf(ps, a, list, n);
			if (rc != SEARCH_OK)
				return rc;
			n->end = idx + 1;
			continue;
		}
		if (sp + 1 > SEARCH_MAX_DEPTH) {
			ps->err = "Search keys nested too deeply";
			return SEARCH_LIMIT;
		}
		sp++;
		memset(&st[sp], 0, sizeof(st[sp]));
		st[sp].node = idx;
		st[sp].is_list = is_list;
		st[sp].need = need;
		if (is_list) {
			st[sp].args = a->list;
			st[sp].n = a->count;
			st[sp].list = sp;
		} else {
			st[sp].list = st[sp - 1].list;
		}
	}
}

/* An nz-number of 32 bits from *s, which moves past it; 0 if none. */
static uint32_t nz_number(const char **s)
{
	uint64_t v = 0;
	const char *p = *s;

	while (*p >= '0' && *p <= '9' && v <= UINT32_MAX)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == *s || **s == '0' || v > UINT32_MAX)
		return 0;
	*s = p;
	return (uint32_t)v;
}

/* PARTIAL's range (RFC 5267 4.4): two nz-numbers, either order, as a
 * sequence range would be. */
static int parse_partial(struct pstate *ps, const struct imap_arg *a)
{
	struct search_program *p = ps->p;
	const char *c = a && a->type == IMAP_ARG_ATOM ? a->str : "";
	uint32_t lo = nz_number(&c), hi = 0;

	if (lo != 0 && *c == ':') {
		c++;
		hi = nz_number(&c);
	}
	if (hi == 0 || c != a->str + a->len)
		return bad(ps, "PARTIAL expects a range low:high");
	if (p->ret & (SR_PARTIAL | SR_ALL))
		return bad(ps, "RETURN takes one PARTIAL or ALL");
	p->ret |= SR_PARTIAL;
	p->partial_lo = lo < hi ? lo : hi;
	p->partial_hi = lo < hi ? hi : lo;
	return SEARCH_OK;
}

static const struct {
	const char *name;
	unsigned bit;
} return_opts[] = {
	{ "MIN", SR_MIN }, { "MAX", SR_MAX }, { "ALL", SR_ALL }, { "COUNT", SR_COUNT },
	{ "SAVE", SR_SAVE }, { "UPDATE", SR_UPDATE }, { "CONTEXT", SR_CONTEXT },
};

static unsigned return_opt(const struct imap_arg *o)
{
	for (size_t i = 0; i < sizeof(return_opts) / sizeof(return_opts[0]); i++)
		if (imap_arg_is_atom(o, return_opts[i].name))
			return return_opts[i].bit;
	return 0;
}

/* Combinations RFC 5267 4.4 forbids (ALL with PARTIAL), and UPDATE with
 * SAVE: "$" would have to follow the updates, which RFC 5182 never says. */
static int check_return(struct pstate *ps)
{
	unsigned r = ps->p->ret;

	if ((r & SR_ALL) && (r & SR_PARTIAL))
		return bad(ps, "RETURN takes one PARTIAL or ALL");
	if ((r & SR_UPDATE) && (r & SR_SAVE))
		return bad(ps, "RETURN (UPDATE) cannot go with SAVE");
	/* RETURN (), (UPDATE), (CONTEXT): the result is ALL (RFC 4731 3.1). */
	if ((r & ~(unsigned)(SR_UPDATE | SR_CONTEXT)) == 0)
		ps->p->ret |= SR_ALL;
	return SEARCH_OK;
}

static int parse_return(struct pstate *ps, const struct imap_arg *a)
{
	struct search_program *p = ps->p;
	if (a == NULL || a->type != IMAP_ARG_LIST)
		return bad(ps, "RETURN expects a list of options");
	p->has_return = 1;
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *o = &a->list[i];
		unsigned bit = return_opt(o);
		int rc;

		if (imap_arg_is_atom(o, "PARTIAL")) {
			rc = parse_partial(ps, ++i < a->count ? &a->list[i] : NULL);
			if (rc != SEARCH_OK)
				return rc;
		} else if (bit == 0) {
			return bad(ps, "Unknown RETURN option");
		} else if ((bit & SR_ALL) && (p->ret & SR_PARTIAL)) {
			return bad(ps, "RETURN takes one PARTIAL or ALL");
		} else {
			p->ret |= bit;
		}
	}
	return check_return(ps);
}

enum search_status search_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				struct search_program *p, const char **err)
{
	struct pstate ps;
	size_t i = 0;
	int rc = SEARCH_OK;

	memset(p, 0, sizeof(*p));
	memset(&ps, 0, sizeof(ps));
	ps.a = a;
	ps.p = p;
	buf_init(&ps.conv);
	buf_init(&ps.fold);

	if (i < nargs && imap_arg_is_atom(&args[i], "RETURN")) {
		i++;
		rc = parse_return(&ps, i < nargs ? &args[i] : NULL);
		i++;
	}
	if (rc == SEARCH_OK && i < nargs && imap_arg_is_atom(&args[i], "CHARSET")) {
		i++;
		if (i >= nargs || (args[i].type != IMAP_ARG_ATOM && args[i].type != IMAP_ARG_QUOTED) ||
		    args[i].len == 0 || memchr(args[i].str, '\0', args[i].len)) {
			rc = bad(&ps, "CHARSET expects a charset name");
		} else if (!search_charset_is_utf8(args[i].str)) {
			ps.charset = args[i].str;
			if (search_charset_convert(ps.charset, "", 0, 1, &ps.conv) == -2) {
				ps.err = "Unsupported charset";
				rc = SEARCH_BADCHARSET;
			}
		}
		i++;
	}
	if (rc == SEARCH_OK && i >= nargs)
		rc = bad(&ps, "Missing search key");
	if (rc == SEARCH_OK)
		rc = parse_keys(&ps, args + i, nargs - i);
	buf_free(&ps.conv);
	buf_free(&ps.fold);
	if (rc != SEARCH_OK) {
		*err = ps.err;
		return (enum search_status)rc;
	}
	for (size_t k = 0; k < p->nnodes; k++) {
		switch (p->nodes[k].op) {
		case SK_SENTBEFORE: case SK_SENTON: case SK_SENTSINCE:
		case SK_FROM: case SK_TO: case SK_CC: case SK_BCC:
		case SK_SUBJECT: case SK_HEADER:
			p->needs |= SN_HEADER;
			break;
		case SK_BODY: case SK_EMAILID:
			p->needs |= SN_BODY;
			break;
		case SK_TEXT:
			p->needs |= SN_HEADER | SN_BODY;
			break;
		default:
			break;
		}
	}
	return SEARCH_OK;
}
