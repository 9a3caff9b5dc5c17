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
	SV_VACATION, SV_SET,
	/* tests */
	SV_ADDRESS, SV_ENVELOPE, SV_HEADER, SV_EXISTS, SV_SIZE, SV_ALLOF, SV_ANYOF,
	SV_NOT, SV_TRUE, SV_FALSE, SV_HASFLAG, SV_STRING,
};
/* set's modifiers (RFC 5229 4.1) */
enum {
	SETMOD_LOWER = 1 << 0, SETMOD_UPPER = 1 << 1, SETMOD_LOWERFIRST = 1 << 2,
	SETMOD_UPPERFIRST = 1 << 3, SETMOD_QUOTEWILDCARD = 1 << 4, SETMOD_LENGTH = 1 << 5,
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
	unsigned setmods;          /* SETMOD_* */
	struct sv_arg *flagvars;   /* imap4flags with variables: the variable(s) named */
};

struct sieve_script {
	struct arena *a;
	int variables;             /* "variables" required: strings are expanded */
	struct sv_node *cmds;
	size_t ncmds;
};

/* Parse src into a tree in a; -1 with err "line N: ...". */
int sv_parse(struct arena *a, const char *src, size_t len, struct sv_node **cmds,
	     size_t *ncmds, struct error *err);

/* ---- checker.c ---- */
/* Make an error message one line of UTF-8, whatever script text it quotes
 * (ManageSieve sends it as a quoted string). */
void sv_msg_clean(char *msg);
/* 0, with *variables set when the script requires "variables". */
int sv_check(struct arena *a, struct sv_node *cmds, size_t ncmds, int *variables,
	     struct error *err);
/* What the checker checks of constant values, at run time for expanded ones. */
int sv_mailbox_ok(const char *s, size_t len);
int sv_address_ok(const char *s, size_t len);
/* ---- encoded.c: RFC 5228 2.4.2.4 in place of a string; -1 with *why */
int sv_decode_encoded(struct arena *a, struct sv_str *s, const char **why);

/* ---- match.c ---- */
/* Does value (as the message gives it) match key under cmp and match?
 * *work counts the steps; past SIEVE_MAX_WORK the answer is 0 (the caller
 * fails the run). */
int sv_match_one(enum sv_cmp cmp, enum sv_match match, enum sv_rel rel,
		 const char *value, size_t vlen, const char *key, size_t klen, uint64_t *work);
/* :matches, and what its wildcards matched (RFC 5229 ${1}..${9}). */
#define SV_MAX_CAPTURES 9
struct sv_capture {
	size_t start, end;
};
int sv_match_capture(enum sv_cmp cmp, const char *value, size_t vlen, const char *key,
		     size_t klen, struct sv_capture *caps, size_t *ncaps, uint64_t *work);
/* i;ascii-numeric compare: <0, 0, >0. */
int sv_numeric_cmp(const char *a, size_t alen, const char *b, size_t blen);
int sv_rel_holds(enum sv_rel rel, int cmp);
int sv_ascii_casecmp_n(const char *a, size_t alen, const char *b, size_t blen);
/* s is lit, ignoring ASCII case (a NUL inside s makes it differ). */
int sv_str_ieq(const struct sv_str *s, const char *lit);

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
	int have_vacation;
	uint64_t work;             /* spent of SIEVE_MAX_WORK */
	/* variables (variables.c) */
	int vars_on;
	struct sv_var *vars;
	size_t nvars;
	char *match[SV_MAX_CAPTURES + 1];
	size_t match_len[SV_MAX_CAPTURES + 1];
};
struct sv_var {
	char *name, *value;
	size_t len;
};
int sv_act_keep(struct sv_run *r, const struct sv_node *n);
int sv_act_fileinto(struct sv_run *r, const struct sv_node *n);
int sv_act_redirect(struct sv_run *r, const struct sv_node *n);
int sv_act_reject(struct sv_run *r, const struct sv_node *n);
int sv_act_discard(struct sv_run *r, const struct sv_node *n);
int sv_act_vacation(struct sv_run *r, const struct sv_node *n);
/* setflag/addflag/removeflag on the internal variable or n->flagvars'. */
int sv_flags_change(struct sv_run *r, const struct sv_node *n);
/* fn for each blank-separated flag of the strings. */
void sv_flags_each(const struct sv_str *strs, size_t nstrs,
		   void (*fn)(void *ctx, const char *f, size_t len), void *ctx);
void sv_run_fail(struct sv_run *r, const struct sv_node *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After the script: the implicit keep, or only a keep on failure. */
void sv_run_finish(struct sv_run *r);
/* Split flag strings at blanks into list/n (deduplicated, case-insensitive). */
void sv_flags_add(char ***list, size_t *n, const struct sv_str *strs, size_t nstrs);

/* ---- variables.c ---- */
int sv_var_name_ok(const char *s, size_t len);
/* n with its strings expanded (in r->a), n itself without variables; NULL
 * after a runtime error. */
const struct sv_node *sv_node_expand(struct sv_run *r, const struct sv_node *n,
				     struct sv_node *copy);
int sv_var_set(struct sv_run *r, const struct sv_node *n);
/* A variable's value ("" when unset), and assignment (n for errors). */
const char *sv_var_value(struct sv_run *r, const char *name, size_t len, size_t *vlen);
int sv_var_assign(struct sv_run *r, const struct sv_node *n, const char *name, size_t nlen,
		  const char *v, size_t vlen);
/* ${0}: the value a :matches matched; ${1}..: what its wildcards did. */
void sv_var_matches(struct sv_run *r, const char *v, size_t vlen, const struct sv_capture *caps,
		    size_t ncaps);
void sv_vars_free(struct sv_run *r);

/* ---- vacation.c ---- */
/* Does the message qualify for a vacation reply (RFC 5230 4.5/4.6)? */
int sv_vacation_eligible(struct arena *a, const struct sieve_msg *m, const struct sv_node *n);

#endif
