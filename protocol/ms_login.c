/* ManageSieve's not-authenticated state in the login worker: CAPABILITY,
 * NOOP, LOGOUT, STARTTLS and AUTHENTICATE (RFC 5804 2.1, 2.2). The SASL
 * exchange is IMAP's (login_auth.c): the same mechanisms, the same steps
 * to the auth helper through the master, the same limits; only the
 * syntax of the strings differs (the session dialect). */
#include <string.h>

#include "login.h"
#include "ms.h"

const char *ms_login_capability(struct session *s)
{
	static struct buf b;
	char mechs[256];

	login_mechs(mechs, sizeof(mechs));
	buf_reset(&b);
	ms_capability_text(&b, mechs, L->ctx != NULL && !L->tls);
	return b.data;
}

/* The greeting, and again after STARTTLS (RFC 5804 2.2). */
void ms_login_greet(struct session *s)
{
	session_printf(s, "%s", ms_login_capability(s));
	session_tagged(s, NULL, "OK", NULL, "Haven ManageSieve ready");
}

static void ms_cmd_starttls(struct session *s, const struct imap_cmd *cmd)
{
	login_starttls(s, NULL, cmd->nargs);
}

/* AUTHENTICATE "mechanism" ["initial response"] */
static void ms_cmd_authenticate(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs < 1 || cmd->nargs > 2 || !imap_arg_is_string(&cmd->args[0]) ||
	    (cmd->nargs == 2 && !imap_arg_is_string(&cmd->args[1]))) {
		session_tagged(s, NULL, "NO", NULL, "AUTHENTICATE expects a mechanism name string");
		return;
	}
	login_auth_begin(s, "", cmd->args[0].str, cmd->nargs == 2 ? &cmd->args[1] : NULL);
}

const struct command ms_login_commands[] = {
	{ "CAPABILITY", ST_ANY, ms_cmd_capability, NULL },
	{ "NOOP", ST_ANY, ms_cmd_noop, NULL },
	{ "LOGOUT", ST_ANY, ms_cmd_logout, NULL },
	{ "STARTTLS", ST_NOTAUTH, ms_cmd_starttls, NULL },
	{ "AUTHENTICATE", ST_NOTAUTH, ms_cmd_authenticate, NULL },
};
const size_t ms_login_ncommands = sizeof(ms_login_commands) / sizeof(ms_login_commands[0]);
