/* The commands and tests Sieve knows, their extensions, tags and
 * positional arguments: the table checker.c and tags.c work from. */
#ifndef HAVEN_SIEVE_SPEC_H
#define HAVEN_SIEVE_SPEC_H
#include "sieve_private.h"

/* Tag groups a command or test accepts */
enum {
	TG_CMP = 1 << 0,      /* :comparator */
	TG_MATCH = 1 << 1,    /* :is :contains :matches (:count :value with relational) */
	TG_ADDR = 1 << 2,     /* :localpart :domain :all (:user :detail with subaddress) */
	TG_SIZE = 1 << 3,     /* :over :under */
	TG_COPY = 1 << 4,     /* :copy */
	TG_FLAGS = 1 << 5,    /* :flags */
	TG_VACATION = 1 << 6, /* :days :subject :from :addresses :mime :handle :seconds */
};

enum sv_ext {
	EXT_FILEINTO = 1 << 0, EXT_REJECT = 1 << 1, EXT_ENVELOPE = 1 << 2,
	EXT_VACATION = 1 << 3, EXT_VACATION_SECONDS = 1 << 4, EXT_IMAP4FLAGS = 1 << 5,
	EXT_SUBADDRESS = 1 << 6, EXT_COPY = 1 << 7, EXT_ENCODED = 1 << 8,
	EXT_NUMERIC = 1 << 9, EXT_RELATIONAL = 1 << 10, EXT_BUILTIN = 1 << 11,
};

struct sv_spec {
	const char *name;
	enum sv_id id;
	int is_test;
	unsigned ext;          /* the extension it needs, 0 for core */
	unsigned tags;         /* TG_* */
	const char *pos;       /* positional arguments: S string, L string list, N number */
	int tests;             /* 0 none, 1 one test, 2 a test list */
	int block;             /* takes a block */
};

/* The checker's state while it walks one script. */
struct sv_checker {
	struct arena *a;
	struct error *err;
	unsigned exts;         /* extensions required so far */
};

int sv_check_fail(struct sv_checker *ck, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The extension bit for a name in require, 0 if unknown. */
unsigned sv_ext_lookup(const char *name, size_t len);
const char *sv_ext_name(unsigned ext);
/* Sort n's arguments into tags (with their values) and positionals. */
int sv_check_args(struct sv_checker *ck, const struct sv_spec *sp, struct sv_node *n);

#endif
