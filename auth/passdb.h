/* Password databases. This cut has the `file` passdb (passwd-like); PAM,
 * SQL and LDAP will sit behind the same lookup/verify shape. */
#ifndef HAVEN_PASSDB_H
#define HAVEN_PASSDB_H
#include <sys/types.h>
#include "../lib/config.h"
#include "../lib/error.h"

struct passdb_user {
	char name[256];
	char hash[512];
	char home[1024];
	long uid, gid;      /* -1: take mail_user's */
};

struct passdb_file;

struct passdb_file *passdb_file_open(const char *path);
void passdb_file_close(struct passdb_file *p);
/* 1 found, 0 not found, -1 database unreadable (tempfail). Re-reads the
 * file when it changed on disk. */
int passdb_file_lookup(struct passdb_file *p, const char *user, struct passdb_user *out,
		       struct error *err);
/* Read the whole file as havend -t does: -1 when it is missing,
 * unreadable or has a malformed line (err: "passdb PATH:LINE: ..."). */
int passdb_file_check(const char *path, size_t *nusers, struct error *err);
/* Parse one line of the file (exposed for tests and the fuzz target):
 * 1 parsed, 0 comment/blank, -1 malformed. */
int passdb_file_parse_line(const char *line, struct passdb_user *out);

/* password.c: 1 match, 0 mismatch, -1 unusable hash (logged). */
int password_verify(const char *plain, const char *stored, int allow_plain);
/* A real hash to verify against when the user is unknown. */
char *password_dummy_hash(void);
/* A syntactically valid user name from a client. */
int passdb_user_name_valid(const char *user);

#endif
