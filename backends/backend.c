#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include "../lib/xmalloc.h"

extern const struct backend_ops mbox_backend_ops;

static const struct backend_ops *const backends[] = {
	&mbox_backend_ops,
};

const struct backend_ops *backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

struct mem_stream {
	struct msg_stream base;
	unsigned char *data;
};

static ssize_t mem_pread(struct msg_stream *s, void *buf, size_t n, uint64_t off)
{
	struct mem_stream *m = (struct mem_stream *)s;
	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	memcpy(buf, m->data + off, n);
	return (ssize_t)n;
}

static void mem_close(struct msg_stream *s)
{
	struct mem_stream *m = (struct mem_stream *)s;
	free(m->data);
	free(m);
}

static const struct msg_stream_ops mem_ops = {
	.pread = mem_pread,
	.close = mem_close,
};

struct msg_stream *msg_stream_from_memory(void *data, size_t len)
{
	struct mem_stream *m = xcalloc(1, sizeof(*m));
	m->base.ops = &mem_ops;
	m->base.size = len;
	m->data = data;
	return &m->base;
}
