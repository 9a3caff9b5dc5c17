/* Password verification: crypt(3) hashes through libxcrypt (yescrypt,
 * sha512-crypt, bcrypt, ...), stored SCRAM-SHA-256 secrets, and {PLAIN}
 * for tests and demos. Comparisons are constant-time. */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "scram.h"

int password_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Equal strings, in a time that depends on the lengths only. */
static int ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	size_t n = la < lb ? la : lb;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static int scram_verify(const char *plain, const char *stored)
{
	struct scram_secret s;
	int ok;

	if (scram_secret_parse(stored, &s) < 0) {
		log_warn("malformed " SCRAM_PREFIX " secret in passdb");
		return -1;
	}
	ok = scram_password_ok(&s, plain);
	explicit_bzero(&s, sizeof(s));
	return ok;
}

int passdb_user_name_valid(const char *user)
{
	size_t n = strlen(user);
	if (n == 0 || n > 255)
		return 0;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == ':' || *p == '/' || *p == '\\')
			return 0;
	return strcmp(user, ".") != 0 && strcmp(user, "..") != 0;
}

int password_verify(const char *plain, const char *stored, int allow_plain)
{
	static struct crypt_data *cd;
	const char *h = stored;
	char *out;

	if (strncmp(h, "{PLAIN}", 7) == 0) {
		if (!allow_plain) {
			log_warn("{PLAIN} password refused (allow_plain_passwords = no)");
			return -1;
		}
		return ct_equal(plain, h + 7);
	}
	if (strncmp(h, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		return scram_verify(plain, h);
	if (strncmp(h, "{CRYPT}", 7) == 0)
		h += 7;
	if (h[0] == '{') {
		log_warn("unsupported password scheme in passdb");
		return -1;
	}
	if (h[0] == '\0' || h[0] == '!' || h[0] == '*')
		return 0;  /* locked or empty: never matches */
	if (cd == NULL)
		cd = xcalloc(1, sizeof(*cd));
	out = crypt_r(plain, h, cd);
	if (out == NULL || out[0] == '*') {
		log_warn("password hash in passdb is not usable by crypt(3)");
		return -1;
	}
	int ok = ct_equal(out, h);
	explicit_bzero(cd, sizeof(*cd));
	return ok;
}

/* The part of a stored hash that says how to hash (scheme, cost, salt):
 * crypt(3)'s setting, or the iterations of a SCRAM secret. */
void password_like(const char *stored, char *out, size_t cap)
{
	const char *h = strncmp(stored, "{CRYPT}", 7) == 0 ? stored + 7 : stored;
	const char *end = strrchr(h, '$');
	size_t n;

	if (strncmp(h, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		n = strcspn(h, ",");
	else if (h[0] != '$')
		n = 0;  /* {PLAIN}, locked, empty: no work to copy */
	else if (strncmp(h, "$2", 2) == 0)
		n = strlen(h) < 29 ? 0 : 29;  /* bcrypt: $2b$NN$ and 22 salt characters */
	else
		n = end && end > h ? (size_t)(end - h) : 0;
	if (n >= cap)
		n = 0;
	memcpy(out, h, n);
	out[n] = '\0';
}

void password_burn(const char *plain, const char *like)
{
	static struct crypt_data *cd;
	unsigned long iter;

	if (strncmp(like, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0) {
		struct scram_secret s;
		static const unsigned char salt[16];
		iter = strtoul(like + strlen(SCRAM_PREFIX), NULL, 10);
		scram_secret_derive(plain, salt, sizeof(salt),
				    iter >= 1 && iter <= SCRAM_ITER_MAX ? (unsigned)iter : 4096, &s);
		explicit_bzero(&s, sizeof(s));
		return;
	}
	if (like[0] != '$')
		return;
	if (cd == NULL)
		cd = xcalloc(1, sizeof(*cd));
	(void)crypt_r(plain, like, cd);
	explicit_bzero(cd, sizeof(*cd));
}

char *password_hash(const char *plain, const char *prefix)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *salt = crypt_gensalt_rn(prefix, 0, NULL, 0, cd->setting, sizeof(cd->setting));
	char *out = salt ? crypt_r(plain, salt, cd) : NULL;
	char *h = out && out[0] != '*' ? xstrdup(out) : NULL;

	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return h;
}

char *password_dummy_hash(void)
{
	char *h = password_hash("haven-dummy", "$y$");
	return h ? h : xstrdup("*");
}
