/* haven.conf for the commands that act as havend's processes would: the
 * passdb list, mail_user, mail_home, admin_socket. */
#include <stdio.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "admin.h"

int admin_config_load(const struct admin_opts *o, struct config *cfg)
{
	struct buf text = BUF_INIT;
	struct error err;
	int rc = -1;

	config_init(cfg);
	if (config_read_file(o->config, &text, &err) < 0 ||
	    config_parse(cfg, text.data ? text.data : "", text.len, o->config, &err) < 0 ||
	    config_validate(cfg, &err) < 0)
		fprintf(stderr, "haven-admin: %s\n", err.msg);
	else
		rc = 0;
	buf_free(&text);
	return rc;
}
