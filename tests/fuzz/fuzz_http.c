/* libFuzzer target for metrics/http.c, the request heads the metrics
 * server reads from any local client. Besides "no crash": the end of a
 * head is found only after a real empty line and within the input; a
 * parsed request has a path that starts with '/', holds no space,
 * control character or '?', and fits its buffer; a refusal names one of
 * the statuses the server answers with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../metrics/http.h"

static void check_end(const char *d, size_t n, size_t end)
{
	if (end == 0)
		return;
	if (end > n || end < 2 || d[end - 1] != '\n')
		abort();
	if (d[end - 2] != '\n' && !(end >= 3 && d[end - 2] == '\r' && d[end - 3] == '\n'))
		abort();
}

static void check_request(const struct http_request *r)
{
	size_t n = strnlen(r->path, sizeof(r->path));

	if (n == sizeof(r->path) || r->path[0] != '/')
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->path[i] <= ' ' || r->path[i] == '?' ||
		    (unsigned char)r->path[i] >= 0x7f)
			abort();
	if (r->method != HTTP_GET && r->method != HTTP_HEAD && r->method != HTTP_OTHER)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	size_t end = http_head_end(d, size);
	struct http_request r;
	int status = 0;

	check_end(d, size, end);
	if (http_parse_head(d, size, &r, &status) == 0)
		check_request(&r);
	else if (status != 400 && status != 414 && status != 505)
		abort();
	return 0;
}
