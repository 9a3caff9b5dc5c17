/* The `ldap` passdb (libldap, OpenLDAP's client): a user is found by a
 * search (anonymous or as a service account, passdb_ldap_bind_dn) and
 * proven by a bind as that entry with the password; or, with
 * passdb_ldap_user_dn, bound to directly by a DN made from the name.
 * StartTLS or ldaps:// with a CA of one's own; uid, gid, home and quota
 * from mapped attributes. Runs in the pool's children, each keeping its
 * two connections (searches, user binds) between jobs, with a timeout on
 * every operation; a broken connection is made again on the next job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ldap.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "passdbs.h"

static const struct setting ldap_settings[] = {
	{ "passdb_ldap_uri", SETTING_STR, "ldap://127.0.0.1/", 0, 0,
	  "LDAP server(s), space-separated ldap:// or ldaps:// URIs, tried in order" },
	{ "passdb_ldap_base", SETTING_STR, "", 0, 0, "where user entries are searched" },
	{ "passdb_ldap_filter", SETTING_STR, "(&(objectClass=posixAccount)(uid=%u))", 0, 0,
	  "search filter; %u is the login name (escaped)" },
	{ "passdb_ldap_scope", SETTING_STR, "sub", 0, 0, "search scope: sub, one or base" },
	{ "passdb_ldap_bind_dn", SETTING_STR, "", 0, 0,
	  "service account that searches (empty: anonymous)" },
	{ "passdb_ldap_bind_password", SETTING_STR, "", 0, 0,
	  "its password (the auth helper is the only process that gets it)" },
	{ "passdb_ldap_user_dn", SETTING_STR, "", 0, 0,
	  "DN template such as uid=%u,ou=people,dc=example,dc=org: bind to it directly, no "
	  "search (LDAP then knows every name: list it last)" },
	{ "passdb_ldap_starttls", SETTING_BOOL, "no", 0, 0,
	  "StartTLS on ldap:// connections (the certificate is always checked)" },
	{ "passdb_ldap_ca_file", SETTING_STR, "", 0, 0,
	  "PEM CA certificates for the server's certificate (empty: the system's)" },
	{ "passdb_ldap_timeout", SETTING_INT, "5000", 100, 600000,
	  "milliseconds one LDAP operation (connect, bind, search) may take" },
	{ "passdb_ldap_attr_login", SETTING_STR, "uid", 0, 0,
	  "attribute with the canonical login (absent: the name as typed)" },
	{ "passdb_ldap_attr_uid", SETTING_STR, "uidNumber", 0, 0, "attribute with the uid" },
	{ "passdb_ldap_attr_gid", SETTING_STR, "gidNumber", 0, 0, "attribute with the gid" },
	{ "passdb_ldap_attr_home", SETTING_STR, "homeDirectory", 0, 0,
	  "attribute with the home directory" },
	{ "passdb_ldap_attr_quota_bytes", SETTING_STR, "", 0, 0,
	  "attribute with the storage quota in bytes (empty: none)" },
	{ "passdb_ldap_attr_quota_messages", SETTING_STR, "", 0, 0,
	  "attribute with the message count quota (empty: none)" },
	{ NULL, SETTING_STR, NULL, 0, 0, NULL },
};

struct pdb_ldap {
	struct passdb base;
	LDAP *search;   /* bound as the service account (or anonymous) */
	LDAP *user;     /* bound as the last user that logged in */
};

static const char *opt(const struct passdb *pd, const char *key)
{
	return passdb_setting_str(pd->cfg, key);
}

static struct passdb *pl_open(const struct config *cfg, const char *arg)
{
	return xcalloc(1, sizeof(struct pdb_ldap));
}

static void conn_drop(LDAP **ld)
{
	if (*ld)
		ldap_unbind_ext_s(*ld, NULL, NULL);
	*ld = NULL;
}

static void pl_close(struct passdb *pd)
{
	struct pdb_ldap *p = (struct pdb_ldap *)pd;
	conn_drop(&p->search);
	conn_drop(&p->user);
	free(p);
}

