/* NOTIFY's state, shared by cmd_notify.c (the command and delivery) and
 * notify_snap.c (the snapshot and what its differences are told as). */
#ifndef HAVEN_NOTIFY_H
#define HAVEN_NOTIFY_H
#include <stdint.h>

#include "notify_parse.h"
#include "worker.h"

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

struct snap_list {
	struct nsnap *v;
	size_t n, cap;
};

/* The NE_ events n watches on mailbox name (with attributes attrs). */
unsigned notify_events_for(const struct notify *n, const char *name, unsigned attrs);
/* Is name the session's selected mailbox? */
int notify_is_selected(const struct wsession *ws, const char *name);
/* The store now: every mailbox, sorted, with STATUS where message events
 * are watched. -1 when the store cannot say. */
int notify_snap_take(struct wsession *ws, struct snap_list *l);
/* Tell the client what differs between ws's snapshot and now. */
void notify_snap_compare(struct wsession *ws, struct snap_list *now);
/* now becomes ws's snapshot (the old one is freed). */
void notify_snap_replace(struct notify *n, struct snap_list *now);
void notify_snap_free(struct nsnap *v, size_t n);
/* SI_ items of a STATUS telling the events ev (RFC 5465 5.1-5.3). */
unsigned notify_status_items(const struct wsession *ws, unsigned ev);
void notify_tell_status(struct wsession *ws, const char *name, unsigned items,
			const struct mailbox_status *st);

#endif
