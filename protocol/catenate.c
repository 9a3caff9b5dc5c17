/* CATENATE (RFC 4469): the parts of a new message that IMAP URLs (RFC
 * 5092) name, in the user's own mailboxes, copied into the message being
 * appended.
 *
 * A URL is resolved through the store like any other access: the mailbox
 * opened read-only (one the user cannot read is a BADURL like one that is
 * not there), the UIDVALIDITY compared, the UID looked up, the section
 * located in the message's structure. The bytes then go from the store's
 * stream to the appender a chunk at a time, so a big referenced message
 * never sits whole in this process on its way (HEADER.FIELDS, generated
 * from the header alone, is the one part built here; what a store's
 * stream holds is its business, and a store that keeps no structures has
 * the message read and parsed for a section, as FETCH does). */
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"
#include "../mail/message.h"
#include "../mail/structure.h"
#include "catenate_parse.h"
#include "worker.h"

#define CAT_CHUNK (64 * 1024)

/* A URL of this session's user: relative, or absolute with the user's
 * own name (the host is not checked: the session knows no name of its
 * own, and a URL reaches only this store whatever host it names). */
static int cat_url_ours(const struct imapurl *u)
{
	return u->host == NULL || (u->user != NULL && u->auth == NULL &&
				   strcmp(u->user, W->user.name) == 0);
}

/* A part number that the message does not have (FETCH answers those
 * empty; a URL to one names nothing). */
static int cat_part_missing(const struct mail_message *m, const char *spec)
{
	size_t n = 0;

	while ((spec[n] >= '0' && spec[n] <= '9') ||
	       (spec[n] == '.' && spec[n + 1] >= '0' && spec[n + 1] <= '9'))
		n++;
	return n > 0 && mail_find_part(m, spec, n) == NULL;
}

/* The range [*off, *off + *len) narrowed to ;PARTIAL=o.l (as FETCH's
 * <o.l>: past the end is empty). */
static void cat_partial(const struct imapurl *u, uint64_t *off, uint64_t *len)
{
	uint64_t o = u->partial_off < *len ? u->partial_off : *len;

	if (!u->partial)
		return;
	*off += o;
	*len -= o;
	if (u->partial_len && u->partial_len < *len)
		*len = u->partial_len;
}

/* Bytes of a stream: [off, off + len) read in chunks, each given to fn. */
typedef int (*cat_chunk_fn)(void *ctx, const char *p, size_t n, struct error *err);

static int cat_read(struct msg_stream *in, uint64_t off, uint64_t len, cat_chunk_fn fn,
		    void *ctx, struct error *err)
{
	char *chunk = xmalloc(CAT_CHUNK);
	int rc = CAT_OK;

	while (len > 0 && rc == CAT_OK) {
		size_t want = len > CAT_CHUNK ? CAT_CHUNK : (size_t)len;
		ssize_t r = in->ops->pread(in, chunk, want, off);
		if (r <= 0) {
			error_set(err, ERR_EXPUNGEISSUED, "Referenced message could not be read");
			rc = CAT_BADURL;
		} else if (fn(ctx, chunk, (size_t)r, err) < 0) {
			rc = CAT_STORE;
		} else {
			off += (uint64_t)r;
			len -= (uint64_t)r;
		}
	}
	free(chunk);
	return rc;
}

static int cat_to_appender(void *ctx, const char *p, size_t n, struct error *err)
{
	return store_append_write(ctx, p, n, err);
}

static int cat_to_buf(void *ctx, const char *p, size_t n, struct error *err)
{
	(void)err;
	buf_append(ctx, p, n);
	return 0;
}

/* Room for len more bytes in the message (RFC 4469 4.2: TOOBIG past the
 * server's limit, APPENDLIMIT, as for a literal that big). */
static int cat_room(struct cat_target *t, uint64_t len)
{
	if (len > t->max || *t->size > t->max - len)
		return CAT_TOOBIG;
	*t->size += len;
	return CAT_OK;
}

/* HEADER.FIELDS[.NOT]: the fields selected of the header at loc (a
 * header, read whole to be filtered), then ;PARTIAL= of those bytes. */
