#include "scram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "../lib/base64.h"
#include "../lib/buf.h"

static void hmac(const unsigned char *key, size_t klen, const void *data, size_t len,
		 unsigned char out[SCRAM_KEY_LEN])
{
	unsigned int olen = SCRAM_KEY_LEN;
	HMAC(EVP_sha256(), key, (int)klen, data, len, out, &olen);
}

/* One base64 field of the stored text into out (exactly want bytes, or
 * at most want when exact is 0). */
static int field_decode(const char *s, size_t len, unsigned char *out, size_t want, int exact,
			size_t *got)
{
	struct buf b = BUF_INIT;
	int ok = base64_decode(s, len, &b) == 0 && (exact ? b.len == want : b.len > 0 && b.len <= want);

	if (ok) {
		memcpy(out, b.data, b.len);
		*got = b.len;
	}
	buf_free_secret(&b);
	return ok ? 0 : -1;
}

int scram_secret_parse(const char *text, struct scram_secret *out)
{
	const char *f[4], *p;
	size_t len[4], got;
	char *end;
	unsigned long iter;

	if (strncmp(text, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		text += strlen(SCRAM_PREFIX);
	p = text;
	for (int i = 0; i < 4; i++) {
		f[i] = p;
		len[i] = strcspn(p, ",");
		p += len[i];
		if (i < 3 && *p++ != ',')
			return -1;
	}
	if (*p != '\0' || len[0] == 0 || len[0] > 7)
		return -1;
	iter = strtoul(f[0], &end, 10);
	if (end != f[0] + len[0] || iter < 1 || iter > SCRAM_ITER_MAX)
		return -1;
	out->iter = (unsigned)iter;
	if (field_decode(f[1], len[1], out->salt, SCRAM_SALT_MAX, 0, &out->salt_len) < 0 ||
	    field_decode(f[2], len[2], out->stored_key, SCRAM_KEY_LEN, 1, &got) < 0 ||
	    field_decode(f[3], len[3], out->server_key, SCRAM_KEY_LEN, 1, &got) < 0)
		return -1;
	return 0;
}

int scram_secret_format(const struct scram_secret *s, char *out, size_t cap)
{
	struct buf salt = BUF_INIT, st = BUF_INIT, sv = BUF_INIT;
	int n;

	base64_encode(s->salt, s->salt_len, &salt);
	base64_encode(s->stored_key, SCRAM_KEY_LEN, &st);
	base64_encode(s->server_key, SCRAM_KEY_LEN, &sv);
	n = snprintf(out, cap, SCRAM_PREFIX "%u,%s,%s,%s", s->iter, salt.data, st.data, sv.data);
	buf_free(&salt);
	buf_free_secret(&st);
	buf_free_secret(&sv);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void scram_secret_derive(const char *password, const unsigned char *salt, size_t salt_len,
			 unsigned iter, struct scram_secret *out)
{
	unsigned char salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];

	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, (int)iter,
			  EVP_sha256(), SCRAM_KEY_LEN, salted);
	hmac(salted, SCRAM_KEY_LEN, "Client Key", 10, client_key);
	SHA256(client_key, SCRAM_KEY_LEN, out->stored_key);
	hmac(salted, SCRAM_KEY_LEN, "Server Key", 10, out->server_key);
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iter = iter;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
}

int scram_proof_ok(const struct scram_secret *s, const char *auth_message,
		   const unsigned char *proof, size_t proof_len)
{
	unsigned char sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN];
	int ok;

	if (proof_len != SCRAM_KEY_LEN)
		return 0;
	hmac(s->stored_key, SCRAM_KEY_LEN, auth_message, strlen(auth_message), sig);
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	SHA256(client_key, SCRAM_KEY_LEN, stored);
	ok = CRYPTO_memcmp(stored, s->stored_key, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return ok;
}

void scram_server_signature(const struct scram_secret *s, const char *auth_message,
			    unsigned char out[SCRAM_KEY_LEN])
{
	hmac(s->server_key, SCRAM_KEY_LEN, auth_message, strlen(auth_message), out);
}

int scram_password_ok(const struct scram_secret *s, const char *password)
{
	struct scram_secret d;
	int ok;

	scram_secret_derive(password, s->salt, s->salt_len, s->iter, &d);
	ok = CRYPTO_memcmp(d.stored_key, s->stored_key, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(&d, sizeof(d));
	return ok;
}
