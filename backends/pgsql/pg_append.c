/* APPEND into PostgreSQL.
 *
 * Bytes go to the database as they arrive, in 256 KiB chunks of a body
 * row that belongs to no message yet (no sha256: haven.sweep() removes one
 * whose session died). A message that fits one chunk travels with the
 * final call instead. The final call (haven.append) is one transaction:
 * quota, the mailbox row lock, UID and MODSEQ, deduplication by SHA-256,
 * the message row; what was parsed here once (structure, search text,
 * sent date) is stored with the body, so nothing is ever parsed again.
 *
 * A connection lost while the final call was on its way leaves it unknown
 * whether it committed: every append carries a random token, and the
 * answer is looked up by it once the database is back, so an APPEND that
 * the client saw fail was not stored, and one it saw succeed is stored
 * exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "../../lib/buf.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "../../mail/keyword.h"
#include "../../mail/message.h"
#include "../../mail/search.h"
#include "../../mail/structure.h"
#include "pgsql.h"

/* Search text kept per message; beyond it, SEARCH reads the message. */
#define PG_SEARCH_TEXT_MAX (2 * 1024 * 1024)

struct appender {
	struct store *st;
	char *name;
	uint32_t flags;
	struct buf keywords;     /* text[] literal */
	time_t date;
	int tz;
	uint64_t size;           /* announced */
	struct buf msg;          /* the message, for the parse at the end */
	int64_t upload;          /* body row of the chunks sent so far; 0: none */
	uint32_t chunks;         /* chunks sent */
	EVP_MD_CTX *sha;
};

int pg_append_begin(struct store *st, const char *name, uint64_t size, uint32_t flags,
		    const char *const *keywords, size_t nkeywords, time_t internaldate,
		    int tz_minutes, struct appender **out, struct error *err)
{
	struct appender *ap;

	if (size > st->max_message) {
		error_set(err, ERR_LIMIT, "Message too large");
		return -1;
	}
	for (size_t i = 0; i < nkeywords; i++) {
		if (!mail_keyword_valid(keywords[i], strlen(keywords[i]))) {
			error_set(err, ERR_CANNOT, "Invalid keyword");
			return -1;
		}
	}
	ap = xcalloc(1, sizeof(*ap));
	ap->st = st;
	ap->name = xstrdup(name);
	ap->flags = flags & MF_ALL;
	pg_text_array(&ap->keywords, keywords, nkeywords);
	ap->date = internaldate;
	ap->tz = tz_minutes;
	ap->size = size;
	ap->sha = EVP_MD_CTX_new();
	if (ap->sha == NULL || EVP_DigestInit_ex(ap->sha, EVP_sha256(), NULL) != 1)
		fatal("pgsql: SHA-256 unavailable");
	/* Room for all of it at once: growing by doubling would hold two
	 * copies while it moves. */
	buf_reserve(&ap->msg, (size_t)size);
	*out = ap;
	return 0;
}

