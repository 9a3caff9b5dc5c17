/* What a Sieve script decided, carried out: the copies stored (keep,
 * fileinto, with their imap4flags), discard, reject as this recipient's
 * LMTP refusal, then the outgoing mail (deliver_outgoing.c); a redirect
 * that replaced the keep but could not go out leaves the message in
 * INBOX instead, so nothing is ever lost.
 *
 * All or retry: the answer is OK only once every copy is durable; the
 * first store that fails answers its error, and the MTA delivers again
 * later. Copies stored before the failure are then stored a second time
 * (a duplicate, never a loss: Pigeonhole makes the same choice). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/log.h"
#include "../lib/msg_lmtp.h"
#include "../lib/xmalloc.h"
#include "../mail/keyword.h"
#include "deliver.h"
#include "worker.h"

/* The mailboxes stored into so far: a keep and a fileinto "INBOX" are
 * one copy (RFC 5228 4.2). */
struct stored {
	const char *names[SIEVE_MAX_ACTIONS + 1];
	size_t n;
};

static int stored_has(const struct stored *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

/* imap4flags into system flag bits and keywords (kw: room for nflags). */
static size_t flags_split(const struct sieve_action *a, uint32_t *flags, const char **kw)
{
	size_t nkw = 0;

	*flags = 0;
	for (size_t i = 0; i < a->nflags; i++) {
		uint32_t bit;
		if (flag_system_bit(a->flags[i], &bit) == 0)
			*flags |= bit;
		else if (a->flags[i][0] != '\\' && mail_keyword_valid(a->flags[i], strlen(a->flags[i])))
			kw[nkw++] = a->flags[i];
		else
			log_info("sieve: flag %s cannot be stored, left out", a->flags[i]);
	}
	return nkw;
}

/* fileinto's mailbox, or INBOX when it does not exist (Pigeonhole
 * without :create: the message is kept rather than refused). */
static const char *fileinto_target(const char *name)
{
	struct mailbox_status st;
	struct error err;

	if (strcasecmp(name, "INBOX") == 0)
		return "INBOX";
	if (store_status(W->store, name, &st, &err) == 0 ||
	    (err.code != ERR_NONEXISTENT && err.code != ERR_CANNOT))
		return name;
	log_warn("sieve: %s: fileinto \"%s\": %s; kept in INBOX", W->user.name, name, err.msg);
	return "INBOX";
}

static int store_copy(const struct deliver_job *j, const char *mailbox,
		      const struct sieve_action *a, struct stored *done, struct error *err)
{
	const char **kw;
	uint32_t flags;
	size_t nkw;
	int rc;

	if (stored_has(done, mailbox))
		return 0;
	kw = xreallocarray(NULL, a->nflags ? a->nflags : 1, sizeof(*kw));
	nkw = flags_split(a, &flags, kw);
	rc = deliver_store(j, mailbox, flags, kw, nkw, err);
	free(kw);
	if (rc < 0)
		return -1;
	done->names[done->n++] = mailbox;
	log_info("sieve: %s: stored in %s", W->user.name, mailbox);
	return 0;
}

static void reject(const struct sieve_action *a, struct deliver_outcome *out)
{
	out->status = LMTP_DELIVER_REJECT;
	snprintf(out->text, sizeof(out->text), "%s", a->reason ? a->reason : "Rejected");
	log_info("sieve: %s: rejected: %s", W->user.name, out->text);
}

static const struct sieve_action *find(const struct sieve_result *r, enum sieve_act kind)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].kind == kind)
			return &r->v[i];
	return NULL;
}

/* The copies first: if one cannot be stored, the MTA tries again later
 * and nothing has gone out yet. */
static int store_all(const struct deliver_job *j, const struct sieve_result *r,
		     struct stored *done, struct error *err)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct sieve_action *a = &r->v[i];
		int rc = 0;
		if (a->kind == SIEVE_ACT_KEEP)
			rc = store_copy(j, deliver_target(j->detail), a, done, err);
		else if (a->kind == SIEVE_ACT_FILEINTO)
			rc = store_copy(j, fileinto_target(a->mailbox), a, done, err);
		else if (a->kind == SIEVE_ACT_DISCARD)
			log_info("sieve: %s: discarded", W->user.name);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void deliver_actions(const struct deliver_job *j, const struct deliver_sieve *ds,
		     struct deliver_outcome *out)
{
	static const struct sieve_action inbox = { .kind = SIEVE_ACT_KEEP };
	const struct sieve_result *r = &ds->res;
	const struct sieve_action *rej = find(r, SIEVE_ACT_REJECT);
	struct stored done = { .n = 0 };
	struct error err;
	int keep_anyway = 0, rc;

	out->status = LMTP_DELIVER_OK;
	snprintf(out->text, sizeof(out->text), "Delivered");
	if (rej) {   /* alone: reject conflicts with every store action (RFC 5429 2.1) */
		reject(rej, out);
		return;
	}
	rc = store_all(j, r, &done, &err);
	for (size_t i = 0; i < r->n && rc == 0; i++)
		if (r->v[i].kind == SIEVE_ACT_REDIRECT || r->v[i].kind == SIEVE_ACT_VACATION)
			keep_anyway |= deliver_outgoing(j, &r->v[i], &ds->msg);
	if (rc == 0 && keep_anyway && done.n == 0)
		rc = store_copy(j, "INBOX", &inbox, &done, &err);
	if (rc < 0) {
		out->status = deliver_status_of(&err);
		snprintf(out->text, sizeof(out->text), "%s", err.msg);
	}
}
