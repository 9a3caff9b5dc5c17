/* NOTIFY (RFC 5465): the session is told of changes as they happen, not
 * only at the end of its commands or in IDLE.
 *
 * Two store signals drive it, never a timer: the selected mailbox's
 * notify fd (SELECTED: the view syncs at once and EXISTS, EXPUNGE,
 * FETCH go out, with MessageNew's fetch-atts for new messages), and the
 * store's watch fd (backend.h watch_fd) for everything else. On the
 * latter the session lists the store, asks STATUS of the mailboxes it
 * watches for message events, and compares both with what it told the
 * client last (the snapshot, notify_snap.c).
 *
 * A change that arrives while a command of the session is under way
 * (a FETCH yielding, an APPEND streaming) waits for it to end; output
 * the client does not read is bounded: past NOTIFY_QUEUE_MAX queued
 * bytes the session gets [NOTIFICATIONOVERFLOW] and NOTIFY NONE. The
 * one timer is that wait: changes are never looked for on a timer. A
 * store's descriptor that changed (a database connection made again) is
 * watched anew at the session's next wake-up, its own or one passed on
 * by another session's sync. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "notify.h"

#define NOTIFY_QUEUE_MAX (1024 * 1024)
/* How soon a change that found a command under way is looked at again. */
#define NOTIFY_BUSY_RETRY_MSEC 200

/* ---- delivery ---------------------------------------------------------- */

static void notify_stop(struct wsession *ws);

/* RFC 5465 5.8: the client cannot keep up. */
static int overflowed(struct wsession *ws)
{
	if (session_output_pending(&ws->s) <= NOTIFY_QUEUE_MAX)
		return 0;
	log_info("NOTIFY: %zu bytes unread by the client: notifications stop",
		 session_output_pending(&ws->s));
	session_printf(&ws->s, "* OK [NOTIFICATIONOVERFLOW] Too many changes unread, "
			       "NOTIFY is now NONE\r\n");
	notify_stop(ws);
	return 1;
}

/* May untagged responses go out now? Not in the middle of a command,
 * nor while one is being read (its literals may be parsed in the
 * session's arena, which a push resets). */
static int session_between_commands(struct wsession *ws)
{
	return ws->s.cont == NULL && ws->s.sink == NULL && ws->append == NULL &&
	       !ws->s.suspended && !ws->s.closing && imap_reader_pending(&ws->s.reader) == 0;
}

/* The selected mailbox: sync, then MessageNew's fetch-atts for what came
 * (the messages above the highest UID the view held). */
static void tell_selected(struct wsession *ws, int poked)
{
	struct notify *n = ws->notify;
	uint32_t count, last, first_new;

	if (ws->mb == NULL || n->sel_events == 0)
		return;
	count = mailbox_count(ws->mb);
	last = count ? mailbox_uid(ws->mb, count) : 0;
	/* Woken by another's sync: passing the wake-up on would have two
	 * sessions wake each other for ever (as in cmd_idle.c). */
	wsession_sync_told(ws, (n->sel_events & NE_FLAG_CHANGE) != 0);
	if (!poked)
		wsession_idle_poke_others(ws);
	if (ws->mb == NULL || ws->notify != n || n->fetch == NULL)
		return;
	count = mailbox_count(ws->mb);
	for (first_new = count; first_new > 0 && mailbox_uid(ws->mb, first_new) > last; first_new--)
		;
	if (first_new == count)
		return;
	uint32_t *uids = xreallocarray(NULL, count - first_new, sizeof(uint32_t));
	for (uint32_t seq = first_new + 1; seq <= count; seq++)
		uids[seq - first_new - 1] = mailbox_uid(ws->mb, seq);
	fetch_push(&ws->s, n->fetch, uids, count - first_new);
	free(uids);
}

static void tell_store(struct wsession *ws, int force)
{
	struct notify *n = ws->notify;
	uint64_t changes = store_watch_changes(W->store);
	struct snap_list now;

	if (!force && changes == n->seen)
		return;
	n->seen = changes;
	/* The fd may be the views' (backend.h): what was drained here may
	 * be what other sessions wait for. Only when there was news, so
	 * that pokes end. */
	wsession_idle_poke_others(ws);
	if (notify_snap_take(ws, &now) < 0)
		return;
	notify_snap_compare(ws, &now);
	notify_snap_replace(n, &now);
}

static void on_store(evutil_socket_t fd, short what, void *arg);
static void on_view(evutil_socket_t fd, short what, void *arg);
static struct event *watch(struct wsession *ws, int fd, event_callback_fn cb);

