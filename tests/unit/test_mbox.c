/* mbox backend: namespace and name safety, byte-exact append/fetch, state
 * kept in the file's headers across reopen, sync against other stores and
 * against an MDA writing the file directly, copy/move, locking, and the
 * mimekit sample mailboxes. Every test works in its own temp directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../backends/backend.h"
#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"

struct fx {
	char dir[64];
	char *inbox;      /* path of INBOX */
	char *maildir;    /* mbox_dir */
	struct config cfg;
	const struct backend_ops *ops;
	struct store *st;
};

static struct store *open_store(struct fx *f)
{
	struct backend_user u = { .name = "alice", .home = f->dir, .uid = getuid(), .gid = getgid() };
	struct store *st = NULL;
	struct error err;
	if (f->ops->store_open(&u, &f->cfg, &st, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	return st;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char *p;
	snprintf(f->dir, sizeof(f->dir), "/tmp/haven-mbox-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	p = xasprintf("%s/spool", f->dir);
	mkdir(p, 0700);
	free(p);
	config_init(&f->cfg);
	{ char *v_ = xasprintf("%s/spool/%%u", f->dir); config_extra_set(&f->cfg, "mbox_inbox", v_, "test"); free(v_); }
	config_extra_set(&f->cfg, "mbox_dir", "%h/mail", "test");
	f->cfg.lock_timeout = 2;
	f->inbox = xasprintf("%s/spool/alice", f->dir);
	f->maildir = xasprintf("%s/mail", f->dir);
	f->ops = backend_find("mbox");
	assert_non_null(f->ops);
	/* An existing user: a new one (no mail directory) gets the default
	 * mailboxes (test_defaults_for_new_user). */
	mkdir(f->maildir, 0700);
	f->st = open_store(f);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int leftovers;

/* No call may leave a lock or a temp file behind. */
static int check_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t n = strlen(base);
	(void)sb; (void)flag;
	if ((n > 5 && strcmp(base + n - 5, ".lock") == 0) || strncmp(base, ".haven-tmp", 10) == 0) {
		fprintf(stderr, "left behind: %s\n", path);
		leftovers++;
	}
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc;
	f->ops->store_close(f->st);
	leftovers = 0;
	nftw(f->dir, check_one, 16, FTW_PHYS);
	rc = leftovers ? -1 : 0;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	config_free(&f->cfg);
	free(f->inbox);
	free(f->maildir);
	free(f);
	return rc;
}

/* ---- helpers ------------------------------------------------------------ */

static uint32_t append_msg(struct fx *f, struct store *st, const char *box, const char *msg,
			   size_t len, uint32_t flags)
{
	uint32_t uv = 0, uid = 0;
	struct error err;
	if (mbox_append(st, box, msg, len, flags, NULL, 0, 1000000000, 0, &uv, &uid, &err) < 0)
		fail_msg("append to %s: %s", box, err.msg);
	assert_true(uv != 0);
	return uid;
}

static uint32_t append_str(struct fx *f, const char *box, const char *msg)
{
	return append_msg(f, f->st, box, msg, strlen(msg), 0);
}

static struct mailbox *select_box(struct fx *f, struct store *st, const char *box,
				  struct mailbox_status *stt)
{
	struct mailbox *mb = NULL;
	struct mailbox_status tmp;
	struct error err;
	if (f->ops->select(st, box, 0, &mb, stt ? stt : &tmp, &err) < 0)
		fail_msg("select %s: %s", box, err.msg);
	return mb;
}

static char *fetch(struct fx *f, struct mailbox *mb, uint32_t uid, size_t *len)
{
	struct msg_stream *s;
	struct error err;
	char *buf;
	size_t got = 0;
	if (f->ops->open_message(mb, uid, &s, &err) < 0)
		fail_msg("open_message %u: %s", uid, err.msg);
	buf = xmalloc((size_t)s->size + 1);
	for (;;) {
		ssize_t n = s->ops->pread(s, buf + got, 7, got);   /* odd chunks on purpose */
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	assert_int_equal(got, s->size);
	s->ops->close(s);
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* n spaces, as a string literal (the padding of our state headers) */
#define SP8 "        "
#define PAD(n) PAD_##n
#define PAD_19 SP8 SP8 "   "
#define PAD_24 SP8 SP8 SP8

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char chunk[8192];
	size_t n;
	if (fp == NULL)
		fail_msg("cannot read %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&b, chunk, n);
	fclose(fp);
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

static void spit(const char *path, const char *data, size_t len, int append)
{
	int fd = open(path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

struct rec {
	uint32_t exp_seq[64], exp_uid[64];
	size_t nexp;
	uint32_t changed[64];
	size_t nchanged;
	int64_t exists;
};

static void rec_expunged(void *ctx, uint32_t seq, uint32_t uid)
{
	struct rec *r = ctx;
	r->exp_seq[r->nexp] = seq;
	r->exp_uid[r->nexp++] = uid;
}

static void rec_changed(void *ctx, uint32_t seq)
{
	struct rec *r = ctx;
	r->changed[r->nchanged++] = seq;
}

static void rec_exists(void *ctx, uint32_t count)
{
	struct rec *r = ctx;
	r->exists = count;
}

static const struct sync_cb rec_cb = { rec_expunged, rec_changed, rec_exists };

static void do_sync(struct fx *f, struct mailbox *mb, struct rec *r)
{
	struct error err;
	memset(r, 0, sizeof(*r));
	r->exists = -1;
	if (f->ops->sync(mb, &rec_cb, r, &err) < 0)
		fail_msg("sync: %s", err.msg);
}

struct listed {
	char names[32][128];
	unsigned attrs[32];
	size_t n;
};

static void list_cb(void *ctx, const char *name, unsigned attrs)
{
	struct listed *l = ctx;
	assert_true(l->n < 32);
	snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
	l->attrs[l->n++] = attrs;
}

/* attrs of name, or -1 if LIST did not report it */
static long attrs_of(struct fx *f, const char *name)
{
	struct listed l;
	struct error err;
	memset(&l, 0, sizeof(l));
	assert_int_equal(f->ops->list(f->st, list_cb, &l, &err), 0);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.names[i], name) == 0)
			return (long)l.attrs[i];
	return -1;
}

static const char *data_dir(void)
{
	struct stat sb;
	if (stat("tests/data/mbox/simple.mbox", &sb) == 0)
		return "tests/data/mbox";
	return "../../tests/data/mbox";   /* run from build/tests */
}

#define MSG1 "From: a@example.org\r\nTo: b@example.org\r\nSubject: one\r\n\r\nHello\r\n"

/* ---- namespace -------------------------------------------------------------- */

static void test_names_refused(void **state)
{
	struct fx *f = *state;
	struct error err;
	static const char *const bad[] = {
		"..", "a/../b", ".hidden", "a/.b", "/abs", "a//b", "", "x\001y", "tab\tname",
		"foo.lock", "INBOX/sub", "a/", "del\177",
	};
	struct mailbox *mb;
	struct mailbox_status stt;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (strcmp(bad[i], "a/") == 0)
			continue;   /* valid for CREATE (a hierarchy), checked below */
		error_clear(&err);
		assert_int_equal(f->ops->create(f->st, bad[i], 0, &err), -1);
		assert_true(err.code == ERR_CANNOT || err.code == ERR_ALREADYEXISTS);
		assert_int_equal(f->ops->select(f->st, bad[i], 0, &mb, &stt, &err), -1);
	}
	/* invalid UTF-8 */
	assert_int_equal(f->ops->create(f->st, "bad\xff", 0, &err), -1);
	/* "a/" declares a hierarchy: a directory, \Noselect */
	assert_int_equal(f->ops->create(f->st, "a/", 0, &err), 0);
	assert_true(attrs_of(f, "a") & MA_NOSELECT);
	assert_int_equal(f->ops->select(f->st, "a", 0, &mb, &stt, &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
	/* nothing escaped the tree */
	{
		char *p = xasprintf("%s/b", f->dir);
		struct stat sb;
		assert_int_equal(stat(p, &sb), -1);
		free(p);
	}
}

static void test_symlink_out_of_tree(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox *mb;
	struct mailbox_status stt;
	uint32_t uv, uid;
	char *outside = xasprintf("%s/outside", f->dir);
	char *secret = xasprintf("%s/outside/secret", f->dir);
	char *l1 = xasprintf("%s/mail/evil", f->dir);
	char *l2 = xasprintf("%s/mail/evilfile", f->dir);
	char *made = xasprintf("%s/outside/new", f->dir);
	struct stat sb;
	size_t len;
	char *before;

	assert_int_equal(f->ops->create(f->st, "real", 0, &err), 0);
	mkdir(outside, 0700);
	spit(secret, "From x Thu Jan  1 00:00:00 1970\nSubject: secret\n\nx\n", 48, 0);
	before = slurp(secret, &len);
	assert_int_equal(symlink(outside, l1), 0);
	assert_int_equal(symlink(secret, l2), 0);

	assert_int_equal(f->ops->select(f->st, "evil/secret", 0, &mb, &stt, &err), -1);
	assert_int_equal(f->ops->select(f->st, "evilfile", 0, &mb, &stt, &err), -1);
	assert_int_equal(f->ops->status(f->st, "evilfile", &stt, &err), -1);
	assert_int_equal(mbox_append(f->st, "evilfile", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0,
					&uv, &uid, &err), -1);
	assert_int_equal(mbox_append(f->st, "evil/secret", MSG1, strlen(MSG1), 0, NULL, 0, 0,
					0, &uv, &uid, &err), -1);
	assert_int_equal(f->ops->create(f->st, "evil/new", 0, &err), -1);
	assert_int_equal(stat(made, &sb), -1);
	assert_int_equal(f->ops->delete(f->st, "evilfile", &err), -1);
	assert_int_equal(f->ops->rename(f->st, "evil/secret", "stolen", &err), -1);
	assert_int_equal(attrs_of(f, "evil"), -1);
	assert_int_equal(attrs_of(f, "evilfile"), -1);
	assert_true(attrs_of(f, "real") >= 0);
	{
		size_t len2;
		char *after = slurp(secret, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(before, after, len);
		free(after);
	}
	free(before);
	free(outside); free(secret); free(l1); free(l2); free(made);
}

static void test_hierarchy(void **state)
{
	struct fx *f = *state;
	struct error err;
	long a;

	assert_int_equal(f->ops->create(f->st, "Sent", MA_SENT, &err), 0);
	assert_int_equal(f->ops->create(f->st, "Trash", 0, &err), 0);
	assert_int_equal(f->ops->create(f->st, "work/projects/x", 0, &err), 0);
	assert_int_equal(f->ops->create(f->st, "work/y", 0, &err), 0);
	assert_int_equal(f->ops->create(f->st, "work/y", 0, &err), -1);
	assert_int_equal(err.code, ERR_ALREADYEXISTS);
	assert_int_equal(f->ops->create(f->st, "inbox", 0, &err), -1);
	assert_int_equal(err.code, ERR_ALREADYEXISTS);
	assert_int_equal(f->ops->create(f->st, "Sent/child", 0, &err), -1);
	/* any name may have a special use; virtual ones mbox cannot do */
	assert_int_equal(f->ops->create(f->st, "Other", MA_SENT, &err), 0);
	assert_true(attrs_of(f, "Other") & MA_SENT);
	assert_int_equal(f->ops->create(f->st, "Everything", MA_ALL, &err), -1);
	assert_int_equal(err.code, ERR_NOTSUPPORTED);
	assert_int_equal(attrs_of(f, "Everything"), -1);
	assert_int_equal(f->ops->create(f->st, "dir/", MA_ARCHIVE, &err), -1);
	assert_int_equal(err.code, ERR_NOTSUPPORTED);
	assert_int_equal(attrs_of(f, "dir"), -1);

	a = attrs_of(f, "INBOX");
	assert_true(a >= 0 && (a & MA_HASNOCHILDREN));
	a = attrs_of(f, "Sent");
	assert_true(a >= 0 && (a & MA_SENT) && (a & MA_HASNOCHILDREN) && !(a & MA_NOSELECT));
	assert_true(attrs_of(f, "Trash") & MA_TRASH);
	a = attrs_of(f, "work");
	assert_true(a >= 0 && (a & MA_NOSELECT) && (a & MA_HASCHILDREN));
	a = attrs_of(f, "work/projects");
	assert_true(a >= 0 && (a & MA_NOSELECT) && (a & MA_HASCHILDREN));
	a = attrs_of(f, "work/projects/x");
	assert_true(a >= 0 && !(a & MA_NOSELECT) && (a & MA_HASNOCHILDREN));

	/* DELETE: INBOX never, \Noselect with children no, a mailbox yes */
	assert_int_equal(f->ops->delete(f->st, "INBOX", &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
	assert_int_equal(f->ops->delete(f->st, "work", &err), -1);
	assert_int_equal(f->ops->delete(f->st, "nothere", &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);

	/* RENAME moves the hierarchy */
	append_str(f, "work/projects/x", MSG1);
	assert_int_equal(f->ops->rename(f->st, "work", "play/old", &err), 0);
	assert_int_equal(attrs_of(f, "work"), -1);
	assert_true(attrs_of(f, "play/old/projects/x") >= 0);
	assert_true(attrs_of(f, "play") & MA_HASCHILDREN);
	assert_int_equal(f->ops->rename(f->st, "Sent", "Trash", &err), -1);
	assert_int_equal(err.code, ERR_ALREADYEXISTS);
	assert_int_equal(f->ops->rename(f->st, "nothere", "x", &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	assert_int_equal(f->ops->rename(f->st, "play", "play/sub", &err), -1);
	{
		struct mailbox_status stt;
		assert_int_equal(f->ops->status(f->st, "play/old/projects/x", &stt, &err), 0);
		assert_int_equal(stt.messages, 1);
	}
	assert_int_equal(f->ops->delete(f->st, "play/old/projects/x", &err), 0);
	assert_int_equal(f->ops->delete(f->st, "play/old/projects", &err), 0);
	assert_int_equal(attrs_of(f, "play/old/projects"), -1);
	assert_true(attrs_of(f, "play/old") & MA_HASCHILDREN);   /* y is still there */
}

static void test_subscribe(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct stat sb;
	char *p = xasprintf("%s/mail/.subscriptions", f->dir);

	assert_int_equal(f->ops->create(f->st, "Sent", 0, &err), 0);
	assert_int_equal(f->ops->subscribe(f->st, "Sent", 1, &err), 0);
	assert_int_equal(f->ops->subscribe(f->st, "inbox", 1, &err), 0);
	assert_int_equal(f->ops->subscribe(f->st, "Gone", 1, &err), 0);
	assert_int_equal(f->ops->subscribe(f->st, "Gone", 1, &err), 0);
	assert_int_equal(f->ops->subscribe(f->st, "../x", 1, &err), -1);
	assert_true(attrs_of(f, "Sent") & MA_SUBSCRIBED);
	assert_true(attrs_of(f, "INBOX") & MA_SUBSCRIBED);
	assert_int_equal(attrs_of(f, "Gone"), MA_SUBSCRIBED | MA_NONEXISTENT | MA_NOSELECT);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(f->ops->subscribe(f->st, "Sent", 0, &err), 0);
	assert_false(attrs_of(f, "Sent") & MA_SUBSCRIBED);
	/* survives a new store */
	f->ops->store_close(f->st);
	f->st = open_store(f);
	assert_true(attrs_of(f, "INBOX") & MA_SUBSCRIBED);
	assert_true(attrs_of(f, "Gone") & MA_SUBSCRIBED);
	free(p);
}

/* ---- messages -------------------------------------------------------------- */

static void test_append_fetch_identity(void **state)
{
	struct fx *f = *state;
	static const char *const msgs[] = {
		MSG1,
		("Subject: escapes\r\n\r\nFrom me to you\r\n>From quoted\r\n>>From deeper\r\n"
		 "From\r\nFrom \r\n"),
		"Subject: no final newline\r\n\r\nlast line",
		"Subject: only headers\r\n",
		"Subject: header without newline",
		"\r\nbody without headers\r\n",
		"Subject: blank lines at end\r\n\r\nx\r\n\r\n\r\n",
		"X-Folded: a\r\n b\r\nSubject: folded\r\n\r\nbody\r\n",
		"",
	};
	struct mailbox *mb;
	uint32_t uids[16];
	size_t n = sizeof(msgs) / sizeof(msgs[0]);
	char *disk;

	for (size_t i = 0; i < n; i++)
		uids[i] = append_str(f, "INBOX", msgs[i]);
	mb = select_box(f, f->st, "INBOX", NULL);
	assert_int_equal(f->ops->count(mb), n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *got = fetch(f, mb, uids[i], &len);
		const struct msg_meta *m = f->ops->meta(mb, (uint32_t)(i + 1));
		assert_int_equal(m->uid, uids[i]);
		assert_int_equal(m->size, strlen(msgs[i]));
		assert_int_equal(len, strlen(msgs[i]));
		assert_memory_equal(got, msgs[i], len);
		assert_int_equal(m->internaldate, 1000000000);
		free(got);
	}
	f->ops->mailbox_close(mb);

	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "\n>From me to you\n"));
	assert_non_null(strstr(disk, "\n>>From quoted\n"));
	assert_non_null(strstr(disk, "\n>>>From deeper\n"));
	assert_null(strstr(disk, "\r\n"));
	assert_non_null(strstr(disk, "From " MBOX_FROM_SENDER " Sun Sep  9 01:46:40 2001\n"));
	assert_non_null(strstr(disk, "X-IMAPbase: "));
	free(disk);
}

/* Messages whose line ends are not all CRLF (bare LF, CR before CRLF, a
 * lone CR, NUL bytes around them) come back byte for byte: stored with
 * X-Haven-Raw, through APPEND, COPY, a rewrite and the index; the usual
 * CRLF message keeps the usual LF form. */
static void test_append_raw_bytes(void **state)
{
	struct fx *f = *state;
	static const char bin[] = "Subject: binary\r\nContent-Transfer-Encoding: binary\r\n\r\n"
				  "\0 - \xe4\n\r\n\n\r\r\nFrom x\nend\r";
	static const char *const msgs[] = {
		"Subject: lf only\n\nline\nFrom here\n",
		"Subject: mixed\r\n\r\na\nb\r\r\nc\rd\r\n",
		"\nstarts with LF\r\n",
		MSG1,
	};
	size_t lens[5], n = 5;
	const char *all[5];
	uint32_t uids[5], dst[5], uv;
	struct mailbox *mb, *ib;
	struct error err;
	char *disk;

	config_extra_set(&f->cfg, "mbox_index_min_size", "0", "test");
	f->ops->store_close(f->st);
	f->st = open_store(f);
	for (size_t i = 0; i < 4; i++) {
		all[i] = msgs[i];
		lens[i] = strlen(msgs[i]);
	}
	all[4] = bin;
	lens[4] = sizeof(bin) - 1;
	assert_false(mbox_raw_needed(MSG1, strlen(MSG1)));
	for (size_t i = 0; i < 4; i++)
		assert_true(i == 3 || mbox_raw_needed(all[i], lens[i]));
	assert_true(mbox_raw_needed(bin, lens[4]));
	for (size_t i = 0; i < n; i++)
		uids[i] = append_msg(f, f->st, "INBOX", all[i], lens[i], 0);
	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "X-Haven-Raw: 1\nSubject: lf only\n"));
	assert_non_null(strstr(disk, "\n>From here\n"));
	assert_non_null(strstr(disk, "Subject: one\n\nHello\n"));   /* the usual form */
	free(disk);
	assert_int_equal(f->ops->create(f->st, "Drafts", 0, &err), 0);
	mb = select_box(f, f->st, "INBOX", NULL);
	assert_int_equal(f->ops->copy(mb, uids, n, "Drafts", 0, &uv, dst, &err), 0);
	{
		/* a rewrite (a new keyword) keeps them too */
		const char *kw = "$New";
		assert_int_equal(f->ops->store_flags(mb, uids, n, STORE_ADD, 0, &kw, 1, 0, NULL, NULL,
						     &err), 0);
	}
	f->ops->mailbox_close(mb);
	f->ops->store_close(f->st);
	f->st = open_store(f);   /* read back through the index */
	mb = select_box(f, f->st, "INBOX", NULL);
	ib = select_box(f, f->st, "Drafts", NULL);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *got = fetch(f, mb, uids[i], &len);
		assert_int_equal(len, lens[i]);
		assert_memory_equal(got, all[i], len);
		assert_int_equal(f->ops->meta(mb, (uint32_t)(i + 1))->size, lens[i]);
		free(got);
		got = fetch(f, ib, dst[i], &len);
		assert_int_equal(len, lens[i]);
		assert_memory_equal(got, all[i], len);
		free(got);
	}
	f->ops->mailbox_close(ib);
	f->ops->mailbox_close(mb);
}

static void test_append_strips_state_headers(void **state)
{
	struct fx *f = *state;
	const char *msg = "Status: RO\r\nX-UID: 99\r\nX-Keywords: evil\r\n  continued\r\n"
			  "Subject: s\r\nX-Status: D\r\n\r\nStatus: body stays\r\n";
	const char *want = "Subject: s\r\n\r\nStatus: body stays\r\n";
	struct mailbox *mb;
	const struct msg_meta *m;
	size_t len;
	char *got;
	uint32_t uid = append_str(f, "INBOX", msg);

	assert_int_equal(uid, 1);
	mb = select_box(f, f->st, "INBOX", NULL);
	m = f->ops->meta(mb, 1);
	assert_int_equal(m->uid, 1);
	assert_int_equal(m->flags, 0);
	assert_int_equal(m->nkw, 0);
	got = fetch(f, mb, 1, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
	f->ops->mailbox_close(mb);
}

static void test_long_line(void **state)
{
	struct fx *f = *state;
	size_t n = 300000;
	struct buf b = BUF_INIT;
	struct mailbox *mb;
	char *got;
	size_t len;

	buf_append_str(&b, "Subject: long\r\n\r\n");
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&b, i % 1000 == 999 ? ' ' : 'x');
	buf_append_str(&b, "\r\nFrom start\r\n");
	for (size_t i = 0; i < 70000; i++)
		buf_append_byte(&b, '>');
	buf_append_str(&b, "From many\r\nend");
	append_msg(f, f->st, "INBOX", b.data, b.len, MF_SEEN);
	mb = select_box(f, f->st, "INBOX", NULL);
	assert_int_equal(f->ops->meta(mb, 1)->size, b.len);
	got = fetch(f, mb, 1, &len);
	assert_int_equal(len, b.len);
	assert_memory_equal(got, b.data, len);
	free(got);
	f->ops->mailbox_close(mb);
	buf_free(&b);
}

/* A write that fails half-way (here: the file size limit, as a full disk
 * would) leaves the file exactly as it was. */
static void test_append_all_or_nothing(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct stat before, after;
	struct rlimit old, lim;
	struct mailbox_status stt;
	size_t big = 300000;
	char *msg = xmalloc(big);
	uint32_t uv, uid;

	append_str(f, "INBOX", MSG1);
	assert_int_equal(stat(f->inbox, &before), 0);
	memset(msg, 'x', big);
	memcpy(msg, "Subject: big\r\n\r\n", 17);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)before.st_size + 100000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(mbox_append(f->st, "INBOX", msg, big, 0, NULL, 0, 0, 0, &uv, &uid,
					&err), -1);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(stat(f->inbox, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	assert_int_equal(f->ops->status(f->st, "INBOX", &stt, &err), 0);
	assert_int_equal(stt.messages, 1);
	assert_int_equal(mbox_append(f->st, "INBOX", msg, big, 0, NULL, 0, 0, 0, &uv, &uid,
					&err), 0);
	assert_int_equal(uid, 2);
	/* the same for a rewrite: the temp file goes, the mailbox stays */
	{
		size_t l1, l2;
		/* (after the select: it claims the new messages, a rewrite) */
		struct mailbox *mb = select_box(f, f->st, "INBOX", NULL);
		char *d1 = slurp(f->inbox, &l1), *d2;
		uint32_t one = 1;
		signal(SIGXFSZ, SIG_IGN);
		lim.rlim_cur = (rlim_t)l1 - 1000;
		assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
		/* A keyword new to the mailbox goes into X-IMAPbase: a rewrite
		 * (a plain flag change would be written in place). */
		const char *nkw[] = { "NewKeyword" };
		assert_int_equal(f->ops->store_flags(mb, &one, 1, STORE_ADD, MF_SEEN, nkw, 1, 0,
						     NULL, NULL, &err), -1);
		setrlimit(RLIMIT_FSIZE, &old);
		signal(SIGXFSZ, SIG_DFL);
		d2 = slurp(f->inbox, &l2);
		assert_int_equal(l1, l2);
		assert_memory_equal(d1, d2, l1);
		free(d1);
		free(d2);
		f->ops->mailbox_close(mb);
	}
	free(msg);
}

static int rm_debris(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t n = strlen(base);
	(void)sb; (void)flag;
	if ((n > 5 && strcmp(base + n - 5, ".lock") == 0) || strncmp(base, ".haven-tmp", 10) == 0)
		unlink(path);
	return 0;
}

/* kill -9 in the middle of rewrites and appends: the mailbox is always
 * the old or the new file, every message intact. */
static void test_kill9_atomicity(void **state)
{
	struct fx *f = *state;
	const char *msgs[] = { MSG1, "Subject: two\r\n\r\nFrom here\r\n", "Subject: 3\r\n\r\nx" };
	uint32_t uids[3];

	struct error cerr;
	assert_int_equal(f->ops->create(f->st, "Other", 0, &cerr), 0);
	for (int i = 0; i < 3; i++)
		uids[i] = append_str(f, "INBOX", msgs[i]);
	srand(42);
	for (int round = 0; round < 25; round++) {
		pid_t pid = fork();
		struct mailbox *mb;
		if (pid == 0) {
			struct store *st = open_store(f);
			struct error err;
			uint32_t uv, uid;
			mb = select_box(f, st, "INBOX", NULL);
			for (;;) {
				f->ops->store_flags(mb, uids, 3, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL, NULL,
						    &err);
				f->ops->store_flags(mb, uids, 3, STORE_REMOVE, MF_SEEN, NULL, 0, 0, NULL,
						    NULL, &err);
				if (round % 5 == 0)
					mbox_append(st, "Other", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
						       &uid, &err);
			}
		}
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		/* what a crash leaves: a lock that goes stale, maybe a temp file */
		nftw(f->dir, rm_debris, 16, FTW_PHYS);
		mb = select_box(f, f->st, "INBOX", NULL);
		assert_int_equal(f->ops->count(mb), 3);
		for (uint32_t seq = 1; seq <= 3; seq++) {
			size_t len;
			char *got = fetch(f, mb, uids[seq - 1], &len);
			assert_int_equal(f->ops->meta(mb, seq)->uid, uids[seq - 1]);
			assert_int_equal(len, strlen(msgs[seq - 1]));
			assert_memory_equal(got, msgs[seq - 1], len);
			free(got);
		}
		f->ops->mailbox_close(mb);
	}
}

static void test_uids_persist(void **state)
{
	struct fx *f = *state;
	struct mailbox_status st1, st2;
	struct mailbox *mb;

	assert_int_equal(append_str(f, "INBOX", MSG1), 1);
	assert_int_equal(append_str(f, "INBOX", MSG1), 2);
	assert_int_equal(append_str(f, "INBOX", MSG1), 3);
	mb = select_box(f, f->st, "INBOX", &st1);
	assert_int_equal(st1.messages, 3);
	assert_int_equal(st1.uidnext, 4);
	f->ops->mailbox_close(mb);
	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f, f->st, "INBOX", &st2);
	assert_int_equal(st2.uidvalidity, st1.uidvalidity);
	assert_int_equal(st2.uidnext, 4);
	for (uint32_t i = 1; i <= 3; i++)
		assert_int_equal(f->ops->meta(mb, i)->uid, i);
	f->ops->mailbox_close(mb);
}

static void test_flags_persist(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox *mb;
	struct rec r;
	const char *kw[] = { "$Label1", "Work" };
	const char *const *names;
	uint32_t uid2 = 2, failed[4];
	size_t nfailed, nk;
	uint64_t ms;
	char *disk;
	const struct msg_meta *m;

	append_str(f, "INBOX", MSG1);
	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", NULL);
	ms = f->ops->meta(mb, 2)->modseq;
	assert_int_equal(f->ops->store_flags(mb, &uid2, 1, STORE_ADD,
					     MF_SEEN | MF_FLAGGED | MF_ANSWERED | MF_DRAFT, kw, 2,
					     0, failed, &nfailed, &err), 0);
	assert_int_equal(nfailed, 0);
	/* our own change shows at once (the STORE response needs it) */
	assert_int_equal(f->ops->meta(mb, 2)->flags, MF_SEEN | MF_FLAGGED | MF_ANSWERED | MF_DRAFT);
	do_sync(f, mb, &r);
	assert_int_equal(r.nchanged, 0);   /* our own change is not news */
	assert_int_equal(r.nexp, 0);
	m = f->ops->meta(mb, 2);
	assert_int_equal(m->flags, MF_SEEN | MF_FLAGGED | MF_ANSWERED | MF_DRAFT);
	assert_int_equal(m->nkw, 2);
	assert_true(m->modseq > ms);
	nk = f->ops->keywords(mb, &names);
	assert_true(nk >= 2);

	/* UNCHANGEDSINCE older than the message's modseq fails */
	assert_int_equal(f->ops->store_flags(mb, &uid2, 1, STORE_REMOVE, MF_SEEN, NULL, 0, ms,
					     failed, &nfailed, &err), 0);
	assert_int_equal(nfailed, 1);
	assert_int_equal(failed[0], 2);
	/* removing one keyword */
	assert_int_equal(f->ops->store_flags(mb, &uid2, 1, STORE_REMOVE, MF_DRAFT, kw, 1, 0,
					     failed, &nfailed, &err), 0);
	f->ops->mailbox_close(mb);

	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "\nStatus: RO\nX-Status: AF  \nX-Keywords: Work" PAD(19) "\nX-UID: 2\n"));
	assert_non_null(strstr(disk, "X-IMAPbase: "));
	assert_non_null(strstr(disk, " $Label1 Work\n"));   /* keyword list in X-IMAPbase */
	free(disk);

	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f, f->st, "INBOX", NULL);
	m = f->ops->meta(mb, 2);
	assert_int_equal(m->flags, MF_SEEN | MF_FLAGGED | MF_ANSWERED);
	assert_int_equal(m->nkw, 1);
	nk = f->ops->keywords(mb, &names);
	assert_string_equal(names[m->kw[0]], "Work");
	assert_int_equal(f->ops->meta(mb, 1)->flags, 0);
	/* messages are unchanged by all this */
	{
		size_t len;
		char *got = fetch(f, mb, 2, &len);
		assert_int_equal(len, strlen(MSG1));
		assert_memory_equal(got, MSG1, len);
		free(got);
	}
	/* bad keywords are refused before anything is written */
	{
		const char *bad[] = { "a b" };
		assert_int_equal(f->ops->store_flags(mb, &uid2, 1, STORE_ADD, 0, bad, 1, 0, NULL,
						     NULL, &err), -1);
	}
	f->ops->mailbox_close(mb);
}

static void test_expunge(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox *mb;
	struct mailbox_status stt;
	struct rec r;
	uint32_t del[] = { 1, 3 }, four = 4;

	for (int i = 0; i < 4; i++)
		append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", NULL);
	assert_int_equal(f->ops->store_flags(mb, del, 2, STORE_ADD, MF_DELETED, NULL, 0, 0, NULL,
					     NULL, &err), 0);
	/* UID EXPUNGE of a message without \Deleted does nothing */
	assert_int_equal(f->ops->expunge(mb, &four, 1, &err), 0);
	assert_int_equal(f->ops->expunge(mb, NULL, 0, &err), 0);
	assert_int_equal(f->ops->count(mb), 4);   /* until sync */
	do_sync(f, mb, &r);
	assert_int_equal(r.nexp, 2);
	assert_int_equal(r.exp_seq[0], 3);
	assert_int_equal(r.exp_uid[0], 3);
	assert_int_equal(r.exp_seq[1], 1);
	assert_int_equal(r.exp_uid[1], 1);
	assert_int_equal(f->ops->count(mb), 2);
	assert_int_equal(f->ops->meta(mb, 1)->uid, 2);
	assert_int_equal(f->ops->meta(mb, 2)->uid, 4);
	f->ops->mailbox_close(mb);

	f->ops->store_close(f->st);
	f->st = open_store(f);
	assert_int_equal(f->ops->status(f->st, "INBOX", &stt, &err), 0);
	assert_int_equal(stt.messages, 2);
	assert_int_equal(stt.uidnext, 5);
	assert_int_equal(append_str(f, "INBOX", MSG1), 5);
}

static void test_expunge_all_keeps_uids_unique(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox *mb;
	struct mailbox_status s1, s2;
	struct rec r;
	uint32_t one = 1, uv, uid;
	char *disk;

	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", &s1);
	assert_int_equal(f->ops->store_flags(mb, &one, 1, STORE_ADD, MF_DELETED, NULL, 0, 0, NULL,
					     NULL, &err), 0);
	assert_int_equal(f->ops->expunge(mb, NULL, 0, &err), 0);
	do_sync(f, mb, &r);
	assert_int_equal(f->ops->count(mb), 0);
	/* the state lives on in a pseudo message nobody sees */
	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "X-IMAP: "));
	free(disk);
	assert_int_equal(f->ops->status(f->st, "INBOX", &s2, &err), 0);
	assert_int_equal(s2.messages, 0);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(s2.uidnext, 2);
	assert_true(s2.highestmodseq > s1.highestmodseq);
	assert_int_equal(mbox_append(f->st, "INBOX", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
					&uid, &err), 0);
	assert_int_equal(uv, s1.uidvalidity);
	assert_int_equal(uid, 2);
	/* the open view goes on: the new message simply appears */
	do_sync(f, mb, &r);
	assert_int_equal(r.exists, 1);
	assert_int_equal(f->ops->meta(mb, 1)->uid, 2);
	{
		size_t len;
		char *got = fetch(f, mb, 2, &len);
		assert_int_equal(len, strlen(MSG1));
		free(got);
	}
	/* an MDA delivery after the pseudo message continues the UIDs too */
	{
		const char *mda = "From x Thu Jan  1 00:00:00 1970\nSubject: mda\n\nhi\n\n";
		spit(f->inbox, mda, strlen(mda), 1);
		do_sync(f, mb, &r);
		assert_int_equal(r.exists, 2);
		assert_int_equal(f->ops->meta(mb, 2)->uid, 3);
	}
	f->ops->mailbox_close(mb);
}

static void test_sync_other_store(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct store *other = open_store(f);
	struct mailbox *mb;
	struct rec r;
	uint32_t one = 1;

	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", NULL);
	do_sync(f, mb, &r);
	assert_int_equal(r.exists, -1);   /* nothing happened */
	assert_int_equal(append_msg(f, other, "INBOX", MSG1, strlen(MSG1), MF_FLAGGED), 2);
	do_sync(f, mb, &r);
	assert_int_equal(r.exists, 2);
	assert_int_equal(f->ops->meta(mb, 2)->uid, 2);
	assert_int_equal(f->ops->meta(mb, 2)->flags, MF_FLAGGED);

	/* a flag change by the other store is reported */
	{
		struct mailbox *omb = select_box(f, other, "INBOX", NULL);
		assert_int_equal(f->ops->store_flags(omb, &one, 1, STORE_SET, MF_SEEN, NULL, 0, 0,
						     NULL, NULL, &err), 0);
		f->ops->mailbox_close(omb);
	}
	do_sync(f, mb, &r);
	assert_int_equal(r.nchanged, 1);
	assert_int_equal(r.changed[0], 1);
	assert_int_equal(f->ops->meta(mb, 1)->flags, MF_SEEN);
	f->ops->mailbox_close(mb);
	f->ops->store_close(other);
}

/* Another program (mutt, an MDA) replaces the file with one that has no
 * X-IMAPbase: the open view keeps its UIDVALIDITY, and no UID it has seen
 * is handed out again. */
static void test_headerless_replacement_keeps_view(void **state)
{
	struct fx *f = *state;
	const char *mda = "From x Thu Jan  1 00:00:00 1970\nSubject: new\n\nhi\n";
	struct mailbox *mb;
	struct mailbox_status s1, s2;
	struct rec r;
	struct error err;

	append_str(f, "INBOX", MSG1);
	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", &s1);
	spit(f->inbox, mda, strlen(mda), 0);
	do_sync(f, mb, &r);
	assert_int_equal(r.nexp, 2);
	assert_int_equal(r.exists, 1);
	assert_int_equal(f->ops->meta(mb, 1)->uid, 3);
	f->ops->mailbox_close(mb);
	/* and that is what was written down */
	assert_int_equal(f->ops->status(f->st, "INBOX", &s2, &err), 0);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(s2.uidnext, 4);
}

/* A program that edits Status: without knowing modseqs: reported once, with
 * a higher modseq, and not again. */
static void test_foreign_flag_change(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct rec r;
	size_t len;
	char *disk, *p;
	uint64_t ms;

	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", NULL);
	ms = f->ops->meta(mb, 1)->modseq;
	disk = slurp(f->inbox, &len);
	p = strstr(disk, "Status: O \n");
	assert_non_null(p);
	memcpy(p, "Status: R \n", 11);   /* same size, like mutt in place */
	spit(f->inbox, disk, len, 0);
	free(disk);
	{
		/* A same-size edit within one timestamp tick is invisible to
		 * stat(); real editors are slower than this test. */
		struct timespec later[2] = { { time(NULL) + 5, 0 }, { time(NULL) + 5, 0 } };
		assert_int_equal(utimensat(AT_FDCWD, f->inbox, later, 0), 0);
	}
	do_sync(f, mb, &r);
	assert_int_equal(r.nchanged, 1);
	assert_int_equal(f->ops->meta(mb, 1)->flags, MF_SEEN);
	assert_true(f->ops->meta(mb, 1)->modseq > ms);
	do_sync(f, mb, &r);
	assert_int_equal(r.nchanged, 0);
	f->ops->mailbox_close(mb);
}

static void test_sync_external_mda(void **state)
{
	struct fx *f = *state;
	const char *mda = "From sender@example.org Mon Jun  3 12:50:27 1996\n"
			  "Subject: from the MDA\n\nHi there\n>From escaped\n\n";
	const char *want = "Subject: from the MDA\r\n\r\nHi there\r\nFrom escaped\r\n";
	struct mailbox *mb;
	struct mailbox_status s1, s2;
	struct rec r;
	int nfd;
	struct pollfd pfd;
	char *got;
	size_t len;

	append_str(f, "INBOX", MSG1);
	mb = select_box(f, f->st, "INBOX", &s1);
	nfd = f->ops->notify_fd(mb);
	assert_true(nfd >= 0);
	spit(f->inbox, mda, strlen(mda), 1);
	pfd.fd = nfd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	do_sync(f, mb, &r);
	assert_int_equal(r.exists, 2);
	assert_int_equal(f->ops->meta(mb, 2)->uid, 2);
	assert_int_equal(f->ops->meta(mb, 2)->internaldate, 833806227);
	got = fetch(f, mb, 2, &len);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
	/* sync drained the notification fd; our own persisting of the UID
	 * may have made new events, which one more sync absorbs */
	do_sync(f, mb, &r);
	assert_int_equal(r.exists, -1);
	pfd.revents = 0;
	assert_int_equal(poll(&pfd, 1, 0), 0);
	f->ops->mailbox_close(mb);

	/* the UID was written into the file */
	got = slurp(f->inbox, NULL);
	assert_non_null(strstr(got, "Subject: from the MDA"));
	assert_non_null(strstr(got, "X-UID: 2\n"));
	free(got);
	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f, f->st, "INBOX", &s2);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(f->ops->meta(mb, 2)->uid, 2);
	f->ops->mailbox_close(mb);
}

static void test_plain_mbox(void **state)
{
	struct fx *f = *state;
	const char *plain = "From a Thu Jan  1 00:00:00 1970\nSubject: 1\n\none\n\n"
			    "From b Thu Jan  1 00:00:01 1970\nSubject: 2\n\ntwo\n";
	struct mailbox *mb;
	struct mailbox_status s1, s2;
	char *got;
	size_t len;

	spit(f->inbox, plain, strlen(plain), 0);
	mb = select_box(f, f->st, "INBOX", &s1);
	assert_int_equal(s1.messages, 2);
	assert_int_equal(s1.uidnext, 3);
	assert_true(s1.uidvalidity != 0);
	assert_int_equal(f->ops->meta(mb, 2)->internaldate, 1);
	got = fetch(f, mb, 2, &len);
	assert_string_equal(got, "Subject: 2\r\n\r\ntwo");   /* the final '\n' was framing */
	free(got);
	f->ops->mailbox_close(mb);
	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f, f->st, "INBOX", &s2);
	assert_int_equal(s2.uidvalidity, s1.uidvalidity);
	assert_int_equal(f->ops->meta(mb, 1)->uid, 1);
	assert_int_equal(f->ops->meta(mb, 2)->uid, 2);
	f->ops->mailbox_close(mb);
}

static void test_not_mbox(void **state)
{
	struct fx *f = *state;
	struct mailbox *mb;
	struct mailbox_status stt;
	struct error err;
	char *p = xasprintf("%s/mail/notes", f->dir);
	mkdir(f->maildir, 0700);
	spit(p, "just text\n", 10, 0);
	assert_int_equal(f->ops->select(f->st, "notes", 0, &mb, &stt, &err), -1);
	assert_int_equal(err.code, ERR_PARSE);
	free(p);
}

static void test_copy_move(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox *mb, *db;
	struct rec r;
	uint32_t uids[] = { 3, 1 }, dst[2], uv, two = 2;
	const char *kw[] = { "Important" };

	append_str(f, "INBOX", "Subject: 1\r\n\r\n1\r\n");
	append_str(f, "INBOX", "Subject: 2\r\n\r\n2\r\n");
	append_str(f, "INBOX", "Subject: 3\r\n\r\n3\r\n");
	assert_int_equal(f->ops->create(f->st, "Archive", 0, &err), 0);
	mb = select_box(f, f->st, "INBOX", NULL);
	assert_int_equal(f->ops->store_flags(mb, uids, 1, STORE_ADD, MF_FLAGGED, kw, 1, 0, NULL,
					     NULL, &err), 0);
	assert_int_equal(f->ops->copy(mb, uids, 2, "Nope", 0, &uv, dst, &err), -1);
	assert_int_equal(err.code, ERR_TRYCREATE);
	assert_int_equal(f->ops->copy(mb, uids, 2, "Archive", 0, &uv, dst, &err), 0);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[1], 2);
	db = select_box(f, f->st, "Archive", NULL);
	assert_int_equal(f->ops->count(db), 2);
	{
		size_t len;
		const char *const *names;
		char *got = fetch(f, db, 1, &len);
		assert_string_equal(got, "Subject: 3\r\n\r\n3\r\n");
		free(got);
		assert_int_equal(f->ops->meta(db, 1)->flags, MF_FLAGGED);
		assert_int_equal(f->ops->meta(db, 1)->nkw, 1);
		f->ops->keywords(db, &names);
		assert_string_equal(names[f->ops->meta(db, 1)->kw[0]], "Important");
	}
	/* MOVE: the copy appears in Archive, the source goes */
	assert_int_equal(f->ops->copy(mb, &two, 1, "Archive", 1, &uv, dst, &err), 0);
	assert_int_equal(dst[0], 3);
	do_sync(f, mb, &r);
	assert_int_equal(r.nexp, 1);
	assert_int_equal(r.exp_seq[0], 2);
	assert_int_equal(f->ops->count(mb), 2);
	do_sync(f, db, &r);
	assert_int_equal(r.exists, 3);
	/* copy into the same mailbox */
	assert_int_equal(f->ops->copy(mb, uids, 1, "INBOX", 0, &uv, dst, &err), 0);
	assert_int_equal(dst[0], 4);
	do_sync(f, mb, &r);
	assert_int_equal(f->ops->count(mb), 3);
	{
		size_t len;
		char *got = fetch(f, mb, 4, &len);
		assert_string_equal(got, "Subject: 3\r\n\r\n3\r\n");
		free(got);
	}
	f->ops->mailbox_close(db);
	f->ops->mailbox_close(mb);
}

