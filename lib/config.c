#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidr.h"
#include "log.h"
#include "passdb_list.h"
#include "sandbox.h"
#include "xmalloc.h"

#ifndef HAVEN_LIBEXECDIR
#define HAVEN_LIBEXECDIR "/usr/local/libexec/haven"
#endif
#ifndef HAVEN_SYSCONFDIR
#define HAVEN_SYSCONFDIR "/usr/local/etc/haven"
#endif
#ifndef HAVEN_LOCALSTATEDIR
#define HAVEN_LOCALSTATEDIR "/usr/local/var"
#endif

#define CONFIG_MAX_SIZE (1024 * 1024)

enum ctype { C_STR, C_INT, C_BOOL };

struct ckey {
	const char *name;
	enum ctype type;
	size_t off;
	const char *def;
	long min, max;
	const char *doc;
};

#define S(f, d, doc) { #f, C_STR, offsetof(struct config, f), d, 0, 0, doc }
#define I(f, d, lo, hi, doc) { #f, C_INT, offsetof(struct config, f), d, lo, hi, doc }
#define B(f, d, doc) { #f, C_BOOL, offsetof(struct config, f), d, 0, 1, doc }

static const struct ckey keys[] = {
	S(listen, "127.0.0.1:143", "plain IMAP listeners (STARTTLS offered when TLS is configured), comma-separated host:port; empty disables"),
	S(listen_tls, "", "implicit-TLS IMAP listeners, comma-separated host:port"),
	S(tls_cert, "", "PEM certificate chain; empty disables TLS"),
	S(tls_key, "", "PEM private key, readable by root only"),
	S(plaintext_auth, "loopback", "allow LOGIN/PLAIN without TLS: no, loopback (only from 127.0.0.0/8 and ::1) or yes"),
	S(login_user, "haven", "unprivileged user the pre-auth login workers run as; owns no files"),
	S(login_chroot, HAVEN_LOCALSTATEDIR "/lib/haven/empty", "empty root-owned directory the login workers chroot to"),
	S(libexec_dir, HAVEN_LIBEXECDIR, "where haven-login, haven-auth and haven-worker are installed"),
	S(passdb, "file:" HAVEN_SYSCONFDIR "/passwd", "password databases, tried in order until one knows the user: comma-separated file:PATH (passwd-like: user:password:uid:gid:gecos:home:shell), pam, ldap, sql, oauth; their settings are passdb_* keys (haven.conf(5))"),
	S(pam_service, "haven", "PAM service name of passdb = pam (/etc/pam.d/SERVICE)"),
	B(allow_plain_passwords, "no", "accept {PLAIN} passwords in the file passdb (tests and demos only)"),
	S(mail_user, "", "system user whose uid/gid serve passdb entries that have none (virtual users)"),
	S(mail_home, HAVEN_LOCALSTATEDIR "/lib/haven/users/%u", "home directory template for passdb entries without one (%u user, %h home)"),
	S(mail_backend, "mbox", "storage backend: mbox; its settings are <backend>_* keys (haven.conf(5))"),
	S(mail_privileged_group, "mail", "group user workers keep (not effective) for dotlocks and rewrites of INBOX in a spool like Debian's /var/mail (root:mail 2775); empty for none"),
	S(run_dir, HAVEN_LOCALSTATEDIR "/run/haven", "directory of this instance's runtime files: admin_socket and pid_file, when relative, are under it (a second havend on the same host needs only its own run_dir)"),
	S(pid_file, "", "write the master's pid here when set (relative: under run_dir)"),
	S(log_level, "info", "error, warning, info or debug"),
	I(auth_failure_delay_ms, "2000", 0, 60000, "delay before answering a failed login"),
	I(auth_failure_delay_max_ms, "15000", 0, 600000, "the failure delay doubles with each failure counted for the user or the client network, up to this"),
	I(auth_max_attempts, "3", 1, 100, "failed logins allowed per connection before BYE"),
	I(auth_failure_window, "300", 1, 86400, "seconds over which failed logins add up (from the first of them)"),
	I(auth_ip_max_failures, "30", 0, 1000000, "failed logins from one client network within auth_failure_window that block it, for every user; 0 never"),
	I(auth_user_ip_max_failures, "10", 0, 1000000, "failed logins of one user from one client network within auth_failure_window that block that user from that network only; 0 never"),
	I(auth_block_time, "900", 1, 86400, "seconds a login block lasts"),
	I(client_ipv4_prefix, "32", 8, 32, "IPv4 client addresses are counted by this prefix for per-network limits"),
	I(client_ipv6_prefix, "64", 16, 128, "IPv6 client addresses are counted by this prefix for per-network limits (a client has a /64 to pick addresses from)"),
	S(trusted_networks, "127.0.0.0/8, ::1", "networks (comma-separated, CIDR) exempt from the per-network limits, such as a webmail host that brings every user from one address; their users are still counted per user"),
	I(max_line_length, "65536", 1024, 16777216, "longest command line after login, in bytes"),
	I(max_preauth_line, "65536", 256, 65536, "longest command line before login"),
	I(max_literal_preauth, "8192", 0, 65536, "largest literal accepted before login"),
	I(max_literal, "52428800", 1024, 2147483647L, "largest literal (APPEND message) after login"),
	/* MULTIAPPEND (RFC 3502) */
	I(max_multiappend_messages, "1000", 1, 1000000, "messages one APPEND may carry (MULTIAPPEND); all of them are held until the last has arrived"),
	I(max_multiappend_size, "104857600", 1024, 2147483647L, "bytes of all the messages of one APPEND (MULTIAPPEND) together; each one is also bounded by max_literal"),
	I(max_bad_commands, "10", 1, 1000, "consecutive bad commands before BYE"),
	I(preauth_timeout, "60", 1, 3600, "seconds a client may stay unauthenticated in all"),
	I(preauth_idle_timeout, "30", 1, 3600, "seconds of silence before login after which the connection is closed"),
	I(idle_timeout, "1800", 60, 86400, "seconds of client silence before an authenticated session is closed"),
	I(worker_idle_timeout, "30", 0, 86400, "seconds a user worker lingers after its last session"),
	I(worker_reuse, "0", 0, 100000, "idle user workers kept to serve the next user of the same uid and gid (their mail store's database connection stays open and warm); 0: an idle worker exits"),
	I(worker_reuse_timeout, "600", 1, 86400, "seconds a kept worker waits for another user before it exits"),
	I(max_connections, "1000", 1, 1000000, "concurrent pre-auth connections"),
	I(max_connections_per_ip, "50", 0, 1000000, "concurrent pre-auth connections from one client network (see client_ipv4_prefix); 0 for no limit"),
	I(login_pool_size, "4", 0, 10000, "idle login workers kept started, chrooted and unprivileged, waiting for a client"),
	B(login_fork, "yes", "start login workers by forking a template that is already chrooted and unprivileged (fast) instead of executing haven-login for each (a new address-space layout every time)"),
	I(login_connections_per_process, "1", 1, 1000000, "clients a login worker serves one after another before it exits; above 1 trades isolation between clients for speed"),
	S(seccomp, "yes", "seccomp-bpf filters on the login and user workers: yes (a call outside the list kills the process), log (allowed, but the kernel logs it) or no"),
	I(login_memory_limit, "256", 0, 1048576, "address space of a login worker, in MiB (RLIMIT_AS); 0 for none"),
	I(worker_memory_limit, "4096", 0, 1048576, "address space of a user worker, in MiB (RLIMIT_AS); 0 for none"),
	I(lock_timeout, "10", 1, 300, "seconds to wait for a mailbox lock"),
	S(managesieve_listen, "", "ManageSieve listeners (RFC 5804, port 4190) where mail clients edit the users' Sieve scripts, comma-separated host:port; STARTTLS offered when TLS is configured; empty: none"),
	S(lmtp_listen, "", "LMTP listeners (RFC 2033) for mail delivery from an MTA, comma-separated host:port or /path of a unix socket (mode 0666: its directory controls access); empty: none"),
	S(lmtp_hostname, "", "the name in the LMTP greeting and in the Received: header of delivered mail; empty: the host's name"),
	S(lmtp_local_domains, "localhost", "domains whose recipients are also looked up by local part alone (user@localhost as user) when the whole address is not a user; the host's own name is always one; comma-separated"),
	S(recipient_delimiter, "+", "characters that start a detail in a recipient's local part (user+detail: delivered to the mailbox \"detail\" when it exists, else INBOX); empty: none"),
	I(lmtp_max_message, "52428800", 1024, 2147483647L, "largest message accepted over LMTP, in bytes (advertised as SIZE)"),
	I(lmtp_timeout, "300", 10, 3600, "seconds of LMTP client silence before the connection is closed"),
	S(admin_socket, "admin.sock", "unix socket (mode 0600, root only; relative: under run_dir) where haven-admin asks the master about live sessions (who, kick); empty: none"),
	S(metrics_listen, "", "OpenMetrics (Prometheus) endpoint: one host:port on a loopback address, answering GET /metrics; empty: none"),
	I(sieve_max_script_size, "1048576", 1024, 67108864, "largest Sieve script a user may store, in bytes"),
	I(sieve_max_scripts, "32", 1, 10000, "Sieve scripts a user may keep (one of them active)"),
	S(submission_host, "", "where Sieve's outgoing mail (redirect, vacation replies) goes, by plain SMTP without login: host:port of a local MTA or the path of a unix socket; empty: none is sent (logged; a redirect keeps the message instead)"),
	/* QUOTA (RFC 9208) and APPENDLIMIT (RFC 7889) */
	I(quota_bytes, "0", 0, LONG_MAX, "storage quota in bytes of a user whose record (passdb, the SQL users row) sets none, summed over every mailbox as RFC822.SIZE; 0: none"),
	I(quota_messages, "0", 0, LONG_MAX, "message quota of a user whose record sets none, over every mailbox; 0: none"),
	S(quota_admins, "", "logins (space- or comma-separated) whose SETQUOTA and GETQUOTA reach the quota root user/LOGIN of any user of the store (RFC 9208; the PostgreSQL store only, its role needing EXECUTE on haven.set_quota and haven.set_message_quota); empty: none"),
	/* METADATA (RFC 5464) */
	I(metadata_max_value_size, "65536", 1024, 16777216, "largest METADATA entry value a user may set, in bytes (SETMETADATA answers NO [METADATA MAXSIZE n] above it)"),
	I(metadata_max_entries, "1000", 10, 1000000, "METADATA entries a user may keep, on the server and all mailboxes together (NO [METADATA TOOMANY] beyond)"),
	I(metadata_max_total_size, "1048576", 1024, 1073741824L, "bytes of entry names and values a user's METADATA entries may take in all (NO [OVERQUOTA] beyond)"),
	S(metadata_server_admin, "", "the server's METADATA /shared/admin entry, a URI such as mailto:postmaster@example.org; empty: none"),
	S(metadata_server_comment, "", "the server's METADATA /shared/comment entry; empty: none"),
	/* CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267) */
	I(max_search_updates, "5", 1, 1000, "SEARCH and SORT results a session may have kept up to date with RETURN (UPDATE) at once (NO [NOUPDATE] beyond)"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static char **str_field(struct config *c, const struct ckey *k)
{
	return (char **)((char *)c + k->off);
}

static long *int_field(struct config *c, const struct ckey *k)
{
	return (long *)((char *)c + k->off);
}

static int *bool_field(struct config *c, const struct ckey *k)
{
	return (int *)((char *)c + k->off);
}

int config_bool_value(const char *v, int *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = 1;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = 0;
	else
		return -1;
	return 0;
}

static int set_key(struct config *c, const struct ckey *k, const char *v, const char *where,
		   struct error *err)
{
	char *end;
	long n;

	switch (k->type) {
	case C_STR:
		free(*str_field(c, k));
		*str_field(c, k) = xstrdup(v);
		return 0;
	case C_INT:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end != '\0') {
			error_set(err, ERR_PARSE, "%s: %s: not a number: \"%s\"", where, k->name, v);
			return -1;
		}
		if (n < k->min || n > k->max) {
			error_set(err, ERR_PARSE, "%s: %s: %ld out of range %ld..%ld", where, k->name,
				  n, k->min, k->max);
			return -1;
		}
		*int_field(c, k) = n;
		return 0;
	case C_BOOL:
		if (config_bool_value(v, bool_field(c, k)) < 0) {
			error_set(err, ERR_PARSE, "%s: %s: expected yes or no, got \"%s\"", where,
				  k->name, v);
			return -1;
		}
		return 0;
	}
	return -1;
}

void config_init(struct config *c)
{
	struct error err;
	memset(c, 0, sizeof(*c));
	c->key_where = xcalloc(NKEYS, sizeof(*c->key_where));
	for (size_t i = 0; i < NKEYS; i++)
		if (set_key(c, &keys[i], keys[i].def, "default", &err) < 0)
			fatal("bad built-in default: %s", err.msg);
}

void config_free(struct config *c)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].type == C_STR)
			free(*str_field(c, &keys[i]));
	for (size_t i = 0; i < c->nextra; i++) {
		free(c->extra[i].key);
		free(c->extra[i].value);
		free(c->extra[i].where);
	}
	free(c->extra);
	for (size_t i = 0; c->key_where && i < NKEYS; i++)
		free(c->key_where[i]);
	free(c->key_where);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

