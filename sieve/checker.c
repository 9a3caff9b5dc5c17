/* The meaning of a parsed script: every command and test known and
 * required, arguments of the right kinds, if/elsif/else in order, require
 * first, and the values the RFCs constrain (mailbox names, redirect
 * addresses, envelope parts) valid. Annotates the tree for the
 * interpreter. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/xmalloc.h"
#include "../mail/mutf7.h"
#include "spec.h"

static const struct sv_spec specs[] = {
	{ "require", SV_REQUIRE, 0, 0, 0, "L", 0, 0 },
	{ "if", SV_IF, 0, 0, 0, "", 1, 1 },
	{ "elsif", SV_ELSIF, 0, 0, 0, "", 1, 1 },
	{ "else", SV_ELSE, 0, 0, 0, "", 0, 1 },
	{ "stop", SV_STOP, 0, 0, 0, "", 0, 0 },
	{ "keep", SV_KEEP, 0, 0, TG_FLAGS, "", 0, 0 },
	{ "discard", SV_DISCARD, 0, 0, 0, "", 0, 0 },
	{ "fileinto", SV_FILEINTO, 0, EXT_FILEINTO, TG_COPY | TG_FLAGS, "S", 0, 0 },
	{ "redirect", SV_REDIRECT, 0, 0, TG_COPY, "S", 0, 0 },
	{ "reject", SV_REJECT, 0, EXT_REJECT, 0, "S", 0, 0 },
	{ "setflag", SV_SETFLAG, 0, EXT_IMAP4FLAGS, 0, "L", 0, 0 },
	{ "addflag", SV_ADDFLAG, 0, EXT_IMAP4FLAGS, 0, "L", 0, 0 },
	{ "removeflag", SV_REMOVEFLAG, 0, EXT_IMAP4FLAGS, 0, "L", 0, 0 },
	{ "vacation", SV_VACATION, 0, EXT_VACATION, TG_VACATION, "S", 0, 0 },
	{ "address", SV_ADDRESS, 1, 0, TG_CMP | TG_MATCH | TG_ADDR, "LL", 0, 0 },
	{ "envelope", SV_ENVELOPE, 1, EXT_ENVELOPE, TG_CMP | TG_MATCH | TG_ADDR, "LL", 0, 0 },
	{ "header", SV_HEADER, 1, 0, TG_CMP | TG_MATCH, "LL", 0, 0 },
	{ "exists", SV_EXISTS, 1, 0, 0, "L", 0, 0 },
	{ "size", SV_SIZE, 1, 0, TG_SIZE, "N", 0, 0 },
	{ "allof", SV_ALLOF, 1, 0, 0, "", 2, 0 },
	{ "anyof", SV_ANYOF, 1, 0, 0, "", 2, 0 },
	{ "not", SV_NOT, 1, 0, 0, "", 1, 0 },
	{ "true", SV_TRUE, 1, 0, 0, "", 0, 0 },
	{ "false", SV_FALSE, 1, 0, 0, "", 0, 0 },
	{ "hasflag", SV_HASFLAG, 1, EXT_IMAP4FLAGS, TG_CMP | TG_MATCH, "L", 0, 0 },
};

static const struct {
	const char *name;
	unsigned bit;
} exts[] = {
	{ "fileinto", EXT_FILEINTO }, { "reject", EXT_REJECT }, { "envelope", EXT_ENVELOPE },
	{ "vacation", EXT_VACATION }, { "vacation-seconds", EXT_VACATION_SECONDS },
	{ "imap4flags", EXT_IMAP4FLAGS }, { "subaddress", EXT_SUBADDRESS }, { "copy", EXT_COPY },
	{ "encoded-character", EXT_ENCODED }, { "comparator-i;ascii-numeric", EXT_NUMERIC },
	{ "relational", EXT_RELATIONAL }, { "comparator-i;octet", EXT_BUILTIN },
	{ "comparator-i;ascii-casemap", EXT_BUILTIN },
};
#define NEXTS (sizeof(exts) / sizeof(exts[0]))

const char *sieve_extensions(void)
{
	return "fileinto reject envelope vacation vacation-seconds imap4flags subaddress copy "
	       "encoded-character comparator-i;ascii-numeric relational";
}

unsigned sv_ext_lookup(const char *name, size_t len)
{
	for (size_t k = 0; k < NEXTS; k++)
		if (strlen(exts[k].name) == len && memcmp(exts[k].name, name, len) == 0)
			return exts[k].bit;
	return 0;
}

const char *sv_ext_name(unsigned ext)
{
	for (size_t k = 0; k < NEXTS; k++)
		if (exts[k].bit == ext)
			return exts[k].name;
	return "?";
}

int sv_check_fail(struct sv_checker *ck, unsigned line, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_set(ck->err, ERR_PARSE, "line %u: %s", line, msg);
	return -1;
}

static const struct sv_spec *check_lookup(const char *name)
{
	for (size_t k = 0; k < sizeof(specs) / sizeof(specs[0]); k++)
		if (strcmp(specs[k].name, name) == 0)
			return &specs[k];
	return NULL;
}

static int check_require(struct sv_checker *ck, struct sv_node *n)
{
	const struct sv_arg *l = n->pos[0];

	for (size_t k = 0; k < l->nstrs; k++) {
		unsigned bit = sv_ext_lookup(l->strs[k].s, l->strs[k].len);
		if (bit == 0)
			return sv_check_fail(ck, l->line, "unknown extension \"%.60s\"",
					     l->strs[k].s);
		ck->exts |= bit;
	}
	return 0;
}

/* encoded-character applies to every string after the require naming it. */
static int check_encoded(struct sv_checker *ck, struct sv_node *n)
{
	const char *why = NULL;

	if (!(ck->exts & EXT_ENCODED))
		return 0;
	for (size_t i = 0; i < n->nargs; i++) {
		struct sv_arg *a = &n->args[i];
		for (size_t k = 0; a->type != ARG_TAG && k < a->nstrs; k++)
			if (sv_decode_encoded(ck->a, &a->strs[k], &why) < 0)
				return sv_check_fail(ck, a->line, "%s", why);
	}
	return 0;
}

