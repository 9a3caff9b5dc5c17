/* libFuzzer target for what the auth helper reads from others: the
 * master's requests and the SASL steps in them, its pool's jobs and
 * answers (auth/authmsg.c, passdb_record_get), and the secrets and tokens
 * it parses (stored SCRAM secrets, password settings, JWTs). Each reader
 * that accepts the input must have consumed exactly it: put back with
 * ipc_put_*, the fields give the very same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth/authmsg.h"
#include "../../auth/passdb.h"
#include "../../auth/scram.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#if HAVE_OAUTH
#include "../../auth/jwt.h"
#endif

static const uint8_t *in_data;
static size_t in_size;

static void same(struct ipc_out *o)
{
	if (o->payload.len != in_size || (in_size && memcmp(o->payload.data, in_data, in_size)))
		abort();
	ipc_out_free(o);
}

static void reader_request(struct ipc_msg *m)
{
	struct request_in q;
	struct ipc_out o;

	if (authmsg_request(m, &q) < 0)
		return;
	ipc_out_init(&o, 0, 0);
	ipc_put_u32(&o, q.step);
	ipc_put_str(&o, q.mech);
	ipc_put_bytes(&o, q.sasl, q.sasl_len);
	ipc_put_str(&o, q.remote);
	ipc_put_str(&o, q.sid);
	ipc_put_u32(&o, q.tls);
	same(&o);
}

static void reader_steps(struct ipc_msg *m)
{
	struct plain_in p;
	struct scram_first_in f;
	struct scram_final_in l;
	struct oauth_in a;
	struct ipc_out o;

	ipc_out_init(&o, 0, 0);
	m->pos = 0, m->bad = 0;
	if (authmsg_plain(m, &p) == 0) {
		ipc_put_str(&o, p.authzid);
		ipc_put_str(&o, p.authcid);
		ipc_put_str(&o, p.password);
		same(&o);
		ipc_out_init(&o, 0, 0);
	}
	m->pos = 0, m->bad = 0;
	if (authmsg_scram_first(m, &f) == 0) {
		ipc_put_str(&o, f.authzid);
		ipc_put_str(&o, f.user);
		ipc_put_str(&o, f.cnonce);
		ipc_put_str(&o, f.cfb);
		ipc_put_str(&o, f.gs2);
		ipc_put_u32(&o, f.cbind);
		ipc_put_str(&o, f.cbname);
		ipc_put_bytes(&o, f.cb, f.cblen);
		same(&o);
		ipc_out_init(&o, 0, 0);
	}
	m->pos = 0, m->bad = 0;
	if (authmsg_scram_final(m, &l) == 0) {
		ipc_put_bytes(&o, l.cbinput, l.cbinput_len);
		ipc_put_str(&o, l.nonce);
		ipc_put_bytes(&o, l.proof, l.proof_len);
		ipc_put_str(&o, l.without_proof);
		same(&o);
		ipc_out_init(&o, 0, 0);
	}
	m->pos = 0, m->bad = 0;
	if (authmsg_oauth(m, &a) == 0) {
		ipc_put_str(&o, a.authzid);
		ipc_put_str(&o, a.token);
		same(&o);
		ipc_out_init(&o, 0, 0);
	}
	ipc_out_free(&o);
}

static void reader_pool(struct ipc_msg *m)
{
	struct passdb_record rec;
	struct job_in j;
	struct ipc_out o;

	m->pos = 0, m->bad = 0;
	if (authmsg_job(m, &j) == 0) {
		ipc_out_init(&o, 0, 0);
		ipc_put_u32(&o, j.op);
		ipc_put_u32(&o, j.db);
		ipc_put_str(&o, j.user);
		ipc_put_str(&o, j.password);
		ipc_put_str(&o, j.remote);
		ipc_put_str(&o, j.known);
		same(&o);
	}
	m->pos = 0, m->bad = 0;
	if (passdb_record_get(m, &rec) == 0 && ipc_get_end(m) == 0) {
		if (rec.uid < -1 || rec.gid < -1 || rec.id < 0)
			abort();
		ipc_out_init(&o, 0, 0);
		passdb_record_put(&o, &rec);
		same(&o);
	}
}

/* The input as text: a stored SCRAM secret, a hash's setting, a JWT. */
static void texts(const char *s)
{
	struct scram_secret a, b;
	char out[600], like[128];

	if (scram_secret_parse(s, &a) == 0) {
		if (a.iter < 1 || a.iter > SCRAM_ITER_MAX || a.salt_len == 0 ||
		    a.salt_len > SCRAM_SALT_MAX)
			abort();
		if (scram_secret_format(&a, out, sizeof(out)) == 0 &&
		    (scram_secret_parse(out, &b) != 0 || a.iter != b.iter ||
		     a.salt_len != b.salt_len || memcmp(a.salt, b.salt, a.salt_len) != 0 ||
		     memcmp(a.stored_key, b.stored_key, SCRAM_KEY_LEN) != 0 ||
		     memcmp(a.server_key, b.server_key, SCRAM_KEY_LEN) != 0))
			abort();
	}
	password_like(s, like, sizeof(like));
	if (strlen(like) >= sizeof(like) || strstr(s, like) == NULL)
		abort();
#if HAVE_OAUTH
	struct jwt j;
	struct error err;
	struct jwt_rules r = { "iss", "aud", "sub", 60, 1 };
	char user[256];
	if (jwt_parse(s, &j, &err) == 0) {
		if (jwt_claims_check(j.claims, &r, 1000000000, user, sizeof(user), &err) == 0 &&
		    user[0] == '\0')
			abort();
		jwt_free(&j);
	}
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct ipc_msg m;
	char *s;

	if (!init) {
		log_set_level(LOG_LVL_ERR);
		init = 1;
	}
	in_data = data;
	in_size = size;
	ipc_msg_view(&m, data, size);
	reader_request(&m);
	reader_steps(&m);
	reader_pool(&m);
	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	texts(s);
	free(s);
	return 0;
}
