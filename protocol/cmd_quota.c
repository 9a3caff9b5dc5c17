/* QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA.
 *
 * Each user has one quota root, named "" (RFC 9208's own example of a
 * single root; Dovecot names its "User quota"), covering every mailbox of
 * the user, with the resources STORAGE (RFC822.SIZE summed, in units of
 * 1024 octets, rounded down as Dovecot does) and MESSAGE. A resource
 * without a limit is left out of the QUOTA response ("not limited").
 * Limits come from the user's record or the configuration.
 *
 * The logins named by quota_admins also reach the root "user/LOGIN" of
 * every user of the store (RFC 9208's example names "#user/alice"; "#"
 * would start a namespace here, which this is not): GETQUOTA shows it and
 * SETQUOTA replaces its limits in the user's record, through the store
 * (store_quota_set_user). Everyone else's SETQUOTA is refused (NOPERM),
 * and QUOTASET is offered only to an administrator on a store that can
 * set limits: RFC 9208 ties it to a SETQUOTA that works. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "worker.h"

#define QUOTA_ROOT ""

/* Is the session's user one of quota_admins (blank- or comma-separated)? */
static int quota_admin(void)
{
	const char *p = W->cfg.quota_admins, *me = W->user.name;
	size_t mlen = me ? strlen(me) : 0;

	while (p && *p && mlen) {
		size_t n;
		p += strspn(p, " \t,");
		n = strcspn(p, " \t,");
		if (n == mlen && memcmp(p, me, n) == 0)
			return 1;
		p += n;
	}
	return 0;
}

/* QUOTASET (RFC 9208 section 1: offered by a server whose SETQUOTA
 * works): for an administrator, on a store that can set limits. */
int quota_set_offered(void)
{
	return quota_admin() && store_quota_settable(W->store);
}

/* Is a the name of the user's quota root? */
static int quota_root_arg(const struct imap_arg *a)
{
	return imap_arg_is_astring(a) && a->len == strlen(QUOTA_ROOT) &&
	       memcmp(a->str, QUOTA_ROOT, a->len) == 0;
}

#define QUOTA_USER_PREFIX "user/"
#define QUOTA_LOGIN_MAX 255

/* The login of an administrator's root "user/LOGIN", copied into login;
 * NULL when a is no such root (or the user is no administrator). */
static const char *quota_root_user(const struct imap_arg *a, char login[QUOTA_LOGIN_MAX + 1])
{
	size_t plen = strlen(QUOTA_USER_PREFIX), n;

	if (!quota_admin() || !imap_arg_is_astring(a) || a->len <= plen ||
	    a->len - plen > QUOTA_LOGIN_MAX || memcmp(a->str, QUOTA_USER_PREFIX, plen) != 0)
		return NULL;
	n = a->len - plen;
	if (memchr(a->str + plen, '\0', n) != NULL)
		return NULL;
	memcpy(login, a->str + plen, n);
	login[n] = '\0';
	return login;
}

/* "* QUOTA root (STORAGE u l MESSAGE u l)" */
static void quota_send(struct session *s, const char *root, const struct store_quota *q)
{
	struct buf b = BUF_INIT;

	session_printf(s, "* QUOTA ");
	session_write_astring(s, root);
	buf_append_str(&b, " (");
	if (q->limit_bytes)
		buf_printf(&b, "STORAGE %llu %llu", (unsigned long long)(q->used_bytes / 1024),
			   (unsigned long long)(q->limit_bytes / 1024));
	if (q->limit_messages)
		buf_printf(&b, "%sMESSAGE %llu %llu", q->limit_bytes ? " " : "",
			   (unsigned long long)q->used_messages,
			   (unsigned long long)q->limit_messages);
	buf_append_str(&b, ")\r\n");
	session_write(s, b.data, b.len);
	buf_free(&b);
}

/* The QUOTA response of the user's own root (login NULL) or of login's
 * "user/LOGIN", or -1 after a tagged NO. */
