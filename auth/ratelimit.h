/* Failure counting per client address in a fixed-size table, so an
 * attacker cannot grow the helper's memory by rotating addresses. */
#ifndef HAVEN_RATELIMIT_H
#define HAVEN_RATELIMIT_H
#include <time.h>

struct ratelimit;

/* slots: table size; max_failures within window seconds blocks a key. */
struct ratelimit *ratelimit_new(unsigned slots, unsigned max_failures, unsigned window);
void ratelimit_free(struct ratelimit *r);
void ratelimit_fail(struct ratelimit *r, const char *key, time_t now);
int ratelimit_blocked(struct ratelimit *r, const char *key, time_t now);

#endif
