/* haven-admin who and kick across hosts. haven-admin NOTIFYs
 * haven_admin (PG_ADMIN_CHANNEL) on the shared database; every user
 * worker LISTENs there on its one listening connection (pg_listen.c),
 * so the question costs no connection, table or statement per session.
 * Whoever drains that connection hands admin payloads here; the worker
 * takes them (the text is lib/admin_note.h's, parsed by the worker) and
 * answers with NOTIFY haven_admin_<nonce>, the channel the asker
 * LISTENs on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/admin_note.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

void pg_admin_note(struct store *st, const char *payload)
{
	if (st->admin_n == PG_ADMIN_QUEUE) {
		log_warn("pgsql: haven-admin request dropped: %d already waiting", PG_ADMIN_QUEUE);
		return;
	}
	st->admin_q[st->admin_n++] = xstrdup(payload);
}

int pg_admin_fd(struct store *st)
{
	return pg_listen_fd(st);
}

int pg_admin_take(struct store *st, char *buf, size_t size)
{
	if (buf == NULL)
		return st->admin_n > 0;
	pg_listen_drain(st);
	if (st->admin_n == 0)
		return 0;
	snprintf(buf, size, "%s", st->admin_q[0]);
	free(st->admin_q[0]);
	memmove(st->admin_q, st->admin_q + 1, (size_t)--st->admin_n * sizeof(st->admin_q[0]));
	return 1;
}

int pg_admin_answer(struct store *st, const char *nonce, const char *line, struct error *err)
{
	char channel[sizeof(PG_ADMIN_CHANNEL) + 1 + ADMIN_NONCE_LEN];
	const char *values[2] = { channel, line };
	PGresult *r;

	snprintf(channel, sizeof(channel), PG_ADMIN_CHANNEL "_%s", nonce);
	/* Its own transaction on the statement connection: delivered at once. */
	if (pgc_exec_text(&st->db, "SELECT pg_notify($1, $2)", 2, values, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}

void pg_admin_free(struct store *st)
{
	while (st->admin_n > 0)
		free(st->admin_q[--st->admin_n]);
}
