/* haven-admin auth test USER: a password (terminal without echo, or
 * stdin) through the passdb list of haven.conf as a login goes through
 * it: the databases in order until one knows the user (oauth, which
 * knows tokens, not passwords, left out), then the identity a user
 * worker would get (passdb_record_ids, passdb_record_home: the auth
 * helper's own functions). It runs here, not in havend: the helper's
 * cache and failure counts are not touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../auth/passdbs.h"
#include "../lib/log.h"
#include "admin.h"
#include "secret.h"

/* The first answer of the list that is not "unknown", rec filled. */
static enum passdb_result chain_verify(const struct passdb_set *set, const char *user,
				       const char *password, struct passdb_record *rec,
				       const char **by)
{
	struct passdb_query q = { user, password, "local", "" };

	passdb_record_init(rec, user);
	for (size_t i = 0; i < set->n; i++) {
		struct passdb *pd = set->db[i];
		enum passdb_result r;
		if ((int)i == set->oauth)
			continue;
		passdb_record_init(rec, user);
		r = pd->ops->verify(pd, &q, rec);
		if (r != PDB_UNKNOWN) {
			*by = pd->ops->name;
			return r;
		}
	}
	return PDB_UNKNOWN;
}

static int print_identity(const struct config *cfg, const struct passdb_record *rec)
{
	uid_t uid;
	gid_t gid;
	char *home;

	if (passdb_record_ids(cfg, rec, &uid, &gid) < 0) {
		printf("refused: %s has no usable uid/gid (see the log line above)\n", rec->name);
		return -1;
	}
	home = passdb_record_home(cfg, rec);
	printf("user: %s\nuid: %ld\ngid: %ld\nhome: %s\nstore: %s\n", rec->name, (long)uid,
	       (long)gid, home, cfg->mail_backend);
	if (rec->quota_bytes || rec->quota_messages)
		printf("quota: %llu bytes, %llu messages\n",
		       (unsigned long long)rec->quota_bytes,
		       (unsigned long long)rec->quota_messages);
	free(home);
	return 0;
}

/* The verdict on stdout: 0 for a login that would succeed. */
static int verdict_print(const struct config *cfg, enum passdb_result r, const char *by,
			 const struct passdb_record *rec)
{
	switch (r) {
	case PDB_OK:
		printf("ok: passdb %s\n", by);
		return print_identity(cfg, rec);
	case PDB_UNKNOWN:
		printf("refused: no passdb knows the user\n");
		break;
	case PDB_MISMATCH:
		printf("refused: passdb %s: wrong password, or the account is disabled\n", by);
		break;
	case PDB_EXPIRED:
		printf("refused: passdb %s: expired%s%s\n", by, rec->reason[0] ? ": " : "",
		       rec->reason);
		break;
	case PDB_TEMPFAIL:
		printf("unavailable: passdb %s: %s\n", by,
		       rec->reason[0] ? rec->reason : "cannot answer now");
		break;
	}
	return -1;
}

static int auth_run(const struct config *cfg, const char *user)
{
	struct passdb_set set;
	struct passdb_record rec;
	struct error err;
	char pw[SECRET_MAX + 2];
	const char *by = "";
	int rc = -1;

	if (passdbs_check(cfg, &err) < 0 || passdbs_open(cfg, &set, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		return -1;
	}
	if (secret_read("Password: ", 0, pw, sizeof(pw)) == 0) {
		enum passdb_result r = chain_verify(&set, user, pw, &rec, &by);
		rc = verdict_print(cfg, r, by, &rec);
		passdb_record_wipe(&rec);
	}
	explicit_bzero(pw, sizeof(pw));
	passdbs_close(&set);
	return rc;
}

enum admin_status admin_auth_test(const struct admin_opts *o, int argc, char **argv)
{
	struct config cfg;
	int rc = -1;

	if (argc != 1)
		return ADMIN_USAGE;
	log_init("haven-admin", 1);
	if (admin_config_load(o, &cfg) == 0)
		rc = auth_run(&cfg, argv[0]);
	config_free(&cfg);
	return rc < 0 ? ADMIN_FAILED : ADMIN_OK;
}
