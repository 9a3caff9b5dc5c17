/* Mail from LMTP into this user's store (MSG_WORKER_DELIVER): the LMTP
 * worker's memfd, behind the trace header, appended as an APPEND would
 * be, where the user's Sieve script says (deliver_sieve.c,
 * deliver_actions.c), or without one to the detail's mailbox when it
 * exists, else INBOX. The answer goes back once the store has it durably
 * (or refused it).
 *
 * The memfd comes from an unprivileged process: it must be sealed against
 * any change, so the bytes read are the bytes it meant, and it is read
 * with bounded pieces. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "../lib/msg_worker.h"
#include "../lib/xmalloc.h"
#include "deliver.h"
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

uint32_t deliver_status_of(const struct error *err)
{
	switch (err->code) {
	case ERR_OVERQUOTA: return LMTP_DELIVER_OVERQUOTA;
	case ERR_LIMIT: return LMTP_DELIVER_TOOBIG;
	case ERR_PARSE: return LMTP_DELIVER_FAIL;
	default: return LMTP_DELIVER_TEMPFAIL;
	}
}

const char *deliver_target(const char *detail)
{
	struct mailbox_status st;
	struct error err;

	if (detail[0] && store_status(W->store, detail, &st, &err) == 0)
		return detail;
	return "INBOX";
}

static int local_tz_minutes(time_t t)
{
	struct tm tm;
	return localtime_r(&t, &tm) ? (int)(tm.tm_gmtoff / 60) : 0;
}

/* The message's bytes after the trace header, from fd, into ap. */
static int copy_body(int fd, uint64_t size, struct appender *ap, struct error *err)
{
	static char piece[DELIVER_PIECE];

	for (uint64_t at = 0; at < size;) {
		size_t want = size - at < DELIVER_PIECE ? (size_t)(size - at) : DELIVER_PIECE;
		ssize_t n = pread(fd, piece, want, (off_t)at);
		if (n <= 0) {
			error_set(err, ERR_INTERNAL, "reading the message: %s",
				  n < 0 ? strerror(errno) : "short");
			return -1;
		}
		if (store_append_write(ap, piece, (size_t)n, err) < 0)
			return -1;
		at += (uint64_t)n;
	}
	return 0;
}

#ifdef HAVEN_TEST_HOOKS
/* Test builds only: when the user's home holds .haven-test-stop-delivery,
 * the worker removes it and stops itself (SIGSTOP) in the middle of the
 * next append, for a test to kill it there (test_sieve.py). */
static void test_stop(void)
{
	char *path = xasprintf("%s/.haven-test-stop-delivery", W->user.home);
	if (unlink(path) == 0)
		raise(SIGSTOP);
	free(path);
}
#else
static void test_stop(void)
{
}
#endif

int deliver_store(const struct deliver_job *j, const char *mailbox, uint32_t flags,
		  const char *const *keywords, size_t nkeywords, struct error *err)
{
	struct appender *ap;
	uint32_t uidvalidity, uid;
	time_t now = time(NULL);
	int rc;

	if (store_append_begin(W->store, mailbox, j->tracelen + j->size, flags, keywords,
			       nkeywords, now, local_tz_minutes(now), &ap, err) < 0)
		return -1;
	rc = store_append_write(ap, j->trace, j->tracelen, err);
	test_stop();
	if (rc < 0 || copy_body(j->fd, j->size, ap, err) < 0) {
		store_append_abort(ap);
		return -1;
	}
	if (store_append_finish(ap, &uidvalidity, &uid, err) < 0)
		return -1;
	worker_tidy_later();
	log_info("delivered: user=%s mailbox=%s uid=%u", W->user.name, mailbox, uid);
	return 0;
}

/* The message as it comes, to the detail's mailbox or INBOX. */
static void deliver_plain(const struct deliver_job *j, struct deliver_outcome *out)
{
	struct error err;
	const char *to = deliver_target(j->detail);

	out->status = LMTP_DELIVER_OK;
	snprintf(out->text, sizeof(out->text), "Delivered");
	if (deliver_store(j, to, 0, NULL, 0, &err) < 0) {
		out->status = deliver_status_of(&err);
		snprintf(out->text, sizeof(out->text), "%s", err.msg);
	}
}

/* The user's Sieve script decides where the message goes, if there is
 * one; else (or when it cannot be read now) as without. */
static void deliver_job_run(const struct deliver_job *j, struct deliver_outcome *out)
{
	struct deliver_sieve ds;
	int rc = deliver_sieve_run(j, &ds);

	if (rc < 0) {
		out->status = LMTP_DELIVER_TEMPFAIL;
		snprintf(out->text, sizeof(out->text), "Sieve script unavailable, try again later");
	} else if (rc == 0) {
		deliver_plain(j, out);
	} else {
		deliver_actions(j, &ds, out);
		deliver_sieve_done(&ds);
	}
}

void worker_deliver(struct ipc_msg *m)
{
	struct deliver_job j = { .fd = m->fd };
	struct deliver_outcome out;
	struct stat st;
	uint32_t req;

	W->sessions_seen++;
	if (m->fd < 0 || ipc_get_u32(m, &req) < 0 || ipc_get_str(m, &j.detail) < 0 ||
	    ipc_get_str(m, &j.from) < 0 || ipc_get_str(m, &j.to) < 0 ||
	    ipc_get_bytes(m, &j.trace, &j.tracelen) < 0 || ipc_get_end(m) < 0) {
		log_err("malformed delivery from master");
		return;
	}
	if (fcntl(m->fd, F_GET_SEALS) != DELIVER_SEALS || fstat(m->fd, &st) < 0) {
		log_err("delivery for %s: message not sealed", W->user.name);
		answer(req, LMTP_DELIVER_TEMPFAIL, "message not sealed");
		return;
	}
	j.size = (uint64_t)st.st_size;
	deliver_job_run(&j, &out);
	if (out.status != LMTP_DELIVER_OK && out.status != LMTP_DELIVER_REJECT)
		log_info("delivery to %s failed: %s", W->user.name, out.text);
	answer(req, out.status, out.text);
	if (out.status == LMTP_DELIVER_OK)
		wsession_idle_poke_others(NULL);
}
