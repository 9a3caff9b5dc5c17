/* The `passdb` key: a comma-separated list of password databases, tried
 * in order until one knows the user ("pam, file:/etc/haven/passwd").
 * Parsed here because three kinds of process read it: the master
 * validates it, the auth helper opens the databases, and the login worker
 * advertises the SASL mechanisms they can serve. */
#ifndef HAVEN_PASSDB_LIST_H
#define HAVEN_PASSDB_LIST_H
#include <stddef.h>
#include "error.h"

/* At most this many entries in one list. */
#define PASSDB_LIST_MAX 8

enum passdb_driver {
	PASSDB_FILE,    /* file:PATH, passwd-like */
	PASSDB_PAM,
	PASSDB_LDAP,
	PASSDB_SQL,
	PASSDB_OAUTH,   /* verifies OAUTHBEARER tokens; knows no passwords */
};

struct passdb_entry {
	enum passdb_driver driver;
	char *arg;          /* file: the path; "" for the others */
};

struct passdb_list {
	struct passdb_entry e[PASSDB_LIST_MAX];
	size_t n;
};

/* 0, or -1 with err saying what is wrong (no file:line: the caller knows
 * the key). Each driver at most once, file at most once per path. */
int passdb_list_parse(const char *text, struct passdb_list *out, struct error *err);
void passdb_list_free(struct passdb_list *l);
const char *passdb_driver_name(enum passdb_driver d);
/* Whether the list has a database of this driver. */
int passdb_list_has(const struct passdb_list *l, enum passdb_driver d);

#endif
