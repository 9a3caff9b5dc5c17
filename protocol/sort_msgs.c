/* SORT and THREAD: the messages a search finds and what they sort by.
 *
 * The search is SEARCH's own (backend push-down, evaluator; the parse in
 * sort_parse.c is SEARCH's parser too).
 * The keys come ready from the store when it keeps them
 * (mailbox_sort_keys: made once per message, kept across sessions), else
 * from the header fields the store keeps (mailbox_sort_fields: the mbox
 * field cache, References: included), else from the message's header. */
#include <string.h>

#include "../lib/log.h"
#include "sort_msgs.h"

int sort_msgs_search(struct session *s, const struct imap_cmd *cmd, const char *name,
		     enum search_status st, const char *why, struct search_program *prog,
		     uint32_t **seqs, uint32_t **uids, size_t *n)
{
	struct error err;

	switch (st) {
	case SEARCH_OK:
		break;
	case SEARCH_BAD:
		session_tagged(s, cmd->tag, "BAD", NULL, "%s: %s", name, why);
		return -1;
	case SEARCH_LIMIT:
		session_tagged(s, cmd->tag, "BAD", "LIMIT", "%s: %s", name, why);
		return -1;
	case SEARCH_BADCHARSET:
		session_tagged(s, cmd->tag, "NO", "BADCHARSET (UTF-8 US-ASCII)", "%s: %s", name,
			       why);
		return -1;
	}
	if (prog->uses_modseq && condstore_require(wsession_of(s), cmd) < 0)
		return -1;
	if (search_collect(s, prog, name, seqs, uids, n, &err) < 0) {
		session_tagged_error(s, cmd->tag, &err);
		return -1;
	}
	return 0;
}

/* Message uid's header fields into hb: the store's, else its header. */
static int sort_msgs_header(struct mailbox *mb, uint32_t uid, unsigned need, struct buf *hb,
			    size_t *hlen, struct error *err)
{
	int rc = mailbox_sort_fields(mb, uid, hb, err);

	if (rc == 2)
		rc = wsession_read_message(mb, uid, 1, hb, err);
	if (rc == 0 && hb->len > 0)
		mail_header_block(hb->data, hb->len, hlen);
	return rc;
}

/* Message uid's keys into *k: the store's, else made from its header
 * fields. (The worker keeps none between commands: the store's are read
 * faster than a copy kept per session would be filled.) 0, 1 if the
 * message is gone (it then sorts as having no fields), -1 with err. */
static int sort_msgs_key(struct mailbox *mb, uint32_t uid, unsigned need, struct buf *hb,
			 struct arena *a, struct mail_sort_keys *k, struct error *err)
{
	size_t hlen = 0;
	int rc;

	buf_reset(hb);
	rc = mailbox_sort_keys(mb, uid, hb, err);
	if (rc == 0 && mail_sort_keys_decode(a, hb->data, hb->len, k) == 0)
		return 0;
	if (rc == 1 || rc < 0)
		return rc;
	buf_reset(hb);   /* no keys kept (2), or a record we cannot read */
	rc = sort_msgs_header(mb, uid, need, hb, &hlen, err);
	mail_sort_keys_parse(a, rc == 0 ? hb->data : "", rc == 0 ? hlen : 0, k);
	return rc;
}

int sort_msgs_keys(struct session *s, unsigned need, const uint32_t *seqs, size_t *n,
		   struct sort_msg **out, struct error *err)
{
	struct wsession *ws = wsession_of(s);
	struct mailbox *mb = ws->mb;
	struct sort_msg *v = arena_alloc(s->arena, (*n ? *n : 1) * sizeof(*v));
	struct buf hb = BUF_INIT;
	size_t k = 0;
	int rc = 0;

	for (size_t i = 0; i < *n && rc >= 0; i++) {
		const struct msg_meta *m = mailbox_meta(mb, seqs[i]);
		if (m == NULL)
			continue;   /* gone: left out, as SEARCH leaves it out */
		v[k].seq = seqs[i];
		v[k].uid = m->uid;
		v[k].arrival = m->internaldate;
		v[k].size = m->size;
		if (need)
			rc = sort_msgs_key(mb, m->uid, need, &hb, s->arena, &v[k].k, err);
		else   /* nothing needed: sorts as having no fields */
			mail_sort_keys_parse(s->arena, "", 0, &v[k].k);
		if (v[k].k.date == INT64_MIN)
			v[k].k.date = m->internaldate;
		k++;
	}
	if (need) {
		mailbox_sort_keys_done(mb);
		mailbox_sort_fields_done(mb);
	}
	buf_free(&hb);
	*out = v;
	*n = k;
	return rc < 0 ? -1 : 0;
}
