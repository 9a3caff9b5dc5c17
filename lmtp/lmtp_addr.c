/* RFC 5321 addresses (section 4.1.2, with RFC 6531's UTF-8 in atoms,
 * quoted strings and domains): the Path of MAIL FROM and RCPT TO turned
 * into the one canonical form the session looks users up by, and a
 * recipient split into user and detail ("user+detail@domain").
 *
 * One quoted-string decoder and one canonical writer serve both, so an
 * address split after parsing is quoted exactly as the parser quoted it. */
#include "lmtp_addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lmtp_parse.h"

/* A bounded output: what does not fit sets over instead of being written,
 * so parsing goes on and a syntax error later in the path still wins
 * over "too long". cap counts the NUL. */
struct addr_out {
	char *s;
	size_t len, cap;
	int over;
};

static void addr_out_init(struct addr_out *o, char *s, size_t cap)
{
	o->s = s;
	o->len = 0;
	o->cap = cap;
	o->over = cap == 0;
	if (cap > 0)
		s[0] = '\0';
}

static void addr_put(struct addr_out *o, const char *p, size_t n)
{
	if (o->over || n >= o->cap - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void addr_put_byte(struct addr_out *o, char c)
{
	addr_put(o, &c, 1);
}

static int addr_is_alnum(unsigned char c)
{
	unsigned char l = c | 0x20;
	return (l >= 'a' && l <= 'z') || (c >= '0' && c <= '9');
}

/* Let-dig of a sub-domain; a UTF-8 octet is part of a U-label (whether
 * the label is valid IDNA is the DNS's business, not the envelope's). */
static int addr_is_letdig(unsigned char c)
{
	return addr_is_alnum(c) || c >= 0x80;
}

/* atext (RFC 5322 3.2.3), and UTF8-non-ascii (RFC 6531 3.3). */
static int addr_is_atext(unsigned char c)
{
	return addr_is_letdig(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Dot-string = Atom *("." Atom): its length at p, 0 if there is none (an
 * empty atom: leading, trailing or doubled dot). */
static size_t addr_dot_string(const char *p, const char *end)
{
	const char *s = p;

	for (;;) {
		const char *atom = s;
		while (s < end && addr_is_atext((unsigned char)*s))
			s++;
		if (s == atom)
			return 0;
		if (s == end || *s != '.')
			return (size_t)(s - p);
		s++;
	}
}

/* Domain = sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]:
 * letters, digits and inner hyphens. */
static size_t addr_domain(const char *p, const char *end)
{
	const char *s = p;

	for (;;) {
		const char *label = s;
		while (s < end && (addr_is_letdig((unsigned char)*s) || *s == '-'))
			s++;
		if (s == label || *label == '-' || s[-1] == '-')
			return 0;
		if (s == end || *s != '.')
			return (size_t)(s - p);
		s++;
	}
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT up to 255. */
static int addr_ipv4_ok(const char *s, size_t n)
{
	const char *end = s + n;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		if (part > 0 && (s == end || *s++ != '.'))
			return 0;
		while (s < end && *s >= '0' && *s <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || v > 255)
			return 0;
	}
	return s == end;
}

/* IPv6-addr: RFC 5321's four forms are the ones inet_pton() reads. */
static int addr_ipv6_ok(const char *s, size_t n)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n >= sizeof(text))
		return 0;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, &a) == 1;
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6-addr ) "]". A General-
 * address-literal needs a tag registered with IANA, and IPv6 is the only
 * one, so "[tag:...]" is refused. */
static size_t addr_literal(const char *p, const char *end)
{
	const char *close, *in = p + 1;
	size_t n;

	if (p == end || *p != '[')
		return 0;
	close = memchr(in, ']', (size_t)(end - in));
	if (close == NULL)
		return 0;
	n = (size_t)(close - in);
	if (n > 5 && strncasecmp(in, "IPv6:", 5) == 0 ? addr_ipv6_ok(in + 5, n - 5)
						       : addr_ipv4_ok(in, n))
		return n + 2;
	return 0;
}

size_t lmtp_host_len(const char *p, const char *end)
{
	if (p < end && *p == '[')
		return addr_literal(p, end);
	return addr_domain(p, end);
}

/* Quoted-string at *p (its '"'): the content, unescaped, into o; *p past
 * the closing quote. qtextSMTP is printable ASCII but '"' and '\' (and
 * UTF-8 with RFC 6531); quoted-pairSMTP escapes printable ASCII only. */
static int addr_quoted(const char **pp, const char *end, struct addr_out *o)
{
	const char *p = *pp + 1;

	while (p < end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c == '\\') {
			if (++p == end || (unsigned char)*p < 32 || (unsigned char)*p > 126)
				return -1;
		} else if (c < 32 || c == 127) {
			return -1;
		}
		addr_put_byte(o, *p++);
	}
	if (p == end)
		return -1;
	*pp = p + 1;
	return 0;
}

