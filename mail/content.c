/* The Content-* fields of one MIME part (RFC 2045, 2183, 3066, 2557):
 * what BODYSTRUCTURE reports and what decides how the parser descends. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mail_private.h"

#define MAX_LANGUAGES 100 /* Content-Language tags kept per part */

static char *lower(char *s)
{
	char *p;
	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* Content-Type: type "/" subtype *(";" parameter). Anything without a
 * parsable type/subtype is treated as absent, so the RFC 2045 default
 * applies (RFC 2045 5.2: "default ... if ... syntactically invalid"). */
static int parse_type(struct arena *a, struct mail_part *part, const char *v, size_t len)
{
	struct mail_lex lx = { v, v + len };
	char *type, *sub;

	mail_lex_cfws(&lx, NULL, NULL);
	type = mail_lex_token(&lx, a);
	mail_lex_cfws(&lx, NULL, NULL);
	if (type == NULL || lx.p >= lx.end || *lx.p != '/')
		return -1;
	lx.p++;
	mail_lex_cfws(&lx, NULL, NULL);
	sub = mail_lex_token(&lx, a);
	if (sub == NULL)
		return -1;
	part->type_written = arena_strdup(a, type);
	part->subtype_written = arena_strdup(a, sub);
	part->type = lower(type);
	part->subtype = lower(sub);
	mail_params_parse(a, &lx, &part->params, &part->nparams);
	return 0;
}

static void parse_disposition(struct arena *a, struct mail_part *part, const char *v,
			      size_t len)
{
	struct mail_lex lx = { v, v + len };
	char *d;

	mail_lex_cfws(&lx, NULL, NULL);
	d = mail_lex_token(&lx, a);
	if (d == NULL)
		return;
	part->disposition = d;
	mail_params_parse(a, &lx, &part->disp_params, &part->ndisp_params);
}

/* Content-Language: 1#Language-tag, kept as written. */
static void parse_language(struct arena *a, struct mail_part *part, const char *v,
			   size_t len)
{
	struct mail_lex lx = { v, v + len };
	const char *tags[MAX_LANGUAGES];
	size_t n = 0;

	for (;;) {
		char *t;
		mail_lex_cfws(&lx, NULL, NULL);
		t = mail_lex_token(&lx, a);
		if (t == NULL)
			break;
		if (n < MAX_LANGUAGES)
			tags[n++] = t;
		mail_lex_cfws(&lx, NULL, NULL);
		if (lx.p >= lx.end || *lx.p != ',')
			break;
		lx.p++;
	}
	if (n == 0)
		return;
	part->language = arena_alloc(a, n * sizeof(*part->language));
	memcpy(part->language, tags, n * sizeof(*tags));
	part->nlanguage = n;
}

/* Content-Transfer-Encoding: one token; anything else is ignored (and
 * the "7bit" default is reported), as Dovecot does for e.g. "?invalid". */
static void parse_encoding(struct arena *a, struct mail_part *part, const char *v,
			   size_t len)
{
	struct mail_lex lx = { v, v + len };
	char *t;

	mail_lex_cfws(&lx, NULL, NULL);
	t = mail_lex_token(&lx, a);
	mail_lex_cfws(&lx, NULL, NULL);
	if (t != NULL && lx.p == lx.end)
		part->encoding = t;
}

void mail_content_parse(struct arena *a, struct mail_part *part, const char *hdr,
			size_t hdr_len, unsigned max_headers, int digest_child)
{
	struct mail_field_iter it;
	struct mail_field f;
	unsigned seen = 0;
	int have_type = 0;

	mail_field_iter_init(&it, hdr, hdr_len);
	while (seen < max_headers && mail_field_next(&it, &f)) {
		const char *n = f.name + 8;
		size_t nl = f.name_len - 8;
		char *v;
		size_t vl;

		seen++;
		if (f.name_len <= 8 || strncasecmp(f.name, "Content-", 8) != 0)
			continue;
		v = mail_unfold(a, f.value, f.value_len, &vl);
		if (mail_name_eq(n, nl, "Type")) {
			if (!have_type)
				have_type = 1, parse_type(a, part, v, vl);
		} else if (mail_name_eq(n, nl, "Transfer-Encoding")) {
			if (part->encoding == NULL)
				parse_encoding(a, part, v, vl);
		} else if (mail_name_eq(n, nl, "ID")) {
			if (part->id == NULL)
				part->id = v;
		} else if (mail_name_eq(n, nl, "Description")) {
			if (part->description == NULL)
				part->description = v;
		} else if (mail_name_eq(n, nl, "MD5")) {
			if (part->md5 == NULL)
				part->md5 = v;
		} else if (mail_name_eq(n, nl, "Disposition")) {
			if (part->disposition == NULL)
				parse_disposition(a, part, v, vl);
		} else if (mail_name_eq(n, nl, "Language")) {
			if (part->nlanguage == 0)
				parse_language(a, part, v, vl);
		} else if (mail_name_eq(n, nl, "Location")) {
			if (part->location == NULL)
				part->location = v;
		}
	}
	if (part->type == NULL) {
		part->params = NULL;
		part->nparams = 0;
		if (digest_child) {
			part->type = "message";
			part->subtype = "rfc822";
		} else {
			/* The charset default is added when BODYSTRUCTURE is
			 * written, like Dovecot, not stored here. */
			part->type = "text";
			part->subtype = "plain";
		}
	}
}
