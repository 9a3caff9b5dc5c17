/* ACL (RFC 4314): SETACL, DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS.
 *
 * The store keeps the lists and checks every right itself (backend.h,
 * "ACL"); this file parses, and writes what the store answers. Rights go
 * out in the order "lrswipkxtea" with the virtual "c" and "d" after them
 * (RIGHTS=texk). Identifiers are users' logins and "anyone", written as
 * the store keeps them (lower case), except in LISTRIGHTS, which echoes
 * the client's (RFC 4314 3.4). */
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "worker.h"

/* The arguments every ACL command starts with: a mailbox and, for
 * nargs 2 and 3, an identifier. NULL after a tagged BAD/NO. */
static const char *acl_args(struct session *s, const struct imap_cmd *cmd, size_t nargs,
			    const char *usage)
{
	for (size_t i = 0; i < cmd->nargs; i++)
		if (!imap_arg_is_astring(&cmd->args[i]) || strlen(cmd->args[i].str) != cmd->args[i].len)
			nargs = 0;
	if (cmd->nargs != nargs) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", usage);
		return NULL;
	}
	return mailbox_arg_reply(s, cmd, &cmd->args[0]);
}

/* The identifier argument, checked as the store takes it; NULL after a
 * tagged BAD (not an identifier) or NO (one Haven does not keep). */
static const char *acl_identifier(struct session *s, const struct imap_cmd *cmd)
{
	struct error err;
	const char *id = cmd->args[1].str;

	if (store_acl_identifier_check(id, &err) == 0)
		return id;
	if (err.code == ERR_PARSE)
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", err.msg);
	else
		session_tagged_error(s, cmd->tag, &err);
	return NULL;
}

/* "* NAME mailbox" as this client reads names; 0, or -1 after a NO. */
static int acl_untagged(struct session *s, const struct imap_cmd *cmd, const char *name,
			const char *what)
{
	const char *wire = mailbox_name_out(s, name);

	if (wire == NULL) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name cannot be encoded");
		return -1;
	}
	session_printf(s, "* %s ", what);
	mailbox_write(s, wire);
	return 0;
}

static void write_rights(struct session *s, unsigned rights)
{
	char text[ACL_RIGHTS_TEXT];

	if (acl_rights_format(rights, 1, text) == 0)
		session_printf(s, " \"\"");
	else
		session_printf(s, " %s", text);
}

void cmd_setacl(struct session *s, const struct imap_cmd *cmd)
{
	const char *name = acl_args(s, cmd, 3, "SETACL expects a mailbox, an identifier and rights");
	const char *id, *why, *text;
	enum acl_mod mod = ACL_REPLACE;
	unsigned rights;
	struct error err;

	if (name == NULL || (id = acl_identifier(s, cmd)) == NULL)
		return;
	text = cmd->args[2].str;
	if (text[0] == '+' || text[0] == '-')
		mod = *text++ == '+' ? ACL_ADD : ACL_REMOVE;
	if (acl_rights_parse(text, strlen(text), &rights, &why) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
		return;
	}
	if (store_acl_set(W->store, name, id, mod, rights, &err) < 0)
		session_tagged_error(s, cmd->tag, &err);
	else
		session_tagged(s, cmd->tag, "OK", NULL, "SETACL completed");
}

void cmd_deleteacl(struct session *s, const struct imap_cmd *cmd)
{
	const char *name = acl_args(s, cmd, 2, "DELETEACL expects a mailbox and an identifier");
	const char *id;
	struct error err;

	if (name == NULL || (id = acl_identifier(s, cmd)) == NULL)
		return;
	if (store_acl_delete(W->store, name, id, &err) < 0)
		session_tagged_error(s, cmd->tag, &err);
	else
		session_tagged(s, cmd->tag, "OK", NULL, "DELETEACL completed");
}

/* GETACL collects first: nothing is written before the store said yes. */
struct acl_entries {
	struct buf b;
};

