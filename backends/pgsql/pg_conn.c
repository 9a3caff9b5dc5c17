/* libpq connection, statements, deadlines and error mapping (pg_conn.h). */
#include "pg_conn.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"

/* Every statement the backend runs. Mutating operations are one call of
 * a function from sql/migrations/0003 each: one statement, one
 * transaction. */
static const char *const stmt_sql[PS_NSTMTS] = {
	[PS_STORE_OPEN] = "SELECT user_id, quota_bytes, quota_messages FROM haven.store_open($1, $2)",
	/* the mailboxes (exists true) with their subscription, then the
	 * subscriptions of names that are no mailbox: one round trip */
	[PS_LIST] = "SELECT m.name, m.noselect, m.special_use, EXISTS (SELECT 1 FROM haven.subscriptions s "
		    "WHERE s.user_id = $1 AND s.name = m.name) AS subscribed, true AS exists "
		    "FROM haven.mailboxes m WHERE m.user_id = $1 "
		    "UNION ALL SELECT s.name, true, '{}', true, false FROM haven.subscriptions s "
		    "WHERE s.user_id = $1 AND NOT EXISTS (SELECT 1 FROM haven.mailboxes m "
		    "WHERE m.user_id = $1 AND m.name = s.name)",
	[PS_CREATE] = "SELECT haven.mailbox_create($1, $2, $3, $4)",
	[PS_DELETE] = "SELECT haven.mailbox_delete($1, $2)",
	[PS_RENAME] = "SELECT haven.mailbox_rename($1, $2, $3)",
	[PS_SUBSCRIBE] = "SELECT haven.subscribe($1, $2, $3)",
	[PS_STATUS] = "SELECT m.messages, m.uidnext, m.uidvalidity, m.unseen, m.highestmodseq, "
		      "m.bytes, m.deleted, (SELECT count(*) FROM haven.messages x "
		      "WHERE x.mailbox_id = m.id AND x.uid >= m.first_recent), m.id "
		      "FROM haven.mailboxes m WHERE m.user_id = $1 AND m.name = $2 AND NOT m.noselect",
	[PS_UPLOAD_BEGIN] = "INSERT INTO haven.bodies (size) VALUES ($1) RETURNING id",
	[PS_UPLOAD_DROP] = "DELETE FROM haven.bodies WHERE id = $1 AND sha256 IS NULL",
	[PS_UPLOAD_CHUNK] = "INSERT INTO haven.body_chunks (body_id, seq, data) VALUES ($1, $2, $3)",
	[PS_APPEND] = "SELECT uidvalidity, uid FROM haven.append($1, $2, $3, $4, $5, $6, $7, $8, $9, "
		      "$10, $11, $12, $13, $14, $15, to_timestamp($16), $17)",
	[PS_APPEND_LOOKUP] = "SELECT m.uidvalidity, l.uid FROM haven.append_log l "
			     "JOIN haven.mailboxes m ON m.id = l.mailbox_id WHERE l.token = $1",
	[PS_SELECT] = "SELECT id, uidvalidity, uidnext, highestmodseq, messages, unseen, recent_from, "
		      "recent, first_unseen, keywords FROM haven.select_mailbox($1, $2, $3)",
	[PS_CLAIM_RECENT] = "SELECT haven.claim_recent($1, $2, $3)",
	/* A sync in one round trip and one snapshot: the mailbox row (kind 0),
	 * then expunges (1) and changed or new messages (2) after the view's
	 * MODSEQ, each in UID order. */
	[PS_VIEW_SYNC] = "SELECT 0 AS kind, uidvalidity AS uid, uidnext AS flags, highestmodseq AS modseq, "
			 "noselect::int AS gone, NULL::text[] AS keywords FROM haven.mailboxes WHERE id = $1 "
			 "UNION ALL SELECT 1, uid, 0, modseq, 0, NULL FROM haven.expunged "
			 "WHERE mailbox_id = $1 AND modseq > $2 "
			 "UNION ALL SELECT 2, uid, flags, modseq, 0, keywords FROM haven.messages "
			 "WHERE mailbox_id = $1 AND modseq > $2 ORDER BY 1, 2",
	/* two index scans in UID order merged (a UID is never in both: its
	 * expunge moves it in one transaction); UNION's hashing and sorting
	 * of 100,000 UIDs took four times as long as reading them */
	[PS_VIEW_UIDS] = "(SELECT uid FROM haven.messages WHERE mailbox_id = $1 AND uid < $2 "
			 "ORDER BY uid) UNION ALL (SELECT uid FROM haven.expunged "
			 "WHERE mailbox_id = $1 AND uid < $2 AND modseq > $3 ORDER BY uid) ORDER BY 1",
	/* (binary: no text to write and parse again for 100,000 rows; no
	 * keywords is NULL, not an empty array to encode for each) */
	[PS_META_RANGE] = "SELECT uid, flags, CASE WHEN cardinality(keywords) > 0 THEN keywords END, "
			  "modseq, internaldate, tz_minutes, size, savedate "
			  "FROM haven.messages WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 "
			  "ORDER BY uid",
	/* what SEARCH's evaluator needs of messages the SQL left undecided:
	 * PS_META_RANGE's columns and the message's first bytes */
	[PS_SEARCH_ROWS] = "SELECT m.uid, m.flags, CASE WHEN cardinality(m.keywords) > 0 "
			   "THEN m.keywords END, m.modseq, m.internaldate, m.tz_minutes, m.size, "
			   "m.savedate, substring(c.data FROM 1 FOR $3::int4) FROM haven.messages m "
			   "LEFT JOIN haven.body_chunks c ON c.body_id = m.body_id AND c.seq = 0 "
			   "WHERE m.mailbox_id = $1 AND m.uid = ANY ($2::bigint[]) ORDER BY m.uid",
	/* bodies and structures of the view's messages in a UID range: one,
	 * or those a FETCH going through the view in order will ask for next */
	[PS_MESSAGE_BODIES] = "SELECT m.uid, m.body_id, m.size, b.structure, b.sha256 "
			      "FROM haven.messages m "
			      "JOIN haven.bodies b ON b.id = m.body_id "
			      "WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3 ORDER BY m.uid",
	[PS_CHUNK_READ] = "SELECT substring(data FROM $3::int4 FOR $4::int4) FROM haven.body_chunks "
			  "WHERE body_id = $1 AND seq = $2",
	[PS_STORE_FLAGS] = "SELECT uid, flags, keywords, modseq, failed "
			   "FROM haven.store_flags($1, $2, $3, $4, $5, $6)",
	[PS_EXPUNGE] = "SELECT unnest(haven.expunge($1, $2))",
	[PS_COPY] = "SELECT uidvalidity, src_uid, dst_uid FROM haven.copy($1, $2, $3, $4, $5)",
	/* Sieve scripts (0009) */
	[PS_SIEVE_LIST] = "SELECT name, active FROM haven.sieve_scripts WHERE user_id = $1 "
			  "ORDER BY name",
	[PS_SIEVE_GET] = "SELECT script FROM haven.sieve_scripts WHERE user_id = $1 AND name = $2",
	[PS_SIEVE_PUT] = "SELECT haven.sieve_script_put($1, $2, $3::text, $4)",
	[PS_SIEVE_DELETE] = "SELECT haven.sieve_script_delete($1, $2)",
	[PS_SIEVE_RENAME] = "SELECT haven.sieve_script_rename($1, $2, $3)",
	[PS_SIEVE_ACTIVATE] = "SELECT haven.sieve_script_activate($1, $2)",
	[PS_SIEVE_ACTIVE] = "SELECT name, script FROM haven.sieve_scripts WHERE user_id = $1 "
			    "AND active",
	[PS_SIEVE_REPLY] = "SELECT haven.sieve_reply_claim($1, $2, $3)",
	[PS_IMPORT_BEGIN] = "SELECT haven.import_begin($1, $2, $3, $4, $5)",
	[PS_IMPORT_MESSAGE] = "SELECT haven.import_message($1, $2, $3, $4, $5, $6, $7, $8, $9, "
			      "$10, $11, $12, $13, $14, $15, to_timestamp($16), $17, $18)",
	/* QUOTA (0012): the usage the triggers keep, the limits check_quota applies */
	[PS_QUOTA_GET] = "SELECT used_bytes, used_messages, coalesce(nullif(quota_bytes, 0), "
			 "nullif(current_setting('haven.default_quota_bytes', true), '')::bigint, 0), "
			 "coalesce(nullif(quota_messages, 0), "
			 "nullif(current_setting('haven.default_quota_messages', true), '')::bigint, 0) "
			 "FROM haven.users WHERE id = $1",
	/* METADATA (0013) */
	[PS_METADATA_LIST] = "SELECT entry, value FROM haven.metadata_list($1, $2, $3)",
	[PS_METADATA_SET] = "SELECT haven.metadata_set($1, $2, $3, $4, $5, $6, $7)",
	[PS_METADATA_COPY] = "SELECT haven.metadata_copy($1, $2, $3)",
	[PS_UPLOAD_SIZE] = "UPDATE haven.bodies SET size = $2 WHERE id = $1 AND sha256 IS NULL",
	/* an administrator's quota commands: PS_QUOTA_GET by login; the two
	 * provisioning functions in one statement, so one transaction (the
	 * role of pgsql_dsn needs EXECUTE on them: sql/README.md) */
	[PS_QUOTA_GET_USER] = "SELECT used_bytes, used_messages, coalesce(nullif(quota_bytes, 0), "
			      "nullif(current_setting('haven.default_quota_bytes', true), '')::bigint, 0), "
			      "coalesce(nullif(quota_messages, 0), "
			      "nullif(current_setting('haven.default_quota_messages', true), '')::bigint, 0) "
			      "FROM haven.users WHERE lower(login) = lower($1)",
	[PS_QUOTA_SET_USER] = "SELECT haven.set_quota($1, $2), haven.set_message_quota($1, $3)",
	/* ACL (0016) */
	[PS_ACL_LIST] = "SELECT identifier, rights FROM haven.acl_list($1, $2)",
	[PS_ACL_SET] = "SELECT haven.acl_set($1, $2, $3, $4, $5)",
	[PS_ACL_DELETE] = "SELECT haven.acl_delete($1, $2, $3)",
	[PS_ACL_MYRIGHTS] = "SELECT haven.acl_myrights($1, $2)",
	/* the kept sort keys of a batch of the view's messages; the first
	 * bytes of those that have none of key version $3 (pg_sort.c) */
	[PS_SORT_KEYS] = "SELECT m.uid, m.body_id, m.size, k.keys, "
			 "substring(c.data FROM 1 FOR $4::int4) FROM haven.messages m "
			 "LEFT JOIN haven.sort_keys k ON k.body_id = m.body_id "
			 "LEFT JOIN haven.body_chunks c ON c.body_id = m.body_id AND c.seq = 0 "
			 "AND (k.keys IS NULL OR get_byte(k.keys, 0) <> $3::int4) "
			 "WHERE m.mailbox_id = $1 AND m.uid = ANY ($2::bigint[]) ORDER BY m.uid",
	/* keys made in that batch (hex), one row per body */
	[PS_SORT_KEYS_PUT] = "INSERT INTO haven.sort_keys (body_id, keys) "
			     "SELECT DISTINCT ON (b) b, decode(k, 'hex') "
			     "FROM unnest($1::bigint[], $2::text[]) AS u(b, k) "
			     "ON CONFLICT (body_id) DO UPDATE SET keys = EXCLUDED.keys",
	[PS_INDEX_TEXTS] = "SELECT haven.index_texts($1)",
};

