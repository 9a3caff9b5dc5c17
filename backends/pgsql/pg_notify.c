/* NOTIFY (RFC 5465): the store watch is the listening connection the
 * views' notify fd already is (pg_listen.c). Every change to a mailbox
 * row (messages, flags, name, creation, deletion) NOTIFYs the user's
 * channel at commit, on whatever host made it, and subscriptions do too
 * (sql/migrations/0014): the count of notifications read is the count
 * backend.h asks for. Whoever drains the socket (a view's sync, or this)
 * counts what it read, so no session misses a change another drained. */
#include "pgsql.h"

int pg_watch_fd(struct store *st)
{
	return pg_listen_fd(st);
}

uint64_t pg_watch_changes(struct store *st)
{
	pg_listen_drain(st);
	return st->hints;
}
