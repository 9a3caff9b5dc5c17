#include "user_sql.h"

#include <stdio.h>

#if HAVE_PGSQL
#include <libpq-fe.h>

#include "migrate.h"

static const char *const fn_query[] = {
	[USER_SQL_CREATE] = "SELECT haven.create_user($1, $2)",
	[USER_SQL_PASSWORD] = "SELECT haven.set_password($1, $2)",
	[USER_SQL_DISABLE] = "SELECT haven.disable_user($1)",
	[USER_SQL_ENABLE] = "SELECT haven.enable_user($1)",
	[USER_SQL_DELETE] = "SELECT haven.delete_user($1)",
};

/* query with params on dsn's database; fn gets the rows. */
static int sql_run(const char *dsn, const char *query, int n, const char *const *params,
		   void (*fn)(const PGresult *))
{
	PGconn *db = migrate_connect(dsn);
	PGresult *res;
	int rc = -1;

	if (db == NULL)
		return -1;
	res = PQexecParams(db, query, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (fn)
			fn(res);
		rc = 0;
	} else {
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		fprintf(stderr, "haven-admin: %s\n", msg ? msg : PQerrorMessage(db));
	}
	PQclear(res);
	PQfinish(db);
	return rc;
}

int user_sql_call(const char *dsn, enum user_sql_fn fn, const char *login,
		  const char *password)
{
	const char *params[2] = { login, password };

	return sql_run(dsn, fn_query[fn], password ? 2 : 1, params, NULL);
}

static void list_rows(const PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
		printf("%s%s\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1)[0] == 't' ? "" : " disabled");
}

int user_sql_list(const char *dsn)
{
	return sql_run(dsn, "SELECT login, enabled FROM haven.users ORDER BY lower(login)", 0,
		       NULL, list_rows);
}

#else

static int no_sql(void)
{
	fprintf(stderr, "haven-admin: this build has no PostgreSQL support (libpq)\n");
	return -1;
}

int user_sql_call(const char *dsn, enum user_sql_fn fn, const char *login,
		  const char *password)
{
	(void)dsn, (void)fn, (void)login, (void)password;
	return no_sql();
}

int user_sql_list(const char *dsn)
{
	(void)dsn;
	return no_sql();
}

#endif
