#include "tls.h"

#include <openssl/err.h>

static void ssl_error(struct error *err, const char *what, const char *path)
{
	char msg[256];
	ERR_error_string_n(ERR_get_error(), msg, sizeof(msg));
	error_set(err, ERR_INTERNAL, "%s %s: %s", what, path, msg);
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key, struct error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_error(err, "SSL_CTX_new", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(err, "certificate", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, "private key", key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
