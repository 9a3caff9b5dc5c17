/* Messages between the master and the auth helper. Request ids are chosen
 * by the master and echoed back, so a result can only ever complete the
 * request it answers. */
#ifndef HAVEN_MSG_AUTH_H
#define HAVEN_MSG_AUTH_H

enum msg_auth {
	/* master -> auth: str user, str password, str authzid, str remote-ip,
	 * str mech */
	MSG_AUTH_PASSWORD = 0x200,
	/* auth -> master: u32 status (enum auth_status), str canonical-user,
	 * u32 uid, u32 gid, str home, str reason */
	MSG_AUTH_RESULT,
	/* master -> auth, with the fd of the new configuration's sealed
	 * memfd (SIGHUP): apply it, keeping the failure counts. Empty. */
	MSG_AUTH_CONFIG,
};

enum auth_status {
	AUTH_OK = 0,
	AUTH_FAIL = 1,      /* wrong user or password: [AUTHENTICATIONFAILED] */
	AUTH_TEMPFAIL = 2,  /* passdb unavailable: [UNAVAILABLE] */
	AUTH_BLOCKED = 3,   /* too many failures: refused unchecked, [UNAVAILABLE]
			     * with its own text (reason) */
};

#endif