static void reason(struct passdb_record *rec, const char *what, int rc)
{
	snprintf(rec->reason, sizeof(rec->reason), "ldap: %s: %s", what, ldap_err2string(rc));
}

static int tls_options(const struct passdb *pd, LDAP *ld)
{
	const char *ca = opt(pd, "passdb_ldap_ca_file");
	int demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

	if (ca[0] && ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, ca) != LDAP_OPT_SUCCESS)
		return -1;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS)
		return -1;
	/* Options on a handle take effect in a new TLS context. */
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS ? 0 : -1;
}

/* A connection with every option set (and StartTLS done): LDAP_SUCCESS
 * or libldap's code. */
static int conn_open(const struct passdb *pd, LDAP **out)
{
	long ms = passdb_setting_int(pd->cfg, "passdb_ldap_timeout");
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	int v3 = LDAP_VERSION3, rc;
	LDAP *ld;

	if ((rc = ldap_initialize(&ld, opt(pd, "passdb_ldap_uri"))) != LDAP_SUCCESS)
		return rc;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	if (tls_options(pd, ld) < 0)
		rc = LDAP_LOCAL_ERROR;
	else if (passdb_setting_bool(pd->cfg, "passdb_ldap_starttls"))
		rc = ldap_start_tls_s(ld, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return rc;
	}
	*out = ld;
	return LDAP_SUCCESS;
}

static int simple_bind(LDAP *ld, const char *dn, const char *password)
{
	struct berval cred = { strlen(password), (char *)password };
	return ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
}

/* The search connection, bound as the service account: LDAP_SUCCESS or
 * the code (the connection then made again next time). */
static int search_conn(struct pdb_ldap *p)
{
	const char *dn = opt(&p->base, "passdb_ldap_bind_dn");
	int rc;

	if (p->search)
		return LDAP_SUCCESS;
	if ((rc = conn_open(&p->base, &p->search)) != LDAP_SUCCESS)
		return rc;
	if (dn[0] && (rc = simple_bind(p->search, dn, opt(&p->base, "passdb_ldap_bind_password")))
		     != LDAP_SUCCESS)
		conn_drop(&p->search);
	return rc;
}

/* s with RFC 4515 (filter) or RFC 4514 (DN) escapes, in place of %u. */
static char *expand(const char *tmpl, const char *user, int dn)
{
	struct buf b = BUF_INIT;

	for (const char *t = tmpl; *t; t++) {
		if (t[0] != '%' || t[1] != 'u') {
			buf_append_byte(&b, *t);
			continue;
		}
		t++;
		for (const unsigned char *u = (const unsigned char *)user; *u; u++) {
			int esc = dn ? strchr(",+\"\\<>;=#", *u) != NULL || *u < 0x20
				     : strchr("*()\\", *u) != NULL || *u < 0x20;
			if (esc)
				buf_printf(&b, "\\%02x", *u);
			else
				buf_append_byte(&b, (char)*u);
		}
	}
	return buf_steal(&b);
}

static int scope_of(const struct passdb *pd)
{
	const char *s = opt(pd, "passdb_ldap_scope");
	return !strcmp(s, "base") ? LDAP_SCOPE_BASE : !strcmp(s, "one") ? LDAP_SCOPE_ONELEVEL
							    : LDAP_SCOPE_SUBTREE;
}

/* One value of attr in entry e into out, or "" (attr unset or absent). */
static void attr_value(LDAP *ld, LDAPMessage *e, const char *attr, char *out, size_t cap)
{
	struct berval **v;

	out[0] = '\0';
	if (attr[0] == '\0' || (v = ldap_get_values_len(ld, e, attr)) == NULL)
		return;
	if (v[0] && v[0]->bv_len < cap && memchr(v[0]->bv_val, '\0', v[0]->bv_len) == NULL) {
		memcpy(out, v[0]->bv_val, v[0]->bv_len);
		out[v[0]->bv_len] = '\0';
	}
	ldap_value_free_len(v);
}

