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

/* RFC 5929 4.1: the certificate's own signature hash, SHA-256 instead of
 * MD5 or SHA-1. */
static const EVP_MD *end_point_hash(X509 *cert)
{
	int md;

	if (!X509_get_signature_info(cert, &md, NULL, NULL, NULL) || md == NID_undef ||
	    md == NID_md5 || md == NID_sha1)
		return EVP_sha256();
	return EVP_get_digestbynid(md);
}

int tls_channel_binding(SSL *ssl, const char *name, unsigned char *out, size_t cap,
			size_t *len)
{
	if (strcmp(name, "tls-exporter") == 0) {
		static const char label[] = "EXPORTER-Channel-Binding";
		if (SSL_version(ssl) != TLS1_3_VERSION || cap < 32 ||
		    SSL_export_keying_material(ssl, out, 32, label, sizeof(label) - 1, NULL, 0,
					       0) != 1)
			return -1;
		*len = 32;
		return 0;
	}
	if (strcmp(name, "tls-server-end-point") == 0) {
		X509 *cert = SSL_get_certificate(ssl);
		const EVP_MD *md = cert ? end_point_hash(cert) : NULL;
		unsigned int n = 0;
		if (md == NULL || (size_t)EVP_MD_get_size(md) > cap || !X509_digest(cert, md, out, &n))
			return -1;
		*len = n;
		return 0;
	}
	return -1;
}
