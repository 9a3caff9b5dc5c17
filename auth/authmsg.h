/* The auth helper's readers of what it is sent: the master's requests
 * (msg_auth.h), the SASL steps inside them (msg_sasl.h) and the jobs of
 * its pool (pool.h). Typed getters only: a missing field, a wrong length
 * or a byte left over is a malformed message. Pointers point into the
 * message. The fuzz target fuzz_authmsg drives each of them. */
#ifndef HAVEN_AUTHMSG_H
#define HAVEN_AUTHMSG_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/ipc.h"

/* MSG_AUTH_REQUEST */
struct request_in {
	uint32_t step, tls;
	const char *mech, *remote, *sid;
	const unsigned char *sasl;
	size_t sasl_len;
};
int authmsg_request(struct ipc_msg *m, struct request_in *q);

/* PLAIN and LOGIN's START */
struct plain_in {
	const char *authzid, *authcid, *password;
};
int authmsg_plain(struct ipc_msg *m, struct plain_in *p);

/* SCRAM's START */
struct scram_first_in {
	const char *authzid, *user, *cnonce, *cfb, *gs2, *cbname;
	uint32_t cbind;
	const unsigned char *cb;
	size_t cblen;
};
int authmsg_scram_first(struct ipc_msg *m, struct scram_first_in *f);

/* SCRAM's client-final-message CONTINUE */
struct scram_final_in {
	const unsigned char *cbinput, *proof;
	size_t cbinput_len, proof_len;
	const char *nonce, *without_proof;
};
int authmsg_scram_final(struct ipc_msg *m, struct scram_final_in *f);

/* OAUTHBEARER's START */
struct oauth_in {
	const char *authzid, *token;
};
int authmsg_oauth(struct ipc_msg *m, struct oauth_in *o);

/* POOL_MSG_JOB */
struct job_in {
	uint32_t op, db;
	const char *user, *password, *remote, *known;
};
int authmsg_job(struct ipc_msg *m, struct job_in *j);

#endif
