/* The LMTP conversation: commands in order, one at a time (PIPELINING
 * just means the next ones are already in the buffer: reading pauses
 * while the master looks a recipient up or the workers deliver), the
 * DATA stream and BDAT chunks into the message. */
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "../lib/net.h"
#include "lmtp.h"

/* Input buffered at most, unparsed (DATA is consumed as it comes). */
#define LMTP_READ_MAX (256 * 1024)

static void session_input(void);

static void close_after_flush(void)
{
	S->phase = PH_CLOSING;
	bufferevent_disable(S->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(S->bev)) == 0)
		event_base_loopbreak(S->base);
}

void lmtp_session_abort(const char *why)
{
	log_info("%s", why);
	lmtp_reply(421, "4.3.2 %s", why);
	close_after_flush();
}

static void cmd_lhlo(const struct lmtp_cmd *c)
{
	struct evbuffer *out = bufferevent_get_output(S->bev);

	lmtp_transaction_reset();
	snprintf(S->helo, sizeof(S->helo), "%.200s", c->arg);
	S->lhlo = 1;
	evbuffer_add_printf(out, "250-%s\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
			    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n250 SIZE %ld\r\n",
			    S->hostname, S->cfg.lmtp_max_message);
}

static void cmd_mail(const struct lmtp_cmd *c)
{
	if (!S->lhlo) {
		lmtp_reply(503, "5.5.1 Send LHLO first");
	} else if (S->mail) {
		lmtp_reply(503, "5.5.1 MAIL already given");
	} else if (c->body == LMTP_BODY_BINARYMIME) {
		lmtp_reply(555, "5.5.4 BODY=BINARYMIME is not supported");
	} else if (c->size > (uint64_t)S->cfg.lmtp_max_message) {
		lmtp_reply(552, "5.3.4 Message too big (at most %ld bytes)", S->cfg.lmtp_max_message);
	} else {
		lmtp_transaction_reset();
		snprintf(S->from, sizeof(S->from), "%s", c->addr);
		S->smtputf8 = c->smtputf8;
		S->mail = 1;
		lmtp_reply(250, "2.1.0 OK");
	}
}

/* Ask the master who the recipient is; the answer resumes the session. */
static void cmd_rcpt(const struct lmtp_cmd *c)
{
	struct lmtp_rcpt *r = &S->rcpt[S->nrcpt];
	char user[LMTP_ADDR_MAX + 2];   /* lmtp_addr_split: may be 2 longer */
	struct ipc_out o;

	if (!S->mail) {
		lmtp_reply(503, "5.5.1 Send MAIL first");
		return;
	}
	if (S->nrcpt == LMTP_MAX_RCPT) {
		lmtp_reply(452, "4.5.3 Too many recipients");
		return;
	}
	if (lmtp_addr_split(c->addr, S->cfg.recipient_delimiter, user, sizeof(user), r->detail,
			    sizeof(r->detail)) < 0) {
		lmtp_reply(501, "5.1.3 Bad recipient address syntax");
		return;
	}
	snprintf(r->addr, sizeof(r->addr), "%s", c->addr);
	r->state = RCPT_WAIT;
	ipc_out_init(&o, MSG_LMTP_RCPT, 0);
	ipc_put_u32(&o, S->nrcpt);
	ipc_put_str(&o, user);
	if (ipc_send(CHILD_FD_MASTER, &o, -1) < 0) {
		ipc_out_free(&o);
		lmtp_session_abort("Service shutting down");
		return;
	}
	ipc_out_free(&o);
	S->nrcpt++;
	S->phase = PH_RCPT;
}

static void rcpt_result(uint32_t slot, uint32_t status)
{
	struct lmtp_rcpt *r = &S->rcpt[slot];

	r->state = status == LMTP_RCPT_OK ? RCPT_OK : RCPT_REFUSED;
	S->naccepted += r->state == RCPT_OK;
	switch (status) {
	case LMTP_RCPT_OK:
		lmtp_reply(250, "2.1.5 <%s> OK", r->addr);
		break;
	case LMTP_RCPT_UNKNOWN:
		lmtp_reply(550, "5.1.1 <%s> User doesn't exist", r->addr);
		break;
	case LMTP_RCPT_DISABLED:
		lmtp_reply(550, "5.2.1 <%s> Mailbox disabled", r->addr);
		break;
	default:
		lmtp_reply(451, "4.3.0 <%s> Temporary user lookup failure", r->addr);
		break;
	}
}

