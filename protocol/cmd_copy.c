/* COPY, MOVE and their UID forms (RFC 9051, RFC 6851), answering with
 * COPYUID (RFC 4315) so clients learn the new UIDs without a search. */
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "worker.h"

/* "1:3,7,9:10" from ascending-or-not UIDs, in the given order: COPYUID
 * pairs source and destination sets element by element, so runs are only
 * merged where both stay consecutive. */
static char *uidset_text(struct session *s, const uint32_t *uids, size_t n)
{
	struct buf b = BUF_INIT;
	seqset_write(&b, uids, n);
	char *t = arena_strdup(s->arena, b.data ? b.data : "");
	buf_free(&b);
	return t;
}

void copy_run(struct session *s, const struct imap_cmd *cmd, int by_uid, int move, size_t argi)
{
	struct wsession *ws = wsession_of(s);
	const char *dest;
	uint32_t *uids, *dst, uidvalidity = 0;
	size_t n;
	struct error err;
	const char *what = move ? "MOVE" : "COPY";

	if (cmd->nargs != argi + 2 || cmd->args[argi].type != IMAP_ARG_ATOM ||
	    (dest = mailbox_arg(s, &cmd->args[argi + 1])) == NULL) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s expects a sequence set and a mailbox",
			       what);
		return;
	}
	if (seqset_arg(s, cmd, ws->mb, cmd->args[argi].str, by_uid, &uids, &n) < 0)
		return;
	if (move && ws->readonly) {
		session_tagged(s, cmd->tag, "NO", "READ-ONLY", "Mailbox is read-only");
		return;
	}
	if (n == 0) {
		/* UID COPY/MOVE of UIDs that no longer exist is not an error. */
		session_tagged(s, cmd->tag, "OK", NULL, "%s%s completed, nothing to do",
			       by_uid ? "UID " : "", what);
		return;
	}
	dst = arena_alloc(s->arena, n * sizeof(uint32_t));
	notify_own_begin(ws);
	if (mailbox_copy(ws->mb, uids, n, dest, move, &uidvalidity, dst, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	const char *code = arena_printf(s->arena, "COPYUID %u %s %s", uidvalidity,
					uidset_text(s, uids, n), uidset_text(s, dst, n));
	notify_own_end(ws);
	if (move) {
		/* RFC 6851: COPYUID goes in an untagged OK before the
		 * EXPUNGEs, because the tagged OK comes after them. */
		session_printf(s, "* OK [%s] Moved\r\n", code);
		wsession_sync(ws);
		session_tagged(s, cmd->tag, "OK", NULL, "%sMOVE completed", by_uid ? "UID " : "");
		return;
	}
	session_tagged(s, cmd->tag, "OK", code, "%sCOPY completed", by_uid ? "UID " : "");
}

void cmd_copy(struct session *s, const struct imap_cmd *cmd)
{
	copy_run(s, cmd, 0, strcmp(cmd->name, "MOVE") == 0, 0);
}
