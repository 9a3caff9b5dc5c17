/* Who a user is, outside an exchange: the uid and gid a passdb record
 * maps to (the auth helper's answers and haven-admin's), and the record
 * itself looked up synchronously over the passdb list, for haven-admin,
 * which has no event loop and no pool. */
#include <string.h>
#include <unistd.h>

#include "../lib/privdrop.h"
#include "passdbs.h"

int userdb_ids(const struct config *cfg, const struct passdb_record *u, uid_t *uid,
	       gid_t *gid, struct error *err)
{
	if (!privdrop_is_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	if (u->uid < 0 || u->gid < 0) {
		if (cfg->mail_user[0] == '\0') {
			error_set(err, ERR_CANNOT, "passdb entry %s has no uid/gid and mail_user "
				  "is not set", u->name);
			return -1;
		}
		if (privdrop_lookup(cfg->mail_user, uid, gid, err) < 0)
			return -1;
	}
	if (u->uid >= 0)
		*uid = (uid_t)u->uid;
	if (u->gid >= 0)
		*gid = (gid_t)u->gid;
	if (*uid == 0 || *gid == 0) {
		error_set(err, ERR_CANNOT, "passdb entry %s maps to uid or gid 0: refused",
			  u->name);
		return -1;
	}
	return 0;
}

enum passdb_result userdb_lookup(const struct passdb_set *set, const char *user,
				 struct passdb_record *rec)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct passdb *pd = set->db[i];
		enum passdb_result res;

		if ((int)i == set->oauth || pd->ops->lookup == NULL)
			continue;
		passdb_record_init(rec, user);
		res = pd->ops->lookup(set->db[i], user, rec);
		if (res != PDB_UNKNOWN)
			return res;
	}
	return PDB_UNKNOWN;
}
