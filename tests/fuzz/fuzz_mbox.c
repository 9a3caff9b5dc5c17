/* libFuzzer target for the mbox reader: the input becomes an INBOX file,
 * which is selected (scanned, and rewritten if it lacks our headers), every
 * message is read, the last one is expunged (in place if the file's base
 * header allows), and then the file is rewritten (a flag change on every
 * message), expunged from and appended to. Besides "no crash" it checks:
 * RFC822.SIZE is exactly what open_message gives, no message changes by a
 * byte when the file is rewritten around it, and an appended message comes
 * back byte for byte: a fixed one, and the input itself as a message (any
 * bytes: bare LFs, CRs, NULs, From_ lines), unless its header holds one of
 * our state headers, which APPEND drops. Files go to /dev/shm where fsync
 * costs nothing. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backends/backend.h"
#include "../../backends/mbox/mbox_private.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"

#define MAX_INPUT (1024 * 1024)

static char dir[64];
static char *inbox;
static struct config cfg;
static const struct backend_ops *ops;

static void init(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz-mbox-XXXXXX", base);
	if (mkdtemp(dir) == NULL)
		abort();
	config_init(&cfg);
	inbox = xasprintf("%s/inbox", dir);
	char *mdir = xasprintf("%s/mail", dir);
	config_extra_set(&cfg, "mbox_inbox", inbox, "fuzz");
	config_extra_set(&cfg, "mbox_dir", mdir, "fuzz");
	free(mdir);
	cfg.lock_timeout = 1;
	/* every file goes through the index too */
	config_extra_set(&cfg, "mbox_index_min_size", "0", "fuzz");
	ops = backend_find("mbox");
	if (ops == NULL)
		abort();
	log_set_level(LOG_LVL_ERR);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* Read a whole message; abort if the stream and meta disagree. */
static int read_msg(struct mailbox *mb, uint32_t uid, uint64_t size, uint64_t *hash,
		    unsigned char **keep)
{
	struct msg_stream *s;
	struct error err;
	unsigned char *buf;
	uint64_t got = 0;

	if (ops->open_message(mb, uid, &s, &err) < 0)
		return -1;
	if (s->size != size)
		abort();
	buf = xmalloc((size_t)size + 1);
	for (;;) {
		ssize_t n = s->ops->pread(s, buf + got, 4096, got);
		if (n < 0)
			abort();
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	if (got != size)
		abort();
	*hash = fnv(buf, (size_t)size);
	s->ops->close(s);
	if (keep)
		*keep = buf;
	else
		free(buf);
	return 0;
}

static void cb_expunged(void *ctx, uint32_t seq, uint32_t uid)
{
	(void)seq; (void)uid;
	(*(size_t *)ctx)++;
}

static void cb_changed(void *ctx, uint32_t seq)
{
	(void)ctx; (void)seq;
}

static void cb_exists(void *ctx, uint32_t count)
{
	(void)ctx; (void)count;
}

static const struct sync_cb cbs = { cb_expunged, cb_changed, cb_exists };

/* Does the header of msg (up to its first empty line) hold one of the
 * state headers APPEND drops? */
static int has_state_header(const char *msg, size_t len)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (msg + i)) + 1 : len - i;
		if (mbox_line_is_blank(msg + i, n))
			return 0;
		if (mbox_hdr_classify(msg + i, n) != MH_NONE)
			return 1;
		i += n;
	}
	return 0;
}

