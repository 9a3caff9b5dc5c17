/* haven-admin's commands. Each one is an entry of the table in
 * haven_admin.c: the words that name it ("db migrate", "who"), the usage
 * of its arguments, and a function that gets the global options and the
 * arguments after its words. A command prints its own errors. */
#ifndef HAVEN_ADMIN_H
#define HAVEN_ADMIN_H
#include "../lib/config.h"

/* The options before the command words. */
struct admin_opts {
	const char *config; /* haven.conf (-c) */
	const char *dsn;    /* -D: the database, over haven.conf's pgsql_dsn */
	const char *dir;    /* -d: the migration files */
};

/* What a command's run() returns: the process's exit status. */
enum admin_status {
	ADMIN_OK = 0,
	ADMIN_FAILED = 1, /* printed why */
	ADMIN_USAGE = 2,  /* wrong arguments: the caller prints the usage */
};

struct admin_cmd {
	const char *words;  /* "db migrate": matched word by word */
	const char *args;   /* usage of the arguments after the words, "" if none */
	enum admin_status (*run)(const struct admin_opts *o, int argc, char **argv);
};

/* The database to use: -D, else haven.conf's pgsql_dsn. NULL after
 * printing why. The caller frees it. */
char *admin_dsn(const struct admin_opts *o);

/* haven.conf (-c) read and checked as havend reads it. 0, or -1 after
 * printing why; the caller frees cfg (config_free) either way. */
int admin_config_load(const struct admin_opts *o, struct config *cfg);

/* user list|add|passwd|disable|enable|delete (user.c) */
enum admin_status admin_user_list(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_user_add(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_user_passwd(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_user_disable(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_user_enable(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_user_delete(const struct admin_opts *o, int argc, char **argv);

/* auth test (auth_test.c) */
enum admin_status admin_auth_test(const struct admin_opts *o, int argc, char **argv);

/* who, kick USER (live.c): through havend's admin socket */
enum admin_status admin_who(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_kick(const struct admin_opts *o, int argc, char **argv);

/* db migrate, db status (migrate.c) */
enum admin_status admin_db_migrate(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_db_status(const struct admin_opts *o, int argc, char **argv);

/* mailbox list|status|create|delete USER [MAILBOX] (mailbox.c) */
enum admin_status admin_mailbox_list(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_mailbox_status(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_mailbox_create(const struct admin_opts *o, int argc, char **argv);
enum admin_status admin_mailbox_delete(const struct admin_opts *o, int argc, char **argv);
/* quota USER (quota.c) */
enum admin_status admin_quota(const struct admin_opts *o, int argc, char **argv);
/* import USER SOURCE [-m DEST] [-f] (import.c) */
enum admin_status admin_import(const struct admin_opts *o, int argc, char **argv);
/* reindex USER [MAILBOX] (reindex.c) */
enum admin_status admin_reindex(const struct admin_opts *o, int argc, char **argv);
/* export USER DEST (export.c) */
enum admin_status admin_export(const struct admin_opts *o, int argc, char **argv);

#endif
