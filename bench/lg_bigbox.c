/* Haven benchmark load generator, bigbox profile: one big mailbox,
 * --max-sessions sessions one after the other, each LOGIN, the --big-ops
 * commands (STATUS, SELECT, FETCH 1:* (UID FLAGS), UID SEARCH SUBJECT,
 * SEARCH BODY, SORT by ARRIVAL, SUBJECT or DATE, THREAD REFERENCES),
 * LOGOUT; every answer is checked against --bigbox-expect (SORT and
 * THREAD: every message exactly once). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"

/* bigbox: the commands a session runs, in order, and what they must return */
#define MAX_BIG_OPS 12
static enum cmd big_ops[MAX_BIG_OPS];
static int nbig_ops;
static struct {
	unsigned long messages, unseen, uidnext; /* uidnext 0: only > messages */
	char subject[128], body[128];
	unsigned long *subject_uids, *body_seqs;
	size_t nsubject_uids, nbody_seqs;
} expect;


/* bigbox: send the session's next command, or LOGOUT after the last. */
void big_next(struct conn *c)
{
	if (c->big_i >= nbig_ops) {
		c->step = S_LOGOUT;
		send_cmd(c, C_LOGOUT, "LOGOUT");
		return;
	}
	enum cmd op = big_ops[c->big_i++];
	c->step = S_BIG;
	c->nfetch = c->nfetch_unseen = c->fetch_bad = 0;
	c->got_status = 0;
	c->nfound = 0;
	switch (op) {
	case C_STATUS:
		send_cmd(c, op, "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)");
		break;
	case C_SELECT:
		c->exists = 0;
		send_cmd(c, op, "SELECT INBOX");
		break;
	case C_FETCH_ALL:
		send_cmd(c, op, "FETCH 1:* (UID FLAGS)");
		break;
	case C_SEARCH_HDR:
		send_cmd(c, op, "UID SEARCH SUBJECT \"%s\"", expect.subject);
		break;
	case C_SEARCH_BODY:
		send_cmd(c, op, "SEARCH BODY \"%s\"", expect.body);
		break;
	case C_SORT_ARRIVAL:
		send_cmd(c, op, "SORT (ARRIVAL) UTF-8 ALL");
		break;
	case C_SORT_SUBJECT:
		send_cmd(c, op, "SORT (SUBJECT) UTF-8 ALL");
		break;
	case C_SORT_DATE:
		send_cmd(c, op, "SORT (DATE) UTF-8 ALL");
		break;
	case C_THREAD_REFS:
		send_cmd(c, op, "THREAD REFERENCES UTF-8 ALL");
		break;
	default:
		abort();
	}
}