static int quota_write(struct session *s, const struct imap_cmd *cmd, const char *login)
{
	struct store_quota q;
	struct error err;
	struct buf root = BUF_INIT;
	int rc = login ? store_quota_get_user(W->store, login, &q, &err)
		       : store_quota_get(W->store, &q, &err);

	if (rc < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return -1;
	}
	if (login)
		buf_printf(&root, QUOTA_USER_PREFIX "%s", login);
	buf_append_byte(&root, '\0');
	quota_send(s, login ? root.data : QUOTA_ROOT, &q);
	buf_free(&root);
	return 0;
}

void cmd_getquota(struct session *s, const struct imap_cmd *cmd)
{
	char lbuf[QUOTA_LOGIN_MAX + 1];
	const char *login;

	if (cmd->nargs != 1 || !imap_arg_is_astring(&cmd->args[0])) {
		session_tagged(s, cmd->tag, "BAD", NULL, "GETQUOTA expects a quota root");
		return;
	}
	if (quota_root_arg(&cmd->args[0]))
		login = NULL;
	else if ((login = quota_root_user(&cmd->args[0], lbuf)) == NULL) {
		session_tagged(s, cmd->tag, "NO", "NONEXISTENT", "No such quota root");
		return;
	}
	if (quota_write(s, cmd, login) == 0)
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
	if (quota_write(s, cmd, NULL) == 0)
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

/* The limits of a valid setquota-list, in bytes and messages (0: none);
 * -1 after a tagged NO for a resource or a value the store cannot keep. */
static int setquota_limits(struct session *s, const struct imap_cmd *cmd,
			   const struct imap_arg *l, uint64_t *bytes, uint64_t *messages)
{
	*bytes = *messages = 0;
	for (size_t i = 0; i < l->count; i += 2) {
		const struct imap_arg *r = &l->list[i];
		uint64_t v;
		(void)modseq_arg(&l->list[i + 1], 1, &v);   /* checked by setquota_list_valid */
		if (v == 0 || v > INT64_MAX / 1024) {
			session_tagged(s, cmd->tag, "NO", "LIMIT", v ? "Limit too large" :
				       "A limit of 0 cannot be kept: leave the resource out for none");
			return -1;
		}
		if (r->len == 7 && strncasecmp(r->str, "STORAGE", 7) == 0)
			*bytes = v * 1024;
		else if (r->len == 7 && strncasecmp(r->str, "MESSAGE", 7) == 0)
			*messages = v;
		else {
			session_tagged(s, cmd->tag, "NO", "CANNOT",
				       "Only STORAGE and MESSAGE can be limited");
			return -1;
		}
	}
	return 0;
}

/* An administrator replaces the limits of user/LOGIN (RFC 9208 4.1.3:
 * a resource left out loses its limit; the configured default applies
 * then) and is shown the root's new QUOTA. */
void cmd_setquota(struct session *s, const struct imap_cmd *cmd)
{
	char lbuf[QUOTA_LOGIN_MAX + 1];
	const char *login;
	uint64_t bytes, messages;
	struct error err;

	if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    !setquota_list_valid(&cmd->args[1])) {
		session_tagged(s, cmd->tag, "BAD", NULL,
			       "SETQUOTA expects a quota root and a list of resource limits");
		return;
	}
	if (!quota_admin()) {
		session_tagged(s, cmd->tag, "NO", "NOPERM",
			       "Quota limits are set by the administrator, not over IMAP");
		return;
	}
	if ((login = quota_root_user(&cmd->args[0], lbuf)) == NULL) {
		session_tagged(s, cmd->tag, "NO", "NONEXISTENT",
			       "No such quota root (an administrator's are user/LOGIN)");
		return;
	}
	if (setquota_limits(s, cmd, &cmd->args[1], &bytes, &messages) < 0)
		return;
	if (store_quota_set_user(W->store, login, bytes, messages, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (quota_write(s, cmd, login) == 0)
		session_tagged(s, cmd->tag, "OK", NULL, "SETQUOTA completed");
}
