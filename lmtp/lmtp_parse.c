/* LMTP command lines (RFC 2033 on RFC 5321's grammar, with the parameters
 * of SIZE (RFC 1870), 8BITMIME (RFC 6152), BINARYMIME and CHUNKING (RFC
 * 3030), SMTPUTF8 (RFC 6531) and DSN (RFC 3461)). The whole line is
 * checked once for length, controls and UTF-8, so the parts below only
 * decide where non-ASCII may stand. Each error is one of the static
 * replies below, chosen where the fault is found. */
#include "lmtp_parse.h"

#include <string.h>
#include <strings.h>

#include "../mail/mutf7.h"
#include "lmtp_addr.h"

#define LMTP_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

struct lmtp_reply {
	int code;
	const char *text;
};

static const struct lmtp_reply R_TOO_LONG = { 500, "5.5.2 Line too long" };
static const struct lmtp_reply R_SYNTAX = { 500, "5.5.2 Syntax error" };
static const struct lmtp_reply R_PARAMS = { 501, "5.5.4 Invalid parameters" };
static const struct lmtp_reply R_LHLO = { 501, "5.5.2 Syntax: LHLO hostname" };
static const struct lmtp_reply R_MAIL = { 501, "5.5.2 Syntax: MAIL FROM:<address>" };
static const struct lmtp_reply R_RCPT = { 501, "5.5.2 Syntax: RCPT TO:<address>" };
static const struct lmtp_reply R_VRFY = { 501, "5.5.2 Syntax: VRFY address" };
static const struct lmtp_reply R_BDAT = { 501, "5.5.2 Syntax: BDAT size [LAST]" };
static const struct lmtp_reply R_SENDER = { 501, "5.1.7 Bad sender address syntax" };
static const struct lmtp_reply R_SENDER_LONG = { 501, "5.1.7 Sender address too long" };
static const struct lmtp_reply R_RECIPIENT = { 501, "5.1.3 Bad recipient address syntax" };
static const struct lmtp_reply R_RECIPIENT_LONG = { 501, "5.1.3 Recipient address too long" };
/* RFC 6531 3.5: an address with UTF-8 in a transaction without SMTPUTF8. */
static const struct lmtp_reply R_NONASCII = { 553, "5.6.7 Non-ASCII address without SMTPUTF8" };
static const struct lmtp_reply R_UNSUPPORTED = { 555, "5.5.4 Unsupported parameter" };

/* One line being parsed: the part not yet read, and the first error. */
struct lmtp_ctx {
	const char *p, *end;
	struct lmtp_cmd *out;
	int utf8_ok;
	const struct lmtp_reply *err;
};

static int lmtp_fail(struct lmtp_ctx *c, const struct lmtp_reply *r)
{
	c->err = r;
	return -1;
}

/* s[0..n) is the keyword w, in any case. */
static int lmtp_word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(s, w, n) == 0;
}

/* How many of the octets from p on, before end, are in set. */
static size_t lmtp_span(const char *p, const char *end, const char *set)
{
	const char *s = p;

	while (s < end && *s != '\0' && strchr(set, *s) != NULL)
		s++;
	return (size_t)(s - p);
}

static int lmtp_has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

/* Decimal digits s[0..n): 0 and the value, 1 when it is past 2^64-1
 * (*v is then UINT64_MAX), -1 when s is empty or not all digits. */
static int lmtp_decimal(const char *s, size_t n, uint64_t *v)
{
	int over = 0;

	*v = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9)
			return -1;
		if (*v > (UINT64_MAX - d) / 10)
			over = 1;
		*v = over ? UINT64_MAX : *v * 10 + d;
	}
	return over;
}

/* ---- parameters --------------------------------------------------------- */

struct lmtp_param {
	const char *name;
	/* v is NULL for a keyword without "=value" */
	int (*check)(struct lmtp_ctx *c, const char *v, size_t n);
};

/* xtext (RFC 3461 4): "!".."~" but '+' and '=', or '+' and two upper-case
 * hex digits; with utf8, UTF-8 too (RFC 6533's utf-8-addr-xtext). */
static int lmtp_xtext_ok(const char *v, size_t n, int utf8)
{
	const char *end = v + n;

	for (const char *p = v; p < end; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '+') {
			if (end - p < 3 || lmtp_span(p + 1, p + 3, "0123456789ABCDEF") != 2)
				return 0;
			p += 2;
		} else if (ch >= 0x80 ? !utf8 : (ch < 33 || ch > 126 || ch == '=')) {
			return 0;
		}
	}
	return 1;
}

