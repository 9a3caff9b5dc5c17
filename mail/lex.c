/* Lexing of structured header values (RFC 5322 CFWS and quoted strings,
 * RFC 2045 tokens). Comments nest, but nesting is tracked with a counter,
 * never by recursion, so "((((..." costs one pass. */
#include <string.h>

#include "mail_private.h"

void mail_lex_cfws(struct mail_lex *lx, struct arena *a, char **comment)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
		} else if (c == '(') {
			const char *start = ++lx->p;
			const char *cend;
			size_t depth = 1;
			while (lx->p < lx->end) {
				c = *lx->p;
				if (c == '\\' && lx->p + 1 < lx->end) {
					lx->p += 2;
					continue;
				}
				if (c == '(')
					depth++;
				else if (c == ')' && --depth == 0)
					break;
				lx->p++;
			}
			cend = lx->p;
			if (lx->p < lx->end)
				lx->p++; /* the closing ')' */
			if (comment != NULL && *comment == NULL && a != NULL) {
				/* Keep the comment text, unescaped and trimmed: it
				 * stands in for a missing display name. */
				char *s = arena_alloc(a, (size_t)(cend - start) + 1);
				size_t n = 0;
				const char *q;
				for (q = start; q < cend; q++) {
					if (*q == '\\' && q + 1 < cend)
						q++;
					if (*q == '\r' || *q == '\n')
						continue;
					s[n++] = *q;
				}
				while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
					n--;
				s[n] = '\0';
				{
					char *t = s;
					while (*t == ' ' || *t == '\t')
						t++;
					if (*t != '\0')
						*comment = t;
				}
			}
		} else {
			break;
		}
	}
}

static int is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

char *mail_lex_token(struct mail_lex *lx, struct arena *a)
{
	const char *start = lx->p;
	while (lx->p < lx->end) {
		unsigned char c = (unsigned char)*lx->p;
		/* 8-bit bytes are let in: broken mailers put them in filenames
		 * and a lenient reading shows more than dropping the value. */
		if (c <= ' ' || c == 127 || is_tspecial(c))
			break;
		lx->p++;
	}
	if (lx->p == start)
		return NULL;
	return arena_strndup(a, start, (size_t)(lx->p - start));
}

char *mail_lex_quoted(struct mail_lex *lx, struct arena *a)
{
	const char *start;
	char *s;
	size_t n = 0;

	lx->p++; /* the opening quote */
	start = lx->p;
	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		lx->p++;
	}
	s = arena_alloc(a, (size_t)(lx->p - start) + 1);
	{
		const char *q;
		for (q = start; q < lx->p; q++) {
			if (*q == '\\' && q + 1 < lx->p)
				q++;
			else if (*q == '\r' || *q == '\n')
				continue;
			s[n++] = *q;
		}
	}
	s[n] = '\0';
	if (lx->p < lx->end)
		lx->p++; /* the closing quote */
	return s;
}
