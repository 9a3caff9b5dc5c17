/* RFC 5322 header blocks: iterating fields with their folded continuation
 * lines, and unfolding values. Works on raw message bytes: CRLF or lone
 * LF line ends, NUL and 8-bit bytes pass through untouched. */
#include <string.h>
#include <strings.h>

#include "mail_private.h"
#include "msgmeta.h"

void mail_field_iter_init(struct mail_field_iter *it, const char *hdr, size_t len)
{
	it->p = hdr;
	it->end = hdr + len;
}

/* End of the line starting at p: just past its LF, or end. */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

/* The field in the lines [start, e), if they hold one: 1 and *f's name and
 * value set. */
static int field_parse(const char *start, const char *e, struct mail_field *f)
{
	const char *q, *colon, *vend;

	if (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
		return 0; /* stray continuation or the empty line */
	colon = memchr(start, ':', (size_t)(e - start));
	if (colon == NULL || colon == start)
		return 0;
	/* The name is printable ASCII without blanks, except blanks right
	 * before the colon (obsolete syntax, "Subject :"). */
	for (q = colon; q > start && (q[-1] == ' ' || q[-1] == '\t'); q--)
		;
	if (q == start)
		return 0;
	for (const char *n = start; n < q; n++)
		if ((unsigned char)*n <= ' ' || (unsigned char)*n >= 127)
			return 0; /* "From user@host date" mbox line and such */
	f->name = start;
	f->name_len = (size_t)(q - start);
	q = colon + 1;
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	vend = e;
	if (vend > q && vend[-1] == '\n')
		vend--;
	if (vend > q && vend[-1] == '\r')
		vend--;
	f->value = q;
	f->value_len = (size_t)(vend - q);
	return 1;
}

/* The next line of the block with the continuation lines that follow it. */
static const char *unit_end(struct mail_field_iter *it)
{
	const char *e = line_end(it->p, it->end);

	while (e < it->end && (*e == ' ' || *e == '\t'))
		e = line_end(e, it->end);
	return e;
}

int mail_field_next(struct mail_field_iter *it, struct mail_field *f)
{
	while (it->p < it->end) {
		const char *start = it->p, *e = unit_end(it);

		it->p = e;
		if (field_parse(start, e, f)) {
			f->raw = start;
			f->raw_len = (size_t)(e - start);
			return 1;
		}
	}
	return 0;
}

int mail_header_next(struct mail_field_iter *it, struct mail_field *f)
{
	const char *start = it->p, *e;

	if (start >= it->end || *start == '\n' ||
	    (*start == '\r' && (start + 1 == it->end || start[1] == '\n')))
		return 0;
	e = unit_end(it);
	it->p = e;
	if (!field_parse(start, e, f)) {
		f->name = f->value = NULL;
		f->name_len = f->value_len = 0;
	}
	f->raw = start;
	f->raw_len = (size_t)(e - start);
	return 1;
}

char *mail_unfold(struct arena *a, const char *v, size_t len, size_t *outlen)
{
	char *out = arena_alloc(a, len + 1);
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			out[n++] = v[i];
	out[n] = '\0';
	if (outlen)
		*outlen = n;
	return out;
}

int mail_name_eq(const char *name, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(name, lit, len) == 0;
}

const char *const mail_envelope_fields[] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To",
	"Message-ID", NULL,
};

int mail_envelope_field(const char *name, size_t len)
{
	for (size_t i = 0; mail_envelope_fields[i]; i++)
		if (strlen(mail_envelope_fields[i]) == len &&
		    strncasecmp(mail_envelope_fields[i], name, len) == 0)
			return 1;
	return 0;
}
