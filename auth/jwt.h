/* JSON Web Tokens (RFC 7519) as OAUTHBEARER brings them: compact JWS
 * (RFC 7515) signed RS256 or ES256 (RFC 7518) with the configured key,
 * and the claims a login needs (exp, nbf, iss, aud, the user's name).
 * Also the claim checks of a token-introspection answer (RFC 7662),
 * which has the same names. Built with jansson (HAVE_OAUTH). */
#ifndef HAVEN_JWT_H
#define HAVEN_JWT_H
#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "../lib/error.h"

#define JWT_MAX 16384

struct jwt {
	json_t *header, *claims;
	unsigned char *sig;
	size_t siglen;
	char *signed_part;          /* base64url(header) "." base64url(claims) */
};

/* What a token must say. Empty issuer/audience: not checked. */
struct jwt_rules {
	const char *issuer, *audience, *user_claim;
	long leeway;                /* seconds of clock difference allowed */
	int need_exp;               /* a JWT must expire; an introspection
				     * answer may leave exp out */
};

/* Split and decode: 0, or -1 (err) when it is no JWS of JSON objects. */
int jwt_parse(const char *token, struct jwt *out, struct error *err);
void jwt_free(struct jwt *j);
/* The signature with key: its "alg" must be the key's (RS256 for RSA,
 * ES256 for P-256). 0, or -1 with err. */
int jwt_verify(const struct jwt *j, EVP_PKEY *key, struct error *err);
/* exp (required when rules say so), nbf, iss, aud against rules at now; the user's name
 * (the user_claim, a string) into user. 0, or -1 with err. */
int jwt_claims_check(const json_t *claims, const struct jwt_rules *rules, time_t now,
		     char *user, size_t cap, struct error *err);
/* A PEM public key (RSA or EC P-256): NULL with err when unusable. */
EVP_PKEY *jwt_key_load(const char *path, struct error *err);

#endif
