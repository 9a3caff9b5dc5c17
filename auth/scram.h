/* SCRAM-SHA-256 (RFC 5802, RFC 7677), the server's arithmetic: secrets
 * stored or derived from a password, the client proof, the server
 * signature. Stored secrets use Dovecot's layout, so `doveadm pw -s
 * SCRAM-SHA-256` output works in the file passdb:
 *   {SCRAM-SHA-256}ITERATIONS,SALT,STOREDKEY,SERVERKEY   (base64) */
#ifndef HAVEN_SCRAM_H
#define HAVEN_SCRAM_H
#include <stddef.h>

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_MAX 64
#define SCRAM_PREFIX "{SCRAM-SHA-256}"
/* RFC 7677's minimum, and the bounds of what we accept. */
#define SCRAM_ITER_MIN 4096
#define SCRAM_ITER_MAX 1000000

struct scram_secret {
	unsigned iter;
	unsigned char salt[SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[SCRAM_KEY_LEN];
	unsigned char server_key[SCRAM_KEY_LEN];
};

/* Text with or without the {SCRAM-SHA-256} prefix: 0, or -1 when it is
 * not a secret of this layout. */
int scram_secret_parse(const char *text, struct scram_secret *out);
/* "{SCRAM-SHA-256}..." into out (cap bytes): 0, or -1 if it does not fit. */
int scram_secret_format(const struct scram_secret *s, char *out, size_t cap);
void scram_secret_derive(const char *password, const unsigned char *salt, size_t salt_len,
			 unsigned iter, struct scram_secret *out);
/* 1 when proof (ClientKey XOR ClientSignature) proves knowledge of the
 * password behind s for this AuthMessage; 0 otherwise. Constant time. */
int scram_proof_ok(const struct scram_secret *s, const char *auth_message,
		   const unsigned char *proof, size_t proof_len);
void scram_server_signature(const struct scram_secret *s, const char *auth_message,
			    unsigned char out[SCRAM_KEY_LEN]);
/* 1 when password is the one behind s. */
int scram_password_ok(const struct scram_secret *s, const char *password);

#endif
