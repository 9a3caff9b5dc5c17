/* The migration files of a directory (sql/migrations, installed under
 * DATADIR/haven/sql/migrations): NNNN-name.sql, one schema version each,
 * applied in version order. */
#ifndef HAVEN_ADMIN_MIGRATION_FILES_H
#define HAVEN_ADMIN_MIGRATION_FILES_H
#include <stddef.h>
#include "../lib/buf.h"
#include "../lib/error.h"

struct migration_file {
	long version;
	char *name;     /* file name: "0002-roles-and-provisioning.sql" */
	char *path;
};

struct migration_files {
	struct migration_file *v;   /* ascending version */
	size_t n;
};

/* Every *.sql file of dir; one not named NNNN-name.sql, or two with the
 * same version, is an error (a typo must not skip a migration). */
int migration_files_scan(const char *dir, struct migration_files *out, struct error *err);
void migration_files_free(struct migration_files *f);
/* The version a file name carries: > 0, or -1 if it is not NNNN-name.sql. */
long migration_file_version(const char *name);
/* The file's text, which must hold no NUL byte (it goes to libpq as a
 * C string). */
int migration_file_read(const struct migration_file *m, struct buf *text, struct error *err);

#endif
