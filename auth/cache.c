#include "cache.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"

/* Entries at most (a power of two): about 2.6 KiB each when used. */
#define CACHE_SLOTS 4096

struct entry {
	unsigned db;
	char user[256];
	unsigned char mac[32];
	int any_password;          /* PDB_UNKNOWN: whatever the password */
	enum passdb_result res;
	struct passdb_record rec;
	time_t expires;
};

static struct entry *slots[CACHE_SLOTS];
static unsigned char key[32];
static int keyed;
static long ttl, neg_ttl;

static void password_mac(unsigned db, const char *user, const char *password,
			 unsigned char out[32])
{
	unsigned int len = 32;
	struct buf in = BUF_INIT;

	buf_reserve(&in, sizeof(db) + strlen(user) + strlen(password) + 2);
	buf_append(&in, &db, sizeof(db));
	buf_append(&in, user, strlen(user) + 1);
	buf_append_str(&in, password);
	HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)in.data, in.len, out, &len);
	buf_free_secret(&in);
}

static unsigned slot_of(unsigned db, const char *user)
{
	uint32_t h = 2166136261u ^ db;
	for (const unsigned char *p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h & (CACHE_SLOTS - 1);
}

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	explicit_bzero(e, sizeof(*e));
	free(e);
}

void cache_clear(void)
{
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		entry_free(slots[i]);
		slots[i] = NULL;
	}
}

void cache_configure(long t, long negative_t)
{
	if (!keyed && RAND_bytes(key, sizeof(key)) != 1)
		fatal("cache: no random bytes for the key");
	keyed = 1;
	ttl = t;
	neg_ttl = negative_t;
	cache_clear();
}

/* The live entry of (db, user), or NULL. */
static struct entry *entry_find(unsigned db, const char *user)
{
	struct entry *e = slots[slot_of(db, user)];

	if (e == NULL || e->db != db || strcmp(e->user, user) != 0)
		return NULL;
	if (e->expires <= time(NULL))
		return NULL;
	return e;
}

enum cache_hit cache_get(unsigned db, const char *user, const char *password,
			 struct passdb_record *rec, enum passdb_result *res)
{
	struct entry *e = entry_find(db, user);
	unsigned char mac[32];

	if (e == NULL)
		return CACHE_MISS;
	if (!e->any_password) {
		password_mac(db, user, password, mac);
		if (CRYPTO_memcmp(mac, e->mac, sizeof(mac)) != 0)
			return CACHE_MISS;
	}
	*res = e->res;
	if (e->res != PDB_OK)
		return CACHE_FAIL;
	*rec = e->rec;
	return CACHE_OK;
}

void cache_put(unsigned db, const char *user, const char *password, enum passdb_result res,
	       const struct passdb_record *rec, int negative)
{
	unsigned s = slot_of(db, user);
	long t = res == PDB_OK ? ttl : negative ? neg_ttl : 0;
	struct entry *e;

	if (res != PDB_OK && res != PDB_MISMATCH && res != PDB_UNKNOWN)
		return;
	if (t <= 0 || strlen(user) >= sizeof(e->user))
		return;
	/* A refusal does not push out a success of the same user: one
	 * wrong guess must not cost the real user the cache. */
	if (res != PDB_OK && entry_find(db, user) && entry_find(db, user)->res == PDB_OK)
		return;
	e = xcalloc(1, sizeof(*e));
	e->db = db;
	memcpy(e->user, user, strlen(user) + 1);
	e->any_password = res == PDB_UNKNOWN;
	password_mac(db, user, password, e->mac);
	e->res = res;
	if (rec)
		e->rec = *rec;
	e->expires = time(NULL) + t;
	entry_free(slots[s]);
	slots[s] = e;
}
