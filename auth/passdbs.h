/* The password databases of the auth helper's configuration: the passdb
 * list in order, then the master-user database (passdb_master) if any;
 * and the passdb_* settings, checked with file and line (unknown key, bad
 * value) at start and by havend -t. */
#ifndef HAVEN_PASSDBS_H
#define HAVEN_PASSDBS_H
#include "../lib/passdb_list.h"
#include "passdb.h"

struct passdb_set {
	struct passdb *db[PASSDB_LIST_MAX + 1];
	enum passdb_driver driver[PASSDB_LIST_MAX + 1];
	size_t n;       /* entries of the passdb list: db[0..n-1] */
	int master;     /* db[n] when passdb_master is set, else -1 */
	int oauth;      /* the oauth entry of the list, else -1 */
	int remote;     /* some entry runs in the pool */
};

/* Open what cfg names (nothing connects yet). -1 with err (file:line)
 * when the list names a database this build lacks. */
int passdbs_open(const struct config *cfg, struct passdb_set *set, struct error *err);
void passdbs_close(struct passdb_set *set);
/* havend -t and the start: every passdb_* key known and its value
 * right, and each database's own check. */
int passdbs_check(const struct config *cfg, struct error *err);

/* userdb.c */
/* u's record from the first database of the list that knows it (oauth
 * skipped), asked in this process: for haven-admin, not the helper's loop. */
enum passdb_result userdb_lookup(const struct passdb_set *set, const char *user,
				 struct passdb_record *rec);

/* err: "file:line: key: message" for a passdb_* setting (or pam_service);
 * returns -2 (passdb_ops.check's "err says where"). */
int passdb_setting_fail(const struct config *cfg, const char *key, struct error *err,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A passdb_* setting's value (the default when unset). */
const char *passdb_setting_str(const struct config *cfg, const char *key);
long passdb_setting_int(const struct config *cfg, const char *key);
int passdb_setting_bool(const struct config *cfg, const char *key);

#endif
