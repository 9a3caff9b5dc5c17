/* The little of HTTP/1.x the metrics server understands: a request's
 * head (request line and header fields, up to the empty line), checked
 * and reduced to what it needs. No I/O here (tests/fuzz/fuzz_http.c). */
#ifndef HAVEN_HTTP_H
#define HAVEN_HTTP_H
#include <stddef.h>

/* Longest request head accepted. */
#define HTTP_HEAD_MAX 8192

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
	enum http_method method;
	char path[256];          /* the target without its query */
};

/* Where the head in buf ends (just after its empty line: CRLFCRLF, or
 * LFLF as lenient clients send), or 0 when it is not complete yet. */
size_t http_head_end(const char *buf, size_t len);
/* Parse a complete head (as http_head_end found it). 0, or -1 for a
 * request that is not HTTP/1.x: *status is then the reply's status code
 * (400, 414, 505). */
int http_parse_head(const char *buf, size_t len, struct http_request *out, int *status);

#endif
