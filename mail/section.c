/* BODY[section] (RFC 9051 6.4.5): part numbers and the HEADER, TEXT,
 * MIME and HEADER.FIELDS[.NOT] texts, served as slices of the message or,
 * for HEADER.FIELDS, generated.
 *
 * Part numbering: a message (the root, or the one inside a message/rfc822
 * part) numbers the parts of its multipart body; if its body is not
 * multipart, the body is part 1. "n.HEADER", "n.TEXT" and
 * "n.HEADER.FIELDS" need part n to be a message/rfc822 part and refer to
 * the message inside it. A part that does not exist is empty content. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "mail_private.h"

#define MAX_PART_DIGITS 9

static int is_multipart(const struct mail_part *p)
{
	return strcmp(p->type, "multipart") == 0 && p->nchildren > 0;
}

static const struct mail_part *embedded(const struct mail_part *p)
{
	if (strcmp(p->type, "message") == 0 && p->nchildren == 1 && p->children[0].is_message)
		return &p->children[0];
	return NULL;
}

static const struct mail_part *nth(const struct mail_part *p, unsigned long n)
{
	return n >= 1 && n <= p->nchildren ? &p->children[n - 1] : NULL;
}

/* One step of the part path from p (msgctx: p is a message). */
static const struct mail_part *step(const struct mail_part *p, int *msgctx, unsigned long n)
{
	if (!*msgctx) {
		const struct mail_part *e;
		if (is_multipart(p))
			return nth(p, n);
		if ((e = embedded(p)) == NULL)
			return NULL;
		p = e;
	}
	*msgctx = 0;
	if (is_multipart(p))
		return nth(p, n);
	return n == 1 ? p : NULL;
}

/* Parses "n(.n)*" at s; *used: bytes consumed (a trailing ".WORD" is
 * left). Returns the part, NULL if it does not exist; *bad on syntax. */
static const struct mail_part *resolve(const struct mail_message *m, const char *s,
				       size_t len, size_t *used, int *bad)
{
	const struct mail_part *p = &m->root;
	int msgctx = 1;
	size_t i = 0;

	*bad = 0;
	for (;;) {
		unsigned long n = 0;
		size_t d = 0;
		while (i < len && isdigit((unsigned char)s[i])) {
			if (d == 0 && s[i] == '0')
				*bad = 1; /* nz-number */
			if (++d > MAX_PART_DIGITS)
				*bad = 1;
			else
				n = n * 10 + (unsigned long)(s[i] - '0');
			i++;
		}
		if (d == 0) {
			*bad = 1;
			break;
		}
		if (p != NULL)
			p = step(p, &msgctx, n);
		if (i + 1 < len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
			i++;
			continue;
		}
		break;
	}
	*used = i;
	return *bad ? NULL : p;
}

const struct mail_part *mail_find_part(const struct mail_message *m, const char *num,
				       size_t numlen)
{
	size_t used;
	int bad;
	const struct mail_part *p = resolve(m, num, numlen, &used, &bad);
	return bad || used != numlen ? NULL : p;
}

