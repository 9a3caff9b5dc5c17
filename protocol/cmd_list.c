/* LIST and LSUB.
 *
 * LIST is RFC 9051 6.3.9, which folds in LIST-EXTENDED (RFC 5258):
 * selection options SUBSCRIBED, REMOTE (no remote mailboxes here, so a
 * no-op), RECURSIVEMATCH with the CHILDINFO extended data item, and
 * SPECIAL-USE (RFC 6154); return options SUBSCRIBED, CHILDREN, SPECIAL-USE
 * STATUS (LIST-STATUS, RFC 5819) and, where the store keeps ACLs,
 * MYRIGHTS (LIST-MYRIGHTS, RFC 8440); several patterns in parentheses.
 * LSUB is RFC 3501's, deprecated by RFC 9051 but kept for every client.
 *
 * The backend reports every mailbox (and subscribed names that do not
 * exist) once; we collect them, sort them so a name's descendants follow
 * it, add the missing ancestors RECURSIVEMATCH and LSUB may need to show,
 * and decide per name in one pass with a stack (no recursion, linear).
 *
 * What is shown when nobody asks: plain LIST gives \Noselect-style,
 * children and special-use attributes but never \Subscribed; extended LIST
 * gives children, special-use and \Subscribed attributes only when the
 * matching option asks (like Dovecot). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "worker.h"

#define BAD(...) session_tagged(s, cmd->tag, "BAD", NULL, __VA_ARGS__)

#define MA_SPECIAL (MA_DRAFTS | MA_SENT | MA_TRASH | MA_JUNK | MA_ARCHIVE | MA_ALL | MA_FLAGGED)

enum lentry_flag {
	LF_MATCH = 1 << 0,      /* matches a pattern */
	LF_MEETS = 1 << 1,      /* satisfies the selection criteria */
	LF_SUB_MEETS = 1 << 2,  /* some descendant meets them */
	LF_SUB_HIDDEN = 1 << 3, /* ...and does not match (so is not returned) */
};

struct lentry {
	char *name;
	unsigned attrs;          /* enum mbox_attr */
	unsigned f;              /* enum lentry_flag */
};

struct lset {
	struct lentry *v;
	size_t n, cap;
};

struct list_opts {
	int lsub, extended;
	int sel_subscribed, sel_recursive, sel_specialuse;
	int ret_subscribed, ret_children, ret_specialuse;
	int ret_myrights;        /* LIST-MYRIGHTS (RFC 8440) */
	unsigned status_items;   /* enum status_item bits; 0: no STATUS */
	int empty_basic;         /* basic syntax with "" as the pattern */
	const char **patterns;   /* canonical (reference applied), UTF-8 */
	size_t npatterns;
};

static void lset_add(struct lset *ls, const char *name, unsigned attrs)
{
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? ls->cap * 2 : 64;
		ls->v = xreallocarray(ls->v, ls->cap, sizeof(*ls->v));
	}
	ls->v[ls->n].name = xstrdup(name);
	ls->v[ls->n].attrs = attrs;
	ls->v[ls->n].f = 0;
	ls->n++;
}

static void lset_free(struct lset *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i].name);
	free(ls->v);
	memset(ls, 0, sizeof(*ls));
}

static void collect_cb(void *ctx, const char *name, unsigned attrs)
{
	lset_add(ctx, name, attrs);
}

static int inbox_tree(const char *n)
{
	return strncmp(n, "INBOX", 5) == 0 && (n[5] == '\0' || n[5] == '/');
}

/* INBOX first, then by bytes with '/' below every other byte: a name's
 * descendants come right after it. */
static int lname_cmp(const char *a, const char *b)
{
	int ai = inbox_tree(a), bi = inbox_tree(b);
	if (ai != bi)
		return ai ? -1 : 1;
	for (;; a++, b++) {
		unsigned ca = *a == '/' ? 1 : *a ? (unsigned char)*a + 1u : 0;
		unsigned cb = *b == '/' ? 1 : *b ? (unsigned char)*b + 1u : 0;
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca == 0)
			return 0;
	}
}

static int lentry_cmp(const void *x, const void *y)
{
	return lname_cmp(((const struct lentry *)x)->name, ((const struct lentry *)y)->name);
}

