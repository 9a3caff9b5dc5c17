#include "passdb_list.h"

#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static const char *const names[] = {
	[PASSDB_FILE] = "file", [PASSDB_PAM] = "pam", [PASSDB_LDAP] = "ldap",
	[PASSDB_SQL] = "sql", [PASSDB_OAUTH] = "oauth",
};
#define NDRIVERS (sizeof(names) / sizeof(names[0]))

const char *passdb_driver_name(enum passdb_driver d)
{
	return (size_t)d < NDRIVERS ? names[d] : "?";
}

/* One entry, blanks trimmed: "file:PATH" or a bare driver name. */
static int entry_parse(const char *s, size_t len, struct passdb_entry *e, struct error *err)
{
	const char *colon = memchr(s, ':', len);
	size_t nlen = colon ? (size_t)(colon - s) : len;

	for (size_t d = 0; d < NDRIVERS; d++) {
		if (strlen(names[d]) != nlen || memcmp(names[d], s, nlen) != 0)
			continue;
		e->driver = (enum passdb_driver)d;
		if (d == PASSDB_FILE && (colon == NULL || colon + 1 == s + len)) {
			error_set(err, ERR_PARSE, "file needs a path: file:PATH");
			return -1;
		}
		if (d != PASSDB_FILE && colon) {
			error_set(err, ERR_PARSE, "%s takes no argument (its settings are passdb_%s_* keys)",
				  names[d], names[d]);
			return -1;
		}
		e->arg = colon ? xstrndup(colon + 1, len - nlen - 1) : xstrdup("");
		return 0;
	}
	error_set(err, ERR_PARSE, "unknown passdb \"%.*s\" (known: file:PATH, pam, ldap, sql, oauth)",
		  (int)(len > 64 ? 64 : len), s);
	return -1;
}

static int entry_duplicate(const struct passdb_list *l, const struct passdb_entry *e)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].driver == e->driver && strcmp(l->e[i].arg, e->arg) == 0)
			return 1;
	return 0;
}

/* The next comma-separated item of *p, blanks trimmed. */
static size_t next_item(const char **p, const char **start)
{
	const char *s = *p, *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strcspn(s, ",");
	*p = *end ? end + 1 : end;
	*start = s;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return (size_t)(end - s);
}

int passdb_list_parse(const char *text, struct passdb_list *out, struct error *err)
{
	const char *p = text, *s;

	memset(out, 0, sizeof(*out));
	while (*p) {
		size_t len = next_item(&p, &s);
		struct passdb_entry e;
		if (len == 0)
			continue;
		if (out->n == PASSDB_LIST_MAX) {
			error_set(err, ERR_PARSE, "more than %d password databases", PASSDB_LIST_MAX);
			goto fail;
		}
		if (entry_parse(s, len, &e, err) < 0)
			goto fail;
		if (entry_duplicate(out, &e)) {
			error_set(err, ERR_PARSE, "%s is listed twice", names[e.driver]);
			free(e.arg);
			goto fail;
		}
		out->e[out->n++] = e;
	}
	if (out->n == 0) {
		error_set(err, ERR_PARSE, "empty: name at least one of file:PATH, pam, ldap, sql");
		return -1;
	}
	return 0;
fail:
	passdb_list_free(out);
	return -1;
}

void passdb_list_free(struct passdb_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].arg);
	memset(l, 0, sizeof(*l));
}

int passdb_list_has(const struct passdb_list *l, enum passdb_driver d)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->e[i].driver == d)
			return 1;
	return 0;
}
