/* mbox caches: the index's STATUS summary and the header-field cache.
 * Each test checks that the cache is used (it can fail if it is not) and
 * that what it gives equals what reading the mailbox gives, including
 * after others changed the file: an MDA append, another program rewriting
 * it (same sizes, same X-UIDs, other subjects), a flag change, a corrupt
 * cache file, one copied from another mailbox. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../backends/backend.h"
#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"

#define NMSG 40

struct fx {
	char dir[64];
	char *inbox, *idxdir;
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

/* Message i: Subject "topic <tag> i", X-UID i+1, every third unseen. */
static void write_box(struct fx *f, const char *tag, int n, int append_only_from)
{
	struct buf b = BUF_INIT;
	for (int i = append_only_from; i < n; i++) {
		buf_printf(&b, "From a@example.org Sat Nov 21 10:00:%02d 2026\n", i % 60);
		if (i == 0)
			buf_printf(&b, "X-IMAPbase: 1234567 %d\n", n);
		buf_printf(&b, "From: Sender %d <s%d@example.org>\nTo: alice@example.org\n"
			       "Subject: topic %s %04d\nDate: Tue, 8 Jan 2025 00:05:%02d +0000\n"
			       "Status: %s\nX-UID: %d\n\nbody %d\n\n",
			   i, i, tag, i, i % 60, i % 3 ? "RO" : "O", i + 1, i);
	}
	int fd = open(f->inbox, O_WRONLY | O_CREAT | (append_only_from ? O_APPEND : O_TRUNC), 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	buf_free(&b);
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/haven-mcache-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	config_init(&f->cfg);
	{ char *v_ = xasprintf("%s/INBOX", f->dir); config_extra_set(&f->cfg, "mbox_inbox", v_, "test"); free(v_); }
	config_extra_set(&f->cfg, "mbox_dir", "%h/mail", "test");
	f->cfg.lock_timeout = 2;
	config_extra_set(&f->cfg, "mbox_index_min_size", "0", "test");   /* every mailbox gets an index */
	f->inbox = xasprintf("%s/INBOX", f->dir);
	f->idxdir = xasprintf("%s/mail/.haven-index", f->dir);
	char *md = xasprintf("%s/mail", f->dir);
	mkdir(md, 0700);
	free(md);
	f->ops = backend_find("mbox");
	write_box(f, "a", NMSG, 0);
	f->st = open_store(f);
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
	f->ops->store_close(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	config_free(&f->cfg);
	free(f->inbox);
	free(f->idxdir);
	free(f);
	return 0;
}

/* Path of the index directory's file whose name ends in suffix ("" for
 * the index itself), or NULL. */
static char *side_file(struct fx *f, const char *suffix)
{
	DIR *d = opendir(f->idxdir);
	struct dirent *e;
	char *found = NULL;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		const char *dot = strchr(e->d_name, '.');
		if (e->d_name[0] == '.')
			continue;
		if ((*suffix == '\0' && dot == NULL) || (dot && strcmp(dot + 1, suffix) == 0))
			found = xasprintf("%s/%s", f->idxdir, e->d_name);
	}
	closedir(d);
	return found;
}

static struct mailbox *select_box(struct fx *f)
{
	struct mailbox *mb = NULL;
	struct mailbox_status st;
	struct error err;
	if (f->ops->select(f->st, "INBOX", 0, &mb, &st, &err) < 0)
		fail_msg("select: %s", err.msg);
	return mb;
}

/* header_fields for every message; *subjects gets each "Subject:" line's
 * value; returns the cache hits of the run. */
static size_t fields_run(struct fx *f, struct mailbox *mb, char subjects[][64], size_t *misses)
{
	uint32_t n = f->ops->count(mb);
	size_t hits;
	for (uint32_t seq = 1; seq <= n; seq++) {
		struct buf b = BUF_INIT;
		struct error err;
		const struct msg_meta *m = f->ops->meta(mb, seq);
		assert_int_equal(mbox_header_fields(mb, m->uid, &b, &err), 0);
		buf_append_byte(&b, '\0');
		/* Only the cached fields, each whole, then an empty line. */
		assert_non_null(strstr(b.data, "From: Sender "));
		assert_null(strstr(b.data, "Status:"));
		assert_null(strstr(b.data, "X-UID"));
		assert_int_equal(strcmp(b.data + b.len - 5, "\r\n\r\n") == 0 ||
				 strcmp(b.data + b.len - 3, "\n\r\n") == 0, 1);
		const char *s = strstr(b.data, "Subject: ");
		assert_non_null(s);
		snprintf(subjects[seq - 1], 64, "%.*s", (int)strcspn(s + 9, "\r\n"), s + 9);
		buf_free(&b);
	}
	mbox_fields_stats(mb, &hits, misses);
	mbox_header_fields_done(mb);
	return hits;
}

static void test_fields_used_and_kept(void **state)
{
	struct fx *f = *state;
	char subj[NMSG + 1][64];
	size_t misses;
	struct mailbox *mb = select_box(f);

	assert_int_equal(fields_run(f, mb, subj, &misses), 0);
	assert_int_equal(misses, NMSG);
	assert_string_equal(subj[7], "topic a 0007");
	char *cf = side_file(f, "fields");
	assert_non_null(cf);
	free(cf);
	/* The same view: from memory. */
	assert_int_equal(fields_run(f, mb, subj, &misses), NMSG);
	assert_int_equal(misses, 0);
	f->ops->mailbox_close(mb);
	/* A new store (a new session, process): from the file. */
	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f);
	assert_int_equal(fields_run(f, mb, subj, &misses), NMSG);
	assert_string_equal(subj[NMSG - 1], "topic a 0039");
	f->ops->mailbox_close(mb);
}

