/* The ManageSieve dialect of a session: answers as RFC 5804 writes them
 * (OK / NO / BYE, a response code in parentheses, the text as a string),
 * and the commands valid in every state. */
#include <stdio.h>
#include <string.h>

#include "../sieve/sieve.h"
#include "ms.h"
#include "ms_parse.h"

#ifndef HAVEN_VERSION
#define HAVEN_VERSION "dev"
#endif

/* The session's codes are RFC 5530's (IMAP); ManageSieve has its own, and
 * a code it does not define is left out. Its own codes pass as they are. */
static const struct {
	const char *imap, *ms;
} ms_codes[] = {
	{ "PRIVACYREQUIRED", "ENCRYPT-NEEDED" },
	{ "UNAVAILABLE", "TRYLATER" },
	{ "OVERQUOTA", "QUOTA" },
	{ "TOOBIG", "QUOTA/MAXSIZE" },
	{ "INUSE", "ACTIVE" },
	{ "NONEXISTENT", "NONEXISTENT" },
	{ "ALREADYEXISTS", "ALREADYEXISTS" },
	{ "ACTIVE", "ACTIVE" },
	{ "TRYLATER", "TRYLATER" },
	{ "QUOTA", "QUOTA" },
	{ "QUOTA/MAXSIZE", "QUOTA/MAXSIZE" },
	{ "QUOTA/MAXSCRIPTS", "QUOTA/MAXSCRIPTS" },
	{ "WARNINGS", "WARNINGS" },
	{ "ENCRYPT-NEEDED", "ENCRYPT-NEEDED" },
};

static const char *ms_code(const char *code, size_t len)
{
	for (size_t i = 0; i < sizeof(ms_codes) / sizeof(ms_codes[0]); i++)
		if (strlen(ms_codes[i].imap) == len && memcmp(ms_codes[i].imap, code, len) == 0)
			return ms_codes[i].ms;
	return NULL;
}

void ms_write_string(struct session *s, const char *p, size_t n)
{
	int quotable = n <= MS_MAX_QUOTED;

	for (size_t i = 0; quotable && i < n; i++)
		quotable = p[i] != '\r' && p[i] != '\n' && p[i] != '\0';
	if (!quotable) {
		session_printf(s, "{%zu}\r\n", n);
		session_write(s, p, n);
		return;
	}
	session_write(s, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			session_write(s, "\\", 1);
		session_write(s, &p[i], 1);
	}
	session_write(s, "\"", 1);
}

/* Text may carry its code in front, "[CODE] text", as some of the shared
 * answers (a BYE) do. */
static void ms_respond(struct session *s, const char *result, const char *code, const char *text)
{
	const char *ms = code ? ms_code(code, strlen(code)) : NULL;
	const char *close;

	if (code == NULL && text[0] == '[' && (close = strstr(text, "] ")) != NULL) {
		ms = ms_code(text + 1, (size_t)(close - text - 1));
		text = close + 2;
	}
	session_printf(s, "%s", strcmp(result, "BAD") == 0 ? "NO" : result);
	if (ms)
		session_printf(s, " (%s)", ms);
	session_write(s, " ", 1);
	ms_write_string(s, text, strlen(text));
	session_write(s, "\r\n", 2);
}

const struct session_dialect ms_dialect = {
	.parse = ms_parse_command,
	.parse_name = ms_parse_command_name,
	.respond = ms_respond,
};

static void ms_capability_line(struct buf *b, const char *name, const char *value)
{
	buf_printf(b, "\"%s\"", name);
	if (value)
		buf_printf(b, " \"%s\"", value);
	buf_append_str(b, "\r\n");
}

void ms_capability_text(struct buf *b, const char *sasl, int starttls)
{
	ms_capability_line(b, "IMPLEMENTATION", "Haven " HAVEN_VERSION);
	if (sasl)
		ms_capability_line(b, "SASL", sasl);
	ms_capability_line(b, "SIEVE", sieve_extensions());
	if (starttls)
		ms_capability_line(b, "STARTTLS", NULL);
	ms_capability_line(b, "VERSION", "1.0");
}

void ms_cmd_capability(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, NULL, "NO", NULL, "CAPABILITY takes no arguments");
		return;
	}
	session_printf(s, "%s", s->capability(s));
	session_tagged(s, NULL, "OK", NULL, "Capability completed");
}

/* RFC 5804 2.13: NOOP [tag], the tag echoed in a TAG response code. */
void ms_cmd_noop(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs > 1 || (cmd->nargs == 1 && !imap_arg_is_string(&cmd->args[0]))) {
		session_tagged(s, NULL, "NO", NULL, "NOOP takes one optional string");
		return;
	}
	if (cmd->nargs == 0) {
		session_tagged(s, NULL, "OK", NULL, "NOOP completed");
		return;
	}
	session_write(s, "OK (TAG ", 8);
	ms_write_string(s, cmd->args[0].str, cmd->args[0].len);
	session_printf(s, ") \"Done\"\r\n");
}

void ms_cmd_logout(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 0) {
		session_tagged(s, NULL, "NO", NULL, "LOGOUT takes no arguments");
		return;
	}
	session_tagged(s, NULL, "OK", NULL, "Logout completed");
	session_close(s);
}
