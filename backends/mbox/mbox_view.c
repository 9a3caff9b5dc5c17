/* The per-session view of a selected mailbox. It changes only in sync():
 * that is when the protocol may tell the client about EXPUNGE, EXISTS and
 * flag changes, so sequence numbers stay what the client thinks they are.
 *
 * Notifications (mbox_notify.c): notify_fd() gives the store's inotify
 * descriptor, now also watching this mailbox's file and, for renames over
 * it, its directory. The caller only polls it for readability and then
 * calls sync(); sync() drains it. Events for other mailboxes and lock
 * files wake it too: harmless, sync() then finds nothing changed with one
 * stat(). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../lib/log.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

static uint32_t view_kw(struct mailbox *mb, const char *name)
{
	for (size_t i = 0; i < mb->nkw; i++)
		if (strcasecmp(mb->kwnames[i], name) == 0)
			return (uint32_t)i;
	mb->kwnames = xreallocarray(mb->kwnames, mb->nkw + 1, sizeof(*mb->kwnames));
	mb->kwnames[mb->nkw] = xstrdup(name);
	return (uint32_t)mb->nkw++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int is_own(const struct mailbox *mb, uint64_t modseq)
{
	for (size_t i = 0; i < mb->nown; i++)
		if (mb->own[i] == modseq)
			return 1;
	return 0;
}

void mbox_view_own_modseq(struct mailbox *mb, uint64_t modseq)
{
	mb->own = xreallocarray(mb->own, mb->nown + 1, sizeof(*mb->own));
	mb->own[mb->nown++] = modseq;
}

struct mbox_vmsg *mbox_view_find(struct mailbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].meta.uid == uid)
			return &mb->msgs[mid];
		if (mb->msgs[mid].meta.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void mbox_view_gone(struct mailbox *mb, uint32_t uid)
{
	struct mbox_vmsg *v = mbox_view_find(mb, uid);
	if (v)
		v->gone = 1;
}

static void vmsg_set(struct mailbox *mb, struct mbox_vmsg *v, const struct mbox_smsg *m,
		     const uint32_t *kwmap)
{
	free(v->kw);
	v->kw = NULL;
	if (m->nkw) {
		v->kw = xreallocarray(NULL, m->nkw, sizeof(uint32_t));
		for (uint32_t k = 0; k < m->nkw; k++)
			v->kw[k] = kwmap[m->kw[k]];
		qsort(v->kw, m->nkw, sizeof(uint32_t), cmp_u32);
	}
	v->meta.uid = m->uid;
	v->meta.flags = m->flags;
	v->meta.kw = v->kw;
	v->meta.nkw = m->nkw;
	v->meta.modseq = m->modseq;
	v->meta.internaldate = m->idate;
	v->meta.tz_minutes = m->tz;
	v->meta.size = m->size;
	v->hdr_off = m->hdr_off;
	v->end_off = m->end_off;
	v->hide_clen = m->hide_clen;
	(void)mb;
}

static int same_state(const struct mbox_vmsg *v, const struct mbox_smsg *m, const uint32_t *kwmap)
{
	if (v->meta.flags != m->flags || v->meta.nkw != m->nkw)
		return 0;
	for (uint32_t k = 0; k < m->nkw; k++) {
		int found = 0;
		for (uint32_t j = 0; j < v->meta.nkw && !found; j++)
			found = v->kw[j] == kwmap[m->kw[k]];
		if (!found)
			return 0;
	}
	return 1;
}

/* This view's own flag changes show in its metadata at once (STORE and
 * FETCH answer with the new flags); other views see them at their next
 * sync, and is_own() keeps this one from reporting them back to itself. */
void mbox_view_apply_own(struct mailbox *mb, const struct mbox_scan *s, const uint32_t *uids,
			 size_t n)
{
	uint32_t *kwmap = s->nkw ? xreallocarray(NULL, s->nkw, sizeof(uint32_t)) : NULL;
	for (size_t i = 0; i < s->nkw; i++)
		kwmap[i] = view_kw(mb, s->kw[i]);
	for (size_t i = 0; i < n; i++) {
		struct mbox_vmsg *v = mbox_view_find(mb, uids[i]);
		const struct mbox_smsg *m = mbox_scan_find((struct mbox_scan *)s, uids[i]);
		if (v && m && !same_state(v, m, kwmap)) {
			uint64_t off = v->hdr_off, end = v->end_off;
			vmsg_set(mb, v, m, kwmap);
			/* Offsets stay those of the file the view was built
			 * from; the next sync brings them up to date. */
			v->hdr_off = off;
			v->end_off = end;
			v->meta.modseq = m->modseq;
			if (m->modseq > mb->highestmodseq)
				mb->highestmodseq = m->modseq;
		}
	}
	free(kwmap);
}