static void test_fields_after_mda_append_and_flags(void **state)
{
	struct fx *f = *state;
	char subj[NMSG + 5][64];
	size_t misses;
	struct mailbox *mb = select_box(f);
	struct error err;
	uint32_t uid = 3;

	fields_run(f, mb, subj, &misses);
	f->ops->mailbox_close(mb);
	/* A flag change (written in place) keeps the lineage. */
	mb = select_box(f);
	assert_int_equal(f->ops->store_flags(mb, &uid, 1, STORE_ADD, MF_FLAGGED, NULL, 0, 0, NULL,
					     NULL, &err), 0);
	f->ops->mailbox_close(mb);
	/* An MDA appends five messages. */
	write_box(f, "a", NMSG + 5, NMSG);
	mb = select_box(f);
	assert_int_equal(f->ops->count(mb), NMSG + 5);
	assert_int_equal(fields_run(f, mb, subj, &misses), NMSG);
	assert_int_equal(misses, 5);
	assert_string_equal(subj[NMSG + 2], "topic a 0042");
	f->ops->mailbox_close(mb);
}

static void test_fields_foreign_rewrite(void **state)
{
	struct fx *f = *state;
	char subj[NMSG][64];
	size_t misses;
	struct mailbox *mb = select_box(f);

	fields_run(f, mb, subj, &misses);
	f->ops->mailbox_close(mb);
	/* Another program rewrites the file: same UIDs, same sizes, other
	 * subjects ("b" for "a"). Only the lineage can tell. */
	sleep(1);   /* a new mtime second, whatever the file system's resolution */
	write_box(f, "b", NMSG, 0);
	mb = select_box(f);
	assert_int_equal(fields_run(f, mb, subj, &misses), 0);
	assert_int_equal(misses, NMSG);
	assert_string_equal(subj[5], "topic b 0005");
	/* ...and the new cache is used next time. */
	assert_int_equal(fields_run(f, mb, subj, &misses), NMSG);
	f->ops->mailbox_close(mb);
}

