/* Recipients of mail (MSG_AUTH_LOOKUP, for LMTP): who an address is, as
 * the passdbs know it, without a password. The whole address is asked
 * first (an SQL login or alias may be user@domain); when no database knows
 * it and its domain is one of ours (lmtp_local_domains, or the host's own
 * name), the local part alone (a system or file user). A lookup is not a
 * login: nothing is counted, nothing delayed. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../lib/log.h"
#include "../lib/msg_auth.h"
#include "auth.h"

/* Whether domain is one whose local parts are our users. */
static int domain_local(const char *domain)
{
	char host[256], *list, *save = NULL;
	int found = 0;

	if (gethostname(host, sizeof(host)) == 0 && strcasecmp(host, domain) == 0)
		return 1;
	list = strdup(A->cfg.lmtp_local_domains);
	if (list == NULL)
		return 0;
	for (char *t = strtok_r(list, ", \t", &save); t && !found;
	     t = strtok_r(NULL, ", \t", &save))
		found = strcasecmp(t, domain) == 0;
	free(list);
	return found;
}

static void after_lookup(struct auth_req *r, enum passdb_result res);

/* No database knows the whole address: the local part, if its domain is
 * ours and it was not already the one asked. 1 when asked. */
static int retry_local(struct auth_req *r)
{
	char *at = strrchr(r->user, '@');

	if (at == NULL || at == r->user || !domain_local(at + 1) || r->chain_user != r->user)
		return 0;
	*at = '\0';
	snprintf(r->authzid, sizeof(r->authzid), "%s", r->user);
	*at = '@';
	chain_lookup(r, r->authzid, after_lookup);
	return 1;
}

static void after_lookup(struct auth_req *r, enum passdb_result res)
{
	switch (res) {
	case PDB_OK:
	case PDB_EXPIRED:  /* an expired password still receives mail */
		verdict_ok(r);
		break;
	case PDB_UNKNOWN:
		if (!retry_local(r))
			verdict_now(r, AUTH_FAIL, "unknown");
		break;
	case PDB_MISMATCH:
		verdict_now(r, AUTH_FAIL, "disabled");
		break;
	case PDB_TEMPFAIL:
		verdict_now(r, AUTH_TEMPFAIL, "User database unavailable");
		break;
	}
}

void lookup_handle(struct ipc_msg *m)
{
	const char *addr, *sid;
	struct auth_req *r;

	if (ipc_get_str(m, &addr) < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_end(m) < 0) {
		log_err("auth: malformed lookup from the master");
		return;
	}
	r = request_new(m->id, "LMTP", "local", sid, 0);
	if (name_fits(addr, r->user, sizeof(r->user)) < 0) {
		verdict_now(r, AUTH_FAIL, "unknown");
		return;
	}
	chain_lookup(r, r->user, after_lookup);
}
