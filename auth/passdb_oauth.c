/* The `oauth` passdb: OAUTHBEARER tokens (RFC 7628), checked as a JWT
 * signed with the configured key (RS256 or ES256; jwt.c) or by asking a
 * token-introspection endpoint (RFC 7662) with libcurl. It knows no
 * passwords and no users: the token names whom it was issued to (a
 * configured claim), and the databases after it in the passdb list must
 * know that user (request.c). Runs in the pool's children: parsing a
 * stranger's JSON and waiting for an HTTP answer happen there. */
#if HAVE_OAUTH
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "jwt.h"
#include "passdb.h"
#include "passdbs.h"

/* Largest introspection answer read. */
#define INTROSPECT_MAX (64 * 1024)

static const struct setting oauth_settings[] = {
	{ "passdb_oauth_jwt_key", SETTING_STR, "", 0, 0,
	  "PEM public key (RSA: RS256, P-256: ES256) that signs the tokens, which are then JWTs" },
	{ "passdb_oauth_introspection_url", SETTING_STR, "", 0, 0,
	  "token-introspection endpoint (RFC 7662), asked for tokens that are not JWTs of "
	  "passdb_oauth_jwt_key (or all, without one)" },
	{ "passdb_oauth_client_id", SETTING_STR, "", 0, 0,
	  "client id for the introspection endpoint (HTTP basic authentication)" },
	{ "passdb_oauth_client_secret", SETTING_STR, "", 0, 0, "its secret" },
	{ "passdb_oauth_ca_file", SETTING_STR, "", 0, 0,
	  "PEM CA certificates for an https introspection endpoint (empty: the system's)" },
	{ "passdb_oauth_issuer", SETTING_STR, "", 0, 0, "required iss claim (empty: any)" },
	{ "passdb_oauth_audience", SETTING_STR, "", 0, 0,
	  "required in the aud claim (empty: any)" },
	{ "passdb_oauth_user_claim", SETTING_STR, "sub", 0, 0,
	  "claim naming the user (sub, email, preferred_username, ...)" },
	{ "passdb_oauth_leeway", SETTING_INT, "60", 0, 3600,
	  "seconds of clock difference allowed for exp and nbf" },
	{ NULL, SETTING_STR, NULL, 0, 0, NULL },
};

struct pdb_oauth {
	struct passdb base;
	EVP_PKEY *key;          /* loaded on first use */
};

static const char *opt(const struct passdb *pd, const char *key)
{
	return passdb_setting_str(pd->cfg, key);
}

static struct passdb *po_open(const struct config *cfg, const char *arg)
{
	return xcalloc(1, sizeof(struct pdb_oauth));
}

static void po_close(struct passdb *pd)
{
	struct pdb_oauth *p = (struct pdb_oauth *)pd;
	EVP_PKEY_free(p->key);
	free(p);
}

static void rules_of(const struct passdb *pd, struct jwt_rules *r, int need_exp)
{
	r->issuer = opt(pd, "passdb_oauth_issuer");
	r->audience = opt(pd, "passdb_oauth_audience");
	r->user_claim = opt(pd, "passdb_oauth_user_claim");
	r->leeway = passdb_setting_int(pd->cfg, "passdb_oauth_leeway");
	r->need_exp = need_exp;
}

/* The token as a JWT of our key: PDB_OK (rec->name set), PDB_MISMATCH,
 * PDB_UNKNOWN when it is no JWT at all (introspection may know it). */
static enum passdb_result jwt_login(struct pdb_oauth *p, const char *token,
				    struct passdb_record *rec)
{
	struct jwt_rules rules;
	struct error err;
	struct jwt j;
	char user[256];
	int ok;

	if (jwt_parse(token, &j, &err) < 0)
		return PDB_UNKNOWN;
	if (p->key == NULL && (p->key = jwt_key_load(opt(&p->base, "passdb_oauth_jwt_key"), &err)) == NULL) {
		jwt_free(&j);
		snprintf(rec->reason, sizeof(rec->reason), "oauth: %.100s", err.msg);
		return PDB_TEMPFAIL;
	}
	rules_of(&p->base, &rules, 1);
	ok = jwt_verify(&j, p->key, &err) == 0 &&
	     jwt_claims_check(j.claims, &rules, time(NULL), user, sizeof(user), &err) == 0;
	jwt_free(&j);
	if (!ok) {
		log_info("oauth: token refused: %s", err.msg);
		return PDB_MISMATCH;
	}
	passdb_record_init(rec, user);
	return PDB_OK;
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (b->len + size * n > INTROSPECT_MAX)
		return 0;  /* too much: the transfer fails */
	buf_append(b, data, size * n);
	return size * n;
}

