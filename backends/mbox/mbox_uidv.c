/* The store's UIDVALIDITY counter. RFC 9051 2.3.1.1: a mailbox created
 * under the name of a deleted one gets a greater UIDVALIDITY.
 * <mbox_dir>/.uidvalidity holds the highest one this store has had that we
 * know of (given to a mailbox we created, or found in one we deleted), as
 * ten digits; a new mailbox gets the later of the clock and that plus one:
 * ordered within one second and across restarts. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbox_private.h"

#define UIDV_DIGITS 10

/* The counter as written (ten digits); 0 if there is none yet. */
static uint64_t uidv_read(int fd)
{
	char buf[UIDV_DIGITS];
	uint64_t v = 0;
	ssize_t got = pread(fd, buf, sizeof(buf), 0);

	for (ssize_t i = 0; i < got && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(buf[i] - '0');
	return v;
}

static int uidv_write(int fd, uint64_t v, struct error *err)
{
	char buf[UIDV_DIGITS + 2];

	snprintf(buf, sizeof(buf), "%0*" PRIu64 "\n", UIDV_DIGITS, v);
	/* Eleven bytes at offset 0: one sector, never torn in practice. */
	errno = 0;
	if (pwrite(fd, buf, UIDV_DIGITS + 1, 0) != UIDV_DIGITS + 1 || fsync(fd) < 0)
		return mbox_errno_error(err, errno ? errno : EIO, "write", MBOX_UIDV_FILE);
	return 0;
}

int mbox_uidv_update(struct store *st, int root, uint32_t seen, uint32_t *next,
		     struct error *err)
{
	struct mbox_lock lk;
	uint64_t have, want;
	int fd, rc = 0;

	fd = openat(root, MBOX_UIDV_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mbox_errno_error(err, errno, "open", MBOX_UIDV_FILE);
	if (mbox_lock_acquire(&lk, root, MBOX_UIDV_FILE, fd, 1, st->lock_timeout, err) < 0) {
		close(fd);
		return -1;
	}
	have = uidv_read(fd);
	want = have > seen ? have : seen;
	if (next != NULL) {
		uint64_t now = (uint64_t)time(NULL);
		want = want + 1 > now ? want + 1 : now;
		if (want > UINT32_MAX) {
			error_set(err, ERR_LIMIT, "No UIDVALIDITY is left for a new mailbox");
			rc = -1;
		} else {
			*next = (uint32_t)want;
		}
	}
	if (rc == 0 && want != have)
		rc = uidv_write(fd, want, err);
	mbox_lock_release(&lk);
	close(fd);
	return rc;
}

uint32_t mbox_uidv_of_file(const struct mbox_handle *h)
{
	struct mbox_scan s;
	struct mbox_summary sum;
	struct error e;
	uint64_t end = (uint64_t)h->st.st_size < MBOX_BUFSZ ? (uint64_t)h->st.st_size : MBOX_BUFSZ;
	uint32_t uv = 0;

	memset(&s, 0, sizeof(s));
	if (mbox_scan_parse(h->fd, 0, end, &s, &e) == 0 &&
	    mbox_scan_summarize(&s, h->st.st_mtime, &sum) == 0)
		uv = sum.uidvalidity;
	mbox_scan_free(&s);
	return uv;
}
