/* SORT and THREAD keys of the selected mailbox's messages, kept while it
 * stays selected: a message's keys come from its header, which never
 * changes under one UIDVALIDITY, so the next SORT or THREAD of a big
 * mailbox parses nothing again (the store's cached fields, or the
 * messages, are read once). Bounded: past SORT_CACHE_MAX bytes nothing
 * more is kept, and those keys are made anew each time, as without it. */
#ifndef HAVEN_SORT_CACHE_H
#define HAVEN_SORT_CACHE_H
#include <stdint.h>

#include "../mail/sort.h"

#define SORT_CACHE_MAX (64u << 20)

struct sort_cache;

struct sort_cache *sort_cache_new(void);
void sort_cache_free(struct sort_cache *c);
/* The keys kept for uid, or NULL. */
const struct mail_sort_keys *sort_cache_get(const struct sort_cache *c, uint32_t uid);
/* Keep a copy of k (its strings too) for uid (not kept yet); nothing when
 * the cache is full. */
void sort_cache_put(struct sort_cache *c, uint32_t uid, const struct mail_sort_keys *k);

#endif