static void acl_entry(void *ctx, const char *identifier, unsigned rights)
{
	struct acl_entries *e = ctx;
	char text[ACL_RIGHTS_TEXT];

	acl_rights_format(rights, 1, text);
	buf_append_str(&e->b, identifier);
	buf_append_byte(&e->b, '\0');
	buf_append_str(&e->b, text);
	buf_append_byte(&e->b, '\0');
}

static void write_entries(struct session *s, const struct buf *b)
{
	for (size_t off = 0; off < b->len;) {
		const char *id = b->data + off, *rights = id + strlen(id) + 1;
		session_printf(s, " ");
		session_write_astring(s, id);
		session_printf(s, " %s", rights);
		off = (size_t)(rights - b->data) + strlen(rights) + 1;
	}
}

void cmd_getacl(struct session *s, const struct imap_cmd *cmd)
{
	const char *name = acl_args(s, cmd, 1, "GETACL expects a mailbox");
	struct acl_entries e = { BUF_INIT };
	struct error err;

	if (name == NULL)
		return;
	if (store_acl_list(W->store, name, acl_entry, &e, &err) < 0)
		session_tagged_error(s, cmd->tag, &err);
	else if (acl_untagged(s, cmd, name, "ACL") == 0) {
		write_entries(s, &e.b);
		session_printf(s, "\r\n");
		session_tagged(s, cmd->tag, "OK", NULL, "GETACL completed");
	}
	buf_free(&e.b);
}

/* Whose mailbox name is: the login after "Other Users/", or the user's. */
static int acl_is_owner(const char *name, const char *id)
{
	const char *pre = STORE_ACL_OTHER_PREFIX, *end;
	size_t n = strlen(pre);

	if (strncmp(name, pre, n) != 0)
		return strcasecmp(id, W->user.name) == 0;
	end = strchr(name + n, '/');
	return end && (size_t)(end - name - n) == strlen(id) &&
	       strncasecmp(name + n, id, strlen(id)) == 0;
}

/* The owner has every right, always; anyone else may be given each
 * right alone ("c" and "d" stand for their members, so they are given
 * alone too). */
void cmd_listrights(struct session *s, const struct imap_cmd *cmd)
{
	const char *name = acl_args(s, cmd, 2, "LISTRIGHTS expects a mailbox and an identifier");
	const char *id;
	unsigned mine;
	struct error err;

	if (name == NULL || (id = acl_identifier(s, cmd)) == NULL)
		return;
	if (store_acl_myrights(W->store, name, &mine, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (!(mine & ACL_ADMIN)) {
		session_tagged(s, cmd->tag, "NO", "NOPERM", "You lack the \"a\" right on this mailbox");
		return;
	}
	if (acl_untagged(s, cmd, name, "LISTRIGHTS") < 0)
		return;
	session_printf(s, " ");
	session_write_astring(s, id);
	if (acl_is_owner(name, id))
		write_rights(s, ACL_ALL);
	else
		session_printf(s, " \"\" l r s w i p k x t e a c d");
	session_printf(s, "\r\n");
	session_tagged(s, cmd->tag, "OK", NULL, "LISTRIGHTS completed");
}

int acl_myrights_write(struct session *s, const char *name, const char *wire,
		       struct error *err)
{
	unsigned rights;

	if (store_acl_myrights(W->store, name, &rights, err) < 0)
		return -1;
	session_printf(s, "* MYRIGHTS ");
	mailbox_write(s, wire);
	write_rights(s, rights);
	session_printf(s, "\r\n");
	return 0;
}

void cmd_myrights(struct session *s, const struct imap_cmd *cmd)
{
	const char *name = acl_args(s, cmd, 1, "MYRIGHTS expects a mailbox");
	const char *wire;
	struct error err;

	if (name == NULL)
		return;
	if ((wire = mailbox_name_out(s, name)) == NULL) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name cannot be encoded");
		return;
	}
	if (acl_myrights_write(s, name, wire, &err) < 0)
		session_tagged_error(s, cmd->tag, &err);
	else
		session_tagged(s, cmd->tag, "OK", NULL, "MYRIGHTS completed");
}
