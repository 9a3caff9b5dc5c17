/* haven-lmtp: one LMTP connection (RFC 2033), chrooted and unprivileged.
 * The session reads the MTA's commands (lmtp_parse.h), asks the master
 * who each recipient is, keeps the message in a memfd, and has the
 * master hand it to each recipient's user worker; one reply per
 * recipient, in RCPT order, once each worker has answered. */
#ifndef HAVEN_LMTP_H
#define HAVEN_LMTP_H
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../lib/config.h"
#include "../lib/ipc.h"
#include "lmtp_parse.h"

/* Recipients per transaction: as the master keeps them (daemon/lmtp.c). */
#define LMTP_MAX_RCPT 100

enum lmtp_rcpt_state { RCPT_WAIT, RCPT_OK, RCPT_REFUSED };

struct lmtp_rcpt {
	enum lmtp_rcpt_state state;
	char addr[LMTP_ADDR_MAX];    /* as the client wrote it (canonical form) */
	char detail[LMTP_ADDR_MAX];  /* user+detail's detail, or "" */
	uint32_t result;             /* enum lmtp_deliver_status, once answered */
	int answered;
	char text[128];
};

enum lmtp_phase {
	PH_COMMAND,      /* reading command lines */
	PH_RCPT,         /* waiting for the master's answer to a RCPT */
	PH_DATA,         /* reading DATA's dot-stuffed lines */
	PH_BDAT,         /* reading a BDAT chunk */
	PH_DELIVER,      /* waiting for the deliveries of the message */
	PH_CLOSING,      /* the last reply is on its way out */
};

struct lmtp_session {
	struct config cfg;
	struct event_base *base;
	struct bufferevent *bev;
	const char *sid, *remote;
	char hostname[256];
	enum lmtp_phase phase;
	unsigned bad;                /* consecutive bad commands */
	int skipping;                /* the rest of a line too long */
	/* the transaction */
	int lhlo, mail;
	char helo[256];
	char from[LMTP_ADDR_MAX];
	int smtputf8;
	struct lmtp_rcpt rcpt[LMTP_MAX_RCPT];
	uint32_t nrcpt, naccepted;
	/* the message */
	int memfd;                   /* -1: none */
	uint64_t size;
	int too_big;
	struct lmtp_data *data;
	uint64_t bdat_left;
	int bdat_last, bdat_seen;
	const char *bdat_refused;    /* the reply of a chunk read only to be dropped */
	uint32_t waiting;            /* deliveries not answered yet */
	uint64_t test_stall_at;      /* test builds: -c, see lmtp_session.c */
};

extern struct lmtp_session *S;

/* lmtp_session.c */
void lmtp_session_start(int client_fd);
/* What came from the master on its channel. */
void lmtp_session_master(struct ipc_msg *m);
/* SIGTERM, the master's channel closed: 421 and end. */
void lmtp_session_abort(const char *why);

/* lmtp_deliver.c: the message, its recipients and their deliveries */
/* A fresh memfd for the message: 0, or -1 (to be answered 451). */
int lmtp_msg_begin(void);
/* Bytes of the message (past lmtp_max_message they are dropped and the
 * message is refused at its end). 0, or -1 when the memfd cannot take
 * them. */
int lmtp_msg_write(void *ctx, const void *data, size_t len);
/* The message is complete: seal it and hand it to each recipient. */
void lmtp_msg_deliver(void);
/* A MSG_LMTP_DELIVERED from the master. */
void lmtp_msg_delivered(uint32_t slot, uint32_t status, const char *text);
/* Forget the transaction (RSET, MAIL, the end of a delivery). */
void lmtp_transaction_reset(void);
/* A reply line "code text\r\n". */
void lmtp_reply(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
