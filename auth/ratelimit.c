#include "ratelimit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

/* Keys are kept (and compared) up to 63 bytes: longer keys that share
 * that prefix count as one, which only errs towards blocking. */
struct rl_slot {
	char key[64];
	time_t start;
	unsigned count;
};

struct ratelimit {
	struct rl_slot *slots;
	unsigned n, max, window;
};

struct ratelimit *ratelimit_new(unsigned slots, unsigned max_failures, unsigned window)
{
	struct ratelimit *r = xcalloc(1, sizeof(*r));
	r->slots = xcalloc(slots, sizeof(*r->slots));
	r->n = slots;
	r->max = max_failures;
	r->window = window;
	return r;
}

void ratelimit_free(struct ratelimit *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

static struct rl_slot *slot_for(struct ratelimit *r, const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &r->slots[h % r->n];
}

void ratelimit_fail(struct ratelimit *r, const char *key, time_t now)
{
	struct rl_slot *s = slot_for(r, key);
	/* A collision or an expired window starts the slot afresh. */
	if (strncmp(s->key, key, sizeof(s->key) - 1) != 0 || now - s->start >= (time_t)r->window) {
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->start = now;
		s->count = 0;
	}
	s->count++;
}

int ratelimit_blocked(struct ratelimit *r, const char *key, time_t now)
{
	struct rl_slot *s = slot_for(r, key);
	return strncmp(s->key, key, sizeof(s->key) - 1) == 0 && now - s->start < (time_t)r->window &&
	       s->count >= r->max;
}
