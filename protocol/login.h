/* The pre-auth login worker: one client, chrooted, unprivileged. */
#ifndef HAVEN_LOGIN_H
#define HAVEN_LOGIN_H
#include <openssl/ssl.h>

#include "../lib/config.h"
#include "../lib/msg_login.h"
#include "../lib/sandbox.h"
#include "session.h"

struct login {
	struct session s;
	struct config cfg;
	SSL_CTX *ctx;
	int client_fd;
	int tls;                 /* TLS is active on the client connection */
	int secured;             /* back after UNAUTHENTICATE under another login
				  * worker's TLS proxy: counts as TLS here */
	int loopback;
	uint32_t proto;          /* enum login_proto of the connection */
	unsigned failures;
	int auth_pending;
	size_t handed_bytes;     /* pipelined input already sent with the auth request */
	char tag[IMAP_MAX_TAG + 1];
	struct ipc_out *pending; /* auth request waiting for output to drain */
	/* the LOGIN or AUTHENTICATE in progress (login_auth.c) */
	const struct mech *mech;
	unsigned mech_step;      /* client answers it has had */
	int exchange;            /* the master holds an exchange for it */
	unsigned started;        /* exchanges started on this connection */
	struct buf login_user;   /* mechanism LOGIN: the name, until the password */
};

extern struct login *L;

/* login_cmds.c */
extern const struct command login_commands[];
extern const size_t login_ncommands;

/* login_auth.c */
const char *login_capability(struct session *s);
void cmd_login(struct session *s, const struct imap_cmd *cmd);
void cmd_authenticate(struct session *s, const struct imap_cmd *cmd);
/* AUTHENTICATE with mechanism mech and the base64 initial response (NULL:
 * none), whichever protocol's syntax it came in. */
void login_auth_begin(struct session *s, const char *tag, const char *mech,
		      const struct imap_arg *initial);
/* The SASL mechanisms offered now, space-separated; "" when plaintext
 * authentication is refused on this connection. */
void login_mechs(char *out, size_t cap);
/* The master's answers to a step: a challenge for the client, or a
 * failure (which may also come while the client is being waited for). */
void login_auth_challenge(const unsigned char *data, size_t len);
void login_auth_failed(enum login_fail kind, const char *reason);
/* No exchange in progress any more. */
void login_auth_reset(struct session *s);

/* login_template.c */
/* Be the login template: fork a login worker per FORK from the master.
 * Returns only in a forked worker, with its own channel on
 * CHILD_FD_MASTER; the template itself exits when the master goes. */
void login_template_run(void);

/* login_cmds.c: STARTTLS for either protocol (nargs: what the command
 * had, none allowed). */
void login_starttls(struct session *s, const char *tag, size_t nargs);

/* login_main.c */
void login_start_tls(void);
/* Install role's seccomp filter as configured (a forked worker: the one
 * login_sandbox_prepare compiled in the template); exits when it cannot. */
void login_sandbox(enum sandbox_role role);
void login_sandbox_prepare(void);
void login_start_proxy(int fd);

#endif
