/* The `sql` passdb: the users table of Haven's PostgreSQL store (sql/,
 * issue 18), read through libpq with the auth helper's own role (one in
 * haven_auth, which may read logins, hashes and SCRAM secrets and write
 * nothing). A login matches lower(login), else an alias. The enabled flag
 * is honoured; passwords are crypt(3) hashes as in the file passdb; the
 * record carries the user's id and quotas for the user worker. Runs in
 * the pool's children, one connection each, made on first use and again
 * after a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "passdbs.h"

static const struct setting sql_settings[] = {
	{ "passdb_sql_dsn", SETTING_STR, "dbname=haven", 0, 0,
	  "libpq connection string of the users table, for the auth helper only (a role in "
	  "haven_auth; its password belongs in a password file or peer authentication)" },
	{ NULL, SETTING_STR, NULL, 0, 0, NULL },
};

/* Logins and aliases share one case-insensitive namespace (sql/), so at
 * most one row comes back. Both branches have an index. */
static const char user_query[] =
	"SELECT u.login, u.password, u.enabled, u.id, u.uid, u.gid, u.home, u.quota_bytes, "
	"u.quota_messages, u.scram_sha256 FROM haven.users u WHERE lower(u.login) = lower($1) "
	"UNION ALL "
	"SELECT u.login, u.password, u.enabled, u.id, u.uid, u.gid, u.home, u.quota_bytes, "
	"u.quota_messages, u.scram_sha256 FROM haven.aliases a JOIN haven.users u "
	"ON u.id = a.user_id WHERE a.alias = lower($1) LIMIT 1";

enum { C_LOGIN, C_PASSWORD, C_ENABLED, C_ID, C_UID, C_GID, C_HOME, C_QBYTES, C_QMSGS, C_SCRAM };

struct pdb_sql {
	struct passdb base;
	PGconn *conn;
	char like[128];   /* the setting of the last hash verified (password_like) */
};

/* Until a real one is seen: what sql/'s create_user makes (bcrypt, 10). */
#define SQL_LIKE "$2b$10$saltsaltsaltsaltsaltsu"

static struct passdb *sql_open(const struct config *cfg, const char *arg)
{
	struct pdb_sql *p = xcalloc(1, sizeof(*p));
	snprintf(p->like, sizeof(p->like), "%s", SQL_LIKE);
	return &p->base;
}

static void sql_close(struct passdb *pd)
{
	struct pdb_sql *p = (struct pdb_sql *)pd;
	if (p->conn)
		PQfinish(p->conn);
	free(p);
}

static int sql_check(const struct config *cfg, const char *arg, struct error *err)
{
	char *msg = NULL;
	PQconninfoOption *o = PQconninfoParse(passdb_setting_str(cfg, "passdb_sql_dsn"), &msg);

	if (o == NULL) {
		passdb_setting_fail(cfg, "passdb_sql_dsn", err, "%.*s", msg ? (int)strcspn(msg, "\n") : 9,
				    msg ? msg : "malformed");
		PQfreemem(msg);
		return -2;
	}
	PQconninfoFree(o);
	return 0;
}

/* libpq's message, one line, into the record's reason. */
static void reason_set(struct passdb_record *rec, const char *what, const char *msg)
{
	snprintf(rec->reason, sizeof(rec->reason), "%s: %.*s", what,
		 (int)strcspn(msg, "\n"), msg);
}

static int sql_connect(struct pdb_sql *p, struct passdb_record *rec)
{
	char timeout[64];
	PGresult *r;

	if (p->conn && PQstatus(p->conn) == CONNECTION_OK)
		return 0;
	if (p->conn)
		PQfinish(p->conn);
	p->conn = PQconnectdb(passdb_setting_str(p->base.cfg, "passdb_sql_dsn"));
	if (PQstatus(p->conn) != CONNECTION_OK) {
		reason_set(rec, "connecting", PQerrorMessage(p->conn));
		return -1;
	}
	/* A statement never outlives the pool's deadline for the job. */
	snprintf(timeout, sizeof(timeout), "SET statement_timeout = %ld",
		 passdb_setting_int(p->base.cfg, "passdb_timeout"));
	r = PQexec(p->conn, timeout);
	PQclear(r);
	r = PQprepare(p->conn, "user", user_query, 1, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		reason_set(rec, "preparing", PQresultErrorMessage(r));
		PQclear(r);
		PQfinish(p->conn);
		p->conn = NULL;
		return -1;
	}
	PQclear(r);
	return 0;
}