static int name_cmp(const void *a, const void *b)
{
	const struct mail_fieldname *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = strncasecmp(x->s, y->s, n);
	if (r != 0)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* header-list: "(" astring *(SP astring) ")" and nothing after it.
 * Names go to *names (xmalloc'd, sorted). */
static int parse_list(const char *s, size_t len, struct mail_fieldname **names, size_t *n)
{
	size_t i = 0, cap = 0;
	struct mail_fieldname *v = NULL;

	*n = 0;
	if (len == 0 || s[0] != '(')
		return -1;
	i = 1;
	for (;;) {
		struct mail_fieldname nm;
		if (i < len && s[i] == '"') {
			/* Quoted: the name is what is between the quotes; field
			 * names have no '"' or '\\' worth unescaping. */
			size_t st = ++i;
			while (i < len && s[i] != '"') {
				if (s[i] == '\\')
					i++;
				i++;
			}
			if (i >= len)
				goto bad;
			nm.s = s + st;
			nm.len = i - st;
			i++;
		} else {
			size_t st = i;
			while (i < len && s[i] != ' ' && s[i] != ')' && s[i] != '(' &&
			       (unsigned char)s[i] > ' ' && s[i] != '"' && s[i] != '{' &&
			       (unsigned char)s[i] < 127)
				i++;
			if (i == st)
				goto bad;
			nm.s = s + st;
			nm.len = i - st;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = nm;
		if (i < len && s[i] == ' ') {
			i++;
			continue;
		}
		if (i < len && s[i] == ')' && i + 1 == len)
			break;
		goto bad;
	}
	qsort(v, *n, sizeof(*v), name_cmp);
	*names = v;
	return 0;
bad:
	free(v);
	*names = NULL;
	return -1;
}

void mail_section_filter(const char *hdr, size_t len, const struct mail_section_loc *loc,
			 struct buf *gen)
{
	struct mail_field_iter it;
	struct mail_field f;

	mail_field_iter_init(&it, hdr, len);
	while (mail_header_next(&it, &f)) {
		struct mail_fieldname key = { f.name, f.name_len };
		/* A line that is no field (no colon) is named by no list:
		 * HEADER.FIELDS.NOT gives it back as it is. */
		int found = f.name != NULL &&
			    bsearch(&key, loc->names, loc->nnames, sizeof(*loc->names), name_cmp) != NULL;
		if (found == (loc->filter == MAIL_SECTION_FIELDS_NOT))
			continue;
		buf_append(gen, f.raw, f.raw_len);
		if (f.raw[f.raw_len - 1] != '\n')
			buf_append_str(gen, "\r\n");
	}
	buf_append_str(gen, "\r\n");
}

void mail_section_loc_free(struct mail_section_loc *loc)
{
	free(loc->names);
	loc->names = NULL;
	loc->nnames = 0;
}

static int kw(const char *s, size_t len, size_t *i, const char *word)
{
	size_t wl = strlen(word);
	if (len - *i < wl || strncasecmp(s + *i, word, wl) != 0)
		return 0;
	*i += wl;
	return 1;
}

static void set_range(struct mail_section_loc *loc, size_t off, size_t len)
{
	loc->off = off;
	loc->len = len;
}

int mail_section_locate(const struct mail_message *m, const char *spec, size_t speclen,
			struct mail_section_loc *loc, const char **err)
{
	const struct mail_part *part = NULL, *msg;
	int have_part = 0;
	size_t i = 0;

	memset(loc, 0, sizeof(*loc));
	if (speclen == 0) {
		set_range(loc, 0, m->len);
		return 0;
	}
	if (isdigit((unsigned char)spec[0])) {
		int bad;
		have_part = 1;
		part = resolve(m, spec, speclen, &i, &bad);
		if (bad)
			goto bad;
		if (i == speclen) {
			if (part != NULL)
				set_range(loc, part->body_off, part->body_len);
			return 0;
		}
		if (spec[i] != '.')
			goto bad;
		i++;
	}
	msg = !have_part ? &m->root : part != NULL ? embedded(part) : NULL;
	if (have_part && kw(spec, speclen, &i, "MIME")) {
		if (i != speclen)
			goto bad;
		if (part != NULL)
			set_range(loc, part->hdr_off, part->hdr_len);
		return 0;
	}
	if (kw(spec, speclen, &i, "TEXT")) {
		if (i != speclen)
			goto bad;
		if (msg != NULL)
			set_range(loc, msg->body_off, msg->body_len);
		return 0;
	}
	if (kw(spec, speclen, &i, "HEADER")) {
		if (i == speclen) {
			if (msg != NULL)
				set_range(loc, msg->hdr_off, msg->hdr_len);
			return 0;
		}
		if (!kw(spec, speclen, &i, ".FIELDS"))
			goto bad;
		loc->filter = kw(spec, speclen, &i, ".NOT") ? MAIL_SECTION_FIELDS_NOT
							   : MAIL_SECTION_FIELDS;
		if (!kw(spec, speclen, &i, " "))
			goto bad;
		if (parse_list(spec + i, speclen - i, &loc->names, &loc->nnames) < 0)
			goto bad;
		if (msg != NULL)
			set_range(loc, msg->hdr_off, msg->hdr_len);
		else
			loc->filter = MAIL_SECTION_EMPTY;
		return 0;
	}
bad:
	mail_section_loc_free(loc);
	memset(loc, 0, sizeof(*loc));
	*err = "Invalid section";
	return -1;
}

int mail_section(const struct mail_message *m, const char *spec, size_t speclen,
		 struct buf *gen, const char **ptr, size_t *len, const char **err)
{
	struct mail_section_loc loc;

	*ptr = m->data;
	*len = 0;
	if (mail_section_locate(m, spec, speclen, &loc, err) < 0)
		return -1;
	if (loc.filter == MAIL_SECTION_EMPTY) {
		/* HEADER.FIELDS of a part that is no message: nothing. */
	} else if (loc.filter) {
		buf_reset(gen);
		mail_section_filter(m->data + loc.off, (size_t)loc.len, &loc, gen);
		*ptr = gen->data;
		*len = gen->len;
	} else {
		*ptr = m->data + loc.off;
		*len = (size_t)loc.len;
	}
	mail_section_loc_free(&loc);
	return 0;
}
