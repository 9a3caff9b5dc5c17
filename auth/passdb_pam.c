/* The `pam` passdb: pam_authenticate, then pam_acct_mgmt (a locked or
 * expired account is refused), with the PAM service pam_service
 * (/etc/pam.d/haven by default). It runs in a child of the auth helper's
 * pool: a module that hangs is killed there after passdb_timeout, a module
 * that crashes takes only that child. The conversation answers the
 * password prompt and nothing else; PAM's own failure delay is replaced by
 * the helper's (verdict.c). uid, gid and home come from NSS. */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#include "../lib/log.h"
#include "../lib/xmalloc.h"
#include "passdb.h"
#include "passdbs.h"

struct pdb_pam {
	struct passdb base;
	long known_us;   /* how long pam_authenticate takes for a known user */
};

/* The one question a password database should ask is the password. */
static int conversation(int n, const struct pam_message **msg, struct pam_response **resp,
			void *arg)
{
	const char *password = arg;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			r[i].resp = strdup(password);
			break;
		case PAM_ERROR_MSG:
		case PAM_TEXT_INFO:
			log_debug("pam: %s", msg[i]->msg);
			break;
		default:
			/* A question we cannot answer for the client. */
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_CONV_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* PAM's delay after a failure would hold the child; the helper delays
 * failures itself, from when the request came. */
static void no_delay(int status, unsigned int usec, void *arg)
{
}

static struct passdb *pam_open(const struct config *cfg, const char *arg)
{
	return xcalloc(1, sizeof(struct pdb_pam));
}

static void pam_close(struct passdb *pd)
{
	free(pd);
}

/* The system user's record: uid, gid and home from NSS. */
static enum passdb_result nss_record(const char *user, struct passdb_record *rec)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return PDB_UNKNOWN;
	passdb_record_init(rec, pw.pw_name);
	rec->uid = (long)pw.pw_uid;
	rec->gid = (long)pw.pw_gid;
	snprintf(rec->home, sizeof(rec->home), "%s", pw.pw_dir);
	return PDB_OK;
}

static enum passdb_result auth_result(int rc, struct passdb_record *rec)
{
	switch (rc) {
	case PAM_SUCCESS:
		return PDB_OK;
	case PAM_USER_UNKNOWN:
		return PDB_UNKNOWN;
	case PAM_AUTH_ERR:
	case PAM_CRED_INSUFFICIENT:
	case PAM_MAXTRIES:
	case PAM_PERM_DENIED:
		return PDB_MISMATCH;
	case PAM_ACCT_EXPIRED:
		snprintf(rec->reason, sizeof(rec->reason), "Account expired");
		return PDB_EXPIRED;
	case PAM_NEW_AUTHTOK_REQD:
	case PAM_AUTHTOK_EXPIRED:
		snprintf(rec->reason, sizeof(rec->reason), "Password expired");
		return PDB_EXPIRED;
	}
	return PDB_TEMPFAIL;
}

static long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

/* Modules answer an unknown user at once (pam_unix: no hash to check) and
 * a known one after the hash work: the unknown one waits as long as a
 * known one takes (a running mean), so the time tells nothing. */
static void even_out(struct pdb_pam *p, int rc, long took_us)
{
	if (rc != PAM_USER_UNKNOWN) {
		p->known_us = p->known_us ? (3 * p->known_us + took_us) / 4 : took_us;
		return;
	}
	if (took_us < p->known_us) {
		struct timespec t = { (p->known_us - took_us) / 1000000,
				      ((p->known_us - took_us) % 1000000) * 1000 };
		while (nanosleep(&t, &t) < 0)
			;
	}
}

static int authenticate(struct pdb_pam *p, pam_handle_t *ph)
{
	long t0 = now_us();
	int rc = pam_authenticate(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);

	even_out(p, rc, now_us() - t0);
	return rc;
}

static enum passdb_result pam_verify(struct passdb *pd, const struct passdb_query *q,
				     struct passdb_record *rec)
{
	struct pam_conv conv = { conversation, (void *)q->password };
	pam_handle_t *ph = NULL;
	int rc = pam_start(pd->cfg->pam_service, q->user, &conv, &ph);
	enum passdb_result res;

	if (rc == PAM_SUCCESS) {
		pam_set_item(ph, PAM_RHOST, q->remote);
		pam_set_item(ph, PAM_FAIL_DELAY, (const void *)no_delay);
		rc = authenticate((struct pdb_pam *)pd, ph);
		if (rc == PAM_SUCCESS)
			rc = pam_acct_mgmt(ph, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	}
	res = auth_result(rc, rec);
	if (res == PDB_TEMPFAIL)
		snprintf(rec->reason, sizeof(rec->reason), "pam service %s: %s",
			 pd->cfg->pam_service, pam_strerror(ph, rc));
	if (ph)
		pam_end(ph, rc);
	if (res == PDB_OK || res == PDB_EXPIRED) {
		char reason[sizeof(rec->reason)];
		memcpy(reason, rec->reason, sizeof(reason));
		/* PAM said yes to a name NSS does not know: not a user we
		 * can run a worker for. */
		if (nss_record(q->user, rec) != PDB_OK) {
			snprintf(rec->reason, sizeof(rec->reason), "pam: %s is not known to NSS",
				 q->user);
			return PDB_TEMPFAIL;
		}
		memcpy(rec->reason, reason, sizeof(reason));
	}
	return res;
}

static enum passdb_result pam_lookup(struct passdb *pd, const char *user,
				     struct passdb_record *rec)
{
	return nss_record(user, rec);
}

static int pam_check(const struct config *cfg, const char *arg, struct error *err)
{
	char path[512];
	FILE *f;

	/* Linux-PAM falls back to "other" for a missing service: almost
	 * certainly not what was meant. */
	snprintf(path, sizeof(path), "/etc/pam.d/%s", cfg->pam_service);
	if ((f = fopen(path, "re")) == NULL)
		return passdb_setting_fail(cfg, "pam_service", err, "%s: no such PAM service file",
					   path);
	fclose(f);
	return 0;
}

const struct passdb_ops passdb_pam_ops = {
	.name = "pam",
	.remote = 1,
	.cached = 1,
	.check = pam_check,
	.open = pam_open,
	.close = pam_close,
	.verify = pam_verify,
	.lookup = pam_lookup,
};
