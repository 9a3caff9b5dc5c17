/* The vacation replies a user's Sieve script has sent (RFC 5230 4.2), in
 * ~/.haven-sieve-replies: one line per reply, "EXPIRY KEY" (EXPIRY in
 * seconds since 1970). Read whole, entries past their expiry dropped,
 * and rewritten whole through a temp file and a rename, so a kill leaves
 * the old list or the new; bounded (the entries expiring first go). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define REPLIES_FILE ".haven-sieve-replies"
#define REPLIES_MAX 10000      /* entries kept */
#define REPLIES_BYTES (REPLIES_MAX * (STORE_SIEVE_KEY_MAX + 24))

struct reply {
	long long expiry;
	char key[STORE_SIEVE_KEY_MAX + 1];
};

/* The unexpired entries of the file's text (bad lines skipped). */
static size_t replies_parse(const struct buf *text, time_t now, struct reply *v)
{
	size_t n = 0, at = 0;
	while (at < text->len && n < REPLIES_MAX) {
		const char *line = text->data + at, *nl = memchr(line, '\n', text->len - at);
		size_t len = nl ? (size_t)(nl - line) : text->len - at;
		char tmp[STORE_SIEVE_KEY_MAX + 32];
		at += len + 1;
		if (len >= sizeof(tmp))
			continue;
		memcpy(tmp, line, len);
		tmp[len] = '\0';
		if (sscanf(tmp, "%lld %128s", &v[n].expiry, v[n].key) == 2 && v[n].expiry > now)
			n++;
	}
	return n;
}

static int by_expiry_desc(const void *a, const void *b)
{
	long long x = ((const struct reply *)a)->expiry, y = ((const struct reply *)b)->expiry;
	return x < y ? 1 : x > y ? -1 : 0;
}

static int replies_write(int hfd, struct reply *v, size_t n, struct error *err)
{
	struct buf out = BUF_INIT;
	char tmp[96];
	int fd, rc = -1;

	qsort(v, n, sizeof(*v), by_expiry_desc);
	for (size_t i = 0; i < n && i < REPLIES_MAX; i++)
		buf_printf(&out, "%lld %s\n", v[i].expiry, v[i].key);
	mbox_tmp_name(tmp, sizeof(tmp));
	fd = openat(hfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		mbox_errno_error(err, errno, "create", tmp);
	} else if (write(fd, out.data ? out.data : "", out.len) != (ssize_t)out.len ||
		   fsync(fd) < 0 || close(fd) < 0 || renameat(hfd, tmp, hfd, REPLIES_FILE) < 0) {
		mbox_errno_error(err, errno, "write", REPLIES_FILE);
		unlinkat(hfd, tmp, 0);
	} else {
		rc = 0;
	}
	buf_free(&out);
	return rc;
}

static int replies_read(int hfd, struct buf *text, struct error *err)
{
	char piece[8192];
	ssize_t n;
	int fd = openat(hfd, REPLIES_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : mbox_errno_error(err, errno, "open", REPLIES_FILE);
	while (text->len < REPLIES_BYTES && (n = read(fd, piece, sizeof(piece))) > 0)
		buf_append(text, piece, (size_t)n);
	close(fd);
	return 0;
}

int mbox_sieve_reply_claim(struct store *st, const char *key, unsigned long seconds, time_t now,
			   struct error *err)
{
	struct buf text = BUF_INIT;
	struct reply *v;
	size_t n;
	int hfd, rc = -1;

	if (st->home[0] != '/' || (hfd = open(st->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		error_set(err, ERR_NOTSUPPORTED, "No home directory for vacation replies");
		return -1;
	}
	v = xreallocarray(NULL, REPLIES_MAX + 1, sizeof(*v));
	if (replies_read(hfd, &text, err) == 0) {
		n = replies_parse(&text, now, v);
		rc = 1;
		for (size_t i = 0; i < n && rc == 1; i++)
			if (strcmp(v[i].key, key) == 0)
				rc = 0;
		if (rc == 1) {
			v[n].expiry = (long long)now + (long long)seconds;
			snprintf(v[n].key, sizeof(v[n].key), "%s", key);
			if (replies_write(hfd, v, n + 1, err) < 0)
				rc = -1;
		}
	}
	free(v);
	buf_free(&text);
	close(hfd);
	return rc;
}
