#include "pwfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../auth/passdb.h"
#include "../lib/buf.h"
#include "../lib/xmalloc.h"

/* How long an edit waits for another one's lock before giving up. */
#define PWFILE_LOCK_WAIT_MS 10000

/* The whole file into text (NUL-terminated) and its stat into st. 0; 1
 * when it does not exist; -1 with err. */
static int file_load(const char *path, struct buf *text, struct stat *st, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char tmp[8192];
	ssize_t n;

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || fstat(fd, st) < 0) {
		error_set(err, ERR_UNAVAILABLE, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		error_set(err, ERR_UNAVAILABLE, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set(err, ERR_UNAVAILABLE, "%s: read: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		buf_append(text, tmp, (size_t)n);
	}
	close(fd);
	buf_append_byte(text, '\0');
	text->len--;
	return 0;
}

/* Whether the line at s (up to its newline) is user's, as the auth
 * helper reads it. */
static int line_is(const char *s, const char *user)
{
	struct passdb_user u;
	int is = passdb_file_parse_line(s, &u) == 1 && strcmp(u.name, user) == 0;

	explicit_bzero(&u, sizeof(u));
	return is;
}

/* user's line (s, len: a line that line_is() user's) as op makes it,
 * appended to out. 1 when op changes nothing. */
static int line_edit(struct buf *out, const char *s, size_t len, enum pwfile_op op,
		     const char *hash)
{
	const char *end = s + len;
	const char *pw = (const char *)memchr(s, ':', len) + 1;
	const char *pe = memchr(pw, ':', (size_t)(end - pw));
	int disabled = pw < end && *pw == '!';

	pe = pe ? pe : end;
	if (op == PWFILE_DELETE)
		return 0;
	if ((op == PWFILE_DISABLE && disabled) || (op == PWFILE_ENABLE && !disabled))
		return 1;
	buf_append(out, s, (size_t)(pw - s));
	if (op == PWFILE_DISABLE || (op == PWFILE_PASSWD && disabled))
		buf_append_byte(out, '!');
	if (op == PWFILE_PASSWD)
		buf_append_str(out, hash);
	else
		buf_append(out, pw + (op == PWFILE_ENABLE), (size_t)(pe - pw) - (op == PWFILE_ENABLE));
	buf_append(out, pe, (size_t)(end - pe));
	buf_append_byte(out, '\n');
	return 0;
}

/* text with op applied into out. 0, 1 (nothing to do), -1 with err. */
static int text_edit(const struct buf *text, struct buf *out, enum pwfile_op op,
		     const char *user, const char *hash, struct error *err)
{
	const char *s = text->data ? text->data : "", *end = s + text->len;
	int found = 0, rc = 0;

	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (!found && line_is(s, user)) {
			found = 1;
			if (op != PWFILE_ADD)
				rc = line_edit(out, s, len, op, hash);
		} else {
			buf_append(out, s, len);
			buf_append_byte(out, '\n');
		}
		s += len + (nl != NULL);
	}
	if (op == PWFILE_ADD && !found)
		buf_printf(out, "%s:%s:::::\n", user, hash);
	if (op == PWFILE_ADD && found)
		error_set(err, ERR_PARSE, "user %s already exists", user);
	else if (op != PWFILE_ADD && !found)
		error_set(err, ERR_NONEXISTENT, "no user %s", user);
	else
		return rc;
	return -1;
}

/* fd's path's directory to disk, so that the rename survives a crash. */
static void dir_sync(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* data as path's new content: a temporary file beside it with st's owner
 * and mode (st NULL: root's, 0600), on disk, renamed over it. */
static int file_replace(const char *path, const struct buf *data, const struct stat *st,
			struct error *err)
{
	struct buf tmp = BUF_INIT;
	int fd, rc = -1;

	buf_printf(&tmp, "%s.XXXXXX", path);
	if ((fd = mkostemp(tmp.data, O_CLOEXEC)) < 0) {
		error_set(err, ERR_UNAVAILABLE, "%s: %s", tmp.data, strerror(errno));
		buf_free(&tmp);
		return -1;
	}
	if (fchmod(fd, st ? st->st_mode & 07777 : 0600) == 0 &&
	    (st == NULL || fchown(fd, st->st_uid, st->st_gid) == 0) &&
	    write_all(fd, data->data ? data->data : "", data->len) == 0 && fsync(fd) == 0 &&
	    close(fd) == 0 && rename(tmp.data, path) == 0) {
		dir_sync(path);
		rc = 0;
	} else {
		error_set(err, ERR_UNAVAILABLE, "%s: %s", tmp.data, strerror(errno));
		close(fd);
		unlink(tmp.data);
	}
	buf_free(&tmp);
	return rc;
}

/* PATH.lock held exclusively (waits for another edit): its fd, or -1. */
static int file_lock(const char *path, struct error *err)
{
	struct buf name = BUF_INIT;
	struct timespec nap = { 0, 50 * 1000000L };
	int fd, waited = 0;

	buf_printf(&name, "%s.lock", path);
	fd = open(name.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	while (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK &&
	       waited < PWFILE_LOCK_WAIT_MS) {
		nanosleep(&nap, NULL);
		waited += 50;
	}
	if (fd < 0 || waited >= PWFILE_LOCK_WAIT_MS) {
		error_set(err, ERR_UNAVAILABLE, "%s: %s", name.data,
			  fd < 0 ? strerror(errno) : "held by another edit");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	buf_free(&name);
	return fd;
}

int pwfile_edit(const char *path, enum pwfile_op op, const char *user, const char *hash,
		struct error *err)
{
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct stat st;
	int lock = file_lock(path, err), rc;

	if (lock < 0)
		return -1;
	rc = file_load(path, &text, &st, err);
	if (rc == 1 && op != PWFILE_ADD)
		error_set(err, ERR_NONEXISTENT, "%s: %s", path, strerror(ENOENT));
	if (rc == 0 || (rc == 1 && op == PWFILE_ADD)) {
		const struct stat *old = rc == 0 ? &st : NULL;
		rc = text_edit(&text, &out, op, user, hash, err);
		if (rc == 0)
			rc = file_replace(path, &out, old, err);
	} else {
		rc = -1;
	}
	buf_free_secret(&text);
	buf_free_secret(&out);
	close(lock);
	return rc;
}

/* Each user line of path to fn. */
static int file_each(const char *path, void (*fn)(const struct passdb_user *, void *),
		     void *arg, struct error *err)
{
	struct buf text = BUF_INIT;
	struct stat st;
	int rc = file_load(path, &text, &st, err);

	if (rc == 1)
		error_set(err, ERR_NONEXISTENT, "%s: %s", path, strerror(ENOENT));
	for (const char *s = text.data; rc == 0 && s && *s; s += strcspn(s, "\n"), s += *s != 0) {
		struct passdb_user u;
		if (passdb_file_parse_line(s, &u) == 1)
			fn(&u, arg);
		explicit_bzero(&u, sizeof(u));
	}
	buf_free_secret(&text);
	return rc == 0 ? 0 : -1;
}

static void list_one(const struct passdb_user *u, void *arg)
{
	fprintf(arg, "%s%s\n", u->name, u->hash[0] == '!' ? " disabled" : "");
}

int pwfile_list(const char *path, FILE *out, struct error *err)
{
	return file_each(path, list_one, out, err);
}

struct scheme {
	char *out;
	size_t cap;
	int found;
};

static void scheme_one(const struct passdb_user *u, void *arg)
{
	struct scheme *s = arg;
	const char *h = u->hash + (u->hash[0] == '!');
	size_t n;

	h += strncmp(h, "{CRYPT}", 7) == 0 ? 7 : 0;
	if (s->found || h[0] != '$' || (n = strcspn(h + 1, "$")) == strlen(h + 1) ||
	    n + 3 > s->cap)
		return;
	memcpy(s->out, h, n + 2);
	s->out[n + 2] = '\0';
	s->found = 1;
}

void pwfile_scheme(const char *path, char *out, size_t cap)
{
	struct scheme s = { out, cap, 0 };
	struct error err;

	if (file_each(path, scheme_one, &s, &err) < 0 || !s.found)
		snprintf(out, cap, "$6$");
}
