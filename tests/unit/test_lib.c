/* lib/: growable buffers, the arena, base64, the configuration file, IPC
 * framing (fields, fd passing, malformed packets) and listener sockets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../lib/arena.h"
#include "../../lib/base64.h"
#include "../../lib/buf.h"
#include "../../lib/config.h"
#include "../../lib/ipc.h"
#include "../../lib/log.h"
#include "../../lib/net.h"
#include "../../lib/passdb_list.h"
#include "../../lib/xmalloc.h"

/* ---- helpers ------------------------------------------------------------ */

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;  /* includes the directory's own fd, the same every time */
}

/* The number the next open()/recvmsg() would get. */
static int lowest_free_fd(void)
{
	int fd = dup(0);
	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static char *write_temp(const char *text, size_t len)
{
	char *path = xstrdup("/tmp/haven-test-lib-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* ---- buf ---------------------------------------------------------------- */

static void test_buf_append(void **state)
{
	struct buf b = BUF_INIT;

	buf_append(&b, "abc", 3);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	buf_append_byte(&b, 'd');
	buf_append_str(&b, "ef");
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	assert_true(b.cap > b.len);
	/* Arbitrary bytes, NUL included; still terminated past len. */
	buf_append(&b, "x\0y", 3);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.data, "abcdefx\0y", 9);
	assert_int_equal(b.data[9], '\0');
	/* Zero bytes: no change but still a valid string. */
	buf_append(&b, NULL, 0);
	assert_int_equal(b.len, 9);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);

	/* Reset on a never-used buffer is harmless. */
	buf_init(&b);
	buf_reset(&b);
	buf_free(&b);

	/* Growth across many reallocations keeps every byte. */
	for (int i = 0; i < 100000; i++)
		buf_append_byte(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	assert_int_equal(b.data[100000], '\0');
	buf_free(&b);
}

static void test_buf_printf(void **state)
{
	struct buf b = BUF_INIT;
	char big[1001];

	buf_printf(&b, "%d-%s", 42, "x");
	assert_string_equal(b.data, "42-x");

	/* Exactly at the 255/256 boundary of the stack buffer, and past it. */
	for (size_t n = 250; n <= 260; n++) {
		struct buf c = BUF_INIT;
		memset(big, 'q', n);
		big[n] = '\0';
		buf_append_str(&c, "pre:");
		buf_printf(&c, "%s", big);
		assert_int_equal(c.len, 4 + n);
		assert_memory_equal(c.data, "pre:", 4);
		assert_memory_equal(c.data + 4, big, n);
		assert_int_equal(c.data[c.len], '\0');
		buf_free(&c);
	}

	memset(big, 'Z', 1000);
	big[1000] = '\0';
	buf_printf(&b, "<%s|%05d>", big, 7);
	assert_int_equal(b.len, 4 + 1 + 1000 + 7);
	assert_memory_equal(b.data, "42-x<", 5);
	assert_memory_equal(b.data + 5, big, 1000);
	assert_string_equal(b.data + 1005, "|00007>");
	/* And appending after the long one still works. */
	buf_printf(&b, "%s", "!");
	assert_int_equal(b.data[b.len - 1], '!');
	assert_int_equal(strlen(b.data), b.len);
	buf_free(&b);

	/* A long printf into an empty buffer. */
	buf_printf(&b, "%300s", "r");
	assert_int_equal(b.len, 300);
	assert_int_equal(b.data[299], 'r');
	assert_int_equal(b.data[0], ' ');
	buf_free(&b);
}

static void test_buf_consume(void **state)
{
	struct buf b = BUF_INIT;

	buf_append_str(&b, "0123456789");
	buf_consume(&b, 0);
	assert_string_equal(b.data, "0123456789");
	buf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_string_equal(b.data, "3456789");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "9");
	buf_consume(&b, 1);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_append_str(&b, "abc");
	buf_consume(&b, 1000);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	/* On a buffer that never allocated. */
	buf_free(&b);
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_buf_steal(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	s = buf_steal(&b);
	assert_string_equal(s, "");
	free(s);

	buf_append_str(&b, "hello");
	s = buf_steal(&b);
	assert_string_equal(s, "hello");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* b is usable again and independent of s. */
	buf_append_str(&b, "again");
	assert_string_equal(b.data, "again");
	assert_string_equal(s, "hello");
	free(s);
	buf_free(&b);
}

/* ---- arena -------------------------------------------------------------- */

static void test_arena_alignment(void **state)
{
	struct arena *a = arena_new();
	unsigned char *p[200];
	size_t sz[200];

	for (size_t i = 0; i < 200; i++) {
		sz[i] = (i * 37) % 301;
		p[i] = arena_alloc(a, sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		for (size_t j = 0; j < sz[i]; j++)
			assert_int_equal(p[i][j], 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
	}
	/* Nothing overlapped: every allocation still holds its pattern. */
	for (size_t i = 0; i < 200; i++)
		for (size_t j = 0; j < sz[i]; j++)
			assert_int_equal(p[i][j], i & 0xff);
	/* Zero-size allocations are distinct valid pointers. */
	void *z1 = arena_alloc(a, 0), *z2 = arena_alloc(a, 0);
	assert_non_null(z1);
	assert_non_null(z2);
	assert_ptr_not_equal(z1, z2);
	arena_free(a);
	arena_free(NULL);
}

static void test_arena_large(void **state)
{
	struct arena *a = arena_new();
	size_t before;

	char *small = arena_alloc(a, 10);
	memcpy(small, "small", 6);
	before = arena_used(a);
	assert_int_equal(before, 16);

	/* Larger than a block: its own block, aligned and fully usable. */
	unsigned char *big = arena_alloc(a, 100000);
	assert_int_equal((uintptr_t)big % 16, 0);
	for (size_t i = 0; i < 100000; i++)
		assert_int_equal(big[i], 0);
	memset(big, 0xab, 100000);
	assert_int_equal(arena_used(a), before + 100000);

	/* Small allocations after it still work; the old data is intact. */
	char *after = arena_alloc(a, 8000);
	memset(after, 'x', 8000);
	char *after2 = arena_alloc(a, 8000);
	memset(after2, 'y', 8000);
	assert_string_equal(small, "small");
	assert_int_equal(big[0], 0xab);
	assert_int_equal(big[99999], 0xab);

	/* Exactly one block's worth. */
	unsigned char *exact = arena_alloc(a, 8192);
	assert_int_equal((uintptr_t)exact % 16, 0);
	memset(exact, 1, 8192);
	arena_free(a);  /* leak-checked by ASan */
}

static void test_arena_reset(void **state)
{
	struct arena *a = arena_new();

	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 100; i++) {
			char *p = arena_alloc(a, 1000);
			memset(p, 'r', 1000);
		}
		(void)arena_alloc(a, 50000);
		assert_true(arena_used(a) >= 150000);
		arena_reset(a);
		assert_int_equal(arena_used(a), 0);
		/* Memory handed out after a reset is zeroed again. */
		unsigned char *q = arena_alloc(a, 4000);
		for (int i = 0; i < 4000; i++)
			assert_int_equal(q[i], 0);
		arena_reset(a);
	}
	arena_free(a);
}

static void test_arena_strings(void **state)
{
	struct arena *a = arena_new();
	char big[20001];

	assert_string_equal(arena_strdup(a, "abc"), "abc");
	assert_string_equal(arena_strdup(a, ""), "");
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	char *s = arena_printf(a, "%s=%d", "x", 12);
	assert_string_equal(s, "x=12");
	assert_int_equal((uintptr_t)s % 16, 0);
	assert_string_equal(arena_printf(a, "%s", ""), "");

	memset(big, 'm', 20000);
	big[20000] = '\0';
	char *l = arena_printf(a, "[%s]", big);
	assert_int_equal(strlen(l), 20002);
	assert_int_equal(l[0], '[');
	assert_int_equal(l[20001], ']');
	assert_memory_equal(l + 1, big, 20000);
	arena_free(a);
}

/* ---- base64 ------------------------------------------------------------- */

static const struct {
	const char *plain, *enc;
} b64_vectors[] = {
	/* RFC 4648 section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_base64_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		struct buf e = BUF_INIT, d = BUF_INIT;
		const char *p = b64_vectors[i].plain, *x = b64_vectors[i].enc;

		base64_encode(p, strlen(p), &e);
		assert_int_equal(e.len, strlen(x));
		if (e.len)
			assert_string_equal(e.data, x);
		assert_int_equal(base64_decode(x, strlen(x), &d), 0);
		assert_int_equal(d.len, strlen(p));
		if (d.len)
			assert_memory_equal(d.data, p, d.len);
		buf_free(&e);
		buf_free(&d);
	}

	/* SASL PLAIN: "\0user\0pass" with NUL bytes; all 64 characters. */
	struct buf d = BUF_INIT;
	assert_int_equal(base64_decode("AHVzZXIAcGFzcw==", 16, &d), 0);
	assert_int_equal(d.len, 10);
	assert_memory_equal(d.data, "\0user\0pass", 10);
	buf_free(&d);
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	assert_int_equal(base64_decode(all, 64, &d), 0);
	assert_int_equal(d.len, 48);
	struct buf e = BUF_INIT;
	base64_encode(d.data, d.len, &e);
	assert_string_equal(e.data, all);
	buf_free(&d);
	buf_free(&e);

	/* Decoding appends to what the buffer already holds. */
	buf_append_str(&d, "pre");
	assert_int_equal(base64_decode("Zm9v", 4, &d), 0);
	assert_string_equal(d.data, "prefoo");
	buf_free(&d);
}

static void test_base64_rejects(void **state)
{
	static const char *bad[] = {
		"Zg",           /* length not a multiple of 4 */
		"Zg=",
		"Zm9vY",
		"Zm9vYmFy=",
		"Z===",         /* '=' in position 1 */
		"====",
		"Zm9v====",     /* a whole block of padding */
		"Zg==Zg==",     /* padding not at the very end */
		"Zm8=Zm8=",
		"Zm=v",         /* data after padding */
		"Z=g=",
		"Zm9-",         /* base64url alphabet is not base64 */
		"Zm9_",
		"Zm9 ",         /* whitespace */
		"Zm9v\r\n",
		" Zm9",
		"Zm\t9",
		"Zm9.",
		"Zm9\x80",
		"Zm9\xff",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf d = BUF_INIT;
		if (base64_decode(bad[i], strlen(bad[i]), &d) != -1)
			fail_msg("base64_decode accepted \"%s\"", bad[i]);
		buf_free(&d);
	}
	/* An embedded NUL is not part of the alphabet. */
	struct buf d = BUF_INIT;
	assert_int_equal(base64_decode("Zm\0v", 4, &d), -1);
	assert_int_equal(base64_decode("Zm9v\0\0\0\0", 8, &d), -1);
	buf_free(&d);
}

static void test_base64_roundtrip(void **state)
{
	unsigned char in[1024];
	uint32_t x = 12345;

	for (size_t n = 0; n <= sizeof(in); n += (n < 64 ? 1 : 37)) {
		struct buf e = BUF_INIT, d = BUF_INIT;
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (unsigned char)(x >> 16);
		}
		base64_encode(in, n, &e);
		assert_int_equal(e.len, (n + 2) / 3 * 4);
		assert_int_equal(base64_decode(e.data ? e.data : "", e.len, &d), 0);
		assert_int_equal(d.len, n);
		if (n)
			assert_memory_equal(d.data, in, n);
		buf_free(&e);
		buf_free(&d);
	}
}

/* ---- config ------------------------------------------------------------- */

static void test_config_defaults(void **state)
{
	struct config c;
	struct error err;

	config_init(&c);
	assert_string_equal(c.listen, "127.0.0.1:143");
	assert_string_equal(c.listen_tls, "");
	assert_string_equal(c.tls_cert, "");
	assert_string_equal(c.plaintext_auth, "loopback");
	assert_int_equal(config_plaintext_auth(&c), PLAINTEXT_LOOPBACK);
	assert_string_equal(c.login_user, "haven");
	assert_int_equal(c.allow_plain_passwords, 0);
	assert_string_equal(c.mail_backend, "mbox");
	assert_int_equal(c.nextra, 0);
	assert_null(config_extra_get(&c, "mbox_dir"));
	assert_string_equal(c.log_level, "info");
	assert_true(strncmp(c.passdb, "file:", 5) == 0);
	assert_true(strstr(c.mail_home, "/lib/haven/users/%u") != NULL);
	assert_int_equal(c.auth_failure_delay_ms, 2000);
	assert_int_equal(c.auth_max_attempts, 3);
	assert_int_equal(c.max_line_length, 65536);
	assert_int_equal(c.max_preauth_line, 65536);
	assert_int_equal(c.max_literal, 52428800);
	assert_int_equal(c.max_bad_commands, 10);
	assert_int_equal(c.idle_timeout, 1800);
	assert_int_equal(c.max_connections, 1000);
	assert_int_equal(c.lock_timeout, 10);
	assert_int_equal(config_validate(&c, &err), 0);
	/* Parsing nothing changes nothing. */
	assert_int_equal(config_parse(&c, "", 0, "empty", &err), 0);
	assert_string_equal(c.listen, "127.0.0.1:143");
	config_free(&c);
}

static void test_config_parse_valid(void **state)
{
	static const char text[] =
		"# Haven configuration\n"
		"\n"
		"   # indented comment\n"
		"listen = 127.0.0.1:1143, [::1]:1143\n"
		"\tlisten_tls=127.0.0.1:1993\t\n"
		"tls_cert = /etc/ssl/c.pem\r\n"
		"tls_key = /etc/ssl/k.pem\n"
		"plaintext_auth = yes\n"
		"allow_plain_passwords = YES\n"
		"max_line_length = 2048\n"
		"auth_failure_delay_ms = 0\n"
		"max_literal = 2147483647\n"
		"mbox_dir = %h/Mail # not a comment\n"
		"pid_file =\n"
		"log_level = debug\n"
		"passdb = file:/tmp/a=b\n"
		"lock_timeout = 5\n"
		"lock_timeout = 7";          /* last wins; no final newline */
	struct config c;
	struct error err;

	config_init(&c);
	assert_int_equal(config_parse(&c, text, strlen(text), "haven.conf", &err), 0);
	assert_string_equal(c.listen, "127.0.0.1:1143, [::1]:1143");
	assert_string_equal(c.listen_tls, "127.0.0.1:1993");
	assert_string_equal(c.tls_cert, "/etc/ssl/c.pem");
	assert_string_equal(c.tls_key, "/etc/ssl/k.pem");
	assert_string_equal(c.plaintext_auth, "yes");
	assert_int_equal(config_plaintext_auth(&c), PLAINTEXT_YES);
	assert_int_equal(c.allow_plain_passwords, 1);
	assert_int_equal(c.max_line_length, 2048);
	assert_int_equal(c.auth_failure_delay_ms, 0);
	assert_int_equal(c.max_literal, 2147483647L);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "%h/Mail # not a comment");
	assert_string_equal(c.pid_file, "");
	assert_string_equal(c.log_level, "debug");
	assert_string_equal(c.passdb, "file:/tmp/a=b");
	assert_int_equal(c.lock_timeout, 7);
	assert_int_equal(config_validate(&c, &err), 0);

	/* plaintext_auth = no */
	assert_int_equal(config_parse(&c, "plaintext_auth = no\n", 20, "x", &err), 0);
	assert_int_equal(config_plaintext_auth(&c), PLAINTEXT_NO);
	config_free(&c);
}

