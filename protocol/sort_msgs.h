/* What SORT and THREAD share (sort_msgs.c): the "charset search-key..."
 * tail of both commands, run through SEARCH's parser and evaluator, and
 * the sort keys of the messages found. */
#ifndef HAVEN_SORT_MSGS_H
#define HAVEN_SORT_MSGS_H
#include <stddef.h>
#include <stdint.h>

#include "../mail/search.h"
#include "../mail/sort.h"
#include "worker.h"

struct sort_msg {
	uint32_t seq, uid;
	time_t arrival;             /* INTERNALDATE */
	uint64_t size;
	struct mail_sort_keys k;    /* k.date: Date:, else INTERNALDATE */
};

enum sort_need {
	SORT_NEED_FIELDS = 1 << 0,  /* header fields SORT compares */
	SORT_NEED_REFS = 1 << 1,    /* References: too */
};

/* Parse [RETURN (opts) given as ret] charset search-key... from
 * args[0..nargs) and run the search. On failure the command has been
 * answered (BAD, NO [BADCHARSET], ...) and -1 is returned. */
int sort_msgs_search(struct session *s, const struct imap_cmd *cmd, const char *name,
		     const struct imap_arg *ret, const struct imap_arg *args, size_t nargs,
		     struct search_program *prog, uint32_t **seqs, uint32_t **uids, size_t *n);

/* The keys of the messages found (need: enum sort_need), in *out (the
 * command's arena). 0, or -1 with err. */
int sort_msgs_keys(struct session *s, unsigned need, const uint32_t *seqs, size_t n,
		   struct sort_msg **out, struct error *err);

#endif
