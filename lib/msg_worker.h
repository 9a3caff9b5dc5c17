/* Messages between the master and a user worker. */
#ifndef HAVEN_MSG_WORKER_H
#define HAVEN_MSG_WORKER_H

enum msg_worker {
	/* master -> worker, with the session fd (client socket, or a socket
	 * to the TLS-proxying login worker): str session-id, str tag,
	 * str remote, u32 tls, str enabled-capabilities,
	 * bytes pipelined-after-login */
	MSG_WORKER_SESSION = 0x300,
	/* worker -> master: no sessions for a while, may I exit? Empty. */
	MSG_WORKER_QUIT_REQ,
	/* master -> worker: no new sessions will come; exit when the current
	 * ones (if any arrived meanwhile) end. Empty. */
	MSG_WORKER_QUIT_OK,
};

#endif
