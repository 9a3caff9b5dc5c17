#include "passdbs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/log.h"

/* The auth helper's own keys; each database declares its passdb_<name>_*. */
static const struct setting helper_settings[] = {
	{ "passdb_workers", SETTING_INT, "4", 1, 64,
	  "children of the auth helper that run the pam, ldap, sql and oauth databases, one "
	  "login at a time each" },
	{ "passdb_timeout", SETTING_INT, "10000", 100, 600000,
	  "milliseconds a lookup in a child may take; then the child is killed and the login "
	  "answered NO [UNAVAILABLE]" },
	{ "passdb_cache_ttl", SETTING_INT, "300", 0, 86400,
	  "seconds a successful login is remembered: file and sql then skip the password hash "
	  "while the stored one is unchanged, pam and ldap are not asked (a changed password "
	  "shows after this); 0 off" },
	{ "passdb_cache_negative_ttl", SETTING_INT, "60", 0, 86400,
	  "seconds pam and ldap are not asked again about a user they did not know or a "
	  "password they refused; 0 off" },
	{ "passdb_master", SETTING_STR, "", 0, 0,
	  "file:PATH of support staff who may log in as any user with USER*NAME and their own "
	  "password (or SASL PLAIN with USER as authorization identity); empty: off" },
	{ "passdb_scram_iterations", SETTING_INT, "4096", 4096, 1000000,
	  "PBKDF2 iterations of SCRAM-SHA-256 for users whose stored password is {PLAIN}" },
	{ NULL, SETTING_STR, NULL, 0, 0, NULL },
};

static const struct setting *setting_find(const char *key)
{
	for (const struct setting *s = helper_settings; s->key; s++)
		if (strcmp(s->key, key) == 0)
			return s;
	for (int d = PASSDB_FILE; d <= PASSDB_OAUTH; d++) {
		const struct passdb_ops *ops = passdb_ops_of(d);
		for (const struct setting *s = ops ? ops->settings : NULL; s && s->key; s++)
			if (strcmp(s->key, key) == 0)
				return s;
	}
	return NULL;
}

static const struct setting *setting_declared(const char *key)
{
	const struct setting *s = setting_find(key);
	if (s == NULL)
		fatal("passdb setting %s is not declared", key);
	return s;
}

const char *passdb_setting_str(const struct config *cfg, const char *key)
{
	return setting_str(cfg, setting_declared(key));
}

long passdb_setting_int(const struct config *cfg, const char *key)
{
	return setting_int(cfg, setting_declared(key));
}

int passdb_setting_bool(const struct config *cfg, const char *key)
{
	return setting_bool(cfg, setting_declared(key));
}

