/* The master's requests (MSG_AUTH_REQUEST) and the exchanges they make:
 * one per LOGIN or AUTHENTICATE, found again by the master's request id
 * for each further step. PLAIN, LOGIN and OAUTHBEARER are one step; a
 * master user (USER*MASTER, or SASL PLAIN with USER as authorization
 * identity) is two lookups; SCRAM is in mech_scram.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/msg_sasl.h"
#include "../lib/xmalloc.h"
#include "auth.h"
#include "authmsg.h"

/* Exchanges in progress at most: beyond, NO [UNAVAILABLE]. */
#define AUTH_MAX_EXCHANGES 4096

static struct auth_req *reqs;
static size_t nreqs;

static struct auth_req *req_find(uint32_t id)
{
	for (struct auth_req *r = reqs; r; r = r->next)
		if (r->id == id && !r->dead)
			return r;
	return NULL;
}

static void req_unlink(struct auth_req *r)
{
	for (struct auth_req **pp = &reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			nreqs--;
			return;
		}
	}
}

void request_end(struct auth_req *r)
{
	if (r->busy) {
		r->dead = 1;  /* its pool job still points here */
		return;
	}
	req_unlink(r);
	if (r->expire)
		event_free(r->expire);
	if (r->secret) {
		explicit_bzero(r->secret, strlen(r->secret));
		free(r->secret);
	}
	scram_free(r->scram);
	passdb_record_wipe(&r->rec);
	free(r);
}

void request_end_all(void)
{
	while (reqs) {
		reqs->busy = 0;
		request_end(reqs);
	}
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_req *r = arg;
	log_debug("auth: exchange %u of %s: no next step in time", r->id, r->sid);
	request_end(r);
}

void request_await(struct auth_req *r)
{
	struct timeval tv = { A->cfg.preauth_timeout, 0 };

	if (r->expire == NULL)
		r->expire = evtimer_new(A->base, expire_cb, r);
	evtimer_add(r->expire, &tv);
}

/* The network a client counts under, and whether it is trusted. */
static void req_network(struct auth_req *r)
{
	struct cidr addr;

	if (cidr_addr_parse(r->remote, &addr) < 0) {
		/* Not an IP address ("local"): count it as it is. */
		snprintf(r->net, sizeof(r->net), "%s", r->remote);
		return;
	}
	cidr_prefix_text(&addr, (unsigned)A->cfg.client_ipv4_prefix,
			 (unsigned)A->cfg.client_ipv6_prefix, r->net, sizeof(r->net));
	r->trusted = cidr_list_match(&A->trusted, &addr);
}

struct auth_req *request_new(uint32_t id, const char *mech, const char *remote,
				const char *sid, uint32_t tls)
{
	struct auth_req *r = xcalloc(1, sizeof(*r));

	r->id = id;
	snprintf(r->mech, sizeof(r->mech), "%s", mech);
	snprintf(r->remote, sizeof(r->remote), "%s", remote);
	snprintf(r->sid, sizeof(r->sid), "%s", sid);
	r->tls = tls != 0;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	passdb_record_init(&r->rec, "");
	req_network(r);
	r->next = reqs;
	reqs = r;
	nreqs++;
	return r;
}

/* ---- one-step mechanisms ------------------------------------------------ */

static void after_verify(struct auth_req *r, enum passdb_result res)
{
	switch (res) {
	case PDB_OK: verdict_ok(r); break;
	case PDB_EXPIRED: verdict_expired(r); break;
	case PDB_TEMPFAIL: verdict_tempfail(r, "Authentication service unavailable"); break;
	case PDB_UNKNOWN: verdict_fail(r, " (unknown user)"); break;
	case PDB_MISMATCH: verdict_fail(r, ""); break;
	}
}

/* The master user's password was right: now the user it logs in as. */
static void after_master(struct auth_req *r, enum passdb_result res)
{
	if (res == PDB_OK)
		chain_lookup(r, r->user, after_verify);
	else
		after_verify(r, res == PDB_UNKNOWN ? PDB_MISMATCH : res);
}

/* USER*MASTER, or an authorization identity other than the user: with a
 * master database, the master user logs in as USER; without, a failure. */
static int split_master(struct auth_req *r, const char *authcid, const char *authzid)
{
	const char *star = strrchr(authcid, '*');

	if (authzid[0] && strcmp(authzid, authcid) != 0) {
		if (A->dbs.master < 0)
			return -1;
		return name_fits(authzid, r->user, sizeof(r->user)) < 0 ||
		       name_fits(authcid, r->master, sizeof(r->master)) < 0 ? -1 : 0;
	}
	if (A->dbs.master < 0 || star == NULL)
		return name_fits(authcid, r->user, sizeof(r->user));
	if (star == authcid || star[1] == '\0' || (size_t)(star - authcid) >= sizeof(r->user))
		return -1;
	memcpy(r->user, authcid, (size_t)(star - authcid));
	r->user[star - authcid] = '\0';
	return !verdict_name_ok(r->user) || name_fits(star + 1, r->master, sizeof(r->master)) < 0
		? -1 : 0;
}