static void test_rename_inbox(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox_status s1, s2, s3;
	uint32_t uv, uid;
	struct mailbox *mb;

	append_str(f, "INBOX", "Subject: 1\r\n\r\n1\r\n");
	append_str(f, "INBOX", "Subject: 2\r\n\r\n2\r\n");
	assert_int_equal(f->ops->status(f->st, "INBOX", &s1, &err), 0);
	assert_int_equal(f->ops->rename(f->st, "INBOX", "Old", &err), 0);
	assert_int_equal(f->ops->status(f->st, "INBOX", &s2, &err), 0);
	assert_int_equal(s2.messages, 0);
	assert_int_equal(s2.uidnext, 3);   /* INBOX never reuses a UID */
	assert_int_equal(f->ops->status(f->st, "Old", &s3, &err), 0);
	assert_int_equal(s3.messages, 2);
	assert_int_equal(s3.uidnext, 3);
	mb = select_box(f, f->st, "Old", NULL);
	{
		size_t len;
		char *got = fetch(f, mb, 2, &len);
		assert_string_equal(got, "Subject: 2\r\n\r\n2\r\n");
		free(got);
	}
	f->ops->mailbox_close(mb);
	assert_int_equal(f->ops->rename(f->st, "INBOX", "Old", &err), -1);
	assert_int_equal(err.code, ERR_ALREADYEXISTS);
	assert_int_equal(mbox_append(f->st, "INBOX", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
					&uid, &err), 0);
	assert_int_equal(uv, s2.uidvalidity);
	assert_int_equal(uid, 3);
}

