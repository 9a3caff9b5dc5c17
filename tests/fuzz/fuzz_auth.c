/* libFuzzer target for what the auth side reads from outside: SASL base64,
 * passdb lines and the configuration file. Besides "no crash" it checks:
 * base64 decodes what it encodes and decoding is stable under re-encoding,
 * a parsed passdb entry obeys the field limits, and the dump of any
 * configuration that parses parses again to the same numbers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth/passdb.h"
#include "../../lib/base64.h"
#include "../../lib/buf.h"
#include "../../lib/config.h"
#include "../../lib/log.h"
#include "../../lib/xmalloc.h"

static void fuzz_base64(const uint8_t *data, size_t size)
{
	struct buf d = BUF_INIT, e = BUF_INIT, d2 = BUF_INIT;

	if (base64_decode((const char *)data, size, &d) == 0) {
		if (size % 4 != 0 || d.len > size / 4 * 3)
			abort();
		/* Re-encoding gives canonical text that decodes to the same
		 * bytes (the input may differ in unused low bits). */
		base64_encode(d.data, d.len, &e);
		if (e.len != size)
			abort();
		if (base64_decode(e.data ? e.data : "", e.len, &d2) != 0 || d2.len != d.len ||
		    (d.len && memcmp(d.data, d2.data, d.len) != 0))
			abort();
	}
	buf_free(&d);
	buf_free(&e);
	buf_free(&d2);

	/* Any bytes survive encode + decode. */
	base64_encode(data, size, &e);
	if (e.len != (size + 2) / 3 * 4)
		abort();
	if (base64_decode(e.data ? e.data : "", e.len, &d) != 0 || d.len != size ||
	    (size && memcmp(d.data, data, size) != 0))
		abort();
	buf_free(&d);
	buf_free(&e);
}

static void fuzz_passdb(const char *line)
{
	struct passdb_user u;
	int r = passdb_file_parse_line(line, &u);

	if (r < -1 || r > 1)
		abort();
	if (r != 1)
		return;
	if (strlen(u.name) >= sizeof(u.name) || strlen(u.hash) >= sizeof(u.hash) ||
	    strlen(u.home) >= sizeof(u.home))
		abort();
	if (!passdb_user_name_valid(u.name) || strchr(u.hash, ':') || strchr(u.home, ':') ||
	    strchr(u.hash, '\n') || strchr(u.hash, '\r'))
		abort();
	if (u.uid < -1 || u.uid > 0x7fffffffL || u.gid < -1 || u.gid > 0x7fffffffL)
		abort();
	/* What the auth helper does with a home-less entry. */
	char *home = config_expand("%h/mail/%u%%", u.name, u.home);
	free(home);
}

static void fuzz_config(const char *text, size_t size)
{
	struct config c, c2;
	struct error err;
	struct buf dump = BUF_INIT;

	config_init(&c);
	err.msg[0] = '\0';
	if (config_parse(&c, text, size, "fuzz.conf", &err) < 0) {
		/* Errors name the file, unless a "#@ where" line (the master's
		 * texts for its children) said where the key came from. */
		if (strncmp(err.msg, "fuzz.conf:", 10) != 0 && !memmem(text, size, "#@ ", 3))
			abort();
		config_free(&c);
		return;
	}
	(void)config_validate(&c, &err);
	(void)config_plaintext_auth(&c);
	config_dump(&c, &dump);
	config_init(&c2);
	if (config_parse(&c2, dump.data, dump.len, "dump", &err) < 0)
		abort();
	if (c2.allow_plain_passwords != c.allow_plain_passwords ||
	    c2.max_literal != c.max_literal || c2.max_line_length != c.max_line_length ||
	    c2.auth_failure_delay_ms != c.auth_failure_delay_ms ||
	    c2.lock_timeout != c.lock_timeout || c2.idle_timeout != c.idle_timeout)
		abort();
	/* Extra keys survive the dump too, and the role dump parses. */
	if (c2.nextra != c.nextra)
		abort();
	for (size_t i = 0; i < c.nextra; i++) {
		const char *v = config_extra_get(&c2, c.extra[i].key);
		if (v == NULL || strcmp(v, c.extra[i].value) != 0)
			abort();
	}
	buf_reset(&dump);
	config_dump_role(&c, CONFIG_ROLE_LOGIN, &dump);
	config_free(&c2);
	config_init(&c2);
	if (config_parse(&c2, dump.data, dump.len, "dump", &err) < 0 || c2.nextra != 0)
		abort();
	char *s = config_expand(c.mail_home, "user", c.mail_home);
	free(s);
	config_free(&c2);
	config_free(&c);
	buf_free(&dump);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char *str;

	if (!init) {
		log_set_level(LOG_LVL_ERR);
		init = 1;
	}
	fuzz_base64(data, size);

	str = xmalloc(size + 1);
	memcpy(str, data, size);
	str[size] = '\0';
	fuzz_passdb(str);
	/* Every line, as the file passdb reads them. */
	for (char *p = str, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL) {
			fuzz_passdb(p);
			break;
		}
		char save = nl[1];
		nl[1] = '\0';
		fuzz_passdb(p);
		nl[1] = save;
	}
	free(str);

	fuzz_config((const char *)data, size);
	return 0;
}
