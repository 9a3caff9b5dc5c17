/* RFC 5322 address lists. One parser (mail_addresses_walk) hands each
 * address and group marker to a callback; its users are ENVELOPE's address
 * structures (RFC 9051 7.5.2: "((name adl mailbox host)...)", groups as a
 * start marker (NIL NIL "group" NIL) and an end marker (NIL NIL NIL NIL))
 * and SEARCH's normal form of an address field (mail_address_text).
 *
 * One pass over the tokens with a small state machine; lenient where real
 * mail is broken, in the ways Dovecot is:
 *  - no display name but a comment ("a@b (Joe)"): the comment is the name;
 *  - no domain ("From: joe"): host "MISSING_DOMAIN", never NIL, because a
 *    NIL host would read as a group marker; an empty local part is
 *    "MISSING_MAILBOX";
 *  - a group without its ';' is closed at the end;
 *  - encoded words are left encoded (IMAP sends header text raw).
 * Broken addresses keep what they are made of and are never turned into
 * other, valid-looking ones: "a!b@c@d.org" has the host "c@d.org" (not
 * "cd.org"), and words that no '.' joins stay apart ("exa mple.com").
 * At most MAIL_MAX_ADDRESSES structures are given per list. */
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

struct walk {
	mail_addr_cb cb;
	void *ctx;
	size_t n;
};

static int walk_room(const struct walk *w)
{
	return w->n < MAIL_MAX_ADDRESSES;
}

static void walk_emit(struct walk *w, const struct mail_addr *ad)
{
	w->n++;
	w->cb(w->ctx, ad);
}

/* A group's start (named) or end marker. */
static void walk_marker(struct walk *w, enum mail_addr_kind kind, const char *name, size_t len)
{
	struct mail_addr out;

	memset(&out, 0, sizeof(out));
	out.kind = kind;
	out.name = name;
	out.name_len = len;
	walk_emit(w, &out);
}

/* A buffer's bytes, or NULL when it is empty. */
static const char *part_of(const struct buf *b, size_t *len)
{
	*len = b->len;
	return b->len > 0 ? b->data : NULL;
}

static void finish_addr(struct walk *w, struct addr *ad, const char *comment)
{
	struct mail_addr out;

	if (!ad->any || !walk_room(w))
		goto done;
	memset(&out, 0, sizeof(out));
	out.kind = MAIL_ADDR_MAILBOX;
	out.name = ad->angle ? part_of(&ad->phrase, &out.name_len) : NULL;
	if (out.name == NULL && comment != NULL) {
		out.name = comment;
		out.name_len = strlen(comment);
	}
	out.route = part_of(&ad->route, &out.route_len);
	out.mailbox = part_of(ad->angle ? &ad->alocal : &ad->local, &out.mailbox_len);
	out.host = part_of(&ad->domain, &out.host_len);
	walk_emit(w, &out);
done:
	addr_reset(ad);
}

/* Phrase words are separated by a space. In an address, words are joined
 * as they are when a '.' (or the '@' of a broken host) is between them;
 * two words that nothing joins keep a space, so a broken address never
 * turns into another one. */
static void append_word(struct buf *b, const struct tok *t, int phrase)
{
	if (b->len > 0 && (phrase || (b->data[b->len - 1] != '.' && b->data[b->len - 1] != '@' &&
				      t->s[0] != '.')))
		buf_append_byte(b, ' ');
	buf_append(b, t->s, t->len);
}

static void walk_word(struct addr *ad, enum stage st, const struct tok *t)
{
	ad->any = 1;
	switch (st) {
	case S_START:
		append_word(&ad->phrase, t, 1);
		append_word(&ad->local, t, 0);
		break;
	case S_DOMAIN:
	case S_ADOMAIN:
		append_word(&ad->domain, t, 0);
		break;
	case S_ROUTE:
		append_word(&ad->route, t, 0);
		break;
	case S_ALOCAL:
		append_word(&ad->alocal, t, 0);
		break;
	case S_AFTER:
		break;
	}
}

static enum stage walk_at(struct addr *ad, enum stage st)
{
	ad->any = 1;
	switch (st) {
	case S_START:
		ad->at = 1;
		return S_DOMAIN;
	case S_ALOCAL:
		if (ad->alocal.len > 0)
			return S_ADOMAIN;
		buf_append_byte(&ad->route, '@');
		return S_ROUTE;
	case S_ROUTE:
		buf_append_byte(&ad->route, '@');
		return st;
	case S_DOMAIN:
	case S_ADOMAIN:
		/* A second '@' stays in the host ("b@c"): dropping it would
		 * make up another address. */
		buf_append_byte(&ad->domain, '@');
		return st;
	default:
		return st;
	}
}

struct walk_state {
	struct walk w;
	struct addr ad;
	char *comment;
	enum stage st;
	int in_group;
};

