/* METADATA (RFC 5464): entry names (section 3.2), DEPTH matching
 * (4.2.2), and the mbox store's file: what parses, what is refused, and
 * that a parsed file writes back byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/mbox/mbox_private.h"
#include "../../lib/buf.h"
#include "../../protocol/metadata.h"

static void test_entry_names(void **state)
{
	static const char *const good[] = {
		"/private/comment", "/shared/comment", "/shared/vendor/example.com/a b",
		"/private/a/b/c", "/private/\"quoted\\", "/shared/x",
	};
	static const char *const bad[] = {
		"", "/", "/private", "/shared", "private/x", "/private/", "/private//x",
		"/private/x/", "/private/*", "/private/a%", "/Private/x", "/private/X",
		"/privatex/y", "/sharedx", "/other/x", "/private/\x01", "/private/\x7f",
		"/private/caf\xc3\xa9",
	};
	struct error err;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (store_metadata_entry_check(good[i], 0, &err) != 0)
			fail_msg("\"%s\" refused: %s", good[i], err.msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (store_metadata_entry_check(bad[i], 0, &err) == 0)
			fail_msg("\"%s\" accepted", bad[i]);
	/* the roots only where they may be read (GETMETADATA with DEPTH) */
	assert_int_equal(store_metadata_entry_check("/private", 1, &err), 0);
	assert_int_equal(store_metadata_entry_check("/shared", 1, &err), 0);
	assert_int_equal(store_metadata_entry_check("/privat", 1, &err), -1);
}

static void test_entry_name_length(void **state)
{
	char name[STORE_METADATA_ENTRY_MAX + 2];
	struct error err;

	memset(name, 'a', sizeof(name) - 1);
	memcpy(name, "/private/", 9);
	name[STORE_METADATA_ENTRY_MAX] = '\0';
	assert_int_equal(store_metadata_entry_check(name, 0, &err), 0);
	name[STORE_METADATA_ENTRY_MAX] = 'a';
	name[STORE_METADATA_ENTRY_MAX + 1] = '\0';
	assert_int_equal(store_metadata_entry_check(name, 0, &err), -1);
}

static void test_depth(void **state)
{
	assert_true(metadata_depth_match("/private/a", "/private/a", 0));
	assert_false(metadata_depth_match("/private/a", "/private/a/b", 0));
	assert_true(metadata_depth_match("/private/a", "/private/a/b", 1));
	assert_false(metadata_depth_match("/private/a", "/private/a/b/c", 1));
	assert_true(metadata_depth_match("/private/a", "/private/a/b/c", METADATA_DEPTH_INFINITY));
	assert_false(metadata_depth_match("/private/a", "/private/ab", METADATA_DEPTH_INFINITY));
	assert_false(metadata_depth_match("/private/a/b", "/private/a", METADATA_DEPTH_INFINITY));
}

static const char good_file[] =
	"haven-metadata 1\n"
	"M 0 16 2\n/private/by/handhi\n"
	"M 5 16 3\nINBOX/private/commenta\0b\n"
	"M 8 15 0\nWork/Sub/shared/comment\n";

static void test_file_roundtrip(void **state)
{
	struct mbox_meta_set ms;
	struct error err;
	struct buf out = BUF_INIT;

	assert_int_equal(mbox_metadata_parse(good_file, sizeof(good_file) - 1, &ms, &err), 0);
	assert_int_equal(ms.n, 3);
	assert_string_equal(ms.v[0].mailbox, "");
	assert_string_equal(ms.v[1].entry, "/private/comment");
	assert_int_equal(ms.v[1].len, 3);
	assert_memory_equal(ms.v[1].value, "a\0b", 3);
	assert_int_equal(ms.v[2].len, 0);
	mbox_metadata_serialize(&ms, &out);
	assert_int_equal(out.len, sizeof(good_file) - 1);
	assert_memory_equal(out.data, good_file, out.len);
	buf_free(&out);
	mbox_metadata_free(&ms);
	assert_int_equal(mbox_metadata_parse("", 0, &ms, &err), 0);
	assert_int_equal(ms.n, 0);
}

static void test_file_refused(void **state)
{
	static const char *const bad[] = {
		"haven-metadata 2\n",
		"haven-metadata 1\nM 5 16 1\nINBOX/private/commentx",          /* no framing LF */
		"haven-metadata 1\nM 5 16 9\nINBOX/private/commentx\n",        /* past the end */
		"haven-metadata 1\nM 5 16 01\nINBOX/private/commentx\n",       /* leading zero */
		"haven-metadata 1\nM 5 16 99999999999\nINBOX/private/commentx\n",
		"haven-metadata 1\nM 5 16 1\nINBOX/Private/commentx\n",        /* upper case */
		"haven-metadata 1\nM 5 9 1\nINBOX/private/x\nM 5 9 1\nINBOX/private/x\n", /* twice */
		"haven-metadata 1\nM 5 9 1\nINBOX/private/y\nM 5 9 1\nINBOX/private/x\n", /* order */
		"haven-metadata 1\nM 4 9 1\n.bad/private/x\n",                 /* mailbox name */
		"haven-metadata 1\nX 5 9 1\nINBOX/private/x\n",
	};
	struct mbox_meta_set ms;
	struct error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mbox_metadata_parse(bad[i], strlen(bad[i]), &ms, &err) == 0)
			fail_msg("file %zu accepted", i);
		assert_int_equal(err.code, ERR_INTERNAL);
		assert_null(ms.v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_names),
		cmocka_unit_test(test_entry_name_length),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_file_roundtrip),
		cmocka_unit_test(test_file_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
