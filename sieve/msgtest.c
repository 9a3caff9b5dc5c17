/* What the header, address and envelope tests look at: header values
 * unfolded, trimmed and RFC 2047-decoded (RFC 5228 2.4.2.2), addresses as
 * mail/'s ENVELOPE parser reads them, split into the part asked for
 * (RFC 5228 2.7.4, RFC 5233 for :user/:detail). */
#include <string.h>

#include "../mail/message.h"
#include "sieve_private.h"

static int name_listed(const struct mail_hfield *f, const struct sv_str *names, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (sv_ascii_casecmp_n(f->name, f->name_len, names[k].s, names[k].len) == 0)
			return 1;
	return 0;
}

/* The next field named in names; 0 at the end of the header. */
static int next_named(const char **pp, const char *end, unsigned *seen,
		      const struct sv_str *names, size_t n, struct mail_hfield *f)
{
	while (*seen < MAIL_SEARCH_FIELDS_MAX && mail_hfield_next(pp, end, f)) {
		(*seen)++;
		if (name_listed(f, names, n))
			return 1;
	}
	return 0;
}

int sv_header_exists(const struct sieve_msg *m, const char *name, size_t len)
{
	const char *p = m->header, *end = m->header + m->header_len;
	struct sv_str s = { name, len };
	struct mail_hfield f;
	unsigned seen = 0;

	return next_named(&p, end, &seen, &s, 1, &f);
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value with its line breaks removed and outer blanks trimmed. */
static char *unfold(struct arena *a, const char *v, size_t len, size_t *olen)
{
	char *o = arena_alloc(a, len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (v[i] != '\r' && v[i] != '\n')
			o[n++] = v[i];
	size_t s = 0;
	while (s < n && is_blank(o[s]))
		s++;
	while (n > s && is_blank(o[n - 1]))
		n--;
	o[n] = '\0';
	*olen = n - s;
	return o + s;
}

char *sv_header_first(struct arena *a, const struct sieve_msg *m, const char *name)
{
	const char *p = m->header, *end = m->header + m->header_len;
	struct mail_hfield f;
	unsigned seen = 0;

	while (seen++ < MAIL_SEARCH_FIELDS_MAX && mail_hfield_next(&p, end, &f)) {
		if (sv_ascii_casecmp_n(f.name, f.name_len, name, strlen(name)) != 0)
			continue;
		char *v = arena_alloc(a, f.value_len + 1);
		size_t n = 0;
		for (size_t i = 0; i < f.value_len; i++)
			if (f.value[i] != '\r' && f.value[i] != '\n')
				v[n++] = f.value[i];
		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
			n--;
		v[n] = '\0';
		return v;
	}
	return NULL;
}

int sv_header_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *names,
		     size_t nnames, sv_value_cb cb, void *ctx)
{
	const char *p = m->header, *end = m->header + m->header_len;
	struct mail_hfield f;
	unsigned seen = 0;
	int r = 0;

	while (r == 0 && next_named(&p, end, &seen, names, nnames, &f)) {
		size_t ulen;
		char *u = unfold(a, f.value, f.value_len, &ulen);
		char *d = mail_decode_words(a, u, ulen);
		r = cb(ctx, d, strlen(d));
	}
	return r;
}

int sv_address_part(const char *addr, size_t len, enum sv_addrpart part, const char *delim,
		    const char **out, size_t *olen)
{
	const char *at = NULL;
	size_t local;

	for (size_t i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			at = addr + i - 1;
			break;
		}
	local = at ? (size_t)(at - addr) : len;
	*out = addr;
	*olen = part == AP_ALL ? len : local;
	if (part == AP_DOMAIN) {
		*out = at ? at + 1 : addr + len;
		*olen = at ? len - local - 1 : 0;
	} else if (part == AP_USER || part == AP_DETAIL) {
		if (delim == NULL || *delim == '\0')
			delim = "+";
		size_t d = 0;
		while (d < local && strchr(delim, addr[d]) == NULL)
			d++;
		if (part == AP_USER)
			*olen = d;
		else if (d == local)
			return 0;
		else
			*out = addr + d + 1, *olen = local - d - 1;
	}
	return 1;
}

struct addr_walk {
	struct arena *a;
	enum sv_addrpart part;
	const char *delim;
	sv_value_cb cb;
	void *ctx;
	int r;
};

static void addr_one(void *ctx, const struct mail_addr *ad)
{
	struct addr_walk *w = ctx;
	const char *v;
	size_t vlen;

	if (w->r != 0 || ad->kind != MAIL_ADDR_MAILBOX || ad->mailbox == NULL)
		return;
	char *all = ad->host ? arena_printf(w->a, "%.*s@%.*s", (int)ad->mailbox_len, ad->mailbox,
					    (int)ad->host_len, ad->host)
			     : arena_strndup(w->a, ad->mailbox, ad->mailbox_len);
	if (sv_address_part(all, strlen(all), w->part, w->delim, &v, &vlen))
		w->r = w->cb(w->ctx, v, vlen);
}

int sv_address_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *names,
		      size_t nnames, enum sv_addrpart part, sv_value_cb cb, void *ctx)
{
	const char *p = m->header, *end = m->header + m->header_len;
	struct addr_walk w = { a, part, m->delimiter, cb, ctx, 0 };
	struct mail_hfield f;
	unsigned seen = 0;

	while (w.r == 0 && next_named(&p, end, &seen, names, nnames, &f))
		mail_addresses_walk(a, f.value, f.value_len, addr_one, &w);
	return w.r;
}

int sv_envelope_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *parts,
		       size_t nparts, enum sv_addrpart part, sv_value_cb cb, void *ctx)
{
	int r = 0;

	for (size_t k = 0; r == 0 && k < nparts; k++) {
		int from = sv_ascii_casecmp_n(parts[k].s, parts[k].len, "from", 4) == 0;
		const char *addr = from ? m->env_from : m->env_to, *v;
		size_t vlen;
		if (addr == NULL)
			addr = "";
		if (sv_address_part(addr, strlen(addr), part, m->delimiter, &v, &vlen))
			r = cb(ctx, v, vlen);
	}
	return r;
}