/* Watch fd instead of *cur, if it changed: a store's descriptor may (a
 * database connection made again has a new socket). */
static void rewatch(struct wsession *ws, struct event **ev, int *cur, int fd,
		    event_callback_fn cb)
{
	if (fd == *cur && (*ev != NULL || fd < 0))
		return;
	if (*ev)
		event_free(*ev);
	*cur = fd;
	*ev = watch(ws, fd, cb);
}

static void notify_rewatch(struct wsession *ws)
{
	struct notify *n = ws->notify;

	if (n->ngroups)
		rewatch(ws, &n->store_ev, &n->store_fd, store_watch_fd(W->store), on_store);
	if (ws->mb && n->sel_events && !n->sel_delayed)
		rewatch(ws, &n->view_ev, &n->view_fd, mailbox_notify_fd(ws->mb), on_view);
}

static void notify_run(struct wsession *ws, int store)
{
	struct timeval tv = { 0, NOTIFY_BUSY_RETRY_MSEC * 1000 };
	int poked;

	if (ws->notify == NULL)
		return;
	poked = ws->notify->poked;
	if (!session_between_commands(ws)) {
		evtimer_add(ws->notify->retry_ev, &tv);
		return;
	}
	ws->notify->poked = 0;
	if (!ws->notify->sel_delayed)
		tell_selected(ws, poked);
	if (ws->notify && store)
		tell_store(ws, 0);
	if (ws->notify && !overflowed(ws))
		notify_rewatch(ws);
	arena_reset(ws->s.arena);
}

static void on_store(evutil_socket_t fd, short what, void *arg)
{
	notify_run(arg, 1);
}

static void on_view(evutil_socket_t fd, short what, void *arg)
{
	notify_run(arg, 0);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	notify_run(arg, 1);
}

void notify_poke(struct wsession *ws)
{
	struct notify *n = ws->notify;

	if (n == NULL || n->poked)
		return;
	n->poked = 1;
	if (n->store_ev)
		event_active(n->store_ev, EV_READ, 0);
	else if (n->view_ev)
		event_active(n->view_ev, EV_READ, 0);
	else
		n->poked = 0;
}

static struct event *watch(struct wsession *ws, int fd, event_callback_fn cb)
{
	struct event *ev;
	if (fd < 0)
		return NULL;
	ev = event_new(ws->s.base, fd, EV_READ | EV_PERSIST, cb, ws);
	event_add(ev, NULL);
	return ev;
}

void notify_selected(struct wsession *ws)
{
	struct notify *n = ws->notify;

	if (n == NULL || n->sel_events == 0 || n->sel_delayed || ws->mb == NULL)
		return;
	n->view_fd = mailbox_notify_fd(ws->mb);
	n->view_ev = watch(ws, n->view_fd, on_view);
}

void notify_unselected(struct wsession *ws)
{
	if (ws->notify && ws->notify->view_ev) {
		event_free(ws->notify->view_ev);
		ws->notify->view_ev = NULL;
		ws->notify->view_fd = -1;
	}
	/* What the session did in the mailbox it leaves (STORE, EXPUNGE)
	 * would otherwise come back as its STATUS. */
	notify_own_begin(ws);
	notify_own_end(ws);
}

/* ---- the session's own changes ----------------------------------------- */

/* RFC 5465 section 5: the server SHOULD NOT tell the client of changes it
 * made itself. Before such a command, what others changed is told, so it
 * is not taken for the session's own; after it, the snapshot is taken
 * again without telling. A change another session makes while the
 * command runs is taken in with it: the store cannot say whose it was. */
void notify_own_begin(struct wsession *ws)
{
	if (ws->notify && ws->notify->ngroups)
		tell_store(ws, 0);
}

void notify_own_end(struct wsession *ws)
{
	struct notify *n = ws->notify;
	struct snap_list now;

	if (n == NULL || n->ngroups == 0)
		return;
	n->seen = store_watch_changes(W->store);
	if (notify_snap_take(ws, &now) == 0)
		notify_snap_replace(n, &now);
}

static void notify_stop(struct wsession *ws)
{
	struct notify *n = ws->notify;

	if (n == NULL)
		return;
	notify_unselected(ws);
	if (n->store_ev)
		event_free(n->store_ev);
	event_free(n->retry_ev);
	notify_snap_free(n->snap, n->nsnap);
	arena_free(n->a);
	free(n);
	ws->notify = NULL;
}

