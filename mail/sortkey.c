/* The sort keys of one message (RFC 5256 section 3, RFC 5957) from the
 * header fields a store keeps or the message's header: one pass over the
 * fields, the first field of each name counting. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "message.h"
#include "msgmeta.h"
#include "search.h"
#include "sort.h"

enum sk_field {
	SKF_DATE, SKF_SUBJECT, SKF_FROM, SKF_TO, SKF_CC, SKF_MSGID, SKF_INREPLYTO, SKF_REFS, SKF_N
};
static const char *const sk_names[SKF_N] = {
	"Date", "Subject", "From", "To", "Cc", "Message-ID", "In-Reply-To", "References",
};

/* The first mailbox of an address list (groups' markers skipped),
 * copied: the walker's strings do not outlive the callback. */
struct first_addr {
	struct arena *a;
	int found;
	struct mail_addr ad;
};

static const char *fa_copy(struct arena *a, const char *s, size_t len)
{
	return s ? arena_strndup(a, s, len) : NULL;
}

static void first_addr_put(void *ctx, const struct mail_addr *ad)
{
	struct first_addr *fa = ctx;
	if (fa->found || ad->kind == MAIL_ADDR_GROUP_END)
		return;
	fa->ad = *ad;
	fa->ad.name = fa_copy(fa->a, ad->name, ad->name_len);
	fa->ad.mailbox = fa_copy(fa->a, ad->mailbox, ad->mailbox_len);
	fa->ad.host = fa_copy(fa->a, ad->host, ad->host_len);
	if (ad->kind == MAIL_ADDR_GROUP_START) {
		/* As in ENVELOPE (RFC 9051 7.5.2), a group's start is an
		 * address whose mailbox is the group's name; Dovecot sorts
		 * by it, for FROM and DISPLAYFROM alike. */
		fa->ad.mailbox = fa->ad.name;
		fa->ad.mailbox_len = ad->name_len;
		fa->ad.host = NULL;
	}
	fa->found = 1;
}

/* A sort key from folded text b: i;unicode-casemap compares titlecase
 * (RFC 5051), so ASCII letters order as capitals ("[" after "Z", as in
 * Dovecot), not as the lower case SEARCH's folding gives. */
static const char *sk_key(struct arena *a, const struct buf *b)
{
	char *r = arena_alloc(a, b->len + 1);

	for (size_t i = 0; i < b->len; i++)
		r[i] = b->data[i] >= 'a' && b->data[i] <= 'z' ? (char)(b->data[i] - 32) : b->data[i];
	r[b->len] = '\0';
	return r;
}

static const char *sk_fold(struct arena *a, const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	const char *r;

	search_fold(s, len, &b);
	r = sk_key(a, &b);
	buf_free(&b);
	return r;
}

/* FROM/TO/CC: the local part; DISPLAY*: the decoded display name, or the
 * addr-spec when there is none (RFC 5957 section 3). */
static void sk_addr(struct arena *a, const char *v, size_t len, const char **local,
		    const char **display)
{
	struct first_addr fa = { .a = a };
	struct buf spec = BUF_INIT;

	mail_addresses_walk(a, v, len, first_addr_put, &fa);
	if (!fa.found)
		return;
	*local = sk_fold(a, fa.ad.mailbox ? fa.ad.mailbox : "", fa.ad.mailbox_len);
	if (fa.ad.name && fa.ad.name_len > 0) {
		const char *n = mail_decode_words(a, fa.ad.name, fa.ad.name_len);
		*display = sk_fold(a, n, strlen(n));
		if (**display)
			return;
	}
	if (fa.ad.mailbox)
		buf_append(&spec, fa.ad.mailbox, fa.ad.mailbox_len);
	if (fa.ad.host) {
		buf_append(&spec, "@", 1);
		buf_append(&spec, fa.ad.host, fa.ad.host_len);
	}
	*display = sk_fold(a, spec.data ? spec.data : "", spec.len);
	buf_free(&spec);
}

