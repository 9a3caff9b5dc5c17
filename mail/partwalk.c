/* Walking a parsed message's MIME tree, and the text of its headers as
 * SEARCH TEXT sees it (RFC 9051: TEXT is "the header or body of the
 * message"; an attachment's Content-Disposition is part of it). */
#include <string.h>

#include "mail_private.h"

const struct mail_part *mail_part_next(const struct mail_message *m, const struct mail_part *p)
{
	if (p->nchildren > 0)
		return &p->children[0];
	/* Next sibling, or the next sibling of the nearest ancestor. */
	while (p != &m->root && p->parent != NULL) {
		const struct mail_part *up = p->parent;
		if (p + 1 < up->children + up->nchildren)
			return p + 1;
		p = up;
	}
	return NULL;
}

/* "name=value" of each parameter, value RFC 2231-decoded (the parser
 * joined its sections and converted its charset). */
static void params_text(const struct mail_param *v, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].name == NULL || v[i].value == NULL)
			continue;
		buf_append_str(out, v[i].name);
		buf_append_byte(out, '=');
		buf_append_str(out, v[i].value);
		buf_append_byte(out, '\0');
	}
}

/* Each field of a part's header, unfolded, encoded words decoded. */
static void fields_text(struct arena *a, const struct mail_message *m,
			const struct mail_part *p, struct buf *out)
{
	struct mail_field_iter it;
	struct mail_field f;
	size_t n = 0;

	if (p->hdr_off > m->len || p->hdr_len > m->len - p->hdr_off)
		return;
	mail_field_iter_init(&it, m->data + p->hdr_off, p->hdr_len);
	while (n++ < MAIL_SEARCH_FIELDS_MAX && mail_field_next(&it, &f)) {
		size_t ul;
		char *u = mail_unfold(a, f.value, f.value_len, &ul);
		char *d = mail_decode_words(a, u, ul);
		buf_append(out, f.name, f.name_len);
		buf_append_str(out, ": ");
		if (d != NULL)
			buf_append_str(out, d);
		else
			buf_append(out, u, ul);
		buf_append_byte(out, '\0');
	}
}

void mail_part_headers_text(struct arena *a, const struct mail_message *m, struct buf *out)
{
	for (const struct mail_part *p = &m->root; p != NULL; p = mail_part_next(m, p)) {
		if (p != &m->root)
			fields_text(a, m, p, out);
		params_text(p->params, p->nparams, out);
		params_text(p->disp_params, p->ndisp_params, out);
	}
}
