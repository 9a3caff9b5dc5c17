/* The auth helper's pool of children for the databases that may block
 * (pam, ldap, sql, oauth: a network, a PAM module that hangs). Each child
 * serves one job at a time and keeps its own connections between jobs. A
 * job that takes longer than passdb_timeout has its child killed and is
 * answered PDB_TEMPFAIL, and a new child takes its place: a stuck lookup
 * stalls nothing else. The helper's event loop never waits for a child. */
#ifndef HAVEN_POOL_H
#define HAVEN_POOL_H
#include <sys/types.h>

#include <event2/event.h>

#include "passdbs.h"

/* Messages between the helper and a pool child (fd 3 of the child). */
enum pool_msg {
	/* helper -> child: u32 op (enum pool_op), u32 db (index in the
	 * passdb set), str user, str password, str remote, str known */
	POOL_MSG_JOB = 0x600,
	/* child -> helper: u32 result (enum passdb_result), record */
	POOL_MSG_RESULT,
};

enum pool_op { POOL_VERIFY, POOL_LOOKUP };

struct pool_job {
	enum pool_op op;
	unsigned db;
	const char *user, *password, *remote, *known;
};

/* rec is NULL unless the child answered (it may be PDB_TEMPFAIL then). */
typedef void (*pool_done_fn)(void *arg, enum passdb_result r, struct passdb_record *rec);

void pool_init(struct event_base *base);
/* Children for set (as cfg says how many): started now, and the old
 * ones go when their job is done. Without remote databases: none. */
void pool_configure(const struct config *cfg, struct passdb_set *set);
/* Queue a job: 0, or -1 when the queue is full (done is not called). */
int pool_submit(const struct pool_job *job, pool_done_fn done, void *arg);
/* A child exited (SIGCHLD): 1 if it was one of ours. */
int pool_child_exited(pid_t pid, int status);
/* Every child goes, every job is answered PDB_TEMPFAIL. */
void pool_shutdown(void);

/* pool_child.c: the child's loop over jobs on fd; never returns. */
void pool_child_run(int fd, struct passdb_set *set);

#endif