#define RETRIES 5

/* ---- parameters --------------------------------------------------------- */

void pgp_init(struct pgp *p)
{
	memset(p, 0, sizeof(*p));
}

static int pgp_slot(struct pgp *p)
{
	if (p->n == PGP_MAX)
		fatal("pgsql: too many statement parameters");
	return p->n++;
}

void pgp_str(struct pgp *p, const char *s)
{
	int i = pgp_slot(p);
	p->v[i] = s;
	p->len[i] = 0;
	p->fmt[i] = 0;
}

void pgp_i64(struct pgp *p, int64_t v)
{
	int i = pgp_slot(p);
	snprintf(p->num[i], sizeof(p->num[i]), "%" PRId64, v);
	p->v[i] = p->num[i];
}

void pgp_bool(struct pgp *p, int v)
{
	pgp_str(p, v ? "t" : "f");
}

void pgp_bytes(struct pgp *p, const void *data, size_t len)
{
	int i = pgp_slot(p);
	if (len > INT32_MAX)
		fatal("pgsql: parameter too large");
	p->v[i] = len ? data : "";
	p->len[i] = (int)len;
	p->fmt[i] = 1;
}

/* ---- results ------------------------------------------------------------- */

int64_t pg_i64(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *pg_str(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col);
}

int pg_null(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col);
}