/* Send chunk k of the message (the body row is made with the first). */
static int send_chunk(struct appender *ap, uint32_t k, struct error *err)
{
	size_t off = (size_t)k * PG_CHUNK;
	size_t len = ap->msg.len - off < PG_CHUNK ? ap->msg.len - off : PG_CHUNK;
	struct pgp p;
	PGresult *r;

	if (ap->upload == 0) {
		pgp_init(&p);
		pgp_i64(&p, (int64_t)ap->size);
		if (pgc_call(&ap->st->db, PS_UPLOAD_BEGIN, &p, 0, &r, err) < 0)
			return -1;
		ap->upload = pg_i64(r, 0, 0);
		PQclear(r);
	}
	pgp_init(&p);
	pgp_i64(&p, ap->upload);
	pgp_i64(&p, k);
	pgp_bytes(&p, ap->msg.data + off, len);
	if (pgc_call(&ap->st->db, PS_UPLOAD_CHUNK, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	ap->chunks = k + 1;
	return 0;
}

int pg_append_write(struct appender *ap, const void *data, size_t len, struct error *err)
{
	if (ap->msg.len + len > ap->st->max_message) {
		error_set(err, ERR_LIMIT, "Message too large");
		return -1;
	}
	buf_append(&ap->msg, data, len);
	EVP_DigestUpdate(ap->sha, data, len);
	/* Full chunks go now, all but the last: it may turn out to be the
	 * only one (then it travels with the final call). */
	while (ap->msg.len >= (size_t)(ap->chunks + 2) * PG_CHUNK)
		if (send_chunk(ap, ap->chunks, err) < 0)
			return -1;
	return 0;
}

void pg_append_abort(struct appender *ap)
{
	/* A started upload stays as a body without sha256: nobody sees it,
	 * haven.sweep() removes it. */
	EVP_MD_CTX_free(ap->sha);
	buf_free(&ap->msg);
	buf_free(&ap->keywords);
	free(ap->name);
	free(ap);
}

/* A failed append's chunks go at once rather than at the next sweep. */
static void drop_upload(struct appender *ap)
{
	struct pgp p;
	PGresult *r;
	struct error e;
	pgp_init(&p);
	pgp_i64(&p, ap->upload);
	if (pgc_exec(&ap->st->db, PS_UPLOAD_DROP, &p, 0, &r, &e) == 0)
		PQclear(r);
}

static void make_token(char *out, size_t outlen)
{
	unsigned char r[16];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		fatal("getrandom failed");
	r[6] = (r[6] & 0x0f) | 0x40;
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

/* What is stored with the body: parsed here, once. */
struct parsed {
	struct buf structure;
	struct search_texts texts;
	unsigned char sha[32];
};

static void parse_message(struct appender *ap, struct parsed *pd)
{
	struct mail_limits lim = MAIL_LIMITS_DEFAULT;
	struct arena *a = arena_new();
	struct mail_message *m = mail_parse(a, ap->msg.data ? ap->msg.data : "", ap->msg.len, &lim);
	unsigned int shalen = 0;

	memset(pd, 0, sizeof(*pd));
	mail_structure_encode(mail_structure_from_message(a, m), &pd->structure);
	search_texts_build(m, PG_SEARCH_TEXT_MAX, &pd->texts);
	EVP_DigestFinal_ex(ap->sha, pd->sha, &shalen);
	arena_free(a);
}

static void append_params(struct appender *ap, const struct parsed *pd, const char *token,
			  int with_data, struct pgp *p)
{
	pgp_init(p);
	pgp_i64(p, ap->st->user_id);
	pgp_str(p, ap->name);
	pgp_str(p, token);
	if (ap->upload)
		pgp_i64(p, ap->upload);
	else
		pgp_str(p, NULL);
	if (with_data)
		pgp_bytes(p, ap->msg.data ? ap->msg.data : "", ap->msg.len);
	else
		pgp_str(p, NULL);
	pgp_bytes(p, pd->sha, sizeof(pd->sha));
	pgp_i64(p, (int64_t)ap->msg.len);
	pgp_bytes(p, pd->structure.data, pd->structure.len);
	pgp_str(p, pd->texts.text.data ? pd->texts.text.data : "");
	pgp_bool(p, pd->texts.complete);
	pgp_i64(p, (int64_t)pd->texts.body_start);
	pgp_i64(p, (int64_t)pd->texts.addr_start);
	if (pd->texts.sent_day == INT64_MIN)
		pgp_str(p, NULL);
	else
		pgp_i64(p, pd->texts.sent_day);
	pgp_i64(p, ap->flags);
	pgp_array(p, ap->keywords.data);
	pgp_i64(p, (int64_t)ap->date);
	pgp_i64(p, ap->tz);
}

/* The final call failed on a lost connection: did it commit? 1 yes (uid
 * filled), 0 no, -1 unknown (still unreachable). */
static int committed(struct appender *ap, const char *token, uint32_t *uidvalidity,
		     uint32_t *uid)
{
	struct pgp p;
	PGresult *r;
	struct error e;
	int found;

	pgp_init(&p);
	pgp_str(&p, token);
	if (pgc_call(&ap->st->db, PS_APPEND_LOOKUP, &p, 0, &r, &e) < 0)
		return -1;
	found = PQntuples(r) == 1;
	if (found) {
		*uidvalidity = (uint32_t)pg_i64(r, 0, 0);
		*uid = (uint32_t)pg_i64(r, 0, 1);
	}
	PQclear(r);
	return found;
}

int pg_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
		     struct error *err)
{
	struct parsed pd;
	struct pgp p;
	PGresult *r;
	char token[40];
	int rc = -1;

	make_token(token, sizeof(token));
	if (ap->upload || ap->msg.len > PG_CHUNK) {
		while ((size_t)ap->chunks * PG_CHUNK < ap->msg.len)
			if (send_chunk(ap, ap->chunks, err) < 0)
				goto out;
	}
	parse_message(ap, &pd);
	append_params(ap, &pd, token, ap->upload == 0, &p);
	if (pgc_call(&ap->st->db, PS_APPEND, &p, 0, &r, err) == 0) {
		*uidvalidity = (uint32_t)pg_i64(r, 0, 0);
		*uid = (uint32_t)pg_i64(r, 0, 1);
		PQclear(r);
		rc = 0;
	} else if (ap->st->db.ambiguous && committed(ap, token, uidvalidity, uid) == 1) {
		log_info("pgsql: append to %s committed before the connection was lost", ap->name);
		rc = 0;
	}
	buf_free(&pd.structure);
	buf_free(&pd.texts.text);
out:
	if (rc < 0 && ap->upload)
		drop_upload(ap);
	pg_append_abort(ap);
	return rc;
}
