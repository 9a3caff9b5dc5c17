/* Haven benchmark load generator: what a session of each profile sends.
 * After LOGIN a session walks its profile's script, one command per tagged
 * answer:
 *   login    LOGOUT
 *   default  SELECT, FETCH 1:n (FLAGS), FETCH a:a+9 (ENVELOPE), FETCH a:a+9
 *            (BODYSTRUCTURE), FETCH a BODY.PEEK[], APPEND, UID FETCH of the
 *            appended message (verified), UID STORE \Deleted, EXPUNGE,
 *            LOGOUT; n = --fetch-max: only messages nobody expunges
 *   mixed    LIST, STATUS, SELECT, FETCH of the newest 10 (UID FLAGS
 *            RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE), FETCH k
 *            BODY.PEEK[], STORE k' +/-FLAGS (\Flagged), APPEND, UID FETCH
 *            (verified), UID STORE \Deleted, EXPUNGE, LOGOUT; k, k' random
 *            over the whole mailbox, which other sessions of the same user
 *            append to and expunge from meanwhile (as an independent load
 *            generator does: a NO there is an error)
 *   append   CREATE --append-box (NO [ALREADYEXISTS] accepted), APPEND to it
 *            until the run ends, DELETE it, LOGOUT
 *   hold     SELECT, then NOOP / STATUS / IDLE slowly (loadgen.c's timer)
 *   bigbox   lg_bigbox.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "loadgen.h"

static const enum step script_login[] = { S_LOGOUT };
static const enum step script_default[] = {
	S_SELECT, S_FETCH_FLAGS, S_FETCH_ENV, S_FETCH_BS, S_FETCH_BODY, S_APPEND,
	S_UID_FETCH, S_STORE, S_EXPUNGE, S_LOGOUT
};
static const enum step script_mixed[] = {
	S_LIST, S_STATUS, S_SELECT, S_FETCH_WINDOW, S_FETCH_BODY, S_STORE_FLAG, S_APPEND,
	S_UID_FETCH, S_STORE, S_EXPUNGE, S_LOGOUT
};
static const enum step script_append[] = { S_CREATE, S_APPEND, S_DELETE, S_LOGOUT };
static const enum step script_hold[] = { S_SELECT };

struct script {
	const enum step *steps;
	size_t n;
};
#define SCRIPT(a) { a, sizeof(a) / sizeof(a[0]) }
static const struct script scripts[] = {
	[P_LOGIN] = SCRIPT(script_login),   [P_DEFAULT] = SCRIPT(script_default),
	[P_MIXED] = SCRIPT(script_mixed),   [P_APPEND] = SCRIPT(script_append),
	[P_HOLD] = SCRIPT(script_hold),     [P_BIGBOX] = { NULL, 0 },
};

/* The messages FETCH may name: all of them, or only the seeded ones. */
static unsigned long fetchable(const struct conn *c)
{
	if (opt.profile == P_DEFAULT && opt.fetch_max && c->exists > opt.fetch_max)
		return opt.fetch_max;
	return c->exists;
}

static unsigned long pick(unsigned long n)
{
	return 1 + (unsigned long)random() % n;
}

static void make_append(struct conn *c)
{
	size_t i = (size_t)(random() % ncorpus);
	char hdr[128];
	int hl = snprintf(hdr, sizeof(hdr), "X-Bench-Id: %d-%lu-%ld\r\n", c->id, ++c->seq,
			  (long)random());
	free(c->app_msg);
	c->app_len = (size_t)hl + corpus_len[i];
	c->app_msg = malloc(c->app_len);
	if (!c->app_msg)
		lg_oom();
	memcpy(c->app_msg, hdr, (size_t)hl);
	memcpy(c->app_msg + hl, corpus[i], corpus_len[i]);
}

static void send_append(struct conn *c, const char *box)
{
	make_append(c);
	c->appended_uid = 0;
	c->pending_literal = c->app_msg;
	c->pending_len = c->app_len;
	send_cmd(c, C_APPEND, "APPEND %s (\\Seen) {%zu}", box, c->app_len);
}

/* FETCH commands of the default and mixed scripts; 0: nothing to fetch */
static int send_fetch(struct conn *c, enum step s)
{
	unsigned long n = fetchable(c);
	if (n == 0)
		return 0;
	switch (s) {
	case S_FETCH_FLAGS:
		c->ra = pick(n);
		c->rb = c->ra + 9 > n ? n : c->ra + 9;
		send_cmd(c, C_FETCH_FLAGS, "FETCH 1:%lu (FLAGS)", n);
		return 1;
	case S_FETCH_ENV:
		send_cmd(c, C_FETCH_ENV, "FETCH %lu:%lu (ENVELOPE)", c->ra, c->rb);
		return 1;
	case S_FETCH_BS:
		send_cmd(c, C_FETCH_BS, "FETCH %lu:%lu (BODYSTRUCTURE)", c->ra, c->rb);
		return 1;
	case S_FETCH_WINDOW:
		send_cmd(c, C_FETCH_WINDOW, "FETCH %lu:%lu (UID FLAGS RFC822.SIZE INTERNALDATE "
			 "ENVELOPE BODYSTRUCTURE)", n > 9 ? n - 9 : 1, n);
		return 1;
	case S_FETCH_BODY:
		send_cmd(c, C_FETCH_BODY, "FETCH %lu BODY.PEEK[]",
			 opt.profile == P_MIXED ? pick(n) : c->ra);
		return 1;
	case S_STORE_FLAG:
		send_cmd(c, C_STORE_FLAG, "STORE %lu %cFLAGS (\\Flagged)", pick(n),
			 random() % 2 ? '+' : '-');
		return 1;
	default:
		abort();
	}
}

