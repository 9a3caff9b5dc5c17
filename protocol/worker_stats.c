/* What this worker's sessions did, for the metrics endpoint: per IMAP
 * command a count and the time its handler took (a histogram), and the
 * bytes read from and written to clients. Sent to the master
 * (MSG_WORKER_STATS) at most every STATS_EVERY_S seconds while there is
 * something new, and before the worker exits; the master adds them up. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_worker.h"
#include "../lib/stats.h"
#include "worker.h"

#define STATS_EVERY_S 5
/* Distinct command names kept (the command table has fewer). */
#define STATS_MAX_CMDS 64

static struct stats_cmd cmds[STATS_MAX_CMDS];
static size_t ncmds;
static uint64_t bytes_in, bytes_out;
static int dirty;
static struct event *flush_ev;

static struct stats_cmd *cmd_slot(const char *name)
{
	for (size_t i = 0; i < ncmds; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	if (ncmds == STATS_MAX_CMDS)
		return NULL;
	snprintf(cmds[ncmds].name, sizeof(cmds[ncmds].name), "%s", name);
	return &cmds[ncmds++];
}

static void arm(void)
{
	struct timeval tv = { STATS_EVERY_S, 0 };

	dirty = 1;
	if (flush_ev && !evtimer_pending(flush_ev, NULL))
		evtimer_add(flush_ev, &tv);
}

void worker_stats_command(const char *name, uint64_t usec)
{
	struct stats_cmd *c = cmd_slot(name);

	if (c)
		stats_cmd_add(c, usec);
	arm();
}

static void count_in(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct wsession *ws = arg;

	bytes_in += info->n_added;
	ws->bytes_in += info->n_added;
}

static void count_out(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct wsession *ws = arg;

	bytes_out += info->n_deleted;
	ws->bytes_out += info->n_deleted;
	if (info->n_deleted)
		arm();
}

void worker_stats_watch(struct wsession *ws, struct bufferevent *bev)
{
	evbuffer_add_cb(bufferevent_get_input(bev), count_in, ws);
	evbuffer_add_cb(bufferevent_get_output(bev), count_out, ws);
}

void worker_stats_flush(void)
{
	struct ipc_out o;

	if (!dirty)
		return;
	ipc_out_init(&o, MSG_WORKER_STATS, 0);
	ipc_put_u64(&o, bytes_in);
	ipc_put_u64(&o, bytes_out);
	ipc_put_u32(&o, (uint32_t)ncmds);
	for (size_t i = 0; i < ncmds; i++) {
		ipc_put_str(&o, cmds[i].name);
		ipc_put_u64(&o, cmds[i].count);
		ipc_put_u64(&o, cmds[i].usec);
		for (unsigned b = 0; b < STATS_BUCKETS; b++)
			ipc_put_u64(&o, cmds[i].bucket[b]);
	}
	if (ipc_send(CHILD_FD_MASTER, &o, -1) < 0)
		log_debug("statistics to the master: lost");
	ipc_out_free(&o);
	memset(cmds, 0, sizeof(cmds));
	ncmds = 0;
	bytes_in = bytes_out = 0;
	dirty = 0;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	worker_stats_flush();
}

void worker_stats_init(struct event_base *base)
{
	flush_ev = evtimer_new(base, on_flush, NULL);
}

void worker_stats_free(void)
{
	if (flush_ev)
		event_free(flush_ev);
	flush_ev = NULL;
}
