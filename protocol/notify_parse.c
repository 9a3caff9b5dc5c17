/* NOTIFY's arguments (RFC 5465 section 8):
 *   NOTIFY NONE
 *   NOTIFY SET [STATUS] (filter events) ...
 * filter: SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED,
 * SUBTREE one-or-more-mailbox, MAILBOXES one-or-more-mailbox; events:
 * NONE or a list of event names, MessageNew optionally followed by its
 * fetch-att list (SELECTED* only). The command parser already bounds
 * the argument tree; this walks it without recursion. A syntax error, or
 * a rule of section 5 broken, is BAD; an event Haven does not send is
 * BADEVENT, unless the command is BAD anyway. */
#include <string.h>
#include <strings.h>

#include "notify_parse.h"

static const struct {
	const char *name;
	unsigned bit;
} event_names[] = {
	{ "MESSAGENEW", NE_MESSAGE_NEW },
	{ "MESSAGEEXPUNGE", NE_MESSAGE_EXPUNGE },
	{ "FLAGCHANGE", NE_FLAG_CHANGE },
	{ "ANNOTATIONCHANGE", NE_ANNOTATION_CHANGE },
	{ "MAILBOXNAME", NE_MAILBOX_NAME },
	{ "SUBSCRIPTIONCHANGE", NE_SUBSCRIPTION_CHANGE },
	{ "MAILBOXMETADATACHANGE", NE_MAILBOX_METADATA_CHANGE },
	{ "SERVERMETADATACHANGE", NE_SERVER_METADATA_CHANGE },
};

static const struct {
	const char *name;
	enum notify_filter filter;
} filter_names[] = {
	{ "SELECTED", NF_SELECTED },   { "SELECTED-DELAYED", NF_SELECTED_DELAYED },
	{ "INBOXES", NF_INBOXES },     { "PERSONAL", NF_PERSONAL },
	{ "SUBSCRIBED", NF_SUBSCRIBED }, { "SUBTREE", NF_SUBTREE },
	{ "MAILBOXES", NF_MAILBOXES },
};

struct nparse {
	const char *err;
	int badevent;           /* an unknown or unsupported event was named */
};

static enum notify_status fail(struct nparse *p, const char *why)
{
	p->err = why;
	return NOTIFY_BAD;
}

static int filter_of(const struct imap_arg *a, enum notify_filter *out)
{
	if (a->type != IMAP_ARG_ATOM)
		return -1;
	for (size_t i = 0; i < sizeof(filter_names) / sizeof(filter_names[0]); i++) {
		if (strcasecmp(a->str, filter_names[i].name) == 0) {
			*out = filter_names[i].filter;
			return 0;
		}
	}
	return -1;
}

/* An event-ext is any atom: 0 when it is none Haven knows. */
static unsigned event_of(const struct imap_arg *a)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strcasecmp(a->str, event_names[i].name) == 0)
			return event_names[i].bit;
	return 0;
}

static int is_selected(enum notify_filter f)
{
	return f == NF_SELECTED || f == NF_SELECTED_DELAYED;
}

/* events = "(" event *(SP event) ")" / "NONE" */
static enum notify_status parse_events(struct nparse *p, const struct imap_arg *a,
				       struct notify_group *g)
{
	if (imap_arg_is_atom(a, "NONE"))
		return NOTIFY_OK;
	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return fail(p, "NOTIFY events must be NONE or a list of events");
	for (size_t i = 0; i < a->count; i++) {
		const struct imap_arg *e = &a->list[i];
		unsigned bit;

		if (e->type == IMAP_ARG_LIST) {
			if (i == 0 || a->list[i - 1].type != IMAP_ARG_ATOM ||
			    event_of(&a->list[i - 1]) != NE_MESSAGE_NEW)
				return fail(p, "A fetch-att list may only follow MessageNew");
			if (!is_selected(g->filter))
				return fail(p, "MessageNew takes fetch-atts only for SELECTED");
			if (e->count == 0)
				return fail(p, "Empty fetch-att list");
			g->fetch = e;
			continue;
		}
		if (e->type != IMAP_ARG_ATOM)
			return fail(p, "NOTIFY event names are atoms");
		bit = event_of(e);
		if (!(bit & NE_SUPPORTED))
			p->badevent = 1;
		g->events |= bit;
	}
	return NOTIFY_OK;
}