int64_t pg_bin_int(const PGresult *r, int row, int col)
{
	const char *p = PQgetvalue(r, row, col);
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;

	/* (network byte order; a FETCH 1:* decodes 700,000 of these) */
	switch (PQgetlength(r, row, col)) {
	case 8:
		memcpy(&v8, p, 8);
		return (int64_t)be64toh(v8);
	case 4:
		memcpy(&v4, p, 4);
		return (int32_t)be32toh(v4);
	case 2:
		memcpy(&v2, p, 2);
		return (int16_t)be16toh(v2);
	default:
		return 0;
	}
}

int64_t pg_bin_time(const PGresult *r, int row, int col)
{
	/* microseconds since 2000-01-01 00:00 UTC (integer datetimes, the
	 * only kind since PostgreSQL 10) */
	int64_t us = pg_bin_int(r, row, col);
	int64_t s = us / 1000000 - (us % 1000000 < 0);
	return s + 946684800;
}

/* ---- connection ---------------------------------------------------------- */

void pgc_init(struct pgc *c, const char *dsn, long timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->dsn = xstrdup(dsn);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
}

void pgc_drop(struct pgc *c)
{
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	c->prepared = 0;
}

void pgc_close(struct pgc *c)
{
	pgc_drop(c);
	free(c->dsn);
	c->dsn = NULL;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the socket is ready for what libpq needs, or the deadline. */
static int wait_socket(PGconn *conn, int for_write, long long deadline)
{
	struct pollfd pf = { PQsocket(conn), for_write ? POLLOUT : POLLIN, 0 };
	long long left = deadline - now_ms();
	int r;
	if (left <= 0)
		return 0;
	do
		r = poll(&pf, 1, (int)left);
	while (r < 0 && errno == EINTR);
	return r;
}

int pgc_connect(struct pgc *c, struct error *err)
{
	long long deadline = now_ms() + c->timeout_ms;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	pgc_drop(c);
	c->conn = PQconnectStart(c->dsn);
	if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if (wait_socket(c->conn, st == PGRES_POLLING_WRITING, deadline) <= 0) {
			error_set(err, ERR_UNAVAILABLE, "Mail store unavailable (connecting timed out)");
			log_warn("pgsql: connecting timed out after %ld ms", c->timeout_ms);
			pgc_drop(c);
			return -1;
		}
		st = PQconnectPoll(c->conn);
	}
	if (PQsetnonblocking(c->conn, 1) != 0)
		goto fail;
	return 0;
fail:
	log_warn("pgsql: cannot connect: %s",
		 c->conn ? PQerrorMessage(c->conn) : "out of memory");
	error_set(err, ERR_UNAVAILABLE, "Mail store unavailable");
	pgc_drop(c);
	return -1;
}

