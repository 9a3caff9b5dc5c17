/* SORT and THREAD arguments as the client sent them (sort_parse.c):
 * SORT [RETURN (opts)] (criteria) charset search-key...,
 * THREAD algorithm charset search-key...; the search part goes through
 * SEARCH's parser (search_parse.c). */
#ifndef HAVEN_SORT_PARSE_H
#define HAVEN_SORT_PARSE_H
#include "../mail/sort.h"
#include "search_parse.h"

#define SORT_MAX_CRITERIA 32

enum sort_key {
	SORTK_ARRIVAL, SORTK_CC, SORTK_DATE, SORTK_FROM, SORTK_SIZE, SORTK_SUBJECT, SORTK_TO,
	SORTK_DISPLAYFROM, SORTK_DISPLAYTO,
};

/* What the keys of the messages found must hold. */
enum sort_need {
	SORT_NEED_FIELDS = 1 << 0,  /* header fields SORT compares */
	SORT_NEED_REFS = 1 << 1,    /* References: too */
};

struct sort_crit {
	enum sort_key key;
	int reverse;
};

struct sort_spec {
	struct sort_crit c[SORT_MAX_CRITERIA];
	size_t n;
	unsigned need;              /* enum sort_need */
};

/* SORT's arguments args[0..nargs): SEARCH_OK with *sp and *p, or a
 * status (BAD, LIMIT, BADCHARSET) with *why. */
enum search_status sort_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
			      struct sort_spec *sp, struct search_program *p, const char **why);
/* THREAD's: the algorithm and what it needs, and the search program. */
enum search_status thread_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				enum mail_thread_alg *alg, unsigned *need,
				struct search_program *p, const char **why);

#endif