static long long attr_num(LDAP *ld, LDAPMessage *e, const char *attr, long long none)
{
	char v[32], *end;
	long long n;

	attr_value(ld, e, attr, v, sizeof(v));
	n = strtoll(v, &end, 10);
	return v[0] && *end == '\0' && n >= 0 ? n : none;
}

static void record_of(const struct passdb *pd, LDAP *ld, LDAPMessage *e, const char *user,
		      struct passdb_record *rec)
{
	char login[256];

	attr_value(ld, e, opt(pd, "passdb_ldap_attr_login"), login, sizeof(login));
	passdb_record_init(rec, login[0] && passdb_user_name_valid(login) ? login : user);
	rec->uid = (long)attr_num(ld, e, opt(pd, "passdb_ldap_attr_uid"), -1);
	rec->gid = (long)attr_num(ld, e, opt(pd, "passdb_ldap_attr_gid"), -1);
	if (rec->uid > 0x7fffffffL)
		rec->uid = -1;
	if (rec->gid > 0x7fffffffL)
		rec->gid = -1;
	attr_value(ld, e, opt(pd, "passdb_ldap_attr_home"), rec->home, sizeof(rec->home));
	rec->quota_bytes = (uint64_t)attr_num(ld, e, opt(pd, "passdb_ldap_attr_quota_bytes"), 0);
	rec->quota_messages = (uint64_t)attr_num(ld, e, opt(pd, "passdb_ldap_attr_quota_messages"), 0);
}

/* A connection kept from an earlier job found broken (the server
 * restarted): worth one more try on a new one. */
static int conn_broken(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_UNAVAILABLE;
}

/* Search on the service connection; a kept one that turns out broken is
 * made again once. */
static int search(struct pdb_ldap *p, const char *base, int scope, const char *filter,
		  LDAPMessage **res)
{
	int kept = p->search != NULL, rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = search_conn(p)) != LDAP_SUCCESS)
			return rc;
		rc = ldap_search_ext_s(p->search, base, scope, filter, NULL, 0, NULL, NULL, NULL, 2,
				       res);
		if (rc == LDAP_SUCCESS || rc == LDAP_NO_SUCH_OBJECT || !kept || !conn_broken(rc))
			return rc;
		ldap_msgfree(*res);
		*res = NULL;
		conn_drop(&p->search);
		kept = 0;
	}
	return rc;
}

/* The user's entry: PDB_OK (*dn and rec set), PDB_UNKNOWN, or
 * PDB_TEMPFAIL (reason set; a broken connection dropped). */
static enum passdb_result find_user(struct pdb_ldap *p, const char *user, char **dn,
				    struct passdb_record *rec)
{
	const char *tmpl = opt(&p->base, "passdb_ldap_user_dn");
	char *filter, *base;
	LDAPMessage *res = NULL, *e;
	int rc, scope = tmpl[0] ? LDAP_SCOPE_BASE : scope_of(&p->base);
	enum passdb_result r = PDB_UNKNOWN;

	base = tmpl[0] ? expand(tmpl, user, 1) : xstrdup(opt(&p->base, "passdb_ldap_base"));
	filter = tmpl[0] ? xstrdup("(objectClass=*)")
			 : expand(opt(&p->base, "passdb_ldap_filter"), user, 0);
	rc = search(p, base, scope, filter, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
		reason(rec, "search", rc);
		conn_drop(&p->search);
		r = PDB_TEMPFAIL;
	} else if (rc == LDAP_SUCCESS && ldap_count_entries(p->search, res) > 1) {
		snprintf(rec->reason, sizeof(rec->reason), "ldap: %s matches more than one entry", user);
		r = PDB_TEMPFAIL;
	} else if (rc == LDAP_SUCCESS && (e = ldap_first_entry(p->search, res)) != NULL) {
		char *d = ldap_get_dn(p->search, e);
		*dn = xstrdup(d);
		ldap_memfree(d);
		record_of(&p->base, p->search, e, user, rec);
		r = PDB_OK;
	}
	ldap_msgfree(res);
	free(base);
	free(filter);
	return r;
}

