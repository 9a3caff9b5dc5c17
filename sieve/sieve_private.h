/* Inside the Sieve library: tokens, the syntax tree the parser builds and
 * the checker annotates, and the interfaces between the files. */
#ifndef HAVEN_SIEVE_PRIVATE_H
#define HAVEN_SIEVE_PRIVATE_H
#include <stddef.h>
#include <stdint.h>

#include "../lib/arena.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "sieve.h"

/* ---- lexer.c ---- */
enum sv_tok {
	TOK_EOF, TOK_IDENT, TOK_TAG, TOK_NUMBER, TOK_STRING,
	TOK_LBRACKET, TOK_RBRACKET, TOK_LPAREN, TOK_RPAREN,
	TOK_COMMA, TOK_SEMI, TOK_LBRACE, TOK_RBRACE, TOK_ERROR,
};
struct sv_lexer {
	const char *p, *end;
	unsigned line;
	struct arena *a;
	/* The current token */
	enum sv_tok tok;
	unsigned tok_line;
	const char *text;      /* IDENT/TAG: lower-cased name; STRING: the value */
	size_t text_len;
	uint64_t num;
	char errmsg[160];      /* TOK_ERROR: what is wrong */
};
void sv_lex_init(struct sv_lexer *lx, struct arena *a, const char *src, size_t len);
enum sv_tok sv_lex_next(struct sv_lexer *lx);

/* ---- parser.c: the syntax tree ---- */
enum sv_argtype { ARG_NUMBER, ARG_STRING, ARG_LIST, ARG_TAG };
struct sv_str {
	const char *s;
	size_t len;
};
struct sv_arg {
	enum sv_argtype type;
	unsigned line;
	uint64_t num;             /* NUMBER */
	const char *tag;          /* TAG: without the colon, lower case */
	struct sv_str *strs;      /* STRING: one; LIST: n */
	size_t nstrs;
};

/* The checker's view of a command or test. */
enum sv_id {
	SV_REQUIRE, SV_IF, SV_ELSIF, SV_ELSE, SV_STOP, SV_KEEP, SV_DISCARD,
	SV_FILEINTO, SV_REDIRECT, SV_REJECT, SV_SETFLAG, SV_ADDFLAG, SV_REMOVEFLAG,
	SV_VACATION,
	/* tests */
	SV_ADDRESS, SV_ENVELOPE, SV_HEADER, SV_EXISTS, SV_SIZE, SV_ALLOF, SV_ANYOF,
	SV_NOT, SV_TRUE, SV_FALSE, SV_HASFLAG,
};
enum sv_cmp { CMP_CASEMAP, CMP_OCTET, CMP_NUMERIC };
enum sv_match { MATCH_IS, MATCH_CONTAINS, MATCH_MATCHES, MATCH_COUNT, MATCH_VALUE };
enum sv_rel { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
enum sv_addrpart { AP_ALL, AP_LOCAL, AP_DOMAIN, AP_USER, AP_DETAIL };

struct sv_node {
	const char *name;
	unsigned line;
	struct sv_arg *args;
	size_t nargs;
	struct sv_node *tests;     /* a single test or a test list */
	size_t ntests;
	int testlist;              /* tests were written in ( ) */
	struct sv_node *block;     /* commands of a { } block */
	size_t nblock;
	int has_block;
	/* Filled by the checker */
	enum sv_id id;
	struct sv_arg *pos[2];     /* positional arguments in order */
	enum sv_cmp cmp;
	enum sv_match match;
	enum sv_rel rel;
	enum sv_addrpart part;
	int over;                  /* size :over (else :under) */
	int copy, mime;
	struct sv_arg *flags;      /* :flags */
	int has_period;
	unsigned long seconds;     /* vacation, clamped */
	struct sv_arg *subject, *from, *addresses, *handle;
};

struct sieve_script {
	struct arena *a;
	struct sv_node *cmds;
	size_t ncmds;
};

/* Parse src into a tree in a; -1 with err "line N: ...". */
int sv_parse(struct arena *a, const char *src, size_t len, struct sv_node **cmds,
	     size_t *ncmds, struct error *err);

/* ---- checker.c ---- */
int sv_check(struct arena *a, struct sv_node *cmds, size_t ncmds, struct error *err);
/* ---- encoded.c: RFC 5228 2.4.2.4 in place of a string; -1 with *why */
int sv_decode_encoded(struct arena *a, struct sv_str *s, const char **why);

/* ---- match.c ---- */
/* Does value (as the message gives it) match key under cmp and match? */
int sv_match_one(enum sv_cmp cmp, enum sv_match match, enum sv_rel rel,
		 const char *value, size_t vlen, const char *key, size_t klen);
/* i;ascii-numeric compare: <0, 0, >0. */
int sv_numeric_cmp(const char *a, size_t alen, const char *b, size_t blen);
int sv_rel_holds(enum sv_rel rel, int cmp);
int sv_ascii_casecmp_n(const char *a, size_t alen, const char *b, size_t blen);

/* ---- msgtest.c: values a test looks at ---- */
/* cb for each value; stops when it returns nonzero and returns that. */
typedef int (*sv_value_cb)(void *ctx, const char *v, size_t len);
int sv_header_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *names,
		     size_t nnames, sv_value_cb cb, void *ctx);
int sv_address_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *names,
		      size_t nnames, enum sv_addrpart part, sv_value_cb cb, void *ctx);
int sv_envelope_values(struct arena *a, const struct sieve_msg *m, const struct sv_str *parts,
		       size_t nparts, enum sv_addrpart part, sv_value_cb cb, void *ctx);
/* The first field called name, unfolded (not decoded), or NULL. */
char *sv_header_first(struct arena *a, const struct sieve_msg *m, const char *name);
int sv_header_exists(const struct sieve_msg *m, const char *name, size_t len);
/* The part of the address local@domain a test asks for; 0 when the
 * address has none (:detail without a delimiter). */
int sv_address_part(const char *addr, size_t len, enum sv_addrpart part, const char *delim,
		    const char **out, size_t *olen);

/* ---- actions.c: the result being built ---- */
struct sv_run {
	struct sieve_result *res;
	const struct sieve_msg *msg;
	struct arena *a;
	char **flags;              /* imap4flags' internal variable */
	size_t nflags;
	int implicit_keep;
	int failed;
	const struct sv_node *vacation;
};
int sv_act_keep(struct sv_run *r, const struct sv_node *n);
int sv_act_fileinto(struct sv_run *r, const struct sv_node *n);
int sv_act_redirect(struct sv_run *r, const struct sv_node *n);
int sv_act_reject(struct sv_run *r, const struct sv_node *n);
int sv_act_discard(struct sv_run *r, const struct sv_node *n);
int sv_act_vacation(struct sv_run *r, const struct sv_node *n);
void sv_flags_change(struct sv_run *r, enum sv_id op, const struct sv_arg *list);
void sv_run_fail(struct sv_run *r, const struct sv_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After the script: the implicit keep, or only a keep on failure. */
void sv_run_finish(struct sv_run *r);
/* Split flag strings at blanks into list/n (deduplicated, case-insensitive). */
void sv_flags_add(char ***list, size_t *n, const struct sv_str *strs, size_t nstrs);

/* ---- vacation.c ---- */
/* Does the message qualify for a vacation reply (RFC 5230 4.5/4.6)? */
int sv_vacation_eligible(struct arena *a, const struct sieve_msg *m, const struct sv_node *n);

#endif