/* DATA or BDAT may begin: a transaction with an accepted recipient. */
static int message_may_begin(void)
{
	if (!S->mail) {
		lmtp_reply(503, "5.5.1 Send MAIL first");
		return 0;
	}
	if (S->naccepted == 0) {
		lmtp_reply(503, "5.5.1 No valid recipients");
		return 0;
	}
	return 1;
}

static void cmd_data(void)
{
	if (S->bdat_seen) {
		lmtp_reply(503, "5.5.1 DATA after BDAT");
		return;
	}
	if (!message_may_begin())
		return;
	if (lmtp_msg_begin() < 0) {
		lmtp_reply(451, "4.3.0 Temporary failure, try again later");
		return;
	}
	S->data = lmtp_data_new(lmtp_msg_write, NULL);
	S->phase = PH_DATA;
	lmtp_reply(354, "Start mail input; end with <CRLF>.<CRLF>");
}

/* A chunk is read whatever happens (its bytes are on their way); one
 * that cannot be taken is answered once read. */
static void cmd_bdat(const struct lmtp_cmd *c)
{
	S->bdat_left = c->bdat_len;
	S->bdat_last = c->bdat_last;
	S->bdat_refused = NULL;
	if (!S->mail)
		S->bdat_refused = "503 5.5.1 Send MAIL first";
	else if (S->naccepted == 0)
		S->bdat_refused = "503 5.5.1 No valid recipients";
	else if (!S->bdat_seen && lmtp_msg_begin() < 0)
		S->bdat_refused = "451 4.3.0 Temporary failure, try again later";
	else
		S->bdat_seen = 1;
	S->phase = PH_BDAT;
}

static void command(const struct lmtp_cmd *c)
{
	S->bad = 0;
	switch (c->verb) {
	case LMTP_LHLO: cmd_lhlo(c); break;
	case LMTP_MAIL: cmd_mail(c); break;
	case LMTP_RCPT: cmd_rcpt(c); break;
	case LMTP_DATA: cmd_data(); break;
	case LMTP_BDAT: cmd_bdat(c); break;
	case LMTP_RSET:
		lmtp_transaction_reset();
		lmtp_reply(250, "2.0.0 OK");
		break;
	case LMTP_NOOP: lmtp_reply(250, "2.0.0 OK"); break;
	case LMTP_VRFY: lmtp_reply(252, "2.5.0 Send some mail and see"); break;
	case LMTP_QUIT:
		lmtp_reply(221, "2.0.0 Bye");
		close_after_flush();
		break;
	case LMTP_HELO_EHLO:
		S->bad++;
		lmtp_reply(500, "5.5.1 This is LMTP: use LHLO");
		break;
	case LMTP_UNKNOWN:
		S->bad++;
		lmtp_reply(500, "5.5.1 Unknown command");
		break;
	}
}

static void bad_line(int code, const char *text)
{
	lmtp_reply(code, "%s", text);
	if (++S->bad >= (unsigned long)S->cfg.max_bad_commands)
		lmtp_session_abort("Too many bad commands");
}

/* The rest of a line too long, up to and with its CRLF: 1 when through. */
static int skip_line(struct evbuffer *in)
{
	size_t eol_len = 0;
	struct evbuffer_ptr at = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF_STRICT);

	if (at.pos < 0) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return 0;
	}
	evbuffer_drain(in, (size_t)at.pos + eol_len);
	S->skipping = 0;
	return 1;
}

/* One command line from the buffer, if a whole one is there: 1 done, 0
 * wait for more. A line too long is answered once and skipped to its end. */
static int read_command(struct evbuffer *in)
{
	static struct lmtp_cmd cmd;
	size_t len;
	char *line;
	int code;
	const char *text;

	if (S->skipping)
		return skip_line(in);
	line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF_STRICT);
	if (line == NULL) {
		if (evbuffer_get_length(in) < LMTP_LINE_MAX)
			return 0;
		S->skipping = 1;
		bad_line(500, "5.5.2 Line too long");
		return 1;
	}
	if (lmtp_parse_line(line, len, S->smtputf8, &cmd, &code, &text) == 0) {
		command(&cmd);
	} else if (strncasecmp(line, "BDAT", 4) == 0) {
		/* Its chunk follows, of a length not known: there is no way to
		 * find the next command (lmtp_parse.h). */
		lmtp_reply(code, "%s", text);
		close_after_flush();
	} else {
		bad_line(code, text);
	}
	free(line);
	return 1;
}

#ifdef HAVEN_TEST_HOOKS
/* Test builds only (daemon/lmtp.c's test_stall): stop mid-DATA. */
static void test_stall(void)
{
	if (S->test_stall_at && S->size >= S->test_stall_at)
		raise(SIGSTOP);
}
#else
static void test_stall(void)
{
}
#endif

