/* haven-admin import USER SOURCE [-m DEST] [-f]: SOURCE is an mbox file,
 * a Maildir (cur/, new/), a Maildir++ tree (.Sub.Box folders beside the
 * INBOX's cur/ and new/) or a directory of mbox files (Dovecot's, with
 * Sub/Box files and .subscriptions). Names on disk are Dovecot's
 * (modified UTF-7); they become mailbox names under DEST. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../lib/xmalloc.h"
#include "../mail/mutf7.h"
#include "import.h"
#include "userstore.h"

#define IMPORT_DEPTH_MAX BACKEND_DEPTH_MAX

static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_maildir(const char *path)
{
	char *cur = xasprintf("%s/cur", path), *nw = xasprintf("%s/new", path);
	int yes = is_dir(cur) || is_dir(nw);

	free(cur);
	free(nw);
	return yes;
}

/* DEST/name (or name) from a name on disk in modified UTF-7, with sep as
 * its hierarchy separator. NULL after printing why. */
static char *dest_name(const char *prefix, const char *disk, char sep)
{
	struct buf b = BUF_INIT;
	const char *why = NULL;
	char *name, *levels = xstrdup(disk);
	int rc;

	for (char *p = levels; *p; p++)
		if (*p == sep)
			*p = '/';
	rc = mutf7_decode(levels, strlen(levels), &b, &why);
	free(levels);
	if (rc < 0) {
		fprintf(stderr, "haven-admin: %s: not a mailbox name (%s)\n", disk, why);
		buf_free(&b);
		return NULL;
	}
	buf_append_byte(&b, '\0');
	if (prefix == NULL)
		return buf_steal(&b);
	name = xasprintf("%s/%s", prefix, b.data);
	buf_free(&b);
	return name;
}

/* Dovecot's subscriptions file: "V\t2" then names with '\t' between
 * levels, or (older) one name a line with sep between levels. */
static void subscriptions_import(struct import_run *r, const char *file, const char *prefix,
				 char sep)
{
	struct buf b = BUF_INIT;
	struct error err;
	char *save = NULL;
	int v2;

	if (src_file_read(file, 1u << 24, &b, &err) != 0) {
		buf_free(&b);
		return;
	}
	buf_append_byte(&b, '\0');
	v2 = strncmp(b.data, "V\t2\n", 4) == 0;
	for (char *l = strtok_r(v2 ? b.data + 4 : b.data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *name = dest_name(prefix, l, v2 ? '\t' : sep);
		if (name && store_subscribe(r->st, name, 1, &err) < 0)
			fprintf(stderr, "haven-admin: subscribe %s: %s\n", name, err.msg);
		free(name);
	}
	buf_free(&b);
}

static int mbox_tree(struct import_run *r, const char *dir, const char *rel,
		     const char *prefix, int depth);

/* One entry of a directory of mbox files: a mailbox or a level. */
static int mbox_entry(struct import_run *r, const char *path, const char *rel,
		      const char *prefix, int depth)
{
	struct stat sb;
	char *name;
	int rc;

	if (stat(path, &sb) < 0 || (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)))
		return 0;
	if (S_ISDIR(sb.st_mode))
		return mbox_tree(r, path, rel, prefix, depth + 1);
	if (depth == 0 && strcasecmp(rel, "INBOX") == 0)
		name = prefix ? xasprintf("%s/INBOX", prefix) : xstrdup("INBOX");
	else if ((name = dest_name(prefix, rel, '/')) == NULL)
		return -1;
	rc = import_mbox_file(r, path, name);
	free(name);
	return rc;
}

static int mbox_tree(struct import_run *r, const char *dir, const char *rel,
		     const char *prefix, int depth)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > IMPORT_DEPTH_MAX || (d = opendir(dir)) == NULL) {
		fprintf(stderr, "haven-admin: %s: cannot read the directory\n", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *path, *sub;
		if (de->d_name[0] == '.')
			continue;   /* ., .., Dovecot's .imap, our .haven-index */
		path = xasprintf("%s/%s", dir, de->d_name);
		sub = rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (mbox_entry(r, path, sub, prefix, depth) < 0)
			rc = -1;
		free(path);
		free(sub);
	}
	closedir(d);
	return rc;
}

/* The INBOX of a Maildir++ tree and its ".Sub.Box" folders. */
static int maildir_tree(struct import_run *r, const char *root, const char *prefix)
{
	char *inbox = prefix ? xasprintf("%s/INBOX", prefix) : xstrdup("INBOX");
	int rc = import_maildir(r, root, inbox);
	DIR *d = opendir(root);
	struct dirent *de;

	free(inbox);
	while (d && (de = readdir(d)) != NULL) {
		char *path, *name;
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' || de->d_name[1] == '.')
			continue;
		path = xasprintf("%s/%s", root, de->d_name);
		if (is_maildir(path) && (name = dest_name(prefix, de->d_name + 1, '.')) != NULL) {
			if (import_maildir(r, path, name) < 0)
				rc = -1;
			free(name);
		}
		free(path);
	}
	if (d)
		closedir(d);
	return rc;
}

static int import_source(struct import_run *r, const char *src, const char *dest)
{
	char *subs;
	int rc;

	if (!is_dir(src)) {
		const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
		char *name = dest ? xstrdup(dest) : strcasecmp(base, "INBOX") == 0 ?
			xstrdup("INBOX") : dest_name(NULL, base, '/');
		rc = name ? import_mbox_file(r, src, name) : -1;
		free(name);
		return rc;
	}
	if (is_maildir(src)) {
		rc = maildir_tree(r, src, dest);
		subs = xasprintf("%s/subscriptions", src);
		subscriptions_import(r, subs, dest, '.');
	} else {
		rc = mbox_tree(r, src, NULL, dest, 0);
		subs = xasprintf("%s/.subscriptions", src);
		subscriptions_import(r, subs, dest, '/');
	}
	free(subs);
	return rc;
}

/* USER SOURCE [-m DEST] [-f], options anywhere after USER. */
static int args_parse(int argc, char **argv, const char **pos, const char **dest,
		      unsigned *flags)
{
	int npos = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			*flags |= IMPORT_REPLACE;
		else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
			*dest = argv[++i];
		else if (argv[i][0] == '-' || npos == 2)
			return -1;
		else
			pos[npos++] = argv[i];
	}
	return npos == 2 ? 0 : -1;
}

enum admin_status admin_import(const struct admin_opts *o, int argc, char **argv)
{
	struct import_run r = { 0 };
	struct admin_user au;
	const char *pos[2], *dest = NULL;
	enum admin_status rc;

	if (args_parse(argc, argv, pos, &dest, &r.flags) < 0)
		return ADMIN_USAGE;
	if ((rc = admin_user_open(o, pos[0], &au)) != ADMIN_OK)
		return rc;
	r.st = au.st;
	r.max = (size_t)au.cfg.max_literal;
	if (import_source(&r, pos[1], dest) < 0)
		rc = ADMIN_FAILED;
	printf("imported %zu mailboxes, %zu messages%s\n", r.mailboxes, r.messages,
	       rc == ADMIN_OK ? "" : " (some failed: see above; run again to retry them)");
	admin_user_close(&au);
	return rc;
}
