/* Mail from LMTP into this user's store (MSG_WORKER_DELIVER): the LMTP
 * worker's memfd, behind the trace header, appended as an APPEND without
 * flags would be, to the detail's mailbox when it exists, else INBOX.
 * The answer goes back once the store has it durably (or refused it).
 *
 * The memfd comes from an unprivileged process: it must be sealed against
 * any change, so the bytes read are the bytes it meant, and it is read
 * with bounded pieces. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "../lib/msg_worker.h"
#include "worker.h"

#define DELIVER_PIECE (64 * 1024)
#define DELIVER_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static void answer(uint32_t req, uint32_t status, const char *text)
{
	struct ipc_out o;

	ipc_out_init(&o, MSG_WORKER_DELIVERED, 0);
	ipc_put_u32(&o, req);
	ipc_put_u32(&o, status);
	ipc_put_str(&o, text);
	if (ipc_send(CHILD_FD_MASTER, &o, -1) < 0)
		log_err("delivery answer to the master: %s", strerror(errno));
	ipc_out_free(&o);
}

/* What the MTA is told of a store's refusal: only what will not change
 * by itself is permanent. */
static uint32_t status_of(const struct error *err)
{
	switch (err->code) {
	case ERR_OVERQUOTA: return LMTP_DELIVER_OVERQUOTA;
	case ERR_LIMIT: return LMTP_DELIVER_TOOBIG;
	case ERR_PARSE: return LMTP_DELIVER_FAIL;
	default: return LMTP_DELIVER_TEMPFAIL;
	}
}

/* The detail's mailbox if there is one by that name, else INBOX. */
static const char *target(const char *mailbox)
{
	struct mailbox_status st;
	struct error err;

	if (mailbox[0] && store_status(W->store, mailbox, &st, &err) == 0)
		return mailbox;
	return "INBOX";
}

static int local_tz_minutes(time_t t)
{
	struct tm tm;
	return localtime_r(&t, &tm) ? (int)(tm.tm_gmtoff / 60) : 0;
}

/* The message's bytes after the trace header, from fd, into ap. */
static int copy_body(int fd, off_t size, struct appender *ap, struct error *err)
{
	static char piece[DELIVER_PIECE];

	for (off_t at = 0; at < size;) {
		size_t want = size - at < DELIVER_PIECE ? (size_t)(size - at) : DELIVER_PIECE;
		ssize_t n = pread(fd, piece, want, at);
		if (n <= 0) {
			error_set(err, ERR_INTERNAL, "reading the message: %s",
				  n < 0 ? strerror(errno) : "short");
			return -1;
		}
		if (store_append_write(ap, piece, (size_t)n, err) < 0)
			return -1;
		at += n;
	}
	return 0;
}

/* Store it: 0 with the UID, or -1 with err. */
static int store(int fd, const char *mailbox, const unsigned char *trace, size_t tracelen,
		 uint32_t *uid, struct error *err)
{
	struct stat st;
	struct appender *ap;
	uint32_t uidvalidity;
	time_t now = time(NULL);

	if (fcntl(fd, F_GET_SEALS) != DELIVER_SEALS || fstat(fd, &st) < 0) {
		error_set(err, ERR_INTERNAL, "message not sealed");
		return -1;
	}
	if (store_append_begin(W->store, mailbox, tracelen + (uint64_t)st.st_size, 0, NULL, 0, now,
			       local_tz_minutes(now), &ap, err) < 0)
		return -1;
	if (store_append_write(ap, trace, tracelen, err) < 0 ||
	    copy_body(fd, st.st_size, ap, err) < 0) {
		store_append_abort(ap);
		return -1;
	}
	return store_append_finish(ap, &uidvalidity, uid, err);
}

void worker_deliver(struct ipc_msg *m)
{
	const char *mailbox, *to;
	const unsigned char *trace;
	size_t tracelen;
	uint32_t req, uid;
	struct error err;

	W->sessions_seen++;
	if (m->fd < 0 || ipc_get_u32(m, &req) < 0 || ipc_get_str(m, &mailbox) < 0 ||
	    ipc_get_bytes(m, &trace, &tracelen) < 0 || ipc_get_end(m) < 0) {
		log_err("malformed delivery from master");
		return;
	}
	to = target(mailbox);
	if (store(m->fd, to, trace, tracelen, &uid, &err) < 0) {
		log_info("delivery to %s/%s failed: %s", W->user.name, to, err.msg);
		answer(req, status_of(&err), err.msg);
		return;
	}
	log_info("delivered: user=%s mailbox=%s uid=%u", W->user.name, to, uid);
	answer(req, LMTP_DELIVER_OK, "Delivered");
	wsession_idle_poke_others(NULL);
}