/* DATA: the decoder takes what is there; at the end, the deliveries. */
static int read_data(struct evbuffer *in)
{
	test_stall();
	struct evbuffer_iovec v;
	int done = 0;

	if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
		return 0;
	ssize_t used = lmtp_data_feed(S->data, v.iov_base, v.iov_len, &done);
	if (used < 0) {
		/* The memfd is out of room: the message is lost, the decoder
		 * now only looks for its end (lmtp_parse.h). */
		S->too_big = 1;
		return 1;
	}
	evbuffer_drain(in, (size_t)used);
	if (done) {
		S->phase = PH_COMMAND;
		lmtp_msg_deliver();
	}
	return 1;
}

static int read_bdat(struct evbuffer *in)
{
	struct evbuffer_iovec v;

	if (S->bdat_left > 0) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return 0;
		size_t n = v.iov_len < S->bdat_left ? v.iov_len : (size_t)S->bdat_left;
		if (!S->bdat_refused && lmtp_msg_write(NULL, v.iov_base, n) < 0)
			S->too_big = 1;
		evbuffer_drain(in, n);
		S->bdat_left -= n;
		return 1;
	}
	S->phase = PH_COMMAND;
	if (S->bdat_refused)
		evbuffer_add_printf(bufferevent_get_output(S->bev), "%s\r\n", S->bdat_refused);
	else if (S->bdat_last)
		lmtp_msg_deliver();
	else
		lmtp_reply(250, "2.0.0 %zu octets received", (size_t)S->size);
	return 1;
}

static void session_input(void)
{
	struct evbuffer *in = bufferevent_get_input(S->bev);
	int more = 1;

	while (more && evbuffer_get_length(in) + (S->phase == PH_BDAT) > 0) {
		switch (S->phase) {
		case PH_COMMAND: more = read_command(in); break;
		case PH_DATA: more = read_data(in); break;
		case PH_BDAT: more = read_bdat(in); break;
		default: more = 0; break;
		}
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	session_input();
}

static void on_write(struct bufferevent *bev, void *arg)
{
	if (S->phase == PH_CLOSING)
		event_base_loopbreak(S->base);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if ((what & BEV_EVENT_TIMEOUT) && S->phase != PH_CLOSING) {
		lmtp_session_abort("Timeout: closing the connection");
		return;
	}
	/* EOF or error: whatever was not answered was not accepted. */
	event_base_loopbreak(S->base);
}

void lmtp_session_master(struct ipc_msg *m)
{
	uint32_t slot, status;
	const char *text;

	if (ipc_get_u32(m, &slot) < 0 || ipc_get_u32(m, &status) < 0 ||
	    ipc_get_str(m, &text) < 0 || ipc_get_end(m) < 0)
		fatal("malformed message %u from the master", m->type);
	if (S->phase == PH_CLOSING)
		return;  /* an answer to what the connection no longer waits for */
	if (m->type == MSG_LMTP_RCPT_RESULT && S->phase == PH_RCPT && slot + 1 == S->nrcpt) {
		rcpt_result(slot, status);
		S->phase = PH_COMMAND;
	} else if (m->type == MSG_LMTP_DELIVERED && S->phase == PH_DELIVER) {
		lmtp_msg_delivered(slot, status, text);
	} else {
		fatal("unexpected message %u from the master", m->type);
	}
	session_input();
}

void lmtp_session_start(int client_fd)
{
	struct timeval tv = { S->cfg.lmtp_timeout, 0 };
	int one = 1;

	S->memfd = -1;
	net_set_nonblock(client_fd);
	/* Replies to pipelined commands go out one by one: Nagle would hold
	 * each back for the ACK of the one before, which the client delays
	 * (40 ms a message). Fails harmlessly on a unix socket. */
	setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	S->bev = bufferevent_socket_new(S->base, client_fd, BEV_OPT_CLOSE_ON_FREE);
	if (S->bev == NULL)
		fatal("cannot set up the client socket");
	bufferevent_setcb(S->bev, on_read, on_write, on_event, NULL);
	bufferevent_set_timeouts(S->bev, &tv, &tv);
	/* While a lookup or a delivery is waited for, a pipelining client's
	 * bytes wait in the socket, not in memory. */
	bufferevent_setwatermark(S->bev, EV_READ, 0, LMTP_READ_MAX);
	bufferevent_enable(S->bev, EV_READ | EV_WRITE);
	lmtp_reply(220, "%s LMTP Haven ready", S->hostname);
}
