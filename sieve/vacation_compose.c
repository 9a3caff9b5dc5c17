/* The vacation reply (RFC 5230 section 5, RFC 3834 section 3): a complete
 * message with CRLF line ends. Values from the script that go into header
 * fields lose their line breaks, so a script cannot add fields; a
 * non-ASCII subject is written as RFC 2047 encoded words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/base64.h"
#include "../lib/hash64.h"
#include "../lib/xmalloc.h"
#include "../mail/message.h"
#include "sieve_private.h"

/* Append s without CR, LF and NUL (header injection). */
static void put_field_text(struct buf *out, const char *s)
{
	for (; *s; s++)
		buf_append_byte(out, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

static int is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* RFC 2047 "B" words of at most 45 bytes of UTF-8 each (60 base64
 * characters, under the 75 a word may have), cut between characters. */
static void put_encoded_words(struct buf *out, const char *s)
{
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t n = len - i < 45 ? len - i : 45;
		while (n < len - i && n > 1 && ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		if (i > 0)
			buf_append_str(out, "\r\n ");
		buf_append_str(out, "=?utf-8?B?");
		base64_encode(s + i, n, out);
		buf_append_str(out, "?=");
		i += n;
	}
}

static void put_subject(struct buf *out, const struct sieve_action *a, const char *orig)
{
	const char *subj = a->subject;
	char *tmp = NULL;

	buf_append_str(out, "Subject: ");
	if (subj == NULL && orig != NULL && *orig)
		subj = tmp = xasprintf("Auto: %s", orig);
	else if (subj == NULL)
		subj = "Automated reply";
	/* The original subject is already in header form (encoded words). */
	if (is_ascii(subj) || tmp != NULL)
		put_field_text(out, subj);
	else
		put_encoded_words(out, subj);
	buf_append_str(out, "\r\n");
	free(tmp);
}

static void put_date(struct buf *out, time_t now)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&now, &tm);
	buf_printf(out, "Date: %s, %d %s %d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday % 7],
		   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		   tm.tm_sec);
}

/* Unique without a random source: what the reply answers, to whom, when. */
static void put_message_id(struct buf *out, const struct sieve_action *a, const char *orig_id,
			   const char *hostname, time_t now)
{
	struct hash64_state h;

	hash64_init(&h, (uint64_t)now);
	hash64_update(&h, a->reply_to, strlen(a->reply_to));
	if (orig_id)
		hash64_update(&h, orig_id, strlen(orig_id) + 1);
	hash64_update(&h, a->reason, strlen(a->reason));
	buf_printf(out, "Message-ID: <sieve.%llx.%016llx@", (unsigned long long)now,
		   (unsigned long long)hash64_final(&h));
	put_field_text(out, hostname);
	buf_append_str(out, ">\r\n");
}

static void put_threading(struct buf *out, const char *id, const char *refs)
{
	if (id == NULL)
		return;
	buf_append_str(out, "In-Reply-To: ");
	put_field_text(out, id);
	buf_append_str(out, "\r\nReferences: ");
	if (refs != NULL && *refs) {
		put_field_text(out, refs);
		buf_append_str(out, "\r\n ");
	}
	put_field_text(out, id);
	buf_append_str(out, "\r\n");
}

/* s with every line end made CRLF, ending in CRLF. */
static void put_crlf_text(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\r' && s[1] == '\n')
			continue;
		if (*s == '\n' || *s == '\r')
			buf_append_str(out, "\r\n");
		else
			buf_append_byte(out, *s);
	}
	if (out->len < 2 || memcmp(out->data + out->len - 2, "\r\n", 2) != 0)
		buf_append_str(out, "\r\n");
}

static void put_address_field(struct buf *out, const char *name, const char *addr)
{
	buf_printf(out, "%s: ", name);
	if (strchr(addr, '<') != NULL) {
		put_field_text(out, addr);
	} else {
		buf_append_byte(out, '<');
		put_field_text(out, addr);
		buf_append_byte(out, '>');
	}
	buf_append_str(out, "\r\n");
}

int sieve_vacation_compose(const struct sieve_action *a, const struct sieve_msg *m,
			   const char *user_address, const char *hostname,
			   time_t now, struct buf *out, struct error *err)
{
	struct arena *ar;

	if (a->kind != SIEVE_ACT_VACATION || a->reply_to == NULL || *a->reply_to == '\0') {
		error_set(err, ERR_INTERNAL, "not a vacation reply to a sender");
		return -1;
	}
	ar = arena_new();
	const char *id = sv_header_first(ar, m, "Message-ID");
	const char *refs = sv_header_first(ar, m, "References");
	put_address_field(out, "From", a->from ? a->from : user_address);
	put_address_field(out, "To", a->reply_to);
	put_subject(out, a, sv_header_first(ar, m, "Subject"));
	put_threading(out, id, refs);
	put_date(out, now);
	put_message_id(out, a, id, hostname, now);
	buf_append_str(out, "Auto-Submitted: auto-replied (vacation)\r\nMIME-Version: 1.0\r\n");
	if (!a->mime)
		buf_printf(out, "Content-Type: text/plain; charset=utf-8\r\n"
			   "Content-Transfer-Encoding: %s\r\n\r\n", is_ascii(a->reason) ? "7bit" : "8bit");
	put_crlf_text(out, a->reason);
	arena_free(ar);
	return 0;
}
