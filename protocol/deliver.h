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

/* deliver_sieve.c: run the user's active script on the message. 1: *res
 * holds what it decided (the caller frees it); 0: no script to run (none
 * active, or one that does not compile: logged, and the mail is kept as
 * without a script); -1: the script cannot be read now (try later). */
int deliver_sieve_run(const struct deliver_job *j, struct sieve_result *res);

/* deliver_actions.c: carry out res. Every store action is durable before
 * OK is answered; the first that fails answers its error (the MTA tries
 * again later, and copies already stored are then stored again: a
 * duplicate, never a loss). */
void deliver_actions(const struct deliver_job *j, const struct sieve_result *res,
		     struct deliver_outcome *out);

#endif
