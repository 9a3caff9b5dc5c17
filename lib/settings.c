#include "settings.h"

#include <errno.h>
#include <stdlib.h>

int setting_check(const struct setting *s, const char *value, const char *where,
		  struct error *err)
{
	char *end;
	long num;
	int on;

	switch (s->type) {
	case SETTING_STR:
		return 0;
	case SETTING_INT:
		errno = 0;
		num = strtol(value, &end, 10);
		if (errno == 0 && end != value && *end == '\0' && num >= s->min && num <= s->max)
			return 0;
		error_set(err, ERR_PARSE, "%s: %s: expected a number in %ld..%ld, got \"%s\"", where,
			  s->key, s->min, s->max, value);
		return -1;
	case SETTING_BOOL:
		if (config_bool_value(value, &on) == 0)
			return 0;
		error_set(err, ERR_PARSE, "%s: %s: expected yes or no, got \"%s\"", where, s->key,
			  value);
		return -1;
	}
	return -1;
}

const char *setting_str(const struct config *cfg, const struct setting *s)
{
	const char *v = config_extra_get(cfg, s->key);
	return v ? v : s->def;
}

long setting_int(const struct config *cfg, const struct setting *s)
{
	return strtol(setting_str(cfg, s), NULL, 10);
}

int setting_bool(const struct config *cfg, const struct setting *s)
{
	int on = 0;
	config_bool_value(setting_str(cfg, s), &on);
	return on;
}
