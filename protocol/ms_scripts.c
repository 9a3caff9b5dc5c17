/* ManageSieve's authenticated state in the user worker (RFC 5804 2.3 to
 * 2.12): the user's scripts through the store's script interface
 * (backend.h store_sieve_*), each script compiled with sieve_compile
 * before it is stored. The store's errors become ManageSieve's response
 * codes through the session dialect (ms_session.c): NONEXISTENT,
 * ALREADYEXISTS, ACTIVE (ERR_INUSE), QUOTA, TRYLATER (the store is down). */
#include <stdlib.h>
#include <string.h>

#include "../sieve/sieve.h"
#include "ms.h"
#include "worker.h"

const char *ms_worker_capability(struct session *s)
{
	static struct buf b;

	buf_reset(&b);
	ms_capability_text(&b, NULL, 0);
	return b.data;
}

/* The arguments are strings (and for HAVESPACE a number): count and
 * types checked in one place. spec: 's' string, 'n' number. */
static int ms_args_ok(struct session *s, const struct imap_cmd *cmd, const char *spec)
{
	size_t n = strlen(spec);
	int ok = cmd->nargs == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = spec[i] == 's' ? imap_arg_is_string(&cmd->args[i])
				    : cmd->args[i].type == IMAP_ARG_ATOM;
	if (!ok)
		session_tagged(s, NULL, "NO", NULL, "%s expects %zu argument%s", cmd->name, n,
			       n == 1 ? "" : "s");
	return ok;
}

/* A name the store would refuse is refused before anything else. */
static int ms_name_ok(struct session *s, const struct imap_arg *a)
{
	struct error err;

	if (memchr(a->str, '\0', a->len) == NULL && store_sieve_name_check(a->str, &err) == 0)
		return 1;
	session_tagged(s, NULL, "NO", NULL, "Invalid script name");
	return 0;
}

static void ms_answer(struct session *s, int r, const struct error *err, const char *done)
{
	if (r < 0)
		session_tagged_error(s, NULL, err);
	else
		session_tagged(s, NULL, "OK", NULL, "%s", done);
}

/* ---- LISTSCRIPTS ------------------------------------------------------------ */

static void ms_list_cb(void *ctx, const char *name, int active)
{
	struct session *s = ctx;

	ms_write_string(s, name, strlen(name));
	session_printf(s, "%s\r\n", active ? " ACTIVE" : "");
}

static void ms_cmd_listscripts(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;

	if (!ms_args_ok(s, cmd, ""))
		return;
	ms_answer(s, store_sieve_list(W->store, ms_list_cb, s, &err), &err, "Listscripts completed");
}

/* ---- space: HAVESPACE, and PUTSCRIPT before it stores ---------------------- */

struct ms_count {
	const char *name;
	size_t n;
	int exists;
};

static void ms_count_cb(void *ctx, const char *name, int active)
{
	struct ms_count *c = ctx;

	c->n++;
	c->exists |= strcmp(name, c->name) == 0;
}

/* Room for a script of size bytes named name: 0, or -1 answered. */
static int ms_space_ok(struct session *s, const char *name, unsigned long long size)
{
	struct ms_count c = { name, 0, 0 };
	struct error err;

	if (size > (unsigned long long)W->cfg.sieve_max_script_size) {
		session_tagged(s, NULL, "NO", "QUOTA/MAXSIZE", "Script larger than %ld bytes",
			       W->cfg.sieve_max_script_size);
		return -1;
	}
	if (store_sieve_list(W->store, ms_count_cb, &c, &err) < 0) {
		session_tagged_error(s, NULL, &err);
		return -1;
	}
	if (!c.exists && c.n >= (size_t)W->cfg.sieve_max_scripts) {
		session_tagged(s, NULL, "NO", "QUOTA/MAXSCRIPTS", "No more than %ld scripts",
			       W->cfg.sieve_max_scripts);
		return -1;
	}
	return 0;
}

static void ms_cmd_havespace(struct session *s, const struct imap_cmd *cmd)
{
	if (!ms_args_ok(s, cmd, "sn") || !ms_name_ok(s, &cmd->args[0]))
		return;
	if (ms_space_ok(s, cmd->args[0].str, strtoull(cmd->args[1].str, NULL, 10)) == 0)
		session_tagged(s, NULL, "OK", NULL, "Putscript would succeed");
}

/* ---- PUTSCRIPT, CHECKSCRIPT, GETSCRIPT ------------------------------------- */

