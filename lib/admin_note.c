/* The notification lines of haven-admin who/kick across hosts
 * (admin_note.h): a cursor over the bytes that takes one field at a
 * time and refuses anything out of shape, and printf on the way out,
 * checked with the same rules so what is sent always parses back. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "admin_note.h"

struct cur {
	const char *p, *end;
};

static int is_tok_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* One token up to the next blank (or the end) into out. */
static int take_token(struct cur *c, char *out, size_t max)
{
	size_t n = 0;

	while (c->p + n < c->end && c->p[n] != ' ') {
		if (!is_tok_byte((unsigned char)c->p[n]) || n == max)
			return -1;
		out[n] = c->p[n];
		n++;
	}
	if (n == 0)
		return -1;
	out[n] = '\0';
	c->p += n;
	return 0;
}

/* Exactly one blank: fields are never separated by more or by tabs. */
static int take_blank(struct cur *c)
{
	if (c->p >= c->end || *c->p != ' ')
		return -1;
	c->p++;
	return 0;
}

/* A decimal number without sign or leading zero, at most max. */
static int take_number(struct cur *c, uint64_t max, uint64_t *v)
{
	char digits[21];

	if (take_token(c, digits, 20) < 0 || (digits[0] == '0' && digits[1] != '\0'))
		return -1;
	*v = 0;
	for (const char *d = digits; *d; d++) {
		uint64_t digit = (uint64_t)(*d - '0');
		if (*d < '0' || *d > '9' || digit > max || *v > (max - digit) / 10)
			return -1;
		*v = *v * 10 + digit;
	}
	return 0;
}

static int take_nonce(struct cur *c, char *out)
{
	if (take_token(c, out, ADMIN_NONCE_LEN) < 0 || strlen(out) != ADMIN_NONCE_LEN)
		return -1;
	for (const char *d = out; *d; d++)
		if (!strchr("0123456789abcdef", *d))
			return -1;
	return 0;
}

/* The word that starts the line, and its blank. */
static int take_word(struct cur *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) <= n || memcmp(c->p, word, n) != 0 || c->p[n] != ' ')
		return -1;
	c->p += n + 1;
	return 0;
}

static int at_end(const struct cur *c)
{
	return c->p == c->end ? 0 : -1;
}

int admin_request_parse(const char *s, size_t len, struct admin_request *r)
{
	struct cur c = { s, s + len };

	memset(r, 0, sizeof(*r));
	if (len > ADMIN_NOTE_MAX)
		return -1;
	if (take_word(&c, "who") == 0) {
		r->kind = ADMIN_NOTE_WHO;
		return take_nonce(&c, r->nonce) < 0 ? -1 : at_end(&c);
	}
	r->kind = ADMIN_NOTE_KICK;
	if (take_word(&c, "kick") < 0 || take_nonce(&c, r->nonce) < 0 || take_blank(&c) < 0 ||
	    take_token(&c, r->login, ADMIN_TOKEN_MAX) < 0)
		return -1;
	return at_end(&c);
}

/* The rest of the line as the mailbox name: any bytes but controls. */
static int take_rest(struct cur *c, char *out)
{
	size_t n = (size_t)(c->end - c->p);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)c->p[i] < 0x20 || c->p[i] == 0x7f)
			return -1;
	memcpy(out, c->p, n);
	out[n] = '\0';
	c->p = c->end;
	return 0;
}

static int session_parse(struct cur *c, struct admin_answer *a)
{
	uint64_t tls;

	if (take_token(c, a->user, ADMIN_TOKEN_MAX) < 0 || take_blank(c) < 0 ||
	    take_number(c, UINT64_MAX, &a->since) < 0 || take_blank(c) < 0 ||
	    take_number(c, 1, &tls) < 0 || take_blank(c) < 0 ||
	    take_token(c, a->client, ADMIN_TOKEN_MAX) < 0 || take_blank(c) < 0)
		return -1;
	a->tls = (int)tls;
	return take_rest(c, a->mailbox);
}

int admin_answer_parse(const char *s, size_t len, struct admin_answer *a)
{
	struct cur c = { s, s + len };
	int session;

	memset(a, 0, sizeof(*a));
	if (len > ADMIN_NOTE_MAX)
		return -1;
	session = take_word(&c, "session") == 0;
	if (!session && take_word(&c, "kicked") < 0)
		return -1;
	a->kind = session ? ADMIN_NOTE_WHO : ADMIN_NOTE_KICK;
	if (take_token(&c, a->host, ADMIN_TOKEN_MAX) < 0 || take_blank(&c) < 0)
		return -1;
	if (session)
		return session_parse(&c, a);
	if (take_token(&c, a->user, ADMIN_TOKEN_MAX) < 0 || take_blank(&c) < 0 ||
	    take_number(&c, UINT32_MAX, &a->n) < 0)
		return -1;
	return at_end(&c);
}

int admin_note_token(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ADMIN_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_tok_byte((unsigned char)s[i]))
			return 0;
	return 1;
}

/* snprintf into out, then the parser as the judge of what was made. */
static int fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size && n <= ADMIN_NOTE_MAX ? 0 : -1;
}

int admin_request_format(const struct admin_request *r, char *out, size_t size)
{
	struct admin_request back;
	int n;

	if (r->kind == ADMIN_NOTE_WHO)
		n = snprintf(out, size, "who %s", r->nonce);
	else
		n = snprintf(out, size, "kick %s %s", r->nonce, r->login);
	if (fits(n, size) < 0)
		return -1;
	return admin_request_parse(out, (size_t)n, &back);
}

int admin_answer_format(const struct admin_answer *a, char *out, size_t size)
{
	/* about 8 kB: kept off a worker's stack (each process asks alone) */
	static struct admin_answer back;
	int n;

	if (a->kind == ADMIN_NOTE_WHO)
		n = snprintf(out, size, "session %s %s %" PRIu64 " %d %s %s", a->host, a->user,
			     a->since, a->tls ? 1 : 0, a->client, a->mailbox);
	else
		n = snprintf(out, size, "kicked %s %s %" PRIu64, a->host, a->user, a->n);
	if (fits(n, size) < 0)
		return -1;
	return admin_answer_parse(out, (size_t)n, &back);
}
