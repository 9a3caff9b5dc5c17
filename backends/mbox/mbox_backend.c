/* The mbox backend's entry in the registry (backends/backend.c). */
#include "mbox_private.h"

const struct backend_ops mbox_backend_ops = {
	.name = "mbox",
	.store_open = mbox_store_open,
	.store_close = mbox_store_close,
	.list = mbox_list,
	.create = mbox_create,
	.delete = mbox_delete,
	.rename = mbox_rename,
	.subscribe = mbox_subscribe,
	.status = mbox_status,
	.append = mbox_append,
	.select = mbox_select,
	.mailbox_close = mbox_mailbox_close,
	.count = mbox_count,
	.meta = mbox_meta,
	.keywords = mbox_keywords,
	.sync = mbox_sync,
	.open_message = mbox_open_message,
	.store_flags = mbox_store_flags,
	.expunge = mbox_expunge,
	.copy = mbox_copy,
	.notify_fd = mbox_notify_fd,
	.header_fields = mbox_header_fields,
	.header_fields_done = mbox_header_fields_done,
};
