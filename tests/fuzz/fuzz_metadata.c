/* libFuzzer target for the GETMETADATA and SETMETADATA arguments: the
 * input is the text after the command name ("a GETMETADATA " + input,
 * and the same for SETMETADATA; literals inline), parsed by the command
 * parser and then by metadata_get_parse / metadata_set_parse. What parses
 * must hold only valid, lower-case entry names, a known DEPTH, and values
 * inside the command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../lib/buf.h"
#include "../../protocol/metadata.h"
#include "fuzz_cmd.h"

#define MAX_INPUT 65536

static void check_entry(const char *e, int root)
{
	struct error err;

	if (store_metadata_entry_check(e, root, &err) < 0)
		abort();
	for (const char *p = e; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort();
}

static void try_get(struct arena *a, const struct imap_cmd *cmd)
{
	struct metadata_get_req req;
	const char *why;

	if (metadata_get_parse(a, cmd->args, cmd->nargs, &req, &why) < 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (req.n == 0 || req.mailbox == NULL ||
	    (req.depth != 0 && req.depth != 1 && req.depth != METADATA_DEPTH_INFINITY))
		abort();
	for (size_t i = 0; i < req.n; i++) {
		check_entry(req.entries[i], 1);
		(void)metadata_depth_match(req.entries[i], req.entries[0], req.depth);
	}
}

static void try_set(struct arena *a, const struct imap_cmd *cmd)
{
	struct metadata_set_req req;
	const char *why;

	if (metadata_set_parse(a, cmd->args, cmd->nargs, &req, &why) < 0) {
		if (why == NULL)
			abort();
		return;
	}
	if (req.n == 0 || req.mailbox == NULL)
		abort();
	for (size_t i = 0; i < req.n; i++) {
		check_entry(req.v[i].entry, 0);
		if (req.v[i].value == NULL && req.v[i].len != 0)
			abort();
	}
}

static void run(const char *name, const uint8_t *data, size_t size,
		void (*fn)(struct arena *, const struct imap_cmd *))
{
	struct arena *a = arena_new();
	struct imap_cmd c;
	const char *err;

	if (fuzz_parse_cmd(a, name, data, size, &c, &err) == 0)
		fn(a, &c);
	arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_INPUT)
		return 0;
	run("GETMETADATA", data, size, try_get);
	run("SETMETADATA", data, size, try_set);
	return 0;
}
