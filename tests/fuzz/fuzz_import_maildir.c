/* libFuzzer target for haven-admin's Maildir readers (admin/src_maildir.c):
 * dovecot-uidlist, dovecot-keywords and the flags of a file name. The
 * first byte picks one. A uidlist parsed has UIDs ascending and names
 * without '/'; keywords are valid IMAP keywords; errors name file:line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../admin/source.h"
#include "../../lib/xmalloc.h"
#include "../../mail/keyword.h"
#include "../../mail/msgmeta.h"

static void uidlist(const char *p, size_t n)
{
	struct src_uidlist u;
	struct error err;

	if (src_uidlist_parse(p, n, "ul", &u, &err) < 0) {
		if (strncmp(err.msg, "ul:", 3) != 0)
			abort();
		return;
	}
	for (size_t i = 0; i < u.n; i++)
		if ((i > 0 && u.e[i].uid <= u.e[i - 1].uid) || strchr(u.e[i].base, '/'))
			abort();
	src_uidlist_free(&u);
}

static void keywords_and_flags(const char *p, size_t n)
{
	char *names[26];
	struct error err;
	const char *nl = memchr(p, '\n', n);
	size_t kwlen = nl ? (size_t)(nl - p) : n;
	struct src_msg m = { 0 };
	char *fname;

	if (src_keywords_parse(p, kwlen, "kw", names, &err) < 0)
		return;
	fname = xstrndup(nl ? nl + 1 : "", nl ? n - kwlen - 1 : 0);
	if (src_maildir_flags(fname, names, &m) == 0) {
		if (m.flags & ~(uint32_t)MF_ALL)
			abort();
		for (size_t i = 0; i < m.nkw; i++)
			if (!mail_keyword_valid(m.kw[i], strlen(m.kw[i])))
				abort();
	}
	src_msg_free(&m);
	free(fname);
	for (int i = 0; i < 26; i++)
		free(names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		uidlist((const char *)data + 1, size - 1);
	else
		keywords_and_flags((const char *)data + 1, size - 1);
	return 0;
}
