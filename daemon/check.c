/* What the configuration names on this machine, checked before it is
 * used: by `havend -t`, at start (a server whose login workers cannot
 * start must say so and stop, not report "started" and retry forever)
 * and on SIGHUP (a new configuration that names a missing certificate is
 * refused, the old one stays). Every error starts with the file and line
 * of the key it is about. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/ipc.h"
#include "../lib/privdrop.h"
#include "../lib/tls.h"
#include "../lib/xmalloc.h"
#include "master.h"

int check_tls(const struct config *c, struct error *err)
{
	SSL_CTX *ctx;

	if (c->tls_cert[0] == '\0')
		return 0;
	ctx = tls_server_ctx(c->tls_cert, c->tls_key, err);
	if (ctx == NULL) {
		/* tls_server_ctx names what failed first: the chain, or the key
		 * (missing, unreadable, or not the certificate's). */
		int cert = strncmp(err->msg, "certificate", 11) == 0;
		return config_fail(c, cert ? "tls_cert" : "tls_key", err, "%s", err->msg);
	}
	SSL_CTX_free(ctx);
	return 0;
}

/* The login chroot must be a root-owned directory nobody else can write,
 * or the chroot protects nothing. */
int check_chroot(const struct config *c, struct error *err)
{
	struct stat st;

	if (stat(c->login_chroot, &st) < 0)
		return config_fail(c, "login_chroot", err, "%s: %s", c->login_chroot,
				   strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return config_fail(c, "login_chroot", err,
				   "%s must be a directory owned by root, not group/world writable",
				   c->login_chroot);
	return 0;
}

int check_programs(const struct config *c, struct error *err)
{
	static const char *const progs[] = { "haven-auth", "haven-login", "haven-worker",
					     "haven-lmtp", "haven-metrics" };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		char *path = xasprintf("%s/%s", c->libexec_dir, progs[i]);
		int ok = access(path, X_OK) == 0;
		if (!ok)
			config_fail(c, "libexec_dir", err, "%s: %s", path, strerror(errno));
		free(path);
		if (!ok)
			return -1;
	}
	return 0;
}

/* As root: the identities the workers take. A missing login_user makes
 * the running server fall back to nobody (with a warning); -t calls it an
 * error, since it is one. */
int check_users(const struct config *c, struct error *err)
{
	uid_t uid;
	gid_t gid;
	struct error e;

	if (!privdrop_is_root())
		return 0;
	if (privdrop_lookup(c->login_user, &uid, &gid, &e) < 0)
		return config_fail(c, "login_user", err, "%s", e.msg);
	if (c->mail_user[0] && privdrop_lookup(c->mail_user, &uid, &gid, &e) < 0)
		return config_fail(c, "mail_user", err, "%s", e.msg);
	return 0;
}

/* The password database is read by the auth helper's own code: it runs
 * in check mode ("-e check") on the same configuration and prints what
 * is wrong with file and line. */
int check_passdb(struct error *err)
{
	int sv[2], status;
	const char *extra[] = { "-e", "check", NULL };
	pid_t pid;

	if (ipc_socketpair(sv) < 0) {
		error_set(err, ERR_INTERNAL, "socketpair: %s", strerror(errno));
		return -1;
	}
	pid = spawn_child("haven-auth", extra, sv[1], -1, NULL);
	close(sv[1]);
	close(sv[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		error_set(err, ERR_INTERNAL, "cannot run haven-auth to check the passdb");
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, ERR_PARSE, "the passdb check failed (see above)");
		return -1;
	}
	return 0;
}

int check_runtime(const struct config *c, struct error *err)
{
	if (check_programs(c, err) < 0 || check_tls(c, err) < 0)
		return -1;
	if (privdrop_is_root() && check_chroot(c, err) < 0)
		return -1;
	return 0;
}