static const char *sk_subject(struct arena *a, const char *v, size_t len, int *reply)
{
	struct buf b = BUF_INIT;
	const char *r;

	*reply = mail_base_subject(a, v, len, &b);
	r = sk_key(a, &b);
	buf_free(&b);
	return r;
}

static void sk_set(struct arena *a, struct mail_sort_keys *k, enum sk_field f, const char *v,
		   size_t len)
{
	int zone;
	const char *unused = "";
	struct buf id = BUF_INIT;

	switch (f) {
	case SKF_DATE:
		if (mail_parse_date(v, len, &k->date, &zone) < 0)
			k->date = INT64_MIN;
		break;
	case SKF_SUBJECT:
		k->subject = sk_subject(a, v, len, &k->subject_reply);
		break;
	case SKF_FROM:
		sk_addr(a, v, len, &k->from, &k->dfrom);
		break;
	case SKF_TO:
		sk_addr(a, v, len, &k->to, &k->dto);
		break;
	case SKF_CC:
		sk_addr(a, v, len, &k->cc, &unused);
		break;
	case SKF_MSGID:
	case SKF_INREPLYTO:
		if (mail_msgid_next(&v, v + len, &id) && id.len)
			*(f == SKF_MSGID ? &k->msgid : &k->inreplyto) =
				arena_strndup(a, id.data, id.len);
		buf_free(&id);
		break;
	case SKF_REFS:
		k->references = arena_strndup(a, v, len);
		k->references_len = len;
		break;
	case SKF_N:
		break;
	}
}

void mail_sort_keys_parse(struct arena *a, const char *hdr, size_t len,
			  struct mail_sort_keys *k)
{
	const char *p = hdr, *end = hdr + len;
	struct mail_hfield f;
	unsigned seen = 0;

	memset(k, 0, sizeof(*k));
	k->date = INT64_MIN;
	k->subject = k->from = k->to = k->cc = k->dfrom = k->dto = k->msgid = k->inreplyto = "";
	k->references = "";
	while (mail_hfield_next(&p, end, &f)) {
		for (unsigned i = 0; i < SKF_N; i++) {
			if (seen & (1u << i) || strlen(sk_names[i]) != f.name_len ||
			    strncasecmp(sk_names[i], f.name, f.name_len) != 0)
				continue;
			seen |= 1u << i;
			sk_set(a, k, i, f.value, f.value_len);
		}
	}
}

int mail_msgid_next(const char **p, const char *end, struct buf *out)
{
	const char *s = *p;
	size_t start = out->len;

	for (;;) {
		while (s < end && *s != '<')
			s++;
		if (s >= end) {
			*p = end;
			return 0;
		}
		for (s++; s < end && *s != '>'; s++) {
			if (*s == '\\' && s + 1 < end)
				s++;
			else if (*s == '"' || *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
				continue;
			buf_append(out, s, 1);
		}
		if (s >= end) {   /* unterminated: no msg-id */
			out->len = start;
			*p = end;
			return 0;
		}
		s++;
		if (out->len > start) {
			*p = s;
			return 1;
		}
	}
}

int mail_thread_field(const char *name, size_t len)
{
	return len == 10 && strncasecmp(name, "References", 10) == 0;
}

void mail_sort_fields_extract(const char *msg, size_t len, struct buf *out)
{
	const char *p = msg, *end = msg + len;
	struct mail_hfield f;
	size_t n = 0;

	/* The same fields, counted the same way, as SEARCH looks at. */
	while (n++ < MAIL_SEARCH_FIELDS_MAX && mail_hfield_next(&p, end, &f)) {
		if (!mail_envelope_field(f.name, f.name_len) && !mail_thread_field(f.name, f.name_len))
			continue;
		buf_append(out, f.name, (size_t)(f.raw_end - f.name));
		if (f.raw_end[-1] != '\n')
			buf_append_str(out, f.raw_end[-1] == '\r' ? "\n" : "\r\n");
	}
}
