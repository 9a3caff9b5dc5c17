/* ManageSieve command syntax (RFC 5804 section 4), see ms_parse.h. */
#include "ms_parse.h"

#include <string.h>

struct ms_ctx {
	struct arena *a;
	const char *p, *end;
	const char *err;
};

static int ms_fail(struct ms_ctx *c, const char *why)
{
	if (c->err == NULL)
		c->err = why;
	return -1;
}

static int ms_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* "{" number ["+"] "}" CRLF octets: the reader has checked the size
 * against its limits and that the octets are all there. */
static int ms_parse_literal(struct ms_ctx *c, struct imap_arg *arg)
{
	unsigned long long n = 0;
	const char *q = c->p + 1;

	if (q >= c->end || !ms_is_digit(*q))
		return ms_fail(c, "Invalid literal");
	while (q < c->end && ms_is_digit(*q) && n <= 0xffffffffULL)
		n = n * 10 + (unsigned)(*q++ - '0');
	if (n > 0xffffffffULL)
		return ms_fail(c, "Literal too large");
	if (q < c->end && *q == '+')
		q++;
	if (c->end - q < 3 || q[0] != '}' || q[1] != '\r' || q[2] != '\n')
		return ms_fail(c, "Invalid literal");
	q += 3;
	if ((unsigned long long)(c->end - q) < n)
		return ms_fail(c, "Literal shorter than announced");
	arg->type = IMAP_ARG_LITERAL;
	arg->str = arena_strndup(c->a, q, (size_t)n);
	arg->len = (size_t)n;
	c->p = q + n;
	return 0;
}

/* <"> *QUOTED-CHAR <">: any octet but NUL, CR, LF; " and \ escaped. */
static int ms_parse_quoted(struct ms_ctx *c, struct imap_arg *arg)
{
	char *out = arena_alloc(c->a, MS_MAX_QUOTED + 1);
	size_t n = 0;
	const char *q = c->p + 1;

	for (; q < c->end && *q != '"'; q++) {
		if (*q == '\0' || *q == '\r' || *q == '\n')
			return ms_fail(c, "Invalid character in quoted string");
		if (*q == '\\') {
			if (++q >= c->end || (*q != '"' && *q != '\\'))
				return ms_fail(c, "Invalid escape in quoted string");
		}
		if (n == MS_MAX_QUOTED)
			return ms_fail(c, "Quoted string too long (use a literal)");
		out[n++] = *q;
	}
	if (q >= c->end)
		return ms_fail(c, "Unterminated quoted string");
	out[n] = '\0';
	arg->type = IMAP_ARG_QUOTED;
	arg->str = out;
	arg->len = n;
	c->p = q + 1;
	return 0;
}

static int ms_parse_number(struct ms_ctx *c, struct imap_arg *arg)
{
	const char *q = c->p;
	unsigned long long n = 0;

	while (q < c->end && ms_is_digit(*q)) {
		n = n * 10 + (unsigned)(*q++ - '0');
		if (n > 0xffffffffULL)
			return ms_fail(c, "Number too large");
	}
	arg->type = IMAP_ARG_ATOM;
	arg->str = arena_strndup(c->a, c->p, (size_t)(q - c->p));
	arg->len = (size_t)(q - c->p);
	c->p = q;
	return 0;
}

static int ms_parse_arg(struct ms_ctx *c, struct imap_arg *arg)
{
	if (c->p >= c->end)
		return ms_fail(c, "Missing argument");
	if (*c->p == '"')
		return ms_parse_quoted(c, arg);
	if (*c->p == '{')
		return ms_parse_literal(c, arg);
	if (ms_is_digit(*c->p))
		return ms_parse_number(c, arg);
	return ms_fail(c, "Expected a string or a number");
}

static int ms_parse_name(struct ms_ctx *c, struct imap_cmd *cmd)
{
	const char *q = c->p;
	char *name;

	while (q < c->end && ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')))
		q++;
	if (q == c->p)
		return ms_fail(c, "Expected a command name");
	if ((size_t)(q - c->p) > MS_MAX_NAME)
		return ms_fail(c, "Unknown command");
	name = arena_strndup(c->a, c->p, (size_t)(q - c->p));
	for (char *u = name; *u; u++)
		if (*u >= 'a' && *u <= 'z')
			*u = (char)(*u - 'a' + 'A');
	cmd->name = name;
	c->p = q;
	return 0;
}

int ms_parse_command(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
		     const char **errmsg)
{
	struct ms_ctx c = { a, raw, raw + len, NULL };

	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = "";
	cmd->args = arena_alloc(a, MS_MAX_ARGS * sizeof(*cmd->args));
	if (ms_parse_name(&c, cmd) < 0)
		goto fail;
	while (c.p < c.end) {
		if (*c.p++ != ' ') {
			ms_fail(&c, "Expected a space between arguments");
			goto fail;
		}
		if (cmd->nargs == MS_MAX_ARGS) {
			ms_fail(&c, "Too many arguments");
			goto fail;
		}
		if (ms_parse_arg(&c, &cmd->args[cmd->nargs]) < 0)
			goto fail;
		cmd->nargs++;
	}
	return 0;
fail:
	*errmsg = c.err;
	return -1;
}

int ms_parse_command_name(struct arena *a, const char *raw, size_t len, struct imap_cmd *cmd,
			  const char **errmsg)
{
	struct ms_ctx c = { a, raw, raw + len, NULL };

	memset(cmd, 0, sizeof(*cmd));
	cmd->tag = "";
	if (ms_parse_name(&c, cmd) < 0) {
		*errmsg = c.err;
		return -1;
	}
	return 0;
}

int ms_parse_string(struct arena *a, const char *raw, size_t len, const char **out,
		    size_t *outlen)
{
	struct ms_ctx c = { a, raw, raw + len, NULL };
	struct imap_arg arg;

	if (len == 0 || (*raw != '"' && *raw != '{') || ms_parse_arg(&c, &arg) < 0 ||
	    c.p != c.end)
		return -1;
	*out = arg.str;
	*outlen = arg.len;
	return 0;
}
