/* A child of the auth helper's pool: a blocking loop, one job at a time,
 * connections kept open between jobs by the databases themselves. It
 * talks only to the helper (fd 3): the master's channel is closed. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/ipc.h"
#include "../lib/log.h"
#include "authmsg.h"
#include "pool.h"

static enum passdb_result job_run(struct passdb_set *set, const struct job_in *j,
				  struct passdb_record *rec)
{
	struct passdb *pd = set->db[j->db];
	struct passdb_query q = { j->user, j->password, j->remote, j->known };

	passdb_record_init(rec, j->user);
	if (j->op == POOL_VERIFY)
		return pd->ops->verify(pd, &q, rec);
	if (pd->ops->lookup == NULL)
		return PDB_UNKNOWN;
	return pd->ops->lookup(pd, j->user, rec);
}

static void reply(int fd, enum passdb_result r, const struct passdb_record *rec)
{
	struct ipc_out o;

	ipc_out_init(&o, POOL_MSG_RESULT, 0);
	buf_reserve(&o.payload, sizeof(*rec) + 256);
	ipc_put_u32(&o, (uint32_t)r);
	passdb_record_put(&o, rec);
	if (ipc_send(fd, &o, -1) < 0)
		_exit(1);
	ipc_out_free_secret(&o);
}

void pool_child_run(int fd, struct passdb_set *set)
{
	size_t ndb = set->n + (set->master >= 0);

	/* The helper's handlers write to its event loop, which is not ours. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	for (;;) {
		struct passdb_record rec;
		struct ipc_msg m;
		struct job_in j;
		enum passdb_result r;

		if (ipc_recv(fd, &m, 0) <= 0)
			_exit(0);  /* the helper closed us: done */
		if (authmsg_job(&m, &j) < 0 || j.db >= ndb || j.op > POOL_LOOKUP) {
			log_err("pool: malformed job from the auth helper");
			_exit(1);
		}
		r = job_run(set, &j, &rec);
		ipc_msg_free_secret(&m);
		reply(fd, r, &rec);
		passdb_record_wipe(&rec);
	}
}
