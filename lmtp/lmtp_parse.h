/* LMTP (RFC 2033) command lines and the DATA stream, parsed without any
 * I/O: the session (lmtp_session.c) reads the socket, hands each line or
 * run of bytes here and writes the replies. Everything is bounded: a
 * command lives in a fixed struct, the DATA decoder keeps a few bytes of
 * state whatever the size of the message. */
#ifndef HAVEN_LMTP_PARSE_H
#define HAVEN_LMTP_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LMTP_LINE_MAX 4096        /* longest command line accepted (incl. CRLF) */
#define LMTP_ADDR_MAX 512         /* longest address (after decoding) */

enum lmtp_verb { LMTP_LHLO, LMTP_MAIL, LMTP_RCPT, LMTP_DATA, LMTP_BDAT, LMTP_RSET,
		 LMTP_NOOP, LMTP_QUIT, LMTP_VRFY, LMTP_HELO_EHLO /* not allowed in LMTP */,
		 LMTP_UNKNOWN };
enum lmtp_body { LMTP_BODY_7BIT, LMTP_BODY_8BITMIME, LMTP_BODY_BINARYMIME };

struct lmtp_cmd {
	enum lmtp_verb verb;
	char arg[LMTP_LINE_MAX];  /* LHLO: the domain/literal; VRFY: the argument */
	char addr[LMTP_ADDR_MAX]; /* MAIL: reverse-path ("" for <>); RCPT: forward-path.
	                           * Canonical form local@domain (or a bare local part
	                           * for RCPT): a quoted local part whose content is a
	                           * valid dot-string loses its quotes ("a.b"@x ->
	                           * a.b@x); any other keeps them, with a backslash
	                           * only before '"' and '\' ("a\ b"@x -> "a b"@x).
	                           * Source routes are dropped; <Postmaster> (any
	                           * case, no domain) becomes "postmaster". */
	uint64_t size;            /* MAIL SIZE=, 0 if absent; a value past 2^64-1
	                           * is UINT64_MAX (larger than any limit) */
	enum lmtp_body body;      /* MAIL BODY= (7BIT if absent) */
	int smtputf8;             /* MAIL SMTPUTF8 */
	uint64_t bdat_len;        /* BDAT n */
	int bdat_last;            /* BDAT n LAST */
};

/* Parse one command line (without its CRLF; a bare LF-terminated line is the
 * caller's business). 0, or -1 with *code and *text set to the SMTP reply
 * for the error (text without the code, enhanced status code first, static):
 *   500 "5.5.2 Line too long"              longer than LMTP_LINE_MAX - 2
 *   500 "5.5.2 Syntax error"               empty line, control character or
 *                                          NUL anywhere, invalid UTF-8
 *   501 "5.5.4 Invalid parameters"         arguments where none belong, a
 *                                          bad or repeated parameter value
 *   501 "5.5.2 Syntax: ..."                LHLO/MAIL/RCPT/VRFY/BDAT without
 *                                          their mandatory argument form
 *   501 "5.1.7 Bad sender address syntax", "5.1.7 Sender address too long"
 *   501 "5.1.3 Bad recipient address syntax", "5.1.3 Recipient address too long"
 *   553 "5.6.7 Non-ASCII address without SMTPUTF8"
 *   555 "5.5.4 Unsupported parameter"
 * On error *out holds nothing usable. A refused BDAT leaves its chunk's
 * length unknown, so the bytes that follow cannot be told from commands:
 * the session should answer and close. Unknown verbs give verb LMTP_UNKNOWN
 * and 0 (the session answers 500 5.5.1); HELO and EHLO give LMTP_HELO_EHLO
 * and 0 without looking at their argument. Verbs, "FROM:", "TO:", parameter
 * keywords and their keyword values are case-insensitive. Trailing spaces
 * are ignored.
 *
 * "MAIL FROM:" / "RCPT TO:" allow no space before '<' per RFC 5321 but
 * accept one (as Postfix and Dovecot do). Parameters are separated by one
 * or more spaces. MAIL accepts SIZE=<1-20 digits>, BODY=7BIT|8BITMIME|
 * BINARYMIME, SMTPUTF8, and checks then ignores the DSN parameters
 * RET=FULL|HDRS and ENVID=<xtext>; RCPT accepts ORCPT=<addr-type;xtext>
 * and NOTIFY=NEVER|<SUCCESS,FAILURE,DELAY list>. A repeated parameter is
 * 501, any other keyword 555.
 *
 * Addresses: RFC 5321 Path (source routes "@a,@b:" accepted and dropped),
 * Mailbox = Local-part "@" ( Domain / address-literal ), where the literal
 * is [IPv4] or [IPv6:...] (no other tag is registered). RCPT also accepts a
 * bare local part without "@domain" (`RCPT TO:<demo>`), which covers the
 * special <postmaster>. Non-ASCII (UTF-8) octets in addresses are accepted
 * only with SMTPUTF8: for RCPT (and VRFY's argument) when `utf8_ok` is true
 * (the session passes whether this transaction's MAIL had SMTPUTF8); for
 * MAIL when the line itself carries the SMTPUTF8 parameter (utf8_ok is not
 * looked at: a MAIL starts a new transaction). */
