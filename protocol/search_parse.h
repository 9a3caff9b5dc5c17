/* SEARCH arguments as the client sent them -> a search program
 * (mail/search.h), see search_parse.c. */
#ifndef HAVEN_SEARCH_PARSE_H
#define HAVEN_SEARCH_PARSE_H
#include "../mail/search.h"
#include "parser.h"

enum search_status {
	SEARCH_OK = 0,
	SEARCH_BAD = -1,            /* syntax: tagged BAD */
	SEARCH_LIMIT = -2,          /* too many keys / too deep: BAD [LIMIT] */
	SEARCH_BADCHARSET = -3,     /* NO [BADCHARSET (UTF-8 US-ASCII)] */
};

/* Parse [RETURN (opts)] [CHARSET cs] key... from args[0..nargs). On error
 * *err says why. Everything is allocated in a. */
enum search_status search_parse(struct arena *a, const struct imap_arg *args, size_t nargs,
				struct search_program *p, const char **err);

#endif
