/* The databases of an exchange, in order, each asked until one knows the
 * user: inline for the file database, through the pool for those that
 * may block, with the auth cache in front (cache.h). */
#include <string.h>

#include "../lib/log.h"
#include "auth.h"
#include "cache.h"

static void chain_next(struct auth_req *r);

/* Whether db takes part in this chain: oauth answers only for tokens,
 * never in the passdb list's chain of passwords and lookups. */
static int db_skipped(const struct auth_req *r, size_t db)
{
	return r->list_chain && (int)db == A->dbs.oauth;
}

/* What db said about r; UNKNOWN goes on to the next one. */
static void chain_answer(struct auth_req *r, size_t db, enum passdb_result res,
			 const struct passdb_record *rec)
{
	struct passdb *pd = A->dbs.db[db];

	if (r->op == POOL_VERIFY && (int)db != A->dbs.oauth)
		cache_put((unsigned)db, r->chain_user, r->secret, res, rec, pd->ops->cached);
	if (rec && (res == PDB_OK || res == PDB_EXPIRED || res == PDB_TEMPFAIL))
		r->rec = *rec;
	if (res == PDB_TEMPFAIL)
		log_err("passdb %s: %s: %s", pd->ops->name, r->chain_user,
			rec && rec->reason[0] ? rec->reason : "unavailable");
	if (res != PDB_UNKNOWN)
		r->done(r, res);
	else if (r->next_db >= r->end_db)
		r->done(r, PDB_UNKNOWN);  /* each database spent a known user's work */
	else
		chain_next(r);
}

static void pool_done(void *arg, enum passdb_result res, struct passdb_record *rec)
{
	struct auth_req *r = arg;

	r->busy = 0;
	if (r->dead) {
		request_end(r);
		return;
	}
	chain_answer(r, r->next_db - 1, res, rec);
}

/* A cached answer for db, if the cache has one that stands on its own. */
static int from_cache(struct auth_req *r, size_t db, char *known, size_t cap)
{
	struct passdb_record rec;
	enum passdb_result res;
	enum cache_hit hit;

	known[0] = '\0';
	if (r->op != POOL_VERIFY)
		return 0;
	hit = cache_get((unsigned)db, r->chain_user, r->secret, &rec, &res);
	if (hit == CACHE_MISS)
		return 0;
	if (!A->dbs.db[db]->ops->cached) {
		if (hit == CACHE_OK)
			snprintf(known, cap, "%s", rec.secret);
		passdb_record_wipe(&rec);
		return 0;
	}
	log_debug("passdb %s: %s: cached (%s)", A->dbs.db[db]->ops->name, r->chain_user,
		  passdb_result_name(res));
	if (res == PDB_OK)
		r->rec = rec;
	r->done(r, res);
	return 1;
}

static void run_inline(struct auth_req *r, size_t db, const char *known)
{
	struct passdb *pd = A->dbs.db[db];
	struct passdb_query q = { r->chain_user, r->secret ? r->secret : "", r->remote, known };
	struct passdb_record rec;
	enum passdb_result res;

	passdb_record_init(&rec, r->chain_user);
	if (r->op == POOL_VERIFY)
		res = pd->ops->verify(pd, &q, &rec);
	else
		res = pd->ops->lookup ? pd->ops->lookup(pd, r->chain_user, &rec) : PDB_UNKNOWN;
	chain_answer(r, db, res, &rec);
	passdb_record_wipe(&rec);
}

static void chain_next(struct auth_req *r)
{
	size_t db = r->next_db++;
	char known[sizeof(r->rec.secret)];

	if (db_skipped(r, db)) {
		if (r->next_db >= r->end_db)
			r->done(r, PDB_UNKNOWN);  /* each database spent a known user's work */
		else
			chain_next(r);
		return;
	}
	if (from_cache(r, db, known, sizeof(known)))
		return;
	if (!A->dbs.db[db]->ops->remote) {
		run_inline(r, db, known);
		return;
	}
	struct pool_job job = { (enum pool_op)r->op, (unsigned)db, r->chain_user,
				r->secret ? r->secret : "", r->remote, known };
	if (pool_submit(&job, pool_done, r) < 0) {
		log_err("passdb %s: too many lookups waiting", A->dbs.db[db]->ops->name);
		r->done(r, PDB_TEMPFAIL);
		return;
	}
	explicit_bzero(known, sizeof(known));
	r->busy = 1;
}

static void chain_start(struct auth_req *r, int op, const char *user, size_t from, size_t to,
			chain_fn done)
{
	r->list_chain = from == 0 && to == A->dbs.n;
	r->op = op;
	r->chain_user = user;
	r->next_db = from;
	r->end_db = to;
	r->done = done;
	passdb_record_init(&r->rec, user);
	chain_next(r);
}

void chain_verify(struct auth_req *r, chain_fn done)
{
	chain_start(r, POOL_VERIFY, r->user, 0, A->dbs.n, done);
}

void chain_lookup(struct auth_req *r, const char *user, chain_fn done)
{
	chain_start(r, POOL_LOOKUP, user, 0, A->dbs.n, done);
}

void chain_master(struct auth_req *r, chain_fn done)
{
	size_t m = (size_t)A->dbs.master;
	chain_start(r, POOL_VERIFY, r->master, m, m + 1, done);
}

void chain_oauth(struct auth_req *r, chain_fn done)
{
	size_t o = (size_t)A->dbs.oauth;
	chain_start(r, POOL_VERIFY, r->authzid, o, o + 1, done);
}
