/* haven-admin quota USER: the user's usage and limits (RFC 9208's one
 * root per user) through the store's own quota_get, as GETQUOTA sees
 * them, in bytes rather than KiB. Limits are set where they live: the
 * SQL users row (haven.set_quota), an LDAP attribute, or the
 * configuration's quota_bytes / quota_messages. */
#include <inttypes.h>
#include <stdio.h>

#include "userstore.h"

static void quota_print(const char *what, uint64_t used, uint64_t limit)
{
	if (limit)
		printf("%s %" PRIu64 " %" PRIu64 "\n", what, used, limit);
	else
		printf("%s %" PRIu64 " unlimited\n", what, used);
}

enum admin_status admin_quota(const struct admin_opts *o, int argc, char **argv)
{
	struct admin_user au;
	struct store_quota q;
	struct error err;
	enum admin_status rc;

	if (argc != 1)
		return ADMIN_USAGE;
	if ((rc = admin_user_open(o, argv[0], &au)) != ADMIN_OK)
		return rc;
	if (store_quota_get(au.st, &q, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		rc = ADMIN_FAILED;
	} else {
		quota_print("storage", q.used_bytes, q.limit_bytes);
		quota_print("messages", q.used_messages, q.limit_messages);
	}
	admin_user_close(&au);
	return rc;
}
