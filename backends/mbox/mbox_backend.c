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
	.import_begin = mbox_import_begin,
	.import_message = mbox_import_message,
	.import_finish = mbox_import_finish,
	.import_abort = mbox_import_abort,
	.reindex = mbox_reindex,
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
	.sieve_list = mbox_sieve_list,
	.sieve_get = mbox_sieve_get,
	.sieve_put = mbox_sieve_put,
	.sieve_delete = mbox_sieve_delete,
	.sieve_rename = mbox_sieve_rename,
	.sieve_activate = mbox_sieve_activate,
	.sieve_active = mbox_sieve_active,
	.sieve_reply_claim = mbox_sieve_reply_claim,
	/* QUOTA (RFC 9208) */
	.quota_get = mbox_quota_get,
	/* METADATA (RFC 5464) */
	.metadata_list = mbox_metadata_list,
	.metadata_set = mbox_metadata_set,
	.metadata_deleted = mbox_metadata_deleted,
	.metadata_renamed = mbox_metadata_renamed,
	/* NOTIFY */
	.watch_fd = mbox_watch_fd,
	.watch_changes = mbox_watch_changes,
	/* MULTIAPPEND */
	.append_finish_group = mbox_append_stream_finish_group,
	/* SORT/THREAD: the header-field cache */
	.sort_fields = mbox_header_fields,
	.sort_fields_done = mbox_header_fields_done,
	/* SORT/THREAD keys kept across sessions: the sort-key cache */
	.sort_keys = mbox_sort_keys,
	.sort_keys_done = mbox_sort_keys_done,
};
