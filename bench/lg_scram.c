/* --scram: the client's side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for
 * the login profile, so that a login costs what a real SCRAM client's
 * does (a PBKDF2 on each side) and the server's signature is checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "loadgen.h"

static void b64(const void *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Base64 text up to the line end, decoded into out (NUL-terminated): its
 * length, or -1 when it is not base64 or does not fit. */
static int unb64(const char *in, unsigned char *out, size_t cap)
{
	size_t n = strcspn(in, "\r\n");
	int len;

	if (n % 4 || n / 4 * 3 >= cap)
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	len -= (n >= 1 && in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
	out[len] = '\0';
	return len;
}

void scram_first(struct conn *c, const char *user, const char *pass)
{
	unsigned char rnd[18];
	char nonce[32], first[200], out[300];

	RAND_bytes(rnd, sizeof(rnd));
	b64(rnd, sizeof(rnd), nonce);
	snprintf(c->scram_bare, sizeof(c->scram_bare), "n=%s,r=%s", user, nonce);
	snprintf(c->scram_pass, sizeof(c->scram_pass), "%s", pass);
	snprintf(first, sizeof(first), "n,,%s", c->scram_bare);
	b64(first, strlen(first), out);
	c->scram_step = 1;
	send_cmd(c, C_LOGIN, "AUTHENTICATE SCRAM-SHA-256 %s", out);
}

static void hmac256(const void *key, size_t klen, const void *d, size_t n, unsigned char *out)
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len);
}

/* The proof for auth message am from the salted password; keeps the
 * server signature to expect in c. */
static void scram_prove(struct conn *c, const unsigned char *salted, const char *am,
			unsigned char *proof)
{
	unsigned char ck[32], sk[32], stored[32], sig[32];

	hmac256(salted, 32, "Client Key", 10, ck);
	hmac256(salted, 32, "Server Key", 10, sk);
	SHA256(ck, 32, stored);
	hmac256(stored, 32, am, strlen(am), sig);
	for (int k = 0; k < 32; k++)
		proof[k] = ck[k] ^ sig[k];
	hmac256(sk, 32, am, strlen(am), c->scram_sig);
}

/* client-final-message for server-first sf, base64 in out: 0, or -1 when
 * sf is not a server-first message. */
static int scram_final(struct conn *c, const char *sf, char *out, size_t cap)
{
	const char *r = strstr(sf, "r="), *s = strstr(sf, ",s="), *i = strstr(sf, ",i=");
	unsigned char salt[128], salted[32], proof[32];
	char saltb[200], without[400], am[1200], pb[64], msg[600];
	int slen;

	if (r != sf || !s || !i || i < s)
		return -1;
	snprintf(saltb, sizeof(saltb), "%.*s", (int)(i - s - 3), s + 3);
	if ((slen = unb64(saltb, salt, sizeof(salt))) < 0)
		return -1;
	PKCS5_PBKDF2_HMAC(c->scram_pass, (int)strlen(c->scram_pass), salt, slen, atoi(i + 3),
			  EVP_sha256(), 32, salted);
	snprintf(without, sizeof(without), "c=biws,r=%.*s", (int)(s - r - 2), r + 2);
	snprintf(am, sizeof(am), "%s,%s,%s", c->scram_bare, sf, without);
	scram_prove(c, salted, am, proof);
	b64(proof, 32, pb);
	snprintf(msg, sizeof(msg), "%s,p=%s", without, pb);
	if (cap < 4 * (strlen(msg) / 3 + 1) + 1)
		return -1;
	b64(msg, strlen(msg), out);
	return 0;
}

static void scram_give_up(struct conn *c, struct evbuffer *out)
{
	proto_errors++;
	evbuffer_add(out, "*\r\n", 3);
}

void scram_continue(struct conn *c, const char *challenge)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	unsigned char dec[512], want[40];
	char answer[1200];

	if (unb64(challenge, dec, sizeof(dec)) < 0) {
		scram_give_up(c, out);
		return;
	}
	if (c->scram_step++ == 1) {
		if (scram_final(c, (const char *)dec, answer, sizeof(answer)) < 0)
			scram_give_up(c, out);
		else
			evbuffer_add_printf(out, "%s\r\n", answer);
		return;
	}
	/* v=: the server proves it knows the secret too. */
	if (strncmp((const char *)dec, "v=", 2) != 0 ||
	    unb64((const char *)dec + 2, want, sizeof(want)) != 32 ||
	    memcmp(want, c->scram_sig, 32) != 0) {
		verify_errors++;
		errmsg("conn %d: SCRAM server signature wrong", c->id);
	}
	evbuffer_add(out, "\r\n", 2);
}