/* Ask the server to stop what it is doing (a statement past its time). */
static void cancel(struct pgc *c)
{
	char msg[256];
	PGcancel *cn = PQgetCancel(c->conn);
	if (cn) {
		PQcancel(cn, msg, sizeof(msg));
		PQfreeCancel(cn);
	}
}

/* What a call sent: one statement, or (its first run on this connection)
 * the statement's preparation and its run in one pipeline, one round trip
 * instead of two. */
struct sent {
	int pipelined;
	int results;             /* non-NULL results seen */
	int prepared;            /* the pipeline's preparation succeeded */
};

/* One result of what was sent: the answer is the last one, unless an
 * earlier one failed (a pipeline's run after a failed preparation is
 * only "aborted"). */
static void take_result(struct sent *sn, PGresult **last, PGresult *r)
{
	if (sn->results++ == 0 && sn->pipelined)
		sn->prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (*last && PQresultStatus(*last) == PGRES_FATAL_ERROR) {
		PQclear(r);
		return;
	}
	PQclear(*last);
	*last = r;
}

/* Is this the end of what was sent? (NULL ends a single statement; in a
 * pipeline it only separates the statements, the sync result ends it.) */
static int sent_done(const struct sent *sn, PGresult *r)
{
	if (r == NULL)
		return !sn->pipelined;
	return PQresultStatus(r) == PGRES_PIPELINE_SYNC;
}

