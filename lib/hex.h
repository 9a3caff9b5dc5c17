/* Hex digits, for the percent and "=XX" escapes of MIME and RFC 2231. */
#ifndef HAVEN_HEX_H
#define HAVEN_HEX_H
#include <stddef.h>

/* 0..15 for 0-9, a-f, A-F; -1 otherwise. */
int hex_value(unsigned char c);

struct buf;
/* data[0..len) as lower-case hex digits, appended to out (a bytea in
 * a text parameter, decode(x, 'hex')). */
void hex_append(struct buf *out, const void *data, size_t len);
#endif
