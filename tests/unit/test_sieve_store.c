/* The Sieve script store (store_sieve_* of backends/backend.h): the same
 * tests on every store. mbox runs in a temp dir; the PostgreSQL store
 * when HAVEN_TEST_PGDSN names a database of Haven's schema holding the
 * user "alice" (tests/integration/test_sieve_store.py runs it so). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backends/backend.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"

struct fx {
	char dir[64];
	struct config cfg;
	struct store *st;
	const char *backend;
};

static const char *backend_name = "mbox";

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct backend_user u = { .name = "alice", .uid = getuid(), .gid = getgid() };
	const char *dsn = getenv("HAVEN_TEST_PGDSN");
	struct error err;
	char *v;

	snprintf(f->dir, sizeof(f->dir), "/tmp/haven-sieve-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	config_init(&f->cfg);
	f->cfg.sieve_max_scripts = 3;
	f->cfg.sieve_max_script_size = 2048;
	v = xasprintf("%s/INBOX", f->dir);
	config_extra_set(&f->cfg, "mbox_inbox", v, "test");
	free(v);
	config_extra_set(&f->cfg, "mbox_dir", "%h/mail", "test");
	if (strcmp(backend_name, "pgsql") == 0)
		config_extra_set(&f->cfg, "pgsql_dsn", dsn, "test");
	u.home = f->dir;
	f->backend = backend_name;
	if (store_open(backend_name, &u, &f->cfg, &f->st, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

/* Nothing of one test stays for the next (the database is shared). */
static void sieve_forget_all(struct store *st);

