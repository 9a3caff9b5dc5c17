/* NOTIFY's snapshot (cmd_notify.c): what the client has been told of
 * the store, taken again on each change and compared with the last one.
 * Which mailboxes a group watches, the snapshot itself (the list, STATUS
 * of the mailboxes watched for message events, UIDVALIDITY of those
 * watched for MailboxName), and what a difference is told as: LIST for
 * MailboxName and SubscriptionChange (OLDNAME for a rename), STATUS for
 * message events. */
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "notify.h"

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

unsigned notify_events_for(const struct notify *n, const char *name, unsigned attrs)
{
	unsigned ev = 0;
	for (size_t i = 0; i < n->ngroups; i++)
		if (group_matches(&n->groups[i], name, attrs))
			ev |= n->groups[i].events;
	return ev;
}

/* ---- the snapshot ------------------------------------------------------ */

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

void notify_snap_free(struct nsnap *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

int notify_is_selected(const struct wsession *ws, const char *name)
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

int notify_snap_take(struct wsession *ws, struct snap_list *l)
{
	struct error err;

	memset(l, 0, sizeof(*l));
	if (store_list(W->store, snap_cb, l, &err) < 0) {
		log_warn("NOTIFY: list: %s", err.msg);
		notify_snap_free(l->v, l->n);
		return -1;
	}
	qsort(l->v, l->n, sizeof(*l->v), snap_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct nsnap *e = &l->v[i];
		if (!(notify_events_for(ws->notify, e->name, e->attrs) & NE_MESSAGE_EVENTS) ||
		    (e->attrs & (MA_NOSELECT | MA_NONEXISTENT)))
			continue;
		e->have_status = store_status(W->store, e->name, &e->st, &err) == 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct nsnap *e = &l->v[i];
		if ((notify_events_for(ws->notify, e->name, e->attrs) & NE_MAILBOX_NAME) &&
		    !(e->attrs & (MA_NOSELECT | MA_NONEXISTENT)))
			snap_uidvalidity(ws->notify, e);
	}
	return 0;
}

/* ---- what is told ------------------------------------------------------ */

unsigned notify_status_items(const struct wsession *ws, unsigned ev)
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

void notify_tell_status(struct wsession *ws, const char *name, unsigned items,
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
	unsigned ev = notify_events_for(ws->notify, e->name, e->attrs);
	unsigned was = o ? o->attrs : MA_NONEXISTENT, now = c ? c->attrs : MA_NONEXISTENT;

	if (o)
		ev |= notify_events_for(ws->notify, o->name, o->attrs);
	if (((ev & NE_MAILBOX_NAME) && (was & NAME_ATTRS) != (now & NAME_ATTRS)) ||
	    ((ev & NE_SUBSCRIPTION_CHANGE) && ((was ^ now) & MA_SUBSCRIBED)))
		list_write_attrs(&ws->s, e->name, now);
	if (o && c && o->have_status && c->have_status && !notify_is_selected(ws, e->name)) {
		unsigned changed = status_changed(&o->st, &c->st) & ev;
		if (changed)
			notify_tell_status(ws, e->name, notify_status_items(ws, changed), &c->st);
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
	unsigned ev = notify_events_for(ws->notify, c->name, c->attrs) |
		      notify_events_for(ws->notify, c->from->name, c->from->attrs);

	if ((ev & NE_MAILBOX_NAME) && !rename_carried(now, c))
		list_write_renamed(&ws->s, c->name, c->attrs, c->from->name);
}

/* Merge the old and the new snapshot (both sorted), telling differences. */
void notify_snap_compare(struct wsession *ws, struct snap_list *now)
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

void notify_snap_replace(struct notify *n, struct snap_list *l)
{
	notify_snap_free(n->snap, n->nsnap);
	n->snap = l->v;
	n->nsnap = l->n;
}
