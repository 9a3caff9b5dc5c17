/* haven-admin: one command for administrators. Commands are entries of
 * the table below (see admin.h). Today the schema of the PostgreSQL
 * store: `db migrate` applies the numbered migrations a database lacks,
 * `db status` lists them. SQL comes only from the migration files and
 * the fixed queries of migrate.c, never from the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/config.h"
#include "../lib/xmalloc.h"
#include "admin.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif
#ifndef HAVEN_SYSCONFDIR
#define HAVEN_SYSCONFDIR "/usr/local/etc/haven"
#endif
#ifndef HAVEN_MIGRATIONS_DIR
#define HAVEN_MIGRATIONS_DIR "/usr/local/share/haven/sql/migrations"
#endif

static const struct admin_cmd commands[] = {
#if HAVE_PGSQL
	{ "db migrate", "", admin_db_migrate },
	{ "db status", "", admin_db_status },
#endif
	{ "user list", "[-p file[:PATH]|sql]", admin_user_list },
	{ "user add", "[-p file[:PATH]|sql] USER", admin_user_add },
	{ "user passwd", "[-p file[:PATH]|sql] USER", admin_user_passwd },
	{ "user disable", "[-p file[:PATH]|sql] USER", admin_user_disable },
	{ "user enable", "[-p file[:PATH]|sql] USER", admin_user_enable },
	{ "user delete", "[-p file[:PATH]|sql] [--purge-mail] USER", admin_user_delete },
	{ "auth test", "USER", admin_auth_test },
	{ "who", "", admin_who },
	{ "kick", "USER", admin_kick },
	{ "mailbox list", "USER", admin_mailbox_list },
	{ "mailbox status", "USER MAILBOX", admin_mailbox_status },
	{ "mailbox create", "USER MAILBOX", admin_mailbox_create },
	{ "mailbox delete", "USER MAILBOX", admin_mailbox_delete },
	{ "reindex", "USER [MAILBOX]", admin_reindex },
	{ "quota", "USER", admin_quota },
	{ "import", "USER SOURCE [-m DEST] [-f]", admin_import },
	{ "export", "USER DEST", admin_export },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out, int status)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "%s haven-admin [-c config] [-D dsn] [-d dir] %s%s%s\n",
			i == 0 ? "usage:" : "      ", commands[i].words,
			*commands[i].args ? " " : "", commands[i].args);
	fprintf(out, "       haven-admin --version\n");
	exit(status);
}

static void opts_parse(int argc, char **argv, struct admin_opts *o)
{
	int c;

	o->config = HAVEN_SYSCONFDIR "/haven.conf";
	o->dir = HAVEN_MIGRATIONS_DIR;
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("haven-admin %s\n", HAVEN_VERSION);
		exit(0);
	}
	while ((c = getopt(argc, argv, "+c:D:d:h")) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'D': o->dsn = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
}

/* How many of argv's words spell cmd's words; 0 if they do not. */
static int command_match(const struct admin_cmd *cmd, int argc, char **argv)
{
	const char *w = cmd->words;
	int n = 0;

	while (*w) {
		size_t len = strcspn(w, " ");
		if (n >= argc || strlen(argv[n]) != len || strncmp(argv[n], w, len) != 0)
			return 0;
		n++;
		w += len;
		w += *w == ' ';
	}
	return n;
}

/* The rest of haven.conf is havend's business: only its syntax matters
 * here. */
char *admin_dsn(const struct admin_opts *o)
{
	struct config cfg;
	struct buf text = BUF_INIT;
	struct error err;
	const char *v;
	char *dsn = NULL;

	if (o->dsn != NULL)
		return xstrdup(o->dsn);
	config_init(&cfg);
	if (config_read_file(o->config, &text, &err) < 0 ||
	    config_parse(&cfg, text.data ? text.data : "", text.len, o->config, &err) < 0)
		fprintf(stderr, "haven-admin: %s\n", err.msg);
	else if ((v = config_extra_get(&cfg, "pgsql_dsn")) == NULL)
		fprintf(stderr, "haven-admin: %s has no pgsql_dsn; give the database with -D\n",
			o->config);
	else
		dsn = xstrdup(v);
	config_free(&cfg);
	buf_free(&text);
	return dsn;
}

int main(int argc, char **argv)
{
	struct admin_opts o = { 0 };
	enum admin_status rc;
	int n;

	opts_parse(argc, argv, &o);
	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if ((n = command_match(&commands[i], argc, argv)) == 0)
			continue;
		rc = commands[i].run(&o, argc - n, argv + n);
		if (rc == ADMIN_USAGE)
			usage(stderr, 2);
		return rc;
	}
	usage(stderr, 2);
}
