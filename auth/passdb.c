/* The passdb registry and the user record as it travels between the
 * auth helper and its pool's children. */
#include "passdb.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/passdb_list.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"

const struct passdb_ops *passdb_ops_of(int driver)
{
	switch (driver) {
	case PASSDB_FILE: return &passdb_file_ops;
#if HAVE_PAM
	case PASSDB_PAM: return &passdb_pam_ops;
#endif
#if HAVE_LDAP
	case PASSDB_LDAP: return &passdb_ldap_ops;
#endif
#if HAVE_PGSQL
	case PASSDB_SQL: return &passdb_sql_ops;
#endif
#if HAVE_OAUTH
	case PASSDB_OAUTH: return &passdb_oauth_ops;
#endif
	}
	return NULL;
}

const char *passdb_result_name(enum passdb_result r)
{
	static const char *const names[] = { "ok", "unknown user", "wrong password",
					     "expired", "unavailable" };
	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

void passdb_record_init(struct passdb_record *rec, const char *name)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	rec->uid = rec->gid = -1;
}

void passdb_record_put(struct ipc_out *o, const struct passdb_record *rec)
{
	ipc_put_str(o, rec->name);
	ipc_put_str(o, rec->home);
	ipc_put_u64(o, (uint64_t)rec->uid);
	ipc_put_u64(o, (uint64_t)rec->gid);
	ipc_put_u64(o, (uint64_t)rec->id);
	ipc_put_u64(o, rec->quota_bytes);
	ipc_put_u64(o, rec->quota_messages);
	ipc_put_str(o, rec->secret);
	ipc_put_str(o, rec->scram);
	ipc_put_str(o, rec->reason);
}

/* A string field into a fixed array: -1 when it does not fit. */
static int get_into(struct ipc_msg *m, char *dst, size_t cap)
{
	const char *s;
	if (ipc_get_str(m, &s) < 0 || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

int passdb_record_get(struct ipc_msg *m, struct passdb_record *rec)
{
	uint64_t uid, gid, id;

	if (get_into(m, rec->name, sizeof(rec->name)) < 0 ||
	    get_into(m, rec->home, sizeof(rec->home)) < 0 || ipc_get_u64(m, &uid) < 0 ||
	    ipc_get_u64(m, &gid) < 0 || ipc_get_u64(m, &id) < 0 ||
	    ipc_get_u64(m, &rec->quota_bytes) < 0 || ipc_get_u64(m, &rec->quota_messages) < 0 ||
	    get_into(m, rec->secret, sizeof(rec->secret)) < 0 ||
	    get_into(m, rec->scram, sizeof(rec->scram)) < 0 ||
	    get_into(m, rec->reason, sizeof(rec->reason)) < 0)
		return -1;
	/* ids are -1 or 0..INT32_MAX; anything else is garbage. */
	if ((int64_t)uid < -1 || (int64_t)uid > 0x7fffffff || (int64_t)gid < -1 ||
	    (int64_t)gid > 0x7fffffff || (int64_t)id < 0)
		return -1;
	rec->uid = (long)(int64_t)uid;
	rec->gid = (long)(int64_t)gid;
	rec->id = (int64_t)id;
	return 0;
}

void passdb_record_wipe(struct passdb_record *rec)
{
	explicit_bzero(rec->secret, sizeof(rec->secret));
	explicit_bzero(rec->scram, sizeof(rec->scram));
}

int passdb_record_ids(const struct config *cfg, const struct passdb_record *u, uid_t *uid,
		      gid_t *gid)
{
	struct error err;

	if (!privdrop_is_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	if (u->uid < 0 || u->gid < 0) {
		if (cfg->mail_user[0] == '\0') {
			log_err("passdb entry %s has no uid/gid and mail_user is not set", u->name);
			return -1;
		}
		if (privdrop_lookup(cfg->mail_user, uid, gid, &err) < 0) {
			log_err("mail_user: %s", err.msg);
			return -1;
		}
	}
	if (u->uid >= 0)
		*uid = (uid_t)u->uid;
	if (u->gid >= 0)
		*gid = (gid_t)u->gid;
	if (*uid == 0 || *gid == 0) {
		log_err("passdb entry %s maps to uid or gid 0: refused", u->name);
		return -1;
	}
	return 0;
}

char *passdb_record_home(const struct config *cfg, const struct passdb_record *u)
{
	return u->home[0] ? xstrdup(u->home) : config_expand(cfg->mail_home, u->name, "");
}
