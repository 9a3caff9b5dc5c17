/* LOGIN and AUTHENTICATE in the login worker: the SASL mechanisms the
 * configured databases can serve (PLAIN, LOGIN, SCRAM-SHA-256 and -PLUS,
 * OAUTHBEARER), SASL-IR, '*' to cancel, base64 and size limits. The
 * client's answers are decoded here (sasl.c) and each goes to the master
 * as one step of an exchange it relays to the auth helper; the session is
 * suspended until the answer (a challenge for the client, a failure, or
 * the hand-off to the user worker) comes back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "../lib/base64.h"
#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "../lib/passdb_list.h"
#include "../lib/tls.h"
#include "../lib/xmalloc.h"
#include "login.h"
#include "ms.h"
#include "ms_parse.h"
#include "sasl.h"

/* Largest SASL answer, base64 as it comes (a JWT can be a few KiB). */
#define SASL_MAX 16384
/* RFC 7628 3.2.2: what a failed OAUTHBEARER gets before the NO. */
#define OAUTH_ERROR "{\"status\":\"invalid_token\"}"

struct mech {
	const char *name;
	int (*offered)(void);
	/* A decoded client answer: the first (initial response or after
	 * the first "+") has L->mech_step 0. */
	void (*answer)(struct session *s, const unsigned char *raw, size_t len);
};

static int plaintext_allowed(void)
{
	switch (config_plaintext_auth(&L->cfg)) {
	case PLAINTEXT_YES: return 1;
	case PLAINTEXT_NO: return L->tls || L->secured;
	case PLAINTEXT_LOOPBACK: return L->tls || L->secured || L->loopback;
	}
	return 0;
}

static int passdb_has(enum passdb_driver d)
{
	struct passdb_list l;
	struct error err;
	int has;

	if (passdb_list_parse(L->cfg.passdb, &l, &err) < 0)
		return 0;
	has = passdb_list_has(&l, d);
	passdb_list_free(&l);
	return has;
}

static int offered_always(void)
{
	return 1;
}

/* SCRAM needs a stored secret or a plaintext password: the file and sql
 * databases can have them. */
static int offered_scram(void)
{
	return passdb_has(PASSDB_FILE) || passdb_has(PASSDB_SQL);
}

static int offered_scram_plus(void)
{
	return L->tls && offered_scram();
}

static int offered_oauth(void)
{
	return passdb_has(PASSDB_OAUTH);
}

static void plain_answer(struct session *s, const unsigned char *raw, size_t len);
static void login_answer(struct session *s, const unsigned char *raw, size_t len);
static void scram_answer(struct session *s, const unsigned char *raw, size_t len);
static void oauth_answer(struct session *s, const unsigned char *raw, size_t len);

static const struct mech mechs[] = {
	{ SASL_MECH_PLAIN, offered_always, plain_answer },
	{ SASL_MECH_LOGIN, offered_always, login_answer },
	{ SASL_MECH_SCRAM, offered_scram, scram_answer },
	{ SASL_MECH_SCRAM_PLUS, offered_scram_plus, scram_answer },
	{ SASL_MECH_OAUTHBEARER, offered_oauth, oauth_answer },
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

/* The mechanisms offered now, space-separated ("" when plaintext
 * authentication is refused: IMAP says LOGINDISABLED then). */
void login_mechs(char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	if (!plaintext_allowed())
		return;
	for (size_t i = 0; i < NMECHS && n < cap; i++)
		if (mechs[i].offered())
			n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? " " : "", mechs[i].name);
}

const char *login_capability(struct session *s)
{
	static char cap[512];
	size_t n = (size_t)snprintf(cap, sizeof(cap), "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ID "
				    "ENABLE IDLE%s", L->ctx && !L->tls && !L->secured ? " STARTTLS" : "");

	if (!plaintext_allowed()) {
		snprintf(cap + n, sizeof(cap) - n, " LOGINDISABLED");
		return cap;
	}
	for (size_t i = 0; i < NMECHS && n < sizeof(cap); i++)
		if (mechs[i].offered())
			n += (size_t)snprintf(cap + n, sizeof(cap) - n, " AUTH=%s", mechs[i].name);
	return cap;
}

/* ---- steps to the master ----------------------------------------------------- */

static void send_pending(struct session *s)
{
	s->drained = NULL;
	if (L->pending == NULL)
		return;
	if (ipc_send(CHILD_FD_MASTER, L->pending, -1) < 0) {
		log_err("sending auth request: lost the master");
		session_bye(s, "[UNAVAILABLE] Server shutting down");
	}
	ipc_out_free_secret(L->pending);
	free(L->pending);
	L->pending = NULL;
}

