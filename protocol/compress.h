/* The two DEFLATE streams of a COMPRESS=DEFLATE connection (RFC 4978) and
 * the steps the connection's filter runs them in (compress.c), apart so
 * that the fuzz target drives exactly what a client's bytes reach. */
#ifndef HAVEN_COMPRESS_H
#define HAVEN_COMPRESS_H
#include <stddef.h>

struct evbuffer;
struct deflate_pair;

/* Raw DEFLATE both ways; NULL if zlib cannot start. */
struct deflate_pair *deflate_pair_new(void);
void deflate_pair_free(void *d);
/* Inflate the client's bytes in src into dst: all of them, or (while src
 * still holds some, so the caller comes back) about room bytes. What one
 * call adds is bounded whatever the input. 0, or -1 when the stream is
 * broken or ended. */
int deflate_pair_inflate(struct deflate_pair *d, struct evbuffer *src, struct evbuffer *dst,
			 size_t room);
/* Deflate all of src into dst and sync-flush, so the peer can read it
 * all now. 0 or -1. */
int deflate_pair_deflate(struct deflate_pair *d, struct evbuffer *src, struct evbuffer *dst);

#endif