static int check_address_ok(const struct sv_str *s)
{
	const char *at = memchr(s->s, '@', s->len);

	if (s->len == 0 || at == NULL || at == s->s || at == s->s + s->len - 1)
		return 0;
	for (size_t i = 0; i < s->len; i++)
		if ((unsigned char)s->s[i] <= ' ' || strchr("<>(),;", s->s[i]) != NULL)
			return 0;
	return 1;
}

static int check_envelope_parts(struct sv_checker *ck, const struct sv_arg *l)
{
	for (size_t k = 0; k < l->nstrs; k++)
		if (strcasecmp(l->strs[k].s, "from") != 0 && strcasecmp(l->strs[k].s, "to") != 0)
			return sv_check_fail(ck, l->line, "unknown envelope part \"%.60s\"",
					     l->strs[k].s);
	return 0;
}

/* What the RFCs say about the values themselves. */
static int check_values(struct sv_checker *ck, struct sv_node *n)
{
	const struct sv_str *s = n->pos[0] ? n->pos[0]->strs : NULL;

	switch (n->id) {
	case SV_FILEINTO:
		if (s->len == 0 || !mutf7_utf8_valid(s->s, s->len) || memchr(s->s, 0, s->len))
			return sv_check_fail(ck, n->line, "fileinto: invalid mailbox name");
		return 0;
	case SV_REDIRECT:
		if (!check_address_ok(s))
			return sv_check_fail(ck, n->line, "redirect: invalid address \"%.60s\"", s->s);
		return 0;
	case SV_ENVELOPE:
		return check_envelope_parts(ck, n->pos[0]);
	case SV_VACATION:
		if (!n->has_period)
			n->seconds = SIEVE_VACATION_DEFAULT_DAYS * 86400UL;
		if (n->from && !check_address_ok(n->from->strs))
			return sv_check_fail(ck, n->from->line, "vacation: invalid :from address");
		return 0;
	default:
		return 0;
	}
}

