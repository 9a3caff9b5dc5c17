/* Change notification: a second connection per user worker that only
 * LISTENs on the user's channel (sql/migrations/0001: every change to a
 * mailbox row NOTIFYs "haven_<user id>" at commit, on whatever host made
 * it). Its socket is the notify fd of every view of the store: IDLE wakes
 * on a commit anywhere, never polls. The notifications are hints; a
 * woken view asks the database what changed since its MODSEQ, so a lost
 * notification costs only a later wake-up (IDLE also re-syncs now and
 * then). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "pgsql.h"

static int listening(struct store *st)
{
	return st->listening && st->listen.conn && PQstatus(st->listen.conn) == CONNECTION_OK;
}

static int listen_on(struct store *st, const char *channel)
{
	char sql[64];
	PGresult *r;
	struct error err;

	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	if (pgc_exec_text(&st->listen, sql, 0, NULL, &r, &err) < 0) {
		log_warn("pgsql: cannot listen on %s (%s); IDLE will poll", channel, err.msg);
		return -1;
	}
	PQclear(r);
	return 0;
}

static int start(struct store *st)
{
	char user_channel[32];

	if (listening(st))
		return 0;
	st->listening = 0;
	snprintf(user_channel, sizeof(user_channel), "haven_%lld", (long long)st->user_id);
	/* haven-admin's requests (pg_admin.c) share this connection; the
	 * user's channel last, the statement the connection shows. */
	if (listen_on(st, PG_ADMIN_CHANNEL) < 0 || listen_on(st, user_channel) < 0)
		return -1;
	st->listening = 1;
	return 0;
}

int pg_listen_fd(struct store *st)
{
	if (start(st) < 0)
		return -1;
	return PQsocket(st->listen.conn);
}

int pg_notify_fd(struct mailbox *mb)
{
	return pg_listen_fd(mb->st);
}

void pg_listen_drain(struct store *st)
{
	PGnotify *n;

	if (!listening(st))
		return;
	if (PQconsumeInput(st->listen.conn) == 0) {
		log_warn("pgsql: the listening connection broke: %s", PQerrorMessage(st->listen.conn));
		pgc_drop(&st->listen);
		st->listening = 0;
		return;
	}
	while ((n = PQnotifies(st->listen.conn)) != NULL) {
		if (strcmp(n->relname, PG_ADMIN_CHANNEL) == 0)
			pg_admin_note(st, n->extra);
		else
			st->hints++;
		PQfreemem(n);
	}
}

void pg_listen_close(struct store *st)
{
	st->listening = 0;
}
