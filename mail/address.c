/* RFC 5322 address lists as IMAP ENVELOPE address structures (RFC 9051
 * 7.5.2): "((name adl mailbox host)...)", groups as a start marker
 * (NIL NIL "group" NIL) and an end marker (NIL NIL NIL NIL).
 *
 * One pass over the tokens with a small state machine; lenient where real
 * mail is broken, in the ways Dovecot is:
 *  - no display name but a comment ("a@b (Joe)"): the comment is the name;
 *  - no domain ("From: joe"): host "MISSING_DOMAIN", never NIL, because a
 *    NIL host would read as a group marker; an empty local part is
 *    "MISSING_MAILBOX";
 *  - a group without its ';' is closed at the end;
 *  - encoded words are left encoded (IMAP sends header text raw).
 * At most MAIL_MAX_ADDRESSES structures are written per list. */
#include <string.h>

#include "mail_private.h"

enum tok_kind { T_END, T_WORD, T_SPECIAL };

struct tok {
	enum tok_kind kind;
	char c;                  /* T_SPECIAL: one of <>@,:; */
	const char *s;           /* T_WORD */
	size_t len;
};

struct alex {
	struct mail_lex lx;
	struct arena *a;
	char **comment;          /* first comment of the current address */
};

static int atom_char(char c)
{
	return strchr(" \t\r\n\"(<>@,:;[", c) == NULL;
}

static void next_tok(struct alex *al, struct tok *t)
{
	struct mail_lex *lx = &al->lx;
	const char *start;

	mail_lex_cfws(lx, al->a, al->comment);
	if (lx->p >= lx->end) {
		t->kind = T_END;
		return;
	}
	start = lx->p;
	switch (*lx->p) {
	case '"':
		t->kind = T_WORD;
		t->s = mail_lex_quoted(lx, al->a);
		t->len = strlen(t->s);
		return;
	case '[':
		/* Domain literal, kept with its brackets. */
		while (lx->p < lx->end && *lx->p != ']')
			lx->p++;
		if (lx->p < lx->end)
			lx->p++;
		t->kind = T_WORD;
		t->s = start;
		t->len = (size_t)(lx->p - start);
		return;
	case '<': case '>': case '@': case ',': case ':': case ';':
		t->kind = T_SPECIAL;
		t->c = *lx->p++;
		return;
	default:
		/* atom_char() is true for everything else (the '\0' byte too,
		 * strchr finding the terminator aside), so this advances. */
		while (lx->p < lx->end && (atom_char(*lx->p) || *lx->p == '\0'))
			lx->p++;
		t->kind = T_WORD;
		t->s = start;
		t->len = (size_t)(lx->p - start);
		return;
	}
}

enum stage {
	S_START,     /* words: a phrase or a local part */
	S_DOMAIN,    /* after '@' of a bare addr-spec */
	S_ROUTE,     /* "<@a,@b:" */
	S_ALOCAL,    /* inside <>, local part */
	S_ADOMAIN,   /* inside <>, after '@' */
	S_AFTER,     /* after '>' */
};

struct addr {
	struct buf phrase, local, domain, route, alocal;
	int angle, at, any;
};

static void addr_reset(struct addr *ad)
{
	buf_reset(&ad->phrase);
	buf_reset(&ad->local);
	buf_reset(&ad->domain);
	buf_reset(&ad->route);
	buf_reset(&ad->alocal);
	ad->angle = ad->at = ad->any = 0;
}

static void put_nstr(struct buf *out, const struct buf *b, const char *dflt)
{
	if (b->len > 0)
		mail_imap_nstring(out, b->data, b->len);
	else if (dflt != NULL)
		mail_imap_cstring(out, dflt);
	else
		buf_append_str(out, "NIL");
}

struct list {
	struct buf *out;
	size_t n;
};

static int list_room(struct list *l)
{
	return l->n < MAIL_MAX_ADDRESSES;
}

static void emit_open(struct list *l)
{
	if (l->n++ == 0)
		buf_append_byte(l->out, '(');
}