static void expect_parse_error(const char *text, size_t len, const char *want1,
			       const char *want2)
{
	struct config c;
	struct error err;

	config_init(&c);
	err.msg[0] = '\0';
	if (config_parse(&c, text, len, "test.conf", &err) != -1)
		fail_msg("config_parse accepted \"%s\"", text);
	if (strstr(err.msg, want1) == NULL || (want2 && strstr(err.msg, want2) == NULL))
		fail_msg("for \"%s\": error \"%s\" lacks \"%s\"/\"%s\"", text, err.msg, want1,
			 want2 ? want2 : "");
	assert_int_equal(err.code, ERR_PARSE);
	config_free(&c);
}

static void test_config_parse_errors(void **state)
{
	const char *t;

	/* "bogus_key" would be a module's key (checked where it is read). */
	t = "listen = 127.0.0.1:143\n# comment\nbogus = 1\n";
	expect_parse_error(t, strlen(t), "test.conf:3:", "unknown key \"bogus\"");
	t = "\n\n\n\nno equals sign here\n";
	expect_parse_error(t, strlen(t), "test.conf:5:", "key = value");
	t = "Listen = x\n";  /* keys are case-sensitive */
	expect_parse_error(t, strlen(t), "test.conf:1:", "unknown key");
	t = "= value\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "unknown key");

	/* Integers: range, syntax, overflow. */
	t = "max_line_length = 1023\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "out of range 1024..16777216");
	t = "max_line_length = 16777217\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "out of range");
	t = "auth_max_attempts = -1\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "out of range");
	t = "auth_max_attempts = 0\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "out of range");
	t = "max_literal = 2147483648\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "out of range");
	t = "max_literal = 99999999999999999999999\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");
	t = "lock_timeout = 10s\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");
	t = "lock_timeout = 0x10\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");
	t = "lock_timeout =\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");
	t = "lock_timeout = \"\"\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");
	t = "lock_timeout = 1 0\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "not a number");

	/* Booleans. */
	t = "allow_plain_passwords = maybe\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "expected yes or no");
	t = "allow_plain_passwords = 2\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "expected yes or no");
	t = "allow_plain_passwords =\n";
	expect_parse_error(t, strlen(t), "test.conf:1:", "expected yes or no");

	/* NUL bytes, with the right line number. */
	static const char nul[] = "listen = 127.0.0.1:143\nlog_level = de\0bug\n";
	expect_parse_error(nul, sizeof(nul) - 1, "test.conf:2:", "NUL");
	static const char nul2[] = "# comment \0 with NUL\n";
	expect_parse_error(nul2, sizeof(nul2) - 1, "test.conf:1:", "NUL");
	static const char nul3[] = "\0";
	expect_parse_error(nul3, 1, "test.conf:1:", "NUL");
}