static void walk_special(struct walk_state *ws, char c)
{
	struct addr *ad = &ws->ad;

	switch (c) {
	case '<':
		if (ws->st == S_START || ws->st == S_DOMAIN) {
			ad->any = ad->angle = 1;
			buf_reset(&ad->domain);
			ws->st = S_ALOCAL;
		}
		break;
	case '>':
		if (ws->st == S_ALOCAL || ws->st == S_ADOMAIN || ws->st == S_ROUTE)
			ws->st = S_AFTER;
		break;
	case '@':
		ws->st = walk_at(ad, ws->st);
		break;
	case ':':
		if (ws->st == S_ROUTE) {
			ws->st = S_ALOCAL;
		} else if (ws->st == S_START && !ws->in_group) {
			/* Group start: the phrase is the group name. */
			if (walk_room(&ws->w))
				walk_marker(&ws->w, MAIL_ADDR_GROUP_START,
					    ad->phrase.len > 0 ? ad->phrase.data : "", ad->phrase.len);
			ws->in_group = 1;
			addr_reset(ad);
			ws->comment = NULL;
		}
		break;
	case ',':
		if (ws->st == S_ROUTE) {
			buf_append_byte(&ad->route, ',');
			break;
		}
		finish_addr(&ws->w, ad, ws->comment);
		ws->comment = NULL;
		ws->st = S_START;
		break;
	case ';':
		finish_addr(&ws->w, ad, ws->comment);
		ws->comment = NULL;
		ws->st = S_START;
		if (ws->in_group && walk_room(&ws->w))
			walk_marker(&ws->w, MAIL_ADDR_GROUP_END, NULL, 0);
		ws->in_group = 0;
		break;
	}
}

size_t mail_addresses_walk(struct arena *a, const char *v, size_t len, mail_addr_cb cb, void *ctx)
{
	struct walk_state ws;
	struct alex al;
	struct tok t;

	memset(&ws, 0, sizeof(ws));
	ws.w.cb = cb;
	ws.w.ctx = ctx;
	ws.st = S_START;
	al.lx.p = v;
	al.lx.end = v + len;
	al.a = a;
	al.comment = &ws.comment;
	for (;;) {
		next_tok(&al, &t);
		if (t.kind == T_END)
			break;
		if (t.kind == T_WORD)
			walk_word(&ws.ad, ws.st, &t);
		else
			walk_special(&ws, t.c);
	}
	finish_addr(&ws.w, &ws.ad, ws.comment);
	if (ws.in_group && ws.w.n > 0)
		walk_marker(&ws.w, MAIL_ADDR_GROUP_END, NULL, 0);
	buf_free(&ws.ad.phrase);
	buf_free(&ws.ad.local);
	buf_free(&ws.ad.domain);
	buf_free(&ws.ad.route);
	buf_free(&ws.ad.alocal);
	return ws.w.n;
}

/* ---- ENVELOPE ------------------------------------------------------------ */

static void put_part(struct buf *out, const char *s, size_t len, const char *dflt)
{
	if (s != NULL)
		mail_imap_nstring(out, s, len);
	else
		mail_imap_cstring(out, dflt);
}

struct imap_list {
	struct buf *out;
	size_t n;
};

static void imap_put(void *ctx, const struct mail_addr *ad)
{
	struct imap_list *l = ctx;
	struct buf *out = l->out;

	if (l->n++ == 0)
		buf_append_byte(out, '(');
	buf_append_byte(out, '(');
	switch (ad->kind) {
	case MAIL_ADDR_GROUP_START:
		buf_append_str(out, "NIL NIL ");
		mail_imap_nstring(out, ad->name, ad->name_len);
		buf_append_str(out, " NIL");
		break;
	case MAIL_ADDR_GROUP_END:
		buf_append_str(out, "NIL NIL NIL NIL");
		break;
	case MAIL_ADDR_MAILBOX:
		put_part(out, ad->name, ad->name_len, NULL);
		buf_append_byte(out, ' ');
		put_part(out, ad->route, ad->route_len, NULL);
		buf_append_byte(out, ' ');
		put_part(out, ad->mailbox, ad->mailbox_len, "MISSING_MAILBOX");
		buf_append_byte(out, ' ');
		put_part(out, ad->host, ad->host_len, "MISSING_DOMAIN");
		break;
	}
	buf_append_byte(out, ')');
}

void mail_write_addresses(struct buf *out, struct arena *a, const char *v, size_t len)
{
	struct imap_list l = { out, 0 };

	mail_addresses_walk(a, v, len, imap_put, &l);
	buf_append_str(out, l.n > 0 ? ")" : "NIL");
}

/* ---- SEARCH -------------------------------------------------------------- */

struct text_list {
	struct arena *a;
	struct buf *out;
	size_t n;
	int group_open;          /* the last item was a group's start */
};

static void text_name(struct text_list *t, const char *name, size_t len)
{
	char *d = mail_decode_words(t->a, name, len);

	if (d != NULL)
		buf_append_str(t->out, d);
	else
		buf_append(t->out, name, len);
}

static void text_put(void *ctx, const struct mail_addr *ad)
{
	struct text_list *t = ctx;

	if (t->n++ > 0 && ad->kind != MAIL_ADDR_GROUP_END)
		buf_append_str(t->out, t->group_open ? " " : ", ");
	t->group_open = ad->kind == MAIL_ADDR_GROUP_START;
	switch (ad->kind) {
	case MAIL_ADDR_GROUP_START:
		text_name(t, ad->name, ad->name_len);
		buf_append_byte(t->out, ':');
		break;
	case MAIL_ADDR_GROUP_END:
		buf_append_byte(t->out, ';');
		break;
	case MAIL_ADDR_MAILBOX:
		if (ad->name != NULL) {
			text_name(t, ad->name, ad->name_len);
			buf_append_str(t->out, " <");
		}
		if (ad->mailbox != NULL)
			buf_append(t->out, ad->mailbox, ad->mailbox_len);
		if (ad->host != NULL) {
			buf_append_byte(t->out, '@');
			buf_append(t->out, ad->host, ad->host_len);
		}
		if (ad->name != NULL)
			buf_append_byte(t->out, '>');
		break;
	}
}

void mail_address_text(struct arena *a, const char *v, size_t len, struct buf *out)
{
	struct text_list t = { a, out, 0, 0 };

	mail_addresses_walk(a, v, len, text_put, &t);
}
