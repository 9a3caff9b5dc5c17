/* Reading a Maildir for import (source.h): Dovecot's dovecot-uidlist and
 * dovecot-keywords, the flags in the file names, the files themselves. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/xmalloc.h"
#include "../mail/msgmeta.h"
#include "source.h"

#define SRC_SMALL_FILE_MAX (1u << 30)   /* dovecot-uidlist, dovecot-keywords */

static int parse_fail(struct error *err, const char *path, size_t line, const char *what)
{
	error_set(err, ERR_PARSE, "%s:%zu: %s", path, line, what);
	return -1;
}

/* A decimal number below 2^32 at *p (which moves past it); -1 if none. */
static long long u32_at(const char **p, const char *end)
{
	long long v = 0;
	int digits = 0;

	while (*p < end && isdigit((unsigned char)**p) && digits <= 10) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	return digits == 0 || digits > 10 || v > UINT32_MAX ? -1 : v;
}

/* "3 V<uidvalidity> N<uidnext> ..." (version 3) or "1 <uidvalidity>
 * <uidnext>" (version 1). */
static int header_parse(const char *p, const char *end, struct src_uidlist *u)
{
	long long ver = u32_at(&p, end), v;

	if (ver == 1) {
		if (p >= end || *p++ != ' ' || (v = u32_at(&p, end)) < 0)
			return -1;
		u->uidvalidity = (uint32_t)v;
		if (p >= end || *p++ != ' ' || (v = u32_at(&p, end)) < 0)
			return -1;
		u->uidnext = (uint32_t)v;
		return 0;
	}
	if (ver != 3)
		return -1;
	while (p < end) {
		char key;
		while (p < end && *p == ' ')
			p++;
		if (p >= end)
			break;
		key = *p++;
		if ((key == 'V' || key == 'N') && (v = u32_at(&p, end)) >= 0)
			*(key == 'V' ? &u->uidvalidity : &u->uidnext) = (uint32_t)v;
		while (p < end && *p != ' ')
			p++;
	}
	return 0;
}

/* "<uid> [fields] :<name>" (version 3) or "<uid> <name>" (version 1). */
static int entry_parse(const char *p, const char *end, struct src_uidlist *u)
{
	long long uid = u32_at(&p, end);
	const char *name = NULL, *colon;

	if (uid <= 0 || p >= end || *p != ' ')
		return -1;
	colon = memmem(p, (size_t)(end - p), " :", 2);
	if (colon != NULL) {
		name = colon + 2;
	} else {
		name = end;
		while (name > p && name[-1] != ' ')
			name--;
	}
	if (name >= end || memchr(name, '/', (size_t)(end - name)) || memchr(name, '\0', (size_t)(end - name)))
		return -1;
	if (u->n > 0 && (uint32_t)uid <= u->e[u->n - 1].uid)
		return -1;
	if (u->n >= SRC_UIDLIST_MAX)
		return -1;
	u->e = xreallocarray(u->e, u->n + 1, sizeof(*u->e));
	u->e[u->n].uid = (uint32_t)uid;
	u->e[u->n].base = xstrndup(name, (size_t)(end - name));
	u->n++;
	return 0;
}

int src_uidlist_parse(const char *data, size_t len, const char *path, struct src_uidlist *out,
		      struct error *err)
{
	const char *p = data, *end = data + len;
	size_t line = 0;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		int rc;
		line++;
		rc = line == 1 ? header_parse(p, le, out) : entry_parse(p, le, out);
		if (rc < 0) {
			src_uidlist_free(out);
			return parse_fail(err, path, line, line == 1 ? "malformed uidlist header"
							     : "malformed uidlist entry");
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

void src_uidlist_free(struct src_uidlist *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->e[i].base);
	free(u->e);
	memset(u, 0, sizeof(*u));
}

int src_keywords_parse(const char *data, size_t len, const char *path, char *names[26],
		       struct error *err)
{
	const char *p = data, *end = data + len;
	size_t line = 0;