static void test_config_bools_ints(void **state)
{
	static const struct {
		const char *v;
		int want;
	} bools[] = {
		{ "yes", 1 }, { "YES", 1 }, { "true", 1 }, { "True", 1 }, { "on", 1 }, { "1", 1 },
		{ "no", 0 }, { "No", 0 }, { "false", 0 }, { "FALSE", 0 }, { "off", 0 }, { "0", 0 },
		{ "\"yes\"", 1 },
	};
	struct config c;
	struct error err;
	char line[128];

	config_init(&c);
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		c.allow_plain_passwords = !bools[i].want;
		snprintf(line, sizeof(line), "allow_plain_passwords = %s\n", bools[i].v);
		assert_int_equal(config_parse(&c, line, strlen(line), "b", &err), 0);
		assert_int_equal(c.allow_plain_passwords, bools[i].want);
	}
	/* Range limits themselves are accepted. */
	snprintf(line, sizeof(line), "max_line_length = 1024\nmax_preauth_line = 65536\n");
	assert_int_equal(config_parse(&c, line, strlen(line), "i", &err), 0);
	assert_int_equal(c.max_line_length, 1024);
	assert_int_equal(c.max_preauth_line, 65536);
	snprintf(line, sizeof(line), "worker_idle_timeout = 0\nmax_connections = 1000000\n");
	assert_int_equal(config_parse(&c, line, strlen(line), "i", &err), 0);
	assert_int_equal(c.worker_idle_timeout, 0);
	assert_int_equal(c.max_connections, 1000000);
	/* strtol's leading '+' and a leading zero are decimal. */
	snprintf(line, sizeof(line), "lock_timeout = +012\n");
	assert_int_equal(config_parse(&c, line, strlen(line), "i", &err), 0);
	assert_int_equal(c.lock_timeout, 12);
	config_free(&c);
}

