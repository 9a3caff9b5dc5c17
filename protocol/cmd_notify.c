/* NOTIFY (RFC 5465): the session is told of changes as they happen, not
 * only at the end of its commands or in IDLE.
 *
 * Two store signals drive it, never a timer: the selected mailbox's
 * notify fd (SELECTED: the view syncs at once and EXISTS, EXPUNGE,
 * FETCH go out, with MessageNew's fetch-atts for new messages), and the
 * store's watch fd (backend.h watch_fd) for everything else. On the
 * latter the session lists the store, asks STATUS of the mailboxes it
 * watches for message events, and compares both with what it told the
 * client last (the snapshot): a mailbox come, gone or changed is a LIST
 * (MailboxName), a subscription changed a LIST (SubscriptionChange), a
 * count changed a STATUS. A rename is a name gone and a name come with
 * the same UIDVALIDITY (the snapshot keeps it for MailboxName): one LIST
 * of the new name with OLDNAME (RFC 5465 5.4), none for its children.
 *
 * A change that arrives while a command of the session is under way
 * (a FETCH yielding, an APPEND streaming) waits for it to end; output
 * the client does not read is bounded: past NOTIFY_QUEUE_MAX queued
 * bytes the session gets [NOTIFICATIONOVERFLOW] and NOTIFY NONE. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "notify_parse.h"
#include "worker.h"

#define NOTIFY_QUEUE_MAX (1024 * 1024)
/* How soon a change that found a command under way is looked at again. */
#define NOTIFY_BUSY_RETRY_MSEC 200

struct nwatch {                 /* a group, kept (names in UTF-8) */
	enum notify_filter filter;
	char **names;
	size_t nnames;
	unsigned events;
};

struct nsnap {                  /* what the client knows of one mailbox */
	char *name;
	unsigned attrs;
	int have_status;
	struct mailbox_status st;
	uint32_t uidvalidity;       /* MailboxName: a rename keeps it; 0 unknown */
	/* While comparing: this old name was renamed (to the new name from). */
	int renamed;
	const struct nsnap *from;
};

struct notify {
	struct arena *a;            /* the groups and the fetch-atts */
	struct nwatch *groups;
	size_t ngroups;
	unsigned sel_events;        /* SELECTED's events (0: none) */
	int sel_delayed;            /* SELECTED-DELAYED: only at command ends */
	struct imap_arg *fetch;     /* MessageNew's fetch-atts, or NULL */
	struct nsnap *snap;
	size_t nsnap;
	uint64_t seen;              /* store_watch_changes when last compared */
	int poked;                  /* woken by another session's sync (notify_poke) */
	struct event *store_ev, *view_ev, *retry_ev;
	int store_fd, view_fd;
};

/* ---- which mailboxes --------------------------------------------------- */

static int in_subtree(const char *name, const char *top)
{
	size_t n = strlen(top);
	return strncmp(name, top, n) == 0 && (name[n] == '\0' || name[n] == '/');
}

static int group_matches(const struct nwatch *g, const char *name, unsigned attrs)
{
	int selectable = !(attrs & (MA_NOSELECT | MA_NONEXISTENT));

	switch (g->filter) {
	case NF_INBOXES:    /* any mailbox may be delivered to (Sieve): 6.3 */
	case NF_PERSONAL:
		return selectable;
	case NF_SUBSCRIBED:
		return (attrs & MA_SUBSCRIBED) != 0;
	case NF_SUBTREE:
		for (size_t i = 0; i < g->nnames; i++)
			if (in_subtree(name, g->names[i]))
				return 1;
		return 0;
	case NF_MAILBOXES:
		for (size_t i = 0; i < g->nnames; i++)
			if (strcmp(name, g->names[i]) == 0)
				return 1;
		return 0;
	default:
		return 0;
	}
}

static unsigned events_for(const struct notify *n, const char *name, unsigned attrs)
{
	unsigned ev = 0;
	for (size_t i = 0; i < n->ngroups; i++)
		if (group_matches(&n->groups[i], name, attrs))
			ev |= n->groups[i].events;
	return ev;
}

/* ---- the snapshot ------------------------------------------------------ */

struct snap_list {
	struct nsnap *v;
	size_t n, cap;
};

static void snap_cb(void *ctx, const char *name, unsigned attrs)
{
	struct snap_list *l = ctx;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	l->v[l->n].name = xstrdup(name);
	l->v[l->n++].attrs = attrs;
}

