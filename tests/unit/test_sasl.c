/* SASL pieces: the login worker's decoders (protocol/sasl.c), SCRAM's
 * arithmetic against RFC 7677's example exchange, stored secrets, JWT
 * claims, the auth cache, and what an unknown user's hash work copies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../auth/authmsg.h"
#include "../../auth/cache.h"
#include "../../auth/passdb.h"
#include "../../auth/scram.h"
#include "../../lib/base64.h"
#include "../../lib/log.h"
#include "../../protocol/sasl.h"
#if HAVE_OAUTH
#include "../../auth/jwt.h"
#endif

#define S(x) (const unsigned char *)(x), sizeof(x) - 1

static void view(struct ipc_msg *m, const struct ipc_out *o)
{
	ipc_msg_view(m, o->payload.data, o->payload.len);
}

static void test_plain(void **state)
{
	struct ipc_out o;
	struct ipc_msg m;
	struct plain_in p;

	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_plain_step(S("admin\0alice\0pw"), &o), 0);
	view(&m, &o);
	assert_int_equal(authmsg_plain(&m, &p), 0);
	assert_string_equal(p.authzid, "admin");
	assert_string_equal(p.authcid, "alice");
	assert_string_equal(p.password, "pw");
	ipc_out_free(&o);
	/* No authcid, a NUL in the password, one NUL only. */
	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_plain_step(S("\0\0pw"), &o), -1);
	assert_int_equal(sasl_plain_step(S("\0alice\0p\0w"), &o), -1);
	assert_int_equal(sasl_plain_step(S("alice\0pw"), &o), -1);
	assert_int_equal(sasl_login_step(S("alice"), S(""), &o), 0);
	assert_int_equal(sasl_login_step(S(""), S("pw"), &o), -1);
	ipc_out_free(&o);
}

