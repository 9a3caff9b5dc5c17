/* haven-admin who and kick with the PostgreSQL store: through the
 * database every host shares, so the sessions of all hosts are seen and
 * ended. haven-admin LISTENs on haven_admin_<nonce>, NOTIFYs haven_admin
 * with the request (lib/admin_note.h), and collects for ADMIN_WAIT_MS
 * what every user worker answers: one line per session, or per worker
 * of the kicked user (backends/pgsql/pg_admin.c sends them). Nobody
 * counts the hosts, so the wait is the whole time. Whoever may connect
 * to the database may ask (PostgreSQL has no privilege on NOTIFY). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../lib/admin_note.h"
#include "../lib/msg_admin.h"
#include "../lib/xmalloc.h"
#include "live.h"
#include "migrate.h"

/* Rows kept for sorting: memory stays bounded whoever answers. */
#define LIVE_DB_MAX_ROWS 100000

struct collect {
	const struct admin_request *req;
	char **rows;           /* who: the table's rows, sorted at the end */
	size_t nrows, cap, left_out;
	uint64_t ended;        /* kick: sessions ended, summed */
	unsigned workers;      /* kick: workers of the user that answered */
	unsigned malformed;
};

static void add_row(struct collect *c, const struct admin_answer *a)
{
	struct buf row = BUF_INIT;

	if (c->nrows == LIVE_DB_MAX_ROWS) {
		c->left_out++;
		return;
	}
	live_row(&row, a->host, a->user, a->client, a->since, a->tls, a->mailbox);
	if (c->nrows == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->rows = xrealloc(c->rows, c->cap * sizeof(*c->rows));
	}
	c->rows[c->nrows++] = buf_steal(&row);
}

static void take(struct collect *c, const char *payload)
{
	static struct admin_answer a;  /* 8 kB */

	if (admin_answer_parse(payload, strlen(payload), &a) < 0 ||
	    a.kind != c->req->kind ||
	    (a.kind == ADMIN_NOTE_KICK && strcmp(a.user, c->req->login) != 0)) {
		c->malformed++;
		return;
	}
	if (a.kind == ADMIN_NOTE_WHO) {
		add_row(c, &a);
		return;
	}
	c->ended += a.n;
	c->workers++;
}

static long ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

/* Every answer that comes within ADMIN_WAIT_MS. */
static int collect(PGconn *db, struct collect *c)
{
	struct timespec end;
	struct pollfd p = { .fd = PQsocket(db), .events = POLLIN };
	long left;
	PGnotify *n;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ADMIN_WAIT_MS / 1000;
	while ((left = ms_left(&end)) > 0) {
		if (poll(&p, 1, (int)left) < 0 || PQconsumeInput(db) == 0) {
			fprintf(stderr, "haven-admin: the database connection broke: %s",
				PQerrorMessage(db));
			return -1;
		}
		while ((n = PQnotifies(db)) != NULL) {
			take(c, n->extra);
			PQfreemem(n);
		}
	}
	return 0;
}

static int run(PGconn *db, const char *sql, int n, const char *const *values)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, values, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "haven-admin: %s", PQerrorMessage(db));
	PQclear(r);
	return ok ? 0 : -1;
}

/* Ask: listen for the answers first, so none is missed. */
static int ask(PGconn *db, const struct admin_request *req, struct collect *c)
{
	char listen[64], line[ADMIN_NOTE_MAX + 1];
	const char *values[1] = { line };

	if (admin_request_format(req, line, sizeof(line)) < 0) {
		fprintf(stderr, "haven-admin: that user name cannot be sent to the hosts\n");
		return -1;
	}
	snprintf(listen, sizeof(listen), "LISTEN haven_admin_%s", req->nonce);
	if (run(db, listen, 0, NULL) < 0 ||
	    run(db, "SELECT pg_notify('haven_admin', $1)", 1, values) < 0)
		return -1;
	return collect(db, c);
}

static int new_nonce(char *out)
{
	unsigned char r[ADMIN_NONCE_LEN / 2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		perror("haven-admin: getrandom");
		return -1;
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_rows(struct collect *c)
{
	live_header(1);
	qsort(c->rows, c->nrows, sizeof(*c->rows), by_text);
	for (size_t i = 0; i < c->nrows; i++)
		fputs(c->rows[i], stdout);
	if (c->left_out)
		fprintf(stderr, "haven-admin: %zu more sessions left out\n", c->left_out);
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->nrows; i++)
		free(c->rows[i]);
	free(c->rows);
	if (c->malformed)
		fprintf(stderr, "haven-admin: %u malformed answers ignored\n", c->malformed);
}

/* Connect, ask, collect: 0, or -1 after printing why. */
static int request(const struct admin_opts *o, struct admin_request *req, struct collect *c)
{
	char *dsn = admin_dsn(o);
	PGconn *db = dsn ? migrate_connect(dsn) : NULL;
	int rc = db && new_nonce(req->nonce) == 0 ? ask(db, req, c) : -1;

	PQfinish(db);
	free(dsn);
	return rc;
}

enum admin_status live_db_who(const struct admin_opts *o)
{
	struct admin_request req = { .kind = ADMIN_NOTE_WHO };
	struct collect c = { .req = &req };
	int rc = request(o, &req, &c);

	if (rc == 0)
		print_rows(&c);
	collect_free(&c);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}

enum admin_status live_db_kick(const struct admin_opts *o, const char *user)
{
	struct admin_request req = { .kind = ADMIN_NOTE_KICK };
	struct collect c = { .req = &req };
	int rc;

	snprintf(req.login, sizeof(req.login), "%s", user);
	if (strlen(user) >= sizeof(req.login) || !admin_note_token(user)) {
		fprintf(stderr, "haven-admin: %s: not a user name that can be sent to the hosts\n",
			user);
		return ADMIN_FAILED;
	}
	if ((rc = request(o, &req, &c)) == 0)
		printf("%s: %llu session%s ended\n", user, (unsigned long long)c.ended,
		       c.ended == 1 ? "" : "s");
	collect_free(&c);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}
