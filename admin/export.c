/* haven-admin export USER DEST: every mailbox of the user as an mbox file
 * under the new directory DEST, in the form Dovecot writes and import
 * reads (X-IMAPbase, X-UID, Status, X-Status, X-Keywords, Content-Length;
 * INBOX as DEST/INBOX, Sub/Box as DEST/Sub/Box, names in modified UTF-7),
 * and the subscriptions as DEST/.subscriptions: exported then imported,
 * a mailbox comes back identical. A mailbox that is empty keeps its
 * UIDVALIDITY and UIDNEXT in a pseudo message, as UW-IMAP's do. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lib/xmalloc.h"
#include "../mail/mutf7.h"
#include "userstore.h"

struct export_list {
	struct {
		char *name;
		unsigned attrs;
	} *v;
	size_t n;
};

static void list_add(void *ctx, const char *name, unsigned attrs)
{
	struct export_list *l = ctx;

	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n].name = xstrdup(name);
	l->v[l->n++].attrs = attrs;
}

static void from_line(FILE *out, time_t t)
{
	struct tm tm;
	char date[64];

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a %b %d %H:%M:%S %Y", &tm);
	fprintf(out, "From MAILER-DAEMON  %s\n", date);
}

static void pseudo_write(FILE *out, const struct mailbox_status *s)
{
	from_line(out, time(NULL));
	fprintf(out, "From: Mail System Internal Data <MAILER-DAEMON@localhost>\n"
		"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		"X-IMAP: %" PRIu32 " %010" PRIu32 "\nStatus: RO\n\n"
		"This text is part of the internal format of your mail folder, and is not\n"
		"a real message.  It keeps the folder's UIDs while it holds no mail.\n\n",
		s->uidvalidity, s->uidnext - 1);
}

/* The message in mbox form: CRLF as LF; where its body starts (after the
 * first empty line), for Content-Length. */
static void lf_form(const struct buf *in, struct buf *out, size_t *body_at)
{
	*body_at = SIZE_MAX;
	for (size_t i = 0; i < in->len; i++) {
		if (in->data[i] == '\r' && i + 1 < in->len && in->data[i + 1] == '\n')
			continue;
		buf_append_byte(out, in->data[i]);
		if (*body_at == SIZE_MAX && in->data[i] == '\n' &&
		    (out->len == 1 || out->data[out->len - 2] == '\n'))
			*body_at = out->len;
	}
}

static void state_write(FILE *out, struct mailbox *mb, const struct msg_meta *m,
			const struct mailbox_status *s, int first, uint64_t clen)
{
	const char *const *names;
	size_t nnames = mailbox_keywords(mb, &names);

	if (first)
		fprintf(out, "X-IMAPbase: %" PRIu32 " %010" PRIu32 "\n", s->uidvalidity,
			s->uidnext - 1);
	fprintf(out, "X-UID: %" PRIu32 "\nStatus: %sO\nX-Status: %s%s%s%s\nX-Keywords:", m->uid,
		m->flags & MF_SEEN ? "R" : "", m->flags & MF_ANSWERED ? "A" : "",
		m->flags & MF_FLAGGED ? "F" : "", m->flags & MF_DELETED ? "D" : "",
		m->flags & MF_DRAFT ? "T" : "");
	for (size_t k = 0; k < m->nkw; k++)
		if (m->kw[k] < nnames)
			fprintf(out, " %s", names[m->kw[k]]);
	fprintf(out, "\nContent-Length: %" PRIu64 "\n", clen);
}

static int message_read(struct mailbox *mb, uint32_t uid, struct buf *b, struct error *err)
{
	struct msg_stream *s;
	char tmp[65536];
	uint64_t off = 0;
	ssize_t got;

	if (mailbox_open_message(mb, uid, &s, err) < 0)
		return -1;
	while ((got = s->ops->pread(s, tmp, sizeof(tmp), off)) > 0) {
		buf_append(b, tmp, (size_t)got);
		off += (uint64_t)got;
	}
	s->ops->close(s);
	if (got < 0) {
		error_set(err, ERR_INTERNAL, "cannot read message %u", uid);
		return -1;
	}
	return 0;
}

