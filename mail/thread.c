/* THREAD (RFC 5256 section 3): ORDEREDSUBJECT, REFERENCES, and REFS.
 *
 * Messages and the dummies REFERENCES makes for missing ones are nodes
 * of one tree (first child / next sibling) under a root; every walk over
 * it uses explicit stacks or arrays, never recursion, since References
 * chains come from senders. Message-IDs and base subjects are looked up
 * in hash tables (thread_table.c style, here: open addressing with a
 * per-call seed, so chosen IDs cannot make the lookups quadratic). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/hash64.h"
#include "sort.h"

struct tnode {
	struct tnode *parent, *child, *next;
	const struct mail_thread_msg *msg;   /* NULL: a dummy */
	int64_t date;              /* sort position: the message's, or for a */
	uint32_t seq;              /* dummy its first child's */
};

/* ---- string -> node table -------------------------------------------- */

struct ttable {
	const char **keys;
	void **vals;
	size_t cap, used;
	uint64_t seed;
};

static void ttable_init(struct ttable *t, size_t n)
{
	t->cap = 16;
	while (t->cap < 2 * n)
		t->cap *= 2;
	t->keys = calloc(t->cap, sizeof(*t->keys));
	t->vals = calloc(t->cap, sizeof(*t->vals));
	t->used = 0;
	t->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t;
	if (t->keys == NULL || t->vals == NULL)
		abort();
}

static void ttable_free(struct ttable *t)
{
	free(t->keys);
	free(t->vals);
}

static size_t ttable_slot(const struct ttable *t, const char *k)
{
	size_t i = hash64(k, strlen(k), t->seed) & (t->cap - 1);
	while (t->keys[i] && strcmp(t->keys[i], k) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void *ttable_get(const struct ttable *t, const char *k)
{
	return t->vals[ttable_slot(t, k)];
}

static void ttable_put(struct ttable *t, const char *k, void *v);

static void ttable_grow(struct ttable *t)
{
	struct ttable old = *t;
	ttable_init(t, old.cap);
	t->seed = old.seed;
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i])
			ttable_put(t, old.keys[i], old.vals[i]);
	ttable_free(&old);
}

static void ttable_put(struct ttable *t, const char *k, void *v)
{
	size_t i;
	if (2 * (t->used + 1) > t->cap)
		ttable_grow(t);
	i = ttable_slot(t, k);
	if (t->keys[i] == NULL)
		t->used++;
	t->keys[i] = k;
	t->vals[i] = v;
}

/* ---- tree operations --------------------------------------------------- */

