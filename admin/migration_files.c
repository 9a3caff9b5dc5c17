#include "migration_files.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/config.h"
#include "../lib/xmalloc.h"

/* At least four digits, a '-', a name, ".sql". */
long migration_file_version(const char *name)
{
	size_t len = strlen(name), digits = strspn(name, "0123456789");
	long v = 0;

	if (digits < 4 || digits > 9 || name[digits] != '-' || len < digits + 6 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return -1;
	for (size_t i = 0; i < digits; i++)
		v = v * 10 + (name[i] - '0');
	return v > 0 ? v : -1;
}

/* By version, then name: a duplicate is reported the same way every time. */
static int by_version(const void *a, const void *b)
{
	const struct migration_file *x = a, *y = b;
	if (x->version != y->version)
		return (x->version > y->version) - (x->version < y->version);
	return strcmp(x->name, y->name);
}

static int has_sql_suffix(const char *name)
{
	size_t len = strlen(name);
	return len >= 4 && strcmp(name + len - 4, ".sql") == 0;
}

static void files_add(struct migration_files *f, const char *dir, const char *name, long version)
{
	f->v = xreallocarray(f->v, f->n + 1, sizeof(*f->v));
	f->v[f->n].version = version;
	f->v[f->n].name = xstrdup(name);
	f->v[f->n].path = xasprintf("%s/%s", dir, name);
	f->n++;
}

static int files_check_unique(const struct migration_files *f, struct error *err)
{
	for (size_t i = 1; i < f->n; i++) {
		if (f->v[i].version == f->v[i - 1].version) {
			error_set(err, ERR_PARSE, "%s and %s: two migrations with version %ld",
				  f->v[i - 1].name, f->v[i].name, f->v[i].version);
			return -1;
		}
	}
	return 0;
}

int migration_files_scan(const char *dir, struct migration_files *out, struct error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	out->v = NULL;
	out->n = 0;
	if (d == NULL) {
		error_set(err, ERR_NONEXISTENT, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		long version;
		if (e->d_name[0] == '.' || !has_sql_suffix(e->d_name))
			continue;
		if ((version = migration_file_version(e->d_name)) < 0) {
			error_set(err, ERR_PARSE, "%s/%s: not a migration name (NNNN-name.sql)",
				  dir, e->d_name);
			rc = -1;
			break;
		}
		files_add(out, dir, e->d_name, version);
	}
	closedir(d);
	if (rc == 0 && out->n > 1) {
		qsort(out->v, out->n, sizeof(*out->v), by_version);
		rc = files_check_unique(out, err);
	}
	if (rc < 0)
		migration_files_free(out);
	return rc;
}

void migration_files_free(struct migration_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].name);
		free(f->v[i].path);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

int migration_file_read(const struct migration_file *m, struct buf *text, struct error *err)
{
	buf_reset(text);
	/* Bounded, regular files only: what the configuration reader does. */
	if (config_read_file(m->path, text, err) < 0)
		return -1;
	if (text->len == 0 || memchr(text->data, '\0', text->len) != NULL) {
		error_set(err, ERR_PARSE, "%s: empty or holds a NUL byte", m->path);
		return -1;
	}
	return 0;
}
