#if HAVE_OAUTH
#include "jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include "../lib/base64.h"
#include "../lib/buf.h"
#include "../lib/xmalloc.h"

/* A base64url JSON object: NULL when it is not one. */
static json_t *object_of(const char *b64, size_t len)
{
	struct buf raw = BUF_INIT;
	json_t *j = NULL;

	if (base64url_decode(b64, len, &raw) == 0 && raw.len > 0)
		j = json_loadb(raw.data, raw.len, JSON_REJECT_DUPLICATES, NULL);
	buf_free(&raw);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int jwt_parse(const char *token, struct jwt *out, struct error *err)
{
	const char *d1, *d2;
	size_t len = strlen(token);
	struct buf sig = BUF_INIT;

	memset(out, 0, sizeof(*out));
	if (len > JWT_MAX || (d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL) {
		error_set(err, ERR_PARSE, "not a signed JWT (three parts)");
		return -1;
	}
	out->header = object_of(token, (size_t)(d1 - token));
	out->claims = object_of(d1 + 1, (size_t)(d2 - d1 - 1));
	if (out->header == NULL || out->claims == NULL ||
	    base64url_decode(d2 + 1, strlen(d2 + 1), &sig) < 0 || sig.len == 0) {
		error_set(err, ERR_PARSE, "JWT header, claims or signature malformed");
		buf_free(&sig);
		jwt_free(out);
		return -1;
	}
	out->siglen = sig.len;
	out->sig = (unsigned char *)buf_steal(&sig);
	out->signed_part = xstrndup(token, (size_t)(d2 - token));
	return 0;
}

void jwt_free(struct jwt *j)
{
	json_decref(j->header);
	json_decref(j->claims);
	free(j->sig);
	free(j->signed_part);
	memset(j, 0, sizeof(*j));
}

/* ES256's signature is r || s, 32 bytes each (RFC 7518 3.4); OpenSSL
 * wants DER. */
static int es256_der(const unsigned char *raw, size_t len, unsigned char **der, int *dlen)
{
	ECDSA_SIG *s;
	BIGNUM *r, *ss;

	if (len != 64 || (s = ECDSA_SIG_new()) == NULL)
		return -1;
	r = BN_bin2bn(raw, 32, NULL);
	ss = BN_bin2bn(raw + 32, 32, NULL);
	if (r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
		BN_free(r);
		BN_free(ss);
		ECDSA_SIG_free(s);
		return -1;
	}
	*der = NULL;
	*dlen = i2d_ECDSA_SIG(s, der);
	ECDSA_SIG_free(s);
	return *dlen > 0 ? 0 : -1;
}

/* The algorithm key can verify: "RS256", "ES256" or NULL. */
static const char *key_alg(EVP_PKEY *key)
{
	char group[32];

	if (EVP_PKEY_is_a(key, "RSA"))
		return "RS256";
	if (EVP_PKEY_is_a(key, "EC") &&
	    EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					   NULL) && strcmp(group, "prime256v1") == 0)
		return "ES256";
	return NULL;
}

int jwt_verify(const struct jwt *j, EVP_PKEY *key, struct error *err)
{
	const char *alg = json_string_value(json_object_get(j->header, "alg"));
	const char *want = key_alg(key);
	const unsigned char *sig = j->sig;
	unsigned char *der = NULL;
	int siglen = (int)j->siglen, ok;
	EVP_MD_CTX *md;

	/* The key decides the algorithm, never the token ("none", HS256
	 * with the public key as secret, ...). */
	if (alg == NULL || want == NULL || strcmp(alg, want) != 0) {
		error_set(err, ERR_PARSE, "JWT alg \"%s\" is not the key's (%s)", alg ? alg : "",
			  want ? want : "unusable key");
		return -1;
	}
	if (strcmp(alg, "ES256") == 0) {
		if (es256_der(j->sig, j->siglen, &der, &siglen) < 0) {
			error_set(err, ERR_PARSE, "ES256 signature malformed");
			return -1;
		}
		sig = der;
	}
	md = EVP_MD_CTX_new();
	ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, sig, (size_t)siglen, (const unsigned char *)j->signed_part,
			      strlen(j->signed_part)) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	if (!ok)
		error_set(err, ERR_PARSE, "JWT signature does not verify");
	return ok ? 0 : -1;
}

/* A NumericDate claim: 1 present (in *t), 0 absent, -1 not a number. */
static int time_claim(const json_t *claims, const char *name, json_int_t *t)
{
	const json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return 0;
	if (json_is_integer(v))
		*t = json_integer_value(v);
	else if (json_is_real(v))
		*t = (json_int_t)json_real_value(v);
	else
		return -1;
	return 1;
}

static int audience_has(const json_t *aud, const char *want)
{
	size_t i;
	const json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return 1;
	return 0;
}

static int times_check(const json_t *claims, const struct jwt_rules *rules, time_t now,
		       struct error *err)
{
	long leeway = rules->leeway;
	json_int_t exp, nbf;
	int r = time_claim(claims, "exp", &exp);

	if (r < 0 || (r == 0 && rules->need_exp)) {
		error_set(err, ERR_PARSE, "token has no expiry (exp)");
		return -1;
	}
	if (r == 1 && exp + leeway < now) {
		error_set(err, ERR_PARSE, "token expired");
		return -1;
	}
	if ((r = time_claim(claims, "nbf", &nbf)) < 0 || (r == 1 && nbf - leeway > now)) {
		error_set(err, ERR_PARSE, "token not valid yet (nbf)");
		return -1;
	}
	return 0;
}

int jwt_claims_check(const json_t *claims, const struct jwt_rules *rules, time_t now,
		     char *user, size_t cap, struct error *err)
{
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	const char *name = json_string_value(json_object_get(claims, rules->user_claim));

	if (times_check(claims, rules, now, err) < 0)
		return -1;
	if (rules->issuer[0] && (iss == NULL || strcmp(iss, rules->issuer) != 0)) {
		error_set(err, ERR_PARSE, "token from another issuer");
		return -1;
	}
	if (rules->audience[0] && !audience_has(json_object_get(claims, "aud"), rules->audience)) {
		error_set(err, ERR_PARSE, "token for another audience");
		return -1;
	}
	if (name == NULL || name[0] == '\0' || strlen(name) >= cap) {
		error_set(err, ERR_PARSE, "token has no usable \"%s\" claim", rules->user_claim);
		return -1;
	}
	memcpy(user, name, strlen(name) + 1);
	return 0;
}

EVP_PKEY *jwt_key_load(const char *path, struct error *err)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (f == NULL) {
		error_set(err, ERR_NONEXISTENT, "%s: cannot open", path);
		return NULL;
	}
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL || key_alg(k) == NULL) {
		error_set(err, ERR_PARSE, "%s: not a PEM RSA or P-256 public key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}
#endif