static int cat_fields(struct msg_stream *in, const struct mail_section_loc *loc,
		      const struct imapurl *u, struct cat_target *t, struct error *err)
{
	struct buf hdr = BUF_INIT, gen = BUF_INIT;
	uint64_t off = 0, len;
	int rc = cat_read(in, loc->off, loc->len, cat_to_buf, &hdr, err);

	if (rc == CAT_OK) {
		mail_section_filter(hdr.data ? hdr.data : "", hdr.len, loc, &gen);
		len = gen.len;
		cat_partial(u, &off, &len);
		rc = cat_room(t, len);
	}
	if (rc == CAT_OK && len > 0 && store_append_write(t->ap, gen.data + off, (size_t)len, err) < 0)
		rc = CAT_STORE;
	buf_free(&hdr);
	buf_free(&gen);
	return rc;
}

/* The section the URL names, of the message open in mb. */
static int cat_section(struct mailbox *mb, const struct imapurl *u, struct cat_target *t,
		       struct arena *a, struct error *err)
{
	struct mail_structure *st;
	struct msg_stream *in;
	struct mail_section_loc loc;
	const char *why;
	int rc;

	if (wsession_open_structured(mb, u->uid, a, &st, &in, err) < 0)
		return CAT_BADURL;
	if (mail_section_locate(st->msg, u->section, strlen(u->section), &loc, &why) < 0) {
		in->ops->close(in);
		return CAT_BADURL;
	}
	if (loc.filter == MAIL_SECTION_EMPTY || cat_part_missing(st->msg, u->section)) {
		rc = CAT_BADURL;
	} else if (loc.filter != MAIL_SECTION_RANGE) {
		rc = cat_fields(in, &loc, u, t, err);
	} else {
		cat_partial(u, &loc.off, &loc.len);
		rc = cat_room(t, loc.len);
		if (rc == CAT_OK)
			rc = cat_read(in, loc.off, loc.len, cat_to_appender, t->ap, err);
	}
	mail_section_loc_free(&loc);
	in->ops->close(in);
	return rc;
}

/* The whole message (or ;PARTIAL= of it): no structure needed. */
static int cat_whole(struct mailbox *mb, const struct imapurl *u, struct cat_target *t,
		     struct error *err)
{
	struct msg_stream *in;
	uint64_t off = 0, len;
	int rc;

	if (mailbox_open_message(mb, u->uid, &in, err) < 0)
		return CAT_BADURL;
	len = in->size;
	cat_partial(u, &off, &len);
	rc = cat_room(t, len);
	if (rc == CAT_OK)
		rc = cat_read(in, off, len, cat_to_appender, t->ap, err);
	in->ops->close(in);
	return rc;
}

int catenate_url(const struct cat_part *p, struct cat_target *t, struct arena *a,
		 struct error *err)
{
	const struct imapurl *u = &p->url;
	struct mailbox *mb;
	struct mailbox_status status;
	int rc;

	memset(err, 0, sizeof(*err));
	if (!p->url_ok || !cat_url_ours(u))
		return CAT_BADURL;
	if (mailbox_select(W->store, u->mailbox, 1, &mb, &status, err) < 0)
		return CAT_BADURL;
	if ((u->uidvalidity && u->uidvalidity != status.uidvalidity) ||
	    mailbox_uid_to_seq(mb, u->uid) == 0)
		rc = CAT_BADURL;
	else if (u->section)
		rc = cat_section(mb, u, t, a, err);
	else
		rc = cat_whole(mb, u, t, err);
	mailbox_close(mb);
	return rc;
}

void catenate_reply(struct session *s, const char *tag, int rc, const char *url,
		    const struct error *err)
{
	struct buf code = BUF_INIT;

	if (rc == CAT_TOOBIG) {
		session_tagged(s, tag, "NO", "TOOBIG", "Catenated message too large");
	} else if (rc == CAT_STORE) {
		session_tagged_error(s, tag, err);
	} else {
		/* url-resp-text: TEXT-CHAR except "]" */
		buf_printf(&code, "BADURL ");
		for (const char *p = url; *p; p++)
			buf_printf(&code, "%c", *p == ']' || (unsigned char)*p < 0x20 ? '?' : *p);
		session_tagged(s, tag, "NO", arena_strndup(s->arena, code.data, code.len),
			       "CATENATE cannot use this URL");
	}
	buf_free(&code);
}