static void test_fields_corrupt_or_foreign_file(void **state)
{
	struct fx *f = *state;
	char subj[NMSG][64];
	size_t misses, len;
	struct mailbox *mb = select_box(f);
	char *cf, *data, *other;
	FILE *fp;

	fields_run(f, mb, subj, &misses);
	f->ops->mailbox_close(mb);
	cf = side_file(f, "fields");
	assert_non_null(cf);
	/* One flipped byte in a subject. */
	fp = fopen(cf, "r+b");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	len = (size_t)ftell(fp);
	data = xmalloc(len);
	fseek(fp, 0, SEEK_SET);
	assert_int_equal(fread(data, 1, len, fp), len);
	char *t = memmem(data, len, "topic a 0009", 12);
	assert_non_null(t);
	t[6] = 'z';
	fseek(fp, 0, SEEK_SET);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	f->ops->store_close(f->st);
	f->st = open_store(f);
	mb = select_box(f);
	assert_int_equal(fields_run(f, mb, subj, &misses), 0);
	assert_string_equal(subj[9], "topic a 0009");
	f->ops->mailbox_close(mb);

	/* A mailbox "Other" with the same messages: its cache file copied
	 * over INBOX's is another mailbox's (the name inside differs). */
	other = xasprintf("%s/mail/Other", f->dir);
	data = (free(data), NULL);
	{
		FILE *in = fopen(f->inbox, "rb");
		struct buf b = BUF_INIT;
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
			buf_append(&b, chunk, n);
		fclose(in);
		FILE *out = fopen(other, "wb");
		fwrite(b.data, 1, b.len, out);
		fclose(out);
		buf_free(&b);
	}
	struct mailbox *ob = NULL;
	struct mailbox_status st;
	struct error err;
	assert_int_equal(f->ops->select(f->st, "Other", 0, &ob, &st, &err), 0);
	fields_run(f, ob, subj, &misses);
	f->ops->mailbox_close(ob);
	/* Find Other's cache file: the one that is not INBOX's. */
	DIR *d = opendir(f->idxdir);
	struct dirent *e;
	char *ocf = NULL;
	while ((e = readdir(d)) != NULL) {
		char *p = xasprintf("%s/%s", f->idxdir, e->d_name);
		if (strstr(e->d_name, ".fields") && strcmp(p, cf) != 0)
			ocf = p;
		else
			free(p);
	}
	closedir(d);
	assert_non_null(ocf);
	assert_int_equal(rename(ocf, cf), 0);
	mb = select_box(f);
	assert_int_equal(fields_run(f, mb, subj, &misses), 0);
	assert_int_equal(misses, NMSG);
	f->ops->mailbox_close(mb);
	free(ocf);
	free(other);
	free(cf);
}

/* STATUS from the index header equals STATUS from a parse, and is used. */
static void test_status_summary(void **state)
{
	struct fx *f = *state;
	struct mailbox_status a, b;
	struct error err;
	struct mbox_summary sum;
	struct stat sb;
	struct mbox_loc loc;
	int fd;

	assert_int_equal(f->ops->status(f->st, "INBOX", &a, &err), 0);   /* writes the index */
	assert_int_equal(a.messages, NMSG);
	assert_int_equal(a.unseen, (NMSG + 2) / 3);
	assert_int_equal(a.uidnext, NMSG + 1);
	assert_int_equal(mbox_resolve(f->st, "INBOX", 0, &loc, &err), 0);
	fd = open(f->inbox, O_RDONLY);
	fstat(fd, &sb);
	assert_int_equal(mbox_index_status(f->st, &loc, fd, &sb, &sum), 0);
	assert_int_equal(sum.messages, a.messages);
	assert_int_equal(sum.unseen, a.unseen);
	assert_int_equal(sum.first_unseen, 1);
	assert_int_equal(sum.uidnext, a.uidnext);
	assert_int_equal(sum.uidvalidity, 1234567);
	assert_int_equal(sum.size, a.size);
	assert_int_equal(f->ops->status(f->st, "INBOX", &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* An MDA append: the summary no longer describes the file. */
	write_box(f, "a", NMSG + 1, NMSG);
	fstat(fd, &sb);
	assert_int_equal(mbox_index_status(f->st, &loc, fd, &sb, &sum), -1);
	assert_int_equal(f->ops->status(f->st, "INBOX", &b, &err), 0);
	assert_int_equal(b.messages, NMSG + 1);
	close(fd);
	mbox_loc_free(&loc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_used_and_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_after_mda_append_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_foreign_rewrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields_corrupt_or_foreign_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
