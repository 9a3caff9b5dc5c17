/* Messages between the master and an LMTP worker (haven-lmtp: one per
 * LMTP connection, chrooted and unprivileged like a login worker). It
 * parses the protocol and holds the message; it can name recipients only
 * by the slot the master gave their lookup, so it cannot deliver to
 * anyone the passdbs did not confirm, and never learns more of a
 * recipient than its canonical name.
 *
 * The worker starts with its client at fd 5 (CHILD_FD_CLIENT): str
 * session-id and str remote-address come as -a and -b. */
#ifndef HAVEN_MSG_LMTP_H
#define HAVEN_MSG_LMTP_H

enum msg_lmtp {
	/* lmtp -> master: u32 slot (0, 1, ... in RCPT order of the
	 * transaction; reused after RSET), str address without the detail
	 * (user@domain or user). */
	MSG_LMTP_RCPT = 0x500,
	/* master -> lmtp: u32 slot, u32 status (enum lmtp_rcpt_status),
	 * str canonical user (or "") */
	MSG_LMTP_RCPT_RESULT,
	/* lmtp -> master, with a sealed memfd holding the message: u32 slot,
	 * str mailbox ("" for INBOX: the detail of the address, delivered
	 * there when that mailbox exists), str envelope sender (MAIL FROM
	 * without <>, "" the null sender), str recipient (RCPT TO as given,
	 * for Sieve), bytes trace header (prepended to the message). */
	MSG_LMTP_DELIVER,
	/* master -> lmtp: u32 slot, u32 status (enum lmtp_deliver_status),
	 * str text (for the log and the reply) */
	MSG_LMTP_DELIVERED,
	/* lmtp -> master: the transaction ended (RSET, a new MAIL, the end
	 * of DATA): forget the slots. Empty. */
	MSG_LMTP_RESET,
};

enum lmtp_rcpt_status {
	LMTP_RCPT_OK = 0,
	LMTP_RCPT_UNKNOWN = 1,   /* 550 5.1.1 */
	LMTP_RCPT_TEMPFAIL = 2,  /* 451 4.3.0: the passdb cannot answer now */
	LMTP_RCPT_DISABLED = 3,  /* 550 5.2.1: the account is disabled */
};

/* Also what a user worker answers the master (msg_worker.h). */
enum lmtp_deliver_status {
	LMTP_DELIVER_OK = 0,         /* 250 2.0.0 */
	LMTP_DELIVER_OVERQUOTA = 1,  /* 552 5.2.2 */
	LMTP_DELIVER_TEMPFAIL = 2,   /* 451 4.3.0: try again later */
	LMTP_DELIVER_TOOBIG = 3,     /* 552 5.3.4 */
	LMTP_DELIVER_FAIL = 4,       /* 554 5.6.0: the store refuses this message */
	LMTP_DELIVER_REJECT = 5,     /* 550 5.7.1 text: the user's Sieve script rejects it */
};

#endif
