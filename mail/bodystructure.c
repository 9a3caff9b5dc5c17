/* BODY and BODYSTRUCTURE (RFC 9051 7.5.2, formal syntax in 9), written
 * with an explicit stack so deep nesting costs no C stack.
 *
 * Choices where the RFC leaves room, following Dovecot:
 *  - type and subtype as the sender wrote them (as Dovecot does), lower
 *    case for defaults and for message/rfc822; parameter names lower-case,
 *    values as written (RFC 2231 ones joined but not decoded: "name*");
 *  - a text part without a charset parameter gets ("charset" "us-ascii")
 *    appended (RFC 2045 5.2 default);
 *  - encoding as written, "7bit" when absent; disposition type as written;
 *  - a multipart without any part (no boundary line in its body) reports
 *    one empty text/plain part, since the grammar requires 1*body;
 *  - a message/rfc822 part not parsed as a message (encoded, or too deep)
 *    is written as a basic part, without envelope;
 *  - Content-Language always as a list. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "mail_private.h"

#define EMPTY_PART "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"

static int is_text(const struct mail_part *p)
{
	return strcmp(p->type, "text") == 0;
}

static int is_multipart(const struct mail_part *p)
{
	return strcmp(p->type, "multipart") == 0;
}

static int is_message(const struct mail_part *p)
{
	return strcmp(p->type, "message") == 0 && p->nchildren == 1 && p->children[0].is_message;
}

static void write_params(struct buf *out, const struct mail_param *pp, size_t n,
			 int add_charset)
{
	size_t i;
	int have_charset = 0;

	if (n == 0 && !add_charset) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_byte(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_append_byte(out, ' ');
		mail_imap_lstring(out, pp[i].raw_name ? pp[i].raw_name : pp[i].name);
		buf_append_byte(out, ' ');
		mail_imap_cstring(out, pp[i].raw_value ? pp[i].raw_value : pp[i].value);
		if (strcasecmp(pp[i].name, "charset") == 0)
			have_charset = 1;
	}
	if (add_charset && !have_charset)
		buf_append_str(out, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	buf_append_byte(out, ')');
}

/* body-ext-1part / body-ext-mpart after the first field (md5 or params). */
static void write_ext_tail(struct buf *out, const struct mail_part *p)
{
	size_t i;

	buf_append_byte(out, ' ');
	if (p->disposition == NULL) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_byte(out, '(');
		mail_imap_cstring(out, p->disposition);
		buf_append_byte(out, ' ');
		write_params(out, p->disp_params, p->ndisp_params, 0);
		buf_append_byte(out, ')');
	}
	buf_append_byte(out, ' ');
	if (p->nlanguage == 0) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_byte(out, '(');
		for (i = 0; i < p->nlanguage; i++) {
			if (i > 0)
				buf_append_byte(out, ' ');
			mail_imap_cstring(out, p->language[i]);
		}
		buf_append_byte(out, ')');
	}
	buf_append_byte(out, ' ');
	mail_imap_cstring(out, p->location);
}

/* The sender's spelling when it still names the type in effect (a part
 * demoted to text/plain must not show its original type). */
static const char *type_name(const struct mail_part *p)
{
	/* message/rfc822 is always spelled in lower case, as Dovecot does. */
	if (strcmp(p->type, "message") == 0 && strcmp(p->subtype, "rfc822") == 0)
		return NULL;
	return p->type_written && p->subtype_written && strcasecmp(p->type_written, p->type) == 0 &&
			       strcasecmp(p->subtype_written, p->subtype) == 0
		       ? p->type_written
		       : NULL;
}

static void write_type(struct buf *out, const struct mail_part *p, int sub)
{
	const char *w = type_name(p) ? (sub ? p->subtype_written : p->type_written) : NULL;
	if (w)
		mail_imap_cstring(out, w);
	else
		mail_imap_lstring(out, sub ? p->subtype : p->type);
}

static void write_basic(struct buf *out, const struct mail_part *p)
{
	write_type(out, p, 0);
	buf_append_byte(out, ' ');
	write_type(out, p, 1);
	buf_append_byte(out, ' ');
	write_params(out, p->params, p->nparams, is_text(p));
	buf_append_byte(out, ' ');
	mail_imap_cstring(out, p->id);
	buf_append_byte(out, ' ');
	mail_imap_cstring(out, p->description);
	buf_append_byte(out, ' ');
	mail_imap_cstring(out, p->encoding ? p->encoding : "7bit");
	buf_printf(out, " %zu", p->body_len);
}

struct item {
	const struct mail_part *p;
	int stage;               /* 0: start, 1: multipart tail, 2: message tail */
	size_t next_child;
};

void mail_write_bodystructure(struct buf *out, const struct mail_message *m,
			      const struct mail_part *part, int extended)
{
	struct item *st = NULL;
	size_t n = 0, cap = 0;

#define PUSH(pp, s) do { \
		if (n == cap) { \
			cap = cap ? cap * 2 : 16; \
			st = xreallocarray(st, cap, sizeof(*st)); \
		} \
		st[n].p = (pp); st[n].stage = (s); st[n].next_child = 0; n++; \
	} while (0)

	PUSH(part, 0);
	while (n > 0) {
		struct item *it = &st[n - 1];
		const struct mail_part *p = it->p;

		if (it->stage == 0) {
			buf_append_byte(out, '(');
			if (is_multipart(p)) {
				it->stage = 1;
				if (p->nchildren == 0)
					buf_append_str(out, EMPTY_PART);
				continue;
			}
			write_basic(out, p);
			if (is_message(p)) {
				buf_append_byte(out, ' ');
				mail_write_envelope(out, m, &p->children[0]);
				buf_append_byte(out, ' ');
				it->stage = 2;
				PUSH(&p->children[0], 0);
				continue;
			}
			if (is_text(p))
				buf_printf(out, " %zu", p->body_lines);
			if (extended) {
				buf_append_byte(out, ' ');
				mail_imap_cstring(out, p->md5);
				write_ext_tail(out, p);
			}
			buf_append_byte(out, ')');
			n--;
		} else if (it->stage == 1) {
			if (it->next_child < p->nchildren) {
				const struct mail_part *c = &p->children[it->next_child++];
				PUSH(c, 0); /* may move st: it is not used after */
				continue;
			}
			buf_append_byte(out, ' ');
			write_type(out, p, 1);
			if (extended) {
				buf_append_byte(out, ' ');
				write_params(out, p->params, p->nparams, 0);
				write_ext_tail(out, p);
			}
			buf_append_byte(out, ')');
			n--;
		} else {
			buf_printf(out, " %zu", p->body_lines);
			if (extended) {
				buf_append_byte(out, ' ');
				mail_imap_cstring(out, p->md5);
				write_ext_tail(out, p);
			}
			buf_append_byte(out, ')');
			n--;
		}
	}
	free(st);
#undef PUSH
}