static int lset_has(const struct lset *ls, const char *name)
{
	struct lentry key = { (char *)name, 0, 0 };
	return ls->n && bsearch(&key, ls->v, ls->n, sizeof(*ls->v), lentry_cmp) != NULL;
}

static int is_ancestor(const char *a, const char *b)
{
	size_t la = strlen(a);
	return strncmp(a, b, la) == 0 && b[la] == '/';
}

/* ---- parsing ----------------------------------------------------------- */

static int list_word(const struct imap_arg *a)
{
	return (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_QUOTED ||
		a->type == IMAP_ARG_LITERAL) && memchr(a->str, '\0', a->len) == NULL;
}

static int parse_select_opts(const struct imap_arg *l, struct list_opts *o)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct imap_arg *a = &l->list[i];
		if (imap_arg_is_atom(a, "SUBSCRIBED"))
			o->sel_subscribed = 1;
		else if (imap_arg_is_atom(a, "REMOTE"))
			;   /* no remote mailboxes: nothing to add */
		else if (imap_arg_is_atom(a, "RECURSIVEMATCH"))
			o->sel_recursive = 1;
		else if (imap_arg_is_atom(a, "SPECIAL-USE"))
			o->sel_specialuse = 1;
		else
			return -1;
	}
	return 0;
}

