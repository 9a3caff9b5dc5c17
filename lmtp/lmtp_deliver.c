/* The message of an LMTP transaction and its deliveries. The message
 * goes into a memfd (the chroot has no files, and the user workers read
 * it from there: nothing is copied through the master); once complete it
 * is sealed, so a worker reads exactly what was received, and the master
 * hands it to the worker of each accepted recipient, with the trace
 * header that recipient's copy begins with. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "../lib/buf.h"
#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "lmtp.h"

#define MSG_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

void lmtp_reply(int code, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(S->bev);
	va_list ap;

	evbuffer_add_printf(out, "%d ", code);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

int lmtp_msg_begin(void)
{
	S->memfd = memfd_create("lmtp-message", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (S->memfd < 0) {
		log_err("memfd_create: %s", strerror(errno));
		return -1;
	}
	S->size = 0;
	S->too_big = 0;
	return 0;
}

int lmtp_msg_write(void *ctx, const void *data, size_t len)
{
	const char *p = data;

	if (S->too_big || S->size + len > (uint64_t)S->cfg.lmtp_max_message) {
		S->too_big = 1;  /* read to its end, refused then */
		return 0;
	}
	while (len > 0) {
		ssize_t n = write(S->memfd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("writing the message: %s", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
		S->size += (uint64_t)n;
	}
	return 0;
}

/* RFC 5322 date of now, for Received:. */
static void date_now(char *out, size_t outlen)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* What this recipient's copy begins with, as Dovecot's LMTP writes it:
 * Return-Path (the envelope sender), Delivered-To, and the Received line
 * of this hop. */
static void trace_header(const struct lmtp_rcpt *r, struct buf *out)
{
	char date[64];

	date_now(date, sizeof(date));
	buf_printf(out, "Return-Path: <%s>\r\nDelivered-To: %s\r\n", S->from, r->addr);
	buf_printf(out, "Received: from %s ([%s])\r\n\tby %s (Haven) with %s id %s\r\n",
		   S->helo, S->remote, S->hostname, S->smtputf8 ? "UTF8LMTP" : "LMTP", S->sid);
	buf_printf(out, "\tfor <%s>; %s\r\n", r->addr, date);
}

static int deliver_one(uint32_t slot)
{
	const struct lmtp_rcpt *r = &S->rcpt[slot];
	struct buf trace = BUF_INIT;
	struct ipc_out o;
	int rc;

	trace_header(r, &trace);
	ipc_out_init(&o, MSG_LMTP_DELIVER, 0);
	ipc_put_u32(&o, slot);
	ipc_put_str(&o, r->detail);
	ipc_put_str(&o, S->from);
	ipc_put_str(&o, r->addr);
	ipc_put_bytes(&o, trace.data, trace.len);
	rc = ipc_send(CHILD_FD_MASTER, &o, S->memfd);
	ipc_out_free(&o);
	buf_free(&trace);
	return rc;
}

/* Every accepted recipient's answer, in RCPT order (RFC 2033 §4.2). */
static void reply_all(void)
{
	static const struct { int code; const char *text; } what[] = {
		[LMTP_DELIVER_OK] = { 250, "2.0.0 <%s> Saved" },
		[LMTP_DELIVER_OVERQUOTA] = { 552, "5.2.2 <%s> Mailbox is full" },
		[LMTP_DELIVER_TEMPFAIL] = { 451, "4.3.0 <%s> Temporary failure, try again later" },
		[LMTP_DELIVER_TOOBIG] = { 552, "5.3.4 <%s> Message too big for this mailbox" },
		[LMTP_DELIVER_FAIL] = { 554, "5.6.0 <%s> Message refused by the mail store" },
		[LMTP_DELIVER_REJECT] = { 550, "5.7.1 %s" },
	};
	for (uint32_t i = 0; i < S->nrcpt; i++) {
		const struct lmtp_rcpt *r = &S->rcpt[i];
		uint32_t st = r->result <= LMTP_DELIVER_REJECT ? r->result : LMTP_DELIVER_TEMPFAIL;
		if (r->state != RCPT_OK)
			continue;
		/* RFC 5429 2.2: a Sieve reject is refused in the protocol, with
		 * the script's reason (one line, printable: reply_text) */
		lmtp_reply(what[st].code, what[st].text,
			   st == LMTP_DELIVER_REJECT ? r->text : r->addr);
	}
}

/* Every accepted recipient gets one answer for a message that is never
 * delivered (too big, not stored). */
static void refuse_all(uint32_t status)
{
	for (uint32_t i = 0; i < S->nrcpt; i++)
		S->rcpt[i].result = status;
	reply_all();
	lmtp_transaction_reset();
}

void lmtp_msg_deliver(void)
{
	if (S->too_big) {
		refuse_all(LMTP_DELIVER_TOOBIG);
		return;
	}
	if (fcntl(S->memfd, F_ADD_SEALS, MSG_SEALS) < 0) {
		log_err("sealing the message: %s", strerror(errno));
		refuse_all(LMTP_DELIVER_TEMPFAIL);
		return;
	}
	S->phase = PH_DELIVER;
	S->waiting = 0;
	for (uint32_t i = 0; i < S->nrcpt; i++) {
		if (S->rcpt[i].state != RCPT_OK)
			continue;
		S->rcpt[i].result = LMTP_DELIVER_TEMPFAIL;
		if (deliver_one(i) < 0)
			S->rcpt[i].answered = 1;  /* the master is gone: 451 */
		else
			S->waiting++;
	}
	if (S->waiting == 0)
		lmtp_msg_delivered(UINT32_MAX, 0, "");
}

/* text as one line of a reply: printable ASCII (anything else a '?'),
 * "Rejected" when empty. */
static void reply_text(char *out, size_t size, const char *text)
{
	size_t n = 0;
	for (; *text && n + 1 < size; text++)
		out[n++] = (unsigned char)*text >= 0x20 && (unsigned char)*text < 0x7f ? *text : '?';
	out[n] = '\0';
	if (n == 0)
		snprintf(out, size, "Rejected");
}

void lmtp_msg_delivered(uint32_t slot, uint32_t status, const char *text)
{
	if (slot < S->nrcpt && S->rcpt[slot].state == RCPT_OK && !S->rcpt[slot].answered) {
		S->rcpt[slot].answered = 1;
		S->rcpt[slot].result = status;
		reply_text(S->rcpt[slot].text, sizeof(S->rcpt[slot].text), text);
		log_info("delivery: from=<%s> to=<%s> size=%llu remote=%s: %s", S->from,
			 S->rcpt[slot].addr, (unsigned long long)S->size, S->remote,
			 status == LMTP_DELIVER_OK ? "saved" : text);
		S->waiting--;
	}
	if (S->waiting > 0 || S->phase != PH_DELIVER)
		return;
	reply_all();
	lmtp_transaction_reset();
	S->phase = PH_COMMAND;
}

void lmtp_transaction_reset(void)
{
	if (S->memfd >= 0)
		close(S->memfd);
	S->memfd = -1;
	if (S->data)
		lmtp_data_free(S->data);
	S->data = NULL;
	if (S->nrcpt > 0)
		ipc_send_empty(CHILD_FD_MASTER, MSG_LMTP_RESET, 0, -1);
	S->mail = 0;
	S->from[0] = '\0';
	S->smtputf8 = 0;
	S->nrcpt = S->naccepted = 0;
	memset(S->rcpt, 0, sizeof(S->rcpt));
	S->size = 0;
	S->too_big = 0;
	S->bdat_left = 0;
	S->bdat_last = S->bdat_seen = 0;
	S->waiting = 0;
}
