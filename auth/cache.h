/* The auth cache: per (database, user) the last password that database
 * accepted, kept as an HMAC under a key made at start (never the password
 * itself), with the record it gave, for passdb_cache_ttl seconds; and for
 * the databases the helper cannot ask cheaply (PAM, LDAP) the last
 * refusal, for passdb_cache_negative_ttl.
 *
 * For file and sql a hit does not answer by itself: the database is still
 * asked, with the stored secret the password was verified against, and
 * only the slow hash is skipped while that secret is unchanged, so a
 * changed password or a disabled user shows at once. For PAM and LDAP a
 * hit answers; a change shows when the entry expires. A fixed number of
 * entries: an attacker's many names evict each other, nothing grows. */
#ifndef HAVEN_CACHE_H
#define HAVEN_CACHE_H
#include "passdb.h"

enum cache_hit {
	CACHE_MISS,
	CACHE_OK,      /* rec: the record (and secret) of the last success */
	CACHE_FAIL,    /* *res: the remembered refusal (PDB_UNKNOWN, PDB_MISMATCH) */
};

void cache_configure(long ttl, long negative_ttl);
enum cache_hit cache_get(unsigned db, const char *user, const char *password,
			 struct passdb_record *rec, enum passdb_result *res);
/* What db answered; negative: whether refusals may be kept (PAM, LDAP). */
void cache_put(unsigned db, const char *user, const char *password, enum passdb_result res,
	       const struct passdb_record *rec, int negative);
/* Forget everything (a new configuration). */
void cache_clear(void);

#endif
