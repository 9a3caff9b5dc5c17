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

static void idle_wake(evutil_socket_t fd, short what, void *arg)
{
	struct wsession *ws = arg;
	wsession_sync(ws);
}

void wsession_idle_stop(struct wsession *ws)
{
	if (ws->idle_ev) {
		event_free(ws->idle_ev);
		ws->idle_ev = NULL;
	}
	ws->idle_tag = NULL;
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
	int fd = ws->mb ? mailbox_notify_fd(ws->mb) : -1;

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
	session_write(s, "+ idling\r\n", 10);
	if (ws->mb) {
		if (fd >= 0) {
			ws->idle_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, idle_wake, ws);
			event_add(ws->idle_ev, NULL);
		} else {
			struct timeval tv = { IDLE_POLL_SEC, 0 };
			ws->idle_ev = event_new(s->base, -1, EV_PERSIST, idle_wake, ws);
			event_add(ws->idle_ev, &tv);
		}
	}
	s->line_fn = idle_line;
}