/* POST the token; 0 with the answer's body, or -1 (reason set). */
static int introspect_post(const struct passdb *pd, const char *token, struct buf *body,
			   struct passdb_record *rec)
{
	CURL *c = curl_easy_init();
	char *esc = c ? curl_easy_escape(c, token, 0) : NULL;
	struct buf form = BUF_INIT;
	long code = 0;
	CURLcode rc;

	if (esc == NULL) {
		snprintf(rec->reason, sizeof(rec->reason), "oauth: no curl handle");
		curl_easy_cleanup(c);
		return -1;
	}
	buf_printf(&form, "token=%s&token_type_hint=access_token", esc);
	curl_free(esc);
	curl_easy_setopt(c, CURLOPT_URL, opt(pd, "passdb_oauth_introspection_url"));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.data);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, passdb_setting_int(pd->cfg, "passdb_timeout") * 3 / 4);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	if (opt(pd, "passdb_oauth_client_id")[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, opt(pd, "passdb_oauth_client_id"));
		curl_easy_setopt(c, CURLOPT_PASSWORD, opt(pd, "passdb_oauth_client_secret"));
	}
	if (opt(pd, "passdb_oauth_ca_file")[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, opt(pd, "passdb_oauth_ca_file"));
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	buf_free_secret(&form);
	if (rc != CURLE_OK || code != 200) {
		snprintf(rec->reason, sizeof(rec->reason), "oauth introspection: %s",
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP status not 200");
		return -1;
	}
	return 0;
}

static enum passdb_result introspect_login(const struct passdb *pd, const char *token,
					   struct passdb_record *rec)
{
	struct buf body = BUF_INIT;
	struct jwt_rules rules;
	struct error err;
	json_t *j = NULL;
	char user[256];
	enum passdb_result r = PDB_TEMPFAIL;

	if (introspect_post(pd, token, &body, rec) < 0)
		goto out;
	j = body.len ? json_loadb(body.data, body.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (!json_is_object(j)) {
		snprintf(rec->reason, sizeof(rec->reason), "oauth introspection: answer not JSON");
		goto out;
	}
	rules_of(pd, &rules, 0);
	r = PDB_MISMATCH;
	if (!json_is_true(json_object_get(j, "active")))
		log_info("oauth: token refused: not active");
	else if (jwt_claims_check(j, &rules, time(NULL), user, sizeof(user), &err) < 0)
		log_info("oauth: token refused: %s", err.msg);
	else {
		passdb_record_init(rec, user);
		r = PDB_OK;
	}
out:
	json_decref(j);
	buf_free(&body);
	return r;
}

static enum passdb_result po_verify(struct passdb *pd, const struct passdb_query *q,
				    struct passdb_record *rec)
{
	struct pdb_oauth *p = (struct pdb_oauth *)pd;
	enum passdb_result r = PDB_UNKNOWN;

	if (opt(pd, "passdb_oauth_jwt_key")[0])
		r = jwt_login(p, q->password, rec);
	if (r == PDB_UNKNOWN && opt(pd, "passdb_oauth_introspection_url")[0])
		r = introspect_login(pd, q->password, rec);
	return r == PDB_UNKNOWN ? PDB_MISMATCH : r;
}

static int po_check(const struct config *cfg, const char *arg, struct error *err)
{
	const char *key = passdb_setting_str(cfg, "passdb_oauth_jwt_key");
	const char *url = passdb_setting_str(cfg, "passdb_oauth_introspection_url");
	EVP_PKEY *k;

	if (key[0] == '\0' && url[0] == '\0')
		return passdb_setting_fail(cfg, "passdb_oauth_jwt_key", err,
					   "oauth needs it or passdb_oauth_introspection_url");
	if (key[0]) {
		if ((k = jwt_key_load(key, err)) == NULL)
			return passdb_setting_fail(cfg, "passdb_oauth_jwt_key", err, "%s", err->msg);
		EVP_PKEY_free(k);
	}
	if (url[0] && strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		return passdb_setting_fail(cfg, "passdb_oauth_introspection_url", err,
					   "expected an http:// or https:// URL");
	return 0;
}

const struct passdb_ops passdb_oauth_ops = {
	.name = "oauth",
	.remote = 1,
	.settings = oauth_settings,
	.check = po_check,
	.open = po_open,
	.close = po_close,
	.verify = po_verify,
};
#endif