static void test_config_quoted(void **state)
{
	struct config c;
	struct error err;
	const char *t;

	config_init(&c);
	t = "mbox_dir = \"  spaced # value  \"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "  spaced # value  ");
	t = "mbox_dir = \"\"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "");
	/* A lone quote, or quotes on one side only, are taken as they are. */
	t = "mbox_dir = \"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "\"");
	t = "mbox_dir = \"abc\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "\"abc");
	t = "mbox_dir = abc\"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "abc\"");
	/* Only one pair is removed; no escapes. */
	t = "mbox_dir = \"\"x\"\"\r\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "\"x\"");
	t = "mbox_dir = \"a\\\"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_string_equal(config_extra_get(&c, "mbox_dir"), "a\\");
	/* Quoted numbers are numbers. */
	t = "lock_timeout = \"42\"\n";
	assert_int_equal(config_parse(&c, t, strlen(t), "q", &err), 0);
	assert_int_equal(c.lock_timeout, 42);
	config_free(&c);
}

static void expect_invalid(const char *text, const char *want)
{
	struct config c;
	struct error err;

	config_init(&c);
	assert_int_equal(config_parse(&c, text, strlen(text), "v", &err), 0);
	err.msg[0] = '\0';
	if (config_validate(&c, &err) != -1)
		fail_msg("config_validate accepted \"%s\"", text);
	if (strstr(err.msg, want) == NULL)
		fail_msg("for \"%s\": error \"%s\" lacks \"%s\"", text, err.msg, want);
	config_free(&c);
}

static void test_config_validate(void **state)
{
	expect_invalid("plaintext_auth = maybe\n", "plaintext_auth");
	expect_invalid("log_level = loud\n", "log_level");
	expect_invalid("listen = localhost\n", "not host:port");
	expect_invalid("listen = :143\n", "not host:port");
	expect_invalid("listen = 127.0.0.1:\n", "bad port");
	expect_invalid("listen = 127.0.0.1:65536\n", "bad port");
	expect_invalid("listen = 127.0.0.1:-1\n", "bad port");
	expect_invalid("listen = 127.0.0.1:143x\n", "bad port");
	expect_invalid("listen = 127.0.0.1:143, 127.0.0.2\n", "not host:port");
	expect_invalid("listen_tls = host:1x\ntls_cert = c\ntls_key = k\n", "listen_tls");
	expect_invalid("listen =\n", "both empty");
	expect_invalid("listen = ,\n", "no host:port");
	expect_invalid("listen = \" , \"\n", "no host:port");
	expect_invalid("tls_cert = /c.pem\n", "tls_cert and tls_key");
	expect_invalid("tls_key = /k.pem\n", "tls_cert and tls_key");
	expect_invalid("listen_tls = 127.0.0.1:993\n", "v:1: listen_tls: needs tls_cert");
	/* Every error names the file and line that set the key. */
	expect_invalid("# comment\n\nplaintext_auth = maybe\n", "v:3: plaintext_auth: expected");
	expect_invalid("listen = 127.0.0.1:143\nlisten = 127.0.0.1:x\n", "v:2: listen: bad port");
	expect_invalid("log_level = info\ntls_key = /k.pem\n", "v:2: tls_key: tls_cert and");
	expect_invalid("passdb = ldap:x\n", "v:1: passdb: ldap takes no argument");
	expect_invalid("listen_tls = 127.0.0.1:993\ntls_key = /k\n", "v:2: tls_key: tls_cert and");
	expect_invalid("trusted_networks = 10.0.0.0/8, 10.1.2.3/33\n",
		       "v:1: trusted_networks: not a network: \"10.1.2.3/33\"");
	expect_invalid("seccomp = maybe\n", "v:1: seccomp: expected yes, log or no");
	expect_invalid("passdb = ldap:x\n", "passdb");
	expect_invalid("passdb = file:\n", "v:1: passdb: file needs a path");
	/* The list: known names, each once, at least one, oauth not alone. */
	expect_invalid("passdb = pam, nis\n", "v:1: passdb: unknown passdb \"nis\"");
	expect_invalid("passdb = pam, file:/a, pam\n", "v:1: passdb: pam is listed twice");
	expect_invalid("passdb = file:/a, file:/a\n", "v:1: passdb: file is listed twice");
	expect_invalid("passdb = , ,\n", "v:1: passdb: empty");
	expect_invalid("passdb = oauth\n", "v:1: passdb: oauth needs a passdb after it");
	expect_invalid("passdb = a,b,c,d,e,f,g,h,i\n", "passdb: unknown passdb \"a\"");
	expect_invalid("login_chroot = var/empty\n", "absolute");
	expect_invalid("login_chroot =\n", "absolute");

	/* And some that are fine. */
	struct config c;
	struct error err;
	const char *ok = "listen =\nlisten_tls = *:993, [::]:993\ntls_cert = c\ntls_key = k\n"
			 "log_level = WARNING\npassdb = pam , file:/a,sql, oauth,ldap, file:/b\n";
	config_init(&c);
	assert_int_equal(config_parse(&c, ok, strlen(ok), "v", &err), 0);
	assert_int_equal(config_validate(&c, &err), 0);
	config_free(&c);
}

