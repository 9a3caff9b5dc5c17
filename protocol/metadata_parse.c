/* GETMETADATA and SETMETADATA arguments (RFC 5464 section 5):
 *
 *   getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
 *                 (the options after the mailbox too: RFC 5464's examples)
 *   getmetadata-options = "(" option *(SP option) ")"   MAXSIZE n, DEPTH 0/1/infinity
 *   entries     = entry / "(" entry *(SP entry) ")"
 *   setmetadata = "SETMETADATA" SP mailbox SP "(" entry SP value *(...) ")"
 *   value       = nstring / literal8
 *
 * Entry names are case-insensitive: they are lower-cased here, once, and
 * every later comparison is exact. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "metadata.h"

/* A number atom of at most 19 digits (no sign, no leading zero). */
static int number_arg(const struct imap_arg *a, uint64_t *out)
{
	uint64_t v = 0;

	if (a->type != IMAP_ARG_ATOM || a->len == 0 || a->len > 19 ||
	    (a->str[0] == '0' && a->len > 1))
		return -1;
	for (size_t i = 0; i < a->len; i++) {
		if (!isdigit((unsigned char)a->str[i]))
			return -1;
		v = v * 10 + (uint64_t)(a->str[i] - '0');
	}
	*out = v;
	return 0;
}

/* An entry argument, lower-cased and checked, into the arena. */
static const char *entry_arg(struct arena *a, const struct imap_arg *arg, int root,
			     const char **why)
{
	struct error err;
	char *e;

	if (!imap_arg_is_astring(arg) || strlen(arg->str) != arg->len) {
		*why = "Entry names are astrings";
		return NULL;
	}
	e = arena_strndup(a, arg->str, arg->len);
	for (char *p = e; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (store_metadata_entry_check(e, root, &err) < 0) {
		*why = arena_strdup(a, err.msg);
		return NULL;
	}
	return e;
}

static int option_depth(const struct imap_arg *v, int *depth)
{
	if (imap_arg_is_atom(v, "INFINITY"))
		*depth = METADATA_DEPTH_INFINITY;
	else if (imap_arg_is_atom(v, "0") || imap_arg_is_atom(v, "1"))
		*depth = v->str[0] - '0';
	else
		return -1;
	return 0;
}

/* (MAXSIZE n DEPTH d) */
static int get_options(const struct imap_arg *list, struct metadata_get_req *req,
		       const char **why)
{
	int seen_depth = 0;

	*why = "Invalid GETMETADATA option";
	if (list->count == 0 || list->count % 2 != 0)
		return -1;
	for (size_t i = 0; i < list->count; i += 2) {
		const struct imap_arg *k = &list->list[i], *v = &list->list[i + 1];
		if (imap_arg_is_atom(k, "MAXSIZE") && !req->has_maxsize) {
			if (number_arg(v, &req->maxsize) < 0)
				return -1;
			req->has_maxsize = 1;
		} else if (imap_arg_is_atom(k, "DEPTH") && !seen_depth) {
			if (option_depth(v, &req->depth) < 0)
				return -1;
			seen_depth = 1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int get_entries(struct arena *a, const struct imap_arg *arg,
		       struct metadata_get_req *req, const char **why)
{
	const struct imap_arg *v = arg->type == IMAP_ARG_LIST ? arg->list : arg;
	size_t n = arg->type == IMAP_ARG_LIST ? arg->count : 1;

	if (n == 0) {
		*why = "GETMETADATA expects at least one entry";
		return -1;
	}
	req->entries = arena_alloc(a, n * sizeof(*req->entries));
	for (size_t i = 0; i < n; i++)
		if ((req->entries[i] = entry_arg(a, &v[i], 1, why)) == NULL)
			return -1;
	req->n = n;
	return 0;
}

int metadata_get_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
		       struct metadata_get_req *req, const char **why)
{
	size_t mb = 0, opt = nargs;

	memset(req, 0, sizeof(*req));
	/* The ABNF puts the options before the mailbox, the RFC's examples
	 * after it: clients do both, as Dovecot and Cyrus accept. */
	if (nargs == 3 && args[0].type == IMAP_ARG_LIST) {
		opt = 0;
		mb = 1;
	} else if (nargs == 3) {
		opt = 1;
	}
	if (opt < nargs && (args[opt].type != IMAP_ARG_LIST || get_options(&args[opt], req, why) < 0)) {
		*why = "Invalid GETMETADATA options";
		return -1;
	}
	if (nargs < 2 || nargs > 3 || !imap_arg_is_astring(&args[mb])) {
		*why = "GETMETADATA expects [options] mailbox entries";
		return -1;
	}
	req->mailbox = &args[mb];
	return get_entries(a, &args[nargs - 1], req, why);
}

/* nstring / literal8: NULL value for NIL. */
static int value_arg(const struct imap_arg *arg, struct metadata_change *c, const char **why)
{
	if (imap_arg_is_nil(arg)) {
		c->value = NULL;
		c->len = 0;
		return 0;
	}
	if (!imap_arg_is_string(arg) && arg->type != IMAP_ARG_LITERAL8) {
		*why = "Entry values are strings, literal8 or NIL";
		return -1;
	}
	c->value = arg->str;
	c->len = arg->len;
	return 0;
}

int metadata_set_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
		       struct metadata_set_req *req, const char **why)
{
	const struct imap_arg *l = nargs == 2 ? &args[1] : NULL;

	memset(req, 0, sizeof(*req));
	if (l == NULL || !imap_arg_is_astring(&args[0]) || l->type != IMAP_ARG_LIST ||
	    l->count == 0 || l->count % 2 != 0) {
		*why = "SETMETADATA expects a mailbox and (entry value ...)";
		return -1;
	}
	req->mailbox = &args[0];
	req->n = l->count / 2;
	req->v = arena_alloc(a, req->n * sizeof(*req->v));
	for (size_t i = 0; i < req->n; i++) {
		req->v[i].entry = entry_arg(a, &l->list[2 * i], 0, why);
		if (req->v[i].entry == NULL || value_arg(&l->list[2 * i + 1], &req->v[i], why) < 0)
			return -1;
	}
	return 0;
}

int metadata_depth_match(const char *asked, const char *entry, int depth)
{
	size_t n = strlen(asked);
	const char *rest;

	if (strcmp(asked, entry) == 0)
		return 1;
	if (depth == 0 || strncmp(entry, asked, n) != 0 || entry[n] != '/')
		return 0;
	rest = entry + n + 1;
	return depth == METADATA_DEPTH_INFINITY || strchr(rest, '/') == NULL;
}
