/* variables (RFC 5229): "set" with its modifiers, "${name}" and the match
 * variables "${0}".."${9}" expanded in the strings a command or test uses
 * at run time. Values are bounded (SIEVE_MAX_VALUE, truncated as section 3
 * allows) and so is a string after expansion (SIEVE_MAX_EXPANDED, a
 * runtime error past it), so a script cannot make memory explode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "sieve_private.h"

static int is_ident_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

int sv_var_name_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_ident_char(s[i], i == 0))
			return 0;
	return len > 0;
}

static struct sv_var *var_find(struct sv_run *r, const char *name, size_t len)
{
	for (size_t k = 0; k < r->nvars; k++)
		if (sv_ascii_casecmp_n(r->vars[k].name, strlen(r->vars[k].name), name, len) == 0)
			return &r->vars[k];
	return NULL;
}

/* Cut at most SIEVE_MAX_VALUE bytes, not inside a UTF-8 character. */
static size_t value_cut(const char *s, size_t len)
{
	if (len <= SIEVE_MAX_VALUE)
		return len;
	len = SIEVE_MAX_VALUE;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

static void var_store(char **slot, size_t *slot_len, const char *v, size_t len)
{
	len = value_cut(v, len);
	free(*slot);
	*slot = xstrndup(v, len);
	*slot_len = len;
}

void sv_var_matches(struct sv_run *r, const char *v, size_t vlen, const struct sv_capture *caps,
		    size_t ncaps)
{
	var_store(&r->match[0], &r->match_len[0], v, vlen);
	for (size_t k = 1; k <= SV_MAX_CAPTURES; k++) {
		const char *s = k <= ncaps ? v + caps[k - 1].start : "";
		size_t n = k <= ncaps ? caps[k - 1].end - caps[k - 1].start : 0;
		var_store(&r->match[k], &r->match_len[k], s, n);
	}
}

/* The value "${ref}" stands for; NULL when ref is no variable reference
 * (the text then stays as written). */
static const char *var_lookup(struct sv_run *r, const char *ref, size_t len, size_t *vlen)
{
	size_t d = 0;
	while (d < len && ref[d] >= '0' && ref[d] <= '9')
		d++;
	if (len > 0 && d == len) {
		size_t i = 0;
		while (i + 1 < len && ref[i] == '0')
			i++;
		int idx = len - i == 1 ? ref[i] - '0' : 10;
		*vlen = idx < 10 && r->match[idx] ? r->match_len[idx] : 0;
		return idx < 10 && r->match[idx] ? r->match[idx] : "";
	}
	if (!sv_var_name_ok(ref, len))
		return NULL;
	struct sv_var *v = var_find(r, ref, len);
	*vlen = v ? v->len : 0;
	return v ? v->value : "";
}

/* in with its references replaced; -1 when the result grows too long. */
static int str_expand(struct sv_run *r, const struct sv_str *in, struct buf *out)
{
	const char *s = in->s, *end = in->s + in->len, *close = NULL;
	int searched = 0;

	while (s < end) {
		const char *ref = memmem(s, (size_t)(end - s), "${", 2);
		const char *val = NULL;
		size_t vlen = 0;
		/* The first '}' after ref, searched again only once passed:
		 * linear however many "${" there are. */
		if (ref && (!searched || (close && close < ref))) {
			close = memchr(ref, '}', (size_t)(end - ref));
			searched = 1;
		}
		if (ref == NULL || close == NULL)
			ref = NULL;
		else
			val = var_lookup(r, ref + 2, (size_t)(close - ref - 2), &vlen);
		size_t lit = val ? (size_t)(ref - s) : ref ? (size_t)(ref - s) + 2 : (size_t)(end - s);
		if (out->len + lit + vlen > SIEVE_MAX_EXPANDED)
			return -1;
		buf_append(out, s, lit);
		s += lit;
		if (val) {
			buf_append(out, val, vlen);
			s = close + 1;
		}
	}
	return 0;
}

static const struct sv_arg *arg_expand(struct sv_run *r, const struct sv_node *n,
				       const struct sv_arg *a)
{
	struct buf b = BUF_INIT;
	struct sv_arg *x;

	if (a == NULL || a->type == ARG_NUMBER || a->type == ARG_TAG)
		return a;
	x = arena_alloc(r->a, sizeof(*x));
	*x = *a;
	x->strs = arena_alloc(r->a, a->nstrs * sizeof(*x->strs) + 1);
	for (size_t k = 0; k < a->nstrs; k++) {
		buf_reset(&b);
		if (str_expand(r, &a->strs[k], &b) < 0) {
			buf_free(&b);
			sv_run_fail(r, n, "string longer than %d bytes after expansion",
				    SIEVE_MAX_EXPANDED);
			return NULL;
		}
		x->strs[k].s = arena_strndup(r->a, b.data ? b.data : "", b.len);
		x->strs[k].len = b.len;
	}
	buf_free(&b);
	return x;
}

const struct sv_node *sv_node_expand(struct sv_run *r, const struct sv_node *n,
				     struct sv_node *copy)
{
	struct sv_arg **fields[] = { &copy->pos[0], &copy->pos[1], &copy->flags, &copy->subject,
				     &copy->from, &copy->addresses, &copy->handle };

	if (!r->vars_on)
		return n;
	*copy = *n;
	/* The name "set" assigns is no reference. */
	for (size_t k = n->id == SV_SET ? 1 : 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
		const struct sv_arg *a = arg_expand(r, n, *fields[k]);
		if (*fields[k] != NULL && a == NULL)
			return NULL;
		*fields[k] = (struct sv_arg *)a;
	}
	return copy;
}

static void mod_case(char *s, size_t len, int upper)
{
	for (size_t i = 0; i < len; i++) {
		if (upper && s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 'a' + 'A');
		else if (!upper && s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
	}
}

/* The modifiers in RFC 5229 4.1's order of precedence. */
static void set_modify(struct sv_run *r, const struct sv_node *n, struct buf *v)
{
	unsigned m = n->setmods;

	if (m & (SETMOD_LOWER | SETMOD_UPPER))
		mod_case(v->data, v->len, (m & SETMOD_UPPER) != 0);
	if (m & (SETMOD_LOWERFIRST | SETMOD_UPPERFIRST))
		mod_case(v->data, v->len ? 1 : 0, (m & SETMOD_UPPERFIRST) != 0);
	if (m & SETMOD_QUOTEWILDCARD) {
		struct buf q = BUF_INIT;
		for (size_t i = 0; i < v->len; i++) {
			if (strchr("*?\\", v->data[i]) != NULL && v->data[i] != '\0')
				buf_append_byte(&q, '\\');
			buf_append_byte(&q, v->data[i]);
		}
		buf_free(v);
		*v = q;
	}
	if (m & SETMOD_LENGTH) {
		size_t chars = 0;
		for (size_t i = 0; i < v->len; i++)
			chars += ((unsigned char)v->data[i] & 0xc0) != 0x80;
		buf_reset(v);
		buf_printf(v, "%zu", chars);
	}
	(void)r;
}

const char *sv_var_value(struct sv_run *r, const char *name, size_t len, size_t *vlen)
{
	struct sv_var *v = var_find(r, name, len);

	*vlen = v ? v->len : 0;
	return v ? v->value : "";
}

int sv_var_assign(struct sv_run *r, const struct sv_node *n, const char *name, size_t nlen,
		  const char *val, size_t vlen)
{
	struct sv_var *v = var_find(r, name, nlen);

	if (v == NULL && r->nvars >= SIEVE_MAX_VARIABLES) {
		sv_run_fail(r, n, "more than %d variables", SIEVE_MAX_VARIABLES);
		return -1;
	}
	if (v == NULL) {
		r->vars = xreallocarray(r->vars, r->nvars + 1, sizeof(*r->vars));
		v = memset(&r->vars[r->nvars++], 0, sizeof(*v));
		v->name = xstrndup(name, nlen);
	}
	var_store(&v->value, &v->len, val, vlen);
	return 0;
}

int sv_var_set(struct sv_run *r, const struct sv_node *n)
{
	const struct sv_str *name = &n->pos[0]->strs[0];
	struct buf val = BUF_INIT;
	int ret;

	buf_append(&val, n->pos[1]->strs[0].s, n->pos[1]->strs[0].len);
	set_modify(r, n, &val);
	ret = sv_var_assign(r, n, name->s, name->len, val.data ? val.data : "", val.len);
	buf_free(&val);
	return ret;
}

void sv_vars_free(struct sv_run *r)
{
	for (size_t k = 0; k < r->nvars; k++) {
		free(r->vars[k].name);
		free(r->vars[k].value);
	}
	free(r->vars);
	for (size_t k = 0; k <= SV_MAX_CAPTURES; k++)
		free(r->match[k]);
}