/* ---- keys of the modules that declare their own ------------------------- */

/* "<module>_<name>": lower-case letters, digits and underscores, with an
 * underscore after the first letter. */
static int extra_key_valid(const char *k)
{
	const char *u = strchr(k, '_');
	if (u == NULL || u == k || u[1] == '\0')
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

enum config_role config_extra_role(const char *key)
{
	return strncmp(key, "passdb_", 7) == 0 ? CONFIG_ROLE_AUTH : CONFIG_ROLE_WORKER;
}

void config_extra_set(struct config *c, const char *key, const char *value, const char *where)
{
	for (size_t i = 0; i < c->nextra; i++) {
		if (strcmp(c->extra[i].key, key) == 0) {
			free(c->extra[i].value);
			free(c->extra[i].where);
			c->extra[i].value = xstrdup(value);
			c->extra[i].where = xstrdup(where);
			return;
		}
	}
	c->extra = xreallocarray(c->extra, c->nextra + 1, sizeof(*c->extra));
	c->extra[c->nextra].key = xstrdup(key);
	c->extra[c->nextra].value = xstrdup(value);
	c->extra[c->nextra].where = xstrdup(where);
	c->nextra++;
}

const char *config_extra_get(const struct config *c, const char *key)
{
	for (size_t i = 0; i < c->nextra; i++)
		if (strcmp(c->extra[i].key, key) == 0)
			return c->extra[i].value;
	return NULL;
}

static char *trim(char *s)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One "key = value": a core key of the table, or a module's key kept in
 * extra for the process that reads it. where ("file:line") is kept. */
static int set_line(struct config *c, const char *key, const char *val, const char *where,
		    struct error *err)
{
	const struct ckey *k = NULL;

	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (k == NULL && extra_key_valid(key)) {
		/* A backend's or passdb's: checked by the process that reads
		 * it (backend_settings_check, haven-auth's passdb check). */
		config_extra_set(c, key, val, where);
		return 0;
	}
	if (k == NULL) {
		error_set(err, ERR_PARSE, "%s: unknown key \"%s\"", where, key);
		return -1;
	}
	if (set_key(c, k, val, where, err) < 0)
		return -1;
	free(c->key_where[k - keys]);
	c->key_where[k - keys] = xstrdup(where);
	return 0;
}

int config_parse(struct config *c, const char *text, size_t len, const char *name,
		 struct error *err)
{
	size_t pos = 0;
	unsigned lineno = 0;
	char where[PATH_MAX + 32], next_where[PATH_MAX + 32] = "";

	free(c->source);
	c->source = xstrdup(name);

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *line, *key, *val, *eq;

		lineno++;
		snprintf(where, sizeof(where), "%s:%u", name, lineno);
		if (memchr(text + pos, '\0', llen)) {
			error_set(err, ERR_PARSE, "%s: NUL byte in line", where);
			return -1;
		}
		line = xstrndup(text + pos, llen);
		pos += llen + (nl ? 1 : 0);
		key = trim(line);
		if (strncmp(key, "#@ ", 3) == 0 && strlen(key + 3) < sizeof(where)) {
			/* Where the next key came from (config_dump_role), so
			 * a child's message points at the administrator's file. */
			snprintf(next_where, sizeof(next_where), "%s", key + 3);
			free(line);
			continue;
		}
		if (next_where[0]) {
			snprintf(where, sizeof(where), "%s", next_where);
			next_where[0] = '\0';
		}
		if (*key == '\0' || *key == '#') {
			free(line);
			continue;
		}
		eq = strchr(key, '=');
		if (eq == NULL) {
			error_set(err, ERR_PARSE, "%s: expected \"key = value\"", where);
			free(line);
			return -1;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		/* Values may be quoted to keep leading/trailing blanks or '#'. */
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		if (set_line(c, key, val, where, err) < 0) {
			free(line);
			return -1;
		}
		free(line);
	}
	return 0;
}

int config_override(struct config *c, const char *arg, struct error *err)
{
	const char *eq = strchr(arg, '=');
	char *key, *val, where[300];
	int r;

	if (eq == NULL || eq == arg) {
		error_set(err, ERR_PARSE, "-o %s: expected KEY=VALUE", arg);
		return -1;
	}
	key = xstrndup(arg, (size_t)(eq - arg));
	val = xstrdup(eq + 1);
	snprintf(where, sizeof(where), "command line: -o %s", trim(key));
	r = set_line(c, trim(key), val, where, err);
	free(key);
	free(val);
	return r;
}

int config_read_file(const char *path, struct buf *out, struct error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char tmp[8192];
	ssize_t n;

	if (fd < 0) {
		error_set(err, ERR_NONEXISTENT, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		error_set(err, ERR_PARSE, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			error_set(err, ERR_INTERNAL, "%s: read: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (out->len + (size_t)n > CONFIG_MAX_SIZE) {
			error_set(err, ERR_LIMIT, "%s: larger than %d bytes", path, CONFIG_MAX_SIZE);
			close(fd);
			return -1;
		}
		buf_append(out, tmp, (size_t)n);
	}
	close(fd);
	return 0;
}

/* Where key got its value, for messages: "file:line", or "file" and
 * "(default)" when the file does not set it. */
void config_where(const struct config *c, const char *key, char *out, size_t outlen)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].name, key) != 0)
			continue;
		if (c->key_where && c->key_where[i])
			snprintf(out, outlen, "%s", c->key_where[i]);
		else
			snprintf(out, outlen, "%s: (default)", c->source ? c->source : "config");
		return;
	}
	snprintf(out, outlen, "%s", c->source ? c->source : "config");
}

