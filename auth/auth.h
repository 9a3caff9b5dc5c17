/* What the auth helper's modules share: its configuration and databases,
 * and the exchange (one LOGIN or AUTHENTICATE) they work on.
 *
 * An exchange goes request.c (the master's message, the mechanism) ->
 * chain.c (the databases in order, in the pool when they may block) ->
 * verdict.c (the answer, its delay, the failure counts). SCRAM takes
 * three steps (mech_scram.c); the others one. */
#ifndef HAVEN_AUTH_H
#define HAVEN_AUTH_H
#include <time.h>

#include <event2/event.h>

#include "../lib/cidr.h"
#include "../lib/config.h"
#include "passdbs.h"
#include "pool.h"

struct auth_state {
	struct config cfg;
	struct event_base *base;
	struct passdb_set dbs;
	struct cidr_list trusted;
	struct ratelimit *rl;
};

extern struct auth_state *A;

struct auth_req;
typedef void (*chain_fn)(struct auth_req *r, enum passdb_result res);
struct scram_state;

struct auth_req {
	struct auth_req *next;
	uint32_t id;               /* the master's request id */
	char mech[24];
	char remote[64], sid[32];
	char net[CIDR_TEXT_MAX];   /* counted under it (ratelimit.h) */
	int trusted, tls;
	struct timespec t0;        /* when the step being answered arrived */
	char user[256];            /* who logs in (after a master user's '*') */
	char authzid[256];
	char master[256];          /* the support user logging in as user, or "" */
	char *secret;              /* password or token (wiped at the end) */
	struct passdb_record rec;  /* what the databases said */
	/* the database chain in progress (chain.c) */
	chain_fn done;
	int op;                    /* enum pool_op */
	const char *chain_user;
	size_t next_db, end_db;
	int list_chain;            /* over the passdb list (oauth skipped) */
	int busy;                  /* a pool job runs for it */
	int dead;                  /* ended while busy: freed when the job returns */
	/* a step is awaited from the client (SCRAM) */
	struct scram_state *scram;
	struct event *expire;
};

/* chain.c */
/* r->secret against the passdb list, for r->user (oauth skipped). */
void chain_verify(struct auth_req *r, chain_fn done);
/* user's record and stored secret from the first database that knows it
 * (oauth skipped). */
void chain_lookup(struct auth_req *r, const char *user, chain_fn done);
/* r->secret as the password of r->master in the master database. */
void chain_master(struct auth_req *r, chain_fn done);
/* r->secret as an OAuth token: rec.name is whom it was issued to. */
void chain_oauth(struct auth_req *r, chain_fn done);

/* verdict.c: every exchange ends in one of these (the exchange is freed). */
void verdict_ok(struct auth_req *r);
/* A failed login (wrong password, unknown user, bad proof): counted,
 * answered after the failure delay. why is for the log only. */
void verdict_fail(struct auth_req *r, const char *why);
void verdict_tempfail(struct auth_req *r, const char *reason);
void verdict_expired(struct auth_req *r);
/* Refused without a look at the credentials when the user or network is
 * blocked: 1 (answered, r freed), else 0. */
int verdict_blocked(struct auth_req *r);
/* The next step's challenge; the exchange stays. */
void verdict_challenge(struct auth_req *r, const void *data, size_t len);
/* At exit: forget the failure answers still waiting for their delay (the
 * master is going away and would not read them). */
void verdict_drop_pending(void);
/* A name a client may log in with. */
int verdict_name_ok(const char *user);
/* Such a name into dst (cap bytes): 0, or -1 when it is not one or is too
 * long. */
int name_fits(const char *name, char *dst, size_t cap);

/* request.c */
void request_handle(struct ipc_msg *m);
/* A new exchange under the master's request id. */
struct auth_req *request_new(uint32_t id, const char *mech, const char *remote, const char *sid,
			     uint32_t tls);
/* Free r now, or once its pool job returns. */
void request_end(struct auth_req *r);
/* At exit: every exchange (no pool jobs are left). */
void request_end_all(void);
/* Wait for the client's next step (expires after preauth_timeout). */
void request_await(struct auth_req *r);

/* verdict.c, for lookups: the answer without a record, at once (nothing
 * counted, no delay: a recipient is not a login). */
void verdict_now(struct auth_req *r, uint32_t status, const char *reason);

/* lookup.c: MSG_AUTH_LOOKUP, a recipient of mail */
void lookup_handle(struct ipc_msg *m);

/* mech_scram.c */
void scram_start(struct auth_req *r, struct ipc_msg *step);
void scram_continue(struct auth_req *r, struct ipc_msg *step);
void scram_free(struct scram_state *s);
/* A server secret for SCRAM salts of unknown users (made at start). */
void scram_init(void);

#endif
