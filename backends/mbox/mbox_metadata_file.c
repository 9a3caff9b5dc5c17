/* The mbox store's METADATA file, <mbox_dir>/.haven-metadata: every entry
 * of the user's server and mailboxes, sorted by mailbox then entry name.
 *
 *   haven-metadata 1\n
 *   M <mailbox bytes> <entry bytes> <value bytes>\n<mailbox><entry><value>\n
 *   ...
 *
 * Lengths frame the fields, so a value holds any octets (RFC 5464 allows
 * literal8). Whoever can write the file is outside our control, so what
 * is read back is checked as client bytes are: bounded size, strict
 * framing and numbers, valid names, strictly ascending keys (no
 * duplicates). A file that fails is refused whole, never half-read: a
 * SETMETADATA then fails instead of writing over entries it could not
 * read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/xmalloc.h"
#include "mbox_private.h"

#define META_MAGIC "haven-metadata 1\n"

static void meta_rec_free(struct mbox_meta_rec *rec);

void mbox_metadata_free(struct mbox_meta_set *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		meta_rec_free(&ms->v[i]);
	free(ms->v);
	ms->v = NULL;
	ms->n = 0;
}

/* A decimal number of at most 10 digits ending at sep; *pos moves past. */
static int meta_number(const char *d, size_t len, size_t *pos, char sep, size_t *out)
{
	size_t v = 0, start = *pos;

	while (*pos < len && d[*pos] >= '0' && d[*pos] <= '9' && *pos - start < 10)
		v = v * 10 + (size_t)(d[(*pos)++] - '0');
	if (*pos == start || *pos >= len || d[*pos] != sep ||
	    (d[start] == '0' && *pos - start > 1))
		return -1;
	(*pos)++;
	*out = v;
	return 0;
}

static int meta_key_cmp(const char *ma, const char *ea, const char *mb, const char *eb)
{
	int c = strcmp(ma, mb);
	return c ? c : strcmp(ea, eb);
}

/* The names of a record read back are ones a client could have set. */
static int meta_names_valid(const struct mbox_meta_rec *rec, size_t mlen, size_t elen)
{
	struct error e;

	if (strlen(rec->mailbox) != mlen || strlen(rec->entry) != elen)
		return 0;   /* a NUL inside */
	if (mlen && !mbox_name_is_inbox(rec->mailbox) && mbox_name_check(rec->mailbox, &e) < 0)
		return 0;
	return store_metadata_entry_check(rec->entry, 0, &e) == 0;
}

static void meta_rec_free(struct mbox_meta_rec *rec)
{
	free(rec->mailbox);
	free(rec->entry);
	free(rec->value);
}

/* One record at *pos into rec (allocated), or -1. */
static int meta_record(const char *d, size_t len, size_t *pos, struct mbox_meta_rec *rec)
{
	size_t ml, el, vl, p = *pos;

	if (len - p < 2 || d[p] != 'M' || d[p + 1] != ' ')
		return -1;
	p += 2;
	if (meta_number(d, len, &p, ' ', &ml) < 0 || meta_number(d, len, &p, ' ', &el) < 0 ||
	    meta_number(d, len, &p, '\n', &vl) < 0)
		return -1;
	if (ml > len - p || el > len - p - ml || vl > len - p - ml - el ||
	    len - p - ml - el - vl < 1 || d[p + ml + el + vl] != '\n')
		return -1;
	rec->mailbox = xstrndup(d + p, ml);
	rec->entry = xstrndup(d + p + ml, el);
	rec->value = xmalloc(vl ? vl : 1);
	memcpy(rec->value, d + p + ml + el, vl);
	rec->len = vl;
	if (!meta_names_valid(rec, ml, el)) {
		meta_rec_free(rec);
		return -1;
	}
	*pos = p + ml + el + vl + 1;
	return 0;
}

int mbox_metadata_parse(const char *data, size_t len, struct mbox_meta_set *out,
			struct error *err)
{
	size_t pos = sizeof(META_MAGIC) - 1;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if (len < pos || memcmp(data, META_MAGIC, pos) != 0)
		goto bad;
	while (pos < len) {
		struct mbox_meta_rec rec;
		if (meta_record(data, len, &pos, &rec) < 0)
			goto bad;
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = rec;
		if (out->n > 1 && meta_key_cmp(out->v[out->n - 2].mailbox, out->v[out->n - 2].entry,
					       rec.mailbox, rec.entry) >= 0)
			goto bad;
	}
	return 0;
bad:
	mbox_metadata_free(out);
	error_set(err, ERR_INTERNAL, "mbox: %s is damaged (byte %zu); not touched",
		  MBOX_METADATA_FILE, pos);
	return -1;
}

static int meta_rec_cmp(const void *a, const void *b)
{
	const struct mbox_meta_rec *x = a, *y = b;
	return meta_key_cmp(x->mailbox, x->entry, y->mailbox, y->entry);
}

void mbox_metadata_sort(struct mbox_meta_set *ms)
{
	if (ms->n > 1)
		qsort(ms->v, ms->n, sizeof(*ms->v), meta_rec_cmp);
}

void mbox_metadata_serialize(const struct mbox_meta_set *ms, struct buf *out)
{
	buf_append_str(out, META_MAGIC);
	for (size_t i = 0; i < ms->n; i++) {
		const struct mbox_meta_rec *r = &ms->v[i];
		buf_printf(out, "M %zu %zu %zu\n", strlen(r->mailbox), strlen(r->entry), r->len);
		buf_append_str(out, r->mailbox);
		buf_append_str(out, r->entry);
		buf_append(out, r->value, r->len);
		buf_append_byte(out, '\n');
	}
}