/* The passdb list: order kept, blanks trimmed, file's path whole. */
static void test_passdb_list(void **state)
{
	struct passdb_list l;
	struct error err;

	assert_int_equal(passdb_list_parse(" pam ,file:/etc/haven/passwd, sql,oauth", &l, &err), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.e[0].driver, PASSDB_PAM);
	assert_int_equal(l.e[1].driver, PASSDB_FILE);
	assert_string_equal(l.e[1].arg, "/etc/haven/passwd");
	assert_int_equal(l.e[2].driver, PASSDB_SQL);
	assert_int_equal(l.e[3].driver, PASSDB_OAUTH);
	assert_true(passdb_list_has(&l, PASSDB_SQL));
	assert_false(passdb_list_has(&l, PASSDB_LDAP));
	passdb_list_free(&l);
	/* Two files are two databases. */
	assert_int_equal(passdb_list_parse("file:/a,file:/b", &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.e[1].arg, "/b");
	passdb_list_free(&l);
	assert_int_equal(passdb_list_parse("pam:x", &l, &err), -1);
	assert_int_equal(passdb_list_parse("PAM", &l, &err), -1);
	assert_int_equal(passdb_list_parse("", &l, &err), -1);
}

/* -o KEY=VALUE: after the file, the last one wins, and messages name it;
 * a child's copy of the text still names the file and line (or -o). */
static void test_config_override(void **state)
{
	struct config c, child;
	struct error err;
	struct buf text = BUF_INIT;
	char where[256];
	const char *file = "\nmax_bad_commands = 5\n";

	config_init(&c);
	assert_int_equal(config_parse(&c, file, strlen(file), "f.conf", &err), 0);
	config_where(&c, "max_bad_commands", where, sizeof(where));
	assert_string_equal(where, "f.conf:2");
	assert_int_equal(config_override(&c, "max_bad_commands=7", &err), 0);
	assert_int_equal(c.max_bad_commands, 7);
	config_where(&c, "max_bad_commands", where, sizeof(where));
	assert_string_equal(where, "command line: -o max_bad_commands");
	assert_int_equal(config_override(&c, "passdb_sql_dsn=dbname=x user=y", &err), 0);
	assert_string_equal(config_extra_get(&c, "passdb_sql_dsn"), "dbname=x user=y");
	assert_int_equal(config_override(&c, "max_bad_commands=0", &err), -1);
	assert_non_null(strstr(err.msg, "command line: -o max_bad_commands: max_bad_commands"));
	assert_int_equal(config_override(&c, "nokey", &err), -1);
	assert_int_equal(config_override(&c, "no_such_thing_here=1", &err), 0);  /* a module's */
	assert_int_equal(config_override(&c, "nosuch=1", &err), -1);
	config_where(&c, "log_level", where, sizeof(where));
	assert_string_equal(where, "f.conf: (default)");

	config_dump_role(&c, CONFIG_ROLE_AUTH, &text);
	config_init(&child);
	assert_int_equal(config_parse(&child, text.data, text.len, "f.conf", &err), 0);
	config_where(&child, "max_bad_commands", where, sizeof(where));
	assert_string_equal(where, "command line: -o max_bad_commands");
	config_where(&child, "log_level", where, sizeof(where));
	assert_string_equal(where, "f.conf: (default)");
	config_free(&child);
	config_free(&c);
	buf_free(&text);
}

/* Keys the core does not declare belong to a backend or passdb: kept with
 * where they came from, and handed only to the processes they are for. */
static void test_config_extra_keys_and_roles(void **state)
{
	struct config c, w;
	struct error err;
	struct buf login = BUF_INIT, worker = BUF_INIT;
	const char *t = "pgsql_dsn = host=/run/pg password=secret\n"
			"passdb_sql_dsn = dbname=haven user=auth\n"
			"mbox_dir = %h/Mail\n";

	config_init(&c);
	assert_int_equal(config_parse(&c, t, strlen(t), "h.conf", &err), 0);
	assert_int_equal(c.nextra, 3);
	assert_string_equal(c.extra[0].where, "h.conf:1");
	assert_string_equal(config_extra_get(&c, "pgsql_dsn"), "host=/run/pg password=secret");
	assert_int_equal(config_extra_role("passdb_sql_dsn"), CONFIG_ROLE_AUTH);
	assert_int_equal(config_extra_role("pgsql_dsn"), CONFIG_ROLE_WORKER);
	config_dump_role(&c, CONFIG_ROLE_LOGIN, &login);
	buf_append_byte(&login, '\0');
	assert_null(strstr(login.data, "secret"));
	assert_null(strstr(login.data, "passdb_sql_dsn"));
	assert_non_null(strstr(login.data, "max_literal = "));
	config_dump_role(&c, CONFIG_ROLE_WORKER, &worker);
	config_init(&w);
	assert_int_equal(config_parse(&w, worker.data, worker.len, "dump", &err), 0);
	assert_string_equal(config_extra_get(&w, "pgsql_dsn"), "host=/run/pg password=secret");
	/* ... and still knows where in the administrator's file it was. */
	assert_string_equal(w.extra[0].where, "h.conf:1");
	assert_null(config_extra_get(&w, "passdb_sql_dsn"));
	assert_string_equal(w.passdb, c.passdb);
	/* Not of the "<module>_<name>" form: still an unknown key. */
	assert_int_equal(config_parse(&c, "listne = x\n", 11, "h.conf", &err), -1);
	assert_non_null(strstr(err.msg, "h.conf:1: unknown key"));
	assert_int_equal(config_parse(&c, "Mbox_dir = x\n", 13, "h.conf", &err), -1);
	buf_free(&login);
	buf_free(&worker);
	config_free(&c);
	config_free(&w);
}

static void test_config_dump_roundtrip(void **state)
{
	struct config a, b;
	struct error err;
	struct buf out = BUF_INIT;
	const char *t = "listen = 0.0.0.0:143\nmax_literal = 4096\nallow_plain_passwords = on\n"
			"mbox_dir = %h/Mail\n";

	config_init(&a);
	assert_int_equal(config_parse(&a, t, strlen(t), "a", &err), 0);
	config_dump(&a, &out);
	config_init(&b);
	if (config_parse(&b, out.data, out.len, "dump", &err) != 0)
		fail_msg("dump does not parse: %s", err.msg);
	assert_string_equal(b.listen, "0.0.0.0:143");
	assert_int_equal(b.max_literal, 4096);
	assert_int_equal(b.allow_plain_passwords, 1);
	assert_string_equal(config_extra_get(&b, "mbox_dir"), "%h/Mail");
	assert_string_equal(b.passdb, a.passdb);
	assert_string_equal(b.listen_tls, "");
	assert_int_equal(b.lock_timeout, a.lock_timeout);
	buf_free(&out);
	config_free(&a);
	config_free(&b);
}

static void test_config_read_file(void **state)
{
	struct buf b = BUF_INIT;
	struct error err;
	const char *text = "listen = 127.0.0.1:143\n";
	char *path = write_temp(text, strlen(text));

	assert_int_equal(config_read_file(path, &b, &err), 0);
	assert_int_equal(b.len, strlen(text));
	assert_string_equal(b.data, text);
	buf_free(&b);
	unlink(path);
	assert_int_equal(config_read_file(path, &b, &err), -1);
	assert_int_equal(err.code, ERR_NONEXISTENT);
	assert_non_null(strstr(err.msg, path));
	free(path);
	assert_int_equal(config_read_file("/tmp", &b, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	buf_free(&b);
}

static void test_config_expand(void **state)
{
	static const struct {
		const char *tmpl, *want;
	} cases[] = {
		{ "%u", "alice" },
		{ "/var/mail/%u", "/var/mail/alice" },
		{ "%h/mail", "/home/alice/mail" },
		{ "%h/%u/%u", "/home/alice/alice/alice" },
		{ "100%%", "100%" },
		{ "%%u", "%u" },
		{ "%%%u", "%alice" },
		{ "a%", "a%" },          /* trailing lone % */
		{ "%x%y", "%x%y" },      /* unknown escapes kept */
		{ "", "" },
		{ "plain", "plain" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = config_expand(cases[i].tmpl, "alice", "/home/alice");
		if (strcmp(s, cases[i].want) != 0)
			fail_msg("config_expand(\"%s\") = \"%s\", want \"%s\"", cases[i].tmpl, s,
				 cases[i].want);
		free(s);
	}
	/* Expansions are not expanded again. */
	char *s = config_expand("%u-%h", "%h", "%u");
	assert_string_equal(s, "%h-%u");
	free(s);
}

/* ---- ipc ---------------------------------------------------------------- */

static void test_ipc_fields(void **state)
{
	int sv[2];
	struct ipc_out o;
	struct ipc_msg m;
	uint32_t u32;
	uint64_t u64;
	const char *s;
	const unsigned char *p;
	size_t n;

	assert_int_equal(ipc_socketpair(sv), 0);
	assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);

	ipc_out_init(&o, 0x1234, 77);
	ipc_put_u32(&o, 0);
	ipc_put_u32(&o, 0xdeadbeefu);
	ipc_put_u64(&o, UINT64_C(0x0123456789abcdef));
	ipc_put_u64(&o, UINT64_MAX);
	ipc_put_str(&o, "hello");
	ipc_put_str(&o, NULL);
	ipc_put_str(&o, "");
	ipc_put_bytes(&o, "a\0b\0c", 5);
	ipc_put_bytes(&o, NULL, 0);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);

	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(m.type, 0x1234);
	assert_int_equal(m.id, 77);
	assert_int_equal(m.fd, -1);
	assert_int_equal(ipc_get_u32(&m, &u32), 0);
	assert_int_equal(u32, 0);
	assert_int_equal(ipc_get_u32(&m, &u32), 0);
	assert_int_equal(u32, 0xdeadbeefu);
	assert_int_equal(ipc_get_u64(&m, &u64), 0);
	assert_true(u64 == UINT64_C(0x0123456789abcdef));
	assert_int_equal(ipc_get_u64(&m, &u64), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(ipc_get_str(&m, &s), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(ipc_get_str(&m, &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(ipc_get_str(&m, &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(ipc_get_bytes(&m, &p, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "a\0b\0c", 5);
	assert_int_equal(ipc_get_bytes(&m, &p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ipc_get_end(&m), 0);
	/* Reading past the end fails and sticks. */
	assert_int_equal(ipc_get_u32(&m, &u32), -1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);
	assert_int_equal(m.fd, -1);
	assert_null(m.data);

	/* An empty message. */
	assert_int_equal(ipc_send_empty(sv[0], 9, 0xffffffffu, -1), 0);
	assert_int_equal(ipc_recv(sv[1], &m, 1), 1);
	assert_int_equal(m.type, 9);
	assert_int_equal(m.id, 0xffffffffu);
	assert_int_equal(m.len, 0);
	assert_int_equal(ipc_get_end(&m), 0);
	ipc_msg_free(&m);

	/* Both directions work. */
	assert_int_equal(ipc_send_empty(sv[1], 10, 1, -1), 0);
	assert_int_equal(ipc_recv(sv[0], &m, 0), 1);
	assert_int_equal(m.type, 10);
	ipc_msg_free(&m);

	close(sv[0]);
	close(sv[1]);
}

static void test_ipc_max_payload(void **state)
{
	int sv[2];
	struct ipc_out o;
	struct ipc_msg m;
	const unsigned char *p;
	size_t n;
	size_t blen = IPC_MAX_PAYLOAD - 4;
	unsigned char *big = xmalloc(blen + 2);

	for (size_t i = 0; i < blen + 2; i++)
		big[i] = (unsigned char)(i * 7);
	assert_int_equal(ipc_socketpair(sv), 0);

	ipc_out_init(&o, 1, 2);
	ipc_put_bytes(&o, big, blen);
	assert_int_equal(o.payload.len, IPC_MAX_PAYLOAD);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(m.len, IPC_MAX_PAYLOAD);
	assert_int_equal(ipc_get_bytes(&m, &p, &n), 0);
	assert_int_equal(n, blen);
	assert_memory_equal(p, big, blen);
	assert_int_equal(ipc_get_end(&m), 0);
	ipc_msg_free(&m);

	/* One byte more is refused by the sender... */
	ipc_out_init(&o, 1, 2);
	ipc_put_bytes(&o, big, blen + 1);
	errno = 0;
	assert_int_equal(ipc_send(sv[0], &o, -1), -1);
	assert_int_equal(errno, EMSGSIZE);
	ipc_out_free(&o);

	/* ...and by the receiver when it is sent raw anyway (truncated). */
	size_t rawlen = sizeof(struct ipc_hdr) + IPC_MAX_PAYLOAD + 1;
	unsigned char *raw = xcalloc(1, rawlen);
	struct ipc_hdr h = { IPC_VERSION, 1, IPC_MAX_PAYLOAD + 1, 0 };
	memcpy(raw, &h, sizeof(h));
	assert_int_equal(send(sv[0], raw, rawlen, 0), (ssize_t)rawlen);
	errno = 0;
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	assert_int_equal(errno, EPROTO);
	free(raw);

	/* The channel survives for the next good message. */
	assert_int_equal(ipc_send_empty(sv[0], 5, 6, -1), 0);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(m.type, 5);
	ipc_msg_free(&m);

	free(big);
	close(sv[0]);
	close(sv[1]);
}

static void test_ipc_getters_reject(void **state)
{
	int sv[2];
	struct ipc_out o;
	struct ipc_msg m;
	const char *s;
	uint32_t u32;
	uint64_t u64;
	const unsigned char *p;
	size_t n;

	assert_int_equal(ipc_socketpair(sv), 0);

	/* A string without its NUL. */
	ipc_out_init(&o, 1, 0);
	ipc_put_bytes(&o, "abc", 3);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_str(&m, &s), -1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);

	/* A string with an embedded NUL. */
	ipc_out_init(&o, 1, 0);
	ipc_put_bytes(&o, "ab\0c\0", 5);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_str(&m, &s), -1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);

	/* A zero-length string field (not even the NUL). */
	ipc_out_init(&o, 1, 0);
	ipc_put_bytes(&o, "", 0);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_str(&m, &s), -1);
	ipc_msg_free(&m);

	/* Bytes built by hand to look like a string are fine. */
	ipc_out_init(&o, 1, 0);
	ipc_put_bytes(&o, "ab", 3);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_str(&m, &s), 0);
	assert_string_equal(s, "ab");
	assert_int_equal(ipc_get_end(&m), 0);
	ipc_msg_free(&m);

	/* Trailing bytes make ipc_get_end fail. */
	ipc_out_init(&o, 1, 0);
	ipc_put_u32(&o, 1);
	ipc_put_u32(&o, 2);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_u32(&m, &u32), 0);
	assert_int_equal(u32, 1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);

	/* A length prefix larger than what is left. */
	ipc_out_init(&o, 1, 0);
	ipc_put_u32(&o, 100);
	ipc_put_u32(&o, 0);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_bytes(&m, &p, &n), -1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);

	/* 0xffffffff as a length must not wrap. */
	ipc_out_init(&o, 1, 0);
	ipc_put_u32(&o, 0xffffffffu);
	ipc_put_str(&o, "x");
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_str(&m, &s), -1);
	ipc_msg_free(&m);

	/* Too short for a u64 / u32; a failure is sticky even when a later
	 * getter would fit. */
	ipc_out_init(&o, 1, 0);
	ipc_put_u32(&o, 7);
	assert_int_equal(ipc_send(sv[0], &o, -1), 0);
	ipc_out_free(&o);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(ipc_get_u64(&m, &u64), -1);
	assert_int_equal(ipc_get_u32(&m, &u32), -1);
	assert_int_equal(ipc_get_end(&m), -1);
	ipc_msg_free(&m);

	close(sv[0]);
	close(sv[1]);
}

static void test_ipc_fd_passing(void **state)
{
	int sv[2], p[2];
	struct ipc_out o;
	struct ipc_msg m;
	const char *s;
	char rd[16];

	assert_int_equal(ipc_socketpair(sv), 0);
	assert_int_equal(pipe(p), 0);

	ipc_out_init(&o, 3, 4);
	ipc_put_str(&o, "with fd");
	assert_int_equal(ipc_send(sv[0], &o, p[1]), 0);
	ipc_out_free(&o);
	close(p[1]);  /* the only write end left is the one in flight */

	assert_int_equal(ipc_recv(sv[1], &m, 1), 1);
	assert_true(m.fd >= 0);
	assert_int_not_equal(m.fd, p[0]);
	assert_true(fcntl(m.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(ipc_get_str(&m, &s), 0);
	assert_string_equal(s, "with fd");
	assert_int_equal(ipc_get_end(&m), 0);
	assert_int_equal(write(m.fd, "through", 7), 7);
	assert_int_equal(read(p[0], rd, sizeof(rd)), 7);
	assert_memory_equal(rd, "through", 7);
	int got = m.fd;
	ipc_msg_free(&m);
	/* ipc_msg_free closed it: the pipe sees EOF now. */
	assert_int_equal(fcntl(got, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(read(p[0], rd, sizeof(rd)), 0);
	close(p[0]);

	/* An fd with an empty message. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ipc_send_empty(sv[0], 8, 0, p[0]), 0);
	assert_int_equal(ipc_recv(sv[1], &m, 1), 1);
	assert_true(m.fd >= 0);
	assert_int_equal(m.len, 0);
	ipc_msg_free(&m);
	close(p[0]);
	close(p[1]);

	close(sv[0]);
	close(sv[1]);
}

static void test_ipc_fd_refused(void **state)
{
	int sv[2], p[2];
	struct ipc_msg m;
	int before, free_fd;

	assert_int_equal(ipc_socketpair(sv), 0);
	assert_int_equal(pipe(p), 0);

	assert_int_equal(ipc_send_empty(sv[0], 3, 4, p[1]), 0);
	close(p[1]);
	before = count_open_fds();
	free_fd = lowest_free_fd();
	errno = 0;
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(m.fd, -1);
	/* The fd that arrived (it got the lowest free number) was closed. */
	assert_int_equal(fcntl(free_fd, F_GETFD), -1);
	assert_int_equal(count_open_fds(), before);
	/* No write end is left anywhere: the pipe is at EOF. */
	char c;
	assert_int_equal(read(p[0], &c, 1), 0);
	close(p[0]);

	/* The channel is still usable. */
	assert_int_equal(ipc_send_empty(sv[0], 5, 0, -1), 0);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(m.type, 5);
	ipc_msg_free(&m);

	close(sv[0]);
	close(sv[1]);
}

/* Two fds in one message (never sent by Haven) are refused and closed, even
 * where one fd would be allowed. */
static void test_ipc_two_fds(void **state)
{
	int sv[2], p[2], before;
	struct ipc_hdr h = { IPC_VERSION, 1, 0, 0 };
	struct iovec iov = { &h, sizeof(h) };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct msghdr mh;
	struct ipc_msg m;

	assert_int_equal(ipc_socketpair(sv), 0);
	assert_int_equal(pipe(p), 0);
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), p, 2 * sizeof(int));
	assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof(h));
	close(p[0]);
	close(p[1]);

	before = count_open_fds();
	assert_int_equal(ipc_recv(sv[1], &m, 1), -1);
	assert_int_equal(count_open_fds(), before);
	close(sv[0]);
	close(sv[1]);
}

static void send_raw_packet(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, 0), (ssize_t)n);
}

static void test_ipc_bad_framing(void **state)
{
	int sv[2];
	struct ipc_msg m;
	unsigned char pkt[64];
	struct ipc_hdr h;

	assert_int_equal(ipc_socketpair(sv), 0);

	/* Wrong version. */
	h = (struct ipc_hdr){ IPC_VERSION + 1, 1, 0, 0 };
	send_raw_packet(sv[0], &h, sizeof(h));
	errno = 0;
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	assert_int_equal(errno, EPROTO);
	assert_null(m.data);
	assert_int_equal(m.fd, -1);
	h = (struct ipc_hdr){ 0, 1, 0, 0 };
	send_raw_packet(sv[0], &h, sizeof(h));
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);

	/* Header length larger / smaller than the payload. */
	h = (struct ipc_hdr){ IPC_VERSION, 1, 4, 0 };
	send_raw_packet(sv[0], &h, sizeof(h));
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	memcpy(pkt, &h, sizeof(h));
	h.len = 0;
	memcpy(pkt, &h, sizeof(h));
	memset(pkt + sizeof(h), 0, 4);
	send_raw_packet(sv[0], pkt, sizeof(h) + 4);
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	h.len = 0xffffffffu;
	memcpy(pkt, &h, sizeof(h));
	send_raw_packet(sv[0], pkt, sizeof(h) + 4);
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);

	/* Shorter than a header. */
	h = (struct ipc_hdr){ IPC_VERSION, 1, 0, 0 };
	send_raw_packet(sv[0], &h, sizeof(h) - 1);
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);
	send_raw_packet(sv[0], "x", 1);
	assert_int_equal(ipc_recv(sv[1], &m, 0), -1);

	/* A correct raw packet is accepted: the framing is what we think. */
	h = (struct ipc_hdr){ IPC_VERSION, 0x77, 4, 0x99 };
	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + sizeof(h), "\x2a\0\0\0", 4);
	send_raw_packet(sv[0], pkt, sizeof(h) + 4);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 1);
	assert_int_equal(m.type, 0x77);
	assert_int_equal(m.id, 0x99);
	uint32_t v;
	assert_int_equal(ipc_get_u32(&m, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ipc_get_end(&m), 0);
	ipc_msg_free(&m);

	/* Non-blocking and nothing there. */
	assert_int_equal(net_set_nonblock(sv[1]), 0);
	assert_int_equal(ipc_recv(sv[1], &m, 0), -2);

	/* EOF. */
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], &m, 0), 0);
	assert_int_equal(m.fd, -1);
	/* Sending to a closed peer fails (no SIGPIPE). */
	assert_int_equal(ipc_send_empty(sv[1], 1, 1, -1), -1);
	close(sv[1]);
}

