/* One libpq connection of the PostgreSQL backend, and the statements it
 * runs. Every statement is prepared once per connection from a fixed
 * table (pg_conn.c), in the same round trip as its first run (a libpq
 * pipeline); values travel only as parameters, never as SQL text.
 * Every call has a deadline (pgsql_timeout): a database that does not
 * answer in time gets its statement cancelled and the caller an
 * ERR_UNAVAILABLE, instead of a user worker that stalls all of its
 * sessions. A broken connection is reopened by the next call. */
#ifndef HAVEN_PG_CONN_H
#define HAVEN_PG_CONN_H
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "../../lib/error.h"

enum pg_stmt {
	PS_STORE_OPEN,
	PS_LIST,
	PS_CREATE,
	PS_DELETE,
	PS_RENAME,
	PS_SUBSCRIBE,
	PS_STATUS,
	PS_UPLOAD_BEGIN,
	PS_UPLOAD_CHUNK,
	PS_UPLOAD_DROP,
	PS_APPEND,
	PS_APPEND_LOOKUP,
	PS_SELECT,
	PS_CLAIM_RECENT,
	PS_VIEW_SYNC,
	PS_VIEW_UIDS,
	PS_META_RANGE,
	PS_SEARCH_ROWS,
	PS_MESSAGE_BODIES,
	PS_CHUNK_READ,
	PS_STORE_FLAGS,
	PS_EXPUNGE,
	PS_COPY,
	PS_SIEVE_LIST,
	PS_SIEVE_GET,
	PS_SIEVE_PUT,
	PS_SIEVE_DELETE,
	PS_SIEVE_RENAME,
	PS_SIEVE_ACTIVATE,
	PS_SIEVE_ACTIVE,
	PS_SIEVE_REPLY,
	PS_IMPORT_BEGIN,
	PS_IMPORT_MESSAGE,
	PS_QUOTA_GET,            /* QUOTA (0012) */
	/* METADATA (0013) */
	PS_METADATA_LIST,
	PS_METADATA_SET,
	PS_METADATA_COPY,
	PS_UPLOAD_SIZE,           /* CATENATE: the size known at the end */
	/* an administrator's GETQUOTA / SETQUOTA of another user */
	PS_QUOTA_GET_USER,
	PS_QUOTA_SET_USER,
	/* ACL (0016) */
	PS_ACL_LIST,
	PS_ACL_SET,
	PS_ACL_DELETE,
	PS_ACL_MYRIGHTS,
	/* SORT/THREAD keys kept per body (0017) */
	PS_SORT_KEYS,
	PS_SORT_KEYS_PUT,
	PS_INDEX_TEXTS,          /* deferred trigram index (0019) */
	PS_NSTMTS
};

/* Columns of PS_SEARCH_ROWS read by number: the message's size and
 * its first bytes (read by SEARCH's evaluator and by SORT's fields). */
#define PG_SEARCH_ROWS_SIZE 6
#define PG_SEARCH_ROWS_PREFIX 8

/* Parameters of one call: text values, or binary for bytea. */
#define PGP_MAX 20
struct pgp {
	const char *v[PGP_MAX];
	int len[PGP_MAX];
	int fmt[PGP_MAX];
	int n;
	char num[PGP_MAX][24];
};

void pgp_init(struct pgp *p);
void pgp_str(struct pgp *p, const char *s);          /* NULL: SQL NULL */
void pgp_i64(struct pgp *p, int64_t v);
void pgp_bool(struct pgp *p, int v);
void pgp_bytes(struct pgp *p, const void *data, size_t len);
/* A PostgreSQL array literal built by the caller (text). */
#define pgp_array pgp_str

struct pgc {
	PGconn *conn;
	char *dsn;
	long timeout_ms;
	uint64_t prepared;       /* bit per enum pg_stmt */
	/* Send every statement unnamed (parse, bind, run in one go) instead
	 * of preparing it once: a transaction-pooling PgBouncer (before 1.21)
	 * hands each transaction any server connection, where a statement
	 * prepared on another is unknown (pgsql_prepare = no). */
	int unnamed;
	/* The last failure came after the statement went out: it may have
	 * committed (an APPEND then checks its token). */
	int ambiguous;
	/* Set by pgc_exec when the failure was a serialization failure or a
	 * deadlock: the whole call may be repeated. */
	int retry;
};

void pgc_init(struct pgc *c, const char *dsn, long timeout_ms);
void pgc_close(struct pgc *c);
/* Connect now (store open): 0 or -1 with err. */
int pgc_connect(struct pgc *c, struct error *err);

/* Run statement s with p's values; *res (PQclear it) holds the rows.
 * binary: results in binary format (bytea columns). 0, or -1 with err:
 * the code of a Haven SQLSTATE (class HV), ERR_UNAVAILABLE when the
 * database is down, slow or restarting, ERR_INTERNAL otherwise (logged). */
int pgc_exec(struct pgc *c, enum pg_stmt s, const struct pgp *p, int binary, PGresult **res,
	     struct error *err);
/* The same for statement text made from fixed pieces (search, LISTEN),
 * with n text parameters. */
int pgc_exec_text(struct pgc *c, const char *sql, int n, const char *const *values,
		  PGresult **res, struct error *err);
/* Close the connection (the next call reconnects). */
void pgc_drop(struct pgc *c);
/* pgc_exec repeated while it fails with a serialization failure or a
 * deadlock (at most a few times): those are invisible to the client. */
int pgc_call(struct pgc *c, enum pg_stmt s, const struct pgp *p, int binary, PGresult **res,
	     struct error *err);

/* Result helpers: text values (binary results: raw bytes). */
int64_t pg_i64(const PGresult *r, int row, int col);
const char *pg_str(const PGresult *r, int row, int col);
int pg_null(const PGresult *r, int row, int col);
/* A binary-format int8/int4/int2 column. */
int64_t pg_bin_int(const PGresult *r, int row, int col);
/* A binary-format timestamptz column: seconds since 1970 (rounded down). */
int64_t pg_bin_time(const PGresult *r, int row, int col);

#endif
