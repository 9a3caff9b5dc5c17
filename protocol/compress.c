/* COMPRESS=DEFLATE (RFC 4978): raw DEFLATE (RFC 1951, no zlib header) in
 * both directions, from just after the tagged OK. The user worker holds
 * the client's connection (plain, or the socketpair the login worker's
 * TLS proxy serves), so compression sits where the RFC wants it: under
 * the IMAP framing, over TLS.
 *
 * A libevent filter bufferevent goes in front of the transport. Output is
 * deflated with Z_SYNC_FLUSH each time the filter runs: the filter's
 * callbacks are deferred to the end of the loop iteration, so one flush
 * ends what the worker wrote in one go (a whole response, an IDLE
 * notification), and the client never waits for bytes stuck in the
 * compressor. Input is inflated ZCHUNK bytes per zlib call, about
 * COMPRESS_IN_CHUNK per filter run, and the filter stops while the session
 * has COMPRESS_IN_HIGH unread bytes: a small compressed input cannot
 * balloon in memory, and the session's line and literal limits see the
 * inflated bytes as they would plain ones. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "compress.h"
#include "worker.h"

#define COMPRESS_IN_CHUNK (64 * 1024)
#define COMPRESS_IN_HIGH (1024 * 1024)
#define COMPRESS_OUT_HIGH (256 * 1024)   /* underlying output: then the filter waits */

#define ZCHUNK 4096   /* input bytes per inflate call: bounds what one call can make */

struct deflate_pair {
	z_stream in, out;
};

/* One call of the (in|de)flater over at most ZCHUNK bytes of src into
 * fresh space of dst. Returns zlib's result; *left: output room unused. */
static int zstep(z_stream *z, int inflating, struct evbuffer *src, struct evbuffer *dst,
		 int flush, size_t *made, size_t *left)
{
	size_t len = evbuffer_get_length(src), take = len > ZCHUNK ? ZCHUNK : len;
	struct evbuffer_iovec v;
	int r;

	if (evbuffer_reserve_space(dst, 4 * ZCHUNK, &v, 1) < 1)
		return Z_MEM_ERROR;
	z->next_in = take ? evbuffer_pullup(src, (ev_ssize_t)take) : NULL;
	z->avail_in = (uInt)take;
	z->next_out = v.iov_base;
	z->avail_out = (uInt)v.iov_len;
	r = inflating ? inflate(z, Z_NO_FLUSH) : deflate(z, take == len ? flush : Z_NO_FLUSH);
	v.iov_len -= z->avail_out;
	evbuffer_commit_space(dst, &v, 1);
	evbuffer_drain(src, take - z->avail_in);
	*made += v.iov_len;
	*left = z->avail_out;
	return r;
}

/* Inflate src into dst: until src is empty and the inflater holds nothing
 * back, or (while src still has bytes, so the filter runs again) about
 * room bytes were made. 0, or -1 if the stream is broken or ended (a
 * client never ends it). */
static int inflate_some(z_stream *z, struct evbuffer *src, struct evbuffer *dst, size_t room)
{
	size_t made = 0, left;

	for (;;) {
		int r = zstep(z, 1, src, dst, Z_NO_FLUSH, &made, &left);
		if (r == Z_BUF_ERROR)
			return 0;                     /* no progress: needs more input */
		if (r != Z_OK)
			return -1;
		if (evbuffer_get_length(src) == 0 ? left > 0 : made >= room)
			return 0;
	}
}

/* Deflate all of src into dst, ending with a sync flush so that the
 * client can read everything at once. 0 or -1. */
static int deflate_all(z_stream *z, struct evbuffer *src, struct evbuffer *dst)
{
	size_t made = 0, left;

	for (;;) {
		int r = zstep(z, 0, src, dst, Z_SYNC_FLUSH, &made, &left);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;
		if (evbuffer_get_length(src) == 0 && left > 0)
			return 0;
	}
}

int deflate_pair_inflate(struct deflate_pair *d, struct evbuffer *src, struct evbuffer *dst,
			 size_t room)
{
	return inflate_some(&d->in, src, dst, room);
}

int deflate_pair_deflate(struct deflate_pair *d, struct evbuffer *src, struct evbuffer *dst)
{
	return evbuffer_get_length(src) ? deflate_all(&d->out, src, dst) : 0;
}

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst,
						ev_ssize_t limit, enum bufferevent_flush_mode mode,
						void *arg)
{
	size_t room = limit > 0 && limit < COMPRESS_IN_CHUNK ? (size_t)limit : COMPRESS_IN_CHUNK;

	if (deflate_pair_inflate(arg, src, dst, room) < 0) {
		log_info("COMPRESS: the client's deflate stream is broken");
		return BEV_ERROR;
	}
	return BEV_OK;
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst,
						 ev_ssize_t limit, enum bufferevent_flush_mode mode,
						 void *arg)
{
	return deflate_pair_deflate(arg, src, dst) < 0 ? BEV_ERROR : BEV_OK;
}

void deflate_pair_free(void *arg)
{
	struct deflate_pair *d = arg;

	inflateEnd(&d->in);
	deflateEnd(&d->out);
	free(d);
}

struct deflate_pair *deflate_pair_new(void)
{
	struct deflate_pair *d = xcalloc(1, sizeof(*d));

	/* -15: raw DEFLATE, 32 KiB window, as RFC 4978 says; level 1 is its
	 * advice for a server (the least CPU). */
	if (inflateInit2(&d->in, -15) != Z_OK) {
		free(d);
		return NULL;
	}
	if (deflateInit2(&d->out, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		inflateEnd(&d->in);
		free(d);
		return NULL;
	}
	return d;
}

void cmd_compress(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);
	struct deflate_pair *d;
	struct bufferevent *bev;

	if (cmd->nargs != 1 || !imap_arg_is_atom(&cmd->args[0], "DEFLATE")) {
		session_tagged(s, cmd->tag, "BAD", NULL, "COMPRESS takes DEFLATE");
		return;
	}
	if (ws->compressed) {
		session_tagged(s, cmd->tag, "NO", "COMPRESSIONACTIVE", "DEFLATE is active already");
		return;
	}
	if ((d = deflate_pair_new()) == NULL) {
		session_tagged(s, cmd->tag, "NO", "SERVERBUG", "Compression unavailable");
		return;
	}
	/* The OK leaves uncompressed, before the filter is in place. */
	session_tagged(s, cmd->tag, "OK", NULL, "DEFLATE active");
	bev = bufferevent_filter_new(s->bev, filter_in, filter_out,
				     BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, deflate_pair_free, d);
	if (bev == NULL) {
		deflate_pair_free(d);
		session_close(s);
		return;
	}
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, COMPRESS_OUT_HIGH);
	session_push_bev(s, bev);
	bufferevent_setwatermark(bev, EV_READ, 0, COMPRESS_IN_HIGH);
	ws->compressed = 1;
}
