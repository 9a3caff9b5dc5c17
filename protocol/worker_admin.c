/* haven-admin who and kick, as the master relays them: this worker's
 * sessions (client, since, TLS, selected mailbox) at the moment of the
 * question, and ending them with BYE the way a shutdown does, without
 * the worker going away. */
#include <errno.h>
#include <string.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_worker.h"
#include "worker.h"

/* Room kept in a MSG_WORKER_SESSIONS for one more entry's longest form
 * (remote, mailbox name, the numbers). */
#define WHO_ENTRY_MAX 2048

static void reply(struct ipc_out *o)
{
	if (ipc_send(CHILD_FD_MASTER, o, -1) < 0)
		log_err("answering the master's admin query: %s", strerror(errno));
	ipc_out_free(o);
}

void worker_admin_who(struct ipc_msg *m)
{
	struct ipc_out o, list;
	uint32_t n = 0;

	if (ipc_get_end(m) < 0) {
		log_err("malformed admin query from master");
		return;
	}
	ipc_out_init(&list, 0, 0);
	for (struct wsession *ws = W->sessions; ws; ws = ws->next) {
		if (ws->s.closing)
			continue;  /* said BYE (LOGOUT, kick): flushing its last output */
		if (list.payload.len + WHO_ENTRY_MAX > IPC_MAX_PAYLOAD)
			break;
		ipc_put_str(&list, ws->s.remote);
		ipc_put_u64(&list, (uint64_t)ws->since);
		ipc_put_u32(&list, (uint32_t)ws->s.tls);
		ipc_put_str(&list, ws->mb ? ws->mbname : "");
		n++;
	}
	ipc_out_init(&o, MSG_WORKER_SESSIONS, m->id);
	ipc_put_u32(&o, n);
	buf_append(&o.payload, list.payload.data, list.payload.len);
	ipc_out_free(&list);
	reply(&o);
}

void worker_admin_kick(struct ipc_msg *m)
{
	struct ipc_out o;
	const char *text;

	if (ipc_get_str(m, &text) < 0 || ipc_get_end(m) < 0) {
		log_err("malformed admin query from master");
		return;
	}
	ipc_out_init(&o, MSG_WORKER_KICKED, m->id);
	ipc_put_u32(&o, worker_admin_end_all(text));
	reply(&o);
}

uint32_t worker_admin_end_all(const char *text)
{
	struct wsession *ws = W->sessions, *next;
	uint32_t n = 0;

	for (; ws; ws = next) {
		next = ws->next;
		if (ws->s.closing)
			continue;
		log_set_session(ws->s.sid);
		log_info("session ended by haven-admin kick: user=%s remote=%s", W->user.name,
			 ws->s.remote);
		session_bye(&ws->s, text);
		n++;
	}
	log_set_session(NULL);
	return n;
}