/* Local-part = Dot-string / Quoted-string at *p, decoded into o. */
static int addr_local(const char **pp, const char *end, struct addr_out *o)
{
	size_t n;

	if (*pp < end && **pp == '"')
		return addr_quoted(pp, end, o);
	n = addr_dot_string(*pp, end);
	if (n == 0)
		return -1;
	addr_put(o, *pp, n);
	*pp += n;
	return 0;
}

/* The canonical form of a decoded local part: as it is when it is a
 * dot-string (so "a.b" and a.b are one user), else quoted with only '"'
 * and '\' escaped. */
static void addr_put_local(struct addr_out *o, const char *l, size_t n)
{
	if (n > 0 && addr_dot_string(l, l + n) == n) {
		addr_put(o, l, n);
		return;
	}
	addr_put_byte(o, '"');
	for (size_t i = 0; i < n; i++) {
		if (l[i] == '"' || l[i] == '\\')
			addr_put_byte(o, '\\');
		addr_put_byte(o, l[i]);
	}
	addr_put_byte(o, '"');
}

/* A-d-l ":" (a source route, RFC 5321 4.1.2 and appendix C): checked and
 * skipped, since receivers must ignore it. Nothing to do without one. */
static int addr_skip_route(const char **pp, const char *end)
{
	const char *p = *pp;

	if (p == end || *p != '@')
		return 0;
	for (;;) {
		size_t n = addr_domain(++p, end);
		if (n == 0)
			return -1;
		p += n;
		if (p < end && *p == ':')
			break;
		if (end - p < 2 || p[0] != ',' || p[1] != '@')
			return -1;
		p++;
	}
	*pp = p + 1;
	return 0;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ), or for a
 * recipient a bare local part, written to o in canonical form. */
static int addr_mailbox(const char **pp, const char *end, int forward, struct addr_out *o)
{
	char local[LMTP_ADDR_MAX];
	struct addr_out l;
	const char *p = *pp;
	size_t n;

	addr_out_init(&l, local, sizeof(local));
	if (addr_local(&p, end, &l) < 0)
		return -1;
	o->over |= l.over;
	if (p < end && *p == '@') {
		n = lmtp_host_len(p + 1, end);
		if (n == 0)
			return -1;
		addr_put_local(o, local, l.len);
		addr_put(o, p, n + 1);
		p += n + 1;
	} else if (!forward) {
		return -1;
	} else if (l.len == 10 && strncasecmp(local, "postmaster", 10) == 0) {
		/* RFC 5321 4.5.1: <Postmaster> in any case is one address. */
		addr_put(o, "postmaster", 10);
	} else {
		addr_put_local(o, local, l.len);
	}
	*pp = p;
	return 0;
}

static int addr_has_8bit(const char *p, const char *end)
{
	for (; p < end; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

enum lmtp_path_result lmtp_path_parse(const char **pp, const char *end, int forward,
				      char *out, size_t outlen, int *nonascii)
{
	const char *p = *pp;
	struct addr_out o;

	addr_out_init(&o, out, outlen);
	if (p == end || *p++ != '<')
		return LMTP_PATH_SYNTAX;
	if (!forward && p < end && *p == '>') {
		*nonascii = 0;
		*pp = p + 1;
		return o.over ? LMTP_PATH_LONG : LMTP_PATH_OK;
	}
	if (addr_skip_route(&p, end) < 0 || addr_mailbox(&p, end, forward, &o) < 0 ||
	    p == end || *p++ != '>')
		return LMTP_PATH_SYNTAX;
	if (o.over)
		return LMTP_PATH_LONG;
	*nonascii = addr_has_8bit(*pp, p);
	*pp = p;
	return LMTP_PATH_OK;
}

/* Where the local part l[0..n) splits: its first delimiter, or n. Only
 * ASCII octets are compared, so a delimiter never cuts a UTF-8 sequence;
 * one in the first place would leave no user and is not a split. */
static size_t addr_delim_find(const char *l, size_t n, const char *delim)
{
	if (delim == NULL)
		return n;
	for (size_t i = 1; i < n; i++)
		if ((unsigned char)l[i] < 0x80 && strchr(delim, l[i]) != NULL)
			return i;
	return n;
}

int lmtp_addr_split(const char *addr, const char *delim, char *user, size_t userlen,
		    char *detail, size_t detaillen)
{
	char local[LMTP_ADDR_MAX];
	struct addr_out l, u, d;
	const char *p = addr, *end = addr + strlen(addr);
	size_t cut;

	addr_out_init(&l, local, sizeof(local));
	if (addr_local(&p, end, &l) < 0 || l.over || (p < end && *p != '@'))
		return -1;
	cut = addr_delim_find(local, l.len, delim);
	addr_out_init(&u, user, userlen);
	addr_out_init(&d, detail, detaillen);
	addr_put_local(&u, local, cut);
	addr_put(&u, p, (size_t)(end - p));
	if (cut < l.len)
		addr_put(&d, local + cut + 1, l.len - cut - 1);
	return u.over || d.over ? -1 : 0;
}
