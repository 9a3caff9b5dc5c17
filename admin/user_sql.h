/* haven-admin user ... on the PostgreSQL store: through its provisioning
 * functions (haven-sql(7)), the values as parameters, never in the SQL
 * text. In a build without libpq each says so and fails. */
#ifndef HAVEN_ADMIN_USER_SQL_H
#define HAVEN_ADMIN_USER_SQL_H

enum user_sql_fn {
	USER_SQL_CREATE,    /* haven.create_user(login, password) */
	USER_SQL_PASSWORD,  /* haven.set_password(login, password) */
	USER_SQL_DISABLE,   /* haven.disable_user(login) */
	USER_SQL_ENABLE,    /* haven.enable_user(login) */
	USER_SQL_DELETE,    /* haven.delete_user(login): the mail too */
};

/* 0, or -1 after printing the database's message. password: NULL for
 * the functions that take none. */
int user_sql_call(const char *dsn, enum user_sql_fn fn, const char *login,
		  const char *password);
/* Every login, "disabled" after a disabled one. 0, or -1 after printing
 * why. */
int user_sql_list(const char *dsn);

#endif
