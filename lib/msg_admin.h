/* Messages between haven-admin and the master over admin_socket: a
 * SOCK_SEQPACKET unix socket of mode 0600 that only root's processes may
 * use (the master checks SO_PEERCRED too). One request per connection;
 * the header's id is the client's and comes back in the answer. The
 * master asks the user workers (msg_worker.h: WHO, KICK) and answers
 * once they all did, or after ADMIN_WAIT_MS with what it has. */
#ifndef HAVEN_MSG_ADMIN_H
#define HAVEN_MSG_ADMIN_H

/* How long the master waits for the workers' answers. */
#define ADMIN_WAIT_MS 2000
/* What a kicked session's client reads after "* BYE ", from any host. */
#define ADMIN_KICK_TEXT "Disconnected by the administrator"

enum msg_admin {
	/* admin -> master: the live IMAP sessions. Empty. */
	MSG_ADMIN_WHO = 0x700,
	/* admin -> master: end a user's sessions. str user. */
	MSG_ADMIN_KICK,
	/* master -> admin, for WHO: u32 workers that did not answer, u32
	 * sessions left out (the answer is capped at one message), u32 n,
	 * then n times: str user, str remote, u64 since (Unix time), u32
	 * tls, str mailbox ("": none selected). */
	MSG_ADMIN_SESSIONS,
	/* master -> admin, for KICK: u32 workers that did not answer, u32
	 * sessions ended. */
	MSG_ADMIN_KICKED,
	/* master -> admin: the request is refused. str why. */
	MSG_ADMIN_REFUSED,
};

#endif