static int teardown(void **state)
{
	struct fx *f = *state;
	sieve_forget_all(f->st);
	store_close(f->st);
	config_free(&f->cfg);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* "name:active name:active ..." in the order listed, sorted by name. */
struct listing {
	char *names[16];
	size_t n;
};

static void list_cb(void *ctx, const char *name, int active)
{
	struct listing *l = ctx;
	if (l->n < 16)
		l->names[l->n++] = xasprintf("%s:%d", name, active);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *listing(struct store *st)
{
	struct listing l = { .n = 0 };
	struct buf b = BUF_INIT;
	struct error err;

	if (store_sieve_list(st, list_cb, &l, &err) < 0)
		fail_msg("list: %s", err.msg);
	qsort(l.names, l.n, sizeof(l.names[0]), cmp_str);
	for (size_t i = 0; i < l.n; i++) {
		buf_printf(&b, "%s%s", i ? " " : "", l.names[i]);
		free(l.names[i]);
	}
	buf_append_byte(&b, '\0');
	return buf_steal(&b);
}

static void assert_listing(struct store *st, const char *want)
{
	char *got = listing(st);
	assert_string_equal(got, want);
	free(got);
}

static void sieve_forget_all(struct store *st)
{
	struct listing l = { .n = 0 };
	struct error err;
	store_sieve_activate(st, NULL, &err);
	if (store_sieve_list(st, list_cb, &l, &err) < 0)
		return;
	for (size_t i = 0; i < l.n; i++) {
		*strrchr(l.names[i], ':') = '\0';
		store_sieve_delete(st, l.names[i], &err);
		free(l.names[i]);
	}
}

static void put(struct store *st, const char *name, const char *text)
{
	struct error err;
	if (store_sieve_put(st, name, text, strlen(text), &err) < 0)
		fail_msg("put %s: %s", name, err.msg);
}

/* The active script: "name=text", or "" when none. */
static char *active(struct store *st)
{
	struct buf b = BUF_INIT;
	struct error err;
	char *name, *r;
	if (store_sieve_active(st, &b, &name, &err) < 0)
		fail_msg("active: %s", err.msg);
	buf_append_byte(&b, '\0');
	r = name ? xasprintf("%s=%s", name, b.data) : xstrdup("");
	free(name);
	buf_free(&b);
	return r;
}

static void assert_active(struct store *st, const char *want)
{
	char *got = active(st);
	assert_string_equal(got, want);
	free(got);
}

static void test_put_get_list(void **state)
{
	struct fx *f = *state;
	struct buf b = BUF_INIT;
	struct error err;

	assert_listing(f->st, "");
	assert_active(f->st, "");
	put(f->st, "vacation", "keep;\r\n");
	put(f->st, "spam filter", "discard;");
	put(f->st, "vacation", "require \"fileinto\";\r\nfileinto \"x\";\r\n");
	assert_listing(f->st, "spam filter:0 vacation:0");
	assert_int_equal(store_sieve_get(f->st, "vacation", &b, &err), 0);
	buf_append_byte(&b, '\0');
	assert_string_equal(b.data, "require \"fileinto\";\r\nfileinto \"x\";\r\n");
	buf_free(&b);
	assert_int_equal(store_sieve_get(f->st, "nope", &b, &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	buf_free(&b);
}

static void test_activate_delete(void **state)
{
	struct fx *f = *state;
	struct error err;

	put(f->st, "a", "keep;");
	put(f->st, "b", "discard;");
	assert_int_equal(store_sieve_activate(f->st, "a", &err), 0);
	assert_listing(f->st, "a:1 b:0");
	assert_active(f->st, "a=keep;");
	assert_int_equal(store_sieve_delete(f->st, "a", &err), -1);
	assert_int_equal(err.code, ERR_INUSE);
	assert_int_equal(store_sieve_activate(f->st, "b", &err), 0);
	assert_listing(f->st, "a:0 b:1");
	assert_int_equal(store_sieve_delete(f->st, "a", &err), 0);
	assert_int_equal(store_sieve_delete(f->st, "a", &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	assert_int_equal(store_sieve_activate(f->st, "a", &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	assert_listing(f->st, "b:1");
	/* replacing the active script keeps it active, with the new text */
	put(f->st, "b", "stop;");
	assert_active(f->st, "b=stop;");
	assert_int_equal(store_sieve_activate(f->st, NULL, &err), 0);
	assert_listing(f->st, "b:0");
	assert_active(f->st, "");
	assert_int_equal(store_sieve_activate(f->st, NULL, &err), 0);
}

static void test_rename(void **state)
{
	struct fx *f = *state;
	struct error err;

	put(f->st, "a", "keep;");
	put(f->st, "b", "discard;");
	assert_int_equal(store_sieve_activate(f->st, "a", &err), 0);
	assert_int_equal(store_sieve_rename(f->st, "a", "b", &err), -1);
	assert_int_equal(err.code, ERR_ALREADYEXISTS);
	assert_int_equal(store_sieve_rename(f->st, "zz", "c", &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	/* the active script stays active under its new name */
	assert_int_equal(store_sieve_rename(f->st, "a", "c", &err), 0);
	assert_listing(f->st, "b:0 c:1");
	assert_active(f->st, "c=keep;");
	assert_int_equal(store_sieve_rename(f->st, "b", "d", &err), 0);
	assert_listing(f->st, "c:1 d:0");
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	char big[2049];
	struct error err;

	memset(big, '#', sizeof(big));
	assert_int_equal(store_sieve_put(f->st, "big", big, sizeof(big), &err), -1);
	assert_int_equal(err.code, ERR_OVERQUOTA);
	if (store_sieve_put(f->st, "big", big, sizeof(big) - 1, &err) < 0)
		fail_msg("put: %s", err.msg);
	put(f->st, "two", "keep;");
	put(f->st, "three", "keep;");
	assert_int_equal(store_sieve_put(f->st, "four", "keep;", 5, &err), -1);
	assert_int_equal(err.code, ERR_OVERQUOTA);
	put(f->st, "three", "discard;");   /* replacing is no new script */
	assert_listing(f->st, "big:0 three:0 two:0");
}

static void test_names(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "", "a/b", "tab\there", "del\x7f", "\xc3", "\xc0\xaf" };
	char longname[130];
	struct error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(store_sieve_put(f->st, bad[i], "keep;", 5, &err), -1);
		assert_int_equal(err.code, ERR_CANNOT);
	}
	memset(longname, 'n', sizeof(longname));
	longname[129] = '\0';
	assert_int_equal(store_sieve_put(f->st, longname, "keep;", 5, &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
	longname[128] = '\0';
	put(f->st, longname, "keep;");
	put(f->st, "Ünïcode ..", "keep;");
	assert_int_equal(store_sieve_rename(f->st, "Ünïcode ..", "x/y", &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
	assert_int_equal(store_sieve_delete(f->st, longname, &err), 0);
	assert_listing(f->st, "Ünïcode ..:0");
}

static void test_reply_claim(void **state)
{
	struct fx *f = *state;
	struct error err;

	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-1", 600, &err), 1);
	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-1", 600, &err), 0);
	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-2", 600, &err), 1);
	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-1", 600, &err), 0);
	/* :seconds 0 (RFC 6131): every time */
	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-3", 0, &err), 1);
	assert_int_equal(store_sieve_reply_claim(f->st, "sender-handle-3", 0, &err), 1);
	assert_int_equal(store_sieve_reply_claim(f->st, "two words", 600, &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
	assert_int_equal(store_sieve_reply_claim(f->st, "", 600, &err), -1);
}

/* mbox: Pigeonhole's files, so Dovecot's and ours are the same. */
static void test_mbox_layout(void **state)
{
	struct fx *f = *state;
	char *link, *path, target[256];
	struct error err;
	ssize_t n;
	FILE *fp;

	if (strcmp(f->backend, "mbox") != 0)
		skip();
	put(f->st, "rules", "keep;");
	assert_int_equal(store_sieve_activate(f->st, "rules", &err), 0);
	link = xasprintf("%s/.dovecot.sieve", f->dir);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "sieve/rules.sieve");
	path = xasprintf("%s/sieve/rules.sieve", f->dir);
	assert_int_equal(access(path, R_OK), 0);
	free(path);
	/* A regular file written by hand is the active script, and is kept
	 * (as sieve/dovecot.orig.sieve) when another one is activated. */
	unlink(link);
	fp = fopen(link, "w");
	assert_non_null(fp);
	fputs("discard;", fp);
	fclose(fp);
	assert_active(f->st, ".dovecot.sieve=discard;");
	assert_int_equal(store_sieve_activate(f->st, "rules", &err), 0);
	assert_listing(f->st, "dovecot.orig:0 rules:1");
	assert_active(f->st, "rules=keep;");
	/* A link to a script that is gone: none active, mail goes on. */
	unlink(link);
	assert_int_equal(symlink("sieve/gone.sieve", link), 0);
	assert_active(f->st, "");
	free(link);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mbox_layout, setup, teardown),
	};
	if (getenv("HAVEN_TEST_PGDSN"))
		backend_name = "pgsql";
	return cmocka_run_group_tests_name(backend_name, tests, NULL, NULL);
}
