/* haven-admin reindex USER [MAILBOX]: what a store keeps beside the mail
 * (the mbox store's index) rebuilt from the mail, through the store and
 * under its locks, so havend may go on serving the user meanwhile. */
#include <stdio.h>
#include <stdlib.h>

#include "../lib/xmalloc.h"
#include "userstore.h"

struct names {
	char **v;
	size_t n;
};

static void names_add(void *ctx, const char *name, unsigned attrs)
{
	struct names *ns = ctx;

	if (attrs & (MA_NOSELECT | MA_NONEXISTENT))
		return;
	ns->v = xreallocarray(ns->v, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = xstrdup(name);
}

/* 0 done (or nothing to do), -1 after printing why. */
static int reindex_one(struct store *st, const char *name)
{
	struct error err;
	int rc = store_reindex(st, name, &err);

	if (rc < 0)
		fprintf(stderr, "haven-admin: %s: %s\n", name, err.msg);
	else if (rc == 0)
		printf("%s: index rebuilt\n", name);
	return rc < 0 ? -1 : rc;
}

/* Every mailbox; *nothing when the store keeps no index. */
static enum admin_status reindex_all(struct store *st, int *nothing)
{
	struct names ns = { 0 };
	struct error err;
	enum admin_status rc = ADMIN_OK;

	if (store_list(st, names_add, &ns, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		return ADMIN_FAILED;
	}
	for (size_t i = 0; i < ns.n; i++) {
		int r = reindex_one(st, ns.v[i]);
		if (r < 0)
			rc = ADMIN_FAILED;
		*nothing = r == 1;
		if (r == 1)
			break;   /* one answer is enough */
	}
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	return rc;
}

enum admin_status admin_reindex(const struct admin_opts *o, int argc, char **argv)
{
	struct admin_user au;
	enum admin_status rc;
	int r, nothing = 0;

	if (argc != 1 && argc != 2)
		return ADMIN_USAGE;
	if ((rc = admin_user_open(o, argv[0], &au)) != ADMIN_OK)
		return rc;
	if (argc == 2) {
		r = reindex_one(au.st, argv[1]);
		rc = r < 0 ? ADMIN_FAILED : ADMIN_OK;
		nothing = r == 1;
	} else {
		rc = reindex_all(au.st, &nothing);
	}
	if (nothing)
		printf("nothing to do: the %s store keeps no index beside the mail\n",
		       au.cfg.mail_backend);
	admin_user_close(&au);
	return rc;
}