/* Collect the results of what was sent (take_result picks the answer);
 * 0, or -1 on a broken connection, -2 at the deadline. */
static int collect(struct pgc *c, struct sent *sn, long long deadline, PGresult **out)
{
	PGresult *last = NULL, *r;
	int flushing = 1;

	for (;;) {
		if (flushing) {
			int f = PQflush(c->conn);
			if (f < 0)
				break;
			flushing = f == 1;
		}
		if (!flushing && !PQisBusy(c->conn)) {
			r = PQgetResult(c->conn);
			if (sent_done(sn, r)) {
				PQclear(r);
				*out = last;
				return last ? 0 : -1;
			}
			if (r)
				take_result(sn, &last, r);
			continue;
		}
		if (wait_socket(c->conn, flushing, deadline) <= 0) {
			PQclear(last);
			return -2;
		}
		if (PQconsumeInput(c->conn) == 0)
			break;
	}
	PQclear(last);
	return -1;
}

static enum error_code haven_code(const char *state)
{
	static const struct {
		const char *state;
		enum error_code code;
	} map[] = {
		{ "HVNOX", ERR_NONEXISTENT }, { "HVTRY", ERR_TRYCREATE }, { "HVEXI", ERR_ALREADYEXISTS },
		{ "HVCAN", ERR_CANNOT },      { "HVQUO", ERR_OVERQUOTA }, { "HVLIM", ERR_LIMIT },
		{ "HVEXP", ERR_EXPUNGEISSUED }, { "HVUSE", ERR_INUSE },
		{ "42501", ERR_NOPERM },   /* insufficient_privilege: a GRANT missing */
		{ "HVPRM", ERR_NOPERM },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].state, state) == 0)
			return map[i].code;
	return ERR_NONE;
}

/* Our statement already prepared where this connection had not prepared
 * it, or missing where it had (42P05, 26000): the server connection is
 * shared with other clients, as a transaction-pooling PgBouncer shares
 * it. Statements go unnamed from now on; the failed one ran nothing and
 * is sent again, unless it was part of a longer transaction. (Every
 * worker names the same statement alike: what ran was never another.) */
static void shared_server(struct pgc *c, const char *msg, struct error *err)
{
	log_warn("pgsql: %s: the server connection is shared (transaction pooling?): "
		 "statements go unnamed from now on; set pgsql_prepare = no", msg ? msg : "?");
	c->unnamed = 1;
	c->prepared = 0;
	c->retry = PQtransactionStatus(c->conn) == PQTRANS_IDLE;
	error_set(err, ERR_UNAVAILABLE, "Mail store connection shared, try again");
}

static int shared_state(const char *state)
{
	return state && (!strcmp(state, "42P05") || !strcmp(state, "26000"));
}

/* A failed statement: what the client is told, and whether the
 * connection is still of any use. */
static int fail_result(struct pgc *c, PGresult *res, struct error *err)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	enum error_code code = state ? haven_code(state) : ERR_NONE;

	if (code != ERR_NONE) {
		error_set(err, code, "%s", msg ? msg : "Failed");
	} else if (shared_state(state) && !c->unnamed) {
		shared_server(c, msg, err);
	} else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01"))) {
		c->retry = 1;
		error_set(err, ERR_INUSE, "Mailbox busy, try again");
	} else if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) ||
			     !strcmp(state, "57014") || !strcmp(state, "53300"))) {
		log_warn("pgsql: %s (%s)", msg ? msg : "?", state);
		error_set(err, ERR_UNAVAILABLE, "Mail store unavailable, try again later");
		if (PQstatus(c->conn) != CONNECTION_OK || strncmp(state, "57P", 3) == 0)
			pgc_drop(c);
	} else {
		error_set(err, ERR_INTERNAL, "pgsql: %s (%s)", msg ? msg : PQresultErrorMessage(res),
			  state ? state : "no SQLSTATE");
	}
	PQclear(res);
	return -1;
}

