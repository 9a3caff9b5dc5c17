/* PREVIEW text extraction (see preview.h). One pass over the part's
 * decoded text, linear in its size, no recursion: HTML is scanned with a
 * cursor, never parsed into a tree. */
#include <string.h>
#include <strings.h>

#include "mail_private.h"
#include "preview.h"
#include "transfer.h"

/* Where the preview is being written. */
struct pv {
	struct buf *out;
	size_t chars;     /* characters written */
	int space;        /* white space seen since the last character */
};

static int pv_full(const struct pv *pv)
{
	return pv->chars >= MAIL_PREVIEW_CHARS;
}

static void put_utf8(struct buf *out, unsigned cp)
{
	if (cp < 0x80) {
		buf_append_byte(out, (char)cp);
	} else if (cp < 0x800) {
		buf_append_byte(out, (char)(0xc0 | (cp >> 6)));
		buf_append_byte(out, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_append_byte(out, (char)(0xe0 | (cp >> 12)));
		buf_append_byte(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(out, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_append_byte(out, (char)(0xf0 | (cp >> 18)));
		buf_append_byte(out, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_append_byte(out, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_append_byte(out, (char)(0x80 | (cp & 0x3f)));
	}
}

static int is_space(unsigned cp)
{
	return cp <= 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xa0 ||
	       cp == 0x2028 || cp == 0x2029 || cp == 0xfeff;
}

/* One character of text: white space is only remembered, and written as
 * one space before the next other character. */
static void pv_emit(struct pv *pv, unsigned cp)
{
	if (is_space(cp)) {
		pv->space = 1;
		return;
	}
	if (pv->space && pv->chars > 0) {
		if (pv->chars + 2 > MAIL_PREVIEW_CHARS) {
			pv->chars = MAIL_PREVIEW_CHARS;   /* no room after the space: end here */
			return;
		}
		buf_append_byte(pv->out, ' ');
		pv->chars++;
	}
	pv->space = 0;
	put_utf8(pv->out, cp);
	pv->chars++;
}

/* The character at s[0..len) (len > 0) and its length in bytes; an
 * invalid or overlong sequence, a surrogate or a value past U+10FFFF is
 * one byte of U+FFFD. */
static size_t utf8_next(const unsigned char *s, size_t len, unsigned *cp)
{
	static const unsigned min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
					: (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	unsigned v;

	*cp = 0xfffd;
	if (n == 0 || n > len)
		return 1;
	v = n == 1 ? s[0] : s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 1;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 1;
	*cp = v;
	return n;
}

/* Offset of the first case-insensitive occurrence of the ASCII needle in
 * s[from..len), len if none. */
static size_t find_ci(const char *s, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = from; i + n <= len; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return i;
	return len;
}

static const struct {
	const char *name;
	unsigned cp;
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", 0xa0 }, { "copy", 0xa9 }, { "reg", 0xae }, { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "rsquo", 0x2019 }, { "lsquo", 0x2018 },
	{ "rdquo", 0x201d }, { "ldquo", 0x201c }, { "euro", 0x20ac },
};

/* A numeric reference's value ("#65", "#x41"), 0xfffd if unusable. */
static unsigned numeric_ref(const char *s, size_t len)
{
	int hex = len > 1 && (s[1] == 'x' || s[1] == 'X');
	unsigned long v = 0;
	size_t i = hex ? 2 : 1;

	if (i == len)
		return 0xfffd;
	for (; i < len; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0'
			: hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
			: hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0 || v > 0x10ffff)
			return 0xfffd;
		v = v * (hex ? 16 : 10) + (unsigned)d;
	}
	return v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ? 0xfffd : (unsigned)v;
}

/* A character reference at s[i] ('&'): its length, 0 if it is none. */
static size_t html_entity(const char *s, size_t len, size_t i, unsigned *cp)
{
	size_t end = i + 1;
	while (end < len && end - i <= 10 && s[end] != ';' && s[end] != '&' && s[end] != '<' &&
	       !is_space((unsigned char)s[end]))
		end++;
	if (end >= len || s[end] != ';' || end == i + 1)
		return 0;
	if (s[i + 1] == '#') {
		*cp = numeric_ref(s + i + 1, end - i - 1);
		return end - i + 1;
	}
	for (size_t k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
		if (strlen(entities[k].name) == end - i - 1 &&
		    strncmp(s + i + 1, entities[k].name, end - i - 1) == 0) {
			*cp = entities[k].cp;
			return end - i + 1;
		}
	}
	return 0;
}

/* Tags after which the text reads as a new line or cell. */
static int is_break_tag(const char *name, size_t len)
{
	static const char *const tags[] = { "br", "p", "div", "li", "tr", "td", "th", "h1", "h2",
					    "h3", "h4", "h5", "h6", "table", "ul", "ol",
					    "blockquote", "hr", "title" };
	for (size_t k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
		if (strlen(tags[k]) == len && strncasecmp(name, tags[k], len) == 0)
			return 1;
	return 0;
}

/* A tag, comment or declaration at s[i] ('<'): where the text goes on;
 * i itself when the '<' is text ("a < b", or no '>' follows). */
static size_t html_tag(struct pv *pv, const char *s, size_t len, size_t i)
{
	size_t j = i + 1, name, end;
	int closing;

	if (len - i >= 4 && strncmp(s + i, "<!--", 4) == 0) {
		end = find_ci(s, len, i + 4, "-->");
		return end == len ? len : end + 3;
	}
	closing = j < len && s[j] == '/';
	j += (size_t)closing;
	name = j;
	while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
			   (s[j] >= '0' && s[j] <= '9')))
		j++;
	if (j == name && !(j < len && (s[j] == '!' || s[j] == '?')))
		return i;
	end = j;
	while (end < len && s[end] != '>')
		end++;
	if (end == len)
		return i;
	if (is_break_tag(s + name, j - name))
		pv->space = 1;
	if (!closing && (j - name == 6 && strncasecmp(s + name, "script", 6) == 0))
		return find_ci(s, len, end + 1, "</script");
	if (!closing && (j - name == 5 && strncasecmp(s + name, "style", 5) == 0))
		return find_ci(s, len, end + 1, "</style");
	return end + 1;
}

void mail_preview_text(const char *s, size_t len, int html, struct buf *out)
{
	struct pv pv = { out, 0, 0 };
	size_t i = 0;

	while (i < len && !pv_full(&pv)) {
		unsigned cp;
		size_t n;
		if (html && s[i] == '<') {
			size_t next = html_tag(&pv, s, len, i);
			if (next != i) {
				i = next;
				continue;
			}
		}
		if (html && s[i] == '&' && (n = html_entity(s, len, i, &cp)) > 0) {
			pv_emit(&pv, cp);
			i += n;
			continue;
		}
		n = utf8_next((const unsigned char *)s + i, len - i, &cp);
		pv_emit(&pv, cp);
		i += n;
	}
}

/* The part the preview is made of, NULL if none. */
static const struct mail_part *preview_part(const struct mail_message *m)
{
	for (const struct mail_part *p = &m->root; p != NULL; p = mail_part_next(m, p)) {
		if (p->nchildren > 0)
			continue;
		if (p->disposition && strcasecmp(p->disposition, "attachment") == 0)
			continue;
		if (p->type == NULL)
			return p;
		if (strcasecmp(p->type, "text") == 0 &&
		    (p->subtype == NULL || strcasecmp(p->subtype, "plain") == 0 ||
		     strcasecmp(p->subtype, "html") == 0))
			return p;
	}
	return NULL;
}

void mail_preview(const struct mail_message *m, struct buf *out)
{
	const struct mail_part *p = preview_part(m);
	struct buf text = BUF_INIT;

	if (p == NULL)
		return;
	mail_part_text(m, p, &text);
	mail_preview_text(text.data ? text.data : "", text.len,
			  p->subtype != NULL && strcasecmp(p->subtype, "html") == 0, out);
	buf_free(&text);
}

void mail_preview_write(struct buf *out, const char *s, size_t len)
{
	mail_imap_nstring(out, s, len);
}