int passdb_setting_fail(const struct config *cfg, const char *key, struct error *err,
			const char *fmt, ...)
{
	char msg[sizeof(err->msg)], where[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	config_where(cfg, key, where, sizeof(where));
	for (size_t i = 0; i < cfg->nextra; i++)
		if (strcmp(cfg->extra[i].key, key) == 0)
			snprintf(where, sizeof(where), "%s", cfg->extra[i].where);
	error_set(err, ERR_PARSE, "%s: %s: %s", where, key, msg);
	return -2;
}

static int settings_check(const struct config *cfg, struct error *err)
{
	for (size_t i = 0; i < cfg->nextra; i++) {
		const struct config_extra *x = &cfg->extra[i];
		const struct setting *s;
		if (config_extra_role(x->key) != CONFIG_ROLE_AUTH)
			continue;
		if ((s = setting_find(x->key)) == NULL) {
			error_set(err, ERR_PARSE, "%s: unknown key \"%s\"", x->where, x->key);
			return -1;
		}
		if (setting_check(s, x->value, x->where, err) < 0)
			return -1;
	}
	return 0;
}

/* passdb_master: one file:PATH, or empty. */
static int master_entry(const struct config *cfg, struct passdb_entry *e, struct error *err)
{
	const char *v = passdb_setting_str(cfg, "passdb_master");
	struct passdb_list l;

	e->arg = NULL;
	if (v[0] == '\0')
		return 0;
	if (passdb_list_parse(v, &l, err) < 0 || l.n != 1 || l.e[0].driver != PASSDB_FILE) {
		if (err->msg[0] == '\0' || l.n)
			error_set(err, ERR_PARSE, "expected one file:PATH");
		if (l.n)
			passdb_list_free(&l);
		return -1;
	}
	*e = l.e[0];
	return 1;
}

static int master_fail(const struct config *cfg, struct error *err)
{
	char msg[sizeof(err->msg)];
	const char *where = "passdb_master";

	for (size_t i = 0; i < cfg->nextra; i++)
		if (strcmp(cfg->extra[i].key, "passdb_master") == 0)
			where = cfg->extra[i].where;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	error_set(err, ERR_PARSE, "%s: passdb_master: %s", where, msg);
	return -1;
}

/* The list, each entry's ops (NULL: not in this build: an error). */
static int list_ops(const struct config *cfg, struct passdb_list *l,
		    const struct passdb_ops **ops, struct error *err)
{
	if (passdb_list_parse(cfg->passdb, l, err) < 0)
		return config_fail(cfg, "passdb", err, "%s", err->msg);
	for (size_t i = 0; i < l->n; i++) {
		if ((ops[i] = passdb_ops_of(l->e[i].driver)) == NULL) {
			const char *name = passdb_driver_name(l->e[i].driver);
			passdb_list_free(l);
			return config_fail(cfg, "passdb", err, "%s: this build has no %s support "
					   "(configure found no library for it)", name, name);
		}
	}
	return 0;
}

static struct passdb *db_open(const struct passdb_ops *ops, const struct config *cfg,
			      const char *arg)
{
	struct passdb *pd = ops->open(cfg, arg);
	pd->ops = ops;
	pd->cfg = cfg;
	return pd;
}

int passdbs_open(const struct config *cfg, struct passdb_set *set, struct error *err)
{
	const struct passdb_ops *ops[PASSDB_LIST_MAX];
	struct passdb_list l;
	struct passdb_entry m;
	int hm;

	memset(set, 0, sizeof(*set));
	set->master = set->oauth = -1;
	if (list_ops(cfg, &l, ops, err) < 0)
		return -1;
	if ((hm = master_entry(cfg, &m, err)) < 0) {
		passdb_list_free(&l);
		return master_fail(cfg, err);
	}
	for (size_t i = 0; i < l.n; i++) {
		set->db[i] = db_open(ops[i], cfg, l.e[i].arg);
		set->driver[i] = l.e[i].driver;
		set->remote |= ops[i]->remote;
		if (l.e[i].driver == PASSDB_OAUTH)
			set->oauth = (int)i;
	}
	set->n = l.n;
	if (hm) {
		set->master = (int)l.n;
		set->db[l.n] = db_open(&passdb_file_ops, cfg, m.arg);
		set->driver[l.n] = PASSDB_FILE;
		free(m.arg);
	}
	passdb_list_free(&l);
	return 0;
}

void passdbs_close(struct passdb_set *set)
{
	size_t n = set->n + (set->master >= 0);

	for (size_t i = 0; i < n; i++)
		if (set->db[i])
			set->db[i]->ops->close(set->db[i]);
	memset(set, 0, sizeof(*set));
	set->master = set->oauth = -1;
}

int passdbs_check(const struct config *cfg, struct error *err)
{
	const struct passdb_ops *ops[PASSDB_LIST_MAX];
	struct passdb_list l;
	struct passdb_entry m;
	int r = 0, hm;

	if (settings_check(cfg, err) < 0 || list_ops(cfg, &l, ops, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n && r == 0; i++)
		if (ops[i]->check && (r = ops[i]->check(cfg, l.e[i].arg, err)) == -1)
			config_fail(cfg, "passdb", err, "%s", err->msg);
	passdb_list_free(&l);
	if (r < 0)
		return -1;
	if ((hm = master_entry(cfg, &m, err)) < 0)
		return master_fail(cfg, err);
	if (hm) {
		r = passdb_file_ops.check(cfg, m.arg, err);
		free(m.arg);
	}
	return r < 0 ? master_fail(cfg, err) : 0;
}
