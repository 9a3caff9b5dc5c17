/* Import (backend.h: struct importer) into PostgreSQL: one transaction
 * per mailbox, BEGIN, haven.import_begin (the mailbox made or emptied,
 * locked), haven.import_message per message (through the appender, so
 * a message is parsed and stored exactly as APPEND stores it), COMMIT.
 * A connection lost on the way loses the transaction, and with it every
 * row of the import: the next statement would run outside it, so each
 * one first checks that the transaction is still there. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "pgsql.h"

struct importer {
	struct store *st;
	char *name;
	uint32_t last_uid, uidnext;
};

static int in_transaction(struct store *st, struct error *err)
{
	return pg_txn_check(st, "The import's transaction was lost; nothing was stored", err);
}

static int run_text(struct store *st, const char *sql, struct error *err)
{
	return pg_txn_run(st, sql, err);
}

int pg_import_begin(struct store *st, const char *name, uint32_t uidvalidity,
		    uint32_t uidnext, unsigned flags, struct importer **out, struct error *err)
{
	struct importer *im;
	struct pgp p;
	PGresult *r;

	if (backend_name_check(name, err) < 0 && strcasecmp(name, "INBOX") != 0)
		return -1;
	if (run_text(st, "BEGIN", err) < 0)
		return -1;
	pgp_init(&p);
	pgp_i64(&p, st->user_id);
	pgp_str(&p, strcasecmp(name, "INBOX") == 0 ? "INBOX" : name);
	pgp_i64(&p, uidvalidity);
	pgp_i64(&p, uidnext);
	pgp_bool(&p, (flags & IMPORT_REPLACE) != 0);
	if (in_transaction(st, err) < 0 || pgc_exec(&st->db, PS_IMPORT_BEGIN, &p, 0, &r, err) < 0) {
		struct error e2;
		run_text(st, "ROLLBACK", &e2);
		return -1;
	}
	PQclear(r);
	im = xcalloc(1, sizeof(*im));
	im->st = st;
	im->name = xstrdup(strcasecmp(name, "INBOX") == 0 ? "INBOX" : name);
	im->uidnext = uidnext;
	*out = im;
	return 0;
}

int pg_import_message(struct importer *im, uint32_t uid, uint32_t flags,
		      const char *const *keywords, size_t nkeywords, time_t internaldate,
		      int tz_minutes, const void *msg, size_t len, struct error *err)
{
	struct appender *ap;

	if (uid <= im->last_uid || uid >= im->uidnext) {
		error_set(err, ERR_CANNOT, "UID %u out of order (after %u, UIDNEXT %u)", uid,
			  im->last_uid, im->uidnext);
		return -1;
	}
	if (in_transaction(im->st, err) < 0 ||
	    pg_append_begin(im->st, im->name, len, flags, keywords, nkeywords, internaldate,
			    tz_minutes, &ap, err) < 0)
		return -1;
	if (pg_append_write(ap, msg, len, err) < 0) {
		pg_append_abort(ap);
		return -1;
	}
	if (pg_append_finish_import(ap, uid, err) < 0)
		return -1;
	im->last_uid = uid;
	return 0;
}

/* The imported texts into the trigram index now, as an APPEND's go there
 * once its worker is idle (haven-admin has no idle time to wait for), in
 * batches that each end well within pgsql_timeout; what is left on an
 * error waits for the next worker's turn. */
#define IMPORT_INDEX_BATCH 512

static void index_imported(struct store *st)
{
	struct error e;
	int r;

	st->texts_pending = 1;
	while ((r = pg_index_texts(st, IMPORT_INDEX_BATCH, &e)) > 0)
		;
	if (r < 0)
		log_warn("pgsql: imported texts left for later indexing: %s", e.msg);
}

int pg_import_finish(struct importer *im, struct error *err)
{
	int rc = in_transaction(im->st, err) < 0 ? -1 : run_text(im->st, "COMMIT", err);

	if (rc < 0) {
		pg_import_abort(im);
		return rc;
	}
	index_imported(im->st);
	free(im->name);
	free(im);
	return rc;
}

void pg_import_abort(struct importer *im)
{
	struct error e;

	if (im->st->db.conn != NULL && PQtransactionStatus(im->st->db.conn) != PQTRANS_IDLE)
		run_text(im->st, "ROLLBACK", &e);
	free(im->name);
	free(im);
}
