/* Reading an mbox file for import (source.h). A message starts at a From_
 * line that carries a date (Dovecot does not escape "From " in bodies, so
 * a line that merely begins so is content), and not inside the bytes a
 * Content-Length counts (unless it turns out to count exactly as many);
 * the '\n' before the next From_ line (or the end) is framing. The
 * Content-Length that frames the body is mbox metadata and goes; one
 * that does not is the message's own and stays. Nothing is unescaped
 * (">From " stays), as Dovecot shows it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "../mail/msgmeta.h"
#include "source.h"

enum hdr_kind { HK_KEEP, HK_BASE, HK_PSEUDO, HK_UID, HK_STATUS, HK_XSTATUS, HK_KEYWORDS,
		HK_CLEN };

static const struct {
	const char *name;
	enum hdr_kind kind;
} state_headers[] = {
	{ "X-IMAPbase:", HK_BASE },     { "X-IMAP:", HK_PSEUDO },
	{ "X-UID:", HK_UID },           { "Status:", HK_STATUS },
	{ "X-Status:", HK_XSTATUS },    { "X-Keywords:", HK_KEYWORDS },
	{ "Content-Length:", HK_CLEN },
};

static enum hdr_kind hdr_kind(const char *p, size_t n, size_t *vlen)
{
	for (size_t i = 0; i < sizeof(state_headers) / sizeof(state_headers[0]); i++) {
		size_t len = strlen(state_headers[i].name);
		if (n >= len && strncasecmp(p, state_headers[i].name, len) == 0) {
			*vlen = len;
			return state_headers[i].kind;
		}
	}
	return HK_KEEP;
}

static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static int month_of(const char *t)
{
	for (int i = 0; i < 12; i++)
		if (strncmp(t, months[i], 3) == 0 && t[3] == '\0')
			return i;
	return -1;
}

/* Split at most max space-separated words of p[0..n) into w (a copy). */
static size_t words(const char *p, size_t n, char w[][16], size_t max)
{
	size_t k = 0, i = 0;

	while (i < n && k < max) {
		size_t len = 0;
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
			i++;
		if (i >= n)
			break;
		while (i < n && !isspace((unsigned char)p[i])) {
			if (len < 15)
				w[k][len++] = p[i];
			i++;
		}
		w[k++][len] = '\0';
	}
	return k;
}

int src_from_date(const char *p, size_t n, time_t *out)
{
	char w[8][16];
	struct tm tm = { 0 };
	size_t k;
	int mon, year_at;
	char end;

	if (n < 5 || strncmp(p, "From ", 5) != 0)
		return -1;
	k = words(p + 5, n - 5, w, 8);
	/* SENDER Www Mmm dd hh:mm[:ss] [zone] yyyy */
	if (k < 6 || (mon = month_of(w[2])) < 0)
		return -1;
	year_at = k >= 7 && strlen(w[6]) == 4 ? 6 : 5;
	if (sscanf(w[3], "%2d%c", &tm.tm_mday, &end) != 1 ||
	    sscanf(w[year_at], "%4d%c", &tm.tm_year, &end) != 1 ||
	    (sscanf(w[4], "%2d:%2d:%2d%c", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &end) != 3 &&
	     sscanf(w[4], "%2d:%2d%c", &tm.tm_hour, &tm.tm_min, &end) != 2))
		return -1;
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60 || tm.tm_year < 1970 || tm.tm_hour < 0 || tm.tm_min < 0 ||
	    tm.tm_sec < 0)
		return -1;
	tm.tm_mon = mon;
	tm.tm_year -= 1900;
	*out = timegm(&tm);
	return 0;
}

/* The next line into s->l, '\n' included: 1, 0 at the end, -1 when it is
 * longer than a message may be. */
static int line_read(struct src_mbox *s)
{
	int c;

	s->llen = 0;
	while ((c = getc_unlocked(s->f)) != EOF) {
		if (s->llen + 2 > s->lcap) {
			if (s->lcap > s->max + 2)
				return -1;
			s->lcap = s->lcap ? s->lcap * 2 : 256;
			s->l = xrealloc(s->l, s->lcap);
		}
		s->l[s->llen++] = (char)c;
		if (c == '\n')
			break;
	}
	if (s->llen == 0) {
		s->eof = 1;
		return 0;
	}
	s->line++;
	return 1;
}

static int fail(struct src_mbox *s, struct error *err, const char *what)
{
	error_set(err, ERR_PARSE, "%s:%zu: %s", s->path, s->line, what);
	return -1;
}

