/* The base subject of RFC 5256 section 2.1: what SORT SUBJECT compares
 * and THREAD groups by.
 *
 * The value is decoded (RFC 2047) and case-folded first, so the
 * "re"/"fw"/"fwd" leaders and the "(fwd)" trailer match in any case; then
 * whitespace is normalized (step 1) and the steps 2 to 6 strip leaders,
 * blobs and trailers on one working copy by moving its two ends, each
 * pass only ever shortening it: linear in the subject. */
#include <string.h>

#include "search.h"
#include "sort.h"

struct subj {
	const char *s;
	size_t b, e;     /* the base subject so far is s[b..e) */
	int reply;
};

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Step 1: CR and LF go, every run of blanks becomes one space. */
static void subj_normalize(const char *in, size_t len, struct buf *out)
{
	int blank = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '\r' || c == '\n' || is_wsp(c)) {
			blank = 1;
			continue;
		}
		if (blank && out->len > 0)
			buf_append(out, " ", 1);
		blank = 0;
		buf_append(out, &c, 1);
	}
}

/* Step 2: trailing "(fwd)" and blanks, repeatedly. */
static void subj_strip_trailers(struct subj *sj)
{
	for (;;) {
		while (sj->e > sj->b && is_wsp(sj->s[sj->e - 1]))
			sj->e--;
		if (sj->e - sj->b < 5 || memcmp(sj->s + sj->e - 5, "(fwd)", 5) != 0)
			return;
		sj->e -= 5;
		sj->reply = 1;
	}
}

/* subj-blob at i: "[" *BLOBCHAR "]" *WSP; the index after it, or 0. */
static size_t subj_blob(const struct subj *sj, size_t i)
{
	if (i >= sj->e || sj->s[i] != '[')
		return 0;
	for (i++; i < sj->e && sj->s[i] != ']'; i++)
		if (sj->s[i] == '[')
			return 0;
	if (i >= sj->e)
		return 0;
	for (i++; i < sj->e && is_wsp(sj->s[i]); i++)
		;
	return i;
}

/* subj-refwd at i: ("re" / "fw" ["d"]) *WSP [subj-blob] ":"; the index
 * after it, or 0. */
static size_t subj_refwd(const struct subj *sj, size_t i)
{
	size_t n = sj->e - i, j;

	if (n >= 2 && memcmp(sj->s + i, "re", 2) == 0)
		i += 2;
	else if (n >= 3 && memcmp(sj->s + i, "fwd", 3) == 0)
		i += 3;
	else if (n >= 2 && memcmp(sj->s + i, "fw", 2) == 0)
		i += 2;
	else
		return 0;
	while (i < sj->e && is_wsp(sj->s[i]))
		i++;
	if ((j = subj_blob(sj, i)) != 0)
		i = j;
	return i < sj->e && sj->s[i] == ':' ? i + 1 : 0;
}

/* Step 3: one subj-leader, (*subj-blob subj-refwd) / WSP; 1 if removed. */
static int subj_strip_leader(struct subj *sj)
{
	size_t i = sj->b, j;

	if (i < sj->e && is_wsp(sj->s[i])) {
		sj->b++;
		return 1;
	}
	while ((j = subj_blob(sj, i)) != 0)
		i = j;
	if ((j = subj_refwd(sj, i)) == 0)
		return 0;
	sj->b = j;
	sj->reply = 1;
	return 1;
}

/* Step 4: leading subj-blobs, unless the base subject would be empty.
 * Removing them one at a time would retry step 3 after each, and step 3
 * fails again at the same place (it had skipped the same blobs): so they
 * go all at once, but the last stays if nothing follows it. */
static int subj_strip_blob(struct subj *sj)
{
	size_t i = sj->b, last = sj->b, j;

	while ((j = subj_blob(sj, i)) != 0) {
		last = i;
		i = j;
	}
	if (i < sj->e)
		last = i;
	if (last == sj->b)
		return 0;
	sj->b = last;
	return 1;
}

/* Step 6: "[fwd:" ... "]" around the whole. */
static int subj_strip_fwd_brackets(struct subj *sj)
{
	if (sj->e - sj->b < 6 || memcmp(sj->s + sj->b, "[fwd:", 5) != 0 ||
	    sj->s[sj->e - 1] != ']')
		return 0;
	sj->b += 5;
	sj->e--;
	sj->reply = 1;
	return 1;
}

int mail_base_subject(struct arena *a, const char *v, size_t len, struct buf *out)
{
	struct buf folded = BUF_INIT, norm = BUF_INIT;
	const char *dec = mail_decode_words(a, v, len);
	struct subj sj;

	search_fold(dec, strlen(dec), &folded);
	subj_normalize(folded.data ? folded.data : "", folded.len, &norm);
	sj.s = norm.data ? norm.data : "";
	sj.b = 0;
	sj.e = norm.len;
	sj.reply = 0;
	do {
		subj_strip_trailers(&sj);
		while (subj_strip_leader(&sj) || subj_strip_blob(&sj))
			;   /* step 5: steps 3 and 4 until neither applies */
	} while (subj_strip_fwd_brackets(&sj));
	buf_append(out, sj.s + sj.b, sj.e - sj.b);
	buf_free(&folded);
	buf_free(&norm);
	return sj.reply;
}