static int lmtp_check_size(struct lmtp_ctx *c, const char *v, size_t n)
{
	/* size-value = 1*20DIGIT; a 20-digit value past 2^64-1 still asks
	 * for more than any limit, so it saturates instead of failing. */
	if (v == NULL || n > 20 || lmtp_decimal(v, n, &c->out->size) < 0)
		return lmtp_fail(c, &R_PARAMS);
	return 0;
}

static int lmtp_check_body(struct lmtp_ctx *c, const char *v, size_t n)
{
	if (v != NULL && lmtp_word_is(v, n, "7BIT"))
		c->out->body = LMTP_BODY_7BIT;
	else if (v != NULL && lmtp_word_is(v, n, "8BITMIME"))
		c->out->body = LMTP_BODY_8BITMIME;
	else if (v != NULL && lmtp_word_is(v, n, "BINARYMIME"))
		c->out->body = LMTP_BODY_BINARYMIME;
	else
		return lmtp_fail(c, &R_PARAMS);
	return 0;
}

static int lmtp_check_smtputf8(struct lmtp_ctx *c, const char *v, size_t n)
{
	if (v != NULL)
		return lmtp_fail(c, &R_PARAMS);
	c->out->smtputf8 = 1;
	return 0;
}

static int lmtp_check_ret(struct lmtp_ctx *c, const char *v, size_t n)
{
	if (v == NULL || !(lmtp_word_is(v, n, "FULL") || lmtp_word_is(v, n, "HDRS")))
		return lmtp_fail(c, &R_PARAMS);
	return 0;
}

static int lmtp_check_envid(struct lmtp_ctx *c, const char *v, size_t n)
{
	if (v == NULL || !lmtp_xtext_ok(v, n, 0))
		return lmtp_fail(c, &R_PARAMS);
	return 0;
}

/* ORCPT=addr-type ";" xtext, addr-type an atom ("rfc822", "utf-8"). */
static int lmtp_check_orcpt(struct lmtp_ctx *c, const char *v, size_t n)
{
	const char *semi = v ? memchr(v, ';', n) : NULL;
	size_t tn;

	if (semi == NULL || semi == v)
		return lmtp_fail(c, &R_PARAMS);
	tn = (size_t)(semi - v);
	if (lmtp_span(v, semi, LMTP_ALNUM "!#$%&'*+-/=?^_`{|}~") != tn ||
	    !lmtp_xtext_ok(semi + 1, n - tn - 1, c->utf8_ok))
		return lmtp_fail(c, &R_PARAMS);
	return 0;
}

/* NOTIFY="NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static int lmtp_check_notify(struct lmtp_ctx *c, const char *v, size_t n)
{
	const char *end;

	if (v == NULL)
		return lmtp_fail(c, &R_PARAMS);
	if (lmtp_word_is(v, n, "NEVER"))
		return 0;
	for (end = v + n;;) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		size_t len = (size_t)((comma ? comma : end) - v);
		if (!lmtp_word_is(v, len, "SUCCESS") && !lmtp_word_is(v, len, "FAILURE") &&
		    !lmtp_word_is(v, len, "DELAY"))
			return lmtp_fail(c, &R_PARAMS);
		if (comma == NULL)
			return 0;
		v = comma + 1;
	}
}

static const struct lmtp_param lmtp_mail_params[] = {
	{ "SIZE", lmtp_check_size },
	{ "BODY", lmtp_check_body },
	{ "SMTPUTF8", lmtp_check_smtputf8 },
	{ "RET", lmtp_check_ret },
	{ "ENVID", lmtp_check_envid },
	{ NULL, NULL },
};

static const struct lmtp_param lmtp_rcpt_params[] = {
	{ "ORCPT", lmtp_check_orcpt },
	{ "NOTIFY", lmtp_check_notify },
	{ NULL, NULL },
};

/* esmtp-keyword ["=" esmtp-value] at c->p: keyword = (ALPHA / DIGIT)
 * *(ALPHA / DIGIT / "-"), value = 1*(%d33-60 / %d62-126), with UTF-8
 * (RFC 6531) only where utf8 allows it. */
static int lmtp_param_next(struct lmtp_ctx *c, const char **kw, size_t *kwlen,
			   const char **v, size_t *vlen)
{
	const char *p = c->p;

	*kw = p;
	*kwlen = lmtp_span(p, c->end, LMTP_ALNUM "-");
	p += *kwlen;
	if (*kwlen == 0 || **kw == '-')
		return -1;
	*v = NULL;
	if (p < c->end && *p == '=') {
		*v = ++p;
		while (p < c->end && *p != ' ' && *p != '=' && ((unsigned char)*p < 0x80 || c->utf8_ok))
			p++;
		*vlen = (size_t)(p - *v);
		if (*vlen == 0)
			return -1;
	}
	c->p = p;
	return p == c->end || *p == ' ' ? 0 : -1;
}

