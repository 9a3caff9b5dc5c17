/* The mbox backend's entry in the registry (backends/backend.c). */
#include "mbox_private.h"

static const struct backend_setting mbox_settings[] = {
	{ "mbox_inbox", BS_STR, "/var/mail/%u", 0, 0, "mbox INBOX location template (%u user, %h home)" },
	{ "mbox_dir", BS_STR, "%h/mail", 0, 0, "directory holding the user's other mbox mailboxes" },
	{ "mbox_index_min_size", BS_INT, "262144", -1, 2147483647L,
	  "mbox files of at least this many bytes get a private index (in MBOX_DIR/.haven-index); -1 never" },
	{ NULL, BS_STR, NULL, 0, 0, NULL },
};

const struct backend_ops mbox_backend_ops = {
	.name = "mbox",
	.settings = mbox_settings,
	.store_open = mbox_store_open,
	.store_close = mbox_store_close,
	.list = mbox_list,
	.create = mbox_create,
	.delete = mbox_delete,
	.rename = mbox_rename,
	.subscribe = mbox_subscribe,
	.status = mbox_status,
	.append_begin = mbox_append_stream_begin,
	.append_write = mbox_append_stream_write,
	.append_finish = mbox_append_stream_finish,
	.append_abort = mbox_append_stream_abort,
	.select = mbox_select,
	.mailbox_close = mbox_mailbox_close,
	.count = mbox_count,
	.uid = mbox_uid,
	.meta = mbox_meta,
	.keywords = mbox_keywords,
	.sync = mbox_sync,
	.open_message = mbox_open_message,
	.store_flags = mbox_store_flags,
	.expunge = mbox_expunge,
	.copy = mbox_copy,
	.notify_fd = mbox_notify_fd,
	.search = mbox_search,
};
