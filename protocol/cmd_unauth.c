/* UNAUTHENTICATE (RFC 8437) in the user worker.
 *
 * The user worker runs as the user: it must not serve the connection
 * once it is not-authenticated again. So it answers OK, lets the answer
 * reach the client, ends the session here (its selected mailbox, IDLE and
 * NOTIFY state go with it) and hands the socket and the bytes the client
 * pipelined after the command back to the master (MSG_WORKER_UNAUTH),
 * which gives them to a fresh, chrooted, unprivileged login worker. A TLS
 * session keeps its TLS: the socket here leads to the login worker that
 * proxies TLS, and it goes on doing so. Nothing the worker sends can
 * log anybody in: the master takes only the session's name and the
 * client's bytes, and decides TLS from its own records. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_worker.h"
#include "worker.h"

/* The client's pipelined bytes: what the session was handed and has not
 * read yet, then what is buffered from the socket. */
static void unauth_leftover(struct session *s, struct ipc_out *o)
{
	struct evbuffer *all = evbuffer_new();
	struct evbuffer *in = bufferevent_get_input(s->bev);

	if (s->preinput)
		evbuffer_add_buffer(all, s->preinput);
	evbuffer_add_buffer(all, in);
	ipc_put_bytes(o, evbuffer_pullup(all, -1), evbuffer_get_length(all));
	evbuffer_free(all);
}

/* The OK has left: the socket goes to the master, the session ends. */
static void unauth_hand_back(struct session *s)
{
	struct ipc_out o;

	s->drained = NULL;
	ipc_out_init(&o, MSG_WORKER_UNAUTH, 0);
	ipc_put_str(&o, s->sid);
	unauth_leftover(s, &o);
	if (ipc_send(CHILD_FD_MASTER, &o, bufferevent_getfd(s->bev)) < 0)
		log_warn("cannot hand the connection back to the master");
	else
		log_info("unauthenticated: the connection goes back to a login worker");
	ipc_out_free(&o);
	/* Our descriptor closes; the connection lives on in the master's. */
	session_release(s);
}

static void unauth_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	unauth_hand_back(arg);
}

void cmd_unauthenticate(struct session *s, const struct imap_cmd *cmd)
{
	static const struct timeval now = { 0, 0 };

	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "UNAUTHENTICATE takes no arguments");
		return;
	}
	if (wsession_of(s)->compressed) {
		session_tagged(s, cmd->tag, "NO", "CANNOT",
			       "UNAUTHENTICATE is not available with COMPRESS active");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_input(s->bev)) +
	    (s->preinput ? evbuffer_get_length(s->preinput) : 0) > IPC_MAX_PAYLOAD / 2) {
		session_tagged(s, cmd->tag, "BAD", "LIMIT", "Too much pipelined input");
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "Unauthenticate completed");
	/* Nothing more is read or run here. */
	session_suspend(s);
	bufferevent_disable(s->bev, EV_READ);
	if (session_output_pending(s) > 0)
		s->drained = unauth_hand_back;
	else if (event_base_once(s->base, -1, EV_TIMEOUT, unauth_deferred, s, &now) < 0)
		session_close(s);
}
