/* SIGHUP: read the configuration again and apply what can be applied,
 * saying exactly what changed and what did not take effect.
 *
 * A new configuration is refused as a whole (the old one stays) when it
 * does not parse, or names a certificate, key, chroot or helper program
 * that would keep login workers from starting. Otherwise: the master's
 * own limits apply at once; the auth helper gets the new text and applies
 * it at once (failure delays and limits, passdb, trusted networks), its
 * failure counts kept; idle login workers and the login template are
 * replaced and kept user workers (worker_reuse) exit; user workers
 * started from now on use it. Listeners, the login user and the pid file
 * and the admin socket stay as they were at start. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../lib/child.h"
#include "../lib/log.h"
#include "master.h"

/* Keys read once at start (keep_start_values). */
static const char *const restart_keys[] = { "listen", "listen_tls", "login_user", "pid_file", "run_dir",
					    "lmtp_listen", "metrics_listen", "admin_socket",
					    "managesieve_listen" };

struct change_count {
	unsigned applied, restart;
};

static int needs_restart(const char *key)
{
	for (size_t i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]); i++)
		if (strcmp(key, restart_keys[i]) == 0)
			return 1;
	return 0;
}

static void log_change(const char *key, const char *from, const char *to, void *arg)
{
	struct change_count *n = arg;

	if (needs_restart(key)) {
		n->restart++;
		log_warn("SIGHUP: %s: \"%s\" -> \"%s\" needs a restart; \"%s\" stays in effect", key,
			 from, to, from);
	} else {
		n->applied++;
		log_info("SIGHUP: %s: \"%s\" -> \"%s\" applied", key, from, to);
	}
}

/* The new configuration, published for the children, or -1 (logged)
 * when it cannot be used. */
static int reload_read(struct config *cfg)
{
	struct buf text = BUF_INIT;
	struct error err;

	if (master_config_load(M->config_path, cfg, &text, &err) < 0) {
		log_err("SIGHUP: %s; keeping the old configuration", err.msg);
		buf_free(&text);
		return -1;
	}
	if (check_runtime(cfg, &err) < 0) {
		log_err("SIGHUP: %s; keeping the old configuration", err.msg);
		config_free(cfg);
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	if (cfgtext_publish(cfg, M->debug) < 0) {
		log_err("SIGHUP: memfd: %s; keeping the old configuration", strerror(errno));
		config_free(cfg);
		return -1;
	}
	if (cfgtext_check(cfg, M->config_path, &err) < 0) {
		log_err("SIGHUP: %s; keeping the old configuration", err.msg);
		cfgtext_publish(&M->cfg, M->debug);
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* The new configuration keeps the values of the keys read once at start,
 * so that everything that reads them later (the pid file removed at exit)
 * sees what is in effect. */
static void keep_start_values(struct config *cfg)
{
	char **pairs[][2] = {
		{ &cfg->listen, &M->cfg.listen }, { &cfg->listen_tls, &M->cfg.listen_tls },
		{ &cfg->login_user, &M->cfg.login_user }, { &cfg->pid_file, &M->cfg.pid_file },
		{ &cfg->run_dir, &M->cfg.run_dir },
		{ &cfg->lmtp_listen, &M->cfg.lmtp_listen },
		{ &cfg->metrics_listen, &M->cfg.metrics_listen },
		{ &cfg->admin_socket, &M->cfg.admin_socket },
		{ &cfg->managesieve_listen, &M->cfg.managesieve_listen },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char *t = *pairs[i][0];
		*pairs[i][0] = *pairs[i][1];
		*pairs[i][1] = t;
	}
}

void reload_config(void)
{
	struct change_count n = { 0, 0 };
	struct config cfg;
	enum log_level lvl;
	if (M->stopping)
		return;
	notify_reloading();
	if (reload_read(&cfg) < 0) {
		notify_send("READY=1");
		return;
	}
	config_each_change(&M->cfg, &cfg, log_change, &n);
	keep_start_values(&cfg);
	config_free(&M->cfg);
	M->cfg = cfg;
	if (!M->debug && log_level_parse(M->cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	authchan_reconfigure();
	/* Pooled login workers read the old text: start fresh ones. */
	logins_reload();
	workers_reload();
	log_info("SIGHUP: configuration reloaded: %u change%s applied (the auth helper at once, "
		 "login workers and user workers as they start), %u need%s a restart",
		 n.applied, n.applied == 1 ? "" : "s", n.restart, n.restart == 1 ? "s" : "");
	notify_send("READY=1");
}
