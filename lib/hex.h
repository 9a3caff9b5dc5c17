/* Hex digits, for the percent and "=XX" escapes of MIME and RFC 2231. */
#ifndef HAVEN_HEX_H
#define HAVEN_HEX_H

/* 0..15 for 0-9, a-f, A-F; -1 otherwise. */
int hex_value(unsigned char c);

#endif
