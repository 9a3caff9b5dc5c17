/* libFuzzer target for NOTIFY's arguments: the input is the text after
 * "a NOTIFY " (literals inline), parsed by the command parser and then by
 * notify_parse. What parses must hold together: groups within the
 * arguments, known filters, names only for SUBTREE and MAILBOXES, events
 * paired as RFC 5465 section 5 demands, fetch-atts only for SELECTED*. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/arena.h"
#include "../../protocol/notify_parse.h"
#include "fuzz_cmd.h"

#define MAX_INPUT 65536

static void check_group(const struct notify_group *g)
{
	unsigned pair = NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE;
	int selected = g->filter == NF_SELECTED || g->filter == NF_SELECTED_DELAYED;
	int named = g->filter == NF_SUBTREE || g->filter == NF_MAILBOXES;

	if (g->filter > NF_MAILBOXES || (named != (g->nnames > 0)))
		abort();
	if ((g->events & pair) != 0 && (g->events & pair) != pair)
		abort();
	if ((g->events & NE_FLAG_CHANGE) && (g->events & pair) != pair)
		abort();
	if (g->events & ~(unsigned)NE_SUPPORTED)
		abort();
	if (selected && (g->events & ~(unsigned)NE_MESSAGE_EVENTS))
		abort();
	if (g->fetch && (!selected || g->fetch->type != IMAP_ARG_LIST || g->fetch->count == 0))
		abort();
	for (size_t i = 0; i < g->nnames; i++)
		if (!imap_arg_is_astring(&g->names[i]))
			abort();
}

static void check_spec(const struct notify_spec *sp, size_t nargs)
{
	size_t nselected = 0;

	if (sp->none) {
		if (sp->ngroups != 0 || nargs != 1)
			abort();
		return;
	}
	if (sp->ngroups == 0 || sp->ngroups > nargs)
		abort();
	for (size_t i = 0; i < sp->ngroups; i++) {
		check_group(&sp->groups[i]);
		nselected += sp->groups[i].filter <= NF_SELECTED_DELAYED;
	}
	if (nselected > 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct imap_cmd cmd;
	struct notify_spec sp;
	const char *err = NULL;

	if (size > MAX_INPUT)
		return 0;
	if (a == NULL)
		a = arena_new();
	arena_reset(a);
	if (fuzz_parse_cmd(a, "NOTIFY", data, size, &cmd, &err) < 0)
		return 0;
	switch (notify_parse(a, cmd.args, cmd.nargs, &sp, &err)) {
	case NOTIFY_OK:
		check_spec(&sp, cmd.nargs);
		break;
	case NOTIFY_BAD:
	case NOTIFY_BADEVENT:
		if (err == NULL)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
