/* lib/sandbox.c: each filter, installed in a child process, lets its
 * role's calls through and kills the process (SIGSYS) on a call outside
 * them; log mode lets everything through; a compiled program loads the
 * same filter, and so does one compiled in a child process; the bounding
 * set shrinks to what is kept. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/sandbox.h"

enum how { DIRECT, COMPILED, APART };

/* In a child: install role's filter, then make one call (family: a socket
 * of that family; 0: open a file). The child's wait status. */
static int run_child(enum sandbox_role role, enum sandbox_mode mode, enum how how, int family)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct error err;
		struct sandbox_prog *p;
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(90);
		if (how != DIRECT) {
			int r = how == APART ? sandbox_compile_apart(role, mode, &p, &err)
					     : sandbox_compile(role, mode, &p, &err);
			if (r < 0 || sandbox_load(p, &err) < 0)
				_exit(91);
			sandbox_prog_free(p);
		} else if (sandbox_seccomp(role, mode, &err) < 0) {
			_exit(92);
		}
		int fd = family ? socket(family, SOCK_STREAM, 0) : open("/dev/null", O_RDONLY);
		_exit(fd >= 0 ? 0 : 93);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_killed(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void expect_ok(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_login_filter(void **state)
{
	for (enum how h = DIRECT; h <= APART; h++) {
		expect_ok(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_KILL, h, AF_UNIX));
		expect_killed(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_KILL, h, AF_INET));
		expect_killed(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_KILL, h, AF_INET6));
		expect_killed(run_child(SANDBOX_LOGIN_TEMPLATE, SANDBOX_SECCOMP_KILL, h, AF_INET));
	}
}

static void test_worker_filter(void **state)
{
	expect_ok(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, 0));
	expect_ok(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, AF_UNIX));
	/* a database store connects over TCP; other families stay closed */
	expect_ok(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, AF_INET));
	expect_ok(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, AF_INET6));
	expect_killed(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, AF_NETLINK));
	expect_killed(run_child(SANDBOX_WORKER, SANDBOX_SECCOMP_KILL, DIRECT, AF_PACKET));
}

static void test_log_and_off(void **state)
{
	expect_ok(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_LOG, DIRECT, AF_INET));
	expect_ok(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_OFF, COMPILED, AF_INET));
	expect_ok(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_LOG, APART, AF_INET));
	expect_ok(run_child(SANDBOX_LOGIN, SANDBOX_SECCOMP_OFF, APART, AF_INET));
}

static void test_mode_parse(void **state)
{
	enum sandbox_mode m;

	assert_int_equal(sandbox_mode_parse("yes", &m), 0);
	assert_int_equal(m, SANDBOX_SECCOMP_KILL);
	assert_int_equal(sandbox_mode_parse("LOG", &m), 0);
	assert_int_equal(m, SANDBOX_SECCOMP_LOG);
	assert_int_equal(sandbox_mode_parse("no", &m), 0);
	assert_int_equal(m, SANDBOX_SECCOMP_OFF);
	assert_int_equal(sandbox_mode_parse("kill", &m), -1);
	assert_int_equal(sandbox_mode_parse("", &m), -1);
}

static unsigned long long capbnd_of_self(void)
{
	char line[256];
	unsigned long long v = ~0ULL;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "CapBnd:", 7) == 0)
			v = strtoull(line + 7, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static void test_bounding_set(void **state)
{
	int status;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static const int keep[] = { CAP_KILL, CAP_SETUID };
		struct error err;
		if (sandbox_caps_keep(keep, 2, &err) < 0)
			_exit(94);
		_exit(capbnd_of_self() == ((1ULL << CAP_KILL) | (1ULL << CAP_SETUID)) ? 0 : 95);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	expect_ok(status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_filter),
		cmocka_unit_test(test_worker_filter),
		cmocka_unit_test(test_log_and_off),
		cmocka_unit_test(test_mode_parse),
		cmocka_unit_test(test_bounding_set),
	};
	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
