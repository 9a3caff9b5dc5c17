/* An open-addressing table of UIDs (0 marks a free slot: no message has
 * UID 0) to their keys, whose strings live in the cache's own arena. */
#include "sort_cache.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

struct sort_slot {
	uint32_t uid;
	struct mail_sort_keys k;
};

struct sort_cache {
	struct arena *a;
	struct sort_slot *slots;
	size_t cap, n;          /* cap: a power of two, at least twice n */
};

struct sort_cache *sort_cache_new(void)
{
	struct sort_cache *c = xcalloc(1, sizeof(*c));

	c->a = arena_new();
	return c;
}

void sort_cache_free(struct sort_cache *c)
{
	if (c == NULL)
		return;
	arena_free(c->a);
	free(c->slots);
	free(c);
}

static size_t slot_of(const struct sort_cache *c, uint32_t uid)
{
	size_t i = (uid * 2654435761u) & (c->cap - 1);

	while (c->slots[i].uid != 0 && c->slots[i].uid != uid)
		i = (i + 1) & (c->cap - 1);
	return i;
}

const struct mail_sort_keys *sort_cache_get(const struct sort_cache *c, uint32_t uid)
{
	size_t i;

	if (c->cap == 0)
		return NULL;
	i = slot_of(c, uid);
	return c->slots[i].uid == uid ? &c->slots[i].k : NULL;
}

static void grow(struct sort_cache *c)
{
	struct sort_slot *old = c->slots;
	size_t oldcap = c->cap;

	c->cap = oldcap ? oldcap * 2 : 1024;
	c->slots = xcalloc(c->cap, sizeof(*c->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].uid != 0)
			c->slots[slot_of(c, old[i].uid)] = old[i];
	free(old);
}

static const char *keep(struct sort_cache *c, const char *s)
{
	return s[0] ? arena_strdup(c->a, s) : "";
}

void sort_cache_put(struct sort_cache *c, uint32_t uid, const struct mail_sort_keys *k)
{
	struct sort_slot *sl;

	if (arena_used(c->a) + c->cap * sizeof(*c->slots) > SORT_CACHE_MAX)
		return;
	if (2 * (c->n + 1) > c->cap)
		grow(c);
	sl = &c->slots[slot_of(c, uid)];
	sl->uid = uid;
	sl->k = *k;
	sl->k.subject = keep(c, k->subject);
	sl->k.from = keep(c, k->from);
	sl->k.to = keep(c, k->to);
	sl->k.cc = keep(c, k->cc);
	sl->k.dfrom = keep(c, k->dfrom);
	sl->k.dto = keep(c, k->dto);
	sl->k.msgid = keep(c, k->msgid);
	sl->k.inreplyto = keep(c, k->inreplyto);
	sl->k.references = k->references_len ? arena_strndup(c->a, k->references,
							     k->references_len) : "";
	c->n++;
}
