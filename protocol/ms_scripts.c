/* ManageSieve's authenticated state in the user worker (RFC 5804 2.3 ff). */
#include "ms.h"
#include "worker.h"

const char *ms_worker_capability(struct session *s)
{
	static struct buf b;

	buf_reset(&b);
	ms_capability_text(&b, NULL, 0);
	return b.data;
}

const struct command ms_worker_commands[] = {
	{ "CAPABILITY", ST_AUTHED, ms_cmd_capability, NULL },
	{ "NOOP", ST_AUTHED, ms_cmd_noop, NULL },
	{ "LOGOUT", ST_AUTHED, ms_cmd_logout, NULL },
};
const size_t ms_worker_ncommands = sizeof(ms_worker_commands) / sizeof(ms_worker_commands[0]);
