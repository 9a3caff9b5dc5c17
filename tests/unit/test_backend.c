/* The storage interface itself: backend settings declared by the backends
 * and checked against haven.conf, the registry, and the store_*() /
 * mailbox_*() calls on top of a real backend (mbox in a temp dir). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <unistd.h>

#include "../../backends/backend.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "../../mail/search.h"

static int check(const char *text, struct error *err)
{
	struct config c;
	int rc;
	config_init(&c);
	if (config_parse(&c, text, strlen(text), "haven.conf", err) < 0)
		fail_msg("parse: %s", err->msg);
	rc = backend_settings_check(&c, err);
	config_free(&c);
	return rc;
}

static void test_settings_checked_where_declared(void **state)
{
	struct error err;
	struct config c;
	(void)state;

	assert_int_equal(check("mbox_dir = %h/Mail\nmbox_index_min_size = -1\n", &err), 0);
	assert_int_equal(check("listen = 127.0.0.1:143\nmbox_bogus = 1\n", &err), -1);
	assert_string_equal(err.msg, "haven.conf:2: unknown key \"mbox_bogus\"");
	assert_int_equal(check("mbox_index_min_size = lots\n", &err), -1);
	assert_non_null(strstr(err.msg, "haven.conf:1: mbox_index_min_size: expected a number"));
	assert_int_equal(check("mbox_index_min_size = -2\n", &err), -1);
	/* A passdb's key is not a backend's business. */
	assert_int_equal(check("passdb_anything = 1\n", &err), 0);
	/* Defaults come from the declaration. */
	config_init(&c);
	assert_string_equal(backend_setting_str(&c, "mbox_dir"), "%h/mail");
	assert_int_equal(backend_setting_int(&c, "mbox_index_min_size"), 262144);
	config_extra_set(&c, "mbox_index_min_size", "0", "test");
	assert_int_equal(backend_setting_int(&c, "mbox_index_min_size"), 0);
	config_free(&c);
	assert_non_null(backend_find("mbox"));
	assert_null(backend_find("maildir"));
}

struct fx {
	char dir[64];
	struct config cfg;
	struct store *st;
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct backend_user u = { .name = "alice", .uid = getuid(), .gid = getgid() };
	struct error err;
	char *v;

