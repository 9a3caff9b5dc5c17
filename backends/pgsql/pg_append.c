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
 * exactly once.
 *
 * The search text goes into the trigram index later (pg_tidy, when the
 * worker is idle: sql/migrations/0019), not inside the APPEND. */
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
/* Messages up to this size are also kept whole while they arrive, for
 * the search text; bigger ones are parsed in passing and searched by
 * reading them (their text is not indexed). */
#define PG_KEEP_MAX (8 * 1024 * 1024)

struct appender {
	struct store *st;
	char *name;
	uint32_t flags;
	struct buf keywords;     /* text[] literal */
	time_t date;
	int tz;
	uint64_t size;           /* announced */
	uint64_t total;          /* bytes written */
	struct buf whole;        /* the message, while at most PG_KEEP_MAX */
	int whole_lost;
	struct buf pending;      /* bytes not sent to the database yet */
	int64_t upload;          /* body row of the chunks sent so far; 0: none */
	uint32_t chunks;         /* chunks sent */
	EVP_MD_CTX *sha;
	struct arena *arena;     /* the parse */
	struct mail_parser *parser;
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
	ap->arena = arena_new();
	ap->parser = mail_parser_new(ap->arena, NULL);
	*out = ap;
	return 0;
}

/* Send the first len bytes of what is pending as the next chunk (the
 * body row is made with the first). */