static int next_line(struct src_mbox *s, struct error *err)
{
	int rc = line_read(s);
	if (rc < 0)
		return fail(s, err, "line longer than the largest message");
	return rc;
}

int src_mbox_open(struct src_mbox *s, FILE *f, const char *path, size_t max,
		  struct error *err)
{
	memset(s, 0, sizeof(*s));
	s->f = f;
	s->path = path;
	s->max = max;
	if (next_line(s, err) < 0)
		goto failed;
	if (!s->eof && (s->llen < 5 || strncmp(s->l, "From ", 5) != 0)) {
		fail(s, err, "not an mbox file (no From_ line)");
		goto failed;
	}
	return 0;
failed:
	src_mbox_close(s);   /* the caller has nothing to close after a failure */
	return -1;
}

void src_mbox_close(struct src_mbox *s)
{
	free(s->l);
	s->l = NULL;
	s->lcap = 0;
}

/* A decimal number of at most 10 digits at *p; -1 if none. */
static long long number(const char **p, const char *end)
{
	long long v = 0;
	int digits = 0;

	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	while (*p < end && isdigit((unsigned char)**p) && digits < 11) {
		v = v * 10 + (**p - '0');
		(*p)++;
		digits++;
	}
	if (*p < end && !isspace((unsigned char)**p))
		return -1;   /* "12x": not a number */
	return digits == 0 || digits > 10 ? -1 : v;
}

static int keywords_parse(struct src_msg *m, const char *p, const char *end)
{
	while (p < end) {
		const char *w;
		while (p < end && isspace((unsigned char)*p))
			p++;
		w = p;
		while (p < end && !isspace((unsigned char)*p))
			p++;
		if (p > w && src_msg_keyword(m, w, (size_t)(p - w)) < 0)
			return -1;
	}
	return 0;
}

static void flags_parse(struct src_msg *m, const char *p, const char *end, int x)
{
	for (; p < end; p++) {
		switch (*p) {
		case 'R': m->flags |= x ? 0 : MF_SEEN; break;
		case 'A': m->flags |= x ? MF_ANSWERED : 0; break;
		case 'F': m->flags |= x ? MF_FLAGGED : 0; break;
		case 'D': m->flags |= x ? MF_DELETED : 0; break;
		case 'T': m->flags |= x ? MF_DRAFT : 0; break;
		}
	}
}

/* X-IMAPbase / X-IMAP: UIDVALIDITY and the last UID given out. */
static int base_parse(struct src_mbox *s, const char *p, const char *end)
{
	long long uv = number(&p, end), last = number(&p, end);

	if (uv <= 0 || uv > UINT32_MAX || last < 0 || last >= UINT32_MAX)
		return -1;
	s->have_base = 1;
	s->uidvalidity = (uint32_t)uv;
	s->uidnext = (uint32_t)last + 1;
	return 0;
}

#define CLEN_MAX 4   /* Content-Length fields looked at */

struct hdr_state {
	struct {
		long long value;   /* -1: not a number */
		size_t at, len;    /* the field in m->body */
	} clen[CLEN_MAX];
	size_t nclen;
	int pseudo;            /* X-IMAP: the pseudo message */
	int first;             /* the file's first message */
};

/* One of the state headers: its value into m, s or h. */
static int state_header(struct src_mbox *s, struct src_msg *m, struct hdr_state *h,
			enum hdr_kind k, const char *p, const char *end, struct error *err)
{
	long long v;

	switch (k) {
	case HK_BASE:
	case HK_PSEUDO:
		if (!h->first)
			return 0;
		h->pseudo |= k == HK_PSEUDO;
		return base_parse(s, p, end) < 0 ? fail(s, err, "malformed X-IMAPbase") : 0;
	case HK_UID:
		v = number(&p, end);
		if (v <= 0 || v >= UINT32_MAX)
			return fail(s, err, "malformed X-UID");
		m->uid = (uint32_t)v;
		return 0;
	case HK_STATUS:
	case HK_XSTATUS:
		flags_parse(m, p, end, k == HK_XSTATUS);
		return 0;
	case HK_KEYWORDS:
		return keywords_parse(m, p, end) < 0 ? fail(s, err, "invalid keyword") : 0;
	case HK_CLEN:
	case HK_KEEP:
		break;
	}
	return 0;
}

static int is_separator(const struct src_mbox *s)
{
	time_t t;
	return s->llen >= 5 && strncmp(s->l, "From ", 5) == 0 && src_from_date(s->l, s->llen, &t) == 0;
}

static int too_big(struct src_mbox *s, struct error *err)
{
	return fail(s, err, "message larger than the largest allowed");
}