static void finish_addr(struct list *l, struct addr *ad, const char *comment)
{
	const struct buf *name, *mbox, *host;

	if (!ad->any || !list_room(l))
		goto done;
	if (ad->angle) {
		name = &ad->phrase;
		mbox = &ad->alocal;
		host = &ad->domain;
	} else {
		name = NULL;
		mbox = &ad->local;
		host = &ad->domain;
	}
	emit_open(l);
	buf_append_byte(l->out, '(');
	if (name != NULL && name->len > 0)
		put_nstr(l->out, name, NULL);
	else
		mail_imap_cstring(l->out, comment);
	buf_append_byte(l->out, ' ');
	put_nstr(l->out, &ad->route, NULL);
	buf_append_byte(l->out, ' ');
	put_nstr(l->out, mbox, "MISSING_MAILBOX");
	buf_append_byte(l->out, ' ');
	put_nstr(l->out, host, "MISSING_DOMAIN");
	buf_append_byte(l->out, ')');
done:
	addr_reset(ad);
}

static void append_word(struct buf *b, const struct tok *t, int space)
{
	if (space && b->len > 0)
		buf_append_byte(b, ' ');
	buf_append(b, t->s, t->len);
}

void mail_write_addresses(struct buf *out, struct arena *a, const char *v, size_t len)
{
	struct addr ad;
	struct list l = { out, 0 };
	struct alex al;
	struct tok t;
	char *comment = NULL;
	enum stage st = S_START;
	int in_group = 0;

	memset(&ad, 0, sizeof(ad));
	al.lx.p = v;
	al.lx.end = v + len;
	al.a = a;
	al.comment = &comment;
	for (;;) {
		next_tok(&al, &t);
		if (t.kind == T_WORD) {
			ad.any = 1;
			switch (st) {
			case S_START:
				append_word(&ad.phrase, &t, 1);
				append_word(&ad.local, &t, 0);
				break;
			case S_DOMAIN:
			case S_ADOMAIN:
				append_word(&ad.domain, &t, 0);
				break;
			case S_ROUTE:
				append_word(&ad.route, &t, 0);
				break;
			case S_ALOCAL:
				append_word(&ad.alocal, &t, 0);
				break;
			case S_AFTER:
				break;
			}
			continue;
		}
		if (t.kind == T_END)
			break;
		switch (t.c) {
		case '<':
			if (st == S_START || st == S_DOMAIN) {
				ad.any = ad.angle = 1;
				buf_reset(&ad.domain);
				st = S_ALOCAL;
			}
			break;
		case '>':
			if (st == S_ALOCAL || st == S_ADOMAIN || st == S_ROUTE)
				st = S_AFTER;
			break;
		case '@':
			ad.any = 1;
			if (st == S_START) {
				ad.at = 1;
				st = S_DOMAIN;
			} else if (st == S_ALOCAL && ad.alocal.len == 0) {
				st = S_ROUTE;
				buf_append_byte(&ad.route, '@');
			} else if (st == S_ALOCAL) {
				st = S_ADOMAIN;
			} else if (st == S_ROUTE) {
				buf_append_byte(&ad.route, '@');
			}
			break;
		case ':':
			if (st == S_ROUTE) {
				st = S_ALOCAL;
			} else if (st == S_START && !in_group) {
				/* Group start: the phrase is the group name. */
				if (list_room(&l)) {
					emit_open(&l);
					buf_append_str(out, "(NIL NIL ");
					if (ad.phrase.len > 0)
						mail_imap_nstring(out, ad.phrase.data, ad.phrase.len);
					else
						buf_append_str(out, "\"\"");
					buf_append_str(out, " NIL)");
				}
				in_group = 1;
				addr_reset(&ad);
				comment = NULL;
			}
			break;
		case ',':
			if (st == S_ROUTE) {
				buf_append_byte(&ad.route, ',');
				break;
			}
			finish_addr(&l, &ad, comment);
			comment = NULL;
			st = S_START;
			break;
		case ';':
			finish_addr(&l, &ad, comment);
			comment = NULL;
			st = S_START;
			if (in_group && list_room(&l)) {
				emit_open(&l);
				buf_append_str(out, "(NIL NIL NIL NIL)");
			}
			in_group = 0;
			break;
		}
	}
	finish_addr(&l, &ad, comment);
	if (in_group && l.n > 0)
		buf_append_str(out, "(NIL NIL NIL NIL)");
	if (l.n == 0)
		buf_append_str(out, "NIL");
	else
		buf_append_byte(out, ')');
	buf_free(&ad.phrase);
	buf_free(&ad.local);
	buf_free(&ad.domain);
	buf_free(&ad.route);
	buf_free(&ad.alocal);
}