/* Bind as dn with the password on the user connection. */
static enum passdb_result user_bind(struct pdb_ldap *p, const char *dn, const char *password,
				    struct passdb_record *rec)
{
	int rc, kept = p->user != NULL;

	/* An empty password is an unauthenticated bind (RFC 4513 5.1.2),
	 * which servers answer with success: never a login. */
	if (password[0] == '\0')
		return PDB_MISMATCH;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (p->user == NULL && (rc = conn_open(&p->base, &p->user)) != LDAP_SUCCESS) {
			reason(rec, "connecting", rc);
			return PDB_TEMPFAIL;
		}
		rc = simple_bind(p->user, dn, password);
		if (!kept || !conn_broken(rc))
			break;
		conn_drop(&p->user);
		kept = 0;
	}
	if (rc == LDAP_SUCCESS)
		return PDB_OK;
	if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH ||
	    rc == LDAP_NO_SUCH_OBJECT || rc == LDAP_INVALID_DN_SYNTAX)
		return PDB_MISMATCH;
	reason(rec, "bind", rc);
	conn_drop(&p->user);
	return PDB_TEMPFAIL;
}

static enum passdb_result pl_verify(struct passdb *pd, const struct passdb_query *q,
				    struct passdb_record *rec)
{
	struct pdb_ldap *p = (struct pdb_ldap *)pd;
	const char *tmpl = opt(pd, "passdb_ldap_user_dn");
	enum passdb_result r;
	char *dn = NULL;

	if (tmpl[0]) {
		/* Bind first: the entry may be readable to its owner only. */
		dn = expand(tmpl, q->user, 1);
		r = user_bind(p, dn, q->password, rec);
		free(dn);
		dn = NULL;
		/* Its attributes, where the search connection may read them. */
		if (r == PDB_OK && find_user(p, q->user, &dn, rec) == PDB_TEMPFAIL)
			r = PDB_TEMPFAIL;
		free(dn);
		return r;
	}
	if ((r = find_user(p, q->user, &dn, rec)) != PDB_OK)
		return r;
	r = user_bind(p, dn, q->password, rec);
	free(dn);
	return r;
}

static enum passdb_result pl_lookup(struct passdb *pd, const char *user,
				    struct passdb_record *rec)
{
	char *dn = NULL;
	enum passdb_result r = find_user((struct pdb_ldap *)pd, user, &dn, rec);
	free(dn);
	return r;
}

static int pl_check(const struct config *cfg, const char *arg, struct error *err)
{
	const char *uri = passdb_setting_str(cfg, "passdb_ldap_uri");
	const char *scope = passdb_setting_str(cfg, "passdb_ldap_scope");
	LDAPURLDesc *d;
	char *copy = xstrdup(uri), *save = NULL;
	int bad = 0;

	for (char *u = strtok_r(copy, " ", &save); u && !bad; u = strtok_r(NULL, " ", &save)) {
		bad = ldap_url_parse(u, &d) != LDAP_URL_SUCCESS;
		if (!bad)
			ldap_free_urldesc(d);
	}
	free(copy);
	if (bad || uri[0] == '\0')
		return passdb_setting_fail(cfg, "passdb_ldap_uri", err, "not an ldap:// or ldaps:// "
					   "URI list: \"%s\"", uri);
	if (strcmp(scope, "sub") && strcmp(scope, "one") && strcmp(scope, "base"))
		return passdb_setting_fail(cfg, "passdb_ldap_scope", err, "expected sub, one or base");
	if (passdb_setting_str(cfg, "passdb_ldap_user_dn")[0] == '\0' &&
	    passdb_setting_str(cfg, "passdb_ldap_base")[0] == '\0')
		return passdb_setting_fail(cfg, "passdb_ldap_base", err,
					   "needed (or passdb_ldap_user_dn)");
	return 0;
}

const struct passdb_ops passdb_ldap_ops = {
	.name = "ldap",
	.remote = 1,
	.cached = 1,
	.settings = ldap_settings,
	.check = pl_check,
	.open = pl_open,
	.close = pl_close,
	.verify = pl_verify,
	.lookup = pl_lookup,
};