int lmtp_parse_line(const char *line, size_t len, int utf8_ok, struct lmtp_cmd *out,
		    int *code, const char **text);

/* Split a recipient address "local+detail@domain" (the canonical form of
 * lmtp_cmd.addr) into user part and detail, with the detail delimiter
 * `delim` (a set of ASCII characters, e.g. "+" or "+-"; "" or NULL for
 * none). user gets "local@domain" (or "local" without domain), detail the
 * part of the local part after its first delimiter ("" if none). A local
 * part that starts with a delimiter is not split (an empty user is never
 * meant). Quoted local parts: the delimiter is looked for in the decoded
 * local part, and user's local part is quoted again if it needs it; detail
 * is decoded text. user can be 2 bytes longer than addr (a.+@x, a
 * dot-string, has the user "a."@x): give it LMTP_ADDR_MAX + 2. Outputs
 * are NUL-terminated, truncation is an error (-1), as is an address whose
 * local part does not parse. 0 ok. */
int lmtp_addr_split(const char *addr, const char *delim, char *user, size_t userlen,
		    char *detail, size_t detaillen);

/* Incremental DATA decoder: feed it the bytes after "354" as they come; it
 * removes dot-stuffing (a line starting "." loses that dot) and finds the
 * end: a line that is exactly "." (lines end with CRLF only: a bare LF is
 * data), even at the very beginning of the data. The CRLF before the final
 * "." belongs to the message. Output goes to the sink in runs (between
 * removed dots and across the whole of each feed), never byte by byte.
 * Only O(1) state is kept between calls: the same bytes cut at any points
 * give the same output. */
struct lmtp_data;
typedef int (*lmtp_sink)(void *ctx, const void *data, size_t len);  /* 0, or -1 stops */
struct lmtp_data *lmtp_data_new(lmtp_sink sink, void *ctx);
/* Consumes bytes from buf; returns the number of bytes consumed (less than
 * len only when the end was found: the rest belongs to the next command,
 * PIPELINING; 0 once done) or -1 when the sink failed. *done is set to 1
 * once the terminating line was seen, 0 before.
 *
 * After -1 the message is lost but the client still sends it up to its end
 * (a sink that refuses past a size limit is the usual case): the decoder
 * has gone back to where it stood before this call and from now on only
 * looks for the end, without calling the sink. Feed it the same buf again,
 * and what follows, until *done; the return values then say where the next
 * command starts, as always. */
ssize_t lmtp_data_feed(struct lmtp_data *d, const void *buf, size_t len, int *done);
void lmtp_data_free(struct lmtp_data *d);

#endif
