/* haven-admin db migrate / db status: the migration files of -d against
 * the database of -D or haven.conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "migrate.h"

static enum admin_status db_run(const struct admin_opts *o, int argc,
				int (*op)(PGconn *, const struct migration_files *))
{
	struct migration_files files;
	struct error err;
	PGconn *db;
	char *dsn;
	int rc;

	if (argc != 0)
		return ADMIN_USAGE;
	if ((dsn = admin_dsn(o)) == NULL)
		return ADMIN_FAILED;
	if (migration_files_scan(o->dir, &files, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		free(dsn);
		return ADMIN_FAILED;
	}
	db = migrate_connect(dsn);
	free(dsn);
	rc = db ? op(db, &files) : -1;
	PQfinish(db);
	migration_files_free(&files);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}

enum admin_status admin_db_migrate(const struct admin_opts *o, int argc, char **argv)
{
	(void)argv;
	return db_run(o, argc, migrate_apply);
}

enum admin_status admin_db_status(const struct admin_opts *o, int argc, char **argv)
{
	(void)argv;
	return db_run(o, argc, migrate_status);
}