/* Append msg and read it back: it must be what was appended. */
static void append_exact(struct store *st, struct mailbox *mb, const char *msg, size_t len,
			 uint32_t maxuid, uint32_t uidvalidity)
{
	uint32_t uv, uid;
	uint64_t h;
	size_t expunged = 0;
	unsigned char *back = NULL;
	struct error err;

	if (mbox_append(st, "INBOX", msg, len, MF_FLAGGED, NULL, 0, 0, 0, &uv, &uid, &err) < 0)
		return;
	if (uv != uidvalidity || uid <= maxuid || ops->sync(mb, &cbs, &expunged, &err) < 0)
		abort();
	if (ops->count(mb) == 0 || ops->meta(mb, ops->count(mb))->uid != uid ||
	    ops->meta(mb, ops->count(mb))->size != len)
		abort();
	if (read_msg(mb, uid, len, &h, &back) < 0 || memcmp(back, msg, len) != 0)
		abort();
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backend_user u = { .name = "fuzz", .home = "/nonexistent", .uid = 0, .gid = 0 };
	struct store *st;
	struct mailbox *mb;
	struct mailbox_status stt;
	struct error err;
	uint32_t n, *uids, maxuid;
	uint64_t *hashes, *sizes;
	size_t expunged = 0;
	int fd;
	static const char *const kw[] = { "fz" };
	static const char added[] = "Subject: added\r\n\r\nFrom here\r\n>From there\r\nend";

	if (dir[0] == '\0')
		init();
	if (size > MAX_INPUT)
		return 0;
	fd = open(inbox, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	if (ops->store_open(&u, &cfg, &st, &err) < 0)
		abort();
	if (ops->select(st, "INBOX", 0, &mb, &stt, &err) < 0) {
		ops->store_close(st);
		return 0;
	}
	n = ops->count(mb);
	if (stt.messages != n)
		abort();
	uids = xcalloc(n + 1, sizeof(*uids));
	hashes = xcalloc(n + 1, sizeof(*hashes));
	sizes = xcalloc(n + 1, sizeof(*sizes));
	for (uint32_t seq = 1; seq <= n; seq++) {
		const struct msg_meta *m = ops->meta(mb, seq);
		if (m == NULL || (seq > 1 && m->uid <= uids[seq - 2]))
			abort();   /* UIDs must ascend */
		uids[seq - 1] = m->uid;
		sizes[seq - 1] = m->size;
		if (read_msg(mb, m->uid, m->size, &hashes[seq - 1], NULL) < 0)
			goto out;
	}
	/* The last message flagged and expunged: in place when the file's
	 * base allows (mbox_expunge_tail reads it as the input has it), else
	 * by a rewrite. The others stay as they were, and its UID is never
	 * given out again (checked at the append below). */
	maxuid = n ? uids[n - 1] : 0;
	if (n >= 2 &&
	    ops->store_flags(mb, &uids[n - 1], 1, STORE_ADD, MF_DELETED, NULL, 0, 0, NULL, NULL,
			     &err) == 0 &&
	    ops->expunge(mb, &uids[n - 1], 1, &err) == 0) {
		if (ops->sync(mb, &cbs, &expunged, &err) < 0 || expunged != 1 || ops->count(mb) != n - 1)
			abort();
		expunged = 0;
		n--;
		for (uint32_t seq = 1; seq <= n; seq++) {
			const struct msg_meta *m = ops->meta(mb, seq);
			uint64_t h;
			if (m->uid != uids[seq - 1] || m->size != sizes[seq - 1])
				abort();
			if (read_msg(mb, m->uid, m->size, &h, NULL) < 0 || h != hashes[seq - 1])
				abort();
		}
	}
	/* A rewrite of the whole file must leave every message as it was
	 * (STORE_SET also clears any \Deleted the input had). */
	if (n && ops->store_flags(mb, uids, n, STORE_SET, MF_SEEN, kw, 1, 0, NULL, NULL, &err) == 0) {
		if (ops->sync(mb, &cbs, &expunged, &err) < 0 || expunged != 0 || ops->count(mb) != n)
			abort();
		for (uint32_t seq = 1; seq <= n; seq++) {
			const struct msg_meta *m = ops->meta(mb, seq);
			uint64_t h;
			if (m->uid != uids[seq - 1] || m->size != sizes[seq - 1] ||
			    m->flags != MF_SEEN || m->nkw != 1)
				abort();
			if (read_msg(mb, m->uid, m->size, &h, NULL) < 0 || h != hashes[seq - 1])
				abort();
		}
		/* Expunge every other message (one STORE: each is a rewrite). */
		{
			uint32_t k = 0;
			for (uint32_t i = 0; i < n; i += 2)
				uids[k++] = uids[i];
			if (ops->store_flags(mb, uids, k, STORE_ADD, MF_DELETED, NULL, 0, 0, NULL, NULL,
					     &err) < 0)
				abort();
		}
		if (ops->expunge(mb, NULL, 0, &err) < 0 || ops->sync(mb, &cbs, &expunged, &err) < 0)
			abort();
		if (ops->count(mb) != n / 2 || expunged != (n + 1) / 2)
			abort();
	}
	/* Appended messages come back exactly. */
	append_exact(st, mb, added, strlen(added), maxuid, stt.uidvalidity);
	if (size <= 65536 && !has_state_header((const char *)data, size))
		append_exact(st, mb, (const char *)data, size, maxuid, stt.uidvalidity);
out:
	free(uids);
	free(hashes);
	free(sizes);
	ops->mailbox_close(mb);
	ops->store_close(st);
	return 0;
}
