/* libFuzzer target for lmtp/: command lines and the DATA decoder. The
 * input's first byte k (mod 16) and the k bytes after it are piece
 * lengths; the rest is the payload. Besides "no crash" it checks:
 *  - as a command line (with and without SMTPUTF8): a refusal is a 5xx
 *    reply with an enhanced status code; an accepted MAIL or RCPT address
 *    is canonical (RCPT TO:<addr> gives it back unchanged), and splitting
 *    it yields a user that splits no further;
 *  - as DATA: fed whole and fed in the chosen pieces, the output, the
 *    bytes consumed and the end are the same; with a sink that fails
 *    part-way, feeding the same bytes again finds the same end;
 *  - as a message body: dot-stuffed as a client does and terminated, it
 *    decodes to itself and the end is found exactly after the ".". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lmtp/lmtp_parse.h"

struct pieces {
	const uint8_t *len;
	size_t n, next;
};

struct sink {
	struct buf out;
	size_t limit;   /* refuse once out would pass it; SIZE_MAX: never */
};

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct sink *s = ctx;

	if (n == 0)
		abort();   /* runs are never empty */
	if (n > s->limit - s->out.len)
		return -1;
	buf_append(&s->out, p, n);
	return 0;
}

static void check_reply(int code, const char *text)
{
	if (code / 100 != 5 || text == NULL || text[0] != '5' || text[1] != '.')
		abort();
}

static void check_split(const char *addr)
{
	char user[LMTP_ADDR_MAX + 2], detail[LMTP_ADDR_MAX], u2[LMTP_ADDR_MAX + 2], d2[8];

	/* The user part may be longer than the address by its quotes:
	 * a.+@x (a dot-string) has the user "a."@x. */
	if (lmtp_addr_split(addr, "+-", user, sizeof(user), detail, sizeof(detail)) != 0 ||
	    lmtp_addr_split(user, "+-", u2, sizeof(u2), d2, sizeof(d2)) != 0 ||
	    strcmp(u2, user) != 0 || d2[0] != '\0')
		abort();
	if (lmtp_addr_split(addr, "", u2, sizeof(u2), d2, sizeof(d2)) != 0 ||
	    strcmp(u2, addr) != 0 || d2[0] != '\0')
		abort();
}

static void check_canonical(const char *addr)
{
	static struct lmtp_cmd again;
	struct buf line = BUF_INIT;
	const char *text;
	int code;

	if (strlen(addr) >= LMTP_ADDR_MAX)
		abort();
	for (const char *p = addr; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	buf_append_str(&line, "RCPT TO:<");
	buf_append_str(&line, addr);
	buf_append_str(&line, ">");
	if (lmtp_parse_line(line.data, line.len, 1, &again, &code, &text) != 0 ||
	    strcmp(again.addr, addr) != 0)
		abort();
	buf_free(&line);
	check_split(addr);
}

static void fuzz_line(const uint8_t *d, size_t n, int utf8)
{
	static struct lmtp_cmd cmd;
	const char *text = NULL;
	int code = 0;

	if (lmtp_parse_line((const char *)d, n, utf8, &cmd, &code, &text) != 0) {
		check_reply(code, text);
		return;
	}
	if (cmd.verb == LMTP_RCPT || (cmd.verb == LMTP_MAIL && cmd.addr[0] != '\0'))
		check_canonical(cmd.addr);
	if (strlen(cmd.arg) >= LMTP_LINE_MAX - 2)
		abort();
}

/* Feed d[0..n) in pieces (a piece that fails is given again); the
 * total consumed, *done as the decoder left it. */
static size_t feed(struct lmtp_data *dec, const uint8_t *d, size_t n, struct pieces *pc,
		   int *done)
{
	size_t at = 0;

	*done = 0;
	while (!*done && at < n) {
		size_t piece = pc ? pc->len[pc->next++ % pc->n] : n;
		if (piece > n - at)
			piece = n - at;
		ssize_t r = lmtp_data_feed(dec, d + at, piece, done);
		if (r < 0)
			r = lmtp_data_feed(dec, d + at, piece, done);
		if (r < 0 || (size_t)r > piece || (!*done && (size_t)r != piece))
			abort();
		at += (size_t)r;
		if (*done && (size_t)r == piece && lmtp_data_feed(dec, "x", 1, done) != 0)
			abort();
	}
	return at;
}

static size_t decode(const uint8_t *d, size_t n, struct pieces *pc, size_t limit,
		     struct buf *out, int *done)
{
	struct sink s = { BUF_INIT, limit };
	struct lmtp_data *dec = lmtp_data_new(sink_write, &s);
	size_t used = feed(dec, d, n, pc, done);

	lmtp_data_free(dec);
	*out = s.out;
	return used;
}

static void fuzz_data(const uint8_t *d, size_t n, struct pieces *pc)
{
	struct buf whole, cut, failed;
	int done1, done2, done3;
	size_t used1 = decode(d, n, NULL, SIZE_MAX, &whole, &done1);
	size_t used2 = decode(d, n, pc, SIZE_MAX, &cut, &done2);
	size_t used3 = decode(d, n, pc, pc->n ? pc->len[0] : 0, &failed, &done3);

	if (used1 != used2 || done1 != done2 || whole.len != cut.len ||
	    (whole.len && memcmp(whole.data, cut.data, whole.len) != 0))
		abort();
	if (used3 != used1 || done3 != done1)
		abort();
	buf_free(&whole);
	buf_free(&cut);
	buf_free(&failed);
}

/* What a client sends for body d: a dot doubled at each line start, a
 * CRLF if the body has no last one, ".\r\n", and a next command. */
static void stuff(const uint8_t *d, size_t n, struct buf *wire, size_t *end)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i] == '.' && (i == 0 || (i >= 2 && d[i - 2] == '\r' && d[i - 1] == '\n')))
			buf_append_byte(wire, '.');
		buf_append_byte(wire, (char)d[i]);
	}
	if (n < 2 || d[n - 2] != '\r' || d[n - 1] != '\n')
		buf_append_str(wire, "\r\n");
	buf_append_str(wire, ".\r\n");
	*end = wire->len;
	buf_append_str(wire, "QUIT\r\n");
}

static void fuzz_round_trip(const uint8_t *d, size_t n, struct pieces *pc)
{
	struct buf wire = BUF_INIT, out;
	size_t end, used;
	int done;

	stuff(d, n, &wire, &end);
	used = decode((const uint8_t *)wire.data, wire.len, pc, SIZE_MAX, &out, &done);
	/* The body, and the CRLF added when it had no last one. */
	if (!done || used != end || out.len < n || (n && memcmp(out.data, d, n) != 0) ||
	    (out.len != n && (out.len != n + 2 || memcmp(out.data + n, "\r\n", 2) != 0)))
		abort();
	buf_free(&wire);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t one = 1;
	struct pieces pc = { &one, 1, 0 };
	size_t k;

	if (size == 0)
		return 0;
	k = data[0] % 16;
	if (k > size - 1)
		k = size - 1;
	/* Pieces of zero bytes are fine, but some piece must move on. */
	for (size_t i = 1; i <= k; i++)
		if (data[i] != 0) {
			pc.len = data + 1;
			pc.n = k;
			break;
		}
	data += k + 1;
	size -= k + 1;
	fuzz_line(data, size, 0);
	fuzz_line(data, size, 1);
	fuzz_data(data, size, &pc);
	pc.next = 0;
	fuzz_round_trip(data, size, &pc);
	return 0;
}
