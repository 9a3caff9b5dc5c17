/* REPLACE and UID REPLACE (RFC 8508): APPEND a message, then remove one
 * of the selected mailbox, as one action for the client.
 *
 * The new message goes through APPEND's machinery (cmd_append.c: checked
 * before the literal is sent, streamed to the store, stored at the end
 * with APPENDUID). Only once it is stored does the old one go: \Deleted
 * added and that one UID expunged, the order RFC 8508 section 3.4 gives.
 * A failure before that leaves both mailboxes as they were, and no
 * EXPUNGE is sent until everything succeeded. The two steps are two
 * changes of the store, not one: a worker killed between them leaves the
 * new message stored and the old one still there (nothing is lost), which
 * a client that retries replaces again. The new message may be a
 * CATENATE (RFC 8508 section 4 allows it). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker.h"

/* A message number or UID (nz-number); 0 when arg is not one. */
static uint32_t replace_number(const struct imap_arg *arg)
{
	unsigned long v;
	char *end;

	if (arg->type != IMAP_ARG_ATOM || arg->str[0] < '1' || arg->str[0] > '9')
		return 0;
	v = strtoul(arg->str, &end, 10);
	return *end == '\0' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* The UID of the message the command names (first argument); 0 when it
 * was answered: a bad number is BAD, a UID not in the view NO. */
static uint32_t replace_target(struct session *s, const struct imap_cmd *cmd, int by_uid)
{
	struct wsession *ws = wsession_of(s);
	uint32_t n = cmd->nargs > 0 ? replace_number(&cmd->args[0]) : 0;

	if (ws->readonly) {
		session_tagged(s, cmd->tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return 0;
	}
	if (n == 0 || (!by_uid && n > mailbox_count(ws->mb))) {
		session_tagged(s, cmd->tag, "BAD", NULL, "Invalid message %s",
			       by_uid ? "UID" : "sequence number");
		return 0;
	}
	if (by_uid && mailbox_uid_to_seq(ws->mb, n) == 0) {
		session_tagged(s, cmd->tag, "NO", "NONEXISTENT", "No message with that UID");
		return 0;
	}
	return by_uid ? n : mailbox_uid(ws->mb, n);
}

/* The literal of [UID] REPLACE: cmd's arguments from the message number
 * on (UID's sub-command name already skipped). */
static enum literal_action replace_start(struct session *s, const struct imap_cmd *cmd,
					 const struct imap_literal *lit, int by_uid)
{
	struct imap_cmd rest = *cmd;
	uint32_t uid;

	if (cmd->nargs < 2 || cmd->literal == &cmd->args[0]) {
		session_tagged(s, cmd->tag, "BAD", NULL, "REPLACE expects a message number first");
		return LIT_REFUSED;
	}
	if (cmd->literal == &cmd->args[1])
		return LIT_READ;   /* the mailbox name as a literal */
	if ((uid = replace_target(s, cmd, by_uid)) == 0)
		return LIT_REFUSED;
	rest.args++;
	rest.nargs--;
	return append_start(s, &rest, lit, uid);
}

enum literal_action replace_literal(struct session *s, const struct imap_cmd *cmd,
				    const struct imap_literal *lit)
{
	if (cmd == NULL)
		return append_literal(s, NULL, lit);   /* a second message: refused there */
	return replace_start(s, cmd, lit, 0);
}

/* UID's literals: UID REPLACE's go as REPLACE's; every other UID command
 * reads its literals into the command. */
enum literal_action uid_literal(struct session *s, const struct imap_cmd *cmd,
				const struct imap_literal *lit)
{
	struct imap_cmd rest;

	if (cmd == NULL)
		return append_literal(s, NULL, lit);
	if (cmd->nargs < 1 || cmd->literal == &cmd->args[0] ||
	    cmd->args[0].type != IMAP_ARG_ATOM || strcasecmp(cmd->args[0].str, "REPLACE") != 0)
		return LIT_READ;
	rest = *cmd;
	rest.args++;
	rest.nargs--;
	return replace_start(s, &rest, lit, 1);
}

/* A complete [UID] REPLACE (UID's sub-command name still first) reaches
 * a handler only without a literal where its message or a TEXT part
 * belongs: a CATENATE of URLs alone, or an error. */
void cmd_replace(struct session *s, const struct imap_cmd *cmd)
{
	struct imap_cmd rest = *cmd;
	int by_uid = strcmp(cmd->name, "UID") == 0;

	if (by_uid) {
		rest.args++;
		rest.nargs--;
	}
	replace_start(s, &rest, NULL, by_uid);
}

void replace_finish(struct session *s, const char *tag, uint32_t uidvalidity, uint32_t newuid,
		    uint32_t olduid)
{
	struct wsession *ws = wsession_of(s);
	struct error err;
	size_t nfailed = 0;
	uint32_t failed;

	session_printf(s, "* OK [APPENDUID %u %u] Replacement Message ready\r\n", uidvalidity,
		       newuid);
	if (mailbox_store_flags(ws->mb, &olduid, 1, STORE_ADD, MF_DELETED, NULL, 0, 0, &failed,
				&nfailed, &err) < 0 ||
	    mailbox_expunge(ws->mb, &olduid, 1, &err) < 0) {
		wsession_sync(ws);
		session_tagged_error(s, tag, &err);
		return;
	}
	wsession_sync(ws);
	notify_own_end(ws);
	session_tagged(s, tag, "OK", NULL, "REPLACE completed");
}
