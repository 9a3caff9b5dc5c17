/* Messages between the master and the auth helper. Request ids are chosen
 * by the master and echoed back, so an answer can only ever complete the
 * exchange it belongs to. An exchange (one AUTHENTICATE or LOGIN) keeps
 * its id over all its steps: START, then a CONTINUE after each
 * CHALLENGE, until a RESULT ends it (or the master CANCELs it). */
#ifndef HAVEN_MSG_AUTH_H
#define HAVEN_MSG_AUTH_H

enum msg_auth {
	/* master -> auth: u32 step (enum auth_step), str mech, bytes step
	 * (lib/msg_sasl.h, as the login worker decoded it), str remote-ip,
	 * str session-id, u32 tls (the client is on TLS). CANCEL gets no
	 * answer. */
	MSG_AUTH_REQUEST = 0x200,
	/* auth -> master: u32 status (enum auth_status), str canonical-user,
	 * u32 uid, u32 gid, str home, str reason, u64 user-id (0: none),
	 * u64 quota-bytes, u64 quota-messages (0: no limit). Ends the
	 * exchange. */
	MSG_AUTH_RESULT,
	/* master -> auth, with the fd of the new configuration's sealed
	 * memfd (SIGHUP): apply it, keeping the failure counts. Empty. */
	MSG_AUTH_CONFIG,
	/* auth -> master: bytes challenge, for the client (base64-encoded
	 * by the login worker); the exchange waits for a CONTINUE. */
	MSG_AUTH_CHALLENGE,
	/* master -> auth: a recipient of mail (LMTP), looked up without a
	 * password: str address (user@domain or user, no detail), str
	 * session-id. Answered by a RESULT with this id at once (no failure
	 * delay, nothing counted): OK with the record, FAIL for an unknown
	 * user (reason "unknown") or a disabled one (reason "disabled"),
	 * TEMPFAIL. */
	MSG_AUTH_LOOKUP,
};

enum auth_step {
	AUTH_STEP_START = 0,
	AUTH_STEP_CONTINUE = 1,
	AUTH_STEP_CANCEL = 2,
};

enum auth_status {
	AUTH_OK = 0,
	AUTH_FAIL = 1,      /* wrong user or password: [AUTHENTICATIONFAILED] */
	AUTH_TEMPFAIL = 2,  /* passdb unavailable: [UNAVAILABLE] */
	AUTH_BLOCKED = 3,   /* too many failures: refused unchecked, [UNAVAILABLE]
			     * with its own text (reason) */
	AUTH_EXPIRED = 4,   /* right password, account or password expired:
			     * [EXPIRED] reason */
};

#endif
