/* The sort-key cache (MBOX_DIR/.haven-index/<hash>.sortkeys): each
 * message's SORT/THREAD keys as mail_sort_keys_encode records, made once
 * from the header-field cache and kept beside it under the same rules
 * (mbox_fields.c: one lineage of the file, the UID on disk, the same
 * RFC822.SIZE; written by temp file + rename when a run ends). A session's
 * first SORT then reads ready keys instead of parsing and folding every
 * message's fields. A record of another key version is made anew. */
#include "../../lib/buf.h"
#include "../../mail/message.h"
#include "../../mail/sort.h"
#include "mbox_private.h"

/* uid's keys from its header fields (mbox_fcache_get's make). */
static int keys_make(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	struct buf hb = BUF_INIT;
	size_t hlen = 0;
	int rc = mbox_header_fields(mb, uid, &hb, err);

	if (rc != 0) {
		buf_free(&hb);
		return rc;
	}
	mail_header_block(hb.data, hb.len, &hlen);
	mail_sort_keys_record(hb.data, hlen, out);
	buf_free(&hb);
	return 0;
}

/* A kept record of another key version is no record: made anew, and the
 * new one replaces it when the run is saved. */
static int keys_current(const struct buf *out, size_t start)
{
	return out->len > start && (unsigned char)out->data[start] == MAIL_SORT_KEYS_VERSION;
}

static const struct mbox_fcache_kind keys_kind = {
	.file = MBOX_SORTKEYS_KIND, .what = "sort keys", .made = "made", .make = keys_make,
};

int mbox_sort_keys(struct mailbox *mb, uint32_t uid, struct buf *out, struct error *err)
{
	size_t start = out->len;
	int rc = mbox_fcache_get(mb, &mb->sortkeys, &keys_kind, uid, out, err);

	if (rc != 0 || keys_current(out, start))
		return rc;
	out->len = start;
	return keys_make(mb, uid, out, err);
}

void mbox_sort_keys_done(struct mailbox *mb)
{
	mbox_fcache_done(mb, mb->sortkeys);
	mbox_header_fields_done(mb);
}
