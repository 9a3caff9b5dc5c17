/* The DATA stream (RFC 5321 4.5.2): dot-stuffing removed, the end found
 * at a line that is exactly ".". Lines end with CRLF only, so the state
 * between two feeds is where the last byte left us in a line: at its
 * start, after a CR, after a leading dot (dropped), after that dot's CR
 * (held back: if LF follows, it is the end and no message byte). No
 * line is ever buffered, and output leaves in runs of the caller's own
 * buffer, cut only where a dot is dropped. */
#include "lmtp_parse.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

enum lmtp_data_state {
	DATA_BOL,      /* at the start of a line */
	DATA_TEXT,     /* inside a line */
	DATA_CR,       /* inside a line, after a CR */
	DATA_DOT,      /* after a line's leading dot, dropped */
	DATA_DOT_CR,   /* after ".\r" at the start of a line, the CR held back */
	DATA_DONE,     /* ".\r\n" seen */
};

/* What one byte does to the output. */
enum lmtp_data_step {
	STEP_KEEP,     /* the byte is message data */
	STEP_DROP,     /* the byte is not (a stuffing dot, a CR held back) */
	STEP_UNHOLD,   /* the held CR was data after all, and so is this byte */
	STEP_END,      /* the LF of ".\r\n" */
};

struct lmtp_data {
	lmtp_sink sink;
	void *ctx;
	enum lmtp_data_state st;
	int failed;    /* the sink refused: only the end is looked for */
};

struct lmtp_data *lmtp_data_new(lmtp_sink sink, void *ctx)
{
	struct lmtp_data *d = xmalloc(sizeof(*d));

	d->sink = sink;
	d->ctx = ctx;
	d->st = DATA_BOL;
	d->failed = 0;
	return d;
}

void lmtp_data_free(struct lmtp_data *d)
{
	free(d);
}

static enum lmtp_data_step lmtp_data_step(struct lmtp_data *d, unsigned char c)
{
	switch (d->st) {
	case DATA_BOL:
		if (c == '.') {
			d->st = DATA_DOT;
			return STEP_DROP;
		}
		break;
	case DATA_DOT:
		if (c == '\r') {
			d->st = DATA_DOT_CR;
			return STEP_DROP;
		}
		break;
	case DATA_DOT_CR:
		if (c == '\n') {
			d->st = DATA_DONE;
			return STEP_END;
		}
		d->st = c == '\r' ? DATA_CR : DATA_TEXT;
		return STEP_UNHOLD;
	case DATA_CR:
		if (c == '\n') {
			d->st = DATA_BOL;
			return STEP_KEEP;
		}
		break;
	default:
		break;
	}
	d->st = c == '\r' ? DATA_CR : DATA_TEXT;
	return STEP_KEEP;
}

static int lmtp_data_emit(struct lmtp_data *d, const void *p, size_t n)
{
	if (n == 0 || d->failed)
		return 0;
	return d->sink(d->ctx, p, n) < 0 ? -1 : 0;
}

/* Inside a line nothing matters until the next CR: skip to it at
 * memchr's speed instead of stepping byte by byte. */
static size_t lmtp_data_skip_text(const struct lmtp_data *d, const unsigned char *b, size_t i,
				  size_t len)
{
	const unsigned char *cr;

	if (d->st != DATA_TEXT)
		return i;
	cr = memchr(b + i, '\r', len - i);
	return cr ? (size_t)(cr - b) : len;
}

/* One pass over b[0..len): *start..*stop is the run still to be emitted
 * when it returns, *stop the count of bytes consumed. */
static int lmtp_data_scan(struct lmtp_data *d, const unsigned char *b, size_t len,
			  size_t *start, size_t *stop)
{
	size_t i = 0;

	*start = 0;
	while ((i = lmtp_data_skip_text(d, b, i, len)) < len) {
		switch (lmtp_data_step(d, b[i])) {
		case STEP_KEEP:
			break;
		case STEP_DROP:
			if (lmtp_data_emit(d, b + *start, i - *start) < 0)
				return -1;
			*start = i + 1;
			break;
		case STEP_UNHOLD:
			/* The CR was dropped just before this byte, or ended
			 * the last feed and is no longer at hand. */
			if (i > 0)
				*start = i - 1;
			else if (lmtp_data_emit(d, "\r", 1) < 0)
				return -1;
			break;
		case STEP_END:
			*stop = i + 1;
			return 0;
		}
		i++;
	}
	*stop = len;
	return 0;
}

ssize_t lmtp_data_feed(struct lmtp_data *d, const void *buf, size_t len, int *done)
{
	enum lmtp_data_state entry = d->st;
	size_t start, stop;

	if (d->st != DATA_DONE) {
		if (lmtp_data_scan(d, buf, len, &start, &stop) < 0 ||
		    lmtp_data_emit(d, (const unsigned char *)buf + start,
				   (d->st == DATA_DONE ? stop - 1 : stop) - start) < 0) {
			/* Back to where this feed began, so the caller can
			 * give the same bytes again to find the end. */
			d->st = entry;
			d->failed = 1;
			*done = 0;
			return -1;
		}
	} else {
		stop = 0;
	}
	*done = d->st == DATA_DONE;
	return (ssize_t)stop;
}
