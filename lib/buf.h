/* Growable byte buffer. Always NUL-terminated past len so text users can
 * treat data as a C string, but may hold arbitrary bytes. */
#ifndef HAVEN_BUF_H
#define HAVEN_BUF_H
#include <stddef.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* buf_free after overwriting the storage: for passwords and keys. */
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_byte(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hand the storage to the caller (NUL-terminated); b becomes empty. */
char *buf_steal(struct buf *b);

#endif