	snprintf(f->dir, sizeof(f->dir), "/tmp/haven-backend-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	config_init(&f->cfg);
	v = xasprintf("%s/INBOX", f->dir);
	config_extra_set(&f->cfg, "mbox_inbox", v, "test");
	free(v);
	config_extra_set(&f->cfg, "mbox_dir", "%h/mail", "test");
	u.home = f->dir;
	if (store_open("mbox", &u, &f->cfg, &f->st, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->st);
	config_free(&f->cfg);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static char *read_all(struct mailbox *mb, uint32_t uid, size_t *len)
{
	struct msg_stream *s;
	struct error err;
	struct buf b = BUF_INIT;
	char tmp[7];
	ssize_t r;
	if (mailbox_open_message(mb, uid, &s, &err) < 0)
		fail_msg("open_message: %s", err.msg);
	while ((r = s->ops->pread(s, tmp, sizeof(tmp), b.len)) > 0)
		buf_append(&b, tmp, (size_t)r);
	assert_int_equal(r, 0);
	assert_int_equal(b.len, s->size);
	s->ops->close(s);
	*len = b.len;
	buf_append_byte(&b, '\0');
	return buf_steal(&b);
}

/* APPEND in pieces is the same message as APPEND at once; an aborted one
 * leaves nothing. */
static void test_append_stream(void **state)
{
	struct fx *f = *state;
	static const char msg[] = "From: a@example.org\r\nSubject: pieces\r\n\r\n"
				  "From the start\r\nline two\r\n";
	struct appender *ap;
	struct mailbox *mb;
	struct mailbox_status st;
	struct error err;
	uint32_t uidv, uid;
	const char *kw[] = { "$Forwarded" };
	size_t len;

	assert_int_equal(store_append_begin(f->st, "INBOX", sizeof(msg) - 1, MF_SEEN, kw, 1, 1000000,
					    60, &ap, &err), 0);
	for (size_t i = 0; i < sizeof(msg) - 1; i += 5)
		assert_int_equal(store_append_write(ap, msg + i, sizeof(msg) - 1 - i < 5 ?
								  sizeof(msg) - 1 - i : 5, &err), 0);
	assert_int_equal(store_append_finish(ap, &uidv, &uid, &err), 0);
	assert_int_equal(uid, 1);
	assert_int_equal(store_append_begin(f->st, "INBOX", 10, 0, NULL, 0, 1000000, 0, &ap, &err), 0);
	assert_int_equal(store_append_write(ap, "Subject: x", 10, &err), 0);
	store_append_abort(ap);
	assert_int_equal(store_append_begin(f->st, "Nowhere", 10, 0, NULL, 0, 0, 0, &ap, &err) < 0 ||
			 store_append_finish(ap, &uidv, &uid, &err) < 0, 1);
	assert_int_equal(err.code, ERR_TRYCREATE);

	assert_int_equal(mailbox_select(f->st, "INBOX", 1, &mb, &st, &err), 0);
	assert_int_equal(mailbox_count(mb), 1);
	assert_int_equal(st.uidvalidity, uidv);
	assert_int_equal(mailbox_uid(mb, 1), 1);
	assert_int_equal(mailbox_uid_to_seq(mb, 1), 1);
	assert_int_equal(mailbox_uid_to_seq(mb, 2), 0);
	const struct msg_meta *m = mailbox_meta(mb, 1);
	assert_int_equal(m->flags, MF_SEEN);
	assert_int_equal(m->nkw, 1);
	char *got = read_all(mb, 1, &len);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_memory_equal(got, msg, len);
	free(got);
	mailbox_close(mb);
}

static void uid_to_seq_all(struct mailbox *mb, const uint32_t *uids, const uint32_t *seqs,
			   size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mailbox_uid_to_seq(mb, uids[i]), seqs[i]);
}

/* uid_to_seq tries the message after the one it found last before its
 * binary search: in order, out of order, after an expunge moved the
 * numbers, and in a view opened anew, the answers stay those of the
 * view. */
static void test_uid_to_seq_any_order(void **state)
{
	struct fx *f = *state;
	static const char msg[] = "Subject: n\r\n\r\nx\r\n";
	static const uint32_t up[] = { 1, 2, 3, 4, 5, 6 }, mixed[] = { 6, 1, 4, 2, 3, 5, 7, 0 };
	static const uint32_t mixed_seqs[] = { 6, 1, 4, 2, 3, 5, 0, 0 };
	static const uint32_t after[] = { 1, 2, 3, 4, 5, 6 }, after_seqs[] = { 1, 2, 0, 3, 4, 5 };
	struct mailbox *mb;
	struct mailbox_status st;
	struct error err;
	uint32_t uidv, uid, three = 3;
	size_t nfailed;

	for (int i = 0; i < 6; i++)
		assert_int_equal(store_append(f->st, "INBOX", msg, sizeof(msg) - 1, 0, NULL, 0,
					      1000000, 0, &uidv, &uid, &err), 0);
	assert_int_equal(mailbox_select(f->st, "INBOX", 0, &mb, &st, &err), 0);
	uid_to_seq_all(mb, up, up, 6);
	uid_to_seq_all(mb, mixed, mixed_seqs, 8);
	uid_to_seq_all(mb, up, up, 2);   /* the hint now at seq 2 */
	assert_int_equal(mailbox_store_flags(mb, &three, 1, STORE_ADD, MF_DELETED, NULL, 0, 0,
					     NULL, &nfailed, &err), 0);
	assert_int_equal(mailbox_expunge(mb, NULL, 0, &err), 0);
	assert_int_equal(mailbox_sync(mb, NULL, NULL, &err), 0);
	assert_int_equal(mailbox_count(mb), 5);
	uid_to_seq_all(mb, after, after_seqs, 6);
	mailbox_close(mb);
	assert_int_equal(mailbox_select(f->st, "INBOX", 1, &mb, &st, &err), 0);
	uid_to_seq_all(mb, after + 3, after_seqs + 3, 3);
	uid_to_seq_all(mb, after, after_seqs, 6);
	mailbox_close(mb);
}

/* The quota test at its edges: the limit itself may be reached, not
 * passed; a resource without a limit never refuses; a size a client
 * announces near 2^64 does not wrap around into "fits". */
static void test_quota_exceeded_edges(void **state)
{
	struct store_quota q = { .used_bytes = 900, .used_messages = 9, .limit_bytes = 1000,
				 .limit_messages = 10 };
	struct store_quota none = { .used_bytes = 1u << 30, .used_messages = 1u << 30 };

	(void)state;
	assert_false(store_quota_exceeded(&q, 100, 1));
	assert_true(store_quota_exceeded(&q, 101, 1));
	assert_true(store_quota_exceeded(&q, 0, 2));
	assert_true(store_quota_exceeded(&q, UINT64_MAX, 1));
	assert_true(store_quota_exceeded(&q, UINT64_MAX - 899, 0));
	assert_false(store_quota_exceeded(&none, UINT64_MAX, UINT64_MAX));
	q.limit_messages = 0;
	assert_false(store_quota_exceeded(&q, 100, 1000));
	q.used_bytes = 2000;   /* over already (a limit lowered): nothing more */
	assert_true(store_quota_exceeded(&q, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_checked_where_declared),
		cmocka_unit_test_setup_teardown(test_append_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uid_to_seq_any_order, setup, teardown),
		cmocka_unit_test(test_quota_exceeded_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
