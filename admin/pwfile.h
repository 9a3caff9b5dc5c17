/* Edits of the file passdb (user:password:uid:gid:gecos:home:shell, see
 * auth/passdb_file.c) as the administrator would make them with vipw:
 * under a lock (PATH.lock), into a temporary file beside it that is
 * fsync'ed and renamed over it, so the auth helper reads the old file or
 * the new one, never half of one. Comments, blank lines and lines it does
 * not understand stay as they were. */
#ifndef HAVEN_ADMIN_PWFILE_H
#define HAVEN_ADMIN_PWFILE_H
#include <stdio.h>

#include "../lib/error.h"

enum pwfile_op {
	PWFILE_ADD,      /* a new line user:hash::::: (uid, gid, home: havend's defaults) */
	PWFILE_PASSWD,   /* the password field becomes hash (a "!" before it stays) */
	PWFILE_DISABLE,  /* "!" before the password: no login, no delivery */
	PWFILE_ENABLE,   /* that "!" removed */
	PWFILE_DELETE,   /* the user's line removed */
};

/* 0; 1 when there was nothing to do (already disabled or enabled); -1
 * with err (no such user, already exists, I/O). hash: PWFILE_ADD and
 * PWFILE_PASSWD only. A missing file is created by PWFILE_ADD (mode
 * 0600). */
int pwfile_edit(const char *path, enum pwfile_op op, const char *user, const char *hash,
		struct error *err);
/* One line per user to out: name, then "disabled" for a disabled one. */
int pwfile_list(const char *path, FILE *out, struct error *err);
/* The crypt(3) scheme of the file's first crypt hash ("$6$", "$y$",
 * "$2b$") into out, else "$6$" (SHA512-CRYPT). */
void pwfile_scheme(const char *path, char *out, size_t cap);

#endif
