/* libFuzzer target for Sieve (sieve/). The input is compiled as a script;
 * one that compiles is run on fixed messages and every vacation reply is
 * composed. The input is also run as a message header under a fixed script
 * that uses every test, to exercise header, address and encoded-word
 * paths on hostile mail. Besides "no crash" it checks the promises of
 * sieve.h: an error is one line of UTF-8, "line N: ..."; a result is non-empty, a
 * runtime error leaves exactly one KEEP, every action has what its kind
 * needs, and the action count stays within the limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../mail/mutf7.h"
#include "../../sieve/sieve.h"

static const char *const headers[] = {
	"From: =?ISO-8859-1?Q?Zo=EB?= <zoe@example.org>\r\n"
	"To: bob+box@example.com, group: a@b.c, d@e.f;\r\nCc: c@example.net\r\n"
	"Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1l?=\r\nMessage-ID: <1@x>\r\n"
	"X-Priority: 3\r\n\r\n",
	"Subject: no addresses\r\nList-Id: <l.example.org>\r\n\r\n",
	"",
};

static const char fixed_script[] =
	"require [\"fileinto\", \"envelope\", \"subaddress\", \"relational\", "
	"\"comparator-i;ascii-numeric\", \"imap4flags\", \"vacation\", \"copy\", \"variables\"];\n"
	"if header :matches \"subject\" \"*?*\" { set :lower :length \"s\" \"${1}${3}\"; }\n"
	"if anyof (header :matches \"subject\" \"*a?b*\\\\*\", address :detail \"to\" \"box\",\n"
	"  address :domain :contains [\"from\", \"cc\"] \"example\",\n"
	"  header :count \"ge\" :comparator \"i;ascii-numeric\" \"received\" \"2\",\n"
	"  header :value \"lt\" :comparator \"i;ascii-numeric\" \"x-priority\" \"5\",\n"
	"  envelope :user \"to\" \"bob\", exists \"list-id\") {\n"
	"  addflag \"\\\\Seen\"; fileinto :copy \"A${s}\"; }\n"
	"vacation :addresses \"zoe@example.org\" \"away\";\n";

/* "line N: ...", one line of UTF-8 (ManageSieve quotes it). */
static void check_message(const char *msg)
{
	if (strncmp(msg, "line ", 5) != 0 || !mutf7_utf8_valid(msg, strlen(msg)))
		abort();
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void check_action(const struct sieve_action *a)
{
	if ((a->kind == SIEVE_ACT_FILEINTO && a->mailbox == NULL) ||
	    (a->kind == SIEVE_ACT_REDIRECT && a->address == NULL) ||
	    (a->kind == SIEVE_ACT_REJECT && a->reason == NULL) ||
	    (a->kind == SIEVE_ACT_VACATION && (a->reason == NULL || a->reply_to == NULL)))
		abort();
	for (size_t k = 0; k < a->nflags; k++)
		if (a->flags[k] == NULL || a->flags[k][0] == '\0' || strchr(a->flags[k], ' '))
			abort();
}

static void run_on(const struct sieve_script *s, const char *hdr, size_t len)
{
	struct sieve_msg m = { hdr, len, 4242, "zoe@example.org", "bob+box@example.com", "+-" };
	struct sieve_result r;
	struct error err = { 0 };

	if (sieve_execute(s, &m, &r, &err) != 0 || r.n == 0 || r.n > SIEVE_MAX_ACTIONS + 1)
		abort();
	if (r.runtime_error && (r.n != 1 || r.v[0].kind != SIEVE_ACT_KEEP))
		abort();
	if (r.runtime_error)
		check_message(r.error);
	for (size_t k = 0; k < r.n; k++) {
		check_action(&r.v[k]);
		if (r.v[k].kind != SIEVE_ACT_VACATION)
			continue;
		struct buf out = BUF_INIT;
		if (sieve_vacation_compose(&r.v[k], &m, "bob@example.com", "mx.example.com",
					   1700000000, &out, &err) != 0)
			abort();
		/* Nothing from the script may start a header field of its own. */
		const char *body = strstr(out.data, "\r\n\r\n");
		for (const char *p = out.data; body && p < body; p++)
			if (*p == '\n' && p[-1] != '\r')
				abort();
		buf_free(&out);
	}
	sieve_result_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sieve_script *fixed;
	struct sieve_script *s;
	struct error err = { 0 };

	if (fixed == NULL &&
	    sieve_compile(fixed_script, sizeof(fixed_script) - 1, &fixed, &err) != 0)
		abort();
	run_on(fixed, (const char *)data, size);
	if (sieve_compile((const char *)data, size, &s, &err) != 0) {
		if (err.code != ERR_PARSE)
			abort();
		check_message(err.msg);
		return 0;
	}
	for (size_t k = 0; k < sizeof(headers) / sizeof(headers[0]); k++)
		run_on(s, headers[k], strlen(headers[k]));
	sieve_script_free(s);
	return 0;
}