static void plain_start(struct auth_req *r, struct ipc_msg *step)
{
	struct plain_in p;

	if (authmsg_plain(step, &p) < 0) {
		log_err("auth: malformed %s step from the master", r->mech);
		verdict_tempfail(r, "Internal error");
		return;
	}
	r->secret = xstrdup(p.password);
	if (split_master(r, p.authcid, p.authzid) < 0) {
		snprintf(r->user, sizeof(r->user), "%.200s", p.authcid);
		if (!verdict_blocked(r))
			verdict_fail(r, " (invalid name or authorization identity)");
		return;
	}
	if (verdict_blocked(r))
		return;
	if (r->master[0])
		chain_master(r, after_master);
	else
		chain_verify(r, after_verify);
}

/* The token is good: now whom it names, as the databases know them. */
static void after_token(struct auth_req *r, enum passdb_result res)
{
	if (res != PDB_OK) {
		after_verify(r, res == PDB_UNKNOWN ? PDB_MISMATCH : res);
		return;
	}
	if ((r->authzid[0] && strcmp(r->authzid, r->rec.name) != 0) ||
	    name_fits(r->rec.name, r->user, sizeof(r->user)) < 0) {
		verdict_fail(r, " (token issued to another user)");
		return;
	}
	chain_lookup(r, r->user, after_verify);
}

static void oauth_start(struct auth_req *r, struct ipc_msg *step)
{
	struct oauth_in o;

	if (authmsg_oauth(step, &o) < 0) {
		log_err("auth: malformed %s step from the master", r->mech);
		verdict_tempfail(r, "Internal error");
		return;
	}
	r->secret = xstrdup(o.token);
	if (o.authzid[0] && name_fits(o.authzid, r->authzid, sizeof(r->authzid)) < 0) {
		verdict_fail(r, " (invalid authorization identity)");
		return;
	}
	snprintf(r->user, sizeof(r->user), "%s", r->authzid);
	if (verdict_blocked(r))
		return;
	if (A->dbs.oauth < 0) {
		verdict_fail(r, " (no oauth in passdb)");
		return;
	}
	chain_oauth(r, after_token);
}

/* ---- the master's messages ------------------------------------------------ */

static void start(struct auth_req *r, struct ipc_msg *step)
{
	if (nreqs > AUTH_MAX_EXCHANGES) {
		log_warn("auth: more than %d exchanges in progress", AUTH_MAX_EXCHANGES);
		verdict_tempfail(r, "Authentication service busy");
	} else if (!strcmp(r->mech, SASL_MECH_PLAIN) || !strcmp(r->mech, SASL_MECH_LOGIN)) {
		plain_start(r, step);
	} else if (!strcmp(r->mech, SASL_MECH_SCRAM) || !strcmp(r->mech, SASL_MECH_SCRAM_PLUS)) {
		scram_start(r, step);
	} else if (!strcmp(r->mech, SASL_MECH_OAUTHBEARER)) {
		oauth_start(r, step);
	} else {
		log_err("auth: unknown mechanism \"%s\" from the master", r->mech);
		verdict_tempfail(r, "Internal error");
	}
}

static void next_step(uint32_t id, const struct request_in *q, struct ipc_msg *step)
{
	struct auth_req *r = req_find(id);

	if (r == NULL || r->scram == NULL || strcmp(r->mech, q->mech) != 0) {
		/* Expired, or never there: the master still gets its answer. */
		log_info("auth: step for exchange %u, which is not waiting for one", id);
		verdict_tempfail(request_new(id, q->mech, q->remote, q->sid, q->tls),
				 "Authentication timed out");
		return;
	}
	evtimer_del(r->expire);
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	scram_continue(r, step);
}

void request_handle(struct ipc_msg *m)
{
	struct request_in q;
	struct ipc_msg step;
	struct auth_req *r;

	if (authmsg_request(m, &q) < 0 || q.step > AUTH_STEP_CANCEL) {
		log_err("auth: malformed request from the master");
		return;
	}
	ipc_msg_view(&step, q.sasl, q.sasl_len);
	switch (q.step) {
	case AUTH_STEP_START:
		if ((r = req_find(m->id)) != NULL)
			request_end(r);  /* the master reuses an id only after its end */
		start(request_new(m->id, q.mech, q.remote, q.sid, q.tls), &step);
		break;
	case AUTH_STEP_CONTINUE:
		next_step(m->id, &q, &step);
		break;
	case AUTH_STEP_CANCEL:
		if ((r = req_find(m->id)) != NULL)
			request_end(r);
		break;
	}
}
