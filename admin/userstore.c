/* Opening one user's store for haven-admin (userstore.h). */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../auth/passdbs.h"
#include "../lib/log.h"
#include "../lib/privdrop.h"
#include "../lib/xmalloc.h"
#include "userstore.h"

static int config_load(const char *path, struct config *cfg, struct error *err)
{
	struct buf text = BUF_INIT;
	int rc;

	config_init(cfg);
	rc = config_read_file(path, &text, err) < 0 ||
	     config_parse(cfg, text.data ? text.data : "", text.len, path, err) < 0 ||
	     config_validate(cfg, err) < 0 || backend_settings_check(cfg, err) < 0 ? -1 : 0;
	buf_free(&text);
	return rc;
}

/* The passdb record of name, as an LMTP recipient is looked up. */
static int user_lookup(const struct config *cfg, const char *name, struct passdb_record *rec,
		       struct error *err)
{
	struct passdb_set set;
	enum passdb_result res;

	if (passdbs_open(cfg, &set, err) < 0)
		return -1;
	res = userdb_lookup(&set, name, rec);
	passdbs_close(&set);
	if (res == PDB_OK || res == PDB_EXPIRED)
		return 0;
	if (res == PDB_TEMPFAIL)
		error_set(err, ERR_UNAVAILABLE, "user database unavailable: %s", rec->reason);
	else
		error_set(err, ERR_NONEXISTENT, "no such user: %s%s", name,
			  res == PDB_MISMATCH ? " (disabled)" : "");
	return -1;
}

/* Become the user, keeping the mail group for a spool like /var/mail
 * (as the user worker keeps it). */
static int user_become(const struct admin_user *au, struct error *err)
{
	struct privdrop pd = { .user = au->u.name, .uid = au->u.uid, .gid = au->u.gid };
	const char *grp_name = au->cfg.mail_privileged_group;
	struct group *g = grp_name && grp_name[0] ? getgrnam(grp_name) : NULL;
	struct stat st;

	if (g && g->gr_gid != 0 && g->gr_gid != pd.gid) {
		pd.have_priv_gid = 1;
		pd.priv_gid = g->gr_gid;
	}
	pd.chdir_dir = stat(au->home, &st) == 0 && S_ISDIR(st.st_mode) ? au->home : "/";
	return privdrop_apply(&pd, err);
}

/* A missing home is made as the user, like the worker makes it. */
static int home_make(const char *home, struct error *err)
{
	if (mkdir(home, 0700) == 0 || errno == EEXIST)
		return 0;
	error_set(err, ERR_CANNOT, "cannot create home %s: %s", home, strerror(errno));
	return -1;
}

static int user_open(const struct admin_opts *o, const char *name, struct admin_user *au,
		     struct error *err)
{
	struct passdb_record rec;

	if (config_load(o->config, &au->cfg, err) < 0 ||
	    user_lookup(&au->cfg, name, &rec, err) < 0)
		return -1;
	if (passdb_record_ids(&au->cfg, &rec, &au->u.uid, &au->u.gid) < 0) {
		error_set(err, ERR_CANNOT, "%s has no usable uid/gid (mail_user?)", rec.name);
		passdb_record_wipe(&rec);
		return -1;
	}
	au->home = passdb_record_home(&au->cfg, &rec);
	au->u.name = xstrdup(rec.name);
	au->u.home = au->home;
	au->u.id = rec.id;
	au->u.quota_bytes = rec.quota_bytes;
	au->u.quota_messages = rec.quota_messages;
	passdb_record_wipe(&rec);
	if (user_become(au, err) < 0 || home_make(au->home, err) < 0)
		return -1;
	return store_open(au->cfg.mail_backend, &au->u, &au->cfg, &au->st, err);
}

enum admin_status admin_user_open(const struct admin_opts *o, const char *name,
				  struct admin_user *au)
{
	struct error err;

	memset(au, 0, sizeof(*au));
	log_init("haven-admin", 1);
	log_set_level(LOG_LVL_WARN);
	if (user_open(o, name, au, &err) == 0)
		return ADMIN_OK;
	fprintf(stderr, "haven-admin: %s\n", err.msg);
	admin_user_close(au);
	return ADMIN_FAILED;
}

void admin_user_close(struct admin_user *au)
{
	if (au->st)
		store_close(au->st);
	au->st = NULL;
	free((char *)au->u.name);
	free(au->home);
	au->u.name = au->home = NULL;
	config_free(&au->cfg);
	/* No mail is touched past here: the kept group goes (and with it the
	 * credential mismatch that keeps LeakSanitizer's tracer out). */
	privdrop_group_forget();
}