static uint32_t uidvalidity_of(struct fx *f, const char *name)
{
	struct mailbox_status stt;
	struct error err;
	if (f->ops->status(f->st, name, &stt, &err) < 0)
		fail_msg("status %s: %s", name, err.msg);
	return stt.uidvalidity;
}

/* Issue 17 item 12: a mailbox created again gets a greater UIDVALIDITY,
 * within one second, from a new store (a restart), after one whose value
 * came from elsewhere, and whatever the counter file holds. */
static void test_uidvalidity_never_reused(void **state)
{
	struct fx *f = *state;
	struct error err;
	uint32_t last = 0, uv;
	char *counter = xasprintf("%s/.uidvalidity", f->maildir);

	for (int round = 0; round < 6; round++) {
		if (round == 3) {   /* a restart: the store is opened anew */
			f->ops->store_close(f->st);
			f->st = open_store(f);
		}
		assert_int_equal(f->ops->create(f->st, "Box", 0, &err), 0);
		uv = uidvalidity_of(f, "Box");
		assert_true(uv > last);
		assert_int_equal(f->ops->delete(f->st, "Box", &err), 0);
		last = uv;
	}
	/* A file another server wrote, with a UIDVALIDITY far ahead. */
	static const char foreign[] =
		"From a@b Mon Jan  1 00:00:00 2024\nX-IMAPbase: 4000000000 1\nX-UID: 1\n\nx\n\n";
	char *box = xasprintf("%s/Box", f->maildir);
	spit(box, foreign, sizeof(foreign) - 1, 0);
	assert_int_equal(uidvalidity_of(f, "Box"), 4000000000u);
	assert_int_equal(f->ops->delete(f->st, "Box", &err), 0);
	assert_int_equal(f->ops->create(f->st, "Box", 0, &err), 0);
	assert_true(uidvalidity_of(f, "Box") > 4000000000u);
	assert_int_equal(f->ops->delete(f->st, "Box", &err), 0);
	/* A counter that says nothing useful: the clock still orders new ones. */
	spit(counter, "garbage\n", 8, 0);
	assert_int_equal(f->ops->create(f->st, "Box", 0, &err), 0);
	assert_true(uidvalidity_of(f, "Box") >= (uint32_t)time(NULL) - 1);
	/* The counter at its end: CREATE says so instead of reusing a value. */
	assert_int_equal(f->ops->delete(f->st, "Box", &err), 0);
	spit(counter, "4294967295\n", 11, 0);
	assert_int_equal(f->ops->create(f->st, "Box", 0, &err), -1);
	assert_int_equal(err.code, ERR_LIMIT);
	assert_int_equal(attrs_of(f, "Box"), -1);
	free(counter);
	free(box);
}

