#include "error.h"

#include <stdarg.h>
#include <stdio.h>

void error_set(struct error *err, enum error_code code, const char *fmt, ...)
{
	va_list ap;
	if (err == NULL)
		return;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void error_clear(struct error *err)
{
	err->code = ERR_NONE;
	err->msg[0] = '\0';
}

const char *error_resp_code(enum error_code code)
{
	switch (code) {
	case ERR_NONE: return NULL;
	case ERR_INTERNAL: return "SERVERBUG";
	case ERR_NONEXISTENT: return "NONEXISTENT";
	case ERR_TRYCREATE: return "TRYCREATE";
	case ERR_ALREADYEXISTS: return "ALREADYEXISTS";
	case ERR_NOPERM: return "NOPERM";
	case ERR_INUSE: return "INUSE";
	case ERR_LIMIT: return "LIMIT";
	case ERR_OVERQUOTA: return "OVERQUOTA";
	case ERR_UNAVAILABLE: return "UNAVAILABLE";
	case ERR_NOTSUPPORTED: return "CANNOT";
	case ERR_CANNOT: return "CANNOT";
	case ERR_PARSE: return "PARSE";
	case ERR_EXPUNGEISSUED: return "EXPUNGEISSUED";
	case ERR_VIEWGONE: return "UNAVAILABLE";
	}
	return NULL;
}
