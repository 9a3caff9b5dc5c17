/* haven-admin db migrate / db status: compare the migration files of a
 * directory with haven.schema_migrations and apply what is missing. */
#ifndef HAVEN_ADMIN_MIGRATE_H
#define HAVEN_ADMIN_MIGRATE_H
#include <libpq-fe.h>

#include "migration_files.h"

/* Connected, or NULL after printing why. dsn: a libpq connection string,
 * URI or database name. */
PGconn *migrate_connect(const char *dsn);
/* Apply every pending migration in order, each file as-is (it holds its
 * own BEGIN/COMMIT and records its version). 0, or -1 after printing why;
 * nothing of a failed file stays. */
int migrate_apply(PGconn *db, const struct migration_files *files);
/* Print applied and pending versions. 0, or -1 after printing why. */
int migrate_status(PGconn *db, const struct migration_files *files);

#endif
