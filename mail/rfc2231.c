/* MIME parameter lists (RFC 2045 5.1) with RFC 2231 extensions: split
 * values ("name*0", "name*1", ...) are joined in index order, extended
 * values ("name*=charset'lang'%xx") are percent-decoded and converted to
 * UTF-8. Parameter counts are capped so a hostile header stays cheap. */
#include "../lib/hex.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_private.h"

#define MAX_PARAMS 256       /* per header field; the rest are dropped */
#define MAX_SECTION 999      /* highest continuation index accepted */

struct raw_param {
	char *attr;              /* base name (before any '*') */
	char *value;
	long index;              /* -1: not a continuation */
	int extended;            /* written with a trailing '*' */
	int used;
};

static void pct_decode(struct buf *b, const char *s)
{
	for (; *s; s++) {
		int h, l;
		if (*s == '%' && (h = hex_value((unsigned char)s[1])) >= 0 &&
		    (l = hex_value((unsigned char)s[2])) >= 0) {
			buf_append_byte(b, (char)(h * 16 + l));
			s += 2;
		} else {
			buf_append_byte(b, *s);
		}
	}
}

/* Split "name*12*" into base name, index and extended flag. */
static void split_attr(char *attr, struct raw_param *rp)
{
	char *star = strchr(attr, '*');
	rp->attr = attr;
	rp->index = -1;
	rp->extended = 0;
	if (star == NULL)
		return;
	if (star[1] == '\0') {
		*star = '\0';
		rp->extended = 1;
		return;
	}
	if (star[1] >= '0' && star[1] <= '9') {
		char *e;
		long idx = strtol(star + 1, &e, 10);
		if (idx <= MAX_SECTION && (*e == '\0' || (e[0] == '*' && e[1] == '\0'))) {
			*star = '\0';
			rp->index = idx;
			rp->extended = *e == '*';
		}
	}
}

/* charset'language'value of the first extended section: returns the
 * value part, and the charset in *cs (NULL if none given). */
static const char *ext_prefix(struct arena *a, const char *v, char **cs)
{
	const char *q1 = strchr(v, '\''), *q2;
	*cs = NULL;
	if (q1 == NULL)
		return v;
	q2 = strchr(q1 + 1, '\'');
	if (q2 == NULL)
		return v;
	if (q1 > v)
		*cs = arena_strndup(a, v, (size_t)(q1 - v));
	return q2 + 1;
}

static char *join_value(struct arena *a, struct raw_param *rp, size_t n, size_t first,
			struct mail_param *outp)
{
	struct buf raw = BUF_INIT, conv = BUF_INIT, written = BUF_INIT;
	int ext = 0;
	char *cs = NULL, *res;
	long want = 0;
	size_t i;

	if (rp[first].index < 0) {
		/* "name*=": one extended value */
		const char *v = ext_prefix(a, rp[first].value, &cs);
		pct_decode(&raw, v);
		buf_append_str(&written, rp[first].value);
		ext = 1;
		rp[first].used = 1;
	} else {
		/* Sections in index order; a gap ends the value. Each pass is
		 * over at most MAX_PARAMS entries, and there are at most
		 * MAX_PARAMS passes. */
		for (;;) {
			for (i = first; i < n; i++)
				if (!rp[i].used && rp[i].index == want &&
				    strcasecmp(rp[i].attr, rp[first].attr) == 0)
					break;
			if (i == n)
				break;
			rp[i].used = 1;
			buf_append_str(&written, rp[i].value);
			ext |= rp[i].extended;
			if (rp[i].extended) {
				const char *v = rp[i].value;
				if (want == 0)
					v = ext_prefix(a, v, &cs);
				pct_decode(&raw, v);
			} else {
				buf_append(&raw, rp[i].value, strlen(rp[i].value));
			}
			want++;
		}
		/* Sections past a gap are dropped, not reported as params. */
		for (i = first; i < n; i++)
			if (rp[i].index >= 0 && strcasecmp(rp[i].attr, rp[first].attr) == 0)
				rp[i].used = 1;
	}
	if (cs != NULL && raw.len > 0 &&
	    mail_charset_to_utf8(cs, raw.data, raw.len, &conv) == 0)
		res = arena_strndup(a, conv.data, conv.len);
	else
		res = arena_strndup(a, raw.data ? raw.data : "", raw.len);
	outp->raw_name = ext ? arena_printf(a, "%s*", rp[first].attr) : rp[first].attr;
	outp->raw_value = arena_strndup(a, written.data ? written.data : "", written.len);
	buf_free(&raw);
	buf_free(&conv);
	buf_free(&written);
	return res;
}

void mail_params_parse(struct arena *a, struct mail_lex *lx, struct mail_param **out,
		       size_t *nout)
{
	struct raw_param rp[MAX_PARAMS];
	size_t n = 0, i, k = 0;
	int any_ext = 0;

	for (;;) {
		char *attr, *val;

		mail_lex_cfws(lx, NULL, NULL);
		if (lx->p >= lx->end)
			break;
		if (*lx->p != ';') {
			/* Junk: skip to the next ';' (outside quotes). */
			while (lx->p < lx->end && *lx->p != ';') {
				if (*lx->p == '"')
					(void)mail_lex_quoted(lx, a);
				else
					lx->p++;
			}
			continue;
		}
		lx->p++;
		mail_lex_cfws(lx, NULL, NULL);
		attr = mail_lex_token(lx, a);
		if (attr == NULL)
			continue;
		mail_lex_cfws(lx, NULL, NULL);
		if (lx->p >= lx->end || *lx->p != '=')
			continue;
		lx->p++;
		mail_lex_cfws(lx, NULL, NULL);
		if (lx->p < lx->end && *lx->p == '"')
			val = mail_lex_quoted(lx, a);
		else if ((val = mail_lex_token(lx, a)) == NULL)
			val = arena_strdup(a, "");
		if (n == MAX_PARAMS)
			continue;
		split_attr(attr, &rp[n]);
		rp[n].value = val;
		rp[n].used = 0;
		if (rp[n].index >= 0 || rp[n].extended)
			any_ext = 1;
		n++;
	}
	if (n == 0) {
		*out = NULL;
		*nout = 0;
		return;
	}
	*out = arena_alloc(a, n * sizeof(**out));
	for (i = 0; i < n; i++) {
		if (rp[i].used)
			continue;
		(*out)[k].name = rp[i].attr;
		if (any_ext && (rp[i].index >= 0 || rp[i].extended))
			(*out)[k].value = join_value(a, rp, n, i, &(*out)[k]);
		else {
			(*out)[k].value = rp[i].value;
			(*out)[k].raw_name = rp[i].attr;
			(*out)[k].raw_value = rp[i].value;
			rp[i].used = 1;
		}
		k++;
	}
	*nout = k;
}