int config_fail(const struct config *c, const char *key, struct error *err, const char *fmt,
		...)
{
	char where[PATH_MAX + 32], msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_where(c, key, where, sizeof(where));
	error_set(err, ERR_PARSE, "%s: %s: %s", where, key, msg);
	return -1;
}

static int listen_list_ok(const struct config *c, const char *v, const char *key,
			  struct error *err)
{
	char *copy = xstrdup(v), *save = NULL, *tok;
	int rc = 0, n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);
		if (*t == '\0')
			continue;
		n++;
		if (*t == '/')
			continue;  /* a unix socket's path (net.h) */
		char *colon = strrchr(t, ':');
		char *end;
		long port;
		if (colon == NULL || colon == t) {
			rc = config_fail(c, key, err, "\"%s\" is not host:port", t);
			break;
		}
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port < 0 || port > 65535 || end == colon + 1) {
			rc = config_fail(c, key, err, "bad port in \"%s\"", t);
			break;
		}
	}
	free(copy);
	/* "," or " " is a typo, not a way to say "no listener". */
	if (rc == 0 && n == 0 && strspn(v, " \t") != strlen(v))
		rc = config_fail(c, key, err, "no host:port in \"%s\"", v);
	return rc;
}

/* One loopback host:port: the counters are for the host's own scraper
 * (or a proxy in front of it), never for the network. */
