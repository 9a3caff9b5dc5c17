#include "base64.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];
			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return -1;  /* data after padding */
			v[j] = base64_value(c);
			if (v[j] < 0)
				return -1;
		}
		unsigned long n = ((unsigned long)v[0] << 18) | ((unsigned long)v[1] << 12) |
				  ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		char b[3] = { (char)(n >> 16), (char)(n >> 8), (char)n };
		buf_append(out, b, (size_t)(3 - pad));
	}
	return 0;
}

int base64url_decode(const char *in, size_t len, struct buf *out)
{
	struct buf std = BUF_INIT;
	int r = -1;

	if (len % 4 == 1)
		goto out;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '+' || c == '/' || c == '=')
			goto out;
		buf_append_byte(&std, c == '-' ? '+' : c == '_' ? '/' : c);
	}
	while (std.len % 4)
		buf_append_byte(&std, '=');
	r = base64_decode(std.data ? std.data : "", std.len, out);
out:
	buf_free(&std);
	return r;
}

void base64_encode(const void *in, size_t len, struct buf *out)
{
	const unsigned char *p = in;
	for (size_t i = 0; i < len; i += 3) {
		unsigned long n = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			n |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			n |= p[i + 2];
		buf_append_byte(out, alphabet[(n >> 18) & 63]);
		buf_append_byte(out, alphabet[(n >> 12) & 63]);
		buf_append_byte(out, i + 1 < len ? alphabet[(n >> 6) & 63] : '=');
		buf_append_byte(out, i + 2 < len ? alphabet[n & 63] : '=');
	}
}
