/* NOTIFY's store watch (backend.h watch_fd, watch_changes): an inotify
 * instance of its own, made only when a session asks (NOTIFY SET), on
 * the INBOX's directory and every directory of the mailbox tree.
 *
 * Its own, not the views' (mbox_notify.c): a view's sync() drains that
 * one and cannot tell which events were for whom, and this watch must
 * tell the mail from the noise. A directory watch reports every file in
 * it, and the store itself makes files when it only reads: dotlocks
 * ("<name>.lock"), its dot files (.uidvalidity, .haven-index/), and a
 * STATUS takes locks. Counting those would make a NOTIFY session that
 * looks at the store wake itself for ever. So only events on mailbox
 * files, the subscriptions and special-use files, and the INBOX file
 * count, and only writes (IN_MODIFY: opening a file to lock it, as a
 * reader does, writes nothing) and names coming and going. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define WATCH_EVENTS \
	(IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)
#define WATCH_RETRY_SEC 30
#define WATCH_DIRS_MAX 4096   /* directories watched; beyond, changes there go unseen */

struct mbox_swatch {
	int fd;
	time_t retry;            /* could not make one: not before this time again */
	uint64_t changes;        /* what watch_changes returns */
	int inbox_wd;            /* the INBOX's directory: only the INBOX file counts */
	int *tree;               /* wds of the mailbox tree's directories */
	size_t ntree;
	int rewalk;              /* a directory appeared: watch the tree again */
};

static int tree_has(const struct mbox_swatch *sw, int wd)
{
	for (size_t i = 0; i < sw->ntree; i++)
		if (sw->tree[i] == wd)
			return 1;
	return 0;
}

static void tree_add(struct mbox_swatch *sw, const char *path)
{
	int wd;

	if (sw->ntree == WATCH_DIRS_MAX)
		return;
	wd = inotify_add_watch(sw->fd, path, WATCH_EVENTS);
	if (wd < 0) {
		log_warn("mbox: inotify on %s: %s", path, strerror(errno));
		return;
	}
	if (tree_has(sw, wd))
		return;
	sw->tree = xreallocarray(sw->tree, sw->ntree + 1, sizeof(int));
	sw->tree[sw->ntree++] = wd;
}

/* The mailbox tree breadth-first from the root: every directory whose
 * name does not begin with '.' (the store's own), no recursion. */
static void tree_walk(struct store *st, struct mbox_swatch *sw)
{
	char **queue = xreallocarray(NULL, 1, sizeof(char *));
	size_t head = 0, tail = 0;

	sw->ntree = 0;
	queue[tail++] = xstrdup(st->root_path);
	while (head < tail) {
		char *dir = queue[head++];
		DIR *d = opendir(dir);
		struct dirent *e;

		tree_add(sw, dir);
		while (d && (e = readdir(d)) != NULL && tail < WATCH_DIRS_MAX) {
			if (e->d_name[0] == '.' || e->d_type != DT_DIR)
				continue;
			queue = xreallocarray(queue, tail + 1, sizeof(char *));
			queue[tail++] = xasprintf("%s/%s", dir, e->d_name);
		}
		if (d)
			closedir(d);
	}
	for (size_t i = 0; i < tail; i++)
		free(queue[i]);
	free(queue);
}

static void watch_all(struct store *st, struct mbox_swatch *sw)
{
	char *slash = strrchr(st->inbox_path, '/');
	char *dir = slash == st->inbox_path
			    ? xstrdup("/")
			    : xstrndup(st->inbox_path, (size_t)(slash - st->inbox_path));

	sw->inbox_wd = inotify_add_watch(sw->fd, dir, WATCH_EVENTS);
	if (sw->inbox_wd < 0)
		log_warn("mbox: inotify on %s: %s", dir, strerror(errno));
	free(dir);
	tree_walk(st, sw);
	sw->rewalk = 0;
}

int mbox_watch_fd(struct store *st)
{
	struct mbox_swatch *sw = st->swatch;

	if (sw == NULL) {
		sw = st->swatch = xcalloc(1, sizeof(*sw));
		sw->fd = -1;
	}
	if (sw->fd >= 0 || time(NULL) < sw->retry)
		return sw->fd;
	sw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sw->fd < 0) {
		log_warn("mbox: inotify_init1 for NOTIFY: %s (raise fs.inotify.max_user_instances)",
			 strerror(errno));
		sw->retry = time(NULL) + WATCH_RETRY_SEC;
		return -1;
	}
	watch_all(st, sw);
	return sw->fd;
}

static int name_is_lock(const char *name)
{
	size_t n = strlen(name);
	return n >= 5 && strcmp(name + n - 5, ".lock") == 0;
}

/* Does this event say the mail may have changed? */
static int event_counts(struct store *st, struct mbox_swatch *sw, const struct inotify_event *ev)
{
	const char *name = ev->len ? ev->name : "";

	if (ev->mask & IN_Q_OVERFLOW) {
		sw->rewalk = 1;
		return 1;
	}
	if (ev->mask & IN_IGNORED)
		return 0;
	if (tree_has(sw, ev->wd)) {
		if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)))
			sw->rewalk = 1;
		if (name[0] == '.')
			return strcmp(name, MBOX_SUBS_FILE) == 0 || strcmp(name, MBOX_SU_FILE) == 0;
		return !name_is_lock(name);
	}
	return ev->wd == sw->inbox_wd && strcmp(name, st->inbox_base) == 0;
}

uint64_t mbox_watch_changes(struct store *st)
{
	struct mbox_swatch *sw = st->swatch;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int changed = 0;

	if (sw == NULL || sw->fd < 0)
		return sw ? sw->changes : 0;
	while ((n = read(sw->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			changed |= event_counts(st, sw, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (sw->rewalk)
		tree_walk(st, sw);
	sw->rewalk = 0;
	sw->changes += changed != 0;
	return sw->changes;
}

void mbox_watch_close(struct store *st)
{
	struct mbox_swatch *sw = st->swatch;

	if (sw == NULL)
		return;
	if (sw->fd >= 0)
		close(sw->fd);
	free(sw->tree);
	free(sw);
	st->swatch = NULL;
}
