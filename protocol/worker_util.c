/* Helpers shared by the selected-state commands: flags, sequence sets,
 * mailbox-name arguments. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/buf.h"
#include "../mail/keyword.h"
#include "../mail/message.h"
#include "../mail/mutf7.h"
#include "../mail/structure.h"
#include "worker.h"

static const struct {
	const char *name;
	uint32_t bit;
} sysflags[] = {
	{ "\\Seen", MF_SEEN },   { "\\Answered", MF_ANSWERED }, { "\\Flagged", MF_FLAGGED },
	{ "\\Deleted", MF_DELETED }, { "\\Draft", MF_DRAFT },
};
#define NSYSFLAGS (sizeof(sysflags) / sizeof(sysflags[0]))

int flag_system_bit(const char *name, uint32_t *bit)
{
	for (size_t k = 0; k < NSYSFLAGS; k++) {
		if (strcasecmp(name, sysflags[k].name) == 0) {
			*bit = sysflags[k].bit;
			return 0;
		}
	}
	return -1;
}

int flags_parse(struct session *s, const struct imap_arg *list, uint32_t *flags,
		const char ***keywords, size_t *nkeywords, const char **err)
{
	const struct imap_arg *items = list->type == IMAP_ARG_LIST ? list->list : list;
	size_t n = list->type == IMAP_ARG_LIST ? list->count : 1;

	*flags = 0;
	*nkeywords = 0;
	*keywords = arena_alloc(s->arena, (n ? n : 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const struct imap_arg *a = &items[i];
		uint32_t bit;
		if (a->type != IMAP_ARG_ATOM) {
			*err = "Flags must be atoms";
			return -1;
		}
		if (a->str[0] == '\\') {
			/* \Recent cannot be stored; other unknown system
			 * flags are invalid. */
			if (flag_system_bit(a->str, &bit) < 0) {
				*err = "Invalid system flag";
				return -1;
			}
			*flags |= bit;
			continue;
		}
		if (!mail_keyword_valid(a->str, a->len)) {
			*err = imap_arg_is_nil(a) ? "NIL is not a flag" : "Invalid keyword";
			return -1;
		}
		(*keywords)[(*nkeywords)++] = a->str;
	}
	return 0;
}

void flags_write(struct session *s, struct mailbox *mb, const struct msg_meta *m)
{
	const char *const *names;
	size_t nnames = mailbox_keywords(mb, &names);
	int first = 1;

	session_write(s, "(", 1);
	for (size_t k = 0; k < NSYSFLAGS; k++) {
		if (m->flags & sysflags[k].bit) {
			session_printf(s, "%s%s", first ? "" : " ", sysflags[k].name);
			first = 0;
		}
	}
	/* \Recent: per view, and gone in IMAP4rev2 (RFC 9051 E.11). */
	if (m->recent && !(s->enabled & EN_IMAP4REV2)) {
		session_printf(s, "%s\\Recent", first ? "" : " ");
		first = 0;
	}
	for (size_t k = 0; k < m->nkw; k++) {
		if (m->kw[k] < nnames) {
			session_printf(s, "%s%s", first ? "" : " ", names[m->kw[k]]);
			first = 0;
		}
	}
	session_write(s, ")", 1);
}

int seqset_to_uids(struct session *s, struct mailbox *mb, const char *set, int by_uid,
		   uint32_t **uids, size_t *n)
{
	struct seqset ss;
	uint32_t count = mailbox_count(mb);
	size_t cap = 0;

	*uids = NULL;
	*n = 0;
	if (strcmp(set, "$") == 0) {
		/* SEARCHRES: the saved result's UIDs still in the view, whether
		 * the command takes UIDs or sequence numbers. */
		struct wsession *ws = wsession_of(s);
		*uids = arena_alloc(s->arena, (ws->nsaved ? ws->nsaved : 1) * sizeof(uint32_t));
		for (size_t i = 0; i < ws->nsaved; i++)
			if (mailbox_uid_to_seq(mb, ws->saved[i]))
				(*uids)[(*n)++] = ws->saved[i];
		return 0;
	}
	if (seqset_parse(s->arena, set, &ss) < 0)
		return -1;
	if (by_uid) {
		uint32_t maxuid = count ? mailbox_uid(mb, count) : 0;
		seqset_resolve(&ss, maxuid);
		*uids = arena_alloc(s->arena, (count ? count : 1) * sizeof(uint32_t));
		/* Walk ranges and messages together: both ascending. */
		uint32_t seq = 1;
		for (size_t r = 0; r < ss.n && seq <= count; r++) {
			while (seq <= count && mailbox_uid(mb, seq) < ss.r[r].lo)
				seq++;
			while (seq <= count && mailbox_uid(mb, seq) <= ss.r[r].hi)
				(*uids)[(*n)++] = mailbox_uid(mb, seq++);
		}
		return 0;
	}
	for (size_t r = 0; r < ss.n; r++)
		if (ss.r[r].lo != SEQ_STAR && ss.r[r].lo > count && ss.r[r].hi > count &&
		    ss.r[r].hi != SEQ_STAR)
			return -2;  /* names a message that does not exist */
	seqset_resolve(&ss, count);
	for (size_t r = 0; r < ss.n; r++) {
		if (ss.r[r].hi > count)
			return count == 0 ? 0 : -2;
		cap += ss.r[r].hi - ss.r[r].lo + 1;
	}
	*uids = arena_alloc(s->arena, (cap ? cap : 1) * sizeof(uint32_t));
	for (size_t r = 0; r < ss.n; r++)
		for (uint32_t q = ss.r[r].lo; q >= 1 && q <= ss.r[r].hi; q++) {
			(*uids)[(*n)++] = mailbox_uid(mb, q);
			if (q == UINT32_MAX)
				break;
		}
	return 0;
}

