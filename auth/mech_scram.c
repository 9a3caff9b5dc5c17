/* SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, 7677; channel binding
 * tls-exporter per RFC 9266 and tls-server-end-point): the server side of
 * the exchange. The login worker parsed the client's messages; what comes
 * here are typed fields (msg_sasl.h), and what goes back is the server's
 * own text. The secret comes from the databases: a stored SCRAM secret,
 * or one derived from a {PLAIN} password. A user who has neither, or is
 * unknown, gets the same exchange with a made-up secret (its salt stable
 * per name) that no proof matches: the steps do not tell them apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../lib/base64.h"
#include "../lib/log.h"
#include "../lib/msg_sasl.h"
#include "../lib/xmalloc.h"
#include "auth.h"
#include "authmsg.h"
#include "scram.h"

#define SCRAM_NONCE_MAX 256
#define SCRAM_CB_MAX 64
#define SCRAM_SALT_LEN 16

struct scram_state {
	int step;                  /* 1: server-first sent, 2: server-final sent */
	int fake;                  /* no proof can succeed */
	const char *why;           /* ... and why, for the log */
	uint32_t cbind;
	char *client_first_bare, *gs2, *server_first;
	char nonce[2 * SCRAM_NONCE_MAX];
	unsigned char cbdata[SCRAM_CB_MAX];
	size_t cblen;
	struct scram_secret sec;
};

static unsigned char salt_key[32];

void scram_init(void)
{
	if (RAND_bytes(salt_key, sizeof(salt_key)) != 1)
		fatal("scram: no random bytes");
}

void scram_free(struct scram_state *s)
{
	if (s == NULL)
		return;
	free(s->client_first_bare);
	free(s->gs2);
	free(s->server_first);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* Printable ASCII but ',' (RFC 5802's printable). */
static int nonce_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > SCRAM_NONCE_MAX)
		return 0;
	for (const char *p = n; *p; p++)
		if (*p < 0x21 || *p > 0x7e || *p == ',')
			return 0;
	return 1;
}

/* Why the channel binding the client chose cannot succeed, or NULL. */
static const char *cbind_refused(const struct auth_req *r, const struct scram_first_in *f)
{
	int plus = strcmp(r->mech, SASL_MECH_SCRAM_PLUS) == 0;

	if (plus != (f->cbind == SASL_CB_USED))
		return " (channel binding flag does not fit the mechanism)";
	if (f->cbind == SASL_CB_USED && (f->cblen == 0 || f->cblen > SCRAM_CB_MAX ||
					 (strcmp(f->cbname, "tls-exporter") != 0 &&
					  strcmp(f->cbname, "tls-server-end-point") != 0)))
		return " (unsupported channel binding)";
	/* "y": the client can bind but thinks we cannot; we offered -PLUS
	 * on TLS, so someone removed it from our capabilities. */
	if (f->cbind == SASL_CB_NOT_OFFERED && r->tls)
		return " (channel binding downgrade)";
	return NULL;
}

/* A made-up secret: the salt a function of the name, keys of nothing. */
static void fake_secret(const char *user, struct scram_secret *sec)
{
	unsigned char mac[32], pw[16];
	unsigned int len = sizeof(mac);
	char hex[33];

	HMAC(EVP_sha256(), salt_key, sizeof(salt_key), (const unsigned char *)user, strlen(user),
	     mac, &len);
	if (RAND_bytes(pw, sizeof(pw)) != 1)
		memset(pw, 0x5a, sizeof(pw));
	for (size_t i = 0; i < sizeof(pw); i++)
		snprintf(hex + 2 * i, 3, "%02x", pw[i]);
	scram_secret_derive(hex, mac, SCRAM_SALT_LEN,
			    (unsigned)passdb_setting_int(&A->cfg, "passdb_scram_iterations"), sec);
	explicit_bzero(hex, sizeof(hex));
}