static int snap_cmp(const void *x, const void *y)
{
	return strcmp(((const struct nsnap *)x)->name, ((const struct nsnap *)y)->name);
}

static void snap_free(struct nsnap *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static int is_selected_mailbox(const struct wsession *ws, const char *name)
{
	return ws->mbname != NULL && strcmp(ws->mbname, name) == 0;
}

/* The store now: every mailbox, sorted, with STATUS where message events
 * are watched. -1 when the store cannot say (the old snapshot stays). */
static const struct nsnap *snap_find(const struct nsnap *v, size_t n, const char *name)
{
	struct nsnap key = { .name = (char *)name };
	return n ? bsearch(&key, v, n, sizeof(*v), snap_cmp) : NULL;
}

/* MailboxName: the UIDVALIDITY of e, from the snapshot when it was
 * there already (a STATUS only for a mailbox that appeared), so that a
 * rename shows as a name gone and one come with the same. */
static void snap_uidvalidity(const struct notify *n, struct nsnap *e)
{
	const struct nsnap *o = snap_find(n->snap, n->nsnap, e->name);
	struct mailbox_status st;
	struct error err;

	if (e->have_status)
		e->uidvalidity = e->st.uidvalidity;
	else if (o != NULL && o->uidvalidity != 0)
		e->uidvalidity = o->uidvalidity;
	else if (store_status(W->store, e->name, &st, &err) == 0)
		e->uidvalidity = st.uidvalidity;
}

static int snap_take(struct wsession *ws, struct snap_list *l)
{
	struct error err;

	memset(l, 0, sizeof(*l));
	if (store_list(W->store, snap_cb, l, &err) < 0) {
		log_warn("NOTIFY: list: %s", err.msg);
		snap_free(l->v, l->n);
		return -1;
	}
	qsort(l->v, l->n, sizeof(*l->v), snap_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct nsnap *e = &l->v[i];
		if (!(events_for(ws->notify, e->name, e->attrs) & NE_MESSAGE_EVENTS) ||
		    (e->attrs & (MA_NOSELECT | MA_NONEXISTENT)))
			continue;
		e->have_status = store_status(W->store, e->name, &e->st, &err) == 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct nsnap *e = &l->v[i];
		if ((events_for(ws->notify, e->name, e->attrs) & NE_MAILBOX_NAME) &&
		    !(e->attrs & (MA_NOSELECT | MA_NONEXISTENT)))
			snap_uidvalidity(ws->notify, e);
	}
	return 0;
}

/* ---- what is told ------------------------------------------------------ */

static unsigned status_items_for(const struct wsession *ws, unsigned ev)
{
	unsigned items = 0;
	if (ev & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE))
		items |= SI_MESSAGES | SI_UIDNEXT | SI_UIDVALIDITY;
	if (ev & NE_FLAG_CHANGE)
		items |= SI_UIDVALIDITY | SI_UNSEEN;
	if (ws->s.enabled & EN_CONDSTORE)
		items |= SI_HIGHESTMODSEQ;
	return items;
}

