/* RETURN (UPDATE) of SEARCH and SORT (RFC 5267 4.3, search_update.c):
 * results kept up to date while the mailbox stays selected, told as
 * ESEARCH ADDTO / REMOVEFROM. */
#ifndef HAVEN_SEARCH_UPDATE_H
#define HAVEN_SEARCH_UPDATE_H
#include "sort_parse.h"
#include "worker.h"

/* Is tag that of a context still updated (a reused tag is BAD)? */
int search_update_tag_used(const struct wsession *ws, const char *tag);
/* Keep the result uids[0..n) (requested order) of the command cmd up to
 * date; sp is the sort order, NULL for SEARCH. Past max_search_updates,
 * or for a program whose meaning the mailbox changes ("$", sequence
 * numbers), answers * NO [NOUPDATE "tag"] instead. */
void search_update_add(struct wsession *ws, const struct imap_cmd *cmd, int by_uid,
		       const struct search_program *p, const struct sort_spec *sp,
		       const uint32_t *uids, size_t n);
/* Message uid (sequence number seq) is being expunged: REMOVEFROM now,
 * before its EXPUNGE makes the number mean another message. */
void search_update_expunged(struct wsession *ws, uint32_t seq, uint32_t uid);
/* Evaluate every context again and tell what entered or left it. */
void search_update_refresh(struct wsession *ws);
/* Unselect: every context ends. */
void search_update_free_all(struct wsession *ws);
/* CANCELUPDATE "tag"... (RFC 5267 4.3.5) */
void cmd_cancelupdate(struct session *s, const struct imap_cmd *cmd);
/* cmd_sort.c: order the messages seqs[0..*n) by sp, writing sequence
 * numbers and UIDs in sort order (messages gone meanwhile drop out). */
int sort_order(struct session *s, const struct sort_spec *sp, uint32_t *seqs, uint32_t *uids,
	       size_t *n, struct error *err);

#endif
