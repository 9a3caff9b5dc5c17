/* Messages between the master and a user worker. */
#ifndef HAVEN_MSG_WORKER_H
#define HAVEN_MSG_WORKER_H

enum msg_worker {
	/* master -> worker, with the session fd (client socket, or a socket
	 * to the TLS-proxying login worker): str session-id, str tag,
	 * str remote, u32 tls, str enabled-capabilities,
	 * bytes pipelined-after-login, u32 protocol (enum login_proto of
	 * msg_login.h: the master's own record of the listener, never the
	 * login worker's word) */
	MSG_WORKER_SESSION = 0x300,
	/* worker -> master: no sessions for a while, may I exit? u32: the
	 * sessions received so far (the master compares it with what it
	 * sent: one on its way means the worker is not idle after all). */
	MSG_WORKER_QUIT_REQ,
	/* master -> worker: no new sessions will come; exit when the current
	 * ones (if any arrived meanwhile) end. Empty. */
	MSG_WORKER_QUIT_OK,
	/* master -> worker (worker_reuse): stay, kept for another user of
	 * your uid and gid; ask again after worker_reuse_timeout. Empty. */
	MSG_WORKER_PARK_OK,
	/* master -> kept worker: serve this user from now on (its sessions
	 * follow): str name, str home, str record (as -c: id:quota_bytes:
	 * quota_messages). */
	MSG_WORKER_ADOPT,
	/* master -> worker, with a sealed memfd holding a message from LMTP
	 * (msg_lmtp.h): u32 request, str mailbox ("": INBOX; one that does
	 * not exist means INBOX too), str envelope sender, str recipient
	 * (as MSG_LMTP_DELIVER has them), bytes trace header to prepend.
	 * Counts as a session in QUIT_REQ's number. */
	MSG_WORKER_DELIVER,
	/* worker -> master: u32 request, u32 status (enum
	 * lmtp_deliver_status), str text. Sent once the message is durable
	 * in the store (or was refused). */
	MSG_WORKER_DELIVERED,
	/* worker -> master, now and then and before it exits: what its
	 * sessions did since the last one (daemon/metrics.c adds it up).
	 * u64 bytes-in, u64 bytes-out, u32 n, then n times: str command,
	 * u64 count, u64 microseconds in all, u64 count per latency bucket
	 * (STATS_BUCKETS of them, bounds in lib/stats.h). */
	MSG_WORKER_STATS,
	/* master -> worker, for haven-admin who (msg_admin.h); the header's
	 * id names the query. Empty. */
	MSG_WORKER_WHO,
	/* worker -> master, the query's id: u32 n, then n times: str remote,
	 * u64 since (Unix time of the login), u32 tls, str selected mailbox
	 * ("": none). As many as fit in one message. */
	MSG_WORKER_SESSIONS,
	/* master -> worker, for haven-admin kick, id: end every session with
	 * BYE and this text; the worker stays for new ones. str text. */
	MSG_WORKER_KICK,
	/* worker -> master, the query's id: u32 sessions ended. */
	MSG_WORKER_KICKED,
	/* worker -> master, with the session fd: the client said
	 * UNAUTHENTICATE (RFC 8437) and got its OK; the session is over
	 * here. str session-id, bytes pipelined-after-it. The master gives
	 * the connection to a fresh login worker (MSG_LOGIN_CLIENT_BACK);
	 * whether it runs under TLS is the master's own record, never the
	 * worker's word, and nothing of it can grant a login. */
	MSG_WORKER_UNAUTH,
};

#endif