/* Compile the script: 0, or -1 answered with the compiler's message. */
static int ms_compile_ok(struct session *s, const struct imap_arg *script)
{
	struct sieve_script *compiled;
	struct error err;

	if (sieve_compile(script->str, script->len, &compiled, &err) < 0) {
		session_tagged(s, NULL, "NO", NULL, "%s", err.msg);
		return -1;
	}
	sieve_script_free(compiled);
	return 0;
}

static void ms_cmd_putscript(struct session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *script = &cmd->args[1];
	struct error err;

	if (!ms_args_ok(s, cmd, "ss") || !ms_name_ok(s, &cmd->args[0]) ||
	    ms_space_ok(s, cmd->args[0].str, script->len) < 0 || ms_compile_ok(s, script) < 0)
		return;
	ms_answer(s, store_sieve_put(W->store, cmd->args[0].str, script->str, script->len, &err),
		  &err, "Putscript completed");
}

static void ms_cmd_checkscript(struct session *s, const struct imap_cmd *cmd)
{
	if (ms_args_ok(s, cmd, "s") && ms_compile_ok(s, &cmd->args[0]) == 0)
		session_tagged(s, NULL, "OK", NULL, "Script is valid");
}

static void ms_cmd_getscript(struct session *s, const struct imap_cmd *cmd)
{
	struct buf text = BUF_INIT;
	struct error err;

	if (!ms_args_ok(s, cmd, "s") || !ms_name_ok(s, &cmd->args[0]))
		return;
	if (store_sieve_get(W->store, cmd->args[0].str, &text, &err) < 0) {
		session_tagged_error(s, NULL, &err);
	} else {
		/* Always a literal: the script's bytes exactly as stored. */
		session_printf(s, "{%zu}\r\n", text.len);
		session_write(s, text.data, text.len);
		session_write(s, "\r\n", 2);
		session_tagged(s, NULL, "OK", NULL, "Getscript completed");
	}
	buf_free(&text);
}

/* ---- SETACTIVE, DELETESCRIPT, RENAMESCRIPT --------------------------------- */

static void ms_cmd_setactive(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *name;

	if (!ms_args_ok(s, cmd, "s"))
		return;
	/* "": no script active (RFC 5804 2.8). */
	name = cmd->args[0].len ? cmd->args[0].str : NULL;
	if (name && !ms_name_ok(s, &cmd->args[0]))
		return;
	ms_answer(s, store_sieve_activate(W->store, name, &err), &err, "Setactive completed");
}

static void ms_cmd_deletescript(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;

	if (!ms_args_ok(s, cmd, "s") || !ms_name_ok(s, &cmd->args[0]))
		return;
	ms_answer(s, store_sieve_delete(W->store, cmd->args[0].str, &err), &err,
		  "Deletescript completed");
}

static void ms_cmd_renamescript(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;

	if (!ms_args_ok(s, cmd, "ss") || !ms_name_ok(s, &cmd->args[0]) ||
	    !ms_name_ok(s, &cmd->args[1]))
		return;
	ms_answer(s, store_sieve_rename(W->store, cmd->args[0].str, cmd->args[1].str, &err), &err,
		  "Renamescript completed");
}

const struct command ms_worker_commands[] = {
	{ "CAPABILITY", ST_AUTHED, ms_cmd_capability, NULL },
	{ "NOOP", ST_AUTHED, ms_cmd_noop, NULL },
	{ "LOGOUT", ST_AUTHED, ms_cmd_logout, NULL },
	{ "LISTSCRIPTS", ST_AUTHED, ms_cmd_listscripts, NULL },
	{ "HAVESPACE", ST_AUTHED, ms_cmd_havespace, NULL },
	{ "PUTSCRIPT", ST_AUTHED, ms_cmd_putscript, NULL },
	{ "CHECKSCRIPT", ST_AUTHED, ms_cmd_checkscript, NULL },
	{ "GETSCRIPT", ST_AUTHED, ms_cmd_getscript, NULL },
	{ "SETACTIVE", ST_AUTHED, ms_cmd_setactive, NULL },
	{ "DELETESCRIPT", ST_AUTHED, ms_cmd_deletescript, NULL },
	{ "RENAMESCRIPT", ST_AUTHED, ms_cmd_renamescript, NULL },
};
const size_t ms_worker_ncommands = sizeof(ms_worker_commands) / sizeof(ms_worker_commands[0]);
