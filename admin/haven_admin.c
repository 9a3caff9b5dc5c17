/* haven-admin: administration of Haven's PostgreSQL store. Today the
 * schema: `db migrate` applies the numbered migrations a database lacks,
 * `db status` lists them. SQL comes only from the migration files and
 * the fixed queries of migrate.c, never from the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/config.h"
#include "../lib/xmalloc.h"
#include "migrate.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif
#ifndef HAVEN_SYSCONFDIR
#define HAVEN_SYSCONFDIR "/usr/local/etc/haven"
#endif
#ifndef HAVEN_MIGRATIONS_DIR
#define HAVEN_MIGRATIONS_DIR "/usr/local/share/haven/sql/migrations"
#endif

struct admin_opts {
	const char *config;
	const char *dsn;
	const char *dir;
	const char *command;
};

static void usage(FILE *out, int status)
{
	fprintf(out, "usage: haven-admin [-c config] [-D dsn] [-d dir] db migrate\n"
		     "       haven-admin [-c config] [-D dsn] [-d dir] db status\n"
		     "       haven-admin --version\n");
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
	if (argc - optind != 2 || strcmp(argv[optind], "db") != 0 ||
	    (strcmp(argv[optind + 1], "migrate") != 0 && strcmp(argv[optind + 1], "status") != 0))
		usage(stderr, 2);
	o->command = argv[optind + 1];
}

/* -D, else haven.conf's pgsql_dsn (the rest of the file is havend's
 * business: only its syntax matters here). NULL after printing why. */
static char *dsn_resolve(const struct admin_opts *o)
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

static int run(const struct admin_opts *o, const char *dsn)
{
	struct migration_files files;
	struct error err;
	PGconn *db;
	int rc;

	if (migration_files_scan(o->dir, &files, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		return -1;
	}
	if ((db = migrate_connect(dsn)) == NULL) {
		migration_files_free(&files);
		return -1;
	}
	if (strcmp(o->command, "migrate") == 0)
		rc = migrate_apply(db, &files);
	else
		rc = migrate_status(db, &files);
	PQfinish(db);
	migration_files_free(&files);
	return rc;
}

int main(int argc, char **argv)
{
	struct admin_opts o = { 0 };
	char *dsn;
	int rc;

	opts_parse(argc, argv, &o);
	if ((dsn = dsn_resolve(&o)) == NULL)
		return 1;
	rc = run(&o, dsn);
	free(dsn);
	return rc < 0 ? 1 : 0;
}
