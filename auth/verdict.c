/* How an exchange ends: the answer to the master, when it is sent, and
 * what it counts. A failure is answered auth_failure_delay_ms (growing
 * with the failures counted for the user and the client's network) after
 * its step arrived, not after the databases answered: an unknown user, a
 * wrong password and a slow or fast database all take the same time, so
 * the time tells nothing (as long as a database answers within the
 * delay). A user or network with too many recent failures is refused
 * without a look at the password, with its own answer (ratelimit.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/xmalloc.h"
#include "auth.h"
#include "ratelimit.h"

/* At most one warning about refused (blocked) logins per this many s. */
#define AUTH_BLOCK_WARN_EVERY 10

struct delayed {
	struct event *ev;
	struct ipc_out out;
	struct delayed *prev, *next;
};

/* Answers waiting for their failure delay, dropped at exit. */
static struct delayed *pending;

static struct log_limit block_warn;

static void send_now(struct ipc_out *o)
{
	if (ipc_send(CHILD_FD_MASTER, o, -1) < 0)
		log_err("sending an answer to the master: lost it");
}

static void delayed_free(struct delayed *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		pending = d->next;
	if (d->next)
		d->next->prev = d->prev;
	ipc_out_free_secret(&d->out);
	event_free(d->ev);
	free(d);
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	send_now(&d->out);
	delayed_free(d);
}

