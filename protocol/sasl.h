/* What a client sends in AUTHENTICATE, decoded (after base64) into the
 * typed steps of lib/msg_sasl.h that the auth helper reads. The login
 * worker is the one process that parses client bytes before login; every
 * function here is strict and bounded, and has a fuzz target. */
#ifndef HAVEN_SASL_H
#define HAVEN_SASL_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/ipc.h"
#include "../lib/msg_sasl.h"

#define SASL_NAME_MAX 255
#define SASL_NONCE_MAX 256
#define SASL_CBNAME_MAX 31

/* RFC 4616: [authzid] NUL authcid NUL passwd. 0, or -1 when malformed. */
int sasl_plain_step(const unsigned char *raw, size_t len, struct ipc_out *step);
/* The LOGIN mechanism's two answers (no NUL in either). */
int sasl_login_step(const unsigned char *user, size_t ulen, const unsigned char *pass,
		    size_t plen, struct ipc_out *step);

/* SCRAM's client-first-message (RFC 5802 section 7). */
struct sasl_scram_first {
	uint32_t cbind;                       /* enum sasl_cbind */
	char cbname[SASL_CBNAME_MAX + 1];     /* with SASL_CB_USED */
	char authzid[SASL_NAME_MAX + 1];      /* saslname decoded; "" none */
	char user[SASL_NAME_MAX + 1];
	char cnonce[SASL_NONCE_MAX + 1];
	char *gs2;                            /* "n,,", "p=tls-exporter,a=x," ... */
	char *bare;                           /* client-first-message-bare */
};
int sasl_scram_first_parse(const unsigned char *raw, size_t len, struct sasl_scram_first *f);
/* The START step, with cb the login worker's channel binding data. */
void sasl_scram_first_step(const struct sasl_scram_first *f, const unsigned char *cb,
			   size_t cblen, struct ipc_out *step);
void sasl_scram_first_free(struct sasl_scram_first *f);
/* client-final-message: the CONTINUE step. 0, or -1 when malformed. */
int sasl_scram_final_step(const unsigned char *raw, size_t len, struct ipc_out *step);

/* RFC 7628's client response: gs2 header, then key=value pairs with an
 * auth=Bearer token. 0, or -1 when malformed. */
int sasl_oauthbearer_step(const unsigned char *raw, size_t len, struct ipc_out *step);

#endif