static void test_scram_first(void **state)
{
	struct sasl_scram_first f;

	assert_int_equal(sasl_scram_first_parse(S("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), &f), 0);
	assert_int_equal(f.cbind, SASL_CB_NONE);
	assert_string_equal(f.user, "user");
	assert_string_equal(f.gs2, "n,,");
	assert_string_equal(f.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
	assert_string_equal(f.cnonce, "rOprNGfwEbeRWgbNEkqO");
	sasl_scram_first_free(&f);
	assert_int_equal(sasl_scram_first_parse(S("p=tls-exporter,a=b=2Cc=3D,n=x=2Cy,r=n,e=1"), &f), 0);
	assert_int_equal(f.cbind, SASL_CB_USED);
	assert_string_equal(f.cbname, "tls-exporter");
	assert_string_equal(f.authzid, "b,c=");
	assert_string_equal(f.user, "x,y");
	sasl_scram_first_free(&f);
	assert_int_equal(sasl_scram_first_parse(S("y,,n=u,r=r"), &f), 0);
	assert_int_equal(f.cbind, SASL_CB_NOT_OFFERED);
	sasl_scram_first_free(&f);
	static const char *const bad[] = {
		"n,,m=x,n=u,r=r", "n,,n=u", "n,,n=,r=r", "n,,n=a=2Xb,r=r", "q,,n=u,r=r",
		"p=,,n=u,r=r", "n,n=u,r=r", "n,,n=u,r=", "n,,n=u,r=a b", "n,,n=u,r=r,1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sasl_scram_first_parse((const unsigned char *)bad[i], strlen(bad[i]), &f) != -1)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_scram_final(void **state)
{
	struct ipc_out o;
	struct ipc_msg m;
	struct scram_final_in in;
	const char *msg = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			  "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_scram_final_step((const unsigned char *)msg, strlen(msg), &o), 0);
	view(&m, &o);
	assert_int_equal(authmsg_scram_final(&m, &in), 0);
	assert_int_equal(in.cbinput_len, 3);
	assert_memory_equal(in.cbinput, "n,,", 3);
	assert_int_equal(in.proof_len, 32);
	assert_string_equal(in.without_proof,
			    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
	ipc_out_free(&o);
	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_scram_final_step(S("c=biws,r=abc"), &o), -1);
	assert_int_equal(sasl_scram_final_step(S("r=abc,c=biws,p=AAAA"), &o), -1);
	assert_int_equal(sasl_scram_final_step(S("c=biws,r=abc,p=AAAA,x=1"), &o), -1);
	assert_int_equal(sasl_scram_final_step(S("c=!!,r=abc,p=AAAA"), &o), -1);
	ipc_out_free(&o);
}

/* RFC 7677 section 3: user "user", password "pencil". */
static void test_scram_rfc7677(void **state)
{
	struct scram_secret s;
	struct buf salt = BUF_INIT, proof = BUF_INIT, sig = BUF_INIT;
	unsigned char server_sig[SCRAM_KEY_LEN];
	const char *am = "n=user,r=rOprNGfwEbeRWgbNEkqO,"
			 "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			 "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
			 "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

	assert_int_equal(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt), 0);
	assert_int_equal(base64_decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", 44, &proof), 0);
	assert_int_equal(base64_decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 44, &sig), 0);
	scram_secret_derive("pencil", (unsigned char *)salt.data, salt.len, 4096, &s);
	assert_int_equal(scram_proof_ok(&s, am, (unsigned char *)proof.data, proof.len), 1);
	scram_server_signature(&s, am, server_sig);
	assert_memory_equal(server_sig, sig.data, SCRAM_KEY_LEN);
	/* One bit off, or the wrong length: no. */
	proof.data[5] ^= 1;
	assert_int_equal(scram_proof_ok(&s, am, (unsigned char *)proof.data, proof.len), 0);
	assert_int_equal(scram_proof_ok(&s, am, (unsigned char *)proof.data, 31), 0);
	/* Stored, it verifies the password for PLAIN too. */
	char text[300];
	assert_int_equal(scram_secret_format(&s, text, sizeof(text)), 0);
	assert_int_equal(password_verify("pencil", text, 0), 1);
	assert_int_equal(password_verify("pencil!", text, 0), 0);
	assert_int_equal(scram_secret_parse("4096,c2FsdA==,AAAA,AAAA", &s), -1);
	assert_int_equal(scram_secret_parse("0,c2FsdA==,AAAA,AAAA", &s), -1);
	assert_int_equal(password_verify("x", "{SCRAM-SHA-256}junk", 0), -1);
	buf_free(&salt);
	buf_free(&proof);
	buf_free(&sig);
}

static void test_oauthbearer(void **state)
{
	struct ipc_out o;
	struct ipc_msg m;
	struct oauth_in in;

	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_oauthbearer_step(S("n,a=user@example.com,\x01host=h\x01port=143\x01"
						 "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"),
					       &o), 0);
	view(&m, &o);
	assert_int_equal(authmsg_oauth(&m, &in), 0);
	assert_string_equal(in.authzid, "user@example.com");
	assert_string_equal(in.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	ipc_out_free(&o);
	ipc_out_init(&o, 0, 0);
	assert_int_equal(sasl_oauthbearer_step(S("n,,\x01" "auth=Bearer abc\x01"), &o), -1);
	assert_int_equal(sasl_oauthbearer_step(S("n,,\x01" "auth=Basic abc\x01\x01"), &o), -1);
	assert_int_equal(sasl_oauthbearer_step(S("n,,\x01" "auth=Bearer a b\x01\x01"), &o), -1);
	assert_int_equal(sasl_oauthbearer_step(S("p=x,,\x01" "auth=Bearer abc\x01\x01"), &o), -1);
	assert_int_equal(sasl_oauthbearer_step(S("n,,\x01" "host=x\x01\x01"), &o), -1);
	ipc_out_free(&o);
}

static void test_password_like(void **state)
{
	char like[128];

	password_like("$2b$10$saltsaltsaltsaltsaltsuBzMkPAsW3w6XMO1afquu4DNAJMyTKY2", like,
		      sizeof(like));
	assert_string_equal(like, "$2b$10$saltsaltsaltsaltsaltsu");
	password_like("{CRYPT}$6$rounds=9000$abc$def", like, sizeof(like));
	assert_string_equal(like, "$6$rounds=9000$abc");
	password_like("{SCRAM-SHA-256}4096,c2FsdA==,x,y", like, sizeof(like));
	assert_string_equal(like, "{SCRAM-SHA-256}4096");
	password_like("{PLAIN}secret", like, sizeof(like));
	assert_string_equal(like, "");
	password_like("!locked", like, sizeof(like));
	assert_string_equal(like, "");
	/* Burning them costs, and breaks nothing. */
	password_burn("x", "$2b$04$saltsaltsaltsaltsaltsu");
	password_burn("x", "{SCRAM-SHA-256}4096");
	password_burn("x", "");
}

static void test_cache(void **state)
{
	struct passdb_record rec, got;
	enum passdb_result res;

	cache_configure(300, 300);
	passdb_record_init(&rec, "alice");
	snprintf(rec.secret, sizeof(rec.secret), "$6$x$y");
	assert_int_equal(cache_get(0, "alice", "pw", &got, &res), CACHE_MISS);
	cache_put(0, "alice", "pw", PDB_OK, &rec, 1);
	assert_int_equal(cache_get(0, "alice", "pw", &got, &res), CACHE_OK);
	assert_string_equal(got.secret, "$6$x$y");
	/* Another password, database or user: nothing known. */
	assert_int_equal(cache_get(0, "alice", "pw2", &got, &res), CACHE_MISS);
	assert_int_equal(cache_get(1, "alice", "pw", &got, &res), CACHE_MISS);
	assert_int_equal(cache_get(0, "Alice", "pw", &got, &res), CACHE_MISS);
	/* A wrong guess does not push out the success. */
	cache_put(0, "alice", "guess", PDB_MISMATCH, NULL, 1);
	assert_int_equal(cache_get(0, "alice", "pw", &got, &res), CACHE_OK);
	/* Refusals only where allowed; an unknown user whatever the password. */
	cache_put(0, "bob", "x", PDB_UNKNOWN, NULL, 0);
	assert_int_equal(cache_get(0, "bob", "y", &got, &res), CACHE_MISS);
	cache_put(0, "bob", "x", PDB_UNKNOWN, NULL, 1);
	assert_int_equal(cache_get(0, "bob", "y", &got, &res), CACHE_FAIL);
	assert_int_equal(res, PDB_UNKNOWN);
	/* Never a temporary failure; off means off. */
	cache_put(0, "carol", "x", PDB_TEMPFAIL, NULL, 1);
	assert_int_equal(cache_get(0, "carol", "x", &got, &res), CACHE_MISS);
	cache_configure(0, 0);
	cache_put(0, "alice", "pw", PDB_OK, &rec, 1);
	assert_int_equal(cache_get(0, "alice", "pw", &got, &res), CACHE_MISS);
	cache_clear();
}

#if HAVE_OAUTH
static void test_jwt_claims(void **state)
{
	struct jwt_rules r = { "https://idp", "imap", "sub", 60, 1 };
	struct error err;
	char user[64];
	json_t *c = json_pack("{s:s, s:s, s:[s,s], s:I}", "sub", "alice", "iss", "https://idp",
			      "aud", "x", "imap", "exp", (json_int_t)2000);

	assert_int_equal(jwt_claims_check(c, &r, 1000, user, sizeof(user), &err), 0);
	assert_string_equal(user, "alice");
	assert_int_equal(jwt_claims_check(c, &r, 2100, user, sizeof(user), &err), -1);
	assert_int_equal(jwt_claims_check(c, &r, 2050, user, sizeof(user), &err), 0);  /* leeway */
	r.audience = "pop";
	assert_int_equal(jwt_claims_check(c, &r, 1000, user, sizeof(user), &err), -1);
	r.audience = "";
	r.issuer = "https://other";
	assert_int_equal(jwt_claims_check(c, &r, 1000, user, sizeof(user), &err), -1);
	r.issuer = "";
	r.user_claim = "email";
	assert_int_equal(jwt_claims_check(c, &r, 1000, user, sizeof(user), &err), -1);
	json_decref(c);
	struct jwt j;
	assert_int_equal(jwt_parse("a.b", &j, &err), -1);
	assert_int_equal(jwt_parse("e30.e30.", &j, &err), -1);
	assert_int_equal(jwt_parse("e30.e30.eA", &j, &err), 0);
	jwt_free(&j);
	assert_int_equal(jwt_parse("W10.e30.eA", &j, &err), -1);  /* [] is no object */
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_scram_first),
		cmocka_unit_test(test_scram_final),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_oauthbearer),
		cmocka_unit_test(test_password_like),
		cmocka_unit_test(test_cache),
#if HAVE_OAUTH
		cmocka_unit_test(test_jwt_claims),
#endif
	};
	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
