/* Who a user is, outside an exchange: the record looked up synchronously
 * over the passdb list, for haven-admin, which has no event loop and no
 * pool (its ids and home: passdb_record_ids/home, as the helper's). */
#include <string.h>

#include "passdbs.h"

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
