/* METADATA (RFC 5464): the arguments of GETMETADATA and SETMETADATA
 * (metadata_parse.c, no session needed: the fuzz target calls it) and the
 * command handlers (cmd_metadata.c). */
#ifndef HAVEN_METADATA_H
#define HAVEN_METADATA_H
#include <stddef.h>
#include <stdint.h>

#include "../backends/backend.h"
#include "../lib/arena.h"
#include "parser.h"
#include "session.h"

#define METADATA_DEPTH_INFINITY (-1)

/* GETMETADATA [(options)] mailbox entries */
struct metadata_get_req {
	const struct imap_arg *mailbox;
	int has_maxsize;
	uint64_t maxsize;
	int depth;                 /* 0, 1 or METADATA_DEPTH_INFINITY */
	const char **entries;      /* lower-cased, checked (roots allowed) */
	size_t n;
};

/* SETMETADATA mailbox (entry value ...) */
struct metadata_set_req {
	const struct imap_arg *mailbox;
	struct metadata_change *v; /* entries lower-cased and checked; NIL: value NULL */
	size_t n;
};

/* Parse the arguments (after the command name) into req, allocated in a.
 * -1 with *why for a tagged BAD. */
int metadata_get_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
		       struct metadata_get_req *req, const char **why);
int metadata_set_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
		       struct metadata_set_req *req, const char **why);
/* Is entry (a stored name) returned for asked at depth? */
int metadata_depth_match(const char *asked, const char *entry, int depth);

/* cmd_metadata.c: the command handlers (authenticated and selected). */
struct session;
void cmd_getmetadata(struct session *s, const struct imap_cmd *cmd);
void cmd_setmetadata(struct session *s, const struct imap_cmd *cmd);
struct imap_literal;
enum literal_action setmetadata_literal(struct session *s, const struct imap_cmd *cmd,
					const struct imap_literal *lit);

#endif
