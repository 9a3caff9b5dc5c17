/* ACL rights (backends/acl.c): the letters of RFC 4314 with RIGHTS=texk,
 * the virtual "c" and "d" on the way in and out, and what is refused;
 * identifiers as the stores take them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../backends/backend.h"

/* Parse in, format out (with "c"/"d"), compare. */
static void roundtrip(const char *in, const char *expect)
{
	char out[ACL_RIGHTS_TEXT];
	const char *why = NULL;
	unsigned r;

	assert_int_equal(acl_rights_parse(in, strlen(in), &r, &why), 0);
	acl_rights_format(r, 1, out);
	assert_string_equal(out, expect);
}

static void test_rights_letters(void **state)
{
	(void)state;
	roundtrip("", "");
	roundtrip("lrswipkxtea", "lrswipkxtecda");
	roundtrip("lrswida", "lrswiteda");          /* RFC 4314 2.1.1: d = t e */
	roundtrip("lrswikda", "lrswiktecda");       /* k brings "c" */
	roundtrip("c", "kxc");                      /* c = k x */
	roundtrip("t", "td");                       /* one member of "d" shows it */
	roundtrip("x", "xc");
	roundtrip("aal", "la");
}

static void test_rights_refused(void **state)
{
	const char *why = NULL;
	unsigned r;

	(void)state;
	assert_int_equal(acl_rights_parse("lrQswi", 6, &r, &why), -1);
	assert_string_equal(why, "Uppercase rights are not allowed");
	assert_int_equal(acl_rights_parse("lrqswi", 6, &r, &why), -1);
	assert_string_equal(why, "Unknown right in the rights list");
	assert_int_equal(acl_rights_parse("l0", 2, &r, &why), -1);
	assert_int_equal(acl_rights_parse("l\0r", 3, &r, &why), -1);
}

static void test_rights_for_storage(void **state)
{
	char out[ACL_RIGHTS_TEXT];

	(void)state;
	acl_rights_format(ACL_ALL, 0, out);
	assert_string_equal(out, "lrswipkxtea");
	acl_rights_format(ACL_VDELETE | ACL_VCREATE, 0, out);
	assert_string_equal(out, "kxte");
}

static void test_identifiers(void **state)
{
	struct error err;

	(void)state;
	assert_int_equal(store_acl_identifier_check("bob@example.org", &err), 0);
	assert_int_equal(store_acl_identifier_check("anyone", &err), 0);
	assert_int_equal(store_acl_identifier_check("", &err), -1);
	assert_int_equal(err.code, ERR_PARSE);
	assert_int_equal(store_acl_identifier_check("a b", &err), -1);
	assert_int_equal(err.code, ERR_PARSE);
	assert_int_equal(store_acl_identifier_check("\xff", &err), -1);
	assert_int_equal(err.code, ERR_PARSE);
	assert_int_equal(store_acl_identifier_check("-bob", &err), -1);
	assert_int_equal(err.code, ERR_CANNOT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rights_letters),
		cmocka_unit_test(test_rights_refused),
		cmocka_unit_test(test_rights_for_storage),
		cmocka_unit_test(test_identifiers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