int seqset_arg(struct session *s, const struct imap_cmd *cmd, struct mailbox *mb,
	       const char *set, int by_uid, uint32_t **uids, size_t *n)
{
	int rc = seqset_to_uids(s, mb, set, by_uid, uids, n);
	if (rc < 0)
		session_tagged(s, cmd->tag, "BAD", NULL,
			       rc == -2 ? "Invalid message sequence number" : "Invalid sequence set");
	return rc < 0 ? -1 : 0;
}

/* ---- mailbox names -------------------------------------------------------
 * Inside, names are UTF-8. IMAP4rev1 clients write them in modified UTF-7
 * (RFC 3501 5.1.3); after ENABLE IMAP4rev2 or UTF8=ACCEPT they write UTF-8. */

int mailbox_utf8_mode(const struct session *s)
{
	return (s->enabled & (EN_IMAP4REV2 | EN_UTF8)) != 0;
}

const char *mailbox_name_bad_char(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "Mailbox names may not contain control characters";
		/* U+0080..U+009F (C1 controls), U+2028, U+2029: RFC 6855 */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return "Mailbox names may not contain control characters";
		if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			return "Mailbox names may not contain line or paragraph separators";
	}
	return NULL;
}

int mailbox_name_in(struct session *s, const char *str, size_t len, const char **out,
		    const char **why)
{
	struct buf b = BUF_INIT;
	const char *err = NULL;

	if (memchr(str, '\0', len)) {
		*why = "NUL in mailbox name";
		return -1;
	}
	if (mailbox_utf8_mode(s)) {
		if (!mutf7_utf8_valid(str, len)) {
			*why = "Mailbox name is not valid UTF-8";
			return -1;
		}
		*out = str;
		return 0;
	}
	if (mutf7_decode(str, len, &b, &err) < 0) {
		*why = arena_printf(s->arena,
				    "Mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3): %s", err);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)str[i] >= 0x80) {
				*why = "Mailbox name is not valid modified UTF-7 (RFC 3501 5.1.3); "
				       "send 8-bit names only after ENABLE UTF8=ACCEPT";
				break;
			}
		buf_free(&b);
		return -1;
	}
	*out = arena_strndup(s->arena, b.data, b.len);
	buf_free(&b);
	return 0;
}

static const char *canon_inbox(struct session *s, const char *name)
{
	if (strcasecmp(name, "INBOX") == 0)
		return "INBOX";
	if (strncasecmp(name, "INBOX/", 6) == 0) {
		char *n = arena_strdup(s->arena, name);
		memcpy(n, "INBOX", 5);
		return n;
	}
	return name;
}

/* 0 ok; -1 BAD (syntax, encoding) with *why; -2 NO (a forbidden name). */
static int mailbox_arg_check(struct session *s, const struct imap_arg *a, const char **name,
			     const char **why)
{
	const char *n;
	if (!imap_arg_is_astring(a) || a->len == 0) {
		*why = NULL;
		return -1;
	}
	if (a->len > 1024) {
		*why = "Mailbox name too long";
		return -2;
	}
	/* Raw controls are invalid modified UTF-7 too, but what is wrong
	 * is the name, in any encoding. */
	for (size_t i = 0; i < a->len; i++)
		if ((unsigned char)a->str[i] < 0x20 || a->str[i] == 0x7f) {
			*why = "Mailbox names may not contain control characters";
			return a->str[i] == '\0' ? -1 : -2;
		}
	if (mailbox_name_in(s, a->str, a->len, &n, why) < 0)
		return -1;
	if ((*why = mailbox_name_bad_char(n)) != NULL)
		return -2;
	*name = canon_inbox(s, n);
	return 0;
}

