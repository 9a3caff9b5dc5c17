/* Authenticated-state commands about the session rather than a mailbox:
 * NAMESPACE (RFC 2342) and ENABLE (RFC 5161). */
#include <string.h>

#include "worker.h"

void cmd_namespace(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "NAMESPACE takes no arguments");
		return;
	}
	/* One personal namespace, no prefix, '/' as delimiter; no shared or
	 * other-users namespaces yet. */
	session_printf(s, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	session_tagged(s, cmd->tag, "OK", NULL, "NAMESPACE completed");
}

void cmd_enable(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs == 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "ENABLE expects capability names");
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			session_tagged(s, cmd->tag, "BAD", NULL, "ENABLE expects capability names");
			return;
		}
	}
	/* None of the extensions that need enabling (CONDSTORE, QRESYNC,
	 * UTF8=ACCEPT, IMAP4rev2) is offered yet; RFC 5161 says unknown
	 * ones are ignored, so the answer lists nothing. */
	session_printf(s, "* ENABLED\r\n");
	session_tagged(s, cmd->tag, "OK", NULL, "ENABLE completed");
}
