/* Server-side TLS context, loaded while still root (the key is readable
 * only by root) and used after the privilege drop. */
#ifndef HAVEN_TLS_H
#define HAVEN_TLS_H
#include <openssl/ssl.h>
#include "error.h"

SSL_CTX *tls_server_ctx(const char *cert, const char *key, struct error *err);
/* Channel binding data of a server-side connection (SCRAM -PLUS):
 * "tls-exporter" (RFC 9266, TLS 1.3 only) or "tls-server-end-point"
 * (RFC 5929: the hash of our certificate). 0 with *len, or -1. */
int tls_channel_binding(SSL *ssl, const char *name, unsigned char *out, size_t cap,
			size_t *len);

#endif