static int metrics_listen_ok(const struct config *c, struct error *err)
{
	const char *v = c->metrics_listen;
	const char *colon = strrchr(v, ':');

	if (v[0] == '\0')
		return 0;
	if (strchr(v, ',') || colon == NULL || v[0] == '/')
		return config_fail(c, "metrics_listen", err, "expected one host:port");
	if (strncmp(v, "127.", 4) != 0 && strncmp(v, "[::1]:", 6) != 0 &&
	    strncmp(v, "localhost:", 10) != 0)
		return config_fail(c, "metrics_listen", err, "\"%s\" is not a loopback address", v);
	return listen_list_ok(c, v, "metrics_listen", err);
}

static int validate_words(const struct config *c, struct error *err)
{
	enum log_level lvl;
	enum sandbox_mode sb;
	struct cidr_list nets;

	if (strcmp(c->plaintext_auth, "no") && strcmp(c->plaintext_auth, "loopback") &&
	    strcmp(c->plaintext_auth, "yes"))
		return config_fail(c, "plaintext_auth", err, "expected no, loopback or yes");
	if (log_level_parse(c->log_level, &lvl) < 0)
		return config_fail(c, "log_level", err, "expected error, warning, info or debug");
	if (cidr_list_parse(c->trusted_networks, &nets, err) < 0)
		return config_fail(c, "trusted_networks", err, "%s", err->msg);
	cidr_list_free(&nets);
	if (sandbox_mode_parse(c->seccomp, &sb) < 0)
		return config_fail(c, "seccomp", err, "expected yes, log or no");
	return 0;
}

