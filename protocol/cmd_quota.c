/* QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA.
 *
 * Each user has one quota root, named "" (RFC 9208's own example of a
 * single root; Dovecot names its "User quota"), covering every mailbox of
 * the user, with the resources STORAGE (RFC822.SIZE summed, in units of
 * 1024 octets, rounded down as Dovecot does) and MESSAGE. A resource
 * without a limit is left out of the QUOTA response ("not limited").
 * Limits come from the user's record or the configuration, never from a
 * client: SETQUOTA is refused (NOPERM) and QUOTASET is not offered. */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "worker.h"

#define QUOTA_ROOT ""

/* Is a the name of the user's quota root? */
static int quota_root_arg(const struct imap_arg *a)
{
	return imap_arg_is_astring(a) && a->len == strlen(QUOTA_ROOT) &&
	       memcmp(a->str, QUOTA_ROOT, a->len) == 0;
}

/* "* QUOTA "" (STORAGE u l MESSAGE u l)" from the store, or -1 after a
 * tagged NO. */
static int quota_write(struct session *s, const struct imap_cmd *cmd)
{
	struct store_quota q;
	struct error err;
	struct buf b = BUF_INIT;

	if (store_quota_get(W->store, &q, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return -1;
	}
	buf_append_str(&b, "* QUOTA \"" QUOTA_ROOT "\" (");
	if (q.limit_bytes)
		buf_printf(&b, "STORAGE %llu %llu", (unsigned long long)(q.used_bytes / 1024),
			   (unsigned long long)(q.limit_bytes / 1024));
	if (q.limit_messages)
		buf_printf(&b, "%sMESSAGE %llu %llu", q.limit_bytes ? " " : "",
			   (unsigned long long)q.used_messages, (unsigned long long)q.limit_messages);
	buf_append_str(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
	return 0;
}

void cmd_getquota(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		session_tagged(s, cmd->tag, "BAD", NULL, "GETQUOTA expects a quota root");
		return;
	}
	if (!quota_root_arg(&cmd->args[0])) {
		session_tagged(s, cmd->tag, "NO", "NONEXISTENT", "No such quota root");
		return;
	}
	if (quota_write(s, cmd) == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "GETQUOTA completed");
}

/* Every mailbox of the user, existing or not yet (RFC 9208 4.1.2), is
 * under the one root. */
void cmd_getquotaroot(struct session *s, const struct imap_cmd *cmd)
{
	const char *name, *wire;

	if (cmd->nargs != 1) {
		session_tagged(s, cmd->tag, "BAD", NULL, "GETQUOTAROOT expects a mailbox name");
		return;
	}
	if ((name = mailbox_arg_reply(s, cmd, &cmd->args[0])) == NULL)
		return;
	if ((wire = mailbox_name_out(s, name)) == NULL) {
		session_tagged(s, cmd->tag, "NO", "CANNOT", "Mailbox name cannot be encoded");
		return;
	}
	session_printf(s, "* QUOTAROOT ");
	mailbox_write(s, wire);
	session_printf(s, " \"" QUOTA_ROOT "\"\r\n");
	if (quota_write(s, cmd) == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "GETQUOTAROOT completed");
}

/* setquota-list: "(" [resource-name SP number64 *(SP ...)] ")" */
static int setquota_list_valid(const struct imap_arg *l)
{
	uint64_t v;

	if (l->type != IMAP_ARG_LIST || l->count % 2 != 0)
		return 0;
	for (size_t i = 0; i < l->count; i += 2)
		if (l->list[i].type != IMAP_ARG_ATOM || modseq_arg(&l->list[i + 1], 1, &v) < 0)
			return 0;
	return 1;
}

void cmd_setquota(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    !setquota_list_valid(&cmd->args[1])) {
		session_tagged(s, cmd->tag, "BAD", NULL,
			       "SETQUOTA expects a quota root and a list of resource limits");
		return;
	}
	session_tagged(s, cmd->tag, "NO", "NOPERM",
		       "Quota limits are set by the administrator, not over IMAP");
}