/* Send a step with the session state the user worker will need: the tag
 * to answer and whatever the client pipelined after this line. */
static void send_step(struct session *s, enum auth_step kind, const char *mech,
		      const struct ipc_out *step)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t pre = s->preinput ? evbuffer_get_length(s->preinput) : 0;
	size_t left = pre + evbuffer_get_length(in);
	struct buf piped = BUF_INIT;
	struct ipc_out *o;

	if (left > IPC_MAX_PAYLOAD / 2) {
		session_tagged(s, L->tag, "BAD", "LIMIT", "Too much pipelined input after login");
		login_auth_reset(s);
		return;
	}
	o = xcalloc(1, sizeof(*o));
	ipc_out_init(o, MSG_LOGIN_AUTH, 0);
	buf_reserve(&o->payload, step->payload.len + left + 512);
	ipc_put_u32(o, kind);
	ipc_put_str(o, mech);
	ipc_put_bytes(o, step->payload.data, step->payload.len);
	ipc_put_str(o, L->tag);
	ipc_put_u32(o, (uint32_t)L->tls);
	ipc_put_str(o, "");
	/* What the client pipelined: bytes handed over with a connection
	 * back from UNAUTHENTICATE come before the socket's. */
	if (pre)
		buf_append(&piped, evbuffer_pullup(s->preinput, -1), pre);
	if (left > pre)
		buf_append(&piped, evbuffer_pullup(in, -1), left - pre);
	ipc_put_bytes(o, piped.data, piped.len);
	buf_free(&piped);
	/* The bytes stay buffered: after a failure or a challenge they are
	 * the client's next lines; after success the user worker got a
	 * copy and a TLS proxy drops them (L->handed_bytes) first. */
	L->handed_bytes = left;
	if (kind == AUTH_STEP_START) {
		L->exchange = 1;
		L->started++;
	}
	bufferevent_disable(s->bev, EV_READ);
	L->auth_pending = 1;
	L->pending = o;
	session_suspend(s);
	/* Our earlier responses must reach the client before the worker's. */
	if (session_output_pending(s) == 0)
		send_pending(s);
	else
		s->drained = send_pending;
}

/* Send a step the client's answer made (ok 0), or answer BAD with text
 * (the client's answer was malformed) and end the exchange. */
static void step_or_bad(struct session *s, enum auth_step kind, int ok, struct ipc_out *step,
			const char *text)
{
	if (ok == 0)
		send_step(s, kind, L->mech->name, step);
	else {
		session_tagged(s, L->tag, "BAD", NULL, "%s", text);
		login_auth_reset(s);
	}
	ipc_out_free_secret(step);
}

/* The exchange at the master ends without an answer (the client gave up). */
static void cancel_exchange(struct session *s)
{
	struct ipc_out o;

	if (!L->exchange)
		return;
	ipc_out_init(&o, MSG_LOGIN_AUTH, 0);
	ipc_put_u32(&o, AUTH_STEP_CANCEL);
	ipc_put_str(&o, L->mech ? L->mech->name : "");
	ipc_put_bytes(&o, NULL, 0);
	ipc_put_str(&o, L->tag);
	ipc_put_u32(&o, (uint32_t)L->tls);
	ipc_put_str(&o, "");
	ipc_put_bytes(&o, NULL, 0);
	if (ipc_send(CHILD_FD_MASTER, &o, -1) < 0)
		session_bye(s, "[UNAVAILABLE] Server shutting down");
	ipc_out_free(&o);
	L->exchange = 0;
}

void login_auth_reset(struct session *s)
{
	L->mech = NULL;
	L->mech_step = 0;
	L->exchange = 0;
	buf_free_secret(&L->login_user);
	s->line_fn = NULL;
}

/* ---- the mechanisms ------------------------------------------------------------ */

static void plain_answer(struct session *s, const unsigned char *raw, size_t len)
{
	struct ipc_out step;

	ipc_out_init(&step, 0, 0);
	step_or_bad(s, AUTH_STEP_START, sasl_plain_step(raw, len, &step), &step,
		    "Malformed PLAIN response");
}

static void sasl_line(struct session *s, const char *line, size_t len);

static void challenge(struct session *s, const void *data, size_t len)
{
	struct buf b = BUF_INIT;

	base64_encode(data, len, &b);
	if (s->dialect) {
		/* RFC 5804 2.1: the challenge is a string. */
		ms_write_string(s, b.data ? b.data : "", b.len);
		session_write(s, "\r\n", 2);
	} else {
		session_printf(s, "+ %.*s\r\n", (int)b.len, b.data ? b.data : "");
	}
	buf_free(&b);
	s->line_fn = sasl_line;
}