int config_validate(const struct config *c, struct error *err)
{
	struct passdb_list pdbs;
	int only_oauth;

	if (validate_words(c, err) < 0)
		return -1;
	if (listen_list_ok(c, c->listen, "listen", err) < 0 ||
	    listen_list_ok(c, c->listen_tls, "listen_tls", err) < 0 ||
	    listen_list_ok(c, c->lmtp_listen, "lmtp_listen", err) < 0 ||
	    listen_list_ok(c, c->managesieve_listen, "managesieve_listen", err) < 0 ||
	    metrics_listen_ok(c, err) < 0)
		return -1;
	if (c->listen[0] == '\0' && c->listen_tls[0] == '\0')
		return config_fail(c, "listen", err, "listen and listen_tls are both empty");
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		return config_fail(c, c->tls_cert[0] ? "tls_cert" : "tls_key", err,
				   "tls_cert and tls_key must be set together");
	if (c->listen_tls[0] && c->tls_cert[0] == '\0')
		return config_fail(c, "listen_tls", err, "needs tls_cert and tls_key");
	if (passdb_list_parse(c->passdb, &pdbs, err) < 0)
		return config_fail(c, "passdb", err, "%s", err->msg);
	only_oauth = pdbs.n == 1 && pdbs.e[0].driver == PASSDB_OAUTH;
	passdb_list_free(&pdbs);
	if (only_oauth)
		return config_fail(c, "passdb", err, "oauth needs a passdb after it that knows the users");
	if (c->login_chroot[0] != '/')
		return config_fail(c, "login_chroot", err, "must be an absolute path");
	return 0;
}

