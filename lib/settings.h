/* Settings a module declares itself ("<module>_<name>" keys, kept by the
 * core parser in config->extra): a mail backend's, a passdb's. Each module
 * has a table of these; the process that reads the keys checks them
 * (unknown key or bad value: an error with the file and line). */
#ifndef HAVEN_SETTINGS_H
#define HAVEN_SETTINGS_H
#include "config.h"
#include "error.h"

enum setting_type { SETTING_STR, SETTING_INT, SETTING_BOOL };

struct setting {
	const char *key;         /* full key, e.g. "mbox_dir" */
	enum setting_type type;
	const char *def;
	long min, max;           /* SETTING_INT */
	const char *doc;
};

/* value for s, from where ("file:line"): 0, or -1 with err saying why. */
int setting_check(const struct setting *s, const char *value, const char *where,
		  struct error *err);
/* The value in cfg, else s's default. */
const char *setting_str(const struct config *cfg, const struct setting *s);
long setting_int(const struct config *cfg, const struct setting *s);
int setting_bool(const struct config *cfg, const struct setting *s);

#endif
