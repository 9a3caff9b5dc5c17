#include "http.h"

#include <string.h>

size_t http_head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* A token character of RFC 9110 §5.6.2, which a method is made of. */
static int tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static enum http_method method_of(const char *m, size_t n)
{
	if (n == 3 && memcmp(m, "GET", 3) == 0)
		return HTTP_GET;
	if (n == 4 && memcmp(m, "HEAD", 4) == 0)
		return HTTP_HEAD;
	return HTTP_OTHER;
}

/* The target: an origin-form path of visible characters; the query goes. */
static int take_path(const char *t, size_t n, struct http_request *out, int *status)
{
	size_t q = 0;

	if (n == 0 || t[0] != '/') {
		*status = 400;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f) {
			*status = 400;
			return -1;
		}
	}
	while (q < n && t[q] != '?')
		q++;
	if (q >= sizeof(out->path)) {
		*status = 414;
		return -1;
	}
	memcpy(out->path, t, q);
	out->path[q] = '\0';
	return 0;
}

int http_parse_head(const char *buf, size_t len, struct http_request *out, int *status)
{
	const char *eol = memchr(buf, '\n', len), *sp1, *sp2;
	size_t line, m = 0;

	*status = 400;
	if (eol == NULL)
		return -1;
	line = (size_t)(eol - buf);
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	while (m < line && tchar(buf[m]))
		m++;
	sp1 = buf + m;
	if (m == 0 || m >= line || *sp1 != ' ')
		return -1;
	sp2 = memchr(sp1 + 1, ' ', line - m - 1);
	if (sp2 == NULL)
		return -1;
	size_t vlen = (size_t)(buf + line - (sp2 + 1));
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] < '0' || sp2[8] > '9') {
		*status = vlen >= 5 && memcmp(sp2 + 1, "HTTP/", 5) == 0 ? 505 : 400;
		return -1;
	}
	out->method = method_of(buf, m);
	return take_path(sp1 + 1, (size_t)(sp2 - sp1 - 1), out, status);
}
