/* IMAP URLs (RFC 5092) as CATENATE (RFC 4469) gives them: the forms that
 * name a message or a part, percent escapes, and what is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../mail/imapurl.h"

static int setup(void **state)
{
	*state = arena_new();
	return 0;
}

static int teardown(void **state)
{
	arena_free(*state);
	return 0;
}

static struct imapurl parse_ok(void **state, const char *s)
{
	struct imapurl u;
	const char *err = NULL;

	if (imapurl_parse(*state, s, strlen(s), &u, &err) < 0)
		fail_msg("\"%s\" refused: %s", s, err);
	return u;
}

static void refused(void **state, const char *s)
{
	struct imapurl u;
	const char *err = NULL;

	if (imapurl_parse(*state, s, strlen(s), &u, &err) == 0)
		fail_msg("\"%s\" accepted", s);
	assert_non_null(err);
}

static void test_rfc4469_examples(void **state)
{
	struct imapurl u = parse_ok(state, "/INBOX;UIDVALIDITY=385759045/;UID=20");
	assert_string_equal(u.mailbox, "INBOX");
	assert_int_equal(u.uidvalidity, 385759045);
	assert_int_equal(u.uid, 20);
	assert_null(u.section);
	assert_null(u.host);
	assert_int_equal(u.partial, 0);

	u = parse_ok(state, "/INBOX;UIDVALIDITY=385759045/;UID=30/;SECTION=1.2.MIME");
	assert_string_equal(u.section, "1.2.MIME");
	assert_int_equal(u.uid, 30);
}

static void test_mailbox_with_slashes_and_escapes(void **state)
{
	struct imapurl u = parse_ok(state, "/Archive/2021/My%20Mail/;UID=4/;SECTION=HEADER");
	assert_string_equal(u.mailbox, "Archive/2021/My Mail");
	assert_int_equal(u.uidvalidity, 0);
	assert_string_equal(u.section, "HEADER");
	u = parse_ok(state, "/&AOk-t%C3%A9/;uid=9");   /* mUTF-7 and UTF-8 as written */
	assert_string_equal(u.mailbox, "&AOk-t\xc3\xa9");
	assert_int_equal(u.uid, 9);
}

static void test_partial(void **state)
{
	struct imapurl u = parse_ok(state, "/INBOX/;UID=3/;SECTION=TEXT/;PARTIAL=10.200");
	assert_int_equal(u.partial, 1);
	assert_int_equal(u.partial_off, 10);
	assert_int_equal(u.partial_len, 200);
	u = parse_ok(state, "/INBOX/;UID=3/;PARTIAL=0");
	assert_int_equal(u.partial, 1);
	assert_int_equal(u.partial_len, 0);
	assert_null(u.section);
}

static void test_server_form(void **state)
{
	struct imapurl u = parse_ok(state, "imap://alice;AUTH=*@mail.example.org:143/INBOX;"
					   "UIDVALIDITY=7/;UID=1");
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.auth, "*");
	assert_string_equal(u.host, "mail.example.org");
	assert_int_equal(u.port, 143);
	u = parse_ok(state, "IMAP://[::1]/INBOX/;UID=1");
	assert_string_equal(u.host, "[::1]");
	assert_null(u.user);
	assert_int_equal(u.port, 0);
}

static void test_refused(void **state)
{
	refused(state, "");
	refused(state, "INBOX/;UID=1");                 /* not path-absolute */
	refused(state, "/INBOX");                       /* no UID: not a message */
	refused(state, "/INBOX/;UID=0");
	refused(state, "/INBOX/;UID=01");
	refused(state, "/INBOX/;UID=4294967296");
	refused(state, "/INBOX/;UID=");
	refused(state, "/;UID=1");                      /* no mailbox */
	refused(state, "/INBOX;UIDVALIDITY=0/;UID=1");
	refused(state, "/INBOX;FOO=1/;UID=1");
	refused(state, "/IN BOX/;UID=1");
	refused(state, "/INBOX%0A/;UID=1");             /* decoded control character */
	refused(state, "/INBOX%/;UID=1");
	refused(state, "/INBOX%4/;UID=1");
	refused(state, "/INBOX%zz/;UID=1");
	refused(state, "/INBOX/;UID=1/;SECTION=");
	refused(state, "/INBOX/;UID=1/;PARTIAL=1.0");
	refused(state, "/INBOX/;UID=1/;PARTIAL=x");
	refused(state, "/INBOX/;UID=1/;URLAUTH=anonymous:internal:91354a473744909de610943775f92038");
	refused(state, "/INBOX/;UID=1junk");
	refused(state, "/INBOX?SUBJECT%20x");           /* a search names no message */
	refused(state, "imap://@host/INBOX/;UID=1");    /* empty user */
	refused(state, "imap:///INBOX/;UID=1");         /* no host */
	refused(state, "imap://host:99999/INBOX/;UID=1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc4469_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_with_slashes_and_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
