#include "sasl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/base64.h"
#include "../lib/buf.h"
#include "../lib/xmalloc.h"

/* ---- PLAIN, LOGIN ----------------------------------------------------------- */

int sasl_plain_step(const unsigned char *raw, size_t len, struct ipc_out *step)
{
	const unsigned char *nul1 = memchr(raw, '\0', len), *nul2;
	size_t zlen, clen, plen;

	if (nul1 == NULL)
		return -1;
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - raw));
	if (nul2 == NULL)
		return -1;
	zlen = (size_t)(nul1 - raw);
	clen = (size_t)(nul2 - nul1 - 1);
	plen = len - (size_t)(nul2 + 1 - raw);
	/* A third NUL would be a NUL inside the password. */
	if (clen == 0 || clen > SASL_NAME_MAX || zlen > SASL_NAME_MAX ||
	    memchr(nul2 + 1, '\0', plen))
		return -1;
	char *z = xstrndup((const char *)raw, zlen), *c = xstrndup((const char *)nul1 + 1, clen);
	char *p = xstrndup((const char *)nul2 + 1, plen);
	ipc_put_str(step, z);
	ipc_put_str(step, c);
	ipc_put_str(step, p);
	explicit_bzero(p, plen);
	free(z);
	free(c);
	free(p);
	return 0;
}

int sasl_login_step(const unsigned char *user, size_t ulen, const unsigned char *pass,
		    size_t plen, struct ipc_out *step)
{
	if (ulen == 0 || ulen > SASL_NAME_MAX || memchr(user, '\0', ulen) || memchr(pass, '\0', plen))
		return -1;
	char *u = xstrndup((const char *)user, ulen), *p = xstrndup((const char *)pass, plen);
	ipc_put_str(step, "");
	ipc_put_str(step, u);
	ipc_put_str(step, p);
	explicit_bzero(p, plen);
	free(u);
	free(p);
	return 0;
}

/* ---- SCRAM -------------------------------------------------------------------- */

/* The message as a C string: -1 when it holds a NUL (never valid). */
static char *text_of(const unsigned char *raw, size_t len)
{
	if (memchr(raw, '\0', len))
		return NULL;
	return xstrndup((const char *)raw, len);
}

/* saslname up to ',' or the end: "=2C" is ',', "=3D" is '='. Returns the
 * end of the field, or NULL when it is empty, too long or malformed. */
