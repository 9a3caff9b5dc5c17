/* A message read from an import source (source.h). */
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "../mail/keyword.h"
#include "source.h"

void src_msg_reset(struct src_msg *m)
{
	for (size_t i = 0; i < m->nkw; i++)
		free(m->kw[i]);
	m->nkw = 0;
	m->uid = 0;
	m->flags = 0;
	m->idate = 0;
	m->line = 0;
	buf_reset(&m->body);
}

void src_msg_free(struct src_msg *m)
{
	src_msg_reset(m);
	free(m->kw);
	m->kw = NULL;
	buf_free(&m->body);
}

int src_msg_keyword(struct src_msg *m, const char *kw, size_t len)
{
	if (!mail_keyword_valid(kw, len) || m->nkw >= SRC_KEYWORDS_MAX)
		return -1;
	for (size_t i = 0; i < m->nkw; i++)
		if (strlen(m->kw[i]) == len && memcmp(m->kw[i], kw, len) == 0)
			return 0;
	m->kw = xreallocarray(m->kw, m->nkw + 1, sizeof(*m->kw));
	m->kw[m->nkw++] = xstrndup(kw, len);
	return 0;
}

int src_msg_line(struct src_msg *m, const char *p, size_t n, size_t max, int *pending_nl)
{
	int nl = n > 0 && p[n - 1] == '\n';

	if (nl)
		n--;
	if (nl && n > 0 && p[n - 1] == '\r')
		n--;
	if (m->body.len + n + 4 > max)
		return -1;
	src_msg_line_end(m, pending_nl);
	buf_append(&m->body, p, n);
	*pending_nl = nl;
	return 0;
}

void src_msg_line_end(struct src_msg *m, int *pending_nl)
{
	if (*pending_nl)
		buf_append(&m->body, "\r\n", 2);
	*pending_nl = 0;
}
