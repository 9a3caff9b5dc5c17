/* Password databases behind one vtable: file (passwd-like), pam, ldap,
 * sql, oauth. verify() checks a password (or a token) and gives the
 * user's record; lookup() gives the record and the stored secret without a
 * password (SCRAM, a master user's target, an OAuth login). A database
 * that may block (a network, a PAM module) is "remote": the auth helper
 * runs it in the children of its pool (pool.h), never in its event loop. */
#ifndef HAVEN_PASSDB_H
#define HAVEN_PASSDB_H
#include <stdint.h>
#include <sys/types.h>
#include "../lib/config.h"
#include "../lib/error.h"
#include "../lib/ipc.h"
#include "../lib/settings.h"

enum passdb_result {
	PDB_OK = 0,
	PDB_UNKNOWN,    /* no such user here: the next database is asked */
	PDB_MISMATCH,   /* the user is here, the password is wrong (or the
			 * account is locked or disabled) */
	PDB_EXPIRED,    /* right password, expired account or password */
	PDB_TEMPFAIL,   /* the database cannot answer now */
};

/* What a database knows of a user. */
struct passdb_record {
	char name[256];          /* canonical login */
	char home[1024];         /* "": mail_home */
	long uid, gid;           /* -1: mail_user's */
	int64_t id;              /* the database's id of the user; 0: none */
	uint64_t quota_bytes, quota_messages;  /* 0: no limit */
	/* The stored password as the database holds it: a crypt(3) hash,
	 * {PLAIN}..., {SCRAM-SHA-256}...; "" when it holds none that can
	 * be read (PAM, LDAP). */
	char secret[512];
	/* A stored SCRAM-SHA-256 secret beside a hash (SQL), or "". */
	char scram[512];
	char reason[128];        /* PDB_EXPIRED, PDB_TEMPFAIL: why, for the log */
};

/* A verify() question. known: a stored secret this very password was
 * verified against a moment ago (auth cache), or "": while the database
 * still holds that secret the answer is the same, without the slow hash. */
struct passdb_query {
	const char *user, *password, *remote, *known;
};

struct passdb;

struct passdb_ops {
	const char *name;
	int remote;               /* runs in the pool's children */
	int cached;               /* results may be cached for passdb_cache_ttl:
				   * a changed password shows after it (PAM,
				   * LDAP, which the helper cannot ask cheaply) */
	const struct setting *settings;  /* its passdb_<name>_* keys, NULL key ends */
	/* havend -t: what can be checked without a login (a file that
	 * parses, a key file that loads). 0; -1 with err to be put after the
	 * file and line of `passdb`; -2 with err already saying where
	 * (passdb_setting_fail). */
	int (*check)(const struct config *cfg, const char *arg, struct error *err);
	/* Never connects: the children connect on first use, and again
	 * after an error. */
	struct passdb *(*open)(const struct config *cfg, const char *arg);
	void (*close)(struct passdb *pd);
	enum passdb_result (*verify)(struct passdb *pd, const struct passdb_query *q,
				     struct passdb_record *rec);
	/* NULL: the database cannot look users up without a password. */
	enum passdb_result (*lookup)(struct passdb *pd, const char *user,
				     struct passdb_record *rec);
};

/* Every database starts with this. */
struct passdb {
	const struct passdb_ops *ops;
	const struct config *cfg;
};

extern const struct passdb_ops passdb_file_ops, passdb_pam_ops, passdb_ldap_ops,
	passdb_sql_ops, passdb_oauth_ops;

/* The databases of this build (NULL for a driver it was built without). */
const struct passdb_ops *passdb_ops_of(int driver);
/* A record with nothing known: ids -1, the rest empty. */
void passdb_record_init(struct passdb_record *rec, const char *name);
void passdb_record_put(struct ipc_out *o, const struct passdb_record *rec);
int passdb_record_get(struct ipc_msg *m, struct passdb_record *rec);
void passdb_record_wipe(struct passdb_record *rec);
/* The ids a user worker of rec runs under: its own, else mail_user's,
 * else (not root) ours. 0; -1 (logged) when none is set or one is 0. */
int passdb_record_ids(const struct config *cfg, const struct passdb_record *rec, uid_t *uid,
		      gid_t *gid);
/* rec's home, else mail_home for it (malloc'd). */
char *passdb_record_home(const struct config *cfg, const struct passdb_record *rec);
const char *passdb_result_name(enum passdb_result r);

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

/* password.c: 1 match, 0 mismatch, -1 unusable hash (logged). Schemes:
 * crypt(3) ({CRYPT} optional), {PLAIN} (allow_plain), {SCRAM-SHA-256}. */
int password_verify(const char *plain, const char *stored, int allow_plain);
/* Constant-time equality of two byte strings of the same length. */
int password_ct_equal(const void *a, const void *b, size_t n);
/* A real hash to verify against when the user is unknown. */
char *password_dummy_hash(void);
/* What a verification against stored costs, without stored: its setting
 * (scheme, cost, salt) into out, "" when it costs nothing. */
void password_like(const char *stored, char *out, size_t cap);
/* Spend the work of verifying plain against a hash with setting like: an
 * unknown user costs what a known one does. */
void password_burn(const char *plain, const char *like);
/* plain hashed with crypt(3) under a new random salt of the scheme of
 * prefix ("$6$", "$y$", "$2b$"; the scheme's default cost): a malloc'd
 * hash that password_verify() accepts, or NULL when crypt(3) lacks the
 * scheme. */
char *password_hash(const char *plain, const char *prefix);
/* A syntactically valid user name from a client. */
int passdb_user_name_valid(const char *user);

#endif
