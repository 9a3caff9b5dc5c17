/* Failed-login accounting of the auth helper, in a fixed-size table (an
 * attacker rotating addresses or user names cannot grow its memory).
 *
 * Three counts, each over a window that starts at its first failure:
 * - per client network (an address cut to its prefix): at ip_max
 *   failures the network is blocked for block_time seconds, every user;
 * - per user and network: at user_ip_max the user is blocked from that
 *   network only, so a user behind a large NAT, or anywhere else, is not
 *   locked out by someone guessing from one place;
 * - per user, from every network: never blocks (that would let anyone
 *   lock any user out of every address by guessing wrong on purpose);
 *   it only makes the answers to failures slower (the caller's growing
 *   delay), which is what slows a guesser spread over many addresses.
 * A network in the trusted list is never counted as a whole (webmail on
 * the same host brings every user from 127.0.0.1); its user+network
 * pairs are. */
#ifndef HAVEN_RATELIMIT_H
#define HAVEN_RATELIMIT_H
#include <time.h>

struct rl_policy {
	unsigned ip_max;       /* 0: networks are never blocked */
	unsigned user_ip_max;  /* 0: user+network pairs are never blocked */
	unsigned window;       /* seconds over which failures add up */
	unsigned block_time;   /* seconds a block lasts */
};

enum rl_block {
	RL_NONE,
	RL_NET,                /* the network is blocked */
	RL_USER_NET,           /* this user is blocked from this network */
};

struct ratelimit;

/* slots: table size (rounded up to a power of two). */
struct ratelimit *ratelimit_new(unsigned slots, const struct rl_policy *p);
/* A new policy (SIGHUP): counts and blocks in progress are kept. */
void ratelimit_set_policy(struct ratelimit *r, const struct rl_policy *p);
void ratelimit_free(struct ratelimit *r);
/* Count a failed login of user from net. Returns the largest of the three
 * counts so far (for the growing delay); *blocked: what this failure
 * started blocking (RL_NONE when nothing new). */
unsigned ratelimit_fail(struct ratelimit *r, const char *net, const char *user, int trusted,
			time_t now, enum rl_block *blocked);
/* Whether a login of user from net is refused without a look at the
 * password; *until: when the block ends. */
enum rl_block ratelimit_blocked(struct ratelimit *r, const char *net, const char *user,
				int trusted, time_t now, time_t *until);

#endif
