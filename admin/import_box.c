/* One mailbox imported (import.h): the source read twice, first for its
 * UIDs (the store is told UIDVALIDITY and UIDNEXT before any message),
 * then message by message into store_import_*, which makes the mailbox
 * appear only when it is complete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/xmalloc.h"
#include "import.h"

uint32_t import_uid_plan(uint32_t *uids, size_t n, uint32_t src_uidnext)
{
	uint32_t last = 0;

	for (size_t i = 0; i < n; i++) {
		if (uids[i] == 0 || uids[i] <= last)
			uids[i] = last + 1 > src_uidnext ? last + 1 : src_uidnext;
		last = uids[i];
	}
	return last + 1 > src_uidnext ? last + 1 : src_uidnext;
}

static void import_fail(const char *name, const struct error *err)
{
	fprintf(stderr, "haven-admin: import into %s: %s%s\n", name, err->msg,
		err->code == ERR_ALREADYEXISTS ? " (import -f replaces it)" : "");
}

static int message_put(struct importer *im, uint32_t uid, const struct src_msg *m,
		       struct error *err)
{
	return store_import_message(im, uid, m->flags, (const char *const *)m->kw, m->nkw,
				    m->idate ? m->idate : time(NULL), 0, m->body.data ? m->body.data : "",
				    m->body.len, err);
}

/* Pass one over an mbox file: its UIDs and base. */
static int mbox_uids(FILE *f, const char *path, size_t max, uint32_t **uids, size_t *n,
		     struct src_mbox *s, struct error *err)
{
	struct src_msg m = { 0 };
	int rc;

	*uids = NULL;
	*n = 0;
	if (src_mbox_open(s, f, path, max, err) < 0)
		return -1;
	while ((rc = src_mbox_next(s, &m, err)) == 1) {
		*uids = xreallocarray(*uids, *n + 1, sizeof(**uids));
		(*uids)[(*n)++] = m.uid;
	}
	src_msg_free(&m);
	src_mbox_close(s);
	return rc;
}

/* Pass two: the messages under the planned UIDs. */
static int mbox_put(struct importer *im, FILE *f, const char *path, size_t max,
		    const uint32_t *uids, size_t n, struct error *err)
{
	struct src_mbox s;
	struct src_msg m = { 0 };
	size_t i = 0;
	int rc;

	if (src_mbox_open(&s, f, path, max, err) < 0)
		return -1;
	while ((rc = src_mbox_next(&s, &m, err)) == 1) {
		if (i >= n) {
			error_set(err, ERR_CANNOT, "%s changed while being imported", path);
			rc = -1;
			break;
		}
		if (message_put(im, uids[i++], &m, err) < 0) {
			rc = -1;
			break;
		}
	}
	src_msg_free(&m);
	src_mbox_close(&s);
	return rc;
}

static void report(struct import_run *r, const char *name, size_t n, uint32_t uv, uint32_t next)
{
	printf("%s: %zu messages (UIDVALIDITY %u, UIDNEXT %u)\n", name, n, uv, next);
	fflush(stdout);
	r->mailboxes++;
	r->messages += n;
}

/* An import run again after a failure: a mailbox it already made (same
 * UIDVALIDITY, UIDNEXT and count) is left as it is. */
static int already_there(struct import_run *r, const char *name, size_t n, uint32_t uv,
			 uint32_t next)
{
	struct mailbox_status s;
	struct error err;

	if (r->flags & IMPORT_REPLACE || store_status(r->st, name, &s, &err) < 0 ||
	    s.uidvalidity != uv || s.uidnext != next || s.messages != n || n == 0)
		return 0;
	printf("%s: already imported (UIDVALIDITY %u, UIDNEXT %u, %zu messages)\n", name, uv,
	       next, n);
	fflush(stdout);
	return 1;
}

int import_mbox_file(struct import_run *r, const char *path, const char *name)
{
	FILE *f = fopen(path, "re");
	struct src_mbox s;
	struct importer *im;
	struct error err;
	uint32_t *uids = NULL, uv, next;
	size_t n = 0;
	int rc = -1;

	if (f == NULL) {
		fprintf(stderr, "haven-admin: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (mbox_uids(f, path, r->max, &uids, &n, &s, &err) < 0)
		goto out;
	uv = s.have_base ? s.uidvalidity : (uint32_t)time(NULL);
	next = import_uid_plan(uids, n, s.have_base ? s.uidnext : 1);
	rewind(f);
	if (s.have_base && already_there(r, name, n, uv, next)) {
		rc = 0;
		goto out;
	}
	if (store_import_begin(r->st, name, uv, next, r->flags, &im, &err) < 0)
		goto out;
	if (mbox_put(im, f, path, r->max, uids, n, &err) < 0) {
		store_import_abort(im);
		goto out;
	}
	if ((rc = store_import_finish(im, &err)) == 0)
		report(r, name, n, uv, next);
out:
	if (rc < 0)
		import_fail(name, &err);
	free(uids);
	fclose(f);
	return rc;
}

static int maildir_put(struct importer *im, struct src_maildir *md, const uint32_t *uids,
		       struct error *err)
{
	struct src_msg m = { 0 };
	int rc = 0;

	for (size_t i = 0; i < md->n && rc == 0; i++) {
		if ((rc = src_maildir_read(md, i, &m, err)) == 0)
			rc = message_put(im, uids[i], &m, err);
	}
	src_msg_free(&m);
	return rc;
}

int import_maildir(struct import_run *r, const char *path, const char *name)
{
	struct src_maildir md;
	struct importer *im;
	struct error err;
	uint32_t *uids = NULL, uv, next;
	int rc = -1;

	if (src_maildir_open(&md, path, r->max, &err) < 0)
		goto out;
	uids = xreallocarray(NULL, md.n ? md.n : 1, sizeof(*uids));
	for (size_t i = 0; i < md.n; i++)
		uids[i] = md.f[i].uid;
	uv = md.ul.uidvalidity ? md.ul.uidvalidity : (uint32_t)time(NULL);
	next = import_uid_plan(uids, md.n, md.ul.uidnext ? md.ul.uidnext : 1);
	if (md.ul.uidvalidity && already_there(r, name, md.n, uv, next)) {
		rc = 0;
		goto out;
	}
	if (store_import_begin(r->st, name, uv, next, r->flags, &im, &err) < 0)
		goto out;
	if (maildir_put(im, &md, uids, &err) < 0) {
		store_import_abort(im);
		goto out;
	}
	if ((rc = store_import_finish(im, &err)) == 0)
		report(r, name, md.n, uv, next);
out:
	if (rc < 0)
		import_fail(name, &err);
	free(uids);
	src_maildir_close(&md);
	return rc;
}
