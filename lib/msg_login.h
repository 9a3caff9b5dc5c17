/* Messages between the master and a pre-auth login worker. The login
 * worker can name only these; it has no way to address the auth helper.
 *
 * A login worker starts without a client: it loads TLS, chroots, drops to
 * the login user and only then says READY. The master hands it a client
 * with CLIENT; it may be handed another one after a later READY only when
 * login_connections_per_process allows (and never after TLS was used on
 * its connection).
 *
 * With login_fork (the default) the master starts one login template
 * instead, which loads TLS, chroots, drops to the login user, says READY
 * and then only forks: each FORK makes a login worker that is already
 * where an exec'd one is after its start, but costs a fork instead of an
 * exec and a dynamic link of OpenSSL. The template never sees a client. */
#ifndef HAVEN_MSG_LOGIN_H
#define HAVEN_MSG_LOGIN_H

enum msg_login {
	/* login -> master: a step of an authentication exchange plus the
	 * session state to hand over. u32 step (enum auth_step of
	 * msg_auth.h: START begins an exchange, CONTINUE answers a CHALLENGE,
	 * CANCEL ends the exchange, the client said '*'), str mech,
	 * bytes sasl-step (msg_sasl.h), str tag, u32 tls,
	 * str enabled-capabilities, bytes pipelined-after-login */
	MSG_LOGIN_AUTH = 0x100,
	/* master -> login: u32 kind (enum login_fail), str reason. The
	 * worker answers NO. */
	MSG_LOGIN_FAIL,
	/* master -> login: the user worker owns the client socket now; close
	 * it without touching it (and exit, unless the worker is reused).
	 * Empty. */
	MSG_LOGIN_HANDED_OFF,
	/* master -> login, with fd: stay as the TLS proxy between the client
	 * and this socket, which leads to the user worker. Empty. */
	MSG_LOGIN_PROXY,
	/* login -> master: privileges dropped (or the previous connection is
	 * over and nothing of it is left) and no client: give me one. Empty. */
	MSG_LOGIN_READY,
	/* master -> login, with the client socket: str session-id,
	 * str remote-address, u32 implicit-tls, u32 protocol (enum
	 * login_proto: which listener accepted it). Only after READY. */
	MSG_LOGIN_CLIENT,
	/* master -> template, with fd: the new worker's channel to the
	 * master. Empty; the header's id names the worker. */
	MSG_LOGIN_FORK,
	/* template -> master, same id, with the new worker's pidfd: u32 pid.
	 * Without an fd and with pid 0 when fork failed. The worker itself
	 * says READY on its own channel. */
	MSG_LOGIN_FORKED,
	/* master -> login: bytes challenge of the exchange in progress; the
	 * worker sends it to the client and answers with a CONTINUE (or a
	 * CANCEL). */
	MSG_LOGIN_CHALLENGE,
	/* master -> login, with the session socket: a connection back from
	 * its user worker after UNAUTHENTICATE (RFC 8437), not-authenticated
	 * again, with no greeting. str session-id, str remote-address, u32
	 * secured (1: another login worker is its TLS proxy, so this one
	 * treats the socket as TLS: no STARTTLS, plaintext logins allowed),
	 * bytes pipelined (the client's next commands). Only after READY. */
	MSG_LOGIN_CLIENT_BACK,
};

/* The protocol a client speaks, by the listener that accepted it (the
 * user worker is told too: MSG_WORKER_SESSION). */
enum login_proto {
	LOGIN_PROTO_IMAP = 0,
	LOGIN_PROTO_MANAGESIEVE = 1,   /* RFC 5804, managesieve_listen */
};

/* What MSG_LOGIN_FAIL says happened, and the client's answer. */
enum login_fail {
	LOGIN_FAIL_AUTH = 0,     /* NO [AUTHENTICATIONFAILED] Authentication failed */
	LOGIN_FAIL_TEMP = 1,     /* NO [UNAVAILABLE] reason */
	LOGIN_FAIL_BLOCKED = 2,  /* NO [UNAVAILABLE] reason: too many failures, the
				  * password was not even checked */
	LOGIN_FAIL_EXPIRED = 3,  /* NO [EXPIRED] reason: the password was right */
};

#endif