static int send_chunk(struct appender *ap, size_t len, struct error *err)
{
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
	pgp_i64(&p, ap->chunks);
	pgp_bytes(&p, ap->pending.data, len);
	if (pgc_call(&ap->st->db, PS_UPLOAD_CHUNK, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	ap->chunks++;
	buf_consume(&ap->pending, len);
	return 0;
}

int pg_append_write(struct appender *ap, const void *data, size_t len, struct error *err)
{
	if (ap->total + len > ap->st->max_message) {
		error_set(err, ERR_LIMIT, "Message too large");
		return -1;
	}
	ap->total += len;
	EVP_DigestUpdate(ap->sha, data, len);
	mail_parser_feed(ap->parser, data, len);
	if (!ap->whole_lost && ap->whole.len + len <= PG_KEEP_MAX) {
		buf_append(&ap->whole, data, len);
	} else if (!ap->whole_lost) {
		ap->whole_lost = 1;
		buf_free(&ap->whole);
	}
	buf_append(&ap->pending, data, len);
	/* Full chunks go now, all but the last: it may turn out to be the
	 * only one (then it travels with the final call). */
	while (ap->pending.len >= 2 * (size_t)PG_CHUNK)
		if (send_chunk(ap, PG_CHUNK, err) < 0)
			return -1;
	return 0;
}

void pg_append_abort(struct appender *ap)
{
	/* A started upload stays as a body without sha256: nobody sees it,
	 * haven.sweep() removes it. */
	EVP_MD_CTX_free(ap->sha);
	mail_parser_abandon(ap->parser);   /* it lives in the arena */
	arena_free(ap->arena);
	buf_free(&ap->whole);
	buf_free(&ap->pending);
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

/* The parse of what was fed, and the search text: from the message when
 * it was kept whole, else only what its header says (not complete, so
 * SEARCH reads such a message when a text key needs it). */
static void parse_message(struct appender *ap, struct parsed *pd)
{
	struct mail_message *m = mail_parser_finish(ap->parser);
	unsigned int shalen = 0;

	memset(pd, 0, sizeof(*pd));
	mail_structure_encode(mail_structure_from_message(ap->arena, m), &pd->structure);
	if (!ap->whole_lost) {
		m->data = ap->whole.data ? ap->whole.data : "";
		search_texts_build(m, PG_SEARCH_TEXT_MAX, &pd->texts);
	} else {
		buf_append_str(&pd->texts.text, "");
		pd->texts.complete = 0;
		pd->texts.body_start = pd->texts.addr_start = 1;
		pd->texts.sent_day = search_sent_day(m->root.hdr_data ? m->root.hdr_data : "",
						     m->root.hdr_data_len);
	}
	EVP_DigestFinal_ex(ap->sha, pd->sha, &shalen);
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
		pgp_bytes(p, ap->pending.data ? ap->pending.data : "", ap->pending.len);
	else
		pgp_str(p, NULL);
	pgp_bytes(p, pd->sha, sizeof(pd->sha));
	pgp_i64(p, (int64_t)ap->total);
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

/* The upload row was made with the size announced; a message whose size
 * was not known at the start (CATENATE: parts after the first literal)
 * gets what was written, which the final call compares. */
static int upload_resize(struct appender *ap, struct error *err)
{
	struct pgp p;
	PGresult *r;

	if (ap->upload == 0 || ap->size == ap->total)
		return 0;
	pgp_init(&p);
	pgp_i64(&p, ap->upload);
	pgp_i64(&p, (int64_t)ap->total);
	if (pgc_call(&ap->st->db, PS_UPLOAD_SIZE, &p, 0, &r, err) < 0)
		return -1;
	PQclear(r);
	ap->size = ap->total;
	return 0;
}

/* What is still pending goes as chunks too, unless the message fits in
 * the final call. */
static int flush_chunks(struct appender *ap, struct error *err)
{
	if (ap->upload || ap->pending.len > PG_CHUNK) {
		while (ap->pending.len > 0)
			if (send_chunk(ap, ap->pending.len < PG_CHUNK ? ap->pending.len : PG_CHUNK,
				       err) < 0)
				return -1;
	}
	return upload_resize(ap, err);
}

/* The final call: haven.append (import_uid 0), or haven.import_message
 * with the message's own UID (inside the import's transaction, so a lost
 * connection is a failure, never a question). */
static int finish_with(struct appender *ap, uint32_t import_uid, uint32_t *uidvalidity,
		       uint32_t *uid, struct error *err)
{
	struct parsed pd;
	struct pgp p;
	PGresult *r;
	char token[40];
	int rc = -1;

	make_token(token, sizeof(token));
	if (flush_chunks(ap, err) < 0)
		goto out;
	parse_message(ap, &pd);
	append_params(ap, &pd, import_uid ? NULL : token, ap->upload == 0, &p);
	if (import_uid) {
		pgp_i64(&p, import_uid);
		if (pgc_exec(&ap->st->db, PS_IMPORT_MESSAGE, &p, 0, &r, err) == 0) {
			PQclear(r);
			rc = 0;
		}
	} else if (pgc_call(&ap->st->db, PS_APPEND, &p, 0, &r, err) == 0) {
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
	ap->st->texts_pending |= rc == 0;
out:
	if (rc < 0 && ap->upload && !import_uid)
		drop_upload(ap);
	pg_append_abort(ap);
	return rc;
}

int pg_append_finish(struct appender *ap, uint32_t *uidvalidity, uint32_t *uid,
		     struct error *err)
{
	return finish_with(ap, 0, uidvalidity, uid, err);
}

int pg_append_finish_import(struct appender *ap, uint32_t uid, struct error *err)
{
	return finish_with(ap, uid, NULL, NULL, err);
}

/* ---- MULTIAPPEND: one transaction ------------------------------------- */

/* One message of a group, ready for its haven.append. */
struct group_msg {
	struct parsed pd;
	char token[40];
};

/* Every haven.append of the group in one transaction; uids filled. */
static int group_txn(struct appender *const *aps, size_t n, struct group_msg *g,
		     uint32_t *uidvalidity, uint32_t *uids, struct error *err)
{
	static const char lost[] = "The connection to the store was lost; nothing was stored";
	struct store *st = aps[0]->st;
	struct error e2;

	if (pg_txn_run(st, "BEGIN", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct pgp p;
		PGresult *r;
		append_params(aps[i], &g[i].pd, g[i].token, aps[i]->upload == 0, &p);
		if (pg_txn_check(st, lost, err) < 0 ||
		    pgc_exec(&st->db, PS_APPEND, &p, 0, &r, err) < 0)
			goto rollback;
		*uidvalidity = (uint32_t)pg_i64(r, 0, 0);
		uids[i] = (uint32_t)pg_i64(r, 0, 1);
		PQclear(r);
		if (i == 0 && n > 1)
			backend_test_stop("multiappend");
	}
	if (pg_txn_check(st, lost, err) < 0)
		goto rollback;
	if (pg_txn_run(st, "COMMIT", err) == 0)
		return 0;
	/* A COMMIT whose answer was lost: the first token says. */
	if (st->db.ambiguous) {
		uint32_t v, u;
		if (committed(aps[0], g[0].token, &v, &u) == 1 && u == uids[0])
			return 0;
	}
	return -1;
rollback:
	if (st->db.conn != NULL && PQtransactionStatus(st->db.conn) != PQTRANS_IDLE)
		pg_txn_run(st, "ROLLBACK", &e2);
	return -1;
}

/* The transaction again while it lost to a concurrent one (serialization
 * failure, deadlock): the client never sees those. */
static int group_store(struct appender *const *aps, size_t n, struct group_msg *g,
		       uint32_t *uidvalidity, uint32_t *uids, struct error *err)
{
	int rc = -1;

	for (int i = 0; i < 3; i++) {
		rc = group_txn(aps, n, g, uidvalidity, uids, err);
		if (rc == 0 || !aps[0]->st->db.retry)
			break;
	}
	return rc;
}

int pg_append_finish_group(struct appender *const *aps, size_t n, uint32_t *uidvalidity,
			   uint32_t *uids, struct error *err)
{
	struct group_msg *g = xcalloc(n, sizeof(*g));
	size_t parsed = 0;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		if (flush_chunks(aps[i], err) < 0)
			goto out;
	for (; parsed < n; parsed++) {
		make_token(g[parsed].token, sizeof(g[parsed].token));
		parse_message(aps[parsed], &g[parsed].pd);
	}
	rc = group_store(aps, n, g, uidvalidity, uids, err);
	aps[0]->st->texts_pending |= rc == 0;
out:
	for (size_t i = 0; i < n; i++) {
		if (i < parsed) {
			buf_free(&g[i].pd.structure);
			buf_free(&g[i].pd.texts.text);
		}
		if (rc < 0 && aps[i]->upload)
			drop_upload(aps[i]);
		pg_append_abort(aps[i]);
	}
	free(g);
	return rc;
}

/* ---- the trigram index, after the APPEND ------------------------------- */

/* Bodies put into the index per call: about a millisecond each, so a
 * command that arrives meanwhile waits a few tens of ms at most. */
#define PG_TIDY_BATCH 32

int pg_index_texts(struct store *st, int batch, struct error *err)
{
	struct pgp p;
	PGresult *r;
	int64_t n;

	/* nothing this worker stored, or inside another operation's
	 * transaction (an import's) */
	if (!st->texts_pending ||
	    (st->db.conn != NULL && PQtransactionStatus(st->db.conn) != PQTRANS_IDLE))
		return 0;
	pgp_init(&p);
	pgp_i64(&p, batch);
	if (pgc_call(&st->db, PS_INDEX_TEXTS, &p, 0, &r, err) < 0)
		return -1;
	n = pg_i64(r, 0, 0);
	PQclear(r);
	st->texts_pending = n == batch;
	return st->texts_pending;
}

int pg_tidy(struct store *st, struct error *err)
{
	return pg_index_texts(st, PG_TIDY_BATCH, err);
}

/* ---- transactions (MULTIAPPEND, import) -------------------------------- */

int pg_txn_check(struct store *st, const char *lost, struct error *err)
{
	if (st->db.conn != NULL && PQtransactionStatus(st->db.conn) == PQTRANS_INTRANS)
		return 0;
	error_set(err, ERR_UNAVAILABLE, "%s", lost);
	return -1;
}

int pg_txn_run(struct store *st, const char *sql, struct error *err)
{
	PGresult *r;

	if (pgc_exec_text(&st->db, sql, 0, NULL, &r, err) < 0)
		return -1;
	PQclear(r);
	return 0;
}
