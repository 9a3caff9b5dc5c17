#include "ratelimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../lib/hash64.h"
#include "../lib/xmalloc.h"

/* A key is known by a 64-bit hash under a secret seed: no stored string
 * to truncate, and no collisions an attacker could aim for. */
struct rl_slot {
	uint64_t key;           /* 0: free */
	time_t start;           /* first failure of the current window */
	time_t until;           /* blocked before this time */
	unsigned count;
};

struct ratelimit {
	struct rl_slot *slots;
	unsigned mask;
	uint64_t seed;
	struct rl_policy pol;
};

/* Slots searched for a key; the one to reuse is found among them. */
#define RL_PROBES 8

enum rl_kind { K_NET = 'n', K_USER_NET = 'p', K_USER = 'u' };

struct ratelimit *ratelimit_new(unsigned slots, const struct rl_policy *p)
{
	struct ratelimit *r = xcalloc(1, sizeof(*r));
	unsigned n = 1;

	while (n < slots && n < (1u << 24))
		n <<= 1;
	r->slots = xcalloc(n, sizeof(*r->slots));
	r->mask = n - 1;
	if (getrandom(&r->seed, sizeof(r->seed), 0) != (ssize_t)sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r ^ (uint64_t)time(NULL);
	r->pol = *p;
	return r;
}

void ratelimit_set_policy(struct ratelimit *r, const struct rl_policy *p)
{
	r->pol = *p;
}

void ratelimit_free(struct ratelimit *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

static uint64_t key_of(const struct ratelimit *r, enum rl_kind kind, const char *user,
		       const char *net)
{
	struct hash64_state h;
	unsigned char k = (unsigned char)kind;

	hash64_init(&h, r->seed);
	hash64_update(&h, &k, 1);
	/* NUL-terminated parts: "ab"+"c" and "a"+"bc" differ. */
	if (user)
		hash64_update(&h, user, strlen(user) + 1);
	if (net)
		hash64_update(&h, net, strlen(net) + 1);
	uint64_t v = hash64_final(&h);
	return v ? v : 1;
}

static int slot_live(const struct ratelimit *r, const struct rl_slot *s, time_t now)
{
	return s->key && (now - s->start < (time_t)r->pol.window || now < s->until);
}

/* The slot of key, or NULL. */
static struct rl_slot *slot_find(struct ratelimit *r, uint64_t key, time_t now)
{
	for (unsigned i = 0; i < RL_PROBES; i++) {
		struct rl_slot *s = &r->slots[(key + i) & r->mask];
		if (s->key == key)
			return slot_live(r, s, now) ? s : NULL;
	}
	return NULL;
}

/* Whether a is a better slot to give up than b: one that blocks nothing
 * before one that does; then the older window, or the block that ends
 * first. */
static int slot_cheaper(const struct rl_slot *a, const struct rl_slot *b, time_t now)
{
	int ablk = a->until > now, bblk = b->until > now;

	if (ablk != bblk)
		return !ablk;
	return ablk ? a->until < b->until : a->start < b->start;
}

/* A slot for a new key: a free or expired one, else the cheapest. */
static struct rl_slot *slot_take(struct ratelimit *r, uint64_t key, time_t now)
{
	struct rl_slot *best = NULL;

	for (unsigned i = 0; i < RL_PROBES; i++) {
		struct rl_slot *s = &r->slots[(key + i) & r->mask];
		if (s->key == key || !slot_live(r, s, now)) {
			best = s;
			break;
		}
		if (best == NULL || slot_cheaper(s, best, now))
			best = s;
	}
	memset(best, 0, sizeof(*best));
	best->key = key;
	best->start = now;
	return best;
}

/* One more failure under key; 1 when it reached max (0: no block). */
static int count(struct ratelimit *r, uint64_t key, unsigned max, time_t now, unsigned *n)
{
	struct rl_slot *s = slot_find(r, key, now);

	if (s == NULL)
		s = slot_take(r, key, now);
	else if (now - s->start >= (time_t)r->pol.window && now >= s->until) {
		s->start = now;
		s->count = 0;
	}
	s->count++;
	if (s->count > *n)
		*n = s->count;
	if (max == 0 || s->count < max || now < s->until)
		return 0;
	s->until = now + (time_t)r->pol.block_time;
	return 1;
}

unsigned ratelimit_fail(struct ratelimit *r, const char *net, const char *user, int trusted,
			time_t now, enum rl_block *blocked)
{
	unsigned n = 0;

	*blocked = RL_NONE;
	if (!trusted && count(r, key_of(r, K_NET, NULL, net), r->pol.ip_max, now, &n))
		*blocked = RL_NET;
	if (count(r, key_of(r, K_USER_NET, user, net), r->pol.user_ip_max, now, &n) &&
	    *blocked == RL_NONE)
		*blocked = RL_USER_NET;
	count(r, key_of(r, K_USER, user, NULL), 0, now, &n);
	return n;
}

static time_t blocked_until(struct ratelimit *r, uint64_t key, time_t now)
{
	struct rl_slot *s = slot_find(r, key, now);
	return s && now < s->until ? s->until : 0;
}

enum rl_block ratelimit_blocked(struct ratelimit *r, const char *net, const char *user,
				int trusted, time_t now, time_t *until)
{
	if (!trusted && (*until = blocked_until(r, key_of(r, K_NET, NULL, net), now)) != 0)
		return RL_NET;
	if ((*until = blocked_until(r, key_of(r, K_USER_NET, user, net), now)) != 0)
		return RL_USER_NET;
	return RL_NONE;
}
