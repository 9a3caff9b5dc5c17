/* Commands valid in every state: CAPABILITY, NOOP, LOGOUT, ID. */
#include <string.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "session.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif

void cmd_capability(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "CAPABILITY takes no arguments");
		return;
	}
	session_printf(s, "* CAPABILITY %s\r\n", s->capability(s));
	session_tagged(s, cmd->tag, "OK", NULL, "Capability completed");
}

void cmd_noop(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "NOOP takes no arguments");
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "NOOP completed");
}

void cmd_logout(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "LOGOUT takes no arguments");
		return;
	}
	session_printf(s, "* BYE Logging out\r\n");
	session_tagged(s, cmd->tag, "OK", NULL, "Logout completed");
	session_close(s);
}

/* RFC 2971: log what the client says about itself (bounded), answer with
 * our name and version. */
void cmd_id(struct session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *a = cmd->nargs == 1 ? &cmd->args[0] : NULL;
	struct buf b = BUF_INIT;

	if (a == NULL || !(imap_arg_is_nil(a) || a->type == IMAP_ARG_LIST)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "ID expects NIL or a list");
		return;
	}
	if (a->type == IMAP_ARG_LIST) {
		if (a->count % 2 != 0 || a->count > 60) {
			session_tagged(s, cmd->tag, "BAD", NULL, "ID expects up to 30 field/value pairs");
			return;
		}
		for (size_t i = 0; i < a->count; i += 2) {
			const struct imap_arg *k = &a->list[i], *v = &a->list[i + 1];
			if (!imap_arg_is_string(k) || !(imap_arg_is_string(v) || imap_arg_is_nil(v)) ||
			    k->len > 30 || v->len > 1024) {
				session_tagged(s, cmd->tag, "BAD", NULL, "Invalid ID field");
				buf_free(&b);
				return;
			}
			buf_printf(&b, "%s%s=%.*s", i ? " " : "", k->str,
				   imap_arg_is_nil(v) ? 3 : (int)v->len, imap_arg_is_nil(v) ? "NIL" : v->str);
		}
		log_info("client ID: %s", b.data);
	}
	buf_free(&b);
	session_printf(s, "* ID (\"name\" \"Haven\" \"version\" \"%s\")\r\n", HAVEN_VERSION);
	session_tagged(s, cmd->tag, "OK", NULL, "ID completed");
}
