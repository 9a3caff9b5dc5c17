/* Command statistics a user worker keeps and the master adds up for the
 * metrics endpoint: a count, the time in all and a latency histogram per
 * IMAP command. The bucket bounds are shared by both sides. */
#ifndef HAVEN_STATS_H
#define HAVEN_STATS_H
#include <stdint.h>

#define STATS_BUCKETS 8
/* Upper bounds of the buckets in microseconds (le); the last is +Inf. */
extern const uint64_t stats_bucket_le_us[STATS_BUCKETS - 1];

struct stats_cmd {
	char name[24];
	uint64_t count, usec;
	uint64_t bucket[STATS_BUCKETS];  /* not cumulative */
};

/* Count one run of a command that took usec. */
void stats_cmd_add(struct stats_cmd *c, uint64_t usec);

#endif