const char *mailbox_arg(struct session *s, const struct imap_arg *a)
{
	const char *name, *why;
	return mailbox_arg_check(s, a, &name, &why) == 0 ? name : NULL;
}

const char *mailbox_arg_reply(struct session *s, const struct imap_cmd *cmd,
			      const struct imap_arg *a)
{
	const char *name, *why;
	int rc = mailbox_arg_check(s, a, &name, &why);
	if (rc == 0)
		return name;
	if (rc == -2)
		session_tagged(s, cmd->tag, "NO", "CANNOT", "%s", why);
	else if (why)
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
	else
		session_tagged(s, cmd->tag, "BAD", NULL, "%s expects a mailbox name", cmd->name);
	return NULL;
}

const char *mailbox_name_out(struct session *s, const char *name)
{
	struct buf b = BUF_INIT;
	char *r;
	if (mailbox_utf8_mode(s))
		return mutf7_utf8_valid(name, strlen(name)) ? name : NULL;
	if (mutf7_encode(name, strlen(name), &b) < 0)
		return NULL;
	r = arena_strndup(s->arena, b.data, b.len);
	buf_free(&b);
	return r;
}

void mailbox_write(struct session *s, const char *wire)
{
	size_t n = strlen(wire);
	int quotable = n < 1024;
	/* UTF-8 in quoted strings: RFC 6855 / RFC 9051 QUOTED-CHAR, and only
	 * ever in UTF-8 mode (mailbox_name_out gives ASCII otherwise). */
	for (size_t i = 0; quotable && i < n; i++)
		if (wire[i] == '\r' || wire[i] == '\n')
			quotable = 0;
	if (!quotable) {
		session_write_literal(s, wire, n);
		return;
	}
	session_write(s, "\"", 1);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && wire[j] != '"' && wire[j] != '\\'; j++)
			;
		session_write(s, wire + i, j - i);
		if (j < n) {
			session_write(s, "\\", 1);
			session_write(s, wire + j, 1);
			j++;
		}
	}
	session_write(s, "\"", 1);
}

/* A message's bytes through the backend: the whole message, or (header_only)
 * enough to hold its header. 0 ok, 1 the message is gone (expunged by
 * someone else), -1 error; err says which. */
int wsession_read_message(struct mailbox *mb, uint32_t uid, int header_only, struct buf *out,
			  struct error *err)
{
	struct msg_stream *st;
	char tmp[65536];
	uint64_t off = 0;

	if (mailbox_open_message(mb, uid, &st, err) < 0)
		return err->code == ERR_EXPUNGEISSUED || err->code == ERR_NONEXISTENT ? 1 : -1;
	if (!header_only)
		buf_reserve(out, (size_t)st->size);
	for (;;) {
		ssize_t r = st->ops->pread(st, tmp, sizeof(tmp), off);
		if (r < 0) {
			error_set(err, ERR_INTERNAL, "reading message %u failed", uid);
			st->ops->close(st);
			return -1;
		}
		if (r == 0)
			break;
		size_t from = out->len > 3 ? out->len - 3 : 0;
		buf_append(out, tmp, (size_t)r);
		off += (uint64_t)r;
		if (header_only && (memmem(out->data + from, out->len - from, "\n\r\n", 3) ||
				    memmem(out->data + from, out->len - from, "\n\n", 2)))
			break;
	}
	st->ops->close(st);
	return 0;
}

/* Numbers in the given order as a sequence set, runs of consecutive
 * ascending numbers collapsed: "1:3,5,7:8". */
void seqset_write(struct buf *b, const uint32_t *v, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i)
			buf_append_byte(b, ',');
		if (j == i)
			buf_printf(b, "%u", v[i]);
		else
			buf_printf(b, "%u:%u", v[i], v[j]);
		i = j + 1;
	}
}

/* From the store when it keeps structures, else from one read and parse
 * of the message (whose bytes then serve as the stream). */
int wsession_open_structured(struct mailbox *mb, uint32_t uid, struct arena *a,
			     struct mail_structure **st, struct msg_stream **stream,
			     struct error *err)
{
	struct buf whole = BUF_INIT;
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	int r = mailbox_fetch_structure(mb, uid, a, st, err);

	if (r <= 0)
		return r < 0 ? -1 : mailbox_open_message(mb, uid, stream, err);
	r = wsession_read_message(mb, uid, 0, &whole, err);
	if (r != 0) {
		buf_free(&whole);
		if (r > 0)
			error_set(err, ERR_EXPUNGEISSUED, "Message was expunged");
		return -1;
	}
	size_t len = whole.len;
	char *data = buf_steal(&whole);
	*stream = msg_stream_from_memory(data, len);
	*st = mail_structure_from_message(a, mail_parse(a, data ? data : "", len, &lim));
	return 0;
}
