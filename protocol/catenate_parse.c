/* CATENATE's list of parts: see catenate_parse.h. */
#include "catenate_parse.h"

#include <string.h>

#define CAT_SYNTAX "CATENATE expects (TEXT literal / URL url / UTF8 (~{n}) ...)"

/* One cat-part from kind (the atom) and v. 0, or -1 not one. */
static int cat_part_parse(struct arena *a, const struct imap_arg *kind, const struct imap_arg *v,
			  struct cat_part *p)
{
	const char *why;

	memset(p, 0, sizeof(*p));
	p->arg = v;
	if (imap_arg_is_atom(kind, "UTF8")) {
		if (v->type != IMAP_ARG_LIST || v->count != 1 || v->list[0].type != IMAP_ARG_LITERAL8)
			return -1;
		p->text = p->utf8 = 1;
		p->arg = &v->list[0];
		return 0;
	}
	if (imap_arg_is_atom(kind, "TEXT")) {
		p->text = 1;
		return v->type == IMAP_ARG_LITERAL || v->type == IMAP_ARG_LITERAL8 ? 0 : -1;
	}
	if (!imap_arg_is_atom(kind, "URL") || !imap_arg_is_astring(v))
		return -1;
	p->url_ok = imapurl_parse(a, v->str, v->len, &p->url, &why) == 0;
	return 0;
}

int catenate_parse(struct arena *a, const struct imap_arg *list, struct cat_part **parts,
		   size_t *n, const char **err)
{
	struct cat_part *out;

	*err = CAT_SYNTAX;
	if (list->type != IMAP_ARG_LIST || list->count == 0 || list->count % 2)
		return -1;
	out = arena_alloc(a, list->count / 2 * sizeof(*out));
	for (size_t k = 0; k < list->count; k += 2)
		if (cat_part_parse(a, &list->list[k], &list->list[k + 1], &out[k / 2]) < 0)
			return -1;
	*parts = out;
	*n = list->count / 2;
	return 0;
}
