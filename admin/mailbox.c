/* haven-admin mailbox list|status|create|delete USER [MAILBOX]: the
 * user's namespace through the store's own operations, as a client's
 * LIST, STATUS, CREATE and DELETE would go. */
#include <inttypes.h>
#include <stdio.h>

#include "userstore.h"

static const struct {
	unsigned bit;
	const char *name;
} attr_names[] = {
	{ MA_NOSELECT, "\\Noselect" }, { MA_SUBSCRIBED, "\\Subscribed" },
	{ MA_DRAFTS, "\\Drafts" },     { MA_SENT, "\\Sent" },
	{ MA_TRASH, "\\Trash" },       { MA_JUNK, "\\Junk" },
	{ MA_ARCHIVE, "\\Archive" },   { MA_ALL, "\\All" },
	{ MA_FLAGGED, "\\Flagged" },
};

/* One line per mailbox: its name, a tab, its attributes. */
static void list_print(void *ctx, const char *name, unsigned attrs)
{
	const char *sep = "";

	(void)ctx;
	printf("%s\t", name);
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
		if (attrs & attr_names[i].bit) {
			printf("%s%s", sep, attr_names[i].name);
			sep = " ";
		}
	}
	putchar('\n');
}

/* Open argv[0]'s store, run op on it with the mailbox argv[1] (or NULL
 * when the command takes none), close. */
static enum admin_status with_store(const struct admin_opts *o, int argc, char **argv,
				    int want_mailbox,
				    int (*op)(struct store *st, const char *mailbox,
					      struct error *err))
{
	struct admin_user au;
	struct error err;
	enum admin_status rc;

	if (argc != 1 + want_mailbox)
		return ADMIN_USAGE;
	if ((rc = admin_user_open(o, argv[0], &au)) != ADMIN_OK)
		return rc;
	if (op(au.st, want_mailbox ? argv[1] : NULL, &err) < 0) {
		fprintf(stderr, "haven-admin: %s%s%s\n", want_mailbox ? argv[1] : "",
			want_mailbox ? ": " : "", err.msg);
		rc = ADMIN_FAILED;
	}
	admin_user_close(&au);
	return rc;
}

static int op_list(struct store *st, const char *mailbox, struct error *err)
{
	(void)mailbox;
	return store_list(st, list_print, NULL, err);
}

static int op_status(struct store *st, const char *mailbox, struct error *err)
{
	struct mailbox_status s;

	if (store_status(st, mailbox, &s, err) < 0)
		return -1;
	printf("messages %" PRIu32 "\nunseen %" PRIu32 "\nuidvalidity %" PRIu32
	       "\nuidnext %" PRIu32 "\nhighestmodseq %" PRIu64 "\nsize %" PRIu64 "\n",
	       s.messages, s.unseen, s.uidvalidity, s.uidnext, s.highestmodseq, s.size);
	return 0;
}

static int op_create(struct store *st, const char *mailbox, struct error *err)
{
	return store_create(st, mailbox, 0, err);
}

static int op_delete(struct store *st, const char *mailbox, struct error *err)
{
	return store_delete(st, mailbox, err);
}

enum admin_status admin_mailbox_list(const struct admin_opts *o, int argc, char **argv)
{
	return with_store(o, argc, argv, 0, op_list);
}

enum admin_status admin_mailbox_status(const struct admin_opts *o, int argc, char **argv)
{
	return with_store(o, argc, argv, 1, op_status);
}

enum admin_status admin_mailbox_create(const struct admin_opts *o, int argc, char **argv)
{
	return with_store(o, argc, argv, 1, op_create);
}

enum admin_status admin_mailbox_delete(const struct admin_opts *o, int argc, char **argv)
{
	return with_store(o, argc, argv, 1, op_delete);
}