/* Bring the view to scan s, reporting what changed (cb may be NULL). */
static void view_merge(struct mailbox *mb, struct mbox_scan *s, const struct sync_cb *cb,
		       void *ctx)
{
	uint32_t *kwmap = s->nkw ? xreallocarray(NULL, s->nkw, sizeof(uint32_t)) : NULL;
	struct mbox_vmsg *nv;
	size_t nn = 0, oldn = mb->count, added = 0, maxn = mb->count + s->n;
	uint32_t last = mb->count ? mb->msgs[mb->count - 1].meta.uid : 0;
	size_t *changed = NULL, nchanged = 0;

	for (size_t i = 0; i < s->nkw; i++)
		kwmap[i] = view_kw(mb, s->kw[i]);
	/* Expunges, highest sequence number first: each seq is then still
	 * the number the message has at the moment it goes. */
	for (size_t i = oldn; i-- > 0;) {
		if (mbox_scan_find(s, mb->msgs[i].meta.uid) == NULL) {
			if (cb && cb->expunged)
				cb->expunged(ctx, (uint32_t)(i + 1), mb->msgs[i].meta.uid);
			free(mb->msgs[i].kw);
			mb->msgs[i].kw = NULL;
			mb->msgs[i].meta.uid = 0;
		}
	}
	nv = xreallocarray(NULL, maxn ? maxn : 1, sizeof(*nv));
	for (size_t i = 0; i < oldn; i++) {
		struct mbox_vmsg *v = &mb->msgs[i];
		const struct mbox_smsg *m;
		if (v->meta.uid == 0)
			continue;
		m = mbox_scan_find(s, v->meta.uid);
		nv[nn] = *v;
		nv[nn].gone = 0;
		nv[nn].hdr_off = m->hdr_off;
		nv[nn].end_off = m->end_off;
		nv[nn].hide_clen = m->hide_clen;
		if (!same_state(v, m, kwmap)) {
			uint64_t old_modseq = v->meta.modseq;
			int mine = is_own(mb, m->modseq);
			vmsg_set(mb, &nv[nn], m, kwmap);
			/* Another program changed flags without knowing modseqs:
			 * the change still needs a higher one for CONDSTORE. It
			 * lives in this view only; the file keeps the old one,
			 * which is never higher than ours, so it is not news
			 * again at the next sync. */
			if (m->modseq <= old_modseq && !mine)
				nv[nn].meta.modseq = ++mb->highestmodseq;
			if (!mine) {
				changed = xreallocarray(changed, nchanged + 1, sizeof(*changed));
				changed[nchanged++] = nn;
			}
		} else if (m->modseq > v->meta.modseq) {
			/* Same flags, newer modseq: changed and changed back. */
			nv[nn].meta.modseq = m->modseq;
			if (!is_own(mb, m->modseq)) {
				changed = xreallocarray(changed, nchanged + 1, sizeof(*changed));
				changed[nchanged++] = nn;
			}
		}
		nn++;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (s->m[i].uid <= last)
			continue;   /* only ever append: older UIDs cannot appear */
		memset(&nv[nn], 0, sizeof(nv[nn]));
		vmsg_set(mb, &nv[nn], &s->m[i], kwmap);
		/* Ours if we claimed it, or if nobody could (read-only view
		 * or file): \Recent for the rest of this view's life. */
		nv[nn].meta.recent = (s->m[i].fresh && !s->m[i].taken) || s->m[i].claimed;
		nn++;
		added++;
	}
	free(mb->msgs);
	mb->msgs = nv;
	mb->count = nn;
	mb->uidnext = s->uidnext;
	if (s->highestmodseq > mb->highestmodseq)
		mb->highestmodseq = s->highestmodseq;
	mb->id = s->id;
	mb->lineage = s->lineage;
	free(kwmap);
	for (size_t i = 0; cb && cb->flags_changed && i < nchanged; i++)
		cb->flags_changed(ctx, (uint32_t)(changed[i] + 1));
	free(changed);
	if (cb && cb->exists && (added > 0 || nn != oldn))
		cb->exists(ctx, (uint32_t)nn);
}

static void fill_status(struct mailbox *mb, struct mailbox_status *stt)
{
	memset(stt, 0, sizeof(*stt));
	stt->messages = (uint32_t)mb->count;
	stt->uidnext = mb->uidnext;
	stt->uidvalidity = mb->uidvalidity;
	stt->highestmodseq = mb->highestmodseq;
	for (size_t i = 0; i < mb->count; i++) {
		stt->size += mb->msgs[i].meta.size;
		if (mb->msgs[i].meta.recent)
			stt->recent++;
		if (!(mb->msgs[i].meta.flags & MF_SEEN)) {
			stt->unseen++;
			if (stt->first_unseen == 0)
				stt->first_unseen = (uint32_t)(i + 1);
		}
	}
}

int mbox_select(struct store *st, const char *name, int readonly, struct mailbox **out,
		struct mailbox_status *status, struct error *err)
{
	struct mailbox *mb = xcalloc(1, sizeof(*mb));
	struct mbox_handle h;
	struct mbox_scan *s = mbox_scan_new();