/* The LOGIN mechanism (draft-murchison-sasl-login): "Username:", then
 * "Password:", each answered in base64. */
static void login_answer(struct session *s, const unsigned char *raw, size_t len)
{
	struct ipc_out step;

	if (L->mech_step++ == 0) {
		buf_append(&L->login_user, raw, len);
		challenge(s, "Password:", 9);
		return;
	}
	ipc_out_init(&step, 0, 0);
	step_or_bad(s, AUTH_STEP_START,
		    sasl_login_step((const unsigned char *)L->login_user.data, L->login_user.len,
				    raw, len, &step), &step, "Malformed LOGIN response");
}

/* The channel binding the client asked for, from our side of the TLS
 * session; none when there is no TLS or it has no such binding (the
 * auth helper then refuses the exchange at its end). */
static size_t channel_binding(struct session *s, const char *name, unsigned char *out,
			      size_t cap)
{
	SSL *ssl = L->tls ? bufferevent_openssl_get_ssl(s->bev) : NULL;
	size_t n = 0;

	if (ssl == NULL || tls_channel_binding(ssl, name, out, cap, &n) < 0)
		return 0;
	return n;
}

static void scram_answer(struct session *s, const unsigned char *raw, size_t len)
{
	struct sasl_scram_first f;
	unsigned char cb[64];
	struct ipc_out step;
	int ok;

	ipc_out_init(&step, 0, 0);
	switch (L->mech_step) {
	case 0:
		if ((ok = sasl_scram_first_parse(raw, len, &f)) == 0)
			sasl_scram_first_step(&f, cb, f.cbind == SASL_CB_USED ?
					      channel_binding(s, f.cbname, cb, sizeof(cb)) : 0, &step);
		sasl_scram_first_free(&f);
		step_or_bad(s, AUTH_STEP_START, ok, &step, "Malformed SCRAM client-first-message");
		return;
	case 1:
		step_or_bad(s, AUTH_STEP_CONTINUE, sasl_scram_final_step(raw, len, &step), &step,
			    "Malformed SCRAM client-final-message");
		return;
	}
	/* After the server signature only an empty answer goes on. */
	step_or_bad(s, AUTH_STEP_CONTINUE, len == 0 ? 0 : -1, &step,
		    "Expected an empty response after the server signature");
}

static void oauth_answer(struct session *s, const unsigned char *raw, size_t len)
{
	struct ipc_out step;

	ipc_out_init(&step, 0, 0);
	step_or_bad(s, AUTH_STEP_START, sasl_oauthbearer_step(raw, len, &step), &step,
		    "Malformed OAUTHBEARER response");
}

/* ---- the client's side --------------------------------------------------------- */

/* A base64 answer ("=" for an empty one): the mechanism gets it decoded. */
static void sasl_answer(struct session *s, const char *b64, size_t len)
{
	struct buf raw = BUF_INIT;

	if (len == 1 && b64[0] == '=')
		len = 0;
	if (len > SASL_MAX || base64_decode(b64, len, &raw) < 0) {
		cancel_exchange(s);
		session_tagged(s, L->tag, "BAD", NULL, "Invalid base64 in SASL response");
		login_auth_reset(s);
	} else {
		L->mech->answer(s, (const unsigned char *)(raw.data ? raw.data : ""), raw.len);
	}
	buf_free_secret(&raw);
}

static void sasl_line(struct session *s, const char *line, size_t len)
{
	/* ManageSieve's answer is a string (quoted or a literal). */
	if (s->dialect && ms_parse_string(s->arena, line, len, &line, &len) < 0) {
		cancel_exchange(s);
		session_tagged(s, L->tag, "BAD", NULL, "Expected a string as the SASL response");
		login_auth_reset(s);
		return;
	}
	if (len == 1 && line[0] == '*') {
		cancel_exchange(s);
		session_tagged(s, L->tag, "BAD", NULL, "Authentication cancelled");
		login_auth_reset(s);
		return;
	}
	sasl_answer(s, line, len);
}