/* RFC 5465 section 5 and 6.1: which events may go together. */
static enum notify_status check_events(struct nparse *p, const struct notify_group *g)
{
	unsigned ev = g->events, pair = NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE;

	if ((ev & pair) != 0 && (ev & pair) != pair)
		return fail(p, "MessageNew and MessageExpunge go together");
	if ((ev & (NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE)) && (ev & pair) != pair)
		return fail(p, "FlagChange and AnnotationChange need MessageNew and MessageExpunge");
	if (is_selected(g->filter) && (ev & ~(unsigned)NE_MESSAGE_EVENTS))
		return fail(p, "SELECTED takes only message events");
	return NOTIFY_OK;
}

/* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
static enum notify_status parse_names(struct nparse *p, const struct imap_arg *a,
				      struct notify_group *g)
{
	if (a->type == IMAP_ARG_LIST) {
		if (a->count == 0)
			return fail(p, "Empty mailbox list");
		for (size_t i = 0; i < a->count; i++)
			if (!imap_arg_is_astring(&a->list[i]))
				return fail(p, "Mailbox names must be strings or atoms");
		g->names = a->list;
		g->nnames = a->count;
		return NOTIFY_OK;
	}
	if (!imap_arg_is_astring(a))
		return fail(p, "Mailbox name expected");
	g->names = a;
	g->nnames = 1;
	return NOTIFY_OK;
}

/* event-group = "(" filter-mailboxes SP events ")" */
static enum notify_status parse_group(struct nparse *p, const struct imap_arg *a,
				      struct notify_group *g)
{
	size_t want;

	if (a->type != IMAP_ARG_LIST || a->count == 0)
		return fail(p, "NOTIFY SET expects event groups in parentheses");
	if (filter_of(&a->list[0], &g->filter) < 0)
		return fail(p, "Unknown NOTIFY mailbox specifier");
	want = g->filter == NF_SUBTREE || g->filter == NF_MAILBOXES ? 3 : 2;
	if (a->count != want)
		return fail(p, want == 3 ? "SUBTREE and MAILBOXES take mailboxes, then events"
					 : "A mailbox specifier takes events only");
	if (want == 3 && parse_names(p, &a->list[1], g) != NOTIFY_OK)
		return NOTIFY_BAD;
	if (parse_events(p, &a->list[want - 1], g) != NOTIFY_OK)
		return NOTIFY_BAD;
	return check_events(p, g);
}

static enum notify_status parse_set(struct arena *a, struct nparse *p,
				    const struct imap_arg *args, size_t nargs,
				    struct notify_spec *out)
{
	size_t i = 1, nselected = 0;

	if (i < nargs && imap_arg_is_atom(&args[i], "STATUS")) {
		out->status = 1;
		i++;
	}
	if (i == nargs)
		return fail(p, "NOTIFY SET expects event groups");
	out->groups = arena_alloc(a, (nargs - i) * sizeof(*out->groups));
	for (; i < nargs; i++) {
		struct notify_group *g = &out->groups[out->ngroups++];
		if (parse_group(p, &args[i], g) != NOTIFY_OK)
			return NOTIFY_BAD;
		nselected += is_selected(g->filter);
	}
	if (nselected > 1)
		return fail(p, "Only one of SELECTED and SELECTED-DELAYED");
	return NOTIFY_OK;
}

enum notify_status notify_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				struct notify_spec *out, const char **err)
{
	struct nparse p = { NULL, 0 };

	memset(out, 0, sizeof(*out));
	*err = NULL;
	if (nargs == 1 && imap_arg_is_atom(&args[0], "NONE")) {
		out->none = 1;
		return NOTIFY_OK;
	}
	if (nargs == 0 || !imap_arg_is_atom(&args[0], "SET")) {
		*err = "NOTIFY expects SET or NONE";
		return NOTIFY_BAD;
	}
	if (parse_set(a, &p, args, nargs, out) != NOTIFY_OK) {
		*err = p.err;
		return NOTIFY_BAD;
	}
	if (p.badevent) {
		*err = "Unsupported NOTIFY event";
		return NOTIFY_BADEVENT;
	}
	return NOTIFY_OK;
}
