/* THREAD and UID THREAD (RFC 5256 section 3): ORDEREDSUBJECT, REFERENCES
 * and REFS. The messages and their keys come from sort_msgs.c (SEARCH's
 * machinery), the threads from mail/thread.c. */
#include <string.h>

#include "../lib/buf.h"
#include "sort_msgs.h"

static const struct {
	const char *name;
	enum mail_thread_alg alg;
	unsigned need;
} thread_algs[] = {
	{ "ORDEREDSUBJECT", MAIL_THREAD_ORDEREDSUBJECT, SORT_NEED_FIELDS },
	{ "REFERENCES", MAIL_THREAD_REFERENCES, SORT_NEED_FIELDS | SORT_NEED_REFS },
	{ "REFS", MAIL_THREAD_REFS, SORT_NEED_FIELDS | SORT_NEED_REFS },
};

static int thread_alg_lookup(const struct imap_arg *a, size_t *idx)
{
	for (size_t i = 0; i < sizeof(thread_algs) / sizeof(thread_algs[0]); i++)
		if (imap_arg_is_atom(a, thread_algs[i].name)) {
			*idx = i;
			return 0;
		}
	return -1;
}

void thread_run(struct session *s, const struct imap_cmd *cmd, int by_uid, size_t argi)
{
	const char *name = by_uid ? "UID THREAD" : "THREAD";
	const struct imap_arg *args = cmd->args + argi;
	size_t nargs = cmd->nargs - argi, n, alg;
	struct search_program prog;
	struct sort_msg *v;
	struct mail_thread_msg *tm;
	uint32_t *seqs, *uids;
	struct buf b = BUF_INIT;
	struct error err;

	if (nargs == 0 || thread_alg_lookup(&args[0], &alg) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: unknown threading algorithm", name);
		return;
	}
	if (nargs >= 2 && imap_arg_is_atom(&args[1], "RETURN")) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: no RETURN options", name);
		return;
	}
	if (sort_msgs_search(s, cmd, name, NULL, args + 1, nargs - 1, &prog, &seqs, &uids, &n) < 0)
		return;
	if (sort_msgs_keys(s, thread_algs[alg].need, seqs, n, &v, &err) < 0) {
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
	mail_thread(s->arena, thread_algs[alg].alg, tm, n, &b);
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
