/* haven-admin's way into one user's mail: the user resolved as the auth
 * helper resolves a recipient (the passdb list, without a password), the
 * process dropped to the user's uid and gid as the user worker is (files
 * keep their owner), then the store opened through backend.h like the
 * worker opens it. The process serves that one user from then on. */
#ifndef HAVEN_ADMIN_USERSTORE_H
#define HAVEN_ADMIN_USERSTORE_H
#include "../backends/backend.h"
#include "admin.h"

struct admin_user {
	struct config cfg;
	struct backend_user u;
	struct store *st;
	char *home;
};

/* ADMIN_OK with au open, else ADMIN_FAILED after printing why. */
enum admin_status admin_user_open(const struct admin_opts *o, const char *name,
				  struct admin_user *au);
void admin_user_close(struct admin_user *au);

#endif
