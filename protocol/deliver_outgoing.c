/* The outgoing mail of a Sieve script, once the message's copies are
 * stored: redirect (the message as delivered, trace header included so
 * that an MTA sees Delivered-To and stops a loop, from the original
 * envelope sender: no SRS, so a receiver that checks SPF may see a
 * foreign sender), and vacation replies (RFC 5230: from <>, at most one
 * per sender and handle per period, remembered by the store). Without
 * submission_host nothing goes out: logged. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "deliver.h"
#include "worker.h"

static void buf_field(struct buf *b, const char *tag, const char *s)
{
	buf_printf(b, "%s%s", tag, s ? s : "");
	buf_append_byte(b, '\0');
}

/* RFC 5230 4.2's key: the sender (case folded) and the handle, or
 * without one the reply's reason, subject, from and addresses, hashed
 * into hex (Pigeonhole's choice for the default handle). */
static void reply_key(const struct sieve_action *a, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct buf b = BUF_INIT;

	for (const char *p = a->reply_to ? a->reply_to : ""; *p; p++)
		buf_append_byte(&b, (char)tolower((unsigned char)*p));
	buf_append_byte(&b, '\n');
	if (a->handle) {
		buf_field(&b, "handle:", a->handle);
	} else {
		buf_field(&b, "reason:", a->reason);
		buf_field(&b, "subject:", a->subject);
		buf_field(&b, "from:", a->from);
		for (size_t i = 0; i < a->naddresses; i++)
			buf_field(&b, "address:", a->addresses[i]);
	}
	EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
	buf_free(&b);
}

void deliver_hostname(char *out, size_t size)
{
	if (W->cfg.lmtp_hostname[0])
		snprintf(out, size, "%s", W->cfg.lmtp_hostname);
	else if (gethostname(out, size) < 0)
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
}

static void vacation(const struct deliver_job *j, const struct sieve_action *a,
		     const struct sieve_msg *m)
{
	struct buf reply = BUF_INIT;
	struct submit_body body;
	struct error err;
	char key[65], host[256];
	int fresh;

	reply_key(a, key);
	fresh = store_sieve_reply_claim(W->store, key, a->seconds, &err);
	if (fresh <= 0) {
		if (fresh < 0)
			log_err("sieve: %s: vacation: %s; no reply", W->user.name, err.msg);
		else
			log_info("sieve: %s: vacation: <%s> was answered already", W->user.name,
				 a->reply_to);
		return;
	}
	deliver_hostname(host, sizeof(host));
	if (sieve_vacation_compose(a, m, j->to, host, time(NULL), &reply, &err) < 0) {
		log_err("sieve: %s: vacation reply: %s", W->user.name, err.msg);
	} else {
		body = (struct submit_body){ .head = reply.data, .headlen = reply.len, .fd = -1 };
		if (deliver_submit("", a->reply_to, &body, &err) < 0)
			log_err("sieve: %s: vacation reply to <%s>: %s", W->user.name, a->reply_to,
				err.msg);
		else
			log_info("sieve: %s: vacation reply sent to <%s>", W->user.name, a->reply_to);
	}
	buf_free(&reply);
}

/* 0 sent, -1 not (logged). */
static int redirect(const struct deliver_job *j, const struct sieve_action *a)
{
	struct submit_body body = { .head = j->trace, .headlen = j->tracelen, .fd = j->fd,
				    .fdsize = j->size };
	struct error err;

	if (deliver_submit(j->from, a->address, &body, &err) < 0) {
		log_err("sieve: %s: redirect to <%s>: %s", W->user.name, a->address, err.msg);
		return -1;
	}
	log_info("sieve: %s: redirected to <%s>", W->user.name, a->address);
	return 0;
}

int deliver_outgoing(const struct deliver_job *j, const struct sieve_action *a,
		     const struct sieve_msg *m)
{
	int redir = a->kind == SIEVE_ACT_REDIRECT;

	if (W->cfg.submission_host[0] == '\0') {
		log_warn("sieve: %s: %s <%s> not sent (no submission_host)%s", W->user.name,
			 redir ? "redirect to" : "vacation reply to",
			 redir ? a->address : a->reply_to ? a->reply_to : "",
			 redir && !a->copy ? "; kept in INBOX instead" : "");
		return redir && !a->copy;
	}
	if (redir)
		return redirect(j, a) < 0 && !a->copy;
	vacation(j, a, m);
	return 0;
}
