/* haven-admin who and kick: live.c asks this host's master over the
 * admin socket; live_db.c, with the PostgreSQL store, asks every host's
 * user workers through the database. Both print rows alike. */
#ifndef HAVEN_ADMIN_LIVE_H
#define HAVEN_ADMIN_LIVE_H
#include <stdint.h>

#include "../lib/buf.h"
#include "admin.h"

/* A row of who's table into out, with a HOST column first unless host
 * is NULL; live_header prints the header the same way. */
void live_row(struct buf *out, const char *host, const char *user, const char *client,
	      uint64_t since, int tls, const char *mailbox);
void live_header(int with_host);

/* live_db.c: who and kick through the database of o (admin_dsn). */
enum admin_status live_db_who(const struct admin_opts *o);
enum admin_status live_db_kick(const struct admin_opts *o, const char *user);

#endif
