/* Sieve (RFC 5228) mail filtering: the language. A pure library: no I/O,
 * no globals, bounded memory; the caller (delivery, ManageSieve) does the
 * actions. Layer: sieve -> mail, lib.
 *
 * Extensions (what sieve_extensions() lists):
 *   fileinto                     RFC 5228 4.1
 *   reject                       RFC 5429 (reject only, not ereject)
 *   envelope                     RFC 5228 5.4 ("from" and "to")
 *   vacation, vacation-seconds   RFC 5230, RFC 6131 (:seconds)
 *   imap4flags                   RFC 5232 (without variables' variable names)
 *   subaddress                   RFC 5233 (:user, :detail)
 *   copy                         RFC 3894 (fileinto/redirect :copy)
 *   encoded-character            RFC 5228 2.4.2.4 (${hex:..}, ${unicode:..})
 *   comparator-i;ascii-numeric   RFC 4790 9.1 (i;octet and i;ascii-casemap
 *                                are always there and may be required too)
 *   relational                   RFC 5231 (:count, :value)
 *
 * Limits (exceeding one is a compile error, or a runtime error where the
 * value only exists at run time):
 *   SIEVE_MAX_SCRIPT     script size in bytes
 *   SIEVE_MAX_DEPTH      nesting of blocks and tests together
 *   SIEVE_MAX_LIST       strings in one string list
 *   SIEVE_MAX_NODES      commands and tests in one script
 *   SIEVE_MAX_ACTIONS    actions one execution may collect (runtime error)
 *
 * Action conflicts (runtime errors, RFC 5228 2.10.6): reject with keep,
 * fileinto, redirect, vacation or a second reject (RFC 5429 2.1/2.2); a
 * second vacation (RFC 5230 4). Duplicates are merged (RFC 5228 4.2): one
 * keep (flags united), one fileinto per mailbox (flags united, :copy only
 * if every one had it), one redirect per address. */
#ifndef HAVEN_SIEVE_H
#define HAVEN_SIEVE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../lib/buf.h"
#include "../lib/error.h"

#define SIEVE_MAX_SCRIPT (1024 * 1024)
#define SIEVE_MAX_DEPTH 32
#define SIEVE_MAX_LIST 1024
#define SIEVE_MAX_NODES 20000
#define SIEVE_MAX_ACTIONS 64

struct sieve_script;                       /* a compiled script */
/* Parse and check a script (RFC 5228 grammar; `require` must name every
 * extension used; unknown command/test/tag/extension, wrong argument
 * types or counts are errors). -1 with err->code ERR_PARSE and err->msg
 * "line N: what is wrong" (human, one line). */
int sieve_compile(const char *src, size_t len, struct sieve_script **out, struct error *err);
void sieve_script_free(struct sieve_script *s);
/* The extensions sieve_compile accepts, space-separated, for ManageSieve's
 * SIEVE capability. */
const char *sieve_extensions(void);

struct sieve_msg {                 /* what a script may look at */
	const char *header; size_t header_len;  /* the raw header block of the message */
	uint64_t size;                           /* RFC822.SIZE */
	const char *env_from;   /* SMTP MAIL FROM without <>; "" for the null sender */
	const char *env_to;     /* the RCPT TO address as given (may hold +detail) */
	const char *delimiter;  /* recipient_delimiter, e.g. "+", for subaddress; each
				 * character is one delimiter (as Postfix reads it) */
};
enum sieve_act { SIEVE_ACT_KEEP, SIEVE_ACT_FILEINTO, SIEVE_ACT_REDIRECT,
		 SIEVE_ACT_REJECT, SIEVE_ACT_DISCARD, SIEVE_ACT_VACATION };
struct sieve_action {
	enum sieve_act kind;
	char *mailbox;                 /* FILEINTO: the mailbox (UTF-8, '/' hierarchy) */
	char *address;                 /* REDIRECT: where to */
	char *reason;                  /* REJECT: the text; VACATION: the reply body */
	char **flags; size_t nflags;   /* imap4flags for KEEP/FILEINTO ("\\Seen", "$Label1") */
	int copy;                      /* :copy given (RFC 3894) */
	/* VACATION (RFC 5230), only when the message qualifies for a reply
	 * (section 4.5/4.6: not to the null sender, not to lists/bulk/
	 * auto-submitted mail, the recipient's own address appears in
	 * To/Cc/Bcc/Resent-*, not from MAILER-DAEMON/owner-/-request...) */
	char *subject, *from, *handle; /* NULL when not given */
	char **addresses; size_t naddresses;
	unsigned long seconds;         /* :days * 86400 (or :seconds), clamped as the RFC says */
	int mime;
	char *reply_to;                /* whom to answer: the envelope sender */
};
/* Vacation periods: :days defaults to 7 and is clamped to 1..30 days;
 * :seconds (RFC 6131) is clamped to 0..30 days. */
#define SIEVE_VACATION_DEFAULT_DAYS 7
#define SIEVE_VACATION_MAX_SECONDS (30UL * 86400UL)

struct sieve_result {
	struct sieve_action *v; size_t n;  /* in execution order; the implicit keep, when it
					      applies, is a KEEP at the end */
	int runtime_error;                 /* the script failed at run time: v holds only a KEEP */
	char error[256];
};
/* Run the script on one message. Never fails for a compiled script: a
 * runtime error (RFC 5228 2.10.6) gives a result with the implicit keep
 * and runtime_error set. -1 only for out of memory. Duplicate actions
 * merged as RFC 5228 4.2/RFC 5232 say. */
int sieve_execute(const struct sieve_script *s, const struct sieve_msg *m,
		  struct sieve_result *out, struct error *err);
void sieve_result_free(struct sieve_result *r);
/* The vacation reply as RFC 5230 section 5 writes it (From, To, Subject
 * "Auto: ..." when none was given, In-Reply-To/References, Auto-Submitted:
 * auto-replied, Date, Message-ID, MIME, :mime bodies as given), CRLF line
 * ends, ready to submit. */
int sieve_vacation_compose(const struct sieve_action *a, const struct sieve_msg *m,
			   const char *user_address, const char *hostname,
			   time_t now, struct buf *out, struct error *err);

#endif
