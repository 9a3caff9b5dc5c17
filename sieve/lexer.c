/* Sieve tokens (RFC 5228 8.1): identifiers, tags, numbers with K/M/G,
 * quoted strings, "text:" multi-line strings, comments and punctuation.
 * Line numbers count LFs so errors can say where. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sieve_private.h"

static void lex_error(struct sv_lexer *lx, const char *msg)
{
	lx->tok = TOK_ERROR;
	snprintf(lx->errmsg, sizeof(lx->errmsg), "%s", msg);
}

void sv_lex_init(struct sv_lexer *lx, struct arena *a, const char *src, size_t len)
{
	memset(lx, 0, sizeof(*lx));
	lx->p = src;
	lx->end = src + len;
	lx->line = 1;
	lx->a = a;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skip blanks and comments; -1 for an unterminated bracket comment. */
static int lex_skip(struct sv_lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
			lx->p = nl ? nl : lx->end;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			const char *q = lx->p + 2;
			for (; q + 1 < lx->end && !(q[0] == '*' && q[1] == '/'); q++)
				if (*q == '\n')
					lx->line++;
			if (q + 1 >= lx->end)
				return -1;
			lx->p = q + 2;
		} else {
			break;
		}
	}
	return 0;
}

static void lex_word(struct sv_lexer *lx, enum sv_tok t)
{
	const char *s = lx->p;
	char *w;
	size_t n = 0;

	while (s + n < lx->end && (is_alpha(s[n]) || is_digit(s[n])))
		n++;
	w = arena_strndup(lx->a, s, n);
	for (size_t i = 0; i < n; i++)
		if (w[i] >= 'A' && w[i] <= 'Z')
			w[i] = (char)(w[i] - 'A' + 'a');
	lx->p = s + n;
	lx->tok = t;
	lx->text = w;
	lx->text_len = n;
}

static void lex_number(struct sv_lexer *lx)
{
	uint64_t v = 0, mul = 1;

	while (lx->p < lx->end && is_digit(*lx->p)) {
		if (v > (UINT64_MAX - 9) / 10) {
			lex_error(lx, "number too large");
			return;
		}
		v = v * 10 + (uint64_t)(*lx->p++ - '0');
	}
	if (lx->p < lx->end && strchr("kKmMgG", *lx->p) != NULL) {
		char q = *lx->p++;
		mul = (q == 'k' || q == 'K') ? 1024ULL : (q == 'm' || q == 'M') ? 1048576ULL
									      : 1073741824ULL;
	}
	if (v > UINT64_MAX / mul) {
		lex_error(lx, "number too large");
		return;
	}
	lx->tok = TOK_NUMBER;
	lx->num = v * mul;
}

static void lex_quoted(struct sv_lexer *lx)
{
	struct buf b = BUF_INIT;

	lx->p++;
	for (;;) {
		if (lx->p >= lx->end) {
			buf_free(&b);
			lex_error(lx, "unterminated string");
			return;
		}
		char c = *lx->p++;
		if (c == '"')
			break;
		if (c == '\\' && lx->p < lx->end)
			c = *lx->p++;
		if (c == '\n')
			lx->line++;
		buf_append_byte(&b, c);
	}
	lx->tok = TOK_STRING;
	lx->text = arena_strndup(lx->a, b.data ? b.data : "", b.len);
	lx->text_len = b.len;
	buf_free(&b);
}

/* The rest of the line after "text:": blanks and an optional comment. */
static int lex_text_start(struct sv_lexer *lx)
{
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#') {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		lx->p = nl ? nl : lx->end;
	}
	if (lx->p < lx->end && *lx->p == '\r')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '\n')
		return -1;
	lx->p++;
	lx->line++;
	return 0;
}

/* Lines up to one holding only "."; a leading ".." stands for ".". */
static void lex_multiline(struct sv_lexer *lx)
{
	struct buf b = BUF_INIT;

	lx->p += 5;
	if (lex_text_start(lx) < 0) {
		lex_error(lx, "text: must end its line");
		return;
	}
	for (;;) {
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		if (nl == NULL) {
			buf_free(&b);
			lex_error(lx, "unterminated multi-line string");
			return;
		}
		size_t n = (size_t)(nl - lx->p);
		size_t body = (n > 0 && lx->p[n - 1] == '\r') ? n - 1 : n;
		const char *line = lx->p;
		lx->p = nl + 1;
		lx->line++;
		if (body == 1 && line[0] == '.')
			break;
		if (body >= 2 && line[0] == '.' && line[1] == '.')
			line++, n--;
		buf_append(&b, line, n + 1);
	}
	lx->tok = TOK_STRING;
	lx->text = arena_strndup(lx->a, b.data ? b.data : "", b.len);
	lx->text_len = b.len;
	buf_free(&b);
}

static enum sv_tok lex_punct(char c)
{
	switch (c) {
	case '[': return TOK_LBRACKET;
	case ']': return TOK_RBRACKET;
	case '(': return TOK_LPAREN;
	case ')': return TOK_RPAREN;
	case ',': return TOK_COMMA;
	case ';': return TOK_SEMI;
	case '{': return TOK_LBRACE;
	case '}': return TOK_RBRACE;
	default: return TOK_ERROR;
	}
}

enum sv_tok sv_lex_next(struct sv_lexer *lx)
{
	if (lex_skip(lx) < 0) {
		lex_error(lx, "unterminated comment");
		return lx->tok;
	}
	lx->tok_line = lx->line;
	if (lx->p >= lx->end) {
		lx->tok = TOK_EOF;
		return lx->tok;
	}
	char c = *lx->p;
	if ((size_t)(lx->end - lx->p) >= 5 && strncasecmp(lx->p, "text:", 5) == 0)
		lex_multiline(lx);
	else if (is_alpha(c))
		lex_word(lx, TOK_IDENT);
	else if (c == ':' && lx->p + 1 < lx->end && is_alpha(lx->p[1]))
		lx->p++, lex_word(lx, TOK_TAG);
	else if (is_digit(c))
		lex_number(lx);
	else if (c == '"')
		lex_quoted(lx);
	else if ((lx->tok = lex_punct(c)) != TOK_ERROR)
		lx->p++;
	else
		lex_error(lx, "unexpected character");
	return lx->tok;
}
