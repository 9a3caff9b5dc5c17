/* haven.conf: "key = value" lines, '#' comments, one key per line.
 * Every key is declared once in config.c's table with its type, default and
 * one-line description; `havend -n` prints the table, haven.conf(5)
 * documents it. The master reads the file; children get the very same
 * text through an inherited memfd so every process agrees on it. */
#ifndef HAVEN_CONFIG_H
#define HAVEN_CONFIG_H
#include <stddef.h>
#include "buf.h"
#include "error.h"

enum plaintext_auth { PLAINTEXT_NO, PLAINTEXT_LOOPBACK, PLAINTEXT_YES };

struct config {
	char *source;           /* the name config_parse was given */
	char **key_where;       /* per key, "file:line" that set it; NULL: default */
	char *listen;           /* comma-separated host:port, STARTTLS capable */
	char *listen_tls;       /* implicit TLS listeners */
	char *tls_cert;
	char *tls_key;
	char *plaintext_auth;   /* no | loopback | yes */
	char *login_user;
	char *login_chroot;
	char *libexec_dir;
	char *passdb;           /* list: lib/passdb_list.h */
	char *pam_service;
	int allow_plain_passwords;
	char *mail_user;        /* uid/gid for passdb entries without them */
	char *mail_home;        /* home template for entries without one */
	char *mail_backend;
	char *mail_privileged_group;
	char *run_dir;          /* this instance's runtime files */
	char *pid_file;
	char *log_level;
	long auth_failure_delay_ms;
	long auth_failure_delay_max_ms;
	long auth_max_attempts;
	long auth_failure_window;
	long auth_ip_max_failures;
	long auth_user_ip_max_failures;
	long auth_block_time;
	long client_ipv4_prefix;
	long client_ipv6_prefix;
	char *trusted_networks;
	long max_line_length;
	long max_preauth_line;
	long max_literal_preauth;
	long max_literal;
	long max_multiappend_messages;   /* MULTIAPPEND (RFC 3502) */
	long max_multiappend_size;
	long max_bad_commands;
	long preauth_timeout;
	long preauth_idle_timeout;
	long idle_timeout;
	long worker_idle_timeout;
	long worker_reuse;          /* kept idle workers, at most */
	long worker_reuse_timeout;
	long max_connections;
	long max_connections_per_ip;
	long login_pool_size;
	long login_connections_per_process;
	int login_fork;
	char *seccomp;          /* yes | log | no */
	long login_memory_limit;   /* MiB */
	long worker_memory_limit;  /* MiB */
	long lock_timeout;
	char *lmtp_listen;      /* LMTP listeners: host:port or /path (unix) */
	char *managesieve_listen; /* ManageSieve listeners, host:port */
	char *lmtp_hostname;    /* in the greeting and Received: ""= the host's name */
	char *lmtp_local_domains; /* domains whose addresses are looked up by local part */
	char *recipient_delimiter; /* user+detail: the characters that start a detail */
	long lmtp_max_message;
	long lmtp_timeout;
	char *metrics_listen;   /* OpenMetrics endpoint, loopback host:port */
	long sieve_max_script_size; /* bytes of one Sieve script */
	long sieve_max_scripts; /* Sieve scripts a user may keep */
	char *submission_host;  /* SMTP relay for Sieve's outgoing mail, "" none */
	long quota_bytes;       /* QUOTA: default storage limit in bytes, 0 none */
	long quota_messages;    /* QUOTA: default message limit, 0 none */
	char *quota_admins;     /* QUOTA: logins whose SETQUOTA sets others' limits */
	char *admin_socket;     /* haven-admin's unix socket to the master, "" none */
	/* METADATA (RFC 5464) */
	long metadata_max_value_size; /* bytes of one entry's value */
	long metadata_max_entries;    /* entries of one user, server and mailboxes */
	long metadata_max_total_size; /* bytes of one user's entry names and values */
	char *metadata_server_admin;  /* the server's /shared/admin, "" none */
	char *metadata_server_comment; /* the server's /shared/comment, "" none */
	long max_search_updates;      /* RETURN (UPDATE) contexts of one session */
	/* Keys the core does not know ("<module>_<name>"): a mail backend's
	 * or a passdb's, checked by the process that reads them. */
	struct config_extra *extra;
	size_t nextra;
};

struct config_extra {
	char *key, *value;
	char *where;            /* "file:line" it came from */
};

/* Which processes get a key: the master hands each kind of child a
 * config text with only what it may see (a database password never
 * reaches a login worker). */
enum config_role {
	CONFIG_ROLE_LOGIN = 1 << 0,
	CONFIG_ROLE_AUTH = 1 << 1,
	CONFIG_ROLE_WORKER = 1 << 2,
};

/* Fill with defaults. */
void config_init(struct config *c);
void config_free(struct config *c);
/* Parse text; name is used in error messages ("name:line: ..."). */
int config_parse(struct config *c, const char *text, size_t len, const char *name,
		 struct error *err);
/* havend -o KEY=VALUE: set one key as a line of the file would, after
 * it (messages name "command line: -o KEY"). */
int config_override(struct config *c, const char *arg, struct error *err);
/* Read a file into buf (bounded size). */
int config_read_file(const char *path, struct buf *out, struct error *err);
/* Cross-key checks after parsing. Errors start "file:line: key: ". */
int config_validate(const struct config *c, struct error *err);
/* "file:line" where key was set ("file: (default)" when it was not). */
void config_where(const struct config *c, const char *key, char *out, size_t outlen);
/* Fill err with "file:line: key: " and the message; returns -1. */
int config_fail(const struct config *c, const char *key, struct error *err, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
/* Print the effective configuration as a valid haven.conf. */
void config_dump(const struct config *c, struct buf *out);
/* The configuration as the given roles may see it (no comments): core
 * keys, and extra keys only for the roles they belong to. */
void config_dump_role(const struct config *c, unsigned roles, struct buf *out);
/* passdb_* keys are the auth helper's, every other extra key a worker's. */
enum config_role config_extra_role(const char *key);
void config_extra_set(struct config *c, const char *key, const char *value, const char *where);
const char *config_extra_get(const struct config *c, const char *key);
/* yes/no/true/false/on/off/1/0 -> 1/0; -1 if none of these. */
int config_bool_value(const char *v, int *out);
/* Call fn for every key whose value differs between a and b (values as
 * haven.conf text); returns how many did. */
unsigned config_each_change(const struct config *a, const struct config *b,
			    void (*fn)(const char *key, const char *from, const char *to, void *arg),
			    void *arg);
enum plaintext_auth config_plaintext_auth(const struct config *c);
/* Expand %u (user), %h (home), %% in a location template. */
char *config_expand(const char *tmpl, const char *user, const char *home);
/* A runtime path (admin_socket, pid_file) as in effect: p itself when
 * absolute or empty, else under run_dir. The caller frees it. */
char *config_run_path(const struct config *c, const char *p);

#endif