/* ---- net ---------------------------------------------------------------- */

static void test_net_loopback(void **state)
{
	static const char *yes[] = { "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1",
				     "::ffff:127.0.0.1", "::ffff:127.9.9.9", "local" };
	static const char *no[] = { "128.0.0.1", "10.0.0.1", "0.0.0.0", "1.127.0.0",
				    "12.7.0.0", "::", "::2", "::10", "::ffff:10.0.0.1",
				    "fe80::1", "2001:db8::1", "", "localhost", "::1:1",
				    "::ffff:128.0.0.1" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!net_addr_is_loopback(yes[i]))
			fail_msg("%s not loopback", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (net_addr_is_loopback(no[i]))
			fail_msg("%s loopback", no[i]);
}

static void test_net_addr_text(void **state)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct sockaddr_un su;
	char out[64];

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &s4.sin_addr);
	net_addr_text((struct sockaddr *)&s4, out, sizeof(out));
	assert_string_equal(out, "192.0.2.7");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
	net_addr_text((struct sockaddr *)&s6, out, sizeof(out));
	assert_string_equal(out, "::ffff:127.0.0.1");
	assert_true(net_addr_is_loopback(out));
	memset(&su, 0, sizeof(su));
	su.sun_family = AF_UNIX;
	net_addr_text((struct sockaddr *)&su, out, sizeof(out));
	assert_string_equal(out, "local");
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void test_net_listen(void **state)
{
	int fds[NET_MAX_LISTENERS];
	struct error err;
	int n, before;

	n = net_listen_list("127.0.0.1:0", fds, NET_MAX_LISTENERS, &err);
	assert_int_equal(n, 1);
	int port = port_of(fds[0]);
	assert_true(port > 0);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	/* It really listens. */
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	close(c);
	close(fds[0]);

	/* Several, with blanks. */
	n = net_listen_list(" 127.0.0.1:0 ,\t127.0.0.1:0\t", fds, NET_MAX_LISTENERS, &err);
	assert_int_equal(n, 2);
	assert_int_not_equal(port_of(fds[0]), port_of(fds[1]));
	close(fds[0]);
	close(fds[1]);

	/* Empty list: nothing. */
	assert_int_equal(net_listen_list("", fds, NET_MAX_LISTENERS, &err), 0);

	/* Bad specs fail with a message and leave no fd behind. */
	before = count_open_fds();
	assert_int_equal(net_listen_list("127.0.0.1", fds, NET_MAX_LISTENERS, &err), -1);
	assert_non_null(strstr(err.msg, "not host:port"));
	assert_int_equal(net_listen_list("127.0.0.1:http", fds, NET_MAX_LISTENERS, &err), -1);
	assert_non_null(strstr(err.msg, "127.0.0.1:http"));
	assert_int_equal(net_listen_list("127.0.0.1:0,127.0.0.1:0,nope", fds, NET_MAX_LISTENERS,
					 &err), -1);
	assert_int_equal(count_open_fds(), before);
	assert_int_equal(net_listen_list("127.0.0.1:0,127.0.0.1:0,127.0.0.1:0", fds, 2, &err), -1);
	assert_non_null(strstr(err.msg, "too many"));
	assert_int_equal(count_open_fds(), before);

	/* A port in use. */
	n = net_listen_list("127.0.0.1:0", fds, 1, &err);
	assert_int_equal(n, 1);
	char spec[64];
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", port_of(fds[0]));
	int fds2[1];
	assert_int_equal(net_listen_list(spec, fds2, 1, &err), -1);
	assert_non_null(strstr(err.msg, spec));
	close(fds[0]);
	assert_int_equal(count_open_fds(), before);

	/* [v6]:port, where the host has IPv6. */
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) {
		struct sockaddr_in6 a6;
		memset(&a6, 0, sizeof(a6));
		a6.sin6_family = AF_INET6;
		a6.sin6_addr = in6addr_loopback;
		int have_v6 = bind(s6, (struct sockaddr *)&a6, sizeof(a6)) == 0;
		close(s6);
		if (have_v6) {
			n = net_listen_list("[::1]:0", fds, 1, &err);
			assert_int_equal(n, 1);
			assert_true(port_of(fds[0]) > 0);
			close(fds[0]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_buf_steal),
		cmocka_unit_test(test_arena_alignment),
		cmocka_unit_test(test_arena_large),
		cmocka_unit_test(test_arena_reset),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_base64_rejects),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_parse_valid),
		cmocka_unit_test(test_config_parse_errors),
		cmocka_unit_test(test_config_bools_ints),
		cmocka_unit_test(test_config_quoted),
		cmocka_unit_test(test_config_validate),
		cmocka_unit_test(test_passdb_list),
		cmocka_unit_test(test_config_override),
		cmocka_unit_test(test_config_dump_roundtrip),
		cmocka_unit_test(test_config_extra_keys_and_roles),
		cmocka_unit_test(test_config_read_file),
		cmocka_unit_test(test_config_expand),
		cmocka_unit_test(test_ipc_fields),
		cmocka_unit_test(test_ipc_max_payload),
		cmocka_unit_test(test_ipc_getters_reject),
		cmocka_unit_test(test_ipc_fd_passing),
		cmocka_unit_test(test_ipc_fd_refused),
		cmocka_unit_test(test_ipc_two_fds),
		cmocka_unit_test(test_ipc_bad_framing),
		cmocka_unit_test(test_net_loopback),
		cmocka_unit_test(test_net_addr_text),
		cmocka_unit_test(test_net_listen),
	};
	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
