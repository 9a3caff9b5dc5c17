/* FETCH SAVEDATE, EMAILID, THREADID and PREVIEW (see fetchext.h). */
#include <string.h>
#include <strings.h>

#include "../mail/imapdate.h"
#include "../mail/message.h"
#include "../mail/preview.h"
#include "fetchext.h"

#define FETCHEXT_CHUNK (64 * 1024)

static const struct {
	const char *name;
	unsigned att;
} ext_atts[] = {
	{ "SAVEDATE", FA_SAVEDATE },
	{ "EMAILID", FA_EMAILID },
	{ "THREADID", FA_THREADID },
	{ "PREVIEW", FA_PREVIEW },
};

int fetchext_att(const char *name, unsigned *atts)
{
	for (size_t i = 0; i < sizeof(ext_atts) / sizeof(ext_atts[0]); i++) {
		if (strcasecmp(name, ext_atts[i].name) == 0) {
			*atts |= ext_atts[i].att;
			return 1;
		}
	}
	return 0;
}

/* LAZY is the only modifier RFC 8970 defines. Previews are made when
 * asked, never queued for later, so LAZY changes nothing here: the RFC
 * lets the server send the preview anyway (it MAY answer NIL, never
 * must). */
const char *fetchext_preview_mods(const struct imap_arg *list)
{
	if (list->count == 0)
		return "Empty PREVIEW modifier list";
	for (size_t i = 0; i < list->count; i++)
		if (!imap_arg_is_atom(&list->list[i], "LAZY"))
			return "Unknown PREVIEW modifier";
	return NULL;
}

/* Read the whole message: hashed for EMAILID, kept in whole for PREVIEW. */
static int read_all(struct msg_stream *stream, struct mail_emailid_state *h, struct buf *keep,
		    struct error *err)
{
	char tmp[FETCHEXT_CHUNK];
	uint64_t off = 0;

	while (off < stream->size) {
		size_t want = stream->size - off > sizeof(tmp) ? sizeof(tmp)
							       : (size_t)(stream->size - off);
		ssize_t r = stream->ops->pread(stream, tmp, want, off);
		if (r <= 0) {
			error_set(err, r == 0 ? ERR_EXPUNGEISSUED : ERR_INTERNAL,
				  "Message data could not be read");
			return -1;
		}
		if (h)
			mail_emailid_update(h, tmp, (size_t)r);
		if (keep)
			buf_append(keep, tmp, (size_t)r);
		off += (uint64_t)r;
	}
	return 0;
}

int fetchext_stored_emailid(struct mailbox *mb, uint32_t uid, struct fetchext_vals *v,
			    struct error *err)
{
	unsigned char sha[32];
	int rc = mailbox_message_sha256(mb, uid, sha, err);

	if (rc == 0)
		mail_emailid_from_sha256(sha, v->emailid);
	return rc < 0 ? -1 : rc == 0;
}

int fetchext_prepare(struct arena *a, unsigned atts, struct msg_stream *stream,
		     struct fetchext_vals *v, struct error *err)
{
	struct mail_emailid_state *h = (atts & FA_EMAILID) ? mail_emailid_begin() : NULL;
	struct buf whole = BUF_INIT, pv = BUF_INIT;
	int rc;

	if (!(atts & FA_EXT_NEEDS_BYTES))
		return 0;
	rc = read_all(stream, h, (atts & FA_PREVIEW) ? &whole : NULL, err);
	if (h)
		mail_emailid_end(h, v->emailid);
	if (rc == 0 && (atts & FA_PREVIEW)) {
		struct mail_limits lim = MAIL_LIMITS_DEFAULT;
		mail_preview(mail_parse(a, whole.data ? whole.data : "", whole.len, &lim), &pv);
		v->preview = arena_strndup(a, pv.data ? pv.data : "", pv.len);
		v->preview_len = pv.len;
	}
	buf_free(&whole);
	buf_free(&pv);
	return rc;
}

void fetchext_write(struct buf *out, unsigned atts, const struct msg_meta *m,
		    const struct fetchext_vals *v, int *sep)
{
	if (atts & FA_SAVEDATE) {
		char d[IMAPDATE_DATETIME_SIZE];
		buf_printf(out, "%sSAVEDATE ", *sep ? " " : "");
		if (m->savedate == 0) {
			buf_append_str(out, "NIL");
		} else {
			imapdate_format_datetime(d, sizeof(d), m->savedate, 0);
			buf_printf(out, "\"%s\"", d);
		}
		*sep = 1;
	}
	if (atts & FA_EMAILID) {
		buf_printf(out, "%sEMAILID (%s)", *sep ? " " : "", v->emailid);
		*sep = 1;
	}
	/* RFC 8474 5.2: no threads are computed, so THREADID is NIL. */
	if (atts & FA_THREADID) {
		buf_printf(out, "%sTHREADID NIL", *sep ? " " : "");
		*sep = 1;
	}
	if (atts & FA_PREVIEW) {
		buf_printf(out, "%sPREVIEW ", *sep ? " " : "");
		mail_preview_write(out, v->preview ? v->preview : "", v->preview_len);
		*sep = 1;
	}
}
