/* Change notification for selected mailboxes: one inotify instance per
 * store (that is, per user worker), shared by all its sessions' mailboxes.
 *
 * Why one: the kernel limits inotify instances per uid (128 by default),
 * and with virtual users all mail runs under one uid, so an instance per
 * selected mailbox ran out at ~128 IDLE sessions. Watches are cheap
 * (8192 per uid by default) and are counted here, because two sessions
 * watching the same file get the same watch descriptor from the kernel.
 *
 * Readers do not learn which mailbox an event was for: every session
 * waiting on the fd wakes (libevent activates all events on a readable
 * fd at once) and its sync() finds out with one stat() whether its
 * mailbox changed. The first one drains the queue. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_EVENTS (IN_MOVED_TO | IN_CREATE | IN_ONLYDIR)
#define NOTIFY_RETRY_SEC 30

static int store_fd(struct store *st)
{
	if (st->notify >= 0 || time(NULL) < st->notify_retry)
		return st->notify;
	st->notify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st->notify < 0) {
		/* Sessions fall back to polling (cmd_idle) meanwhile; the
		 * per-uid limit may free up, so try again later. */
		if (st->notify_retry == 0)
			log_warn("mbox: inotify_init1: %s (IDLE polls instead; raise "
				 "fs.inotify.max_user_instances if many users share a uid)",
				 strerror(errno));
		st->notify_retry = time(NULL) + NOTIFY_RETRY_SEC;
	}
	return st->notify;
}

static void ref(struct store *st, int wd, int delta)
{
	size_t i;
	if (wd < 0)
		return;
	for (i = 0; i < st->nwatch; i++)
		if (st->watch[i].wd == wd)
			break;
	if (i == st->nwatch) {
		if (delta < 0)
			return;
		st->watch = xreallocarray(st->watch, st->nwatch + 1, sizeof(*st->watch));
		st->watch[st->nwatch].wd = wd;
		st->watch[st->nwatch].refs = 0;
		st->nwatch++;
	}
	st->watch[i].refs += delta;
	if (st->watch[i].refs <= 0) {
		/* Fails harmlessly when the kernel already dropped it (the
		 * file was replaced or removed: IN_IGNORED). */
		inotify_rm_watch(st->notify, wd);
		st->watch[i] = st->watch[--st->nwatch];
	}
}

/* Watch path (again: after a rewrite it is a new inode), swapping the
 * reference held in *wd. */
static void rewatch(struct store *st, int *wd, const char *path, uint32_t mask)
{
	int nwd = inotify_add_watch(st->notify, path, mask | IN_MASK_ADD);
	if (nwd == *wd)
		return;
	ref(st, nwd, +1);
	ref(st, *wd, -1);
	*wd = nwd;
}

int mbox_notify_fd(struct mailbox *mb)
{
	struct store *st = mb->st;
	char *dir, *slash;

	if (mb->watching)
		return st->notify;
	if (store_fd(st) < 0)
		return -1;
	mb->watching = 1;
	slash = strrchr(mb->loc.path, '/');
	dir = slash == mb->loc.path ? xstrdup("/")
				     : xstrndup(mb->loc.path, (size_t)(slash - mb->loc.path));
	rewatch(st, &mb->dir_wd, dir, DIR_EVENTS);
	if (mb->dir_wd < 0)
		log_warn("mbox: inotify on %s: %s", dir, strerror(errno));
	free(dir);
	/* May fail while INBOX does not exist yet; sync() adds it later. */
	rewatch(st, &mb->file_wd, mb->loc.path, FILE_EVENTS | IN_DONT_FOLLOW);
	return st->notify;
}

void mbox_notify_drain(struct mailbox *mb)
{
	struct store *st = mb->st;
	char buf[4096];

	if (!mb->watching)
		return;
	while (read(st->notify, buf, sizeof(buf)) > 0)
		;
	rewatch(st, &mb->file_wd, mb->loc.path, FILE_EVENTS | IN_DONT_FOLLOW);
}

void mbox_notify_release(struct mailbox *mb)
{
	if (!mb->watching)
		return;
	ref(mb->st, mb->file_wd, -1);
	ref(mb->st, mb->dir_wd, -1);
	mb->file_wd = mb->dir_wd = -1;
	mb->watching = 0;
}

void mbox_notify_close(struct store *st)
{
	if (st->notify >= 0)
		close(st->notify);
	st->notify = -1;
	free(st->watch);
	st->watch = NULL;
	st->nwatch = 0;
}
