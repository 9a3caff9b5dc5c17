/* THREAD and UID THREAD (RFC 5256 section 3): ORDEREDSUBJECT, REFERENCES
 * and REFS. Arguments from sort_parse.c, the messages and their keys
 * from sort_msgs.c (SEARCH's machinery), the threads from mail/thread.c. */
#include <string.h>

#include "../lib/buf.h"
#include "sort_msgs.h"

void thread_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	const char *name = by_uid ? "UID THREAD" : "THREAD", *why = "Invalid arguments";
	struct search_program prog;
	enum mail_thread_alg alg = MAIL_THREAD_REFERENCES;
	unsigned need = 0;
	struct sort_msg *v;
	struct mail_thread_msg *tm;
	uint32_t *seqs, *uids;
	size_t n;
	struct buf b = BUF_INIT;
	struct error err;
	enum search_status st = thread_parse(s->arena, cmd->args + argi, cmd->nargs - argi, &alg,
					     &need, &prog, &why);

	if (sort_msgs_search(s, cmd, name, st, why, &prog, &seqs, &uids, &n) < 0)
		return;
	if (sort_msgs_keys(s, need, seqs, &n, &v, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	tm = arena_alloc(s->arena, (n ? n : 1) * sizeof(*tm));
	for (size_t i = 0; i < n; i++) {
		tm[i].id = by_uid ? v[i].uid : v[i].seq;
		tm[i].seq = v[i].seq;
		tm[i].k = &v[i].k;
	}
	buf_append_str(&b, "* THREAD ");
	mail_thread(s->arena, alg, tm, n, &b);
	if (n == 0)
		b.len--;   /* "* THREAD" alone */
	buf_append(&b, "\r\n", 2);
	session_write(s, b.data, b.len);
	buf_free(&b);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", name);
}

void cmd_thread(struct session *s, const struct imap_cmd *cmd)
{
	thread_run(s, cmd, 0, 0);
}
