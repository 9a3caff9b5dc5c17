/* Outgoing mail of Sieve actions (redirect, vacation): one plain SMTP
 * transaction with the MTA at submission_host (host:port, or the path of
 * a unix socket), which relays it.
 *
 * It runs in the user worker, which holds the message and what the
 * script decided: its seccomp filter already allows the sockets a
 * database store needs (AF_INET, AF_INET6, AF_UNIX) and connect(), so
 * nothing is widened. The master is root and never parses mail; the LMTP
 * worker is chrooted and never learns what a script decided; the pre-auth
 * login workers see none of it. No secret is involved: the MTA is a local
 * one that takes mail from this host (Postfix's mynetworks) without a
 * login. The worker waits for the MTA (at most SUBMIT_TIMEOUT per step),
 * as it waits for its store during a delivery. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/net.h"
#include "../lib/xmalloc.h"
#include "deliver.h"
#include "worker.h"

#define SUBMIT_TIMEOUT 30     /* seconds for each read or write */
#define SUBMIT_LINE 1024      /* longest reply line looked at */
#define SUBMIT_PIECE 65536

struct smtp {
	int fd;
	char in[SUBMIT_LINE];
	size_t inlen;
	int line_start;           /* the body written so far ends a line */
};

static int smtp_connect(struct smtp *c, struct error *err)
{
	const char *where = W->cfg.submission_host;
	struct timeval tv = { .tv_sec = SUBMIT_TIMEOUT };

	memset(c, 0, sizeof(*c));
	c->line_start = 1;
	c->fd = net_connect(where);
	if (c->fd < 0) {
		error_set(err, ERR_UNAVAILABLE, "cannot reach submission_host %s", where);
		return -1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return 0;
}

static int smtp_write(struct smtp *c, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One line of a reply into c->in (NUL-terminated, CRLF cut; the rest of a
 * longer line skipped). */
static int smtp_line(struct smtp *c)
{
	char ch;
	c->inlen = 0;
	for (;;) {
		ssize_t n = read(c->fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (ch != '\r' && c->inlen + 1 < sizeof(c->in))
			c->in[c->inlen++] = ch;
	}
	c->in[c->inlen] = '\0';
	return 0;
}

/* A whole reply: its code when its class is want, else -1 with err. */
static int smtp_reply(struct smtp *c, int want, const char *step, struct error *err)
{
	do {
		if (smtp_line(c) < 0) {
			error_set(err, ERR_UNAVAILABLE, "submission_host: no reply to %s", step);
			return -1;
		}
	} while (c->inlen > 3 && c->in[3] == '-');
	if (c->inlen < 3 || c->in[0] - '0' != want) {
		error_set(err, c->in[0] == '5' ? ERR_CANNOT : ERR_UNAVAILABLE,
			  "submission_host refused %s: %s", step, c->in);
		return -1;
	}
	return 0;
}

static int smtp_cmd(struct smtp *c, int want, const char *step, const char *line,
		    struct error *err)
{
	if (smtp_write(c, line, strlen(line)) < 0 || smtp_write(c, "\r\n", 2) < 0) {
		error_set(err, ERR_UNAVAILABLE, "submission_host: %s: %s", step, strerror(errno));
		return -1;
	}
	return smtp_reply(c, want, step, err);
}

/* Body bytes, dot-stuffed (RFC 5321 4.5.2). */
static int smtp_body(struct smtp *c, const char *p, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (c->line_start && p[i] == '.') {
			if (smtp_write(c, p + from, i - from) < 0 || smtp_write(c, ".", 1) < 0)
				return -1;
			from = i;
		}
		c->line_start = p[i] == '\n';
	}
	return smtp_write(c, p + from, n - from);
}

static int smtp_body_fd(struct smtp *c, int fd, uint64_t size)
{
	char *piece = xmalloc(SUBMIT_PIECE);
	int rc = 0;

	for (uint64_t at = 0; at < size && rc == 0;) {
		size_t want = size - at < SUBMIT_PIECE ? (size_t)(size - at) : SUBMIT_PIECE;
		ssize_t n = pread(fd, piece, want, (off_t)at);
		if (n <= 0)
			rc = -1;
		else
			rc = smtp_body(c, piece, (size_t)n);
		at += n > 0 ? (uint64_t)n : 0;
	}
	free(piece);
	return rc;
}

/* The envelope, then DATA up to the point where the body goes. */
static int smtp_begin(struct smtp *c, const char *from, const char *to, struct error *err)
{
	char host[256], *line;
	int rc;

	deliver_hostname(host, sizeof(host));
	if (smtp_reply(c, 2, "the greeting", err) < 0)
		return -1;
	line = xasprintf("EHLO %s", host);
	rc = smtp_cmd(c, 2, "EHLO", line, err);
	free(line);
	line = xasprintf("MAIL FROM:<%s>", from);
	rc = rc < 0 ? -1 : smtp_cmd(c, 2, "MAIL", line, err);
	free(line);
	line = xasprintf("RCPT TO:<%s>", to);
	rc = rc < 0 ? -1 : smtp_cmd(c, 2, "RCPT", line, err);
	free(line);
	return rc < 0 ? -1 : smtp_cmd(c, 3, "DATA", "DATA", err);
}

/* A CR or LF in an address would end the command early: never sent. */
static int address_ok(const char *a)
{
	return strpbrk(a, "\r\n<>") == NULL && strlen(a) < 512;
}

int deliver_submit(const char *from, const char *to, const struct submit_body *b,
		   struct error *err)
{
	struct smtp c;
	int rc = -1;

	if (!address_ok(from) || !address_ok(to) || to[0] == '\0') {
		error_set(err, ERR_CANNOT, "address not usable in SMTP");
		return -1;
	}
	if (smtp_connect(&c, err) < 0)
		return -1;
	if (smtp_begin(&c, from, to, err) == 0) {
		if (smtp_body(&c, b->head, b->headlen) < 0 ||
		    (b->fd >= 0 && smtp_body_fd(&c, b->fd, b->fdsize) < 0) ||
		    (!c.line_start && smtp_write(&c, "\r\n", 2) < 0))
			error_set(err, ERR_UNAVAILABLE, "submission_host: sending: %s",
				  strerror(errno));
		else if (smtp_cmd(&c, 2, "the message", ".", err) == 0)
			rc = 0;
	}
	if (rc == 0)
		smtp_write(&c, "QUIT\r\n", 6);
	close(c.fd);
	return rc;
}
