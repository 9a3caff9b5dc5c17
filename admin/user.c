/* haven-admin user list|add|passwd|disable|enable|delete: the users of
 * the file passdb or of the PostgreSQL store. Which one: -p file[:PATH]
 * or -p sql after the command words, else the first of the configured
 * passdb list that haven-admin can write (file:PATH or sql). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/passdb.h"
#include "../lib/passdb_list.h"
#include "../lib/xmalloc.h"
#include "admin.h"
#include "pwfile.h"
#include "secret.h"
#include "user_sql.h"

/* The users one command acts on. */
struct user_store {
	enum passdb_driver kind;  /* PASSDB_FILE or PASSDB_SQL */
	char *path;               /* file: the passwd-like file */
	char *dsn;                /* sql: the database */
};

/* What a command's arguments say: the store option, --purge-mail, the
 * user. */
struct user_args {
	const char *store;  /* -p's value, or NULL */
	int purge;          /* --purge-mail */
	const char *user;   /* NULL for list */
};

static int args_parse(int argc, char **argv, int want_user, struct user_args *a)
{
	int i = 0;

	memset(a, 0, sizeof(*a));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-p") == 0 && i + 1 < argc)
			a->store = argv[++i];
		else if (strcmp(argv[i], "--purge-mail") == 0)
			a->purge = 1;
		else
			return -1;
	}
	if (argc - i != want_user)
		return -1;
	a->user = want_user ? argv[i] : NULL;
	return 0;
}

/* The first entry of haven.conf's passdb list that is want (PASSDB_FILE),
 * or any that haven-admin can write (want < 0), into s. */
static int store_configured(const struct admin_opts *o, int want, struct user_store *s)
{
	struct config cfg;
	struct passdb_list l = { .n = 0 };
	struct error err;
	int rc = -1;

	if (admin_config_load(o, &cfg) == 0 && passdb_list_parse(cfg.passdb, &l, &err) < 0)
		fprintf(stderr, "haven-admin: passdb: %s\n", err.msg);
	for (size_t i = 0; i < l.n && rc < 0; i++) {
		enum passdb_driver d = l.e[i].driver;
		if ((want >= 0 && (int)d != want) || (d != PASSDB_FILE && d != PASSDB_SQL))
			continue;
		s->kind = d;
		s->path = d == PASSDB_FILE ? xstrdup(l.e[i].arg) : NULL;
		rc = 0;
	}
	if (rc < 0 && l.n)
		fprintf(stderr, "haven-admin: the passdb list of %s has no %s database: give "
			"one with -p\n", o->config, want < 0 ? "file or sql" : "file");
	passdb_list_free(&l);
	config_free(&cfg);
	return rc;
}

static int store_open(const struct admin_opts *o, const char *opt, struct user_store *s)
{
	memset(s, 0, sizeof(*s));
	if (opt == NULL || strcmp(opt, "file") == 0) {
		if (store_configured(o, opt ? PASSDB_FILE : -1, s) < 0)
			return -1;
	} else if (strncmp(opt, "file:", 5) == 0 && opt[5]) {
		s->kind = PASSDB_FILE;
		s->path = xstrdup(opt + 5);
	} else if (strcmp(opt, "sql") == 0) {
		s->kind = PASSDB_SQL;
	} else {
		fprintf(stderr, "haven-admin: -p %s: expected file, file:PATH or sql\n", opt);
		return -1;
	}
	if (s->kind == PASSDB_SQL && (s->dsn = admin_dsn(o)) == NULL)
		return -1;
	return 0;
}

static void store_close(struct user_store *s)
{
	free(s->path);
	free(s->dsn);
}

/* A file edit, printing why it failed or that it had nothing to do. */
static int file_edit(const struct user_store *s, enum pwfile_op op, const char *user,
		     const char *hash)
{
	struct error err;
	int rc = pwfile_edit(s->path, op, user, hash, &err);

	if (rc < 0)
		fprintf(stderr, "haven-admin: %s\n", err.msg);
	if (rc == 1)
		printf("%s: already %s\n", user, op == PWFILE_DISABLE ? "disabled" : "enabled");
	return rc < 0 ? -1 : 0;
}

