/* The Sieve grammar (RFC 5228 8.2) into a tree of commands and tests.
 * Recursion follows blocks and tests, so it is bounded by SIEVE_MAX_DEPTH;
 * the node count by SIEVE_MAX_NODES. Meaning is the checker's business. */
#include <stdio.h>
#include <string.h>

#include "sieve_private.h"

struct parser {
	struct sv_lexer lx;
	struct arena *a;
	struct error *err;
	size_t nodes;
	int failed;
};

static void parse_fail(struct parser *ps, const char *what)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	if (ps->lx.tok == TOK_ERROR)
		what = ps->lx.errmsg;
	error_set(ps->err, ERR_PARSE, "line %u: %s", ps->lx.tok_line, what);
}

/* Copy the n elements of size sz collected in b into the arena. */
static void *parse_collect(struct parser *ps, struct buf *b, size_t sz, size_t *n)
{
	void *v = NULL;

	*n = b->len / sz;
	if (*n > 0) {
		v = arena_alloc(ps->a, b->len);
		memcpy(v, b->data, b->len);
	}
	buf_free(b);
	return v;
}

static int parse_string_list(struct parser *ps, struct sv_arg *arg)
{
	struct buf b = BUF_INIT;

	for (;;) {
		if (sv_lex_next(&ps->lx) != TOK_STRING) {
			buf_free(&b);
			parse_fail(ps, "string expected in string list");
			return -1;
		}
		struct sv_str s = { ps->lx.text, ps->lx.text_len };
		if (b.len / sizeof(s) >= SIEVE_MAX_LIST) {
			buf_free(&b);
			parse_fail(ps, "string list too long");
			return -1;
		}
		buf_append(&b, &s, sizeof(s));
		enum sv_tok t = sv_lex_next(&ps->lx);
		if (t == TOK_RBRACKET)
			break;
		if (t != TOK_COMMA) {
			buf_free(&b);
			parse_fail(ps, "',' or ']' expected in string list");
			return -1;
		}
	}
	arg->strs = parse_collect(ps, &b, sizeof(struct sv_str), &arg->nstrs);
	sv_lex_next(&ps->lx);
	return 0;
}

/* One argument at the current token; 1 if there was one, 0 if not. */
static int parse_argument(struct parser *ps, struct sv_arg *arg)
{
	memset(arg, 0, sizeof(*arg));
	arg->line = ps->lx.tok_line;
	switch (ps->lx.tok) {
	case TOK_NUMBER:
		arg->type = ARG_NUMBER;
		arg->num = ps->lx.num;
		break;
	case TOK_TAG:
		arg->type = ARG_TAG;
		arg->tag = ps->lx.text;
		break;
	case TOK_STRING:
		arg->type = ARG_STRING;
		arg->strs = arena_alloc(ps->a, sizeof(*arg->strs));
		arg->strs->s = ps->lx.text;
		arg->strs->len = ps->lx.text_len;
		arg->nstrs = 1;
		break;
	case TOK_LBRACKET:
		arg->type = ARG_LIST;
		return parse_string_list(ps, arg) < 0 ? -1 : 1;
	default:
		return 0;
	}
	sv_lex_next(&ps->lx);
	return 1;
}

static int parse_test(struct parser *ps, struct sv_node *n, unsigned depth);

static int parse_test_list(struct parser *ps, struct sv_node *n, unsigned depth)
{
	struct buf b = BUF_INIT;

	n->testlist = 1;
	do {
		struct sv_node t;
		sv_lex_next(&ps->lx);
		if (parse_test(ps, &t, depth + 1) < 0) {
			buf_free(&b);
			return -1;
		}
		buf_append(&b, &t, sizeof(t));
	} while (ps->lx.tok == TOK_COMMA);
	n->tests = parse_collect(ps, &b, sizeof(struct sv_node), &n->ntests);
	if (ps->lx.tok != TOK_RPAREN) {
		parse_fail(ps, "',' or ')' expected in test list");
		return -1;
	}
	sv_lex_next(&ps->lx);
	return 0;
}

