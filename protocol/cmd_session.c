/* Authenticated-state commands about the session rather than a mailbox:
 * NAMESPACE (RFC 2342) and ENABLE (RFC 5161: IMAP4rev2, UTF8=ACCEPT of RFC 6855). */
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
	static const struct {
		const char *name;   /* upper case, as imap_arg_is_atom wants */
		const char *reply;  /* as the capability is spelled */
		unsigned bit;
	} known[] = {
		{ "IMAP4REV2", "IMAP4rev2", EN_IMAP4REV2 },
		{ "UTF8=ACCEPT", "UTF8=ACCEPT", EN_UTF8 },
		{ "CONDSTORE", "CONDSTORE", EN_CONDSTORE },
		{ "QRESYNC", "QRESYNC", EN_QRESYNC },
	};
	unsigned newly = 0;

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
	/* RFC 5161: unknown names are ignored; ENABLED lists only what this
	 * command turned on. QRESYNC implies CONDSTORE (RFC 7162 3.2.3). */
	for (size_t i = 0; i < cmd->nargs; i++)
		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (imap_arg_is_atom(&cmd->args[i], known[k].name) &&
			    !(s->enabled & known[k].bit))
				newly |= known[k].bit;
	session_printf(s, "* ENABLED");
	for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (newly & known[k].bit)
			session_printf(s, " %s", known[k].reply);
	session_printf(s, "\r\n");
	s->enabled |= newly;
	if (newly & EN_QRESYNC)
		s->enabled |= EN_CONDSTORE;
	session_tagged(s, cmd->tag, "OK", NULL, "ENABLE completed");
}