void notify_free(struct wsession *ws)
{
	notify_stop(ws);
}

/* ---- the command ------------------------------------------------------- */

static struct imap_arg *copy_atts(struct arena *a, const struct imap_arg *l)
{
	struct imap_arg *c = arena_alloc(a, sizeof(*c));
	c->type = IMAP_ARG_LIST;
	c->count = l->count;
	c->list = arena_alloc(a, l->count * sizeof(*c->list));
	for (size_t i = 0; i < l->count; i++) {
		c->list[i].type = l->list[i].type;
		c->list[i].str = arena_strndup(a, l->list[i].str, l->list[i].len);
		c->list[i].len = l->list[i].len;
	}
	return c;
}

/* The groups in UTF-8 (mailbox names as this client spells them). -1
 * after BAD. */
static int keep_groups(struct session *s, const struct imap_cmd *cmd,
		       const struct notify_spec *sp, struct notify *n)
{
	n->groups = arena_alloc(n->a, (sp->ngroups ? sp->ngroups : 1) * sizeof(*n->groups));
	for (size_t i = 0; i < sp->ngroups; i++) {
		const struct notify_group *g = &sp->groups[i];
		if (g->filter == NF_SELECTED || g->filter == NF_SELECTED_DELAYED) {
			n->sel_events = g->events;
			n->sel_delayed = g->filter == NF_SELECTED_DELAYED;
			if (g->fetch)
				n->fetch = copy_atts(n->a, g->fetch);
			continue;
		}
		struct nwatch *w = &n->groups[n->ngroups++];
		w->filter = g->filter;
		w->events = g->events;
		w->nnames = g->nnames;
		w->names = arena_alloc(n->a, (g->nnames ? g->nnames : 1) * sizeof(char *));
		for (size_t k = 0; k < g->nnames; k++) {
			const char *name = mailbox_arg_reply(s, cmd, &g->names[k]);
			if (name == NULL)
				return -1;
			w->names[k] = arena_strdup(n->a, name);
		}
	}
	return 0;
}

/* NOTIFY SET STATUS: what the client must know to follow (RFC 5465 3.1). */
static void tell_initial_status(struct wsession *ws)
{
	struct notify *n = ws->notify;
	for (size_t i = 0; i < n->nsnap; i++) {
		const struct nsnap *e = &n->snap[i];
		unsigned ev = notify_events_for(n, e->name, e->attrs) & NE_MESSAGE_EVENTS;
		if (ev && e->have_status && !notify_is_selected(ws, e->name))
			notify_tell_status(ws, e->name, notify_status_items(ws, ev), &e->st);
	}
}

static int notify_start(struct wsession *ws, const struct imap_cmd *cmd,
			const struct notify_spec *sp)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	struct snap_list now;
	const char *err;

	n->a = arena_new();
	n->store_fd = n->view_fd = -1;
	ws->notify = n;
	n->retry_ev = evtimer_new(ws->s.base, on_retry, ws);
	if (keep_groups(&ws->s, cmd, sp, n) < 0) {
		notify_stop(ws);
		return -1;
	}
	if (n->fetch && fetch_atts_check(&ws->s, n->fetch, &err) < 0) {
		session_tagged(&ws->s, cmd->tag, "BAD", NULL, "%s", err);
		notify_stop(ws);
		return -1;
	}
	n->seen = store_watch_changes(W->store);
	if (n->ngroups)
		n->store_ev = watch(ws, n->store_fd = store_watch_fd(W->store), on_store);
	if (notify_snap_take(ws, &now) == 0)
		notify_snap_replace(n, &now);
	notify_selected(ws);
	return 0;
}

void cmd_notify(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	struct notify_spec sp;
	const char *err;

	switch (notify_parse(s->arena, cmd->args, cmd->nargs, &sp, &err)) {
	case NOTIFY_BAD:
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", err);
		return;
	case NOTIFY_BADEVENT:
		session_tagged(s, cmd->tag, "NO", NOTIFY_BADEVENT_CODE, "%s", err);
		return;
	case NOTIFY_OK:
		break;
	}
	notify_stop(ws);
	if (!sp.none) {
		if (notify_start(ws, cmd, &sp) < 0)
			return;
		if (sp.status)
			tell_initial_status(ws);
	}
	/* RFC 5465 3.1: NOTIFY SET is an implicit NOOP. */
	wsession_sync(ws);
	session_tagged(s, cmd->tag, "OK", NULL, "NOTIFY completed");
}