/* A failed OAUTHBEARER got the error challenge; its answer ends it. */
static void oauth_error_line(struct session *s, const char *line, size_t len)
{
	session_tagged(s, L->tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
	login_auth_reset(s);
	if (L->failures >= (unsigned)L->cfg.auth_max_attempts)
		session_bye(s, "Too many failed logins");
}

void login_auth_challenge(const unsigned char *data, size_t len)
{
	struct session *s = &L->s;

	L->auth_pending = 0;
	L->handed_bytes = 0;  /* still ours to read: the client's next lines */
	L->mech_step++;
	challenge(s, data, len);
	bufferevent_enable(s->bev, EV_READ);
	session_resume(s);
}

static const char *fail_code(enum login_fail kind)
{
	switch (kind) {
	case LOGIN_FAIL_AUTH: return "AUTHENTICATIONFAILED";
	case LOGIN_FAIL_EXPIRED: return "EXPIRED";
	default: return "UNAVAILABLE";
	}
}

void login_auth_failed(enum login_fail kind, const char *reason)
{
	struct session *s = &L->s;
	int was_pending = L->auth_pending;
	int oauth = L->mech && strcmp(L->mech->name, SASL_MECH_OAUTHBEARER) == 0;

	L->auth_pending = 0;
	L->failures++;
	L->exchange = 0;
	if (oauth && kind == LOGIN_FAIL_AUTH) {
		/* RFC 7628: the error as a challenge, the client's dummy
		 * answer, then the NO. */
		challenge(s, OAUTH_ERROR, strlen(OAUTH_ERROR));
		s->line_fn = oauth_error_line;
	} else {
		/* A block and a server fault are [UNAVAILABLE] with the
		 * helper's text: a client keeps the password and tries later,
		 * and the text tells a person which it was. Only a wrong
		 * password says so. */
		session_tagged(s, L->tag, "NO", fail_code(kind), "%s",
			       kind == LOGIN_FAIL_AUTH ? "Authentication failed" : reason);
		login_auth_reset(s);
		if (L->failures >= (unsigned)L->cfg.auth_max_attempts) {
			session_bye(s, "Too many failed logins");
			return;
		}
	}
	if (was_pending) {
		bufferevent_enable(s->bev, EV_READ);
		session_resume(s);
	}
}

/* ---- the commands --------------------------------------------------------------- */

/* The master allows auth_max_attempts exchanges per connection and kills
 * a login worker that asks for more: before that, the client gets BYE,
 * whether its exchanges failed or were cancelled. 1 when it got it. */
static int attempts_used_up(struct session *s)
{
	if (L->started < (unsigned)L->cfg.auth_max_attempts)
		return 0;
	session_bye(s, "Too many login attempts");
	return 1;
}

void cmd_login(struct session *s, const struct imap_cmd *cmd)
{
	struct ipc_out step;
	int ok;

	if (cmd->nargs != 2 || !imap_arg_is_astring(&cmd->args[0]) ||
	    !imap_arg_is_astring(&cmd->args[1])) {
		session_tagged(s, cmd->tag, "BAD", NULL, "LOGIN expects user name and password");
		return;
	}
	if (!plaintext_allowed()) {
		session_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
			       "Plaintext authentication disallowed without TLS");
		return;
	}
	if (attempts_used_up(s))
		return;
	snprintf(L->tag, sizeof(L->tag), "%s", cmd->tag);
	L->mech = &mechs[1];
	ipc_out_init(&step, 0, 0);
	ok = sasl_login_step((const unsigned char *)cmd->args[0].str, cmd->args[0].len,
			     (const unsigned char *)cmd->args[1].str, cmd->args[1].len, &step);
	explicit_bzero((char *)cmd->args[1].str, cmd->args[1].len);
	if (ok < 0) {
		/* A NUL in either (a literal can hold one): no such user. */
		session_tagged(s, cmd->tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
		login_auth_reset(s);
		ipc_out_free(&step);
		return;
	}
	send_step(s, AUTH_STEP_START, "LOGIN", &step);
	ipc_out_free_secret(&step);
}

static const struct mech *mech_find(const char *name)
{
	for (size_t i = 0; i < NMECHS; i++)
		if (strcasecmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return NULL;
}

void login_auth_begin(struct session *s, const char *tag, const char *mech,
		      const struct imap_arg *initial)
{
	const struct mech *m;

	if (!plaintext_allowed()) {
		session_tagged(s, tag, "NO", "PRIVACYREQUIRED",
			       "Plaintext authentication disallowed without TLS");
		return;
	}
	if ((m = mech_find(mech)) == NULL || !m->offered()) {
		session_tagged(s, tag, "NO", "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	if (attempts_used_up(s))
		return;
	snprintf(L->tag, sizeof(L->tag), "%s", tag);
	login_auth_reset(s);
	L->mech = m;
	if (initial)
		sasl_answer(s, initial->str, initial->len);
	else if (m->answer == login_answer)
		challenge(s, "Username:", 9);
	else
		challenge(s, "", 0);
}

void cmd_authenticate(struct session *s, const struct imap_cmd *cmd)
{
	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		session_tagged(s, cmd->tag, "BAD", NULL, "AUTHENTICATE expects a mechanism");
		return;
	}
	login_auth_begin(s, cmd->tag, cmd->args[0].str, cmd->nargs == 2 ? &cmd->args[1] : NULL);
}
