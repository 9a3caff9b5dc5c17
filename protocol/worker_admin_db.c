/* haven-admin who and kick from any host: requests that come through
 * the store (backend.h admin_*; the PostgreSQL store: NOTIFY on the
 * database every host shares) rather than from this host's master.
 * Each is answered the way worker_admin.c answers the master: one line
 * per live session, or the sessions of the named user ended with the
 * same BYE, then how many. The text is lib/admin_note.h's; a request
 * out of shape is logged and ignored (anyone who may NOTIFY can send). */
#include <string.h>
#include <unistd.h>

#include "../lib/admin_note.h"
#include "../lib/log.h"
#include "../lib/msg_admin.h"
#include "worker.h"

static struct event_base *base;
static struct event *ev;
static int ev_fd = -1;
static char host[ADMIN_TOKEN_MAX + 1];

/* 0, or -1 after logging: the asker hears less, the worker goes on. */
static int send_answer(const struct admin_request *r, const struct admin_answer *a)
{
	char line[ADMIN_NOTE_MAX + 1];
	struct error err;

	if (admin_answer_format(a, line, sizeof(line)) < 0) {
		log_warn("haven-admin %s: an answer that cannot travel left out",
			 r->kind == ADMIN_NOTE_WHO ? "who" : "kick");
		return 0;
	}
	if (store_admin_answer(W->store, r->nonce, line, &err) < 0) {
		log_warn("answering haven-admin: %s", err.msg);
		return -1;
	}
	return 0;
}

static void answer_who(const struct admin_request *r)
{
	static struct admin_answer a;  /* 8 kB: off the stack */

	memset(&a, 0, sizeof(a));
	a.kind = ADMIN_NOTE_WHO;
	snprintf(a.host, sizeof(a.host), "%s", host);
	snprintf(a.user, sizeof(a.user), "%s", W->user.name);
	for (struct wsession *ws = W->sessions; ws; ws = ws->next) {
		if (ws->s.closing)
			continue;  /* said BYE (LOGOUT, kick): flushing its last output */
		snprintf(a.client, sizeof(a.client), "%s", ws->s.remote);
		snprintf(a.mailbox, sizeof(a.mailbox), "%s", ws->mb ? ws->mbname : "");
		a.since = (uint64_t)ws->since;
		a.tls = ws->s.tls;
		if (send_answer(r, &a) < 0)
			return;
	}
}

static void answer_kick(const struct admin_request *r)
{
	static struct admin_answer a;

	if (strcmp(r->login, W->user.name) != 0)
		return;  /* another user's worker answers */
	memset(&a, 0, sizeof(a));
	a.kind = ADMIN_NOTE_KICK;
	snprintf(a.host, sizeof(a.host), "%s", host);
	snprintf(a.user, sizeof(a.user), "%s", W->user.name);
	a.n = worker_admin_end_all(ADMIN_KICK_TEXT);
	send_answer(r, &a);
}

static void take_requests(void)
{
	char buf[ADMIN_NOTE_MAX + 1];
	struct admin_request r;

	while (store_admin_take(W->store, buf, sizeof(buf)) == 1) {
		if (admin_request_parse(buf, strlen(buf), &r) < 0)
			log_warn("malformed haven-admin request ignored");
		else if (r.kind == ADMIN_NOTE_WHO)
			answer_who(&r);
		else
			answer_kick(&r);
	}
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	take_requests();
	/* Reading may have found the connection broken and the store made
	 * it again, perhaps under the same descriptor number: register anew. */
	worker_admin_db_watch();
}

void worker_admin_db_init(struct event_base *b)
{
	base = b;
	/* Before the sandbox; a host without a name is still told apart by
	 * its clients' addresses. */
	if (gethostname(host, sizeof(host) - 1) < 0 || !admin_note_token(host))
		snprintf(host, sizeof(host), "-");
}

void worker_admin_db_watch(void)
{
	int fd = W->store ? store_admin_fd(W->store) : -1;

	if (ev)
		event_del(ev);
	ev_fd = -1;
	if (fd < 0)
		return;
	if (ev == NULL)
		ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, NULL);
	else
		event_assign(ev, base, fd, EV_READ | EV_PERSIST, on_readable, NULL);
	if (ev == NULL || event_add(ev, NULL) < 0) {
		log_warn("cannot watch for haven-admin requests");
		return;
	}
	ev_fd = fd;
}

void worker_admin_db_poke(void)
{
	if (ev_fd >= 0 && W->store && store_admin_take(W->store, NULL, 0) == 1)
		event_active(ev, EV_READ, 0);
}

void worker_admin_db_stop(void)
{
	if (ev)
		event_free(ev);
	ev = NULL;
	ev_fd = -1;
}