static void tnode_unlink(struct tnode *c)
{
	struct tnode **pp;
	if (c->parent == NULL)
		return;
	for (pp = &c->parent->child; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	c->next = NULL;
	c->parent = NULL;
}

static void tnode_add_child(struct tnode *p, struct tnode *c)
{
	c->parent = p;
	c->next = p->child;
	p->child = c;
}

/* Would making p the parent of c close a loop (p is c or below it)? */
static int tnode_would_loop(const struct tnode *p, const struct tnode *c)
{
	if (c->child == NULL)
		return p == c;
	for (; p; p = p->parent)
		if (p == c)
			return 1;
	return 0;
}

static int tnode_cmp(const void *x, const void *y)
{
	const struct tnode *a = *(struct tnode *const *)x, *b = *(struct tnode *const *)y;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort p's children by sent date (a dummy p takes its first child's). */
static void tnode_sort_children(struct tnode *p, struct tnode ***tmp, size_t *cap)
{
	size_t k = 0;
	for (struct tnode *c = p->child; c; c = c->next) {
		if (k == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			if ((*tmp = realloc(*tmp, *cap * sizeof(**tmp))) == NULL)
				abort();
		}
		(*tmp)[k++] = c;
	}
	if (k == 0)
		return;
	qsort(*tmp, k, sizeof(**tmp), tnode_cmp);
	p->child = (*tmp)[0];
	for (size_t i = 0; i < k; i++)
		(*tmp)[i]->next = i + 1 < k ? (*tmp)[i + 1] : NULL;
	if (p->msg == NULL) {
		p->date = p->child->date;
		p->seq = p->child->seq;
	}
}

/* Every node under root in breadth-first order (root first). */
static struct tnode **tnode_bfs(struct tnode *root, size_t total, size_t *n)
{
	struct tnode **q = malloc((total + 1) * sizeof(*q));
	size_t k = 0;
	if (q == NULL)
		abort();
	q[k++] = root;
	for (size_t i = 0; i < k; i++)
		for (struct tnode *c = q[i]->child; c && k <= total; c = c->next)
			q[k++] = c;
	*n = k;
	return q;
}

/* Step 6: sibling sets sorted, the deepest first. */
static void thread_sort_all(struct tnode *root, size_t total)
{
	size_t n, cap = 0;
	struct tnode **q = tnode_bfs(root, total, &n), **tmp = NULL;
	for (size_t i = n; i-- > 0;)
		tnode_sort_children(q[i], &tmp, &cap);
	free(tmp);
	free(q);
}

/* ---- writing ------------------------------------------------------------ */

struct wframe {
	const struct tnode *next_child;
	int wrapped, multi;
};

/* Enter node c: "(" if its parent has several children, its number, and
 * what its children need around them. */
static void thread_enter(const struct tnode *c, int wrapped, struct wframe *st, size_t *sp,
			 struct buf *out)
{
	if (wrapped)
		buf_append(out, "(", 1);
	if (c->msg) {
		buf_printf(out, "%u", c->msg->id);
		if (c->child)
			buf_append(out, " ", 1);
	}
	st[(*sp)++] = (struct wframe){ c->child, wrapped, c->child && c->child->next };
}

/* One thread: "(" node ")", a node being its number then its one child
 * or "(child)(child)..."; a dummy shows only its children. */
static void thread_write_one(const struct tnode *top, struct wframe *st, struct buf *out)
{
	size_t sp = 0;

	thread_enter(top, 1, st, &sp, out);
	while (sp > 0) {
		struct wframe *f = &st[sp - 1];
		const struct tnode *c = f->next_child;
		if (c == NULL) {
			if (f->wrapped)
				buf_append(out, ")", 1);
			sp--;
			continue;
		}
		f->next_child = c->next;
		thread_enter(c, f->multi, st, &sp, out);
	}
}

static void thread_write(const struct tnode *root, size_t total, struct buf *out)
{
	struct wframe *st = malloc((total + 2) * sizeof(*st));
	if (st == NULL)
		abort();
	for (const struct tnode *t = root->child; t; t = t->next)
		thread_write_one(t, st, out);
	free(st);
}

/* ---- ORDEREDSUBJECT ------------------------------------------------------ */

static int os_cmp(const void *x, const void *y)
{
	const struct tnode *a = *(struct tnode *const *)x, *b = *(struct tnode *const *)y;
	int r = strcmp(a->msg->k->subject, b->msg->k->subject);
	return r ? r : tnode_cmp(x, y);
}

static void thread_orderedsubject(struct tnode *root, struct tnode *nodes, size_t n)
{
	struct tnode **v = malloc((n ? n : 1) * sizeof(*v));
	struct tnode *head = NULL;
	if (v == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		v[i] = &nodes[i];
	qsort(v, n, sizeof(*v), os_cmp);
	for (size_t i = 0; i < n; i++) {
		if (head && strcmp(head->msg->k->subject, v[i]->msg->k->subject) == 0) {
			tnode_add_child(head, v[i]);
			continue;
		}
		head = v[i];
		tnode_add_child(root, head);
	}
	free(v);
	thread_sort_all(root, n);
}

/* ---- REFERENCES ------------------------------------------------------------ */

struct tctx {
	struct arena *a;
	struct ttable ids;         /* Message-ID -> node */
	struct tnode **dummies;
	size_t ndummies, cap;
	size_t total;              /* nodes: messages and dummies */
};

static struct tnode *thread_id_node(struct tctx *t, const char *id)
{
	struct tnode *nd = ttable_get(&t->ids, id);
	if (nd)
		return nd;
	nd = arena_alloc(t->a, sizeof(*nd));
	memset(nd, 0, sizeof(*nd));
	ttable_put(&t->ids, arena_strdup(t->a, id), nd);
	if (t->ndummies == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		if ((t->dummies = realloc(t->dummies, t->cap * sizeof(*t->dummies))) == NULL)
			abort();
	}
	t->dummies[t->ndummies++] = nd;
	t->total++;
	return nd;
}

/* Step 1A: p becomes c's parent unless c has one or it would loop. */
static void thread_link(struct tnode *p, struct tnode *c)
{
	if (c->parent == NULL && !tnode_would_loop(p, c))
		tnode_add_child(p, c);
}

/* Step 1 for message m: its references chained, then m under the last
 * (In-Reply-To's first msg-id when References gives none). */
static void thread_link_refs(struct tctx *t, struct tnode *m, struct buf *id)
{
	const struct mail_sort_keys *k = m->msg->k;
	const char *p = k->references, *end = p + k->references_len;
	struct tnode *prev = NULL;

	buf_reset(id);
	while (mail_msgid_next(&p, end, id)) {
		buf_append(id, "", 1);
		struct tnode *r = thread_id_node(t, id->data);
		if (prev)
			thread_link(prev, r);
		prev = r;
		buf_reset(id);
	}
	if (prev == NULL && k->inreplyto[0])
		prev = thread_id_node(t, k->inreplyto);
	/* 1B: a parent from a truncated References elsewhere gives way. */
	tnode_unlink(m);
	if (prev && !tnode_would_loop(prev, m))
		tnode_add_child(prev, m);
}

/* Step 3: dummies without children go; dummies with children give them
 * to their own parent, at the top only when there is one. */
static void thread_prune(struct tnode *root, size_t total)
{
	struct tnode **st = malloc((total + 1) * sizeof(*st));
	size_t sp = 0;
	if (st == NULL)
		abort();
	st[sp++] = root;
	while (sp > 0) {
		struct tnode *p = st[--sp], **pp = &p->child;
		while (*pp) {
			struct tnode *c = *pp, *last = NULL;
			if (c->msg == NULL && (c->child == NULL || p != root || c->child->next == NULL)) {
				for (struct tnode *x = c->child; x; x = x->next) {
					x->parent = p;
					last = x;
				}
				if (last) {
					last->next = c->next;
					*pp = c->child;
				} else {
					*pp = c->next;
				}
				continue;   /* the promoted children are looked at here */
			}
			st[sp++] = c;
			pp = &c->next;
		}
	}
	free(st);
}

static const char *thread_subject(const struct tnode *c)
{
	return (c->msg ? c->msg : c->child->msg)->k->subject;
}

static int thread_is_reply(const struct tnode *c)
{
	return c->msg && c->msg->k->subject_reply;
}

/* Step 5 C's merge of top[i] into the table's top[j]. */
static void thread_merge(struct tctx *t, struct tnode **top, size_t i, size_t j)
{
	struct tnode *c = top[i], *o = top[j];

	top[i] = NULL;
	if (o->msg == NULL && c->msg == NULL) {
		while (c->child) {
			struct tnode *x = c->child;
			c->child = x->next;
			tnode_add_child(o, x);
		}
	} else if (o->msg == NULL || (thread_is_reply(c) && !thread_is_reply(o))) {
		tnode_add_child(o, c);
	} else {
		struct tnode *d = arena_alloc(t->a, sizeof(*d));
		memset(d, 0, sizeof(*d));
		tnode_add_child(d, o);
		tnode_add_child(d, c);
		top[j] = d;
		t->total++;
	}
}

/* Step 5: threads with the same base subject gathered. */
static void thread_by_subject(struct tctx *t, struct tnode *root)
{
	struct ttable subj;
	size_t k = 0;
	struct tnode **top;

	for (struct tnode *c = root->child; c; c = c->next)
		k++;
	if ((top = malloc((k ? k : 1) * sizeof(*top))) == NULL)
		abort();
	k = 0;
	for (struct tnode *c = root->child; c; c = c->next)
		top[k++] = c;
	ttable_init(&subj, k);
	for (size_t i = 0; i < k; i++) {
		const char *s = thread_subject(top[i]);
		uintptr_t j = (uintptr_t)ttable_get(&subj, s);
		if (!*s)
			continue;
		if (j == 0 || (top[j - 1]->msg &&
			       (top[i]->msg == NULL ||
				(thread_is_reply(top[j - 1]) && !thread_is_reply(top[i])))))
			ttable_put(&subj, s, (void *)(i + 1));
	}
	for (size_t i = 0; i < k; i++) {
		const char *s = thread_subject(top[i]);
		size_t j = (uintptr_t)ttable_get(&subj, s);
		if (*s && j - 1 != i)
			thread_merge(t, top, i, j - 1);
	}
	root->child = NULL;
	for (size_t i = 0; i < k; i++)
		if (top[i]) {
			top[i]->next = NULL;
			tnode_add_child(root, top[i]);
		}
	ttable_free(&subj);
	free(top);
}

/* REFS: the top-level threads by their latest message. */
static void thread_by_latest(struct tnode *root, size_t total)
{
	size_t n, cap = 0;
	struct tnode **q = tnode_bfs(root, total, &n), **tmp = NULL;

	/* Deepest first, each node's (date, seq) becomes its subtree's
	 * latest; the children were sorted already. */
	for (size_t i = n; i-- > 1;) {
		struct tnode *c = q[i], *p = c->parent;
		if (p != root && tnode_cmp(&p, &c) < 0) {
			p->date = c->date;
			p->seq = c->seq;
		}
	}
	tnode_sort_children(root, &tmp, &cap);
	free(tmp);
	free(q);
}

static void thread_references(struct arena *a, enum mail_thread_alg alg, struct tnode *root,
			      struct tnode *nodes, size_t n)
{
	struct tctx t = { .a = a, .total = n };
	struct buf id = BUF_INIT;
	size_t cap = 0;
	struct tnode **tmp = NULL;

	ttable_init(&t.ids, n);
	for (size_t i = 0; i < n; i++)   /* the first of a Message-ID keeps it */
		if (nodes[i].msg->k->msgid[0] && ttable_get(&t.ids, nodes[i].msg->k->msgid) == NULL)
			ttable_put(&t.ids, nodes[i].msg->k->msgid, &nodes[i]);
	for (size_t i = 0; i < n; i++)
		thread_link_refs(&t, &nodes[i], &id);
	buf_free(&id);
	for (size_t i = 0; i < n; i++)
		if (nodes[i].parent == NULL)
			tnode_add_child(root, &nodes[i]);
	for (size_t i = 0; i < t.ndummies; i++)
		if (t.dummies[i]->parent == NULL)
			tnode_add_child(root, t.dummies[i]);
	thread_prune(root, t.total);
	for (struct tnode *c = root->child; c; c = c->next)
		if (c->msg == NULL)
			tnode_sort_children(c, &tmp, &cap);
	tnode_sort_children(root, &tmp, &cap);
	free(tmp);
	if (alg == MAIL_THREAD_REFERENCES)
		thread_by_subject(&t, root);
	thread_sort_all(root, t.total);
	if (alg == MAIL_THREAD_REFS)
		thread_by_latest(root, t.total);
	ttable_free(&t.ids);
	free(t.dummies);
}

void mail_thread(struct arena *a, enum mail_thread_alg alg, const struct mail_thread_msg *msgs,
		 size_t n, struct buf *out)
{
	struct tnode root = { 0 };
	struct tnode *nodes = arena_alloc(a, (n ? n : 1) * sizeof(*nodes));
	size_t total = n;

	for (size_t i = 0; i < n; i++) {
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].msg = &msgs[i];
		nodes[i].date = msgs[i].k->date;
		nodes[i].seq = msgs[i].seq;
	}
	if (alg == MAIL_THREAD_ORDEREDSUBJECT)
		thread_orderedsubject(&root, nodes, n);
	else
		thread_references(a, alg, &root, nodes, n);
	/* Dummies are fewer than the References read; bound the writer's
	 * stack by the depth, which no tree exceeds its node count. */
	for (const struct tnode *c = root.child; c; c = c->next)
		total++;
	thread_write(&root, total + n, out);
}