static int parse_return_opts(const struct imap_arg *l, int rev2, struct list_opts *o)
{
	for (size_t i = 0; i < l->count; i++) {
		const struct imap_arg *a = &l->list[i];
		if (imap_arg_is_atom(a, "SUBSCRIBED")) {
			o->ret_subscribed = 1;
		} else if (imap_arg_is_atom(a, "CHILDREN")) {
			o->ret_children = 1;
		} else if (imap_arg_is_atom(a, "SPECIAL-USE")) {
			o->ret_specialuse = 1;
		} else if (imap_arg_is_atom(a, "STATUS")) {
			unsigned items;
			if (i + 1 >= l->count || status_items_parse(&l->list[i + 1], rev2, &items) < 0)
				return -1;
			o->status_items |= items;
			i++;
		} else if (imap_arg_is_atom(a, "MYRIGHTS") && store_acl_supported()) {
			o->ret_myrights = 1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* Fill o from the command; answers BAD itself and returns -1 on error. */
static int parse_list(struct session *s, const struct imap_cmd *cmd, struct list_opts *o)
{
	const struct imap_arg *ref, *pats, *one;
	const char *r, *why;
	size_t i = 0, npat;

	memset(o, 0, sizeof(*o));
	o->lsub = strcmp(cmd->name, "LSUB") == 0;
	if (!o->lsub && cmd->nargs > 0 && cmd->args[0].type == IMAP_ARG_LIST) {
		o->extended = 1;
		if (parse_select_opts(&cmd->args[0], o) < 0) {
			BAD("Unknown LIST selection option");
			return -1;
		}
		if (o->sel_recursive && !o->sel_subscribed) {
			BAD("RECURSIVEMATCH needs another selection option (SUBSCRIBED)");
			return -1;
		}
		i++;
	}
	if (cmd->nargs < i + 2 || !list_word(&cmd->args[i])) {
		BAD("%s expects a reference and a pattern", cmd->name);
		return -1;
	}
	ref = &cmd->args[i];
	pats = &cmd->args[i + 1];
	i += 2;
	if (i < cmd->nargs) {
		if (o->lsub || i + 2 != cmd->nargs || !imap_arg_is_atom(&cmd->args[i], "RETURN") ||
		    cmd->args[i + 1].type != IMAP_ARG_LIST) {
			BAD("%s: unexpected arguments after the pattern", cmd->name);
			return -1;
		}
		o->extended = 1;
		if (parse_return_opts(&cmd->args[i + 1], (s->enabled & EN_IMAP4REV2) != 0, o) < 0) {
			BAD("Unknown LIST return option");
			return -1;
		}
	}
	if (pats->type == IMAP_ARG_LIST) {
		if (o->lsub || pats->count == 0) {
			BAD("%s expects a reference and a pattern", cmd->name);
			return -1;
		}
		o->extended = 1;
		one = pats->list;
		npat = pats->count;
	} else {
		one = pats;
		npat = 1;
	}
	for (size_t k = 0; k < npat; k++)
		if (!list_word(&one[k])) {
			BAD("%s expects a reference and a pattern", cmd->name);
			return -1;
		}
	if (mailbox_name_in(s, ref->str, ref->len, &r, &why) < 0) {
		BAD("Reference: %s", why);
		return -1;
	}
	o->empty_basic = !o->extended && one[0].len == 0;
	o->patterns = arena_alloc(s->arena, npat * sizeof(char *));
	for (size_t k = 0; k < npat; k++) {
		const char *p;
		/* RFC 9051: a pattern the server cannot accept is silently
		 * ignored (and so is an empty one in the extended syntax). */
		if (one[k].len == 0 || mailbox_name_in(s, one[k].str, one[k].len, &p, &why) < 0)
			continue;
		/* A pattern starting with the delimiter ignores the reference. */
		o->patterns[o->npatterns++] =
			p[0] == '/' || r[0] == '\0' ? p : arena_printf(s->arena, "%s%s", r, p);
	}
	return 0;
}

/* ---- output ------------------------------------------------------------ */

enum { SHOW_CHILDREN = 1, SHOW_SPECIAL = 2, SHOW_SUBSCRIBED = 4 };

static void write_attrs(struct session *s, unsigned a, unsigned show)
{
	static const struct {
		unsigned bit;
		const char *name;
	} su[] = {
		{ MA_DRAFTS, "\\Drafts" }, { MA_SENT, "\\Sent" },       { MA_TRASH, "\\Trash" },
		{ MA_JUNK, "\\Junk" },     { MA_ARCHIVE, "\\Archive" }, { MA_ALL, "\\All" },
		{ MA_FLAGGED, "\\Flagged" },
	};
	const char *w[16];
	size_t n = 0;

	/* At most one of \NonExistent (which implies \Noselect), \Noselect,
	 * \Marked, \Unmarked: mbx-list-sflag. */
	if (a & MA_NONEXISTENT)
		w[n++] = "\\NonExistent";
	else if (a & MA_NOSELECT)
		w[n++] = "\\Noselect";
	else if (a & MA_MARKED)
		w[n++] = "\\Marked";
	else if (a & MA_UNMARKED)
		w[n++] = "\\Unmarked";
	if (a & MA_NOINFERIORS)
		w[n++] = "\\NoInferiors";
	if (show & SHOW_CHILDREN) {
		if (a & MA_HASCHILDREN)
			w[n++] = "\\HasChildren";
		else if (a & (MA_HASNOCHILDREN | MA_NONEXISTENT))
			w[n++] = "\\HasNoChildren";
	}
	if (show & SHOW_SUBSCRIBED && a & MA_SUBSCRIBED)
		w[n++] = "\\Subscribed";
	if (show & SHOW_SPECIAL)
		for (size_t k = 0; k < sizeof(su) / sizeof(su[0]); k++)
			if (a & su[k].bit)
				w[n++] = su[k].name;
	session_write(s, "(", 1);
	for (size_t k = 0; k < n; k++)
		session_printf(s, "%s%s", k ? " " : "", w[k]);
	session_write(s, ")", 1);
}

/* RFC 8440: MYRIGHTS after the mailbox's LIST, or nothing when the
 * store cannot tell. */
static void list_myrights(struct session *s, const char *name, const char *wire)
{
	struct error err;

	if (acl_myrights_write(s, name, wire, &err) < 0)
		log_warn("LIST-MYRIGHTS %s: %s", name, err.msg);
}

static void write_entry(struct session *s, const struct list_opts *o, const struct lentry *e,
			const char *wire, int childinfo)
{
	unsigned attrs = e->attrs, show;
	struct status_result r;
	int have_status = 0;

	if (o->lsub) {
		/* LSUB: only \Noselect, which also says "not subscribed itself,
		 * but something below is". */
		session_printf(s, "* LSUB (%s) \"/\" ",
			       attrs & (MA_NOSELECT | MA_NONEXISTENT) || !(e->f & LF_MEETS)
				       ? "\\Noselect" : "");
		mailbox_write(s, wire);
		session_write(s, "\r\n", 2);
		return;
	}
	if (o->status_items && !(attrs & (MA_NOSELECT | MA_NONEXISTENT))) {
		struct error err;
		/* RFC 5819: a mailbox whose STATUS fails because it cannot be
		 * selected is listed \Noselect; other failures drop the STATUS. */
		if (status_get(e->name, o->status_items, &r, &err) == 0)
			have_status = 1;
		else if (err.code == ERR_NONEXISTENT || err.code == ERR_CANNOT ||
			 err.code == ERR_NOPERM || err.code == ERR_PARSE)
			attrs |= MA_NOSELECT;
		else
			log_warn("LIST-STATUS %s: %s", e->name, err.msg);
	}
	if (!o->extended)
		show = SHOW_CHILDREN | SHOW_SPECIAL;
	else
		show = (o->ret_children ? SHOW_CHILDREN : 0) |
		       (o->ret_specialuse || o->sel_specialuse ? SHOW_SPECIAL : 0) |
		       (o->ret_subscribed || o->sel_subscribed ? SHOW_SUBSCRIBED : 0);
	session_write(s, "* LIST ", 7);
	write_attrs(s, attrs, show);
	session_write(s, " \"/\" ", 5);
	mailbox_write(s, wire);
	if (childinfo)
		session_printf(s, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	session_write(s, "\r\n", 2);
	if (have_status)
		status_write(s, wire, o->status_items, &r);
	if (o->ret_myrights && !(attrs & (MA_NOSELECT | MA_NONEXISTENT)))
		list_myrights(s, e->name, wire);
}

/* ---- selection --------------------------------------------------------- */

static int meets(const struct list_opts *o, unsigned a)
{
	int exists = !(a & MA_NONEXISTENT);
	if (o->lsub)
		return (a & MA_SUBSCRIBED) != 0;
	if (o->sel_subscribed ? !(a & MA_SUBSCRIBED) : !exists)
		return 0;
	if (o->sel_specialuse && !(exists && (a & MA_SPECIAL)))
		return 0;
	return 1;
}

/* Ancestors of names that meet the criteria, where the backend gave none
 * (a subscribed name whose parents do not exist): \NonExistent entries, so
 * RECURSIVEMATCH and LSUB can show them. ls is sorted on entry and exit. */
static void add_ancestors(struct lset *ls, const struct list_opts *o)
{
	struct lset extra = { NULL, 0, 0 };
	size_t n0 = ls->n;

	for (size_t i = 0; i < n0; i++) {
		const char *name = ls->v[i].name;
		if (!meets(o, ls->v[i].attrs))
			continue;
		for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
			char *anc = xstrndup(name, (size_t)(p - name));
			if (anc[0] && !lset_has(ls, anc))
				lset_add(&extra, anc, MA_NONEXISTENT | MA_NOSELECT);
			free(anc);
		}
	}
	if (extra.n == 0)
		return;
	qsort(extra.v, extra.n, sizeof(*extra.v), lentry_cmp);
	for (size_t i = 0; i < extra.n; i++) {
		if (i > 0 && strcmp(extra.v[i].name, extra.v[i - 1].name) == 0) {
			free(extra.v[i].name);
			continue;
		}
		lset_add(ls, extra.v[i].name, extra.v[i].attrs);
		free(extra.v[i].name);
	}
	free(extra.v);
	/* added without duplicates; restore the order */
	qsort(ls->v, ls->n, sizeof(*ls->v), lentry_cmp);
}

/* One pass in sorted order with a stack of ancestors: when a name is done
 * (popped), what it and its descendants are goes to its nearest ancestor. */
static void mark_descendants(struct lset *ls)
{
	size_t *stack = xreallocarray(NULL, ls->n + 1, sizeof(size_t)), sp = 0;

	for (size_t i = 0; i <= ls->n; i++) {
		while (sp > 0 && (i == ls->n || !is_ancestor(ls->v[stack[sp - 1]].name, ls->v[i].name))) {
			struct lentry *c = &ls->v[stack[--sp]];
			if (sp == 0)
				continue;
			struct lentry *p = &ls->v[stack[sp - 1]];
			if (c->f & LF_MEETS) {
				p->f |= LF_SUB_MEETS;
				if (!(c->f & LF_MATCH))
					p->f |= LF_SUB_HIDDEN;
			}
			p->f |= c->f & (LF_SUB_MEETS | LF_SUB_HIDDEN);
		}
		if (i < ls->n)
			stack[sp++] = i;
	}
	free(stack);
}

void cmd_list(struct session *s, const struct imap_cmd *cmd)
{
	struct list_opts o;
	struct lset ls = { NULL, 0, 0 };
	struct error err;

	if (parse_list(s, cmd, &o) < 0)
		return;
	if (o.empty_basic) {
		/* Basic syntax, empty pattern: the delimiter and root. */
		if (!o.lsub)
			session_printf(s, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
		return;
	}
	if (o.npatterns == 0) {
		session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
		return;
	}
	if (store_list(W->store, collect_cb, &ls, &err) < 0) {
		lset_free(&ls);
		session_tagged_error(s, cmd->tag, &err);
		return;
	}
	if (ls.n)
		qsort(ls.v, ls.n, sizeof(*ls.v), lentry_cmp);
	if (o.sel_recursive || o.lsub)
		add_ancestors(&ls, &o);
	for (size_t i = 0; i < ls.n; i++) {
		struct lentry *e = &ls.v[i];
		if (meets(&o, e->attrs))
			e->f |= LF_MEETS;
		for (size_t k = 0; k < o.npatterns; k++)
			if (list_match(o.patterns[k], e->name)) {
				e->f |= LF_MATCH;
				break;
			}
	}
	if (o.sel_recursive || o.lsub)
		mark_descendants(&ls);
	for (size_t i = 0; i < ls.n; i++) {
		const struct lentry *e = &ls.v[i];
		int tree = o.sel_recursive || o.lsub, out, childinfo = 0;
		const char *wire;
		if (!(e->f & LF_MATCH))
			continue;
		/* RFC 5258 3.5: a name that does not meet the criteria is shown
		 * for a descendant that does and is not shown itself. */
		out = (e->f & LF_MEETS) || (tree && (e->f & LF_SUB_HIDDEN));
		if (!out)
			continue;
		if (o.sel_recursive)
			childinfo = (e->f & LF_MEETS) ? (e->f & LF_SUB_MEETS) != 0 : 1;
		if ((wire = mailbox_name_out(s, e->name)) == NULL) {
			log_warn("LIST: cannot encode mailbox name %s", e->name);
			continue;
		}
		write_entry(s, &o, e, wire, childinfo);
	}
	lset_free(&ls);
	session_tagged(s, cmd->tag, "OK", NULL, "%s completed", cmd->name);
}

/* ---- one mailbox (SELECT in IMAP4rev2) --------------------------------- */

struct one_ctx {
	const char *name;
	unsigned attrs;
	int found;
};

static void one_cb(void *ctx, const char *name, unsigned attrs)
{
	struct one_ctx *c = ctx;
	if (!(attrs & MA_NONEXISTENT) && strcmp(name, c->name) == 0) {
		c->attrs = attrs;
		c->found = 1;
	}
}

void list_write_one(struct session *s, const char *name)
{
	struct one_ctx c = { name, 0, 0 };
	struct error err;
	const char *wire;

	if (store_list(W->store, one_cb, &c, &err) < 0 || !c.found ||
	    (wire = mailbox_name_out(s, name)) == NULL)
		return;
	session_write(s, "* LIST ", 7);
	write_attrs(s, c.attrs, SHOW_CHILDREN | SHOW_SPECIAL);
	session_write(s, " \"/\" ", 5);
	mailbox_write(s, wire);
	session_write(s, "\r\n", 2);
}

void list_write_attrs(struct session *s, const char *name, unsigned attrs)
{
	list_write_renamed(s, name, attrs, NULL);
}

void list_write_renamed(struct session *s, const char *name, unsigned attrs,
			const char *oldname)
{
	const char *wire = mailbox_name_out(s, name);
	const char *oldwire = oldname ? mailbox_name_out(s, oldname) : NULL;

	if (wire == NULL)
		return;
	session_write(s, "* LIST ", 7);
	write_attrs(s, attrs, SHOW_CHILDREN | SHOW_SPECIAL | SHOW_SUBSCRIBED);
	session_write(s, " \"/\" ", 5);
	mailbox_write(s, wire);
	if (oldwire) {   /* RFC 5465 5.4, RFC 5258's mbox-list-extended */
		session_write(s, " (\"OLDNAME\" (", 13);
		mailbox_write(s, oldwire);
		session_write(s, "))", 2);
	}
	session_write(s, "\r\n", 2);
}