static const char *saslname(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (; *p && *p != ','; p++) {
		char c = *p;
		if (c == '=') {
			if (strncmp(p, "=2C", 3) == 0)
				c = ',';
			else if (strncmp(p, "=3D", 3) == 0)
				c = '=';
			else
				return NULL;
			p += 2;
		}
		if (n + 1 >= cap)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? p : NULL;
}

/* gs2-cbind-flag "," [authzid] ",": returns what follows, or NULL. */
static const char *gs2_parse(const char *p, uint32_t *cbind, char *cbname, char *authzid)
{
	if (p[0] == 'n' || p[0] == 'y') {
		*cbind = p[0] == 'n' ? SASL_CB_NONE : SASL_CB_NOT_OFFERED;
		p++;
	} else if (strncmp(p, "p=", 2) == 0) {
		size_t n = strspn(p + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789.-");
		if (n == 0 || n > SASL_CBNAME_MAX)
			return NULL;
		memcpy(cbname, p + 2, n);
		cbname[n] = '\0';
		*cbind = SASL_CB_USED;
		p += 2 + n;
	} else {
		return NULL;
	}
	if (*p++ != ',')
		return NULL;
	authzid[0] = '\0';
	if (strncmp(p, "a=", 2) == 0 && (p = saslname(p + 2, authzid, SASL_NAME_MAX + 1)) == NULL)
		return NULL;
	return *p == ',' ? p + 1 : NULL;
}

/* RFC 5802's printable, but ',': 1..SASL_NONCE_MAX of them up to ',' or
 * the end. Returns the end, or NULL. */
static const char *nonce_field(const char *p, char *out)
{
	size_t n = 0;

	for (; *p && *p != ','; p++) {
		if (*p < 0x21 || *p > 0x7e || n == SASL_NONCE_MAX)
			return NULL;
		out[n++] = *p;
	}
	out[n] = '\0';
	return n ? p : NULL;
}

int sasl_scram_first_parse(const unsigned char *raw, size_t len, struct sasl_scram_first *f)
{
	char *text = text_of(raw, len);
	const char *p, *bare;

	memset(f, 0, sizeof(*f));
	if (text == NULL)
		return -1;
	if ((bare = gs2_parse(text, &f->cbind, f->cbname, f->authzid)) == NULL)
		goto bad;
	/* "m=": a mandatory extension we do not know. */
	if (strncmp(bare, "n=", 2) != 0 || (p = saslname(bare + 2, f->user, sizeof(f->user))) == NULL)
		goto bad;
	if (strncmp(p, ",r=", 3) != 0 || (p = nonce_field(p + 3, f->cnonce)) == NULL)
		goto bad;
	if (*p && (p[1] < 'a' || p[1] > 'z' || p[2] != '='))
		goto bad;  /* an extension is attr=value */
	f->gs2 = xstrndup(text, (size_t)(bare - text));
	f->bare = xstrdup(bare);
	free(text);
	return 0;
bad:
	free(text);
	return -1;
}

void sasl_scram_first_step(const struct sasl_scram_first *f, const unsigned char *cb,
			   size_t cblen, struct ipc_out *step)
{
	ipc_put_str(step, f->authzid);
	ipc_put_str(step, f->user);
	ipc_put_str(step, f->cnonce);
	ipc_put_str(step, f->bare);
	ipc_put_str(step, f->gs2);
	ipc_put_u32(step, f->cbind);
	ipc_put_str(step, f->cbname);
	ipc_put_bytes(step, cb, cblen);
}

void sasl_scram_first_free(struct sasl_scram_first *f)
{
	free(f->gs2);
	free(f->bare);
	memset(f, 0, sizeof(*f));
}

/* "x=" base64 up to ',' or the end, decoded into out: the field's end or
 * NULL. */
static const char *b64_field(const char *p, char key, struct buf *out)
{
	size_t n;

	if (p[0] != key || p[1] != '=')
		return NULL;
	n = strcspn(p + 2, ",");
	if (n == 0 || base64_decode(p + 2, n, out) < 0)
		return NULL;
	return p + 2 + n;
}

int sasl_scram_final_step(const unsigned char *raw, size_t len, struct ipc_out *step)
{
	char *text = text_of(raw, len), nonce[SASL_NONCE_MAX + 1], *proof_at;
	struct buf cb = BUF_INIT, proof = BUF_INIT;
	const char *p;
	int r = -1;

	if (text == NULL)
		return -1;
	/* The proof is the last attribute; what precedes it is signed. */
	proof_at = strstr(text, ",p=");
	while (proof_at && strstr(proof_at + 1, ",p="))
		proof_at = strstr(proof_at + 1, ",p=");
	if (proof_at == NULL || (p = b64_field(text, 'c', &cb)) == NULL ||
	    strncmp(p, ",r=", 3) != 0 || (p = nonce_field(p + 3, nonce)) == NULL ||
	    p > proof_at || b64_field(proof_at + 1, 'p', &proof) == NULL ||
	    strchr(proof_at + 3, ',') != NULL)
		goto out;
	*proof_at = '\0';
	ipc_put_bytes(step, cb.data, cb.len);
	ipc_put_str(step, nonce);
	ipc_put_bytes(step, proof.data, proof.len);
	ipc_put_str(step, text);
	r = 0;
out:
	buf_free(&cb);
	buf_free(&proof);
	free(text);
	return r;
}

/* ---- OAUTHBEARER ------------------------------------------------------------- */

/* RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int b64token_ok(const char *t)
{
	size_t n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			     "0123456789-._~+/");
	return n > 0 && t[n + strspn(t + n, "=")] == '\0';
}

/* The auth=Bearer value among the \x01-separated pairs: a pointer into
 * pairs, or NULL. Each pair is key=value with key of letters. */
static const char *bearer_of(char *pairs)
{
	const char *token = NULL;
	char *save = NULL;

	for (char *kv = strtok_r(pairs, "\x01", &save); kv; kv = strtok_r(NULL, "\x01", &save)) {
		size_t k = strspn(kv, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
		if (k == 0 || kv[k] != '=')
			return NULL;
		if (k == 4 && strncmp(kv, "auth", 4) == 0) {
			if (token || strncasecmp(kv + 5, "Bearer ", 7) != 0)
				return NULL;
			token = kv + 12 + strspn(kv + 12, " ");
		}
	}
	return token && b64token_ok(token) ? token : NULL;
}

int sasl_oauthbearer_step(const unsigned char *raw, size_t len, struct ipc_out *step)
{
	char *text = text_of(raw, len), cbname[SASL_CBNAME_MAX + 1], authzid[SASL_NAME_MAX + 1];
	const char *rest, *token;
	uint32_t cbind;
	size_t rlen;
	int r = -1;

	if (text == NULL)
		return -1;
	rest = gs2_parse(text, &cbind, cbname, authzid);
	/* No channel binding here; then \x01, pairs each ending in \x01,
	 * and one more \x01. */
	if (rest == NULL || cbind == SASL_CB_USED || rest[0] != '\x01' ||
	    (rlen = strlen(rest)) < 3 || rest[rlen - 1] != '\x01' || rest[rlen - 2] != '\x01')
		goto out;
	text[(size_t)(rest - text) + rlen - 2] = '\0';
	if ((token = bearer_of(text + (rest - text) + 1)) == NULL)
		goto out;
	ipc_put_str(step, authzid);
	ipc_put_str(step, token);
	r = 0;
out:
	explicit_bzero(text, len);
	free(text);
	return r;
}