static int check_node(struct sv_checker *ck, struct sv_node *n, int want_test, unsigned prev);

static int check_children(struct sv_checker *ck, const struct sv_spec *sp, struct sv_node *n)
{
	if (sp->tests == 0 && n->ntests > 0)
		return sv_check_fail(ck, n->line, "%s takes no test", sp->name);
	if (sp->tests == 1 && (n->ntests != 1 || n->testlist))
		return sv_check_fail(ck, n->line, "%s needs one test", sp->name);
	if (sp->tests == 2 && !n->testlist)
		return sv_check_fail(ck, n->line, "%s needs a list of tests", sp->name);
	if (!sp->is_test && sp->block != n->has_block)
		return sv_check_fail(ck, n->line, sp->block ? "%s needs a block" : "%s takes no block",
				     sp->name);
	for (size_t k = 0; k < n->ntests; k++)
		if (check_node(ck, &n->tests[k], 1, 0) < 0)
			return -1;
	unsigned prev = SV_REQUIRE + 1000;
	for (size_t k = 0; k < n->nblock; k++) {
		if (n->block[k].name && strcmp(n->block[k].name, "require") == 0)
			return sv_check_fail(ck, n->block[k].line, "require must come first");
		if (check_node(ck, &n->block[k], 0, prev) < 0)
			return -1;
		prev = n->block[k].id;
	}
	return 0;
}

static int check_node(struct sv_checker *ck, struct sv_node *n, int want_test, unsigned prev)
{
	const struct sv_spec *sp = check_lookup(n->name);

	if (sp == NULL || sp->is_test != want_test)
		return sv_check_fail(ck, n->line, "unknown %s \"%.60s\"",
				     want_test ? "test" : "command", n->name);
	if (sp->ext && !(ck->exts & sp->ext))
		return sv_check_fail(ck, n->line, "%s needs require \"%s\"", sp->name,
				     sv_ext_name(sp->ext));
	n->id = sp->id;
	if ((n->id == SV_ELSIF || n->id == SV_ELSE) && prev != SV_IF && prev != SV_ELSIF)
		return sv_check_fail(ck, n->line, "%s without if", sp->name);
	if (check_encoded(ck, n) < 0 || sv_check_args(ck, sp, n) < 0)
		return -1;
	if (check_values(ck, n) < 0)
		return -1;
	return check_children(ck, sp, n);
}

int sv_check(struct arena *a, struct sv_node *cmds, size_t ncmds, struct error *err)
{
	struct sv_checker ck = { .a = a, .err = err };
	unsigned prev = SV_REQUIRE + 1000;
	int requires_done = 0;

	for (size_t k = 0; k < ncmds; k++) {
		struct sv_node *n = &cmds[k];
		int is_require = strcmp(n->name, "require") == 0;
		if (is_require && requires_done)
			return sv_check_fail(&ck, n->line, "require must come first");
		requires_done |= !is_require;
		if (check_node(&ck, n, 0, prev) < 0)
			return -1;
		if (is_require && check_require(&ck, n) < 0)
			return -1;
		prev = n->id;
	}
	return 0;
}

int sieve_compile(const char *src, size_t len, struct sieve_script **out, struct error *err)
{
	struct sieve_script *s;

	*out = NULL;
	if (len > SIEVE_MAX_SCRIPT) {
		error_set(err, ERR_PARSE, "line 1: script larger than %d bytes", SIEVE_MAX_SCRIPT);
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->a = arena_new();
	if (sv_parse(s->a, src, len, &s->cmds, &s->ncmds, err) < 0 ||
	    sv_check(s->a, s->cmds, s->ncmds, err) < 0) {
		sieve_script_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void sieve_script_free(struct sieve_script *s)
{
	if (s == NULL)
		return;
	arena_free(s->a);
	free(s);
}
