#include "stats.h"

/* 1 ms .. 10 s: a FETCH of a window is a millisecond, a SEARCH of a big
 * mailbox a second. */
const uint64_t stats_bucket_le_us[STATS_BUCKETS - 1] = {
	1000, 5000, 25000, 100000, 500000, 2000000, 10000000,
};

void stats_cmd_add(struct stats_cmd *c, uint64_t usec)
{
	unsigned b = 0;

	while (b < STATS_BUCKETS - 1 && usec > stats_bucket_le_us[b])
		b++;
	c->count++;
	c->usec += usec;
	c->bucket[b]++;
}
