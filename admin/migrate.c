#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

/* What haven.schema_migrations holds. */
struct applied {
	long version;
	char *name;
	char *at;
};

struct applied_list {
	struct applied *v;  /* ascending version */
	size_t n;
};

/* Held for the session: two haven-admin runs never apply the same file. */
#define MIGRATE_LOCK_KEY "7523094288207667810"

static int fail(const char *what, PGresult *res, PGconn *db)
{
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db);
	fprintf(stderr, "haven-admin: %s: %s", what, msg && *msg ? msg : "failed\n");
	PQclear(res);
	return -1;
}

static void applied_free(struct applied_list *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].at);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* 1 if the table is there (the first migration makes it), 0 if not. */
static int applied_table_exists(PGconn *db)
{
	PGresult *res = PQexec(db,
		"SELECT EXISTS (SELECT FROM pg_catalog.pg_class c"
		" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = 'haven' AND c.relname = 'schema_migrations')");
	int yes;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail("reading the catalog", res, db);
	yes = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return yes;
}

static int applied_read(PGconn *db, struct applied_list *out)
{
	PGresult *res;
	int exists = applied_table_exists(db);

	out->v = NULL;
	out->n = 0;
	if (exists <= 0)
		return exists;
	res = PQexec(db, "SELECT version, name,"
			 " to_char(applied_at, 'YYYY-MM-DD HH24:MI:SSOF')"
			 " FROM haven.schema_migrations ORDER BY version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail("reading haven.schema_migrations", res, db);
	out->n = (size_t)PQntuples(res);
	out->v = xcalloc(out->n ? out->n : 1, sizeof(*out->v));
	for (size_t i = 0; i < out->n; i++) {
		out->v[i].version = strtol(PQgetvalue(res, (int)i, 0), NULL, 10);
		out->v[i].name = xstrdup(PQgetvalue(res, (int)i, 1));
		out->v[i].at = xstrdup(PQgetvalue(res, (int)i, 2));
	}
	PQclear(res);
	return 0;
}

static int is_applied(const struct applied_list *a, long version)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].version == version)
			return 1;
	return 0;
}

static long applied_max(const struct applied_list *a)
{
	return a->n ? a->v[a->n - 1].version : 0;
}

/* A pending file older than an applied version was skipped once: applying
 * it now would run it against a schema it was not written for. */
static int check_order(const struct applied_list *a, const struct migration_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		if (!is_applied(a, f->v[i].version) && f->v[i].version < applied_max(a)) {
			fprintf(stderr, "haven-admin: %s is not applied but version %ld is:"
				" migrations must be applied in order\n", f->v[i].name, applied_max(a));
			return -1;
		}
	}
	return 0;
}

/* arg: the file being applied, or NULL. */
static void print_notice(void *arg, const char *msg)
{
	if (arg != NULL)
		fprintf(stderr, "haven-admin: %s: %s", (const char *)arg, msg);
	else
		fprintf(stderr, "haven-admin: %s", msg);
}

PGconn *migrate_connect(const char *dsn)
{
	/* dsn may be a bare database name, a key=value string or a URI;
	 * it never shows up in a message (it may hold a password). */
	const char *const keys[] = { "dbname", "fallback_application_name", NULL };
	const char *const values[] = { dsn, "haven-admin", NULL };
	PGconn *db = PQconnectdbParams(keys, values, 1);

	if (db == NULL || PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "haven-admin: cannot connect to the database: %s",
			db ? PQerrorMessage(db) : "out of memory\n");
		PQfinish(db);
		return NULL;
	}
	PQsetNoticeProcessor(db, print_notice, NULL);
	return db;
}

