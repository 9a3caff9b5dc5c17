/* \Recent claims that are not written into the mailbox file.
 *
 * In the file, a message without O in its Status is new: the first
 * read-write session that sees it claims it (reports it \Recent) by
 * writing O. Sessions that only read a big file (one with an index) do not
 * rewrite it for that, and a file we cannot write at all cannot take O:
 * there the claim goes into a record beside the index,
 * "<hash>.recent" holding "UIDVALIDITY FIRST": every message below FIRST
 * has been claimed, whatever the file says. This is what the PostgreSQL
 * store keeps in mailboxes.first_recent and Dovecot in its index header.
 *
 * The record is read, moved and written under its own lock (an OFD lock,
 * so two processes, or two views in one, never claim the same message);
 * the next rewrite of the file writes O for every claimed message, so other
 * programs see them as old too. A lost record only makes messages \Recent
 * once more, which RFC 3501 2.3.2 prefers to never. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "mbox_private.h"

#define RECENT_KIND "recent"
#define RECORD_MAX 48

/* FIRST of the record on fd for uidvalidity; 1 (nothing claimed) when
 * there is none, it is torn or it belongs to an earlier mailbox. */
static uint32_t record_read(int fd, uint32_t uidvalidity)
{
	char buf[RECORD_MAX + 1];
	unsigned long uv, first;
	ssize_t n = pread(fd, buf, RECORD_MAX, 0);
	char end;

	if (n <= 0)
		return 1;
	buf[n] = '\0';
	if (sscanf(buf, "%lu %lu%c", &uv, &first, &end) != 3 || end != '\n' ||
	    uv != uidvalidity || first == 0 || first > UINT32_MAX)
		return 1;
	return (uint32_t)first;
}

static int record_write(int fd, uint32_t uidvalidity, uint32_t first)
{
	char buf[RECORD_MAX];
	int n = snprintf(buf, sizeof(buf), "%lu %lu\n", (unsigned long)uidvalidity,
			 (unsigned long)first);

	if (pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
		return -1;
	return 0;
}

static int record_lock(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

uint32_t mbox_recent_first(struct store *st, const char *name, uint32_t uidvalidity)
{
	int fd = mbox_side_open(st, name, RECENT_KIND, 0);
	uint32_t first;

	if (fd < 0)
		return 1;
	first = record_lock(fd, F_RDLCK) == 0 ? record_read(fd, uidvalidity) : 1;
	close(fd);
	return first;
}

int mbox_recent_claim(struct store *st, const char *name, uint32_t uidvalidity, uint32_t from,
		      uint32_t upto, uint32_t *first)
{
	int fd = mbox_side_open(st, name, RECENT_KIND, 1), rc = -1;
	uint32_t cur;

	if (fd < 0)
		return -1;
	if (record_lock(fd, F_WRLCK) == 0) {
		cur = record_read(fd, uidvalidity);
		*first = cur > from ? cur : from;
		rc = upto > cur ? record_write(fd, uidvalidity, upto) : 0;
	}
	if (rc < 0)
		log_info("mbox: cannot record \\Recent claims of %s: %s", name, strerror(errno));
	close(fd);   /* drops the lock */
	return rc;
}

void mbox_recent_apply(struct mbox_scan *s, uint32_t first)
{
	for (size_t i = 0; i < s->n; i++)
		s->m[i].taken = s->m[i].fresh && s->m[i].uid < first;
}

uint32_t mbox_recent_count(const struct mbox_scan *s)
{
	uint32_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->m[i].fresh && !s->m[i].taken;
	return n;
}
