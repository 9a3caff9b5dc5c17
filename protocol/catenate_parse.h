/* CATENATE's list of parts (RFC 4469 section 5), as the command parser
 * gave it: cat-part = "TEXT" SP literal / "URL" SP astring, at least one,
 * or (RFC 6855 section 4) "UTF8" SP "(" literal8 ")".
 * Pure: no session, no store (a fuzz target drives it). */
#ifndef HAVEN_CATENATE_PARSE_H
#define HAVEN_CATENATE_PARSE_H
#include <stddef.h>

#include "../lib/arena.h"
#include "../mail/imapurl.h"
#include "parser.h"

struct cat_part {
	int text;                    /* TEXT or UTF8: arg is its literal; else a URL */
	int utf8;                    /* UTF8 (~{n}): ")" closes it */
	const struct imap_arg *arg;  /* the literal, or the URL's astring */
	int url_ok;                  /* the URL parsed (a message URL of RFC 5092) */
	struct imapurl url;
};

/* Parse list (a LIST argument) into *parts (n of them, in a). -1 with
 * *err for a syntax error (BAD); a URL that does not parse is no syntax
 * error but a BADURL for whoever uses it (url_ok 0). */
int catenate_parse(struct arena *a, const struct imap_arg *list, struct cat_part **parts,
		   size_t *n, const char **err);

#endif
