/* Base64 (RFC 4648) for SASL exchanges. */
#ifndef HAVEN_BASE64_H
#define HAVEN_BASE64_H
#include <stddef.h>
#include "buf.h"

/* Strict decode: only the alphabet, correct '=' padding, no whitespace.
 * Returns 0 and appends the bytes to out, or -1. */
int base64_decode(const char *in, size_t len, struct buf *out);
void base64_encode(const void *in, size_t len, struct buf *out);
/* RFC 4648 section 5 without padding (JWT): 0, or -1. */
int base64url_decode(const char *in, size_t len, struct buf *out);
/* 0..63 for a character of the standard alphabet, -1 otherwise. */
int base64_value(unsigned char c);

#endif
