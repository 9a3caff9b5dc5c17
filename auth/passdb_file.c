/* The `file` passdb: user:password:uid:gid:gecos:home:shell, like the
 * passwd-file format administrators know from other servers. The whole
 * file is re-read when its mtime, size or inode changes, so edits take
 * effect without a restart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "passdb.h"

#define PASSDB_MAX_USERS 1000000

struct passdb_file {
	char *path;
	struct stat st;
	int loaded;
	struct passdb_user *users;
	size_t n, cap;
};

struct passdb_file *passdb_file_open(const char *path)
{
	struct passdb_file *p = xcalloc(1, sizeof(*p));
	p->path = xstrdup(path);
	return p;
}

void passdb_file_close(struct passdb_file *p)
{
	if (p == NULL)
		return;
	free(p->users);
	free(p->path);
	free(p);
}

static int copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int parse_id(const char *s, size_t n, long *out)
{
	long v = 0;
	if (n == 0) {
		*out = -1;
		return 0;
	}
	if (n > 10)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > 0x7fffffffL)
		return -1;
	*out = v;
	return 0;
}

int passdb_file_parse_line(const char *line, struct passdb_user *out)
{
	const char *f[7];
	size_t len[7];
	size_t nf = 0;
	const char *p = line;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#' || *p == '\n' || *p == '\r')
		return 0;
	memset(out, 0, sizeof(*out));
	for (;;) {
		const char *e = p;
		while (*e && *e != ':' && *e != '\n' && *e != '\r')
			e++;
		if (nf < 7) {
			f[nf] = p;
			len[nf] = (size_t)(e - p);
			nf++;
		}
		if (*e != ':')
			break;
		p = e + 1;
	}
	if (nf < 2 || len[0] == 0)
		return -1;
	while (nf < 7) {
		f[nf] = "";
		len[nf++] = 0;
	}
	if (copy_field(out->name, sizeof(out->name), f[0], len[0]) < 0 ||
	    copy_field(out->hash, sizeof(out->hash), f[1], len[1]) < 0 ||
	    copy_field(out->home, sizeof(out->home), f[5], len[5]) < 0 ||
	    parse_id(f[2], len[2], &out->uid) < 0 || parse_id(f[3], len[3], &out->gid) < 0)
		return -1;
	if (!passdb_user_name_valid(out->name))
		return -1;
	return 1;
}

/* strict (havend -t): a malformed line is an error, not a warning. */
static int reload(struct passdb_file *p, int strict, struct error *err)
{
	FILE *fp = fopen(p->path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	struct stat st;

	if (fp == NULL) {
		error_set(err, ERR_UNAVAILABLE, "passdb %s: %s", p->path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(err, ERR_UNAVAILABLE, "passdb %s: %s", p->path,
			  S_ISREG(st.st_mode) ? strerror(errno) : "not a regular file");
		fclose(fp);
		return -1;
	}
	p->n = 0;
	while (getline(&line, &cap, fp) > 0) {
		struct passdb_user u;
		int r;
		lineno++;
		r = passdb_file_parse_line(line, &u);
		if (r < 0 && strict) {
			error_set(err, ERR_PARSE, "passdb %s:%u: malformed line", p->path, lineno);
			free(line);
			fclose(fp);
			p->n = 0;
			return -1;
		}
		if (r < 0) {
			log_warn("passdb %s:%u: malformed line ignored", p->path, lineno);
			continue;
		}
		if (r == 0)
			continue;
		if (p->n == PASSDB_MAX_USERS) {
			log_warn("passdb %s: more than %d users, rest ignored", p->path,
				 PASSDB_MAX_USERS);
			break;
		}
		if (p->n == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 64;
			p->users = xreallocarray(p->users, p->cap, sizeof(*p->users));
		}
		p->users[p->n++] = u;
	}
	free(line);
	/* A read error is not "no more users": answer tempfail rather than
	 * turn every login into a wrong password. */
	if (ferror(fp)) {
		error_set(err, ERR_UNAVAILABLE, "passdb %s: read error", p->path);
		fclose(fp);
		p->loaded = 0;
		p->n = 0;
		return -1;
	}
	fclose(fp);
	p->st = st;
	p->loaded = 1;
	log_debug("passdb %s: %zu users", p->path, p->n);
	return 0;
}

int passdb_file_lookup(struct passdb_file *p, const char *user, struct passdb_user *out,
		       struct error *err)
{
	struct stat st;
	if (stat(p->path, &st) < 0) {
		error_set(err, ERR_UNAVAILABLE, "passdb %s: %s", p->path, strerror(errno));
		return -1;
	}
	if (!p->loaded || st.st_mtim.tv_sec != p->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != p->st.st_mtim.tv_nsec || st.st_size != p->st.st_size ||
	    st.st_ino != p->st.st_ino) {
		if (reload(p, 0, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->users[i].name, user) == 0) {
			*out = p->users[i];
			return 1;
		}
	}
	return 0;
}

int passdb_file_check(const char *path, size_t *nusers, struct error *err)
{
	struct passdb_file *p = passdb_file_open(path);
	int r = reload(p, 1, err);

	*nusers = p->n;
	passdb_file_close(p);
	return r;
}

/* ---- the vtable ----------------------------------------------------------- */

struct pdb_file {
	struct passdb base;
	struct passdb_file *f;
	char like[128];   /* the setting of the last hash verified (password_like) */
};

static struct passdb *file_open(const struct config *cfg, const char *arg)
{
	struct pdb_file *p = xcalloc(1, sizeof(*p));
	char *dummy = password_dummy_hash();

	p->f = passdb_file_open(arg);
	password_like(dummy, p->like, sizeof(p->like));
	free(dummy);
	return &p->base;
}

static void file_close(struct passdb *pd)
{
	struct pdb_file *p = (struct pdb_file *)pd;
	passdb_file_close(p->f);
	free(p);
}

static int file_check(const struct config *cfg, const char *arg, struct error *err)
{
	size_t n;

	if (passdb_file_check(arg, &n, err) < 0)
		return -1;
	if (n == 0)
		log_warn("passdb %s has no users", arg);
	return 0;
}

static void record_of(const struct passdb_user *u, struct passdb_record *rec)
{
	passdb_record_init(rec, u->name);
	snprintf(rec->home, sizeof(rec->home), "%s", u->home);
	rec->uid = u->uid;
	rec->gid = u->gid;
	snprintf(rec->secret, sizeof(rec->secret), "%s", u->hash);
}

static enum passdb_result file_lookup(struct passdb *pd, const char *user,
				      struct passdb_record *rec)
{
	struct pdb_file *p = (struct pdb_file *)pd;
	struct passdb_user u;
	struct error err;
	int found = passdb_file_lookup(p->f, user, &u, &err);

	if (found < 0) {
		log_err("%s", err.msg);
		passdb_record_init(rec, user);
		snprintf(rec->reason, sizeof(rec->reason), "passdb file unreadable");
		return PDB_TEMPFAIL;
	}
	if (!found)
		return PDB_UNKNOWN;
	record_of(&u, rec);
	explicit_bzero(u.hash, sizeof(u.hash));
	/* "!" before the hash: disabled (haven-admin user disable, usermod
	 * -L): no login, and LMTP answers 5.2.1 as for a disabled SQL user. */
	return rec->secret[0] == '!' ? PDB_MISMATCH : PDB_OK;
}

static enum passdb_result file_verify(struct passdb *pd, const struct passdb_query *q,
				      struct passdb_record *rec)
{
	struct pdb_file *p = (struct pdb_file *)pd;
	enum passdb_result r = file_lookup(pd, q->user, rec);

	/* An unknown or disabled user costs the hash work of the last known
	 * one. */
	if (r == PDB_UNKNOWN || r == PDB_MISMATCH)
		password_burn(q->password, p->like);
	if (r != PDB_OK)
		return r;
	password_like(rec->secret, p->like, sizeof(p->like));
	if (q->known[0] && strcmp(q->known, rec->secret) == 0)
		return PDB_OK;
	return password_verify(q->password, rec->secret, pd->cfg->allow_plain_passwords) == 1
		? PDB_OK : PDB_MISMATCH;
}

const struct passdb_ops passdb_file_ops = {
	.name = "file",
	.check = file_check,
	.open = file_open,
	.close = file_close,
	.verify = file_verify,
	.lookup = file_lookup,
};
