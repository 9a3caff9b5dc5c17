/* IMAP ENVELOPE (RFC 9051 7.5.2) of a message-level part. String fields
 * are the unfolded header values, not decoded (IMAP sends header text as
 * written). Sender and Reply-To default to From when absent or empty
 * (RFC 3501 7.4.2). When a field occurs more than once the last one is
 * used, as Dovecot does. */
#include <string.h>

#include "mail_private.h"

enum env_field {
	E_DATE, E_SUBJECT, E_FROM, E_SENDER, E_REPLY_TO, E_TO, E_CC, E_BCC,
	E_IN_REPLY_TO, E_MESSAGE_ID, E_COUNT
};

static const char *const env_names[E_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc",
	"In-Reply-To", "Message-ID"
};

struct env_value {
	const char *v;           /* folded value in the message, NULL if absent */
	size_t len;
};

static void write_addr_field(struct buf *out, struct arena *a, const struct env_value *ev)
{
	char *u;
	size_t ul;

	if (ev->v == NULL) {
		buf_append_str(out, "NIL");
		return;
	}
	u = mail_unfold(a, ev->v, ev->len, &ul);
	mail_write_addresses(out, a, u, ul);
}

/* An address field that yields no address ("Sender:" with nothing in it)
 * counts as absent for the From default. */
static int addr_field_empty(struct arena *a, const struct env_value *ev)
{
	struct buf tmp = BUF_INIT;
	int empty;

	if (ev->v == NULL)
		return 1;
	write_addr_field(&tmp, a, ev);
	empty = strcmp(tmp.data, "NIL") == 0;
	buf_free(&tmp);
	return empty;
}

void mail_write_envelope(struct buf *out, const struct mail_message *m,
			 const struct mail_part *msgpart)
{
	struct env_value ev[E_COUNT];
	struct mail_field_iter it;
	struct mail_field f;
	struct arena *a = arena_new();
	int i;

	memset(ev, 0, sizeof(ev));
	/* The message's bytes, or (parsed in pieces) the header it kept. */
	if (m->data)
		mail_field_iter_init(&it, m->data + msgpart->hdr_off, msgpart->hdr_len);
	else
		mail_field_iter_init(&it, msgpart->hdr_data ? msgpart->hdr_data : "",
				     msgpart->hdr_data ? msgpart->hdr_data_len : 0);
	while (mail_field_next(&it, &f)) {
		for (i = 0; i < E_COUNT; i++) {
			if (mail_name_eq(f.name, f.name_len, env_names[i])) {
				ev[i].v = f.value;
				ev[i].len = f.value_len;
				break;
			}
		}
	}
	buf_append_byte(out, '(');
	for (i = 0; i < E_COUNT; i++) {
		const struct env_value *src = &ev[i];
		if (i > 0)
			buf_append_byte(out, ' ');
		switch (i) {
		case E_DATE: case E_SUBJECT: case E_IN_REPLY_TO: case E_MESSAGE_ID:
			if (src->v == NULL) {
				buf_append_str(out, "NIL");
			} else {
				size_t ul;
				char *u = mail_unfold(a, src->v, src->len, &ul);
				mail_imap_nstring(out, u, ul);
			}
			break;
		case E_SENDER: case E_REPLY_TO:
			if (addr_field_empty(a, src))
				src = &ev[E_FROM];
			write_addr_field(out, a, src);
			break;
		default:
			write_addr_field(out, a, src);
			break;
		}
	}
	buf_append_byte(out, ')');
	arena_free(a);
}
