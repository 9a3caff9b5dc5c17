/* RETURN (UPDATE) (RFC 5267 4.3): a SEARCH or SORT result kept up to date
 * while the mailbox stays selected. Each context keeps its program (its
 * own copy, the command's arena being gone) and the result as the client
 * has it, as UIDs in the requested order. When the view changes it is
 * evaluated again, and the difference is told as REMOVEFROM then ADDTO:
 * position 0 and mailbox order for SEARCH, the positions in sort order
 * for SORT (sort keys never change, so what stays keeps its order). An
 * expunge is told on its own, before the EXPUNGE that renumbers. */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "search_update.h"

struct search_update {
	char *tag;
	int by_uid;
	int sorted;
	struct arena *a;            /* the program's copy */
	struct search_program prog;
	struct sort_spec sp;
	uint32_t *uids;             /* the client's result, requested order */
	size_t n;
	struct search_update *next;
};

int search_update_tag_used(const struct wsession *ws, const char *tag)
{
	for (const struct search_update *u = ws->updates; u; u = u->next)
		if (strcmp(u->tag, tag) == 0)
			return 1;
	return 0;
}

static const char *copy_bytes(struct arena *a, const char *p, size_t n)
{
	return p ? arena_strndup(a, p, n) : NULL;
}

/* The program's nodes are one flat array; strings and ranges copied. */
static void copy_program(struct arena *a, struct search_program *dst,
			 const struct search_program *src)
{
	*dst = *src;
	dst->nodes = arena_alloc(a, (src->nnodes ? src->nnodes : 1) * sizeof(*dst->nodes));
	for (size_t i = 0; i < src->nnodes; i++) {
		struct search_node *d = &dst->nodes[i];
		*d = src->nodes[i];
		d->field = copy_bytes(a, d->field, d->field_len);
		d->str = copy_bytes(a, d->str, d->len);
		if (d->set.n) {
			d->set.r = arena_alloc(a, d->set.n * sizeof(*d->set.r));
			memcpy(d->set.r, src->nodes[i].set.r, d->set.n * sizeof(*d->set.r));
		}
	}
}

/* Sequence numbers and "$" were meant as they were when the command
 * came (RFC 5267 4.3); a context cannot follow that meaning. */
static int program_follows(const struct search_program *p)
{
	for (size_t i = 0; i < p->nnodes; i++)
		if (p->nodes[i].op == SK_SEQSET || p->nodes[i].op == SK_SAVED)
			return 0;
	return 1;
}

static size_t count_updates(const struct wsession *ws)
{
	size_t n = 0;
	for (const struct search_update *u = ws->updates; u; u = u->next)
		n++;
	return n;
}

void search_update_add(struct wsession *ws, const struct imap_cmd *cmd, int by_uid,
		       const struct search_program *p, const struct sort_spec *sp,
		       const uint32_t *uids, size_t n)
{
	struct search_update *u;

	if (count_updates(ws) >= (size_t)W->cfg.max_search_updates || !program_follows(p)) {
		session_printf(&ws->s, "* NO [NOUPDATE \"%s\"] %s\r\n", cmd->tag,
			       program_follows(p) ? "Too many updating searches"
						  : "Sequence numbers and $ cannot be followed");
		return;
	}
	u = xcalloc(1, sizeof(*u));
	u->tag = xstrdup(cmd->tag);
	u->by_uid = by_uid;
	u->a = arena_new();
	copy_program(u->a, &u->prog, p);
	if (sp) {
		u->sorted = 1;
		u->sp = *sp;
	}
	u->uids = xreallocarray(NULL, n ? n : 1, sizeof(uint32_t));
	memcpy(u->uids, uids, n * sizeof(uint32_t));
	u->n = n;
	u->next = ws->updates;
	ws->updates = u;
}

static void update_free(struct search_update *u)
{
	arena_free(u->a);
	free(u->uids);
	free(u->tag);
	free(u);
}

void search_update_free_all(struct wsession *ws)
{
	while (ws->updates) {
		struct search_update *u = ws->updates;
		ws->updates = u->next;
		update_free(u);
	}
}

static void esearch_head(struct buf *b, const struct search_update *u)
{
	buf_printf(b, "* ESEARCH (TAG \"%s\")%s", u->tag, u->by_uid ? " UID" : "");
}

void search_update_expunged(struct wsession *ws, uint32_t seq, uint32_t uid)
{
	for (struct search_update *u = ws->updates; u; u = u->next) {
		size_t i = 0;
		while (i < u->n && u->uids[i] != uid)
			i++;
		if (i == u->n)
			continue;
		struct buf b = BUF_INIT;
		esearch_head(&b, u);
		buf_printf(&b, " REMOVEFROM (%zu %u)\r\n", u->sorted ? i + 1 : 0,
			   u->by_uid ? uid : seq);
		session_write(&ws->s, b.data, b.len);
		buf_free(&b);
		memmove(u->uids + i, u->uids + i + 1, (u->n - i - 1) * sizeof(uint32_t));
		u->n--;
	}
}

/* ---- evaluating again ---------------------------------------------------- */

