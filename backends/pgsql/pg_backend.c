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
	{ "pgsql_listen_dsn", BS_STR, "", 0, 0,
	  "libpq connection string of the connection that LISTENs for changes (default: "
	  "pgsql_dsn); it must reach PostgreSQL directly or through a session-pooling PgBouncer" },
	{ "pgsql_prepare", BS_BOOL, "yes", 0, 0,
	  "prepare each statement once per connection; no sends them unnamed, as a "
	  "transaction-pooling PgBouncer older than 1.21 needs" },
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

static void pg_store_close(struct store *st)
{
	pg_listen_close(st);
	pg_admin_free(st);
	pgc_close(&st->db);
	pgc_close(&st->listen);
	free(st->login);
	free(st);
}

/* st serves u from now on: the user's row looked up (made, with its
 * mailboxes, when the passdb knows a user the database does not yet). */
static int store_user(struct store *st, const struct backend_user *u, struct error *err)
{
	struct pgp p;
	PGresult *r;

	pgp_init(&p);
	pgp_str(&p, u->name);
	pgp_i64(&p, u->id);
	if (pgc_call(&st->db, PS_STORE_OPEN, &p, 0, &r, err) < 0) {
		if (err->code == ERR_NONEXISTENT)
			error_set(err, ERR_NONEXISTENT, "user %s is not in the mail database", u->name);
		return -1;
	}
	free(st->login);
	st->login = xstrdup(u->name);
	st->user_id = pg_i64(r, 0, 0);
	st->quota_limited = st->quota_default || pg_i64(r, 0, 1) > 0 || pg_i64(r, 0, 2) > 0;
	PQclear(r);
	log_debug("pgsql: store of %s (user %lld) open", u->name, (long long)st->user_id);
	return 0;
}

static int pg_store_open(const struct backend_user *u, const struct config *cfg,
			 struct store **out, struct error *err)
{
	struct store *st = xcalloc(1, sizeof(*st));
	long timeout = backend_setting_int(cfg, "pgsql_timeout");
	const char *dsn = backend_setting_str(cfg, "pgsql_dsn");
	const char *ldsn = backend_setting_str(cfg, "pgsql_listen_dsn");
	char *qdsn = pg_quota_dsn(dsn, cfg);

	pgc_init(&st->db, qdsn, timeout);
	free(qdsn);
	st->db.unnamed = !backend_setting_bool(cfg, "pgsql_prepare");
	pgc_init(&st->listen, *ldsn ? ldsn : dsn, timeout);
	st->max_message = cfg->max_literal > 0 ? (uint64_t)cfg->max_literal * 2 : 100u << 20;
	st->sieve_max_size = cfg->sieve_max_script_size;
	st->sieve_max_scripts = cfg->sieve_max_scripts;
	st->quota_default = cfg->quota_bytes > 0 || cfg->quota_messages > 0;
	if (store_user(st, u, err) < 0) {
		pg_store_close(st);
		return -1;
	}
	*out = st;
	return 0;
}

/* A kept worker's next user: the query connection stays, with the
 * statements it prepared and the server's caches behind it, warm (a new
 * connection costs a server process and its first plans, tens of
 * milliseconds); the listening one goes with the previous user's
 * channel and is made again, for the new channel, by the first view
 * that asks for the notify fd. */
static int pg_store_reopen(struct store *st, const struct backend_user *u,
			   const struct config *cfg, struct error *err)
{
	(void)cfg;
	if (st->views != NULL) {
		error_set(err, ERR_INTERNAL, "pgsql: store reopened with a mailbox open");
		pg_store_close(st);
		return -1;
	}
	pg_listen_close(st);
	pgc_drop(&st->listen);
	/* (every call is a transaction of its own: one still open is a
	 * connection to start afresh) */
	if (st->db.conn && PQtransactionStatus(st->db.conn) != PQTRANS_IDLE)
		pgc_drop(&st->db);
	if (store_user(st, u, err) < 0) {
		pg_store_close(st);
		return -1;
	}
	return 0;
}

const struct backend_ops pgsql_backend_ops = {
	.name = "pgsql",
	.settings = pgsql_settings,
	.store_open = pg_store_open,
	.store_close = pg_store_close,
	.store_reopen = pg_store_reopen,
	.list = pg_list,
	.create = pg_create,
	.delete = pg_delete,
	.rename = pg_rename,
	.subscribe = pg_subscribe,
	.status = pg_status,
	.append_begin = pg_quota_append_begin,
	.append_write = pg_append_write,
	.append_finish = pg_append_finish,
	.append_abort = pg_append_abort,
	.import_begin = pg_import_begin,
	.import_message = pg_import_message,
	.import_finish = pg_import_finish,
	.import_abort = pg_import_abort,
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
	.sieve_list = pg_sieve_list,
	.sieve_get = pg_sieve_get,
	.sieve_put = pg_sieve_put,
	.sieve_delete = pg_sieve_delete,
	.sieve_rename = pg_sieve_rename,
	.sieve_activate = pg_sieve_activate,
	.sieve_active = pg_sieve_active,
	.sieve_reply_claim = pg_sieve_reply_claim,
	/* QUOTA (RFC 9208) */
	.quota_get = pg_quota_get,
	/* METADATA (RFC 5464); entries follow their mailbox's row by themselves */
	.metadata_list = pg_metadata_list,
	.metadata_set = pg_metadata_set,
	.metadata_renamed = pg_metadata_renamed,
	/* NOTIFY */
	.watch_fd = pg_watch_fd,
	.watch_changes = pg_watch_changes,
	/* MULTIAPPEND */
	.append_finish_group = pg_append_finish_group,
	/* SORT/THREAD */
	.sort_fields = pg_sort_fields,
	.sort_fields_done = pg_sort_fields_done,
	/* OBJECTID: EMAILID from the stored digest */
	.message_sha256 = pg_message_sha256,
	/* QUOTA for an administrator */
	.quota_get_user = pg_quota_get_user,
	.quota_set_user = pg_quota_set_user,
	/* ACL (RFC 4314): every right checked in SQL (0016) */
	.acl_list = pg_acl_list,
	.acl_set = pg_acl_set,
	.acl_delete = pg_acl_delete,
	.acl_myrights = pg_acl_myrights,
	/* SORT/THREAD keys kept per body: haven.sort_keys */
	.sort_keys = pg_sort_keys,
	.sort_keys_done = pg_sort_keys_done,
	.tidy = pg_tidy,
	/* haven-admin who/kick across hosts: NOTIFY haven_admin */
	.admin_fd = pg_admin_fd,
	.admin_take = pg_admin_take,
	.admin_answer = pg_admin_answer,
};