static void test_status_and_errors(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct mailbox_status stt;
	struct mailbox *mb;
	uint32_t uv, uid;

	append_msg(f, f->st, "INBOX", MSG1, strlen(MSG1), MF_SEEN);
	append_str(f, "INBOX", MSG1);
	assert_int_equal(f->ops->status(f->st, "INBOX", &stt, &err), 0);
	assert_int_equal(stt.messages, 2);
	assert_int_equal(stt.unseen, 1);
	assert_int_equal(stt.uidnext, 3);
	assert_int_equal(stt.size, 2 * strlen(MSG1));
	assert_true(stt.highestmodseq >= 2);

	assert_int_equal(mbox_append(f->st, "Missing", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
					&uid, &err), -1);
	assert_int_equal(err.code, ERR_TRYCREATE);
	assert_int_equal(f->ops->select(f->st, "Missing", 0, &mb, &stt, &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	assert_int_equal(f->ops->status(f->st, "Missing", &stt, &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);

	/* read-only views refuse changes */
	assert_int_equal(f->ops->select(f->st, "INBOX", 1, &mb, &stt, &err), 0);
	assert_int_equal(stt.first_unseen, 2);
	uid = 1;
	assert_int_equal(f->ops->store_flags(mb, &uid, 1, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL,
					     NULL, &err), -1);
	assert_int_equal(f->ops->expunge(mb, NULL, 0, &err), -1);
	f->ops->mailbox_close(mb);
}

static void test_locking(void **state)
{
	struct fx *f = *state;
	struct error err;
	uint32_t uv, uid;
	char *lock = xasprintf("%s.lock", f->inbox);
	struct timespec old[2] = { { time(NULL) - 600, 0 }, { time(NULL) - 600, 0 } };
	struct stat sb;

	append_str(f, "INBOX", MSG1);
	f->cfg.lock_timeout = 1;
	f->ops->store_close(f->st);
	f->st = open_store(f);
	spit(lock, "1\n", 2, 0);
	assert_int_equal(mbox_append(f->st, "INBOX", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
					&uid, &err), -1);
	assert_int_equal(err.code, ERR_INUSE);
	/* a dotlock older than five minutes belongs to a dead process */
	assert_int_equal(utimensat(AT_FDCWD, lock, old, 0), 0);
	assert_int_equal(mbox_append(f->st, "INBOX", MSG1, strlen(MSG1), 0, NULL, 0, 0, 0, &uv,
					&uid, &err), 0);
	assert_int_equal(uid, 2);
	assert_int_equal(stat(lock, &sb), -1);   /* and ours is gone again */
	/* an fcntl lock held elsewhere makes us wait, then give up */
	{
		pid_t pid;
		int p[2];
		char c;
		assert_int_equal(pipe(p), 0);
		pid = fork();
		if (pid == 0) {
			int fd = open(f->inbox, O_RDWR);
			struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			fcntl(fd, F_SETLK, &fl);
			if (write(p[1], "x", 1) < 0)
				_exit(1);
			sleep(3);
			_exit(0);
		}
		assert_int_equal(read(p[0], &c, 1), 1);
		assert_int_equal(mbox_append(f->st, "INBOX", MSG1, strlen(MSG1), 0, NULL, 0, 0,
						0, &uv, &uid, &err), -1);
		assert_int_equal(err.code, ERR_INUSE);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		close(p[1]);
	}
	assert_int_equal(stat(lock, &sb), -1);
	free(lock);
}

static void test_file_modes(void **state)
{
	struct fx *f = *state;
	struct error err;
	struct stat sb;
	struct mailbox *mb;
	uint32_t one = 1;
	char *p = xasprintf("%s/mail/dir/box", f->dir);
	char *d = xasprintf("%s/mail/dir", f->dir);

	assert_int_equal(f->ops->create(f->st, "dir/box", 0, &err), 0);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(stat(d, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	append_str(f, "dir/box", MSG1);
	chmod(p, 0640);
	mb = select_box(f, f->st, "dir/box", NULL);
	assert_int_equal(f->ops->store_flags(mb, &one, 1, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL,
					     NULL, &err), 0);
	f->ops->mailbox_close(mb);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);   /* kept across the rewrite */
	free(p);
	free(d);
}

/* ---- sample mailboxes ------------------------------------------------------ */

static void check_all_messages(struct fx *f, struct mailbox *mb)
{
	for (uint32_t seq = 1; seq <= f->ops->count(mb); seq++) {
		const struct msg_meta *m = f->ops->meta(mb, seq);
		size_t len;
		char *got = fetch(f, mb, m->uid, &len);
		assert_int_equal(len, m->size);
		/* every line ends in CRLF now, never a bare LF */
		for (size_t i = 0; i < len; i++)
			if (got[i] == '\n')
				assert_true(i > 0 && got[i - 1] == '\r');
		free(got);
	}
}

static void test_corpus_simple(void **state)
{
	struct fx *f = *state;
	char *path = xasprintf("%s/simple.mbox", data_dir());
	size_t len, glen;
	char *data = slurp(path, &len), *got, *again;
	struct mailbox *mb;
	struct mailbox_status stt;
	struct error err;
	uint32_t one = 1;

	spit(f->inbox, data, len, 0);
	mb = select_box(f, f->st, "INBOX", &stt);
	assert_int_equal(stt.messages, 3);
	check_all_messages(f, mb);
	got = fetch(f, mb, 1, &glen);
	assert_true(strncmp(got, "From: fejj@gnome.org\r\nTo: fejj@gnome.org\r\n", 42) == 0);
	/* "From - " has no date: the Date: header gives INTERNALDATE */
	assert_int_equal(f->ops->meta(mb, 1)->internaldate, 1030084373);
	assert_int_equal(f->ops->meta(mb, 1)->tz_minutes, -240);
	/* rewriting the file (a flag change) does not change a byte */
	assert_int_equal(f->ops->store_flags(mb, &one, 1, STORE_ADD, MF_SEEN, NULL, 0, 0, NULL,
					     NULL, &err), 0);
	{
		struct rec r;
		do_sync(f, mb, &r);
	}
	again = fetch(f, mb, 1, &len);
	assert_int_equal(len, glen);
	assert_memory_equal(got, again, len);
	free(again);
	free(got);
	f->ops->mailbox_close(mb);
	free(data);
	free(path);
}

static void test_corpus_content_length(void **state)
{
	struct fx *f = *state;
	char *path = xasprintf("%s/content-length.mbox", data_dir());
	size_t len;
	char *data = slurp(path, &len);
	struct mailbox *mb;
	struct mailbox_status stt;

	struct error err;
	assert_int_equal(f->ops->create(f->st, "cl", 0, &err), 0);
	free(path);
	path = xasprintf("%s/cl", f->maildir);
	spit(path, data, len, 0);
	mb = select_box(f, f->st, "cl", &stt);
	assert_int_equal(stt.messages, 29);
	/* "From - Mon Jun  3 12:50:27 1996" */
	assert_int_equal(f->ops->meta(mb, 4)->internaldate, 833806227);
	check_all_messages(f, mb);
	f->ops->mailbox_close(mb);
	free(data);
	free(path);
}

static void test_uw_pseudo_message(void **state)
{
	struct fx *f = *state;
	const char *uw =
		"From MAILER-DAEMON Wed Oct 10 10:00:00 2001\n"
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		"X-IMAP: 1002700000 0000000012 $Junk\nStatus: RO\n\nThis text is part of the "
		"internal format of your mail folder.\n\n"
		"From a Thu Jan  1 00:00:00 1970\nSubject: real\nX-UID: 11\nStatus: RO\n\nbody\n\n";
	struct mailbox *mb;
	struct mailbox_status stt;

	spit(f->inbox, uw, strlen(uw), 0);
	mb = select_box(f, f->st, "INBOX", &stt);
	assert_int_equal(stt.messages, 1);
	assert_int_equal(stt.uidvalidity, 1002700000);
	assert_int_equal(stt.uidnext, 13);   /* 12 is the last UID given out */
	assert_int_equal(f->ops->meta(mb, 1)->uid, 11);
	assert_int_equal(f->ops->meta(mb, 1)->flags, MF_SEEN);
	f->ops->mailbox_close(mb);
}

static void test_special_use_persists(void **state)
{
	struct fx *f = *state;
	struct error err;
	char *p = xasprintf("%s/mail/.specialuse", f->dir);
	struct stat sb;
	size_t len;
	char *text;

	assert_int_equal(f->ops->create(f->st, "Saved", MA_ARCHIVE | MA_DRAFTS, &err), 0);
	assert_int_equal(f->ops->create(f->st, "work/Sent mail", MA_SENT, &err), 0);
	assert_int_equal(f->ops->create(f->st, "Sent", MA_JUNK, &err), 0);  /* overrides the name */
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	text = slurp(p, &len);
	assert_non_null(strstr(text, "Saved\t\\Drafts \\Archive\n"));
	free(text);
	/* survives a new store */
	f->ops->store_close(f->st);
	f->st = open_store(f);
	assert_int_equal(attrs_of(f, "Saved") & (MA_ARCHIVE | MA_DRAFTS | MA_SENT),
			 MA_ARCHIVE | MA_DRAFTS);
	assert_true(attrs_of(f, "work/Sent mail") & MA_SENT);
	assert_int_equal(attrs_of(f, "Sent") & (MA_SENT | MA_JUNK), MA_JUNK);
	/* RENAME carries it, also for what is below a renamed level */
	assert_int_equal(f->ops->rename(f->st, "Saved", "Kept", &err), 0);
	assert_int_equal(attrs_of(f, "Kept") & (MA_ARCHIVE | MA_DRAFTS), MA_ARCHIVE | MA_DRAFTS);
	assert_int_equal(f->ops->rename(f->st, "work", "play", &err), 0);
	assert_true(attrs_of(f, "play/Sent mail") & MA_SENT);
	/* a new mailbox under the old name does not inherit it */
	assert_int_equal(f->ops->create(f->st, "Saved", 0, &err), 0);
	assert_int_equal(attrs_of(f, "Saved") & (MA_ARCHIVE | MA_DRAFTS), 0);
	/* DELETE drops it; a re-created mailbox starts plain */
	assert_int_equal(f->ops->delete(f->st, "Kept", &err), 0);
	assert_int_equal(f->ops->create(f->st, "Kept", 0, &err), 0);
	assert_int_equal(attrs_of(f, "Kept") & (MA_ARCHIVE | MA_DRAFTS), 0);
	/* an entry left by a crash (mailbox gone) does not reach a new one */
	{
		char *gone = xasprintf("%s/mail/play/Sent mail", f->dir);
		assert_int_equal(unlink(gone), 0);
		free(gone);
	}
	assert_int_equal(f->ops->create(f->st, "play/Sent mail", 0, &err), 0);
	assert_int_equal(attrs_of(f, "play/Sent mail") & MA_SENT, 0);
	/* garbage lines are ignored */
	{
		static const char junk[] = "junk\n../x\t\\Sent\nok\t\\Nothing\n\tx\n";
		spit(p, junk, sizeof(junk) - 1, 0);
	}
	assert_true(attrs_of(f, "INBOX") >= 0);
	free(p);
}

static void test_defaults_for_new_user(void **state)
{
	struct fx *f = *state;
	struct error err;
	static const struct {
		const char *name;
		unsigned bit;
	} want[] = {
		{ "Drafts", MA_DRAFTS }, { "Sent", MA_SENT }, { "Trash", MA_TRASH },
		{ "Junk", MA_JUNK },     { "Archive", MA_ARCHIVE },
	};
	char *bob_dir = xasprintf("%s/bob", f->dir);
	struct backend_user u = { .name = "bob", .home = bob_dir, .uid = getuid(), .gid = getgid() };
	struct store *st = NULL, *keep = f->st;

	mkdir(bob_dir, 0700);
	assert_int_equal(f->ops->store_open(&u, &f->cfg, &st, &err), 0);
	f->st = st;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		long a = attrs_of(f, want[i].name);
		assert_true(a >= 0);
		assert_true(a & want[i].bit);
		assert_true(a & MA_SUBSCRIBED);
		assert_false(a & MA_NOSELECT);
	}
	/* deleted by the user: not made again at the next login */
	assert_int_equal(f->ops->delete(f->st, "Junk", &err), 0);
	f->ops->store_close(st);
	assert_int_equal(f->ops->store_open(&u, &f->cfg, &st, &err), 0);
	f->st = st;
	assert_int_equal(attrs_of(f, "Junk"), MA_SUBSCRIBED | MA_NONEXISTENT | MA_NOSELECT);
	assert_true(attrs_of(f, "Trash") & MA_TRASH);
	f->ops->store_close(st);
	f->st = keep;
	free(bob_dir);
}

/* ---- \Recent ---------------------------------------------------------------- */

static struct mailbox *examine_box(struct fx *f, struct store *st, const char *box,
				   struct mailbox_status *stt)
{
	struct mailbox *mb = NULL;
	struct error err;
	if (f->ops->select(st, box, 1, &mb, stt, &err) < 0)
		fail_msg("examine %s: %s", box, err.msg);
	return mb;
}

static uint32_t status_recent(struct fx *f, const char *box)
{
	struct mailbox_status stt;
	struct error err;
	if (f->ops->status(f->st, box, &stt, &err) < 0)
		fail_msg("status %s: %s", box, err.msg);
	return stt.recent;
}

/* Appended mail is new (no O); EXAMINE reports it as recent without
 * claiming it; the first SELECT claims it (writes O, no modseq change), a
 * later one does not see it as recent. */
static void test_recent_claim(void **state)
{
	struct fx *f = *state;
	struct store *other = open_store(f);
	struct mailbox *ex, *a, *b;
	struct mailbox_status s;
	uint64_t hms;
	char *disk;

	append_str(f, "INBOX", MSG1);
	append_msg(f, f->st, "INBOX", MSG1, strlen(MSG1), MF_SEEN);
	disk = slurp(f->inbox, NULL);
	assert_null(strstr(disk, "Status: O"));
	assert_null(strstr(disk, "Status: RO"));
	assert_non_null(strstr(disk, "Status: R \n"));
	free(disk);
	assert_int_equal(status_recent(f, "INBOX"), 2);

	ex = examine_box(f, other, "INBOX", &s);
	assert_int_equal(s.recent, 2);
	assert_true(f->ops->meta(ex, 1)->recent);
	assert_true(f->ops->meta(ex, 2)->recent);
	assert_int_equal(f->ops->meta(ex, 2)->flags, MF_SEEN);
	hms = s.highestmodseq;
	assert_int_equal(status_recent(f, "INBOX"), 2);   /* not claimed */

	a = select_box(f, f->st, "INBOX", &s);
	assert_int_equal(s.recent, 2);
	assert_int_equal(s.highestmodseq, hms);
	assert_true(f->ops->meta(a, 1)->recent);
	assert_int_equal(f->ops->meta(a, 1)->flags, 0);
	assert_int_equal(f->ops->meta(a, 2)->flags, MF_SEEN);
	assert_int_equal(status_recent(f, "INBOX"), 0);
	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "Status: O \n"));
	assert_non_null(strstr(disk, "Status: RO\n"));
	free(disk);

	/* the claim is no flag change for the EXAMINE view, which keeps its
	 * \Recent; a second SELECT gets none */
	{
		struct rec r;
		do_sync(f, ex, &r);
		assert_int_equal(r.nchanged, 0);
		assert_int_equal(r.exists, -1);
		assert_true(f->ops->meta(ex, 1)->recent);
		do_sync(f, a, &r);
		assert_int_equal(r.nchanged, 0);
		assert_int_equal(r.exists, -1);
	}
	b = select_box(f, other, "INBOX", &s);
	assert_int_equal(s.recent, 0);
	assert_int_equal(s.highestmodseq, hms);
	assert_false(f->ops->meta(b, 1)->recent);
	f->ops->mailbox_close(b);

	/* a flag change rewrites the file and keeps the O bits */
	{
		struct error err;
		uint32_t one = 1;
		assert_int_equal(f->ops->store_flags(a, &one, 1, STORE_ADD, MF_FLAGGED, NULL, 0, 0,
						     NULL, NULL, &err), 0);
		assert_true(f->ops->meta(a, 1)->recent);
		assert_int_equal(status_recent(f, "INBOX"), 0);
	}
	f->ops->mailbox_close(a);
	f->ops->mailbox_close(ex);
	f->ops->store_close(other);
}

/* New mail while a mailbox is selected: the SELECT view claims it at sync,
 * an EXAMINE view shows it as recent, a view that comes later does not. */
static void test_recent_sync_and_mda(void **state)
{
	struct fx *f = *state;
	const char *mda = "From sender@example.org Mon Jun  3 12:50:27 1996\n"
			  "Subject: from the MDA\n\nHi there\n\n";
	struct store *other = open_store(f);
	struct mailbox *a, *ex, *b;
	struct mailbox_status s;
	struct rec r;
	char *disk;

	append_str(f, "INBOX", MSG1);
	a = select_box(f, f->st, "INBOX", &s);
	assert_int_equal(s.recent, 1);
	ex = examine_box(f, other, "INBOX", &s);
	assert_int_equal(s.recent, 0);

	/* an MDA delivery: no Status, no X-UID */
	spit(f->inbox, mda, strlen(mda), 1);
	assert_int_equal(status_recent(f, "INBOX"), 1);
	do_sync(f, ex, &r);
	assert_int_equal(r.exists, 2);
	assert_true(f->ops->meta(ex, 2)->recent);
	do_sync(f, a, &r);
	assert_int_equal(r.exists, 2);
	assert_int_equal(r.nchanged, 0);
	assert_true(f->ops->meta(a, 1)->recent);
	assert_true(f->ops->meta(a, 2)->recent);
	assert_int_equal(f->ops->meta(a, 2)->uid, 2);
	assert_int_equal(status_recent(f, "INBOX"), 0);
	disk = slurp(f->inbox, NULL);
	assert_non_null(strstr(disk, "Status: O \nX-Status:     \nX-Keywords:" PAD(24) "\nX-UID: 2\n"));
	free(disk);
	do_sync(f, ex, &r);
	assert_int_equal(r.exists, -1);
	assert_int_equal(r.nchanged, 0);

	/* an APPEND (and a COPY) by another session */
	append_msg(f, other, "INBOX", MSG1, strlen(MSG1), 0);
	{
		uint32_t uv, dst, one = 1;
		struct error err;
		assert_int_equal(f->ops->copy(a, &one, 1, "INBOX", 0, &uv, &dst, &err), 0);
		assert_int_equal(dst, 4);
	}
	assert_int_equal(status_recent(f, "INBOX"), 2);
	do_sync(f, a, &r);
	assert_int_equal(r.exists, 4);
	assert_true(f->ops->meta(a, 3)->recent);
	assert_true(f->ops->meta(a, 4)->recent);
	assert_int_equal(status_recent(f, "INBOX"), 0);
	b = select_box(f, other, "INBOX", &s);
	assert_int_equal(s.messages, 4);
	assert_int_equal(s.recent, 0);
	f->ops->mailbox_close(b);
	do_sync(f, ex, &r);
	assert_int_equal(r.exists, 4);
	assert_false(f->ops->meta(ex, 3)->recent);   /* claimed before it saw them */
	f->ops->mailbox_close(ex);
	f->ops->mailbox_close(a);
	f->ops->store_close(other);
}

/* A file we cannot rewrite (a Debian /var/mail is not writable by the
 * user; here the rewrite fails on the file size limit, which holds for root
 * too): SELECT still reports the new mail as recent and does not fail; the
 * claim goes to the record beside the index, so no other session takes it
 * again, and the next rewrite writes it into the file. */
static void test_recent_unwritable(void **state)
{
	struct fx *f = *state;
	const char *mda = "From sender@example.org Mon Jun  3 12:50:27 1996\n"
			  "X-IMAPbase: 1000 2\nX-UID: 1\nSubject: delivered\n\nHi\n\n";
	struct mailbox *a;
	struct mailbox_status s;
	struct rlimit old, lim;

	spit(f->inbox, mda, strlen(mda), 0);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	a = select_box(f, f->st, "INBOX", &s);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(s.messages, 1);
	assert_int_equal(s.recent, 1);
	assert_true(f->ops->meta(a, 1)->recent);
	f->ops->mailbox_close(a);
	assert_int_equal(status_recent(f, "INBOX"), 0);
	a = select_box(f, f->st, "INBOX", &s);
	assert_int_equal(s.recent, 0);
	assert_false(f->ops->meta(a, 1)->recent);
	{
		struct error err;
		uint32_t one = 1;
		char *disk;
		assert_int_equal(f->ops->store_flags(a, &one, 1, STORE_ADD, MF_FLAGGED, NULL, 0, 0,
						     NULL, NULL, &err), 0);
		disk = slurp(f->inbox, NULL);
		assert_non_null(strstr(disk, "Status: O "));
		free(disk);
	}
	f->ops->mailbox_close(a);
}

/* Sessions that only read a big file (one with an index) claim new mail
 * in the record beside the index, not in the file: one session, and one
 * only, sees it as \Recent, across stores (processes), EXAMINE still sees
 * what nobody claimed, STATUS counts what is left, and a record of an
 * earlier mailbox (other UIDVALIDITY) or a torn one claims nothing. */
static void test_recent_record(void **state)
{
	struct fx *f = *state;
	struct store *a_st, *b_st;
	struct mailbox *a, *b, *ex;
	struct mailbox_status s;
	uint32_t first = 0;
	char *disk, *rec;

	config_extra_set(&f->cfg, "mbox_index_min_size", "0", "test");
	a_st = open_store(f);
	b_st = open_store(f);
	append_str(f, "INBOX", MSG1);
	append_str(f, "INBOX", MSG1);
	ex = examine_box(f, b_st, "INBOX", &s);
	assert_int_equal(s.recent, 2);
	a = select_box(f, a_st, "INBOX", &s);
	assert_int_equal(s.recent, 2);
	disk = slurp(f->inbox, NULL);
	assert_null(strstr(disk, "Status: O"));      /* the file was not rewritten */
	free(disk);
	b = select_box(f, b_st, "INBOX", &s);
	assert_int_equal(s.recent, 0);
	assert_false(f->ops->meta(b, 1)->recent);
	assert_int_equal(status_recent(f, "INBOX"), 0);
	/* new mail while both are selected: the first to sync takes it */
	append_str(f, "INBOX", MSG1);
	{
		struct rec r;
		do_sync(f, b, &r);
		assert_true(f->ops->meta(b, 3)->recent);
		do_sync(f, a, &r);
		assert_false(f->ops->meta(a, 3)->recent);
		assert_true(f->ops->meta(a, 1)->recent);
		do_sync(f, ex, &r);
		assert_false(f->ops->meta(ex, 3)->recent);   /* claimed before it looked */
	}
	rec = xasprintf("%s/.haven-index", f->maildir);
	{
		/* the record's API: claims only move forward, per UIDVALIDITY */
		uint32_t uv = s.uidvalidity;
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv), 4);
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv + 1), 1);
		assert_int_equal(mbox_recent_claim(f->st, "INBOX", uv, 2, 3, &first), 0);
		assert_int_equal(first, 4);
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv), 4);
		assert_int_equal(mbox_recent_claim(f->st, "INBOX", uv + 1, 2, 3, &first), 0);
		assert_int_equal(first, 2);
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv), 1);
		assert_int_equal(mbox_recent_claim(f->st, "INBOX", uv, 1, 4, &first), 0);
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv), 4);
		/* torn: claims nothing */
		DIR *d = opendir(rec);
		struct dirent *e;
		int found = 0;
		assert_non_null(d);
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n > 7 && strcmp(e->d_name + n - 7, ".recent") == 0) {
				char *p = xasprintf("%s/%s", rec, e->d_name);
				spit(p, "4", 1, 0);
				free(p);
				found++;
			}
		}
		closedir(d);
		assert_int_equal(found, 1);
		assert_int_equal(mbox_recent_first(f->st, "INBOX", uv), 1);
	}
	free(rec);
	f->ops->mailbox_close(ex);
	f->ops->mailbox_close(b);
	f->ops->mailbox_close(a);
	f->ops->store_close(b_st);
	f->ops->store_close(a_st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_out_of_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hierarchy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subscribe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_fetch_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_raw_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_strips_state_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9_atomicity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uids_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_all_keeps_uids_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_other_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_external_mda, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_headerless_replacement_keeps_view, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_foreign_flag_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_mbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corpus_simple, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corpus_content_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uw_pseudo_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uidvalidity_never_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_use_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_for_new_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_sync_and_mda, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recent_record, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
