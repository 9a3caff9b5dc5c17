/* The PostgreSQL backend: its settings, store open/close and the registry
 * entry. Mail lives in the tables of sql/migrations; everything a client
 * changes goes through one function call per operation (0003), so it is
 * one transaction. See DESIGN.md §3 and /work/shared/PGSQL-NOTES.md for
 * why the schema looks the way it does. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

static const struct backend_setting pgsql_settings[] = {
	{ "pgsql_dsn", BS_STR, "dbname=haven", 0, 0,
	  "libpq connection string of the mail store (user workers only; a password belongs in "
	  "a password file or peer authentication, not here)" },
	{ "pgsql_timeout", BS_INT, "10000", 100, 600000,
	  "milliseconds a statement may take before it is cancelled and the command answered "
	  "NO [UNAVAILABLE]" },
	{ NULL, BS_STR, NULL, 0, 0, NULL },
};

void pg_text_array(struct buf *out, const char *const *v, size_t n)
{
	buf_append_byte(out, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_append_byte(out, ',');
		buf_append_byte(out, '"');
		for (const char *p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_append_byte(out, '\\');
			buf_append_byte(out, *p);
		}
		buf_append_byte(out, '"');
	}
	buf_append_byte(out, '}');
}

void pg_uid_array(struct buf *out, const uint32_t *v, size_t n)
{
	buf_append_byte(out, '{');
	for (size_t i = 0; i < n; i++)
		buf_printf(out, i ? ",%u" : "%u", v[i]);
	buf_append_byte(out, '}');
}

static int pg_store_open(const struct backend_user *u, const struct config *cfg,
			 struct store **out, struct error *err)
{
	struct store *st = xcalloc(1, sizeof(*st));
	long timeout = backend_setting_int(cfg, "pgsql_timeout");
	const char *dsn = backend_setting_str(cfg, "pgsql_dsn");
	struct pgp p;
	PGresult *r;

	pgc_init(&st->db, dsn, timeout);
	pgc_init(&st->listen, dsn, timeout);
	st->login = xstrdup(u->name);
	st->max_message = cfg->max_literal > 0 ? (uint64_t)cfg->max_literal * 2 : 100u << 20;
	pgp_init(&p);
	pgp_str(&p, u->name);
	pgp_i64(&p, u->id);
	if (pgc_call(&st->db, PS_STORE_OPEN, &p, 0, &r, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			error_set(err, ERR_NONEXISTENT, "user %s is not in the mail database", u->name);
		pgc_close(&st->db);
		pgc_close(&st->listen);
		free(st->login);
		free(st);
		return -1;
	}
	st->user_id = pg_i64(r, 0, 0);
	PQclear(r);
	log_debug("pgsql: store of %s (user %lld) open", u->name, (long long)st->user_id);
	*out = st;
	return 0;
}

static void pg_store_close(struct store *st)
{
	pg_listen_close(st);
	pgc_close(&st->db);
	pgc_close(&st->listen);
	free(st->login);
	free(st);
}

const struct backend_ops pgsql_backend_ops = {
	.name = "pgsql",
	.settings = pgsql_settings,
	.store_open = pg_store_open,
	.store_close = pg_store_close,
	.list = pg_list,
	.create = pg_create,
	.delete = pg_delete,
	.rename = pg_rename,
	.subscribe = pg_subscribe,
	.status = pg_status,
	.append_begin = pg_append_begin,
	.append_write = pg_append_write,
	.append_finish = pg_append_finish,
	.append_abort = pg_append_abort,
	.select = pg_select,
	.mailbox_close = pg_mailbox_close,
	.count = pg_count,
	.uid = pg_uid,
	.meta = pg_meta,
	.keywords = pg_keywords,
	.sync = pg_sync,
	.open_message = pg_open_message,
	.fetch_structure = pg_fetch_structure,
	.store_flags = pg_store_flags,
	.expunge = pg_expunge,
	.copy = pg_copy,
	.notify_fd = pg_notify_fd,
	.search = pg_search,
};