/* k's value as haven.conf text, into out (reset first). */
static void value_text(const struct config *c, const struct ckey *k, struct buf *out)
{
	out->len = 0;
	switch (k->type) {
	case C_STR:
		buf_append_str(out, *str_field((struct config *)c, k));
		break;
	case C_INT:
		buf_printf(out, "%ld", *int_field((struct config *)c, k));
		break;
	case C_BOOL:
		buf_append_str(out, *bool_field((struct config *)c, k) ? "yes" : "no");
		break;
	}
	buf_append_byte(out, '\0');
	out->len--;
}

static void dump_key(const struct config *c, const struct ckey *k, struct buf *out)
{
	struct buf v = BUF_INIT;
	value_text(c, k, &v);
	if (k->type == C_STR)
		buf_printf(out, "%s = \"%s\"\n", k->name, v.data);
	else
		buf_printf(out, "%s = %s\n", k->name, v.data);
	buf_free(&v);
}

void config_dump_role(const struct config *c, unsigned roles, struct buf *out)
{
	char where[PATH_MAX + 64];

	/* "#@ where" before each key: the child's messages then name the
	 * administrator's file and line (or -o, or the default), not this
	 * text's. */
	for (size_t i = 0; i < NKEYS; i++) {
		config_where(c, keys[i].name, where, sizeof(where));
		buf_printf(out, "#@ %s\n", where);
		dump_key(c, &keys[i], out);
	}
	for (size_t i = 0; i < c->nextra; i++)
		if (config_extra_role(c->extra[i].key) & roles)
			buf_printf(out, "#@ %s\n%s = \"%s\"\n", c->extra[i].where, c->extra[i].key,
				   c->extra[i].value);
}