static void tell_status(struct wsession *ws, const char *name, unsigned items,
			const struct mailbox_status *st)
{
	struct status_result r;
	const char *wire = mailbox_name_out(&ws->s, name);

	if (wire == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.st = *st;
	status_write(&ws->s, wire, items, &r);
}

/* Which of the message events did this STATUS change show? */
static unsigned status_changed(const struct mailbox_status *a, const struct mailbox_status *b)
{
	unsigned ev = 0;
	if (a->messages != b->messages || a->uidnext != b->uidnext ||
	    a->uidvalidity != b->uidvalidity)
		ev |= NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE;
	if (a->unseen != b->unseen || a->highestmodseq != b->highestmodseq ||
	    a->uidvalidity != b->uidvalidity)
		ev |= NE_FLAG_CHANGE;
	return ev;
}

#define NAME_ATTRS (~(unsigned)(MA_SUBSCRIBED | MA_MARKED | MA_UNMARKED))

/* One mailbox, before (o) and now (c), either may be NULL. */
static void tell_one(struct wsession *ws, const struct nsnap *o, const struct nsnap *c)
{
	const struct nsnap *e = c ? c : o;
	unsigned ev = events_for(ws->notify, e->name, e->attrs);
	unsigned was = o ? o->attrs : MA_NONEXISTENT, now = c ? c->attrs : MA_NONEXISTENT;

	if (o)
		ev |= events_for(ws->notify, o->name, o->attrs);
	if (((ev & NE_MAILBOX_NAME) && (was & NAME_ATTRS) != (now & NAME_ATTRS)) ||
	    ((ev & NE_SUBSCRIPTION_CHANGE) && ((was ^ now) & MA_SUBSCRIBED)))
		list_write_attrs(&ws->s, e->name, now);
	if (o && c && o->have_status && c->have_status && !is_selected_mailbox(ws, e->name)) {
		unsigned changed = status_changed(&o->st, &c->st) & ev;
		if (changed)
			tell_status(ws, e->name, status_items_for(ws, changed), &c->st);
	}
}

/* Names gone and names come with the same UIDVALIDITY: renames. */
static void snap_pair_renames(struct notify *n, struct snap_list *now)
{
	for (size_t j = 0; j < now->n; j++) {
		struct nsnap *c = &now->v[j];
		if (c->uidvalidity == 0 || snap_find(n->snap, n->nsnap, c->name))
			continue;
		for (size_t i = 0; i < n->nsnap; i++) {
			struct nsnap *o = &n->snap[i];
			if (o->uidvalidity == c->uidvalidity && !o->renamed &&
			    !snap_find(now->v, now->n, o->name)) {
				o->renamed = 1;
				c->from = o;
				break;
			}
		}
	}
}

/* RFC 5465 5.4: the children of a renamed mailbox get no event of
 * their own: c's rename is its parent's, carried along. */
static int rename_carried(const struct snap_list *now, const struct nsnap *c)
{
	for (size_t j = 0; j < now->n; j++) {
		const struct nsnap *p = &now->v[j];
		size_t pn = strlen(p->name), on;
		if (p == c || p->from == NULL || !in_subtree(c->name, p->name) || c->name[pn] != '/')
			continue;
		on = strlen(p->from->name);
		if (strncmp(c->from->name, p->from->name, on) == 0 &&
		    strcmp(c->from->name + on, c->name + pn) == 0)
			return 1;
	}
	return 0;
}

/* A mailbox renamed: the new name with OLDNAME, if either name is
 * watched for MailboxName. */
static void tell_renamed(struct wsession *ws, const struct snap_list *now, const struct nsnap *c)
{
	unsigned ev = events_for(ws->notify, c->name, c->attrs) |
		      events_for(ws->notify, c->from->name, c->from->attrs);

	if ((ev & NE_MAILBOX_NAME) && !rename_carried(now, c))
		list_write_renamed(&ws->s, c->name, c->attrs, c->from->name);
}

/* Merge the old and the new snapshot (both sorted), telling differences. */
static void snap_compare(struct wsession *ws, struct snap_list *now)
{
	struct notify *n = ws->notify;
	size_t i = 0, j = 0;

	snap_pair_renames(n, now);
	while (i < n->nsnap || j < now->n) {
		int c = i == n->nsnap ? 1 : j == now->n ? -1
						      : strcmp(n->snap[i].name, now->v[j].name);
		if (c < 0 && n->snap[i].renamed)
			i++;                 /* told with its new name */
		else if (c < 0)
			tell_one(ws, &n->snap[i++], NULL);
		else if (c > 0 && now->v[j].from)
			tell_renamed(ws, now, &now->v[j++]);
		else if (c > 0)
			tell_one(ws, NULL, &now->v[j++]);
		else
			tell_one(ws, &n->snap[i++], &now->v[j++]);
	}
}

static void snap_replace(struct notify *n, struct snap_list *l)
{
	snap_free(n->snap, n->nsnap);
	n->snap = l->v;
	n->nsnap = l->n;
}

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
	if (snap_take(ws, &now) < 0)
		return;
	snap_compare(ws, &now);
	snap_replace(n, &now);
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
	if (ws->notify)
		overflowed(ws);
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
	}
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
	snap_free(n->snap, n->nsnap);
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
		unsigned ev = events_for(n, e->name, e->attrs) & NE_MESSAGE_EVENTS;
		if (ev && e->have_status && !is_selected_mailbox(ws, e->name))
			tell_status(ws, e->name, status_items_for(ws, ev), &e->st);
	}
}

static int notify_start(struct wsession *ws, const struct imap_cmd *cmd,
			const struct notify_spec *sp)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	struct snap_list now;
	const char *err;

	n->a = arena_new();
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
	if (snap_take(ws, &now) == 0)
		snap_replace(n, &now);
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