/* Send the command of step s; 0: skipped (nothing to do), -1: the session
 * cannot go on (LOGOUT sent instead). */
static int send_step(struct conn *c, enum step s)
{
	switch (s) {
	case S_LIST:
		send_cmd(c, C_LIST, "LIST \"\" \"*\"");
		return 1;
	case S_STATUS:
		send_cmd(c, C_STATUS, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)");
		return 1;
	case S_SELECT:
		c->exists = 0;
		send_cmd(c, C_SELECT, "SELECT INBOX");
		return 1;
	case S_APPEND:
		send_append(c, opt.profile == P_APPEND ? opt.append_box : "INBOX");
		return 1;
	case S_UID_FETCH:
	case S_STORE:
		if (!c->appended_uid) {
			proto_errors++;
			errmsg("conn %d: APPEND without APPENDUID", c->id);
			return -1;
		}
		if (s == S_UID_FETCH)
			send_cmd(c, C_UID_FETCH_BODY, "UID FETCH %lu BODY.PEEK[]", c->appended_uid);
		else
			send_cmd(c, C_STORE, "UID STORE %lu +FLAGS.SILENT (\\Deleted)",
				 c->appended_uid);
		return 1;
	case S_EXPUNGE:
		send_cmd(c, C_EXPUNGE, "EXPUNGE");
		return 1;
	case S_CREATE:
		send_cmd(c, C_CREATE, "CREATE %s", opt.append_box);
		return 1;
	case S_DELETE:
		send_cmd(c, C_DELETE, "DELETE %s", opt.append_box);
		return 1;
	case S_LOGOUT:
		send_cmd(c, C_LOGOUT, "LOGOUT");
		return 1;
	default:
		return send_fetch(c, s);
	}
}

static void hold_schedule(struct conn *c)
{
	c->step = S_HOLD_WAIT;
	double d = opt.hold_interval * (0.5 + (random() % 1000) / 1000.0);
	if (stopping || now() >= t_end)
		d = 0; /* the run is over: LOGOUT now, not after another interval */
	struct timeval tv = { (time_t)d, (suseconds_t)((d - (time_t)d) * 1e6) };
	evtimer_add(c->timer, &tv);
}

/* The step after c->step in the profile's script (the first after LOGIN),
 * or S_DONE after the last. */
static enum step script_after(enum step cur)
{
	const struct script *sc = &scripts[opt.profile];
	if (cur == S_LOGIN)
		return sc->n ? sc->steps[0] : S_DONE;
	for (size_t i = 0; i + 1 < sc->n; i++)
		if (sc->steps[i] == cur)
			return sc->steps[i + 1];
	return S_DONE;
}

/* The append profile APPENDs until the run is over. */
static int append_again(const struct conn *c)
{
	return opt.profile == P_APPEND && c->step == S_APPEND && !stopping && now() < t_end;
}

static void login_send(struct conn *c)
{
	char user[64], pass[64];
	c->user = opt.user_by_client ? c->id % opt.nusers : (int)(random() % opt.nusers);
	snprintf(user, sizeof(user), opt.user_fmt, c->user + 1);
	snprintf(pass, sizeof(pass), opt.pass_fmt, c->user + 1);
	c->step = S_LOGIN;
	if (opt.scram)
		scram_first(c, user, pass);
	else
		send_cmd(c, C_LOGIN, "LOGIN %s %s", user, pass);
}

/* After a tagged answer that lets the session go on: send the next
 * command. */
void session_next(struct conn *c)
{
	if (c->step == S_GREETING) {
		login_send(c);
		return;
	}
	if (c->step == S_BIG || (c->step == S_LOGIN && opt.profile == P_BIGBOX)) {
		if (c->step == S_LOGIN)
			c->big_i = 0;
		big_next(c);
		return;
	}
	if (opt.profile == P_HOLD && (c->step == S_SELECT || c->step == S_HOLD_CMD)) {
		if (c->step == S_SELECT)
			logged_in_now++;
		hold_schedule(c);
		return;
	}
	enum step s = append_again(c) ? S_APPEND : script_after(c->step);
	for (; s != S_DONE; s = script_after(s)) {
		c->step = s;
		int r = send_step(c, s);
		if (r > 0)
			return;
		if (r < 0) {
			c->step = S_LOGOUT;
			send_cmd(c, C_LOGOUT, "LOGOUT");
			return;
		}
	}
}

/* hold: the timer fired for the next slow command */
void session_hold_command(struct conn *c)
{
	c->step = S_HOLD_CMD;
	switch (random() % 3) {
	case 0:
		send_cmd(c, C_NOOP, "NOOP");
		break;
	case 1:
		send_cmd(c, C_STATUS, "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)");
		break;
	default:
		c->idle_sent_done = 0;
		send_cmd(c, C_IDLE, "IDLE");
		break;
	}
}

/* A tagged NO that is not an error: CREATE of the append box that a
 * session of the same user (or an earlier run) made. */
int session_tolerates_no(const struct conn *c, const char *status)
{
	return c->cur == C_CREATE && strncmp(status, "NO", 2) == 0 &&
	       strstr(status, "[ALREADYEXISTS]") != NULL;
}