	for (int i = 0; i < 26; i++)
		names[i] = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		long long idx = u32_at(&p, le);
		line++;
		if (idx < 0 || p >= le || *p != ' ' || p + 1 >= le) {
			for (int i = 0; i < 26; i++)
				free(names[i]);
			return parse_fail(err, path, line, "malformed keyword line");
		}
		if (idx < 26 && names[idx] == NULL)
			names[idx] = xstrndup(p + 1, (size_t)(le - p - 1));
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int src_maildir_flags(const char *fname, char *const names[26], struct src_msg *m)
{
	const char *info = strstr(fname, ":2,");

	if (info == NULL)
		return 0;
	for (const char *c = info + 3; *c; c++) {
		switch (*c) {
		case 'D': m->flags |= MF_DRAFT; break;
		case 'F': m->flags |= MF_FLAGGED; break;
		case 'R': m->flags |= MF_ANSWERED; break;
		case 'S': m->flags |= MF_SEEN; break;
		case 'T': m->flags |= MF_DELETED; break;
		default:
			if (*c >= 'a' && *c <= 'z' &&
			    (names[*c - 'a'] == NULL ||
			     src_msg_keyword(m, names[*c - 'a'], strlen(names[*c - 'a'])) < 0))
				return -1;
		}
	}
	return 0;
}

int src_file_read(const char *path, size_t max, struct buf *out, struct error *err)
{
	char tmp[65536];
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0) {
		error_set(err, ERR_INTERNAL, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((got = read(fd, tmp, sizeof(tmp))) > 0 && out->len + (size_t)got <= max)
		buf_append(out, tmp, (size_t)got);
	close(fd);
	if (got != 0) {
		error_set(err, got < 0 ? ERR_INTERNAL : ERR_LIMIT, "%s: %s", path,
			  got < 0 ? strerror(errno) : "larger than the largest message");
		return -1;
	}
	return 0;
}

static int cmp_uident(const void *a, const void *b)
{
	return strcmp(((const struct src_uident *)a)->base, ((const struct src_uident *)b)->base);
}

/* The uidlist's UID of a file name ("cur/BASE:2,..."), 0 if none. */
static uint32_t uid_of(const struct src_maildir *md, const struct src_uident *byname,
		       const char *name)
{
	struct src_uident key, *hit;
	const char *base = name + 4, *colon = strchr(base, ':');
	char *b = colon ? xstrndup(base, (size_t)(colon - base)) : xstrdup(base);

	key.base = b;
	hit = md->ul.n ? bsearch(&key, byname, md->ul.n, sizeof(*byname), cmp_uident) : NULL;
	free(b);
	return hit ? hit->uid : 0;
}

static int list_dir(struct src_maildir *md, const char *sub, struct error *err)
{
	char *dir = xasprintf("%s/%s", md->path, sub);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		int missing = errno == ENOENT;
		if (!missing)
			error_set(err, ERR_INTERNAL, "%s: %s", dir, strerror(errno));
		free(dir);
		return missing ? 0 : -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		md->f = xreallocarray(md->f, md->n + 1, sizeof(*md->f));
		md->f[md->n].name = xasprintf("%s/%s", sub, de->d_name);
		md->f[md->n].uid = 0;
		md->n++;
	}
	closedir(d);
	free(dir);
	return 0;
}

static int cmp_mfile(const void *a, const void *b)
{
	const struct src_mfile *x = a, *y = b;

	if (x->uid && y->uid)
		return x->uid < y->uid ? -1 : x->uid > y->uid;
	if (x->uid || y->uid)
		return x->uid ? -1 : 1;
	return strcmp(x->name + 4, y->name + 4);
}

/* A small Dovecot file of the Maildir, parsed by parse; missing: nothing. */
static int side_file(struct src_maildir *md, const char *file, struct buf *b,
		     struct error *err)
{
	char *p = xasprintf("%s/%s", md->path, file);
	int rc = src_file_read(p, SRC_SMALL_FILE_MAX, b, err);

	free(p);
	return rc;
}

static int side_files(struct src_maildir *md, struct error *err)
{
	struct buf b = BUF_INIT;
	char *p = xasprintf("%s/dovecot-uidlist", md->path);
	int rc = side_file(md, "dovecot-uidlist", &b, err);

	if (rc == 0)
		rc = src_uidlist_parse(b.data ? b.data : "", b.len, p, &md->ul, err);
	free(p);
	buf_reset(&b);
	if (rc >= 0) {
		p = xasprintf("%s/dovecot-keywords", md->path);
		rc = side_file(md, "dovecot-keywords", &b, err);
		if (rc == 0)
			rc = src_keywords_parse(b.data ? b.data : "", b.len, p, md->kw, err);
		free(p);
	}
	buf_free(&b);
	return rc < 0 ? -1 : 0;
}

int src_maildir_open(struct src_maildir *md, const char *path, size_t max, struct error *err)
{
	struct src_uident *byname;

	memset(md, 0, sizeof(*md));
	md->path = xstrdup(path);
	md->max = max;
	if (side_files(md, err) < 0 || list_dir(md, "cur", err) < 0 || list_dir(md, "new", err) < 0)
		return -1;
	byname = xreallocarray(NULL, md->ul.n ? md->ul.n : 1, sizeof(*byname));
	memcpy(byname, md->ul.e, md->ul.n * sizeof(*byname));
	qsort(byname, md->ul.n, sizeof(*byname), cmp_uident);
	for (size_t i = 0; i < md->n; i++)
		md->f[i].uid = uid_of(md, byname, md->f[i].name);
	free(byname);
	qsort(md->f, md->n, sizeof(*md->f), cmp_mfile);
	return 0;
}

/* The file's bytes into m in IMAP form (its LF line ends as CRLF). */
static void body_convert(struct src_msg *m, const struct buf *raw)
{
	const char *p = raw->data, *end = raw->data + raw->len;
	int pnl = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		src_msg_line(m, p, n, SIZE_MAX, &pnl);
		p += n;
	}
	src_msg_line_end(m, &pnl);
}

int src_maildir_read(struct src_maildir *md, size_t i, struct src_msg *m, struct error *err)
{
	char *p = xasprintf("%s/%s", md->path, md->f[i].name);
	struct buf raw = BUF_INIT;
	struct stat sb;
	int rc;

	src_msg_reset(m);
	m->uid = md->f[i].uid;
	rc = src_file_read(p, md->max / 2, &raw, err);
	if (rc == 0 && stat(p, &sb) == 0)
		m->idate = sb.st_mtime;
	if (rc == 0 && src_maildir_flags(md->f[i].name, md->kw, m) < 0) {
		error_set(err, ERR_PARSE, "%s: a keyword letter dovecot-keywords does not name", p);
		rc = -1;
	}
	if (rc == 1)
		error_set(err, ERR_NONEXISTENT, "%s: gone", p);
	if (rc == 0)
		body_convert(m, &raw);
	buf_free(&raw);
	free(p);
	return rc == 0 ? 0 : -1;
}

void src_maildir_close(struct src_maildir *md)
{
	for (size_t i = 0; i < md->n; i++)
		free(md->f[i].name);
	free(md->f);
	for (int i = 0; i < 26; i++)
		free(md->kw[i]);
	src_uidlist_free(&md->ul);
	free(md->path);
	memset(md, 0, sizeof(*md));
}