static long long num_or(const PGresult *r, int col, long long none)
{
	return PQgetisnull(r, 0, col) ? none : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

static void record_of(const PGresult *r, struct passdb_record *rec)
{
	long long q;

	passdb_record_init(rec, PQgetvalue(r, 0, C_LOGIN));
	rec->id = num_or(r, C_ID, 0);
	rec->uid = (long)num_or(r, C_UID, -1);
	rec->gid = (long)num_or(r, C_GID, -1);
	snprintf(rec->home, sizeof(rec->home), "%s", PQgetvalue(r, 0, C_HOME));
	q = num_or(r, C_QBYTES, 0);
	rec->quota_bytes = q > 0 ? (uint64_t)q : 0;
	q = num_or(r, C_QMSGS, 0);
	rec->quota_messages = q > 0 ? (uint64_t)q : 0;
	snprintf(rec->secret, sizeof(rec->secret), "%s", PQgetvalue(r, 0, C_PASSWORD));
	snprintf(rec->scram, sizeof(rec->scram), "%s", PQgetvalue(r, 0, C_SCRAM));
}

/* The user's row: PDB_OK (rec filled, *enabled), PDB_UNKNOWN or
 * PDB_TEMPFAIL (reason set). */
static enum passdb_result user_row(struct pdb_sql *p, const char *user,
				   struct passdb_record *rec, int *enabled)
{
	const char *params[1] = { user };
	enum passdb_result res = PDB_UNKNOWN;
	PGresult *r;

	if (sql_connect(p, rec) < 0)
		return PDB_TEMPFAIL;
	r = PQexecPrepared(p->conn, "user", 1, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		reason_set(rec, "query", PQresultErrorMessage(r));
		if (PQstatus(p->conn) != CONNECTION_OK) {
			PQfinish(p->conn);  /* reconnect on the next job */
			p->conn = NULL;
		}
		res = PDB_TEMPFAIL;
	} else if (PQntuples(r) == 1) {
		record_of(r, rec);
		*enabled = strcmp(PQgetvalue(r, 0, C_ENABLED), "t") == 0;
		res = PDB_OK;
	}
	PQclear(r);
	return res;
}

static enum passdb_result sql_lookup(struct passdb *pd, const char *user,
				     struct passdb_record *rec)
{
	int enabled = 0;
	enum passdb_result res = user_row((struct pdb_sql *)pd, user, rec, &enabled);

	/* A disabled user is there, and may not log in by any means. */
	return res == PDB_OK && !enabled ? PDB_MISMATCH : res;
}

static enum passdb_result sql_verify(struct passdb *pd, const struct passdb_query *q,
				     struct passdb_record *rec)
{
	struct pdb_sql *p = (struct pdb_sql *)pd;
	int enabled = 0, ok;
	enum passdb_result res = user_row(p, q->user, rec, &enabled);

	/* Unknown, or no password: the hash work of a known user, so that
	 * the time tells nothing. */
	if (res == PDB_UNKNOWN || (res == PDB_OK && rec->secret[0] == '\0'))
		password_burn(q->password, p->like);
	if (res != PDB_OK)
		return res;
	if (rec->secret[0] == '\0')
		return PDB_MISMATCH;  /* NULL: no password login */
	password_like(rec->secret, p->like, sizeof(p->like));
	if (enabled && q->known[0] && strcmp(q->known, rec->secret) == 0)
		return PDB_OK;
	/* The hash work also for a disabled user: the time says nothing. */
	ok = password_verify(q->password, rec->secret, pd->cfg->allow_plain_passwords) == 1;
	return ok && enabled ? PDB_OK : PDB_MISMATCH;
}

const struct passdb_ops passdb_sql_ops = {
	.name = "sql",
	.remote = 1,
	.settings = sql_settings,
	.check = sql_check,
	.open = sql_open,
	.close = sql_close,
	.verify = sql_verify,
	.lookup = sql_lookup,
};
