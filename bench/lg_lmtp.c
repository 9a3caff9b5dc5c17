/* Haven benchmark load generator, lmtp profile (issue 12): mail delivered
 * over LMTP (RFC 2033) the way an MTA that caches its connections does it
 * (Postfix's lmtp client, for one). Each client keeps one connection for
 * the whole run: the greeting, LHLO once, then per message MAIL FROM, RCPT
 * TO one recipient (--lmtp-rcpt2 percent of the messages: two different
 * ones) and DATA, sent together (PIPELINING, which the server must offer);
 * after the 354 the message (a corpus message behind a unique X-Bench-Id
 * header, dot-stuffed) and its "."; at the end QUIT. The measured window
 * (--duration) opens when every client has its connection set up (its
 * LHLO answered), as an MTA's cached connections are already open: the
 * first clients wait for the last (a server may take a second to start
 * its LMTP processes). A recipient is a random user's user+detail@domain
 * (bench/run creates the mailbox "detail" over IMAP before a run, and
 * counts, checks and deletes it after).
 *
 * Every reply is checked: 220, 250 to LHLO, 250 to MAIL and to each RCPT,
 * 354 to DATA, then 250 for every recipient, 221 to QUIT. Anything else is
 * an error of its step; the connection is then closed and a new one made
 * (a pipelined transaction that went wrong leaves nothing worth saving).
 * Rows: CONNECT (to the greeting), LHLO, ENVELOPE (MAIL, RCPT and DATA
 * sent to the 354), DATA (the message sent to the last recipient's reply:
 * the delivery), QUIT; the JSON adds messages and deliveries per second
 * and the deliveries of each user (bench/run compares them with what the
 * mailboxes hold). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "loadgen.h"

#define LMTP_SENDER "bench-sender@example.org"

/* The corpus as DATA carries it: dot-stuffed, ending in CRLF. */
static char **stuffed;
static size_t *stuffed_len;
static unsigned long messages_done, deliveries_done;
static unsigned long *delivered; /* per user */
static int nready, window_open;

static int addr_part_ok(const char *s, size_t max)
{
	return strlen(s) <= max && !strpbrk(s, " <>\"\\@%\r\n");
}

/* The parts of the addresses it writes between < and >. */
int lmtp_options_ok(void)
{
	return addr_part_ok(opt.lmtp_detail, 64) && addr_part_ok(opt.lmtp_domain, 128) &&
	       opt.lmtp_domain[0] && opt.lmtp_rcpt2 >= 0 && opt.lmtp_rcpt2 <= 100;
}

/* m as DATA carries it (RFC 5321 4.5.2): a line starting with "." gets
 * another; a message not ending in CRLF gets one (the server stores it). */
