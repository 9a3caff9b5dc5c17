/* Delivery of a message from LMTP into this user's store: the message
 * and its envelope (worker_deliver.c), the user's Sieve script run on it
 * (deliver_sieve.c), and what the script decided carried out
 * (deliver_actions.c). */
#ifndef HAVEN_DELIVER_H
#define HAVEN_DELIVER_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/error.h"
#include "../sieve/sieve.h"

struct deliver_job {
	int fd;                        /* the sealed memfd holding the message */
	uint64_t size;                 /* its bytes */
	const unsigned char *trace;    /* trace header, stored before them */
	size_t tracelen;
	const char *detail;            /* the address's detail, "" none */
	const char *from;              /* envelope sender, "" the null sender */
	const char *to;                /* the recipient as the MTA gave it */
};

/* What the MTA is told for this recipient (enum lmtp_deliver_status). */
struct deliver_outcome {
	uint32_t status;
	char text[256];
};

/* worker_deliver.c: store the message into mailbox with flags and
 * keywords: 0, or -1 with err. */
int deliver_store(const struct deliver_job *j, const char *mailbox, uint32_t flags,
		  const char *const *keywords, size_t nkeywords, struct error *err);
/* The detail's mailbox if it exists, else INBOX. */
const char *deliver_target(const char *detail);
/* The status a store's refusal gives: permanent only for what will not
 * change by itself. */
uint32_t deliver_status_of(const struct error *err);

/* A script's run: the message as it saw it (msg.header points into
 * header) and what it decided. */
struct deliver_sieve {
	struct buf header;
	struct sieve_msg msg;
	struct sieve_result res;
};
/* deliver_sieve.c: run the user's active script on the message. 1: *ds
 * holds the run (deliver_sieve_done frees it); 0: no script to run (none
 * active, or one that does not compile: logged, and the mail is kept as
 * without a script); -1: the script cannot be read now (try later). */
int deliver_sieve_run(const struct deliver_job *j, struct deliver_sieve *ds);
void deliver_sieve_done(struct deliver_sieve *ds);

/* deliver_submit.c: a message out through submission_host (plain SMTP):
 * head's bytes, then (fd >= 0) fdsize bytes of fd. 0, or -1 with err. */
struct submit_body {
	const void *head;
	size_t headlen;
	int fd;
	uint64_t fdsize;
};
int deliver_submit(const char *from, const char *to, const struct submit_body *b,
		   struct error *err);

/* deliver_outgoing.c: a redirect or vacation action (m: the message as
 * the script saw it), after the copies are stored. 1 when the message
 * must be kept instead (a redirect that replaced the keep did not go
 * out), else 0. */
int deliver_outgoing(const struct deliver_job *j, const struct sieve_action *a,
		     const struct sieve_msg *m);
/* The name this host gives itself (lmtp_hostname, else the host's). */
void deliver_hostname(char *out, size_t size);

/* deliver_actions.c: carry out res. Every store action is durable before
 * OK is answered; the first that fails answers its error (the MTA tries
 * again later, and copies already stored are then stored again: a
 * duplicate, never a loss). */
void deliver_actions(const struct deliver_job *j, const struct deliver_sieve *ds,
		     struct deliver_outcome *out);

#endif