/* Parameters after a path: separated by spaces, each known at most once. */
static int lmtp_params(struct lmtp_ctx *c, const struct lmtp_param *defs)
{
	unsigned seen = 0;

	while (c->p < c->end) {
		const char *kw, *v;
		size_t kwlen, vlen = 0, i;
		if (*c->p != ' ')
			return lmtp_fail(c, &R_PARAMS);
		while (*c->p == ' ')
			c->p++;   /* trailing spaces are gone: a keyword follows */
		if (lmtp_param_next(c, &kw, &kwlen, &v, &vlen) < 0)
			return lmtp_fail(c, &R_PARAMS);
		for (i = 0; defs[i].name && !lmtp_word_is(kw, kwlen, defs[i].name); i++)
			;
		if (defs[i].name == NULL)
			return lmtp_fail(c, &R_UNSUPPORTED);
		if (seen & (1u << i))
			return lmtp_fail(c, &R_PARAMS);
		seen |= 1u << i;
		if (defs[i].check(c, v, vlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- verbs -------------------------------------------------------------- */

/* RSET, QUIT, DATA: nothing may follow. */
static int lmtp_parse_bare(struct lmtp_ctx *c)
{
	return c->p == c->end ? 0 : lmtp_fail(c, &R_PARAMS);
}

/* NOOP [SP String]: whatever follows is ignored. */
static int lmtp_parse_noop(struct lmtp_ctx *c)
{
	return 0;
}

/* "LHLO" SP ( Domain / address-literal ); no U-labels (RFC 6531 3.7.1
 * wants the A-label form there). */
static int lmtp_parse_lhlo(struct lmtp_ctx *c)
{
	const char *h;
	size_t n;

	if (c->p == c->end || *c->p != ' ')
		return lmtp_fail(c, &R_LHLO);
	h = c->p + 1;
	n = lmtp_host_len(h, c->end);
	if (n == 0 || h + n != c->end || lmtp_has_8bit(h, n))
		return lmtp_fail(c, &R_LHLO);
	memcpy(c->out->arg, h, n);
	c->out->arg[n] = '\0';
	return 0;
}

/* "VRFY" SP String: kept as it is for the session's answer (252). */
static int lmtp_parse_vrfy(struct lmtp_ctx *c)
{
	size_t n;

	if (c->p == c->end || *c->p != ' ')
		return lmtp_fail(c, &R_VRFY);
	while (*c->p == ' ')
		c->p++;
	n = (size_t)(c->end - c->p);
	if (!c->utf8_ok && lmtp_has_8bit(c->p, n))
		return lmtp_fail(c, &R_NONASCII);
	memcpy(c->out->arg, c->p, n);
	c->out->arg[n] = '\0';
	return 0;
}

/* "BDAT" SP chunk-size [ SP "LAST" ] (RFC 3030). */
static int lmtp_parse_bdat(struct lmtp_ctx *c)
{
	const char *p, *digits;

	if (c->p == c->end || *c->p != ' ')
		return lmtp_fail(c, &R_BDAT);
	p = digits = c->p + 1;
	while (p < c->end && *p >= '0' && *p <= '9')
		p++;
	if (p == digits || (p < c->end && (*p != ' ' || !lmtp_word_is(p + 1,
			    (size_t)(c->end - p - 1), "LAST"))))
		return lmtp_fail(c, &R_BDAT);
	/* A chunk that cannot be counted cannot be skipped either. */
	if (lmtp_decimal(digits, (size_t)(p - digits), &c->out->bdat_len) != 0)
		return lmtp_fail(c, &R_PARAMS);
	c->out->bdat_last = p < c->end;
	return 0;
}

/* " FROM:" / " TO:" then, against RFC 5321 but as every MTA does, at most
 * one space before the path. */
static int lmtp_path_intro(struct lmtp_ctx *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n + 1 || *c->p != ' ' || strncasecmp(c->p + 1, word, n))
		return -1;
	c->p += n + 1;
	if (c->p < c->end && *c->p == ' ')
		c->p++;
	return 0;
}

static int lmtp_path(struct lmtp_ctx *c, int forward, int *nonascii)
{
	enum lmtp_path_result r = lmtp_path_parse(&c->p, c->end, forward, c->out->addr,
						  sizeof(c->out->addr), nonascii);
	if (r == LMTP_PATH_SYNTAX)
		return lmtp_fail(c, forward ? &R_RECIPIENT : &R_SENDER);
	if (r == LMTP_PATH_LONG)
		return lmtp_fail(c, forward ? &R_RECIPIENT_LONG : &R_SENDER_LONG);
	return 0;
}

static int lmtp_parse_mail(struct lmtp_ctx *c)
{
	int nonascii;

	/* UTF-8 is allowed by this line's SMTPUTF8, seen after the path; the
	 * session's flag belongs to the transaction this MAIL replaces, and no
	 * MAIL parameter value may hold UTF-8. */
	c->utf8_ok = 0;
	if (lmtp_path_intro(c, "FROM:") < 0)
		return lmtp_fail(c, &R_MAIL);
	if (lmtp_path(c, 0, &nonascii) < 0 || lmtp_params(c, lmtp_mail_params) < 0)
		return -1;
	if (nonascii && !c->out->smtputf8)
		return lmtp_fail(c, &R_NONASCII);
	return 0;
}

static int lmtp_parse_rcpt(struct lmtp_ctx *c)
{
	int nonascii;

	if (lmtp_path_intro(c, "TO:") < 0)
		return lmtp_fail(c, &R_RCPT);
	if (lmtp_path(c, 1, &nonascii) < 0)
		return -1;
	if (nonascii && !c->utf8_ok)
		return lmtp_fail(c, &R_NONASCII);
	return lmtp_params(c, lmtp_rcpt_params);
}

static const struct lmtp_verb_def {
	const char *name;
	enum lmtp_verb verb;
	int (*parse)(struct lmtp_ctx *c);   /* NULL: the argument is not looked at */
} lmtp_verbs[] = {
	{ "LHLO", LMTP_LHLO, lmtp_parse_lhlo },
	{ "MAIL", LMTP_MAIL, lmtp_parse_mail },
	{ "RCPT", LMTP_RCPT, lmtp_parse_rcpt },
	{ "DATA", LMTP_DATA, lmtp_parse_bare },
	{ "BDAT", LMTP_BDAT, lmtp_parse_bdat },
	{ "RSET", LMTP_RSET, lmtp_parse_bare },
	{ "NOOP", LMTP_NOOP, lmtp_parse_noop },
	{ "QUIT", LMTP_QUIT, lmtp_parse_bare },
	{ "VRFY", LMTP_VRFY, lmtp_parse_vrfy },
	{ "HELO", LMTP_HELO_EHLO, NULL },
	{ "EHLO", LMTP_HELO_EHLO, NULL },
};

/* Length, controls (NUL, a CR or LF inside, TAB too: SMTP separates with
 * SP only) and UTF-8 once for the whole line; trailing spaces dropped. */
static int lmtp_line_check(struct lmtp_ctx *c)
{
	size_t len = (size_t)(c->end - c->p);

	if (len > LMTP_LINE_MAX - 2)
		return lmtp_fail(c, &R_TOO_LONG);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)c->p[i] < 0x20 || c->p[i] == 0x7f)
			return lmtp_fail(c, &R_SYNTAX);
	if (!mutf7_utf8_valid(c->p, len))
		return lmtp_fail(c, &R_SYNTAX);
	while (c->end > c->p && c->end[-1] == ' ')
		c->end--;
	return c->end > c->p ? 0 : lmtp_fail(c, &R_SYNTAX);
}

static int lmtp_verb(struct lmtp_ctx *c)
{
	const char *sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
	size_t n = (size_t)((sp ? sp : c->end) - c->p);

	if (n == 0)
		return lmtp_fail(c, &R_SYNTAX);
	for (size_t i = 0; i < sizeof(lmtp_verbs) / sizeof(lmtp_verbs[0]); i++) {
		const struct lmtp_verb_def *v = &lmtp_verbs[i];
		if (!lmtp_word_is(c->p, n, v->name))
			continue;
		c->out->verb = v->verb;
		c->p += n;
		return v->parse ? v->parse(c) : 0;
	}
	return 0;
}

static void lmtp_cmd_clear(struct lmtp_cmd *out)
{
	out->verb = LMTP_UNKNOWN;
	out->arg[0] = '\0';
	out->addr[0] = '\0';
	out->size = 0;
	out->body = LMTP_BODY_7BIT;
	out->smtputf8 = 0;
	out->bdat_len = 0;
	out->bdat_last = 0;
}

int lmtp_parse_line(const char *line, size_t len, int utf8_ok, struct lmtp_cmd *out,
		    int *code, const char **text)
{
	struct lmtp_ctx c = { line, line + len, out, utf8_ok, NULL };

	lmtp_cmd_clear(out);
	if (lmtp_line_check(&c) < 0 || lmtp_verb(&c) < 0) {
		*code = c.err->code;
		*text = c.err->text;
		return -1;
	}
	return 0;
}