void verdict_drop_pending(void)
{
	while (pending)
		delayed_free(pending);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Send o (taken over) delay_ms after t0: at once when that has passed. */
static void send_at(struct ipc_out *o, const struct timespec *t0, long delay_ms)
{
	long left = delay_ms - ms_since(t0);
	struct delayed *d;

	if (left <= 0) {
		send_now(o);
		ipc_out_free_secret(o);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->out = *o;
	struct timeval tv = { left / 1000, (left % 1000) * 1000 };
	d->ev = evtimer_new(A->base, delayed_cb, d);
	evtimer_add(d->ev, &tv);
	d->next = pending;
	if (pending)
		pending->prev = d;
	pending = d;
}

struct answer {
	enum auth_status st;
	const char *user, *home, *reason;
	uid_t uid;
	gid_t gid;
	const struct passdb_record *rec;  /* id and quotas, or NULL */
};

static void answer_build(struct ipc_out *o, uint32_t id, const struct answer *a)
{
	ipc_out_init(o, MSG_AUTH_RESULT, id);
	ipc_put_u32(o, a->st);
	ipc_put_str(o, a->user);
	ipc_put_u32(o, (uint32_t)a->uid);
	ipc_put_u32(o, (uint32_t)a->gid);
	ipc_put_str(o, a->home);
	ipc_put_str(o, a->reason);
	ipc_put_u64(o, a->rec ? (uint64_t)a->rec->id : 0);
	ipc_put_u64(o, a->rec ? a->rec->quota_bytes : 0);
	ipc_put_u64(o, a->rec ? a->rec->quota_messages : 0);
}

static void answer_status(struct auth_req *r, enum auth_status st, const char *reason,
			  long delay_ms)
{
	struct answer a = { .st = st, .user = "", .home = "", .reason = reason };
	struct ipc_out o;

	answer_build(&o, r->id, &a);
	send_at(&o, &r->t0, delay_ms);
	request_end(r);
}

void verdict_now(struct auth_req *r, uint32_t status, const char *reason)
{
	answer_status(r, (enum auth_status)status, reason, 0);
}

/* The failure delay after n failures counted for the user or network:
 * auth_failure_delay_ms, doubled for each one after the first, up to
 * auth_failure_delay_max_ms (never below the base). */
static long failure_delay(unsigned n)
{
	long d = A->cfg.auth_failure_delay_ms, max = A->cfg.auth_failure_delay_max_ms;

	if (max < d)
		max = d;
	for (unsigned i = 1; i < n && d < max; i++)
		d *= 2;
	return d < max ? d : max;
}

void verdict_ok(struct auth_req *r)
{
	struct answer a = { .st = AUTH_OK, .user = r->rec.name, .reason = "", .rec = &r->rec };
	struct ipc_out o;
	struct error err;
	char *home;

	if (userdb_ids(&A->cfg, &r->rec, &a.uid, &a.gid, &err) < 0) {
		log_err("%s", err.msg);
		verdict_tempfail(r, "User misconfigured");
		return;
	}
	home = r->rec.home[0] ? xstrdup(r->rec.home)
			      : config_expand(A->cfg.mail_home, r->rec.name, "");
	a.home = home;
	if (r->master[0])
		log_warn("auth: master user %s logged in as %s: remote=%s mech=%s", r->master,
			 r->rec.name, r->remote, r->mech);
	answer_build(&o, r->id, &a);
	send_now(&o);
	ipc_out_free(&o);
	free(home);
	request_end(r);
}

static const char *block_what(enum rl_block b)
{
	return b == RL_NET ? "the client network" : "this user from the client network";
}

/* The name the failure counts count: whoever typed the password. */
static const char *counted_user(const struct auth_req *r)
{
	return r->master[0] ? r->master : r->user;
}

void verdict_fail(struct auth_req *r, const char *why)
{
	enum rl_block started;
	unsigned n = ratelimit_fail(A->rl, r->net, counted_user(r), r->trusted, time(NULL),
				    &started);

	log_info("auth failed: user=%s remote=%s mech=%s%s%s%s", r->user, r->remote, r->mech,
		 r->master[0] ? " master=" : "", r->master, why);
	if (started != RL_NONE)
		log_warn("auth: blocking %s for %ld s after too many failed logins: user=%s "
			 "remote=%s net=%s", block_what(started), A->cfg.auth_block_time,
			 counted_user(r), r->remote, r->net);
	answer_status(r, AUTH_FAIL, "Authentication failed", failure_delay(n));
}

void verdict_tempfail(struct auth_req *r, const char *reason)
{
	answer_status(r, AUTH_TEMPFAIL, reason, 0);
}

void verdict_expired(struct auth_req *r)
{
	log_info("auth refused: user=%s remote=%s mech=%s: %s", r->user, r->remote, r->mech,
		 r->rec.reason[0] ? r->rec.reason : "expired");
	answer_status(r, AUTH_EXPIRED, r->rec.reason[0] ? r->rec.reason : "Account expired", 0);
}

int verdict_blocked(struct auth_req *r)
{
	time_t until, now = time(NULL);
	enum rl_block b = ratelimit_blocked(A->rl, r->net, counted_user(r), r->trusted, now,
					    &until);
	unsigned suppressed;
	char reason[128];

	if (b == RL_NONE)
		return 0;
	if (log_limit_pass(&block_warn, now, AUTH_BLOCK_WARN_EVERY, &suppressed))
		log_warn("auth: login refused, %s is blocked for %ld s more after too many "
			 "failed logins: user=%s remote=%s net=%s (%u more refused since the last "
			 "such warning)", block_what(b), (long)(until - now), counted_user(r),
			 r->remote, r->net, suppressed);
	snprintf(reason, sizeof(reason),
		 "Too many failed logins, login blocked for %ld more minutes",
		 (long)(until - now + 59) / 60);
	answer_status(r, AUTH_BLOCKED, reason, A->cfg.auth_failure_delay_ms);
	return 1;
}

void verdict_challenge(struct auth_req *r, const void *data, size_t len)
{
	struct ipc_out o;

	ipc_out_init(&o, MSG_AUTH_CHALLENGE, r->id);
	ipc_put_bytes(&o, data, len);
	send_now(&o);
	ipc_out_free(&o);
	request_await(r);
}

int verdict_name_ok(const char *user)
{
	return passdb_user_name_valid(user);
}

int name_fits(const char *name, char *dst, size_t cap)
{
	if (strlen(name) >= cap || !verdict_name_ok(name))
		return -1;
	memcpy(dst, name, strlen(name) + 1);
	return 0;
}