	mb->st = st;
	mb->readonly = readonly;
	mb->file_wd = -1;
	mb->dir_wd = -1;
	if (mbox_resolve(st, name, 0, &mb->loc, err) < 0)
		goto fail;
	if (mbox_handle_open(st, &mb->loc, MBOX_OPEN_READ, &h, err) < 0)
		goto fail;
	/* SELECT claims the new mail (in the rewrite that persists UIDs, if
	 * one is needed anyway); EXAMINE shows it as recent and leaves it. */
	if ((readonly ? mbox_handle_scan(&h, NULL, s, err)
		      : mbox_handle_scan_claim(&h, NULL, 0, s, err)) < 0) {
		mbox_handle_close(&h);
		goto fail;
	}
	mb->have_file = h.fd >= 0;
	mbox_handle_close(&h);
	mb->uidvalidity = s->uidvalidity;
	view_merge(mb, s, NULL, NULL);
	mb->cache = s;
	if (status)
		fill_status(mb, status);
	*out = mb;
	return 0;
fail:
	mbox_scan_destroy(s);
	mbox_mailbox_close(mb);
	return -1;
}

void mbox_mailbox_close(struct mailbox *mb)
{
	if (mb == NULL)
		return;
	/* Keyword lists index mb->kwnames: none without names. */
	for (size_t i = 0; mb->nkw > 0 && i < mb->count; i++)
		free(mb->msgs[i].kw);
	free(mb->msgs);
	for (size_t i = 0; i < mb->nkw; i++)
		free(mb->kwnames[i]);
	free(mb->kwnames);
	free(mb->own);
	mbox_notify_release(mb);
	mbox_fields_free(mb);
	mbox_scan_destroy(mb->cache);
	if (mb->loc.base || mb->loc.dirfd > 0)
		mbox_loc_free(&mb->loc);
	free(mb);
}

uint32_t mbox_count(struct mailbox *mb)
{
	return (uint32_t)mb->count;
}

const struct msg_meta *mbox_meta(struct mailbox *mb, uint32_t seq)
{
	if (seq == 0 || seq > mb->count || mb->msgs[seq - 1].gone)
		return NULL;
	return &mb->msgs[seq - 1].meta;
}

uint32_t mbox_uid(struct mailbox *mb, uint32_t seq)
{
	return seq >= 1 && seq <= mb->count ? mb->msgs[seq - 1].meta.uid : 0;
}

size_t mbox_keywords(struct mailbox *mb, const char *const **names)
{
	*names = (const char *const *)mb->kwnames;
	return mb->nkw;
}

int mbox_sync(struct mailbox *mb, const struct sync_cb *cb, void *ctx, struct error *err)
{
	struct stat sb;
	struct mbox_fid now;
	struct mbox_handle h;
	struct mbox_scan *s;
	struct mbox_carry carry;

	mbox_notify_drain(mb);
	if (fstatat(mb->loc.dirfd, mb->loc.base, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return mbox_errno_error(err, errno, "stat", mb->loc.path);
		if (!mb->have_file && !mb->dirty)
			return 0;
		if (!mb->loc.is_inbox) {
			/* Deleted or renamed away: everything in it is gone. */
			struct mbox_scan empty;
			memset(&empty, 0, sizeof(empty));
			empty.uidnext = mb->uidnext;
			view_merge(mb, &empty, cb, ctx);
			mb->have_file = 0;
			mb->dirty = 0;
			mbox_scan_destroy(mb->cache);
			mb->cache = NULL;
			return 0;
		}
	} else {
		mbox_fid_from_stat(&now, &sb);
		if (mb->have_file && !mb->dirty && mbox_fid_equal(&now, &mb->id))
			return 0;
	}
	if (mbox_handle_open(mb->st, &mb->loc, MBOX_OPEN_READ, &h, err) < 0)
		return -1;
	s = mbox_scan_new();
	carry.uidvalidity = mb->uidvalidity;
	carry.uidnext = mb->uidnext;
	/* Claim only what enters the view now: UIDs above its last one. */
	if ((mb->readonly ? mbox_handle_scan(&h, &carry, s, err)
			  : mbox_handle_scan_claim(&h, &carry,
						   mb->count ? mb->msgs[mb->count - 1].meta.uid : 0,
						   s, err)) < 0) {
		mbox_handle_close(&h);
		mbox_scan_destroy(s);
		return -1;
	}
	mb->have_file = h.fd >= 0;
	mbox_handle_close(&h);
	if (s->uidvalidity != mb->uidvalidity) {
		mbox_scan_destroy(s);
		error_set(err, ERR_VIEWGONE,
			  "Mailbox UIDVALIDITY changed (replaced by another program); select it again");
		return -1;
	}
	view_merge(mb, s, cb, ctx);
	mbox_scan_destroy(mb->cache);
	mb->cache = s;
	mb->dirty = 0;
	mb->nown = 0;
	return 0;
}
