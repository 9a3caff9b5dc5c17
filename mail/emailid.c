/* EMAILID from a message's bytes (see emailid.h). */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "emailid.h"

struct mail_emailid_state {
	EVP_MD_CTX *md;
};

void mail_emailid_from_sha256(const unsigned char *sha, char out[MAIL_EMAILID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = 'M';
	for (size_t i = 0; i < MAIL_EMAILID_HEX / 2; i++) {
		out[1 + 2 * i] = hex[sha[i] >> 4];
		out[2 + 2 * i] = hex[sha[i] & 15];
	}
	out[MAIL_EMAILID_SIZE - 1] = '\0';
}

void mail_emailid(const char *msg, size_t len, char out[MAIL_EMAILID_SIZE])
{
	unsigned char sha[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)msg, len, sha);
	mail_emailid_from_sha256(sha, out);
}

int mail_objectid_valid(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

struct mail_emailid_state *mail_emailid_begin(void)
{
	struct mail_emailid_state *st = xmalloc(sizeof(*st));
	st->md = EVP_MD_CTX_new();
	if (st->md == NULL || EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1)
		fatal("EMAILID: SHA-256 is not available");
	return st;
}

void mail_emailid_update(struct mail_emailid_state *st, const void *p, size_t n)
{
	EVP_DigestUpdate(st->md, p, n);
}

void mail_emailid_end(struct mail_emailid_state *st, char out[MAIL_EMAILID_SIZE])
{
	unsigned char sha[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(st->md, sha, &len);
	mail_emailid_from_sha256(sha, out);
	EVP_MD_CTX_free(st->md);
	free(st);
}