void config_dump(const struct config *c, struct buf *out)
{
	struct buf v = BUF_INIT;

	for (size_t i = 0; i < NKEYS; i++) {
		value_text(c, &keys[i], &v);
		buf_printf(out, "# %s\n%s = %s\n", keys[i].doc, keys[i].name, v.data);
	}
	for (size_t i = 0; i < c->nextra; i++)
		buf_printf(out, "# (%s)\n%s = \"%s\"\n", c->extra[i].where, c->extra[i].key,
			   c->extra[i].value);
	buf_free(&v);
}

unsigned config_each_change(const struct config *a, const struct config *b,
			    void (*fn)(const char *key, const char *from, const char *to, void *arg),
			    void *arg)
{
	struct buf va = BUF_INIT, vb = BUF_INIT;
	unsigned n = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		value_text(a, &keys[i], &va);
		value_text(b, &keys[i], &vb);
		if (strcmp(va.data, vb.data) == 0)
			continue;
		n++;
		fn(keys[i].name, va.data, vb.data, arg);
	}
	buf_free(&va);
	buf_free(&vb);
	return n;
}

enum plaintext_auth config_plaintext_auth(const struct config *c)
{
	if (strcmp(c->plaintext_auth, "yes") == 0)
		return PLAINTEXT_YES;
	if (strcmp(c->plaintext_auth, "no") == 0)
		return PLAINTEXT_NO;
	return PLAINTEXT_LOOPBACK;
}

char *config_expand(const char *tmpl, const char *user, const char *home)
{
	struct buf b = BUF_INIT;
	for (const char *p = tmpl; *p; p++) {
		if (*p != '%' || p[1] == '\0') {
			buf_append_byte(&b, *p);
			continue;
		}
		p++;
		if (*p == 'u')
			buf_append_str(&b, user);
		else if (*p == 'h')
			buf_append_str(&b, home);
		else if (*p == '%')
			buf_append_byte(&b, '%');
		else {
			buf_append_byte(&b, '%');
			buf_append_byte(&b, *p);
		}
	}
	return buf_steal(&b);
}

char *config_run_path(const struct config *c, const char *p)
{
	if (p[0] == '/' || p[0] == '\0')
		return xstrdup(p);
	return xasprintf("%s/%s", c->run_dir, p);
}
