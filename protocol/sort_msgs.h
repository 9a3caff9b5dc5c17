/* What SORT and THREAD share (sort_msgs.c): the search, run through
 * SEARCH's evaluator, and the sort keys of the messages found. */
#ifndef HAVEN_SORT_MSGS_H
#define HAVEN_SORT_MSGS_H
#include <stddef.h>
#include <stdint.h>

#include "../mail/search.h"
#include "../mail/sort.h"
#include "sort_parse.h"
#include "worker.h"

struct sort_msg {
	uint32_t seq, uid;
	time_t arrival;             /* INTERNALDATE */
	uint64_t size;
	struct mail_sort_keys k;    /* k.date: Date:, else INTERNALDATE */
};

/* Answer a parse that failed (st != SEARCH_OK: BAD, BAD [LIMIT], NO
 * [BADCHARSET]) and return -1; else run prog over the view: the
 * messages found, or -1 after answering the command's failure. */
int sort_msgs_search(struct session *s, const struct imap_cmd *cmd, const char *name,
		     enum search_status st, const char *why, struct search_program *prog,
		     uint32_t **seqs, uint32_t **uids, size_t *n);

/* The keys of the messages found (need: enum sort_need), in *out (the
 * command's arena); a message whose metadata cannot be had any more is
 * left out (*n becomes how many remain). 0, or -1 with err. */
int sort_msgs_keys(struct session *s, unsigned need, const uint32_t *seqs, size_t *n,
		   struct sort_msg **out, struct error *err);

#endif
