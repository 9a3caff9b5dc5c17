/* The SASL steps a login worker decoded from its client, as the auth
 * helper reads them. The master relays them untouched (the bytes field of
 * MSG_LOGIN_AUTH and MSG_AUTH_REQUEST): it never looks into credentials.
 * Each layout is ipc_put_* fields, read back with ipc_msg_view and the
 * typed getters, which fail on a missing or a leftover byte.
 *
 * PLAIN, LOGIN   START: str authzid, str authcid, str password
 * SCRAM-SHA-256, SCRAM-SHA-256-PLUS (RFC 5802, 7677)
 *                START: str authzid, str user (saslname decoded),
 *                  str client-nonce, str client-first-message-bare,
 *                  str gs2-header, u32 cbind (enum sasl_cbind), str cb-name,
 *                  bytes cb-data (the login worker's channel binding for
 *                  cb-name; empty unless SASL_CB_USED)
 *                CONTINUE (client-final-message): bytes cbind-input
 *                  (c=, decoded), str nonce, bytes proof (p=, decoded),
 *                  str client-final-message-without-proof
 *                CONTINUE (after the server-final challenge): empty
 * OAUTHBEARER    START: str authzid, str token (RFC 7628)
 */
#ifndef HAVEN_MSG_SASL_H
#define HAVEN_MSG_SASL_H

enum sasl_cbind {
	SASL_CB_NONE = 0,        /* "n": the client does not support it */
	SASL_CB_NOT_OFFERED = 1, /* "y": it does, but thinks we do not */
	SASL_CB_USED = 2,        /* "p=name" */
};

/* Mechanism names as they travel (and are logged). */
#define SASL_MECH_PLAIN "PLAIN"
#define SASL_MECH_LOGIN "LOGIN"
#define SASL_MECH_SCRAM "SCRAM-SHA-256"
#define SASL_MECH_SCRAM_PLUS "SCRAM-SHA-256-PLUS"
#define SASL_MECH_OAUTHBEARER "OAUTHBEARER"

#endif
