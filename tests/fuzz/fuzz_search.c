/* libFuzzer target for SEARCH: the input is the argument text of a
 * command ("a SEARCH " + input, literals inline), parsed by the command
 * parser and then by search_parse. A program that parses must be well
 * formed (subtrees nest, key and depth caps hold) and is evaluated over a
 * few fixed messages. The same input is also searched as a message with a
 * fixed set of programs, to exercise header, encoded-word, MIME and
 * transfer-decoding paths on hostile mail. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../protocol/search_parse.h"
#include "fuzz_cmd.h"

#define MAX_INPUT 65536

static const char *const messages[] = {
	"From: =?ISO-8859-1?Q?Zo=EB?= <zoe@example.org>\r\n"
	"To: bob@example.com\r\nCc: c@example.net\r\nBcc: d@example.net\r\n"
	"Subject: =?UTF-8?B?Q2Fmw6kgY3LDqG1l?=\r\n"
	"Date: Mon, 3 Feb 2020 10:00:00 +0100\r\n"
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	"w5xuw69jb2RlIGJvZHk=\r\n",
	"Subject: multi\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe=\r\n x\r\n"
	"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
	"no header at all",
	"",
};
#define NMSG (sizeof(messages) / sizeof(messages[0]))

static const char *const kwnames[] = { "$Work", "Urgent" };
static const uint32_t kw0[] = { 0 }, kw1[] = { 1, 0 };
static const uint32_t saved[] = { 2, 7, 9 };

static const char *cur_msg;
static size_t cur_len;

static int read_fixed(void *arg, uint32_t uid, int header_only, struct buf *out,
		      struct error *err)
{
	if (uid == 9) {
		error_set(err, ERR_INTERNAL, "gone wrong");
		return -1;
	}
	if (uid == 7)
		return 1;   /* expunged */
	const char *m = messages[(uid - 1) % NMSG];
	buf_append(out, m, strlen(m));
	return 0;
}

static int read_input(void *arg, uint32_t uid, int header_only, struct buf *out,
		      struct error *err)
{
	buf_append(out, cur_msg, cur_len);
	return 0;
}

/* Structural checks on a parsed program. */
/* RETURN as RFC 5267 allows it: one PARTIAL or ALL, a range 1 <= lo <=
 * hi, UPDATE never with SAVE. */
static void check_return(const struct search_program *p)
{
	if ((p->ret & SR_PARTIAL) && ((p->ret & SR_ALL) || p->partial_lo == 0 ||
				      p->partial_lo > p->partial_hi))
		abort();
	if ((p->ret & SR_UPDATE) && (p->ret & SR_SAVE))
		abort();
}

static void check_program(const struct search_program *p)
{
	uint32_t ends[SEARCH_MAX_DEPTH + 2];
	size_t sp = 0;

	check_return(p);

	if (p->nnodes < 2 || p->nnodes > SEARCH_MAX_KEYS + 1)
		abort();
	if (p->nodes[0].op != SK_AND || p->nodes[0].end != p->nnodes)
		abort();
	for (size_t i = 0; i < p->nnodes; i++) {
		const struct search_node *n = &p->nodes[i];
		while (sp > 0 && ends[sp - 1] == i)
			sp--;
		if (n->end <= i || n->end > p->nnodes)
			abort();
		if (sp > 0 && n->end > ends[sp - 1])
			abort();      /* a subtree leaks out of its parent */
		if (n->op == SK_AND || n->op == SK_OR || n->op == SK_NOT) {
			if (n->end == i + 1)
				abort();  /* operators have operands */
			if (sp == SEARCH_MAX_DEPTH + 1)
				abort();
			ends[sp++] = n->end;
		} else if (n->end != i + 1) {
			abort();
		}
		if (n->str && strlen(n->str) != n->len &&
		    n->op != SK_KEYWORD && n->op != SK_UNKEYWORD)
			abort();
	}
	if ((p->ret & ~(unsigned)(SR_MIN | SR_MAX | SR_ALL | SR_COUNT | SR_SAVE | SR_PARTIAL |
				  SR_UPDATE | SR_CONTEXT)) != 0)
		abort();
	if (p->has_return && p->ret == 0)
		abort();
}

static void eval_fixed(struct search_program *p)
{
	struct search_ctx ctx;
	struct msg_meta meta[10];
	struct error err;

	memset(&ctx, 0, sizeof(ctx));
	memset(meta, 0, sizeof(meta));
	for (uint32_t i = 0; i < 10; i++) {
		meta[i].uid = i + 1;
		meta[i].flags = i & MF_ALL;
		meta[i].kw = i % 3 == 0 ? kw0 : kw1;
		meta[i].nkw = i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 0;
		meta[i].internaldate = 1580000000 + (time_t)i * 86400 * 3;
		meta[i].tz_minutes = (int)(i * 60) - 300;
		meta[i].size = strlen(messages[i % NMSG]);
	}
	ctx.kwnames = kwnames;
	ctx.nkwnames = 2;
	ctx.saved = saved;
	ctx.nsaved = 3;
	ctx.count = 10;
	ctx.maxuid = 10;
	ctx.read = read_fixed;
	search_prepare(p, &ctx);
	for (uint32_t seq = 1; seq <= 10; seq++) {
		int r = search_match(p, &ctx, seq, &meta[seq - 1], &err);
		if (r < -1 || r > 1)
			abort();
	}
	search_ctx_free(&ctx);
}

static const char *const programs[] = {
	"TEXT x", "BODY \"zz\"", "HEADER Subject a", "SENTON 1-Jan-2000", "FROM {2}\r\n\xc3\xa9",
	"OR CC q BCC w", "NOT TO \"\"", "SUBJECT {3}\r\n\xe2\x84\xaa", "HEADER X-A \"\"",
	"SENTSINCE 1-Jan-1970 SENTBEFORE 1-Jan-2100",
};

static void eval_as_message(struct arena *a, const uint8_t *data, size_t size)
{
	cur_msg = (const char *)data;
	cur_len = size;
	for (size_t k = 0; k < sizeof(programs) / sizeof(programs[0]); k++) {
		struct imap_cmd cmd;
		struct search_program p;
		struct search_ctx ctx;
		struct msg_meta m;
		struct error err;
		const char *e;

		arena_reset(a);
		if (fuzz_parse_cmd(a, "SEARCH", (const uint8_t *)programs[k], strlen(programs[k]),
				   &cmd, &e) < 0 ||
		    search_parse(a, cmd.args, cmd.nargs, &p, &e) != SEARCH_OK)
			abort();
		memset(&ctx, 0, sizeof(ctx));
		memset(&m, 0, sizeof(m));
		m.uid = 1;
		m.size = size;
		ctx.count = 1;
		ctx.maxuid = 1;
		ctx.read = read_input;
		search_prepare(&p, &ctx);
		if (search_match(&p, &ctx, 1, &m, &err) < 0)
			abort();
		search_ctx_free(&ctx);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct imap_cmd cmd;
	struct search_program p;
	const char *err = NULL;

	if (size > MAX_INPUT)
		return 0;
	if (a == NULL)
		a = arena_new();
	arena_reset(a);
	if (fuzz_parse_cmd(a, "SEARCH", data, size, &cmd, &err) == 0) {
		enum search_status st = search_parse(a, cmd.args, cmd.nargs, &p, &err);
		if (st == SEARCH_OK) {
			check_program(&p);
			eval_fixed(&p);
		} else if (err == NULL || (st != SEARCH_BAD && st != SEARCH_LIMIT &&
					   st != SEARCH_BADCHARSET)) {
			abort();
		}
	}
	eval_as_message(a, data, size);
	return 0;
}
