/* Server-side TLS context, loaded while still root (the key is readable
 * only by root) and used after the privilege drop. */
#ifndef HAVEN_TLS_H
#define HAVEN_TLS_H
#include <openssl/ssl.h>
#include "error.h"

SSL_CTX *tls_server_ctx(const char *cert, const char *key, struct error *err);

#endif
