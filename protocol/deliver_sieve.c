/* The user's Sieve script at delivery: read from the store, compiled
 * once and kept while its text stays the same (a worker delivers many
 * messages; compiling is far dearer than comparing the text), and run on
 * the message's header and envelope.
 *
 * A script that does not compile, or fails at run time, never costs a
 * message: the error is logged and the message kept (RFC 5228 2.10.6), as
 * Pigeonhole does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "deliver.h"
#include "worker.h"

/* The header a script sees is read up to here; a longer one is cut. */
#define DELIVER_HEADER_MAX (256 * 1024)
#define DELIVER_HEADER_PIECE 8192

/* The last script compiled: its text, and the script or why it failed. */
static struct {
	char *text;
	size_t len;
	struct sieve_script *script;   /* NULL: it did not compile */
	char error[256];
} cache;

/* The compiled script for text (from the cache when the text is the
 * same), or NULL with the compile error logged. */
static const struct sieve_script *script_for(const char *name, const struct buf *text)
{
	struct error err;

	if (cache.text == NULL || cache.len != text->len ||
	    memcmp(cache.text, text->data, text->len) != 0) {
		sieve_script_free(cache.script);
		free(cache.text);
		cache.text = xmalloc(text->len + 1);
		memcpy(cache.text, text->data, text->len);
		cache.len = text->len;
		cache.script = NULL;
		cache.error[0] = '\0';
		if (sieve_compile(text->data, text->len, &cache.script, &err) < 0) {
			cache.script = NULL;
			snprintf(cache.error, sizeof(cache.error), "%s", err.msg);
		}
	}
	if (cache.script == NULL)
		log_err("sieve: %s's script \"%s\" does not compile (mail kept in INBOX): %s",
			W->user.name, name, cache.error);
	return cache.script;
}

/* The end of the header block in p[0..n): just after its blank line, or
 * 0 when it is not there yet. */
static size_t header_end(const char *p, size_t n)
{
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	for (size_t i = 1; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i - 1] == '\n' || (p[i - 1] == '\r' && i >= 2 && p[i - 2] == '\n'))
			return i + 1;
	}
	return 0;
}

/* The trace header and the message's own header block, into out. */
static int header_read(const struct deliver_job *j, struct buf *out)
{
	char piece[DELIVER_HEADER_PIECE];
	size_t have = 0, end = 0;

	buf_append(out, j->trace, j->tracelen);
	while (end == 0 && have < DELIVER_HEADER_MAX && have < j->size) {
		ssize_t n = pread(j->fd, piece, sizeof(piece), (off_t)have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : 0;
		buf_append(out, piece, (size_t)n);
		have += (size_t)n;
		end = header_end(out->data + j->tracelen, have);
	}
	if (end > 0)
		out->len = j->tracelen + end;
	return 0;
}

static int run(const struct deliver_job *j, const struct sieve_script *script, const char *name,
	       struct deliver_sieve *ds)
{
	struct error err;

	buf_init(&ds->header);
	if (header_read(j, &ds->header) < 0) {
		log_err("sieve: reading the message: %s", strerror(errno));
		buf_free(&ds->header);
		return -1;
	}
	ds->msg = (struct sieve_msg){ .header = ds->header.data, .header_len = ds->header.len,
				      .size = j->tracelen + j->size, .env_from = j->from,
				      .env_to = j->to, .delimiter = W->cfg.recipient_delimiter };
	if (sieve_execute(script, &ds->msg, &ds->res, &err) < 0) {
		log_err("sieve: running %s's script \"%s\": %s", W->user.name, name, err.msg);
		buf_free(&ds->header);
		return -1;
	}
	if (ds->res.runtime_error)
		log_err("sieve: %s's script \"%s\" failed (mail kept in INBOX): %s", W->user.name,
			name, ds->res.error);
	return 1;
}

int deliver_sieve_run(const struct deliver_job *j, struct deliver_sieve *ds)
{
	struct buf text = BUF_INIT;
	const struct sieve_script *script;
	struct error err;
	char *name = NULL;
	int rc = 0;

	if (store_sieve_active(W->store, &text, &name, &err) < 0) {
		/* a store that cannot answer now: try again later; one that
		 * keeps no scripts, or a script too big: no script */
		if (err.code == ERR_UNAVAILABLE || err.code == ERR_INTERNAL || err.code == ERR_INUSE)
			rc = -1;
		if (err.code != ERR_NOTSUPPORTED)
			log_err("sieve: reading %s's active script: %s", W->user.name, err.msg);
	} else if (name != NULL && (script = script_for(name, &text)) != NULL) {
		rc = run(j, script, name, ds);
	}
	free(name);
	buf_free(&text);
	return rc;
}

void deliver_sieve_done(struct deliver_sieve *ds)
{
	sieve_result_free(&ds->res);
	buf_free(&ds->header);
}