static int message_write(FILE *out, struct mailbox *mb, uint32_t seq,
			 const struct mailbox_status *s, struct error *err)
{
	const struct msg_meta *m = mailbox_meta(mb, seq);
	struct buf raw = BUF_INIT, lf = BUF_INIT;
	size_t body_at;
	int rc;

	if (m == NULL)
		return 0;   /* expunged meanwhile */
	from_line(out, m->internaldate);
	rc = message_read(mb, m->uid, &raw, err);
	if (rc == 0) {
		m = mailbox_meta(mb, seq);   /* the pointer lasts until the next call */
		lf_form(&raw, &lf, &body_at);
		state_write(out, mb, m, s, seq == 1,
			    body_at == SIZE_MAX ? 0 : (uint64_t)(lf.len - body_at));
		fwrite(lf.data ? lf.data : "", 1, lf.len, out);
		fputc('\n', out);
	}
	buf_free(&raw);
	buf_free(&lf);
	return rc;
}

static int mailbox_export(struct store *st, const char *name, FILE *out, struct error *err)
{
	struct mailbox_status s;
	struct mailbox *mb;
	int rc = 0;

	if (mailbox_select(st, name, 1, &mb, &s, err) < 0)
		return -1;
	if (mailbox_count(mb) == 0)
		pseudo_write(out, &s);
	for (uint32_t seq = 1; seq <= mailbox_count(mb) && rc == 0; seq++)
		rc = message_write(out, mb, seq, &s, err);
	mailbox_close(mb);
	return rc;
}

/* DEST/name's path (levels made), names in modified UTF-7. */
static char *path_make(const char *dest, const char *name)
{
	struct buf b = BUF_INIT;
	char *path;

	mutf7_encode(name, strlen(name), &b);
	buf_append_byte(&b, '\0');
	path = xasprintf("%s/%s", dest, b.data);
	buf_free(&b);
	for (char *p = path + strlen(dest) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			fprintf(stderr, "haven-admin: mkdir %s: %s\n", path, strerror(errno));
		*p = '/';
	}
	return path;
}

static int export_one(struct store *st, const char *dest, const char *name)
{
	char *path = path_make(dest, name);
	FILE *out = fopen(path, "wx");
	struct error err;
	int rc = -1;

	if (out == NULL) {
		fprintf(stderr, "haven-admin: %s: %s\n", path, strerror(errno));
		free(path);
		return -1;
	}
	if (mailbox_export(st, name, out, &err) < 0)
		fprintf(stderr, "haven-admin: %s: %s\n", name, err.msg);
	else
		rc = 0;
	if (fclose(out) != 0 && rc == 0) {
		fprintf(stderr, "haven-admin: %s: %s\n", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		printf("%s: exported to %s\n", name, path);
	free(path);
	return rc;
}

/* Dovecot's format: "V\t2", an empty line, names with '\t' between
 * levels. */
static int subscriptions_write(const char *dest, const struct export_list *l)
{
	char *path = xasprintf("%s/.subscriptions", dest);
	FILE *out = fopen(path, "wx");
	int rc = out ? 0 : -1;

	if (out) {
		fprintf(out, "V\t2\n\n");
		for (size_t i = 0; i < l->n; i++) {
			if (!(l->v[i].attrs & MA_SUBSCRIBED))
				continue;
			for (const char *p = l->v[i].name; *p; p++)
				fputc(*p == '/' ? '\t' : *p, out);
			fputc('\n', out);
		}
		rc = fclose(out) == 0 ? 0 : -1;
	}
	if (rc < 0)
		fprintf(stderr, "haven-admin: %s: %s\n", path, strerror(errno));
	free(path);
	return rc;
}

enum admin_status admin_export(const struct admin_opts *o, int argc, char **argv)
{
	struct export_list l = { 0 };
	struct admin_user au;
	struct error err;
	enum admin_status rc;

	if (argc != 2)
		return ADMIN_USAGE;
	if ((rc = admin_user_open(o, argv[0], &au)) != ADMIN_OK)
		return rc;
	if (mkdir(argv[1], 0700) < 0) {
		fprintf(stderr, "haven-admin: %s: %s (export makes a new directory)\n", argv[1],
			strerror(errno));
		rc = ADMIN_FAILED;
	} else if (store_list(au.st, list_add, &l, &err) < 0) {
		fprintf(stderr, "haven-admin: %s\n", err.msg);
		rc = ADMIN_FAILED;
	}
	for (size_t i = 0; i < l.n && rc == ADMIN_OK; i++)
		if (!(l.v[i].attrs & (MA_NOSELECT | MA_NONEXISTENT)) &&
		    export_one(au.st, argv[1], l.v[i].name) < 0)
			rc = ADMIN_FAILED;
	if (rc == ADMIN_OK && subscriptions_write(argv[1], &l) < 0)
		rc = ADMIN_FAILED;
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].name);
	free(l.v);
	admin_user_close(&au);
	return rc;
}