static char *stuff(const char *m, size_t n, size_t *outlen)
{
	char *out = malloc(2 * n + 2);
	size_t o = 0;
	int bol = 1;

	if (!out)
		lg_oom();
	for (size_t k = 0; k < n; k++) {
		if (bol && m[k] == '.')
			out[o++] = '.';
		out[o++] = m[k];
		bol = m[k] == '\n' && k > 0 && m[k - 1] == '\r';
	}
	if (!bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	*outlen = o;
	return out;
}

void lmtp_init(void)
{
	stuffed = malloc(ncorpus * sizeof(*stuffed));
	stuffed_len = malloc(ncorpus * sizeof(*stuffed_len));
	delivered = calloc((size_t)opt.nusers, sizeof(*delivered));
	if (!stuffed || !stuffed_len || !delivered)
		lg_oom();
	for (size_t i = 0; i < ncorpus; i++)
		stuffed[i] = stuff(corpus[i], corpus_len[i], &stuffed_len[i]);
}

/* One recipient, or two different ones in address order, as Postfix's
 * queue manager sorts a message's recipients. The order matters to
 * Dovecot with mbox, which holds the first recipient's mbox locked while
 * it copies the message to the second: two deliveries taking the same
 * two in opposite orders fail with EDEADLK (451 4.2.0). */
static void pick_rcpts(struct conn *c)
{
	int two = opt.nusers > 1 && random() % 100 < opt.lmtp_rcpt2;
	int a = (int)(random() % opt.nusers), b;

	c->lmtp_nrcpt = 1 + two;
	c->lmtp_rcpt[0] = a;
	if (!two)
		return;
	b = (a + 1 + (int)(random() % (opt.nusers - 1))) % opt.nusers;
	c->lmtp_rcpt[0] = a < b ? a : b;
	c->lmtp_rcpt[1] = a < b ? b : a;
}

static void add_rcpt(struct evbuffer *out, int user)
{
	char login[64];

	snprintf(login, sizeof(login), opt.user_fmt, user + 1);
	if (opt.lmtp_detail[0])
		evbuffer_add_printf(out, "RCPT TO:<%s+%s@%s>\r\n", login, opt.lmtp_detail,
				    opt.lmtp_domain);
	else
		evbuffer_add_printf(out, "RCPT TO:<%s@%s>\r\n", login, opt.lmtp_domain);
}

/* The next step, sent: a command line, and the step whose replies follow. */
static void lmtp_send(struct conn *c, enum step step, enum cmd kind, const char *line)
{
	if (line)
		evbuffer_add_printf(bufferevent_get_output(c->bev), "%s\r\n", line);
	c->step = step;
	c->cur = kind;
	c->lmtp_replies = 0;
	c->sent_at = now();
}

/* MAIL, RCPT and DATA in one write; or QUIT when the run is over. */
static void next_message(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (stopping || now() >= t_end) {
		lmtp_send(c, S_LOGOUT, C_QUIT, "QUIT");
		return;
	}
	pick_rcpts(c);
	evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", LMTP_SENDER);
	for (int i = 0; i < c->lmtp_nrcpt; i++)
		add_rcpt(out, c->lmtp_rcpt[i]);
	lmtp_send(c, S_ENVELOPE, C_ENVELOPE, "DATA");
}

/* After the 354: the message, from the corpus without a copy. */
static void send_message(struct conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t i = (size_t)random() % ncorpus;

	evbuffer_add_printf(out, "X-Bench-Id: lmtp-%d-%lu-%ld\r\n", c->id, ++c->seq,
			    (long)random());
	evbuffer_add_reference(out, stuffed[i], stuffed_len[i], NULL, NULL);
	evbuffer_add(out, ".\r\n", 3);
	lmtp_send(c, S_MESSAGE, C_DATA, NULL);
}

/* Every client set up: the window opens, the waiting ones begin. */
static void open_window(void)
{
	window_open = 1;
	window_start();
	for (int i = 0; i < opt.clients; i++)
		if (conns[i].bev && conns[i].step == S_LMTP_WAIT)
			next_message(&conns[i]);
}

/* c is set up: its first message now, or once all are. */
static void setup_done(struct conn *c)
{
	if (window_open) {
		next_message(c);
		return;
	}
	c->step = S_LMTP_WAIT;
	if (!c->lmtp_counted) {
		c->lmtp_counted = 1;
		if (++nready == opt.clients)
			open_window();
	}
}

/* A reply that ends the step's exchange as it should. */
static void step_done(struct conn *c)
{
	record(c->cur, (now() - c->sent_at) * 1000);
	switch (c->step) {
	case S_GREETING:
		c->lmtp_pipelining = 0;
		lmtp_send(c, S_LHLO, C_LHLO, "LHLO loadgen.bench.example");
		break;
	case S_LHLO:
		setup_done(c);
		break;
	case S_MESSAGE:
		next_message(c);
		break;
	case S_ENVELOPE:
		send_message(c);
		break;
	default: /* QUIT answered */
		sessions_done++;
		restart_later(c);
		break;
	}
}

/* The code of the reply the step expects next. */
static int expected_code(const struct conn *c)
{
	switch (c->step) {
	case S_GREETING: return 220;
	case S_ENVELOPE: return c->lmtp_replies == c->lmtp_nrcpt + 1 ? 354 : 250;
	case S_LOGOUT: return 221;
	default: return 250;
	}
}

/* Replies the step has in all. */
static int replies_due(const struct conn *c)
{
	switch (c->step) {
	case S_ENVELOPE: return c->lmtp_nrcpt + 2;
	case S_MESSAGE: return c->lmtp_nrcpt;
	default: return 1;
	}
}

static void step_failed(struct conn *c, const char *why, const char *line, size_t len)
{
	stats[c->cur].errors++;
	errmsg("conn %d: %s reply %d of %d%s: %.*s", c->id, cmd_names[c->cur],
	       c->lmtp_replies + 1, replies_due(c), why, (int)(len > 200 ? 200 : len), line);
	restart_later(c);
}

/* A whole reply's last line (code and text). */
static void reply_done(struct conn *c, int code, const char *line, size_t len)
{
	if (code != expected_code(c)) {
		step_failed(c, "", line, len);
		return;
	}
	if (c->step == S_LHLO && !c->lmtp_pipelining) {
		step_failed(c, " (no PIPELINING offered)", line, len);
		return;
	}
	if (c->step == S_MESSAGE) {
		delivered[c->lmtp_rcpt[c->lmtp_replies]]++;
		deliveries_done++;
	}
	if (++c->lmtp_replies < replies_due(c))
		return;
	if (c->step == S_MESSAGE)
		messages_done++;
	step_done(c);
}

/* One line "ddd-text" (more follow) or "ddd text" (the last). */
static void reply_line(struct conn *c, const char *line, size_t len)
{
	if (opt.verbose > 1)
		fprintf(stderr, "S%d: %.*s\n", c->id, (int)(len > 200 ? 200 : len), line);
	if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		proto_errors++;
		errmsg("conn %d: not an LMTP reply: %.*s", c->id, (int)(len > 200 ? 200 : len), line);
		restart_later(c);
		return;
	}
	if (c->step == S_LHLO && len >= 14 && !strncmp(line + 4, "PIPELINING", 10) &&
	    (len == 14 || line[14] == ' '))
		c->lmtp_pipelining = 1;
	if (len > 3 && line[3] == '-')
		return;
	reply_done(c, atoi(line), line, len);
}

void lmtp_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* until no whole line is left, or the connection ended (restart_later
	 * may already have put a new one in c->bev) */
	while (c->bev == bev) {
		size_t n;
		char *l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT);

		if (!l)
			return;
		reply_line(c, l, n);
		free(l);
	}
}

void lmtp_print_json(double elapsed)
{
	printf("  \"messages\": %lu,\n  \"messages_s\": %.1f,\n", messages_done,
	       messages_done / elapsed);
	printf("  \"deliveries\": %lu,\n  \"deliveries_s\": %.1f,\n", deliveries_done,
	       deliveries_done / elapsed);
	printf("  \"delivered_per_user\": [");
	for (int i = 0; i < opt.nusers; i++)
		printf("%s%lu", i ? ", " : "", delivered[i]);
	printf("],\n");
}