static int cmp_ul(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

/* The untagged response that lists the numbers a command returns (THREAD's
 * parentheses are skipped: the numbers are what is checked). */
static const char *list_prefix(enum cmd op)
{
	switch (op) {
	case C_SORT_ARRIVAL:
	case C_SORT_SUBJECT:
	case C_SORT_DATE:
		return "* SORT";
	case C_THREAD_REFS:
		return "* THREAD";
	default:
		return "* SEARCH";
	}
}

/* bigbox: an untagged line while one of its commands runs */
void big_untagged(struct conn *c, const char *line)
{
	unsigned long seq, v;
	const char *p;
	switch (c->cur) {
	case C_FETCH_ALL:
		if (sscanf(line, "* %lu FETCH (", &seq) != 1 || !strstr(line, " FETCH ("))
			return;
		c->nfetch++;
		p = strstr(line, "UID ");
		if (!p || sscanf(p + 4, "%lu", &v) != 1 || v != seq)
			c->fetch_bad++; /* the generated box has UID == sequence number */
		if (!strstr(line, "\\Seen"))
			c->nfetch_unseen++;
		return;
	case C_SEARCH_HDR:
	case C_SEARCH_BODY:
	case C_SORT_ARRIVAL:
	case C_SORT_SUBJECT:
	case C_SORT_DATE:
	case C_THREAD_REFS:
		if (strncmp(line, list_prefix(c->cur), strlen(list_prefix(c->cur))) != 0)
			return;
		p = line + strlen(list_prefix(c->cur));
		for (;;) {
			char *end;
			while (*p == ' ' || *p == '(' || *p == ')')
				p++;
			if (!isdigit((unsigned char)*p))
				break;
			v = strtoul(p, &end, 10);
			p = end;
			if (c->nfound == c->found_cap) {
				c->found_cap = c->found_cap ? c->found_cap * 2 : 256;
				c->found = realloc(c->found, c->found_cap * sizeof(*c->found));
				if (!c->found) {
					perror("realloc");
					exit(2);
				}
			}
			c->found[c->nfound++] = v;
		}
		return;
	case C_STATUS:
		if (strncmp(line, "* STATUS ", 9) != 0)
			return;
		c->got_status = 1;
		if ((p = strstr(line, "MESSAGES ")))
			c->status_msgs = strtoul(p + 9, NULL, 10);
		if ((p = strstr(line, "UNSEEN ")))
			c->status_unseen = strtoul(p + 7, NULL, 10);
		if ((p = strstr(line, "UIDNEXT ")))
			c->status_uidnext = strtoul(p + 8, NULL, 10);
		return;
	default:
		return;
	}
}

static int same_set(unsigned long *got, size_t n, const unsigned long *want, size_t nw)
{
	if (n != nw)
		return 0;
	qsort(got, n, sizeof(*got), cmp_ul);
	return n == 0 || !memcmp(got, want, n * sizeof(*got));
}

/* SORT/THREAD ... ALL: a permutation of 1..n (the order is the
 * differential and integration tests' business). */
static int all_once(unsigned long *got, size_t n, unsigned long messages)
{
	if (n != messages)
		return 0;
	qsort(got, n, sizeof(*got), cmp_ul);
	for (size_t i = 0; i < n; i++)
		if (got[i] != i + 1)
			return 0;
	return 1;
}

/* bigbox: after a tagged OK, check what the command returned */
void big_verify(struct conn *c)
{
	int ok = 1;
	switch (c->cur) {
	case C_STATUS:
		ok = c->got_status && c->status_msgs == expect.messages &&
		     c->status_unseen == expect.unseen &&
		     (expect.uidnext ? c->status_uidnext == expect.uidnext
				     : c->status_uidnext > expect.messages);
		if (!ok)
			errmsg("conn %d: STATUS gave MESSAGES %lu UNSEEN %lu UIDNEXT %lu, want %lu %lu %lu",
			       c->id, c->status_msgs, c->status_unseen, c->status_uidnext,
			       expect.messages, expect.unseen,
			       expect.uidnext ? expect.uidnext : expect.messages + 1);
		break;
	case C_SELECT:
		ok = c->exists == expect.messages;
		if (!ok)
			errmsg("conn %d: SELECT gave %lu EXISTS, want %lu", c->id, c->exists,
			       expect.messages);
		break;
	case C_FETCH_ALL:
		ok = c->nfetch == expect.messages && !c->fetch_bad &&
		     c->nfetch_unseen == expect.unseen;
		if (!ok)
			errmsg("conn %d: FETCH 1:* gave %lu FETCH (%lu UID != seq, %lu unseen), want %lu (%lu unseen)",
			       c->id, c->nfetch, c->fetch_bad, c->nfetch_unseen, expect.messages,
			       expect.unseen);
		break;
	case C_SEARCH_HDR:
		ok = same_set(c->found, c->nfound, expect.subject_uids, expect.nsubject_uids);
		if (!ok)
			errmsg("conn %d: UID SEARCH SUBJECT gave %zu UIDs, want %zu (or different ones)",
			       c->id, c->nfound, expect.nsubject_uids);
		break;
	case C_SEARCH_BODY:
		ok = same_set(c->found, c->nfound, expect.body_seqs, expect.nbody_seqs);
		if (!ok)
			errmsg("conn %d: SEARCH BODY gave %zu messages, want %zu (or different ones)",
			       c->id, c->nfound, expect.nbody_seqs);
		break;
	case C_SORT_ARRIVAL:
	case C_SORT_SUBJECT:
	case C_SORT_DATE:
	case C_THREAD_REFS:
		ok = all_once(c->found, c->nfound, expect.messages);
		if (!ok)
			errmsg("conn %d: %s gave %zu numbers, want each of 1..%lu once", c->id,
			       cmd_names[c->cur], c->nfound, expect.messages);
		break;
	default:
		return;
	}
	if (ok)
		verify_ok++;
	else
		verify_errors++;
}

void big_parse_ops(const char *list)
{
	char *dup = strdup(list), *save = NULL;
	for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum cmd op;
		if (!strcmp(t, "STATUS")) op = C_STATUS;
		else if (!strcmp(t, "SELECT")) op = C_SELECT;
		else if (!strcmp(t, "FETCH")) op = C_FETCH_ALL;
		else if (!strcmp(t, "SEARCH_HEADER")) op = C_SEARCH_HDR;
		else if (!strcmp(t, "SEARCH_BODY")) op = C_SEARCH_BODY;
		else if (!strcmp(t, "SORT_ARRIVAL")) op = C_SORT_ARRIVAL;
		else if (!strcmp(t, "SORT_SUBJECT")) op = C_SORT_SUBJECT;
		else if (!strcmp(t, "SORT_DATE")) op = C_SORT_DATE;
		else if (!strcmp(t, "THREAD_REFERENCES")) op = C_THREAD_REFS;
		else {
			fprintf(stderr, "loadgen: unknown bigbox op %s\n", t);
			exit(2);
		}
		if (nbig_ops == MAX_BIG_OPS) {
			fprintf(stderr, "loadgen: at most %d bigbox ops\n", MAX_BIG_OPS);
			exit(2);
		}
		big_ops[nbig_ops++] = op;
	}
	free(dup);
}

static unsigned long *parse_nums(const char *p, size_t *n)
{
	unsigned long *v = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		char *end;
		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p))
			break;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof(*v));
			if (!v) {
				perror("realloc");
				exit(2);
			}
		}
		v[(*n)++] = strtoul(p, &end, 10);
		p = end;
	}
	return v;
}

void big_load_expect(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	if (!f) {
		perror(path);
		exit(2);
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		char *sp = strchr(line, ' ');
		const char *val = sp ? sp + 1 : "";
		if (sp)
			*sp = 0;
		if (!strcmp(line, "messages")) expect.messages = strtoul(val, NULL, 10);
		else if (!strcmp(line, "unseen")) expect.unseen = strtoul(val, NULL, 10);
		else if (!strcmp(line, "uidnext")) expect.uidnext = strtoul(val, NULL, 10);
		else if (!strcmp(line, "subject")) snprintf(expect.subject, sizeof(expect.subject), "%s", val);
		else if (!strcmp(line, "body")) snprintf(expect.body, sizeof(expect.body), "%s", val);
		else if (!strcmp(line, "subject_uids")) expect.subject_uids = parse_nums(val, &expect.nsubject_uids);
		else if (!strcmp(line, "body_seqs")) expect.body_seqs = parse_nums(val, &expect.nbody_seqs);
	}
	free(line);
	fclose(f);
	if (!expect.messages || !expect.subject[0] || !expect.body[0] ||
	    strpbrk(expect.subject, "\"\\") || strpbrk(expect.body, "\"\\")) {
		fprintf(stderr, "loadgen: %s: needs messages, subject and body (no quotes)\n", path);
		exit(2);
	}
}