/* The file ended its own transaction and recorded its version. */
static int apply_check(PGconn *db, const struct migration_file *m)
{
	const char *params[1];
	char version[32];
	PGresult *res;
	int ok;

	if (PQtransactionStatus(db) != PQTRANS_IDLE) {
		PQclear(PQexec(db, "ROLLBACK"));
		fprintf(stderr, "haven-admin: %s: leaves a transaction open (no COMMIT);"
			" rolled back\n", m->name);
		return -1;
	}
	snprintf(version, sizeof(version), "%ld", m->version);
	params[0] = version;
	res = PQexecParams(db, "SELECT 1 FROM haven.schema_migrations WHERE version = $1::integer",
			   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail(m->name, res, db);
	ok = PQntuples(res) == 1;
	PQclear(res);
	if (!ok)
		fprintf(stderr, "haven-admin: %s: ran but did not record version %ld in"
			" haven.schema_migrations\n", m->name, m->version);
	return ok ? 0 : -1;
}

static int apply_one(PGconn *db, const struct migration_file *m, const char *sql)
{
	PGresult *res;

	printf("applying %s\n", m->name);
	fflush(stdout);
	PQsetNoticeProcessor(db, print_notice, m->name);
	res = PQexec(db, sql);
	PQsetNoticeProcessor(db, print_notice, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		/* The rest of the file did not run; its transaction, if
		 * open, goes too. */
		fail(m->name, res, db);
		if (PQtransactionStatus(db) != PQTRANS_IDLE)
			PQclear(PQexec(db, "ROLLBACK"));
		fprintf(stderr, "haven-admin: %s not applied\n", m->name);
		return -1;
	}
	PQclear(res);
	return apply_check(db, m);
}

static int lock_migrations(PGconn *db)
{
	PGresult *res = PQexec(db, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return fail("taking the migration lock", res, db);
	PQclear(res);
	return 0;
}

static void texts_free(struct buf *texts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&texts[i]);
	free(texts);
}

/* The text of every pending file, read before the first is applied: an
 * unreadable one later in the list must not leave the schema half-way. */
static struct buf *pending_read(const struct migration_files *files, const struct applied_list *a)
{
	struct buf *texts = xcalloc(files->n ? files->n : 1, sizeof(*texts));
	struct error err;

	for (size_t i = 0; i < files->n; i++) {
		if (is_applied(a, files->v[i].version))
			continue;
		if (migration_file_read(&files->v[i], &texts[i], &err) < 0) {
			fprintf(stderr, "haven-admin: %s\n", err.msg);
			texts_free(texts, files->n);
			return NULL;
		}
	}
	return texts;
}

static int apply_pending(PGconn *db, const struct migration_files *files,
			 const struct applied_list *a, size_t *napplied)
{
	struct buf *texts = pending_read(files, a);
	int rc = texts ? 0 : -1;

	for (size_t i = 0; texts && i < files->n && rc == 0; i++) {
		if (is_applied(a, files->v[i].version))
			continue;
		rc = apply_one(db, &files->v[i], texts[i].data);
		if (rc == 0)
			(*napplied)++;
	}
	if (texts)
		texts_free(texts, files->n);
	return rc;
}

int migrate_apply(PGconn *db, const struct migration_files *files)
{
	struct applied_list a;
	size_t napplied = 0;
	int rc;

	if (lock_migrations(db) < 0 || applied_read(db, &a) < 0)
		return -1;
	rc = check_order(&a, files);
	if (rc == 0)
		rc = apply_pending(db, files, &a, &napplied);
	applied_free(&a);
	if (rc == 0 && (rc = applied_read(db, &a)) == 0) {
		if (napplied == 0)
			printf("schema version %ld: nothing to apply\n", applied_max(&a));
		else
			printf("schema version %ld (%zu migration%s applied)\n", applied_max(&a),
			       napplied, napplied == 1 ? "" : "s");
		applied_free(&a);
	}
	return rc;
}

static const struct migration_file *file_of(const struct migration_files *f, long version)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].version == version)
			return &f->v[i];
	return NULL;
}

static void status_print_applied(const struct applied_list *a, const struct migration_files *f)
{
	for (size_t i = 0; i < a->n; i++)
		printf("applied  %04ld  %-28s %s%s\n", a->v[i].version, a->v[i].name, a->v[i].at,
		       file_of(f, a->v[i].version) ? "" : "  (no file)");
}

static size_t status_print_pending(const struct applied_list *a, const struct migration_files *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (is_applied(a, f->v[i].version))
			continue;
		printf("pending  %04ld  %s\n", f->v[i].version, f->v[i].name);
		n++;
	}
	return n;
}

int migrate_status(PGconn *db, const struct migration_files *files)
{
	struct applied_list a;
	size_t pending;

	if (applied_read(db, &a) < 0)
		return -1;
	status_print_applied(&a, files);
	pending = status_print_pending(&a, files);
	if (a.n == 0)
		printf("no schema yet");
	else
		printf("schema version %ld", applied_max(&a));
	if (pending)
		printf(": %zu migration%s pending (haven-admin db migrate)\n", pending,
		       pending == 1 ? "" : "s");
	else
		printf(": up to date\n");
	applied_free(&a);
	return 0;
}