/* A Content-Length field: kept in the message for now, noted. */
static int clen_note(struct src_mbox *s, struct src_msg *m, struct hdr_state *h, int *pnl,
		     size_t vlen)
{
	const char *p = s->l + vlen;
	size_t at = m->body.len + (*pnl ? 2 : 0);

	if (src_msg_line(m, s->l, s->llen, s->max, pnl) < 0)
		return -1;
	if (h->nclen < CLEN_MAX) {
		h->clen[h->nclen].value = number(&p, s->l + s->llen);
		h->clen[h->nclen].at = at;
		h->clen[h->nclen++].len = m->body.len - at;
	}
	return 0;
}

/* A From_ line after seen bytes of body ends the message unless a
 * Content-Length says the body goes on (and none says it ends here). */
static int clen_allows_end(const struct hdr_state *h, unsigned long long seen)
{
	int longer = 0;

	for (size_t i = 0; i < h->nclen; i++) {
		if (h->clen[i].value >= 0 && (unsigned long long)h->clen[i].value == seen)
			return 1;
		longer |= h->clen[i].value >= 0 && (unsigned long long)h->clen[i].value > seen;
	}
	return !longer;
}

/* The Content-Length that framed the body (the first that counts it
 * exactly) out of the message, with its line end. */
static void clen_drop(struct src_msg *m, const struct hdr_state *h, unsigned long long seen)
{
	for (size_t i = 0; i < h->nclen; i++) {
		size_t at = h->clen[i].at, n = h->clen[i].len + 2;
		if (h->clen[i].value < 0 || (unsigned long long)h->clen[i].value != seen)
			continue;
		if (at > m->body.len)
			return;
		if (n > m->body.len - at)
			n = m->body.len - at;
		memmove(m->body.data + at, m->body.data + at + n, m->body.len - at - n);
		m->body.len -= n;
		return;
	}
}

/* The header: state headers taken out, the rest kept. Ends having read
 * the line after the blank one (or a From_ line, or the end). */
static int header_read(struct src_mbox *s, struct src_msg *m, struct hdr_state *h, int *pnl,
		       struct error *err)
{
	enum hdr_kind cur = HK_KEEP;
	size_t vlen = 0;
	int rc;

	while ((rc = next_line(s, err)) == 1 && !is_separator(s)) {
		int cont = s->l[0] == ' ' || s->l[0] == '\t';
		if (!cont)
			cur = hdr_kind(s->l, s->llen, &vlen);
		if (cur == HK_CLEN && !cont && clen_note(s, m, h, pnl, vlen) < 0)
			return too_big(s, err);
		if (cur == HK_CLEN)
			continue;
		if (cur != HK_KEEP) {
			if (!cont && state_header(s, m, h, cur, s->l + vlen, s->l + s->llen, err) < 0)
				return -1;
			continue;
		}
		if (src_msg_line(m, s->l, s->llen, s->max, pnl) < 0)
			return too_big(s, err);
		if (s->l[0] == '\n' || (s->l[0] == '\r' && s->llen == 2 && s->l[1] == '\n'))
			return next_line(s, err);
	}
	return rc;
}

/* The body up to the next From_ line (see clen_allows_end) or the end;
 * the current line is its first. *seen: its bytes in the file, the
 * framing '\n' included. */
static int body_read(struct src_mbox *s, struct src_msg *m, const struct hdr_state *h,
		     int *pnl, unsigned long long *seen, struct error *err)
{
	int rc = s->eof ? 0 : 1;

	*seen = 0;
	while (rc == 1) {
		if (is_separator(s) && clen_allows_end(h, *seen ? *seen - 1 : 0))
			return 1;
		if (src_msg_line(m, s->l, s->llen, s->max, pnl) < 0)
			return too_big(s, err);
		*seen += s->llen;
		rc = next_line(s, err);
	}
	return rc;
}

int src_mbox_next(struct src_mbox *s, struct src_msg *m, struct error *err)
{
	for (;;) {
		struct hdr_state h = { .first = s->nmsg == 0 };
		unsigned long long seen;
		int pnl = 0;

		if (s->eof)
			return 0;
		src_msg_reset(m);
		m->line = s->line;
		if (src_from_date(s->l, s->llen, &m->idate) < 0)
			m->idate = 0;
		if (header_read(s, m, &h, &pnl, err) < 0 ||
		    body_read(s, m, &h, &pnl, &seen, err) < 0)
			return -1;
		clen_drop(m, &h, seen ? seen - 1 : 0);
		s->nmsg++;
		if (!h.pseudo)
			return 1;   /* the held-back line end was framing */
	}
}