/* The result now, as UIDs in the requested order (in the session's arena). */
static int update_result(struct wsession *ws, struct search_update *u, uint32_t **uids,
			 size_t *n, struct error *err)
{
	uint32_t *seqs;

	if (search_collect(&ws->s, &u->prog, "SEARCH UPDATE", &seqs, uids, n, err) < 0)
		return -1;
	return u->sorted ? sort_order(&ws->s, &u->sp, seqs, *uids, n, err) : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int in_sorted(const uint32_t *v, size_t n, uint32_t uid)
{
	return bsearch(&uid, v, n, sizeof(uint32_t), cmp_u32) != NULL;
}

static uint32_t *sorted_copy(struct arena *a, const uint32_t *v, size_t n)
{
	uint32_t *c = arena_alloc(a, (n ? n : 1) * sizeof(uint32_t));
	memcpy(c, v, n * sizeof(uint32_t));
	qsort(c, n, sizeof(uint32_t), cmp_u32);
	return c;
}

/* The number the client knows v as; 0 when gone from the view. */
static uint32_t client_number(struct wsession *ws, const struct search_update *u, uint32_t uid)
{
	return u->by_uid ? uid : mailbox_uid_to_seq(ws->mb, uid);
}

/* SEARCH's item: one pair at position 0, the set in mailbox order, of
 * the members of v[0..n) not in other (sorted). */
static void write_unsorted(struct buf *b, struct wsession *ws, const struct search_update *u,
			   const char *item, const uint32_t *v, size_t n, const uint32_t *other,
			   size_t nother)
{
	uint32_t *run = arena_alloc(ws->s.arena, (n ? n : 1) * sizeof(uint32_t));
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!in_sorted(other, nother, v[i]) && (run[k] = client_number(ws, u, v[i])) != 0)
			k++;
	if (k == 0)
		return;
	buf_printf(b, " %s (0 ", item);
	seqset_write(b, run, k);
	buf_append_str(b, ")");
}

/* SORT's item: a pair per run of neighbours not in other, at the position
 * the run has (removing) or takes (adding) once the pairs before it are
 * applied: removed members leave no place behind, added ones take one. */
static void write_sorted(struct buf *b, struct wsession *ws, const struct search_update *u,
			 const char *item, const uint32_t *v, size_t n, const uint32_t *other,
			 size_t nother, int removing)
{
	uint32_t *run = arena_alloc(ws->s.arena, (n ? n : 1) * sizeof(uint32_t));
	size_t pos = 0, i = 0;
	int any = 0;

	while (i < n) {
		size_t k = 0, at = pos + 1;
		for (; i < n && !in_sorted(other, nother, v[i]); i++) {
			run[k++] = client_number(ws, u, v[i]);
			pos += !removing;
		}
		if (k) {
			if (any)
				buf_append_byte(b, ' ');
			else
				buf_printf(b, " %s (", item);
			buf_printf(b, "%zu ", at);
			seqset_write(b, run, k);
			any = 1;
		}
		if (i < n) {
			pos++;
			i++;
		}
	}
	if (any)
		buf_append_str(b, ")");
}

static void write_item(struct buf *b, struct wsession *ws, const struct search_update *u,
		       const uint32_t *v, size_t n, const uint32_t *other, size_t nother,
		       int removing)
{
	const char *item = removing ? "REMOVEFROM" : "ADDTO";

	if (u->sorted)
		write_sorted(b, ws, u, item, v, n, other, nother, removing);
	else
		write_unsorted(b, ws, u, item, v, n, other, nother);
}

static void update_one(struct wsession *ws, struct search_update *u)
{
	struct arena *a = ws->s.arena;
	struct buf b = BUF_INIT;
	struct error err;
	uint32_t *now;
	size_t n, head;

	if (update_result(ws, u, &now, &n, &err) < 0) {
		log_warn("UPDATE %s: %s", u->tag, err.msg);
		return;
	}
	esearch_head(&b, u);
	head = b.len;
	write_item(&b, ws, u, u->uids, u->n, sorted_copy(a, now, n), n, 1);
	write_item(&b, ws, u, now, n, sorted_copy(a, u->uids, u->n), u->n, 0);
	if (b.len > head) {
		buf_append_str(&b, "\r\n");
		session_write(&ws->s, b.data, b.len);
	}
	buf_free(&b);
	u->uids = xreallocarray(u->uids, n ? n : 1, sizeof(uint32_t));
	memcpy(u->uids, now, n * sizeof(uint32_t));
	u->n = n;
}

void search_update_refresh(struct wsession *ws)
{
	struct arena *cmd_arena = ws->s.arena;

	if (ws->updates == NULL || ws->mb == NULL)
		return;
	/* Its own arena: a refresh may come in an IDLE of hours, whose
	 * command arena is never reset meanwhile. */
	ws->s.arena = arena_new();
	for (struct search_update *u = ws->updates; u; u = u->next)
		update_one(ws, u);
	arena_free(ws->s.arena);
	ws->s.arena = cmd_arena;
}

/* ---- CANCELUPDATE ---------------------------------------------------------- */

static int cancel_one(struct wsession *ws, const char *tag)
{
	for (struct search_update **p = &ws->updates; *p; p = &(*p)->next) {
		if (strcmp((*p)->tag, tag) == 0) {
			struct search_update *u = *p;
			*p = u->next;
			update_free(u);
			return 0;
		}
	}
	return -1;
}

void cmd_cancelupdate(struct session *s, const struct imap_cmd *cmd)
{
	struct wsession *ws = wsession_of(s);

	if (cmd->nargs == 0) {
		session_tagged(s, cmd->tag, "BAD", NULL, "CANCELUPDATE expects tags");
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_QUOTED) {
			session_tagged(s, cmd->tag, "BAD", NULL, "CANCELUPDATE expects quoted tags");
			return;
		}
		if (!search_update_tag_used(ws, cmd->args[i].str)) {
			session_tagged(s, cmd->tag, "BAD", NULL, "CANCELUPDATE: no UPDATE tagged %s",
				       cmd->args[i].str);
			return;
		}
	}
	for (size_t i = 0; i < cmd->nargs; i++)
		cancel_one(ws, cmd->args[i].str);
	session_tagged(s, cmd->tag, "OK", NULL, "CANCELUPDATE completed");
}