static int finish(struct pgc *c, int sent, struct sent *sn, long long deadline, PGresult **out,
		  struct error *err)
{
	PGresult *res = NULL;
	int r = sent ? collect(c, sn, deadline, &res) : -1;

	if (r == -2) {
		log_warn("pgsql: no answer within %ld ms; cancelling the statement", c->timeout_ms);
		cancel(c);
		pgc_drop(c);
		c->ambiguous = 1;
		error_set(err, ERR_UNAVAILABLE, "Mail store too slow, try again later");
		return -1;
	}
	if (r < 0) {
		log_warn("pgsql: connection lost: %s", c->conn ? PQerrorMessage(c->conn) : "");
		c->ambiguous = sent;
		pgc_drop(c);
		error_set(err, ERR_UNAVAILABLE, "Mail store unavailable, try again later");
		return -1;
	}
	if (sn->pipelined && PQexitPipelineMode(c->conn) != 1) {
		log_warn("pgsql: cannot leave pipeline mode: %s", PQerrorMessage(c->conn));
		PQclear(res);
		pgc_drop(c);
		error_set(err, ERR_UNAVAILABLE, "Mail store unavailable, try again later");
		return -1;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		return fail_result(c, res, err);
	*out = res;
	return 0;
}

static int ready(struct pgc *c, struct error *err)
{
	c->ambiguous = 0;
	c->retry = 0;
	if (c->conn && PQstatus(c->conn) == CONNECTION_OK)
		return 0;
	return pgc_connect(c, err);
}

/* Send statement s, prepared first (in the same pipeline) when this
 * connection has not prepared it yet. */
static int send_stmt(struct pgc *c, enum pg_stmt s, const struct pgp *p, int binary,
		     struct sent *sn)
{
	char name[16];

	memset(sn, 0, sizeof(*sn));
	if (c->unnamed)
		return PQsendQueryParams(c->conn, stmt_sql[s], p->n, NULL, p->v, p->len, p->fmt,
					 binary);
	snprintf(name, sizeof(name), "h%d", (int)s);
	if (c->prepared & (1ULL << s))
		return PQsendQueryPrepared(c->conn, name, p->n, p->v, p->len, p->fmt, binary);
	if (PQenterPipelineMode(c->conn) != 1)
		return 0;
	sn->pipelined = 1;
	return PQsendPrepare(c->conn, name, stmt_sql[s], 0, NULL) &&
	       PQsendQueryPrepared(c->conn, name, p->n, p->v, p->len, p->fmt, binary) &&
	       PQpipelineSync(c->conn);
}

int pgc_exec(struct pgc *c, enum pg_stmt s, const struct pgp *p, int binary, PGresult **res,
	     struct error *err)
{
	long long deadline = now_ms() + c->timeout_ms;
	struct sent sn;
	int rc;

	*res = NULL;
	if (ready(c, err) < 0)
		return -1;
	rc = finish(c, send_stmt(c, s, p, binary, &sn), &sn, deadline, res, err);
	if (sn.prepared && c->conn)
		c->prepared |= 1ULL << s;
	return rc;
}

int pgc_exec_text(struct pgc *c, const char *sql, int n, const char *const *values,
		  PGresult **res, struct error *err)
{
	long long deadline = now_ms() + c->timeout_ms;
	int sent;

	*res = NULL;
	if (ready(c, err) < 0)
		return -1;
	sent = PQsendQueryParams(c->conn, sql, n, NULL, values, NULL, NULL, 0);
	return finish(c, sent, &(struct sent){ 0 }, deadline, res, err);
}

int pgc_call(struct pgc *c, enum pg_stmt s, const struct pgp *p, int binary, PGresult **res,
	     struct error *err)
{
	int rc = -1;
	for (int i = 0; i < RETRIES; i++) {
		rc = pgc_exec(c, s, p, binary, res, err);
		if (rc == 0 || !c->retry)
			break;
		log_debug("pgsql: trying the statement again (it ran nothing)");
	}
	return rc;
}
