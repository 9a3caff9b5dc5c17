/* IDLE (RFC 2177, RFC 9051 6.3.13): the session waits on the backend's
 * notify fd (inotify for mbox, LISTEN for PostgreSQL) and pushes
 * EXISTS/EXPUNGE/FETCH as soon as the mailbox changes; no polling unless
 * the backend has no such fd. */
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "worker.h"

/* Backends without a notify fd are checked this often while idling. */
#define IDLE_POLL_SEC 10
/* With one, a sync this often all the same: a notification lost with a
 * broken connection costs at most this delay (and a new notify fd, as
 * after a database reconnect, is picked up). */
#define IDLE_RESYNC_SEC 60

static void idle_watch(struct wsession *ws, int fd);

static void idle_wake(evutil_socket_t fd, short what, void *arg)
{
	struct wsession *ws = arg;
	int now;

	/* A poke came from a sync that already woke everyone: passing it
	 * on would have two idlers wake each other for ever. */
	if (ws->idle_poked) {
		ws->idle_poked = 0;
		wsession_sync_view(ws);
	} else {
		wsession_sync(ws);
	}
	if (ws->idle_ev == NULL || ws->mb == NULL)
		return;   /* the sync ended the session or the selection */
	now = mailbox_notify_fd(ws->mb);
	if (now != ws->idle_fd)
		idle_watch(ws, now);
}

/* Wake on fd (or, without one, every IDLE_POLL_SEC). */
static void idle_watch(struct wsession *ws, int fd)
{
	struct timeval tv = { fd >= 0 ? IDLE_RESYNC_SEC : IDLE_POLL_SEC, 0 };

	if (ws->idle_ev)
		event_free(ws->idle_ev);
	ws->idle_fd = fd;
	ws->idle_ev = event_new(ws->s.base, fd, (fd >= 0 ? EV_READ : 0) | EV_PERSIST, idle_wake, ws);
	event_add(ws->idle_ev, &tv);
}

/* The notify fd is the store's, one for every view in this worker, and
 * any view's sync drains it (backend.h): a session's NOOP can take the
 * wake-up of another that is in IDLE on the same change. */
void wsession_idle_poke_others(struct wsession *self)
{
	for (struct wsession *ws = W->sessions; ws; ws = ws->next) {
		if (ws != self && ws->idle_ev && !ws->idle_poked) {
			ws->idle_poked = 1;
			event_active(ws->idle_ev, EV_READ, 0);
		}
		if (ws != self)
			notify_poke(ws);
	}
}

void wsession_idle_stop(struct wsession *ws)
{
	if (ws->idle_ev) {
		event_free(ws->idle_ev);
		ws->idle_ev = NULL;
	}
	ws->idle_tag = NULL;
	ws->idle_poked = 0;
}

static void idle_line(struct session *s, const char *line, size_t len)
{
	struct wsession *ws = wsession_of(s);
	char tag[IMAP_MAX_TAG + 1];
	snprintf(tag, sizeof(tag), "%s", ws->idle_tag ? ws->idle_tag : "*");
	wsession_idle_stop(ws);
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		wsession_sync(ws);
		session_tagged(s, tag, "OK", NULL, "IDLE terminated");
	} else {
		session_tagged(s, tag, "BAD", NULL, "Expected DONE");
	}
}

void cmd_idle(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	int fd;

	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "IDLE takes no arguments");
		return;
	}
	/* The tag must outlive this command's arena use: keep a copy in
	 * the session (the arena is not reset while line_fn waits, but be
	 * explicit about ownership). */
	snprintf(ws->idle_tagbuf, sizeof(ws->idle_tagbuf), "%s", cmd->tag);
	ws->idle_tag = ws->idle_tagbuf;
	wsession_sync(ws);
	fd = ws->mb ? mailbox_notify_fd(ws->mb) : -1;
	session_write(s, "+ idling\r\n", 10);
	if (ws->mb)
		idle_watch(ws, fd);
	s->line_fn = idle_line;
}