/* A new password for user (read, then hashed for the file): add or
 * passwd. */
static int store_password(const struct user_store *s, const char *user, int add)
{
	char pw[SECRET_MAX + 2], scheme[16];
	char *hash = NULL;
	int rc = -1;

	if (s->kind == PASSDB_FILE && !passdb_user_name_valid(user)) {
		fprintf(stderr, "haven-admin: %s: not a valid user name\n", user);
		return -1;
	}
	if (secret_read("New password: ", 1, pw, sizeof(pw)) < 0)
		goto out;
	if (s->kind == PASSDB_SQL) {
		rc = user_sql_call(s->dsn, add ? USER_SQL_CREATE : USER_SQL_PASSWORD, user, pw);
		goto out;
	}
	pwfile_scheme(s->path, scheme, sizeof(scheme));
	if ((hash = password_hash(pw, scheme)) == NULL)
		fprintf(stderr, "haven-admin: crypt(3) cannot hash with %s\n", scheme);
	else
		rc = file_edit(s, add ? PWFILE_ADD : PWFILE_PASSWD, user, hash);
out:
	explicit_bzero(pw, sizeof(pw));
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(hash);
	return rc;
}

static int store_delete(const struct user_store *s, const char *user, int purge)
{
	if (s->kind == PASSDB_SQL && !purge) {
		fprintf(stderr, "haven-admin: deleting %s from the SQL store removes their mail "
			"too: give --purge-mail, or `user disable` to keep it\n", user);
		return -1;
	}
	if (s->kind == PASSDB_SQL)
		return user_sql_call(s->dsn, USER_SQL_DELETE, user, NULL);
	if (purge) {
		fprintf(stderr, "haven-admin: --purge-mail: the mail of a file passdb user is "
			"files under their home; remove them by hand\n");
		return -1;
	}
	if (file_edit(s, PWFILE_DELETE, user, NULL) < 0)
		return -1;
	printf("%s: deleted; their mail stays in their home\n", user);
	return 0;
}

enum user_verb { VERB_LIST, VERB_ADD, VERB_PASSWD, VERB_DISABLE, VERB_ENABLE, VERB_DELETE };

static int verb_run(const struct user_store *s, enum user_verb v, const struct user_args *a)
{
	struct error err;

	switch (v) {
	case VERB_LIST:
		if (s->kind == PASSDB_SQL)
			return user_sql_list(s->dsn);
		if (pwfile_list(s->path, stdout, &err) == 0)
			return 0;
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		return -1;
	case VERB_ADD:
	case VERB_PASSWD:
		return store_password(s, a->user, v == VERB_ADD);
	case VERB_DISABLE:
	case VERB_ENABLE:
		if (s->kind == PASSDB_SQL)
			return user_sql_call(s->dsn, v == VERB_DISABLE ? USER_SQL_DISABLE
					     : USER_SQL_ENABLE, a->user, NULL);
		return file_edit(s, v == VERB_DISABLE ? PWFILE_DISABLE : PWFILE_ENABLE, a->user,
				 NULL);
	case VERB_DELETE:
		return store_delete(s, a->user, a->purge);
	}
	return -1;
}

static enum admin_status user_cmd(const struct admin_opts *o, int argc, char **argv,
				  enum user_verb v)
{
	struct user_args a;
	struct user_store s;
	int rc;

	if (args_parse(argc, argv, v != VERB_LIST, &a) < 0 || (a.purge && v != VERB_DELETE))
		return ADMIN_USAGE;
	if (store_open(o, a.store, &s) < 0) {
		store_close(&s);
		return ADMIN_FAILED;
	}
	rc = verb_run(&s, v, &a);
	store_close(&s);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}

enum admin_status admin_user_list(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_LIST);
}

enum admin_status admin_user_add(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_ADD);
}

enum admin_status admin_user_passwd(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_PASSWD);
}

enum admin_status admin_user_disable(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_DISABLE);
}

enum admin_status admin_user_enable(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_ENABLE);
}

enum admin_status admin_user_delete(const struct admin_opts *o, int argc, char **argv)
{
	return user_cmd(o, argc, argv, VERB_DELETE);
}