/* identifier arguments, the identifier being the current token. */
static int parse_node(struct parser *ps, struct sv_node *n, unsigned depth)
{
	struct buf b = BUF_INIT;
	struct sv_arg arg;
	int r;

	memset(n, 0, sizeof(*n));
	if (depth > SIEVE_MAX_DEPTH || ++ps->nodes > SIEVE_MAX_NODES) {
		parse_fail(ps, depth > SIEVE_MAX_DEPTH ? "nested too deeply" : "script too complex");
		return -1;
	}
	n->name = ps->lx.text;
	n->line = ps->lx.tok_line;
	sv_lex_next(&ps->lx);
	while ((r = parse_argument(ps, &arg)) == 1)
		buf_append(&b, &arg, sizeof(arg));
	n->args = parse_collect(ps, &b, sizeof(struct sv_arg), &n->nargs);
	if (r < 0)
		return -1;
	if (ps->lx.tok == TOK_LPAREN)
		return parse_test_list(ps, n, depth);
	if (ps->lx.tok == TOK_IDENT) {
		n->tests = arena_alloc(ps->a, sizeof(*n->tests));
		n->ntests = 1;
		return parse_test(ps, n->tests, depth + 1);
	}
	if (ps->lx.tok == TOK_ERROR) {
		parse_fail(ps, "");
		return -1;
	}
	return 0;
}

static int parse_test(struct parser *ps, struct sv_node *n, unsigned depth)
{
	if (ps->lx.tok != TOK_IDENT) {
		parse_fail(ps, "test expected");
		return -1;
	}
	return parse_node(ps, n, depth);
}

static int parse_commands(struct parser *ps, struct sv_node **cmds, size_t *ncmds,
			  unsigned depth);

static int parse_command(struct parser *ps, struct sv_node *n, unsigned depth)
{
	if (parse_node(ps, n, depth) < 0)
		return -1;
	if (ps->lx.tok == TOK_SEMI) {
		sv_lex_next(&ps->lx);
		return 0;
	}
	if (ps->lx.tok != TOK_LBRACE) {
		parse_fail(ps, "';' or '{' expected");
		return -1;
	}
	n->has_block = 1;
	sv_lex_next(&ps->lx);
	if (parse_commands(ps, &n->block, &n->nblock, depth + 1) < 0)
		return -1;
	if (ps->lx.tok != TOK_RBRACE) {
		parse_fail(ps, "'}' expected");
		return -1;
	}
	sv_lex_next(&ps->lx);
	return 0;
}

/* Commands until '}' or the end (the caller checks which). */
static int parse_commands(struct parser *ps, struct sv_node **cmds, size_t *ncmds,
			  unsigned depth)
{
	struct buf b = BUF_INIT;

	while (ps->lx.tok == TOK_IDENT) {
		struct sv_node n;
		if (parse_command(ps, &n, depth) < 0) {
			buf_free(&b);
			return -1;
		}
		buf_append(&b, &n, sizeof(n));
	}
	*cmds = parse_collect(ps, &b, sizeof(struct sv_node), ncmds);
	if (ps->lx.tok == TOK_ERROR) {
		parse_fail(ps, "");
		return -1;
	}
	return 0;
}

int sv_parse(struct arena *a, const char *src, size_t len, struct sv_node **cmds,
	     size_t *ncmds, struct error *err)
{
	struct parser ps;

	memset(&ps, 0, sizeof(ps));
	ps.a = a;
	ps.err = err;
	sv_lex_init(&ps.lx, a, src, len);
	sv_lex_next(&ps.lx);
	if (parse_commands(&ps, cmds, ncmds, 0) < 0)
		return -1;
	if (ps.lx.tok != TOK_EOF) {
		parse_fail(&ps, ps.lx.tok == TOK_RBRACE ? "unexpected '}'" : "command expected");
		return -1;
	}
	return 0;
}
