/* GETMETADATA and SETMETADATA (RFC 5464), server entries (mailbox "")
 * and mailbox entries, through store_metadata_*.
 *
 * The server's /shared entries are the administrator's (haven.conf:
 * metadata_server_admin, metadata_server_comment): read-only for users,
 * as RFC 5464 3.3 allows. /private server entries are the user's own.
 * An entry asked for that does not exist, with nothing below it either,
 * is answered NIL (as Dovecot does); entries below it (DEPTH) only when
 * they exist. */
#include <string.h>

#include "../lib/buf.h"
#include "metadata.h"
#include "worker.h"

/* One entry found for GETMETADATA. */
struct md_found {
	const char *entry;
	const void *value;       /* NULL: asked for, absent (NIL) */
	size_t len;
};

struct md_collect {
	struct arena *a;
	const char *asked;
	int depth;
	size_t asked_at;         /* its place in v: NIL until it is found */
	struct md_found *v;
	size_t n, cap;
};

static void md_add(struct md_collect *c, const char *entry, const void *value, size_t len)
{
	if (c->n == c->cap) {
		struct md_found *nv;
		c->cap = c->cap ? c->cap * 2 : 8;
		nv = arena_alloc(c->a, c->cap * sizeof(*nv));
		if (c->n)
			memcpy(nv, c->v, c->n * sizeof(*nv));
		c->v = nv;
	}
	c->v[c->n].entry = arena_strdup(c->a, entry);
	c->v[c->n].value = value ? memcpy(arena_alloc(c->a, len + 1), value, len) : NULL;
	c->v[c->n++].len = len;
}

static void md_found_cb(void *ctx, const char *entry, const void *value, size_t len)
{
	struct md_collect *c = ctx;

	if (!metadata_depth_match(c->asked, entry, c->depth))
		return;
	if (strcmp(entry, c->asked) == 0) {
		c->v[c->asked_at].value = memcpy(arena_alloc(c->a, len + 1), value, len);
		c->v[c->asked_at].len = len;
		return;
	}
	md_add(c, entry, value, len);
}

/* An entry asked for with DEPTH that does not exist itself is not told
 * as NIL when entries below it are (RFC 5464 4.2.2's example; Dovecot
 * alike): NIL says there is nothing. */
static void md_drop_empty_parent(struct md_collect *c)
{
	size_t at = c->asked_at;

	if (c->v[at].value != NULL || c->n == at + 1)
		return;
	memmove(&c->v[at], &c->v[at + 1], (c->n - at - 1) * sizeof(*c->v));
	c->n--;
}

/* The server's /shared entries, from the configuration. */
static void md_server_entries(struct md_collect *c)
{
	const struct { const char *entry, *value; } conf[] = {
		{ "/shared/admin", W->cfg.metadata_server_admin },
		{ "/shared/comment", W->cfg.metadata_server_comment },
	};

	for (size_t i = 0; i < sizeof(conf) / sizeof(conf[0]); i++)
		if (conf[i].value && conf[i].value[0])
			md_found_cb(c, conf[i].entry, conf[i].value, strlen(conf[i].value));
}

/* "" (the server) or a mailbox name in UTF-8; NULL after answering. */
static const char *md_mailbox(struct session *s, const struct imap_cmd *cmd,
			      const struct imap_arg *a)
{
	if (imap_arg_is_string(a) && a->len == 0)
		return "";
	return mailbox_arg_reply(s, cmd, a);
}

/* A value as a quoted string, a literal, or literal8 when it holds NUL. */
static void md_write_value(struct session *s, const void *v, size_t len)
{
	const unsigned char *p = v;
	int quotable = len < 1024;

	for (size_t i = 0; quotable && i < len; i++)
		quotable = p[i] >= 0x20 && p[i] < 0x7f;
	if (memchr(v, '\0', len)) {
		session_write_literal8(s, v, len);
	} else if (!quotable) {
		session_write_literal(s, v, len);
	} else {
		struct buf b = BUF_INIT;
		buf_append_byte(&b, '"');
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '"' || p[i] == '\\')
				buf_append_byte(&b, '\\');
			buf_append_byte(&b, (char)p[i]);
		}
		buf_append_byte(&b, '"');
		session_write(s, b.data, b.len);
		buf_free(&b);
	}
}

/* An entry name (printable ASCII): an atom when it is one, else quoted. */
static void md_write_entry(struct session *s, const char *entry)
{
	if (strpbrk(entry, " (){%*\"\\]") == NULL)
		session_write(s, entry, strlen(entry));
	else
		md_write_value(s, entry, strlen(entry));
}

static void md_write_mailbox(struct session *s, const char *name)
{
	const char *wire = name[0] ? mailbox_name_out(s, name) : "";

	mailbox_write(s, wire ? wire : name);
}

/* "* METADATA mailbox (entry value ...)" of what fits MAXSIZE; the
 * largest value left out, or 0. */
