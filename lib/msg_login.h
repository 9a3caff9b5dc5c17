/* Messages between the master and a pre-auth login worker. The login
 * worker can name only these; it has no way to address the auth helper. */
#ifndef HAVEN_MSG_LOGIN_H
#define HAVEN_MSG_LOGIN_H

enum msg_login {
	/* login -> master: credentials plus the session state to hand over.
	 * str mech, str authzid, str user, str password, str tag,
	 * u32 tls, str enabled-capabilities, bytes pipelined-after-login */
	MSG_LOGIN_AUTH = 0x100,
	/* master -> login: u32 tempfail, str reason. The worker answers NO. */
	MSG_LOGIN_FAIL,
	/* master -> login: the user worker owns the client socket now; exit
	 * without touching it. Empty. */
	MSG_LOGIN_HANDED_OFF,
	/* master -> login, with fd: stay as the TLS proxy between the client
	 * and this socket, which leads to the user worker. Empty. */
	MSG_LOGIN_PROXY,
};

#endif
