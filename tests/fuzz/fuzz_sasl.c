/* libFuzzer target for what the login worker decodes from a client in
 * AUTHENTICATE (protocol/sasl.c), every mechanism: PLAIN, LOGIN, SCRAM's
 * client-first and client-final messages, OAUTHBEARER. Besides "no
 * crash": whatever a decoder accepts becomes a step that the auth
 * helper's reader (auth/authmsg.c) accepts too, with the same fields
 * (the two sides agree on every layout), and what it keeps of the input
 * is the input's (the SCRAM message parts that get signed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth/authmsg.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../../protocol/sasl.h"

static void view(struct ipc_msg *m, const struct ipc_out *o)
{
	ipc_msg_view(m, o->payload.data, o->payload.len);
}

static void fuzz_plain(const uint8_t *d, size_t n)
{
	struct ipc_out o;
	struct ipc_msg m;
	struct plain_in p;

	ipc_out_init(&o, 0, 0);
	if (sasl_plain_step(d, n, &o) == 0) {
		view(&m, &o);
		if (authmsg_plain(&m, &p) < 0 || p.authcid[0] == '\0' ||
		    strlen(p.authzid) + strlen(p.authcid) + strlen(p.password) + 2 != n)
			abort();
	}
	ipc_out_free(&o);
	/* LOGIN: the name up to the first newline, then the password. */
	const uint8_t *nl = memchr(d, '\n', n);
	ipc_out_init(&o, 0, 0);
	if (nl && sasl_login_step(d, (size_t)(nl - d), nl + 1, n - (size_t)(nl + 1 - d), &o) == 0) {
		view(&m, &o);
		if (authmsg_plain(&m, &p) < 0 || p.authzid[0] || strlen(p.authcid) != (size_t)(nl - d))
			abort();
	}
	ipc_out_free(&o);
}

static void fuzz_scram_first(const uint8_t *d, size_t n)
{
	struct sasl_scram_first f;
	struct scram_first_in in;
	struct ipc_out o;
	struct ipc_msg m;
	static const unsigned char cb[32];

	if (sasl_scram_first_parse(d, n, &f) < 0)
		return;
	/* gs2-header and the bare message are the input, cut in two. */
	if (strlen(f.gs2) + strlen(f.bare) != n || memcmp(f.gs2, d, strlen(f.gs2)) != 0 ||
	    memcmp(f.bare, d + strlen(f.gs2), strlen(f.bare)) != 0 || f.user[0] == '\0' ||
	    f.cnonce[0] == '\0' || strchr(f.cnonce, ','))
		abort();
	ipc_out_init(&o, 0, 0);
	sasl_scram_first_step(&f, cb, sizeof(cb), &o);
	view(&m, &o);
	if (authmsg_scram_first(&m, &in) < 0 || strcmp(in.user, f.user) != 0 ||
	    strcmp(in.cfb, f.bare) != 0 || in.cbind != f.cbind || in.cblen != sizeof(cb))
		abort();
	ipc_out_free(&o);
	sasl_scram_first_free(&f);
}

static void fuzz_scram_final(const uint8_t *d, size_t n)
{
	struct scram_final_in in;
	struct ipc_out o;
	struct ipc_msg m;

	ipc_out_init(&o, 0, 0);
	if (sasl_scram_final_step(d, n, &o) == 0) {
		view(&m, &o);
		/* What is signed is the input up to ",p=". */
		if (authmsg_scram_final(&m, &in) < 0 || strlen(in.without_proof) + 3 >= n ||
		    memcmp(in.without_proof, d, strlen(in.without_proof)) != 0 ||
		    memcmp(d + strlen(in.without_proof), ",p=", 3) != 0 || in.proof_len == 0)
			abort();
	}
	ipc_out_free(&o);
}

static void fuzz_oauth(const uint8_t *d, size_t n)
{
	struct oauth_in in;
	struct ipc_out o;
	struct ipc_msg m;

	ipc_out_init(&o, 0, 0);
	if (sasl_oauthbearer_step(d, n, &o) == 0) {
		view(&m, &o);
		if (authmsg_oauth(&m, &in) < 0 || in.token[0] == '\0' ||
		    strspn(in.token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789-._~+/=") != strlen(in.token))
			abort();
	}
	ipc_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;

	if (!init) {
		log_set_level(LOG_LVL_ERR);
		init = 1;
	}
	fuzz_plain(data, size);
	fuzz_scram_first(data, size);
	fuzz_scram_final(data, size);
	fuzz_oauth(data, size);
	return 0;
}