static uint64_t md_write_found(struct session *s, const char *mailbox,
			       const struct metadata_get_req *req, const struct md_found *v,
			       size_t n)
{
	uint64_t longest = 0;
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		if (req->has_maxsize && v[i].value && v[i].len > req->maxsize) {
			longest = v[i].len > longest ? v[i].len : longest;
			continue;
		}
		if (first) {
			session_write(s, "* METADATA ", 11);
			md_write_mailbox(s, mailbox);
			session_write(s, " (", 2);
		}
		else
			session_write(s, " ", 1);
		first = 0;
		md_write_entry(s, v[i].entry);
		session_write(s, " ", 1);
		if (v[i].value)
			md_write_value(s, v[i].value, v[i].len);
		else
			session_write(s, "NIL", 3);
	}
	if (!first)
		session_write(s, ")\r\n", 3);
	return longest;
}

void cmd_getmetadata(struct session *s, const struct imap_cmd *cmd)
{
	struct metadata_get_req req;
	struct md_collect c = { .a = s->arena };
	const char *why, *mailbox;
	struct error err;
	uint64_t longest;

	if (metadata_get_parse(s->arena, cmd->args, cmd->nargs, &req, &why) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
		return;
	}
	if ((mailbox = md_mailbox(s, cmd, req.mailbox)) == NULL)
		return;
	c.depth = req.depth;
	for (size_t i = 0; i < req.n; i++) {
		c.asked = req.entries[i];
		c.asked_at = c.n;
		md_add(&c, c.asked, NULL, 0);
		if (store_metadata_list(W->store, mailbox, c.asked, md_found_cb, &c, &err) < 0) {
			session_tagged_error(s, cmd->tag, &err);
			return;
		}
		if (mailbox[0] == '\0')
			md_server_entries(&c);
		md_drop_empty_parent(&c);
	}
	longest = md_write_found(s, mailbox, &req, c.v, c.n);
	if (longest)
		session_tagged(s, cmd->tag, "OK", NULL, "[METADATA LONGENTRIES %llu] "
			       "GETMETADATA completed", (unsigned long long)longest);
	else
		session_tagged(s, cmd->tag, "OK", NULL, "GETMETADATA completed");
}

/* A reason to refuse the set before the store sees it (NO), or NULL. */
static int md_set_refused(struct session *s, const struct imap_cmd *cmd, const char *mailbox,
			  const struct metadata_set_req *req)
{
	for (size_t i = 0; i < req->n; i++) {
		if (req->v[i].value && req->v[i].len > (size_t)W->cfg.metadata_max_value_size) {
			session_tagged(s, cmd->tag, "NO", NULL, "[METADATA MAXSIZE %ld] "
				       "Value too large", W->cfg.metadata_max_value_size);
			return 1;
		}
		if (mailbox[0] == '\0' && strncmp(req->v[i].entry, "/shared/", 8) == 0) {
			session_tagged(s, cmd->tag, "NO", "NOPERM",
				       "Shared server entries are the administrator's");
			return 1;
		}
	}
	return 0;
}

void cmd_setmetadata(struct session *s, const struct imap_cmd *cmd)
{
	struct metadata_set_req req;
	struct metadata_limits lim = {
		(size_t)W->cfg.metadata_max_entries, (uint64_t)W->cfg.metadata_max_total_size
	};
	const char *why, *mailbox;
	struct error err;

	if (metadata_set_parse(s->arena, cmd->args, cmd->nargs, &req, &why) < 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "%s", why);
		return;
	}
	if ((mailbox = md_mailbox(s, cmd, req.mailbox)) == NULL ||
	    md_set_refused(s, cmd, mailbox, &req))
		return;
	if (store_metadata_set(W->store, mailbox, req.v, req.n, &lim, &err) < 0) {
		if (err.code == ERR_LIMIT)
			session_tagged(s, cmd->tag, "NO", NULL, "[METADATA TOOMANY] %s", err.msg);
		else
			session_tagged_error(s, cmd->tag, &err);
		return;
	}
	session_tagged(s, cmd->tag, "OK", NULL, "SETMETADATA completed");
}

/* SETMETADATA's literals are decided as announced: a value bigger than
 * metadata_max_value_size is refused unread (a client may not make the
 * worker hold max_literal bytes for it), an entry name longer than any
 * valid one too. */
enum literal_action setmetadata_literal(struct session *s, const struct imap_cmd *cmd,
					const struct imap_literal *lit)
{
	const struct imap_arg *l = cmd && cmd->nargs == 2 ? &cmd->args[1] : NULL;
	int value = l && l->type == IMAP_ARG_LIST && l->count % 2 == 0 &&
		    cmd->literal == &l->list[l->count - 1];

	if (cmd == NULL)
		return LIT_READ;
	if (value && lit->size > (uint64_t)W->cfg.metadata_max_value_size) {
		session_tagged(s, cmd->tag, "NO", NULL, "[METADATA MAXSIZE %ld] Value too large",
			       W->cfg.metadata_max_value_size);
		return LIT_REFUSED;
	}
	if (!value && lit->size > STORE_METADATA_ENTRY_MAX) {
		session_tagged(s, cmd->tag, "BAD", NULL, "Entry name too long");
		return LIT_REFUSED;
	}
	return LIT_READ;
}