/* The user's secret from what the databases gave: 0, or -1 (none). */
static int real_secret(const struct passdb_record *rec, struct scram_secret *sec)
{
	unsigned char salt[SCRAM_SALT_LEN];

	if (rec->scram[0])
		return scram_secret_parse(rec->scram, sec);
	if (strncmp(rec->secret, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		return scram_secret_parse(rec->secret, sec);
	if (strncmp(rec->secret, "{PLAIN}", 7) != 0 || !A->cfg.allow_plain_passwords ||
	    RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	scram_secret_derive(rec->secret + 7, salt, sizeof(salt),
			    (unsigned)passdb_setting_int(&A->cfg, "passdb_scram_iterations"), sec);
	return 0;
}

static void send_server_first(struct auth_req *r)
{
	struct scram_state *s = r->scram;
	struct buf salt = BUF_INIT, out = BUF_INIT;
	unsigned char rnd[18];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		verdict_tempfail(r, "Internal error");
		return;
	}
	base64_encode(rnd, sizeof(rnd), &out);
	snprintf(s->nonce + strlen(s->nonce), sizeof(s->nonce) - strlen(s->nonce), "%s", out.data);
	buf_reset(&out);
	base64_encode(s->sec.salt, s->sec.salt_len, &salt);
	buf_printf(&out, "r=%s,s=%s,i=%u", s->nonce, salt.data, s->sec.iter);
	s->server_first = xstrdup(out.data);
	s->step = 1;
	buf_free(&salt);
	verdict_challenge(r, out.data, out.len);
	buf_free(&out);
}

static void after_lookup(struct auth_req *r, enum passdb_result res)
{
	struct scram_state *s = r->scram;
	struct scram_secret dummy;

	if (res == PDB_TEMPFAIL) {
		verdict_tempfail(r, "Authentication service unavailable");
		return;
	}
	/* Every path costs one derivation: the step's time says nothing. */
	if (res != PDB_OK || real_secret(&r->rec, &s->sec) < 0) {
		if (!s->fake)
			s->why = res == PDB_OK ? " (no SCRAM secret or plaintext password stored)"
					       : " (unknown user)";
		s->fake = 1;
		fake_secret(r->user, &s->sec);
	} else if (r->rec.scram[0] || strncmp(r->rec.secret, "{PLAIN}", 7) != 0) {
		fake_secret(r->user, &dummy);
		explicit_bzero(&dummy, sizeof(dummy));
	}
	send_server_first(r);
}

static int state_init(struct auth_req *r, const struct scram_first_in *f)
{
	struct scram_state *s = xcalloc(1, sizeof(*s));

	r->scram = s;
	if (!nonce_ok(f->cnonce) || name_fits(f->user, r->user, sizeof(r->user)) < 0)
		return -1;
	s->client_first_bare = xstrdup(f->cfb);
	s->gs2 = xstrdup(f->gs2);
	snprintf(s->nonce, sizeof(s->nonce), "%s", f->cnonce);
	s->cbind = f->cbind;
	if (f->cbind == SASL_CB_USED && f->cblen <= SCRAM_CB_MAX) {
		memcpy(s->cbdata, f->cb, f->cblen);
		s->cblen = f->cblen;
	}
	s->why = cbind_refused(r, f);
	if (f->authzid[0] && strcmp(f->authzid, f->user) != 0)
		s->why = " (authorization identity other than the user)";
	s->fake = s->why != NULL;
	return 0;
}

void scram_start(struct auth_req *r, struct ipc_msg *step)
{
	struct scram_first_in f;

	if (authmsg_scram_first(step, &f) < 0) {
		log_err("auth: malformed %s step from the master", r->mech);
		verdict_tempfail(r, "Internal error");
		return;
	}
	if (state_init(r, &f) < 0) {
		snprintf(r->user, sizeof(r->user), "%.200s", f.user);
		if (!verdict_blocked(r))
			verdict_fail(r, " (invalid name or nonce)");
		return;
	}
	if (verdict_blocked(r))
		return;
	chain_lookup(r, r->user, after_lookup);
}

/* Why the client-final-message proves nothing, or NULL when it proves
 * the password. */
static const char *final_refused(struct scram_state *s, const struct scram_final_in *f)
{
	size_t glen = strlen(s->gs2);
	struct buf am = BUF_INIT;
	const char *why = NULL;

	if (s->fake)
		return s->why;
	if (strcmp(f->nonce, s->nonce) != 0)
		return " (nonce mismatch)";
	if (f->cbinput_len != glen + s->cblen || memcmp(f->cbinput, s->gs2, glen) != 0 ||
	    memcmp(f->cbinput + glen, s->cbdata, s->cblen) != 0)
		return " (channel binding mismatch)";
	buf_printf(&am, "%s,%s,%s", s->client_first_bare, s->server_first, f->without_proof);
	if (!scram_proof_ok(&s->sec, am.data, f->proof, f->proof_len))
		why = "";
	buf_free(&am);
	return why;
}

static void send_server_final(struct auth_req *r, const struct scram_final_in *f)
{
	struct scram_state *s = r->scram;
	unsigned char sig[SCRAM_KEY_LEN];
	struct buf am = BUF_INIT, out = BUF_INIT;

	buf_printf(&am, "%s,%s,%s", s->client_first_bare, s->server_first, f->without_proof);
	scram_server_signature(&s->sec, am.data, sig);
	buf_append_str(&out, "v=");
	base64_encode(sig, sizeof(sig), &out);
	s->step = 2;
	verdict_challenge(r, out.data, out.len);
	buf_free(&am);
	buf_free(&out);
}

void scram_continue(struct auth_req *r, struct ipc_msg *step)
{
	struct scram_state *s = r->scram;
	struct scram_final_in f;
	const char *why;

	if (s->step == 2) {
		/* The client checked our signature and sent its empty answer. */
		if (ipc_get_end(step) < 0)
			verdict_fail(r, " (data after the server signature)");
		else
			verdict_ok(r);
		return;
	}
	if (authmsg_scram_final(step, &f) < 0) {
		log_err("auth: malformed %s step from the master", r->mech);
		verdict_tempfail(r, "Internal error");
		return;
	}
	if ((why = final_refused(s, &f)) != NULL) {
		verdict_fail(r, why[0] ? why : " (wrong proof)");
		return;
	}
	send_server_final(r, &f);
}
