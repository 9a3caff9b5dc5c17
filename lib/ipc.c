#include "ipc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "xmalloc.h"

void ipc_out_init(struct ipc_out *o, uint32_t type, uint32_t id)
{
	o->type = type;
	o->id = id;
	buf_init(&o->payload);
}

void ipc_out_free(struct ipc_out *o)
{
	buf_free(&o->payload);
}

void ipc_out_free_secret(struct ipc_out *o)
{
	buf_free_secret(&o->payload);
}

void ipc_put_u32(struct ipc_out *o, uint32_t v)
{
	buf_append(&o->payload, &v, sizeof(v));
}

void ipc_put_u64(struct ipc_out *o, uint64_t v)
{
	buf_append(&o->payload, &v, sizeof(v));
}

void ipc_put_bytes(struct ipc_out *o, const void *p, size_t n)
{
	ipc_put_u32(o, (uint32_t)n);
	buf_append(&o->payload, p, n);
}

void ipc_put_str(struct ipc_out *o, const char *s)
{
	if (s == NULL)
		s = "";
	size_t n = strlen(s);
	ipc_put_u32(o, (uint32_t)(n + 1));
	buf_append(&o->payload, s, n + 1);
}

static int send_raw(int sock, const struct ipc_hdr *h, const void *p, size_t n, int fd)
{
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;

	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = (void *)h;
	iov[0].iov_len = sizeof(*h);
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;
	mh.msg_iov = iov;
	mh.msg_iovlen = n ? 2 : 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (r >= 0)
			return (size_t)r == sizeof(*h) + n ? 0 : -1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* Peers are expected to drain; a full SEQPACKET buffer
			 * means a stuck peer, wait briefly rather than drop. */
			usleep(1000);
			continue;
		}
		return -1;
	}
}

int ipc_send(int sock, const struct ipc_out *o, int fd)
{
	struct ipc_hdr h;
	if (o->payload.len > IPC_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	h.version = IPC_VERSION;
	h.type = o->type;
	h.len = (uint32_t)o->payload.len;
	h.id = o->id;
	return send_raw(sock, &h, o->payload.data, o->payload.len, fd);
}

int ipc_send_empty(int sock, uint32_t type, uint32_t id, int fd)
{
	struct ipc_out o;
	int r;
	ipc_out_init(&o, type, id);
	r = ipc_send(sock, &o, fd);
	ipc_out_free(&o);
	return r;
}

int ipc_recv(int sock, struct ipc_msg *m, int allow_fd)
{
	struct ipc_hdr h;
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	unsigned char *data = xmalloc(IPC_MAX_PAYLOAD);
	ssize_t r;
	int fd = -1, nfds = 0;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &h;
	iov[0].iov_len = sizeof(h);
	iov[1].iov_base = data;
	iov[1].iov_len = IPC_MAX_PAYLOAD;
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do {
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		free(data);
		return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
	}
	/* Collect every fd that arrived so none leaks, whatever else is wrong. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				fd = f;
			else
				close(f);
		}
	}
	if (r == 0) {
		if (fd >= 0)
			close(fd);
		free(data);
		return 0;
	}
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)r < sizeof(h) ||
	    h.version != IPC_VERSION || h.len != (size_t)r - sizeof(h) || nfds > 1 ||
	    (fd >= 0 && !allow_fd)) {
		if (fd >= 0)
			close(fd);
		free(data);
		errno = EPROTO;
		return -1;
	}
	m->type = h.type;
	m->id = h.id;
	m->data = data;
	m->len = h.len;
	m->fd = fd;
	return 1;
}

void ipc_msg_view(struct ipc_msg *m, const void *p, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->data = (unsigned char *)p;
	m->len = n;
	m->fd = -1;
}

void ipc_msg_free_secret(struct ipc_msg *m)
{
	if (m->data)
		explicit_bzero(m->data, m->len);
	ipc_msg_free(m);
}

void ipc_msg_free(struct ipc_msg *m)
{
	free(m->data);
	if (m->fd >= 0)
		close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

static int take(struct ipc_msg *m, void *out, size_t n)
{
	if (m->bad || m->len - m->pos < n) {
		m->bad = 1;
		return -1;
	}
	memcpy(out, m->data + m->pos, n);
	m->pos += n;
	return 0;
}

int ipc_get_u32(struct ipc_msg *m, uint32_t *v)
{
	return take(m, v, sizeof(*v));
}

int ipc_get_u64(struct ipc_msg *m, uint64_t *v)
{
	return take(m, v, sizeof(*v));
}

int ipc_get_bytes(struct ipc_msg *m, const unsigned char **p, size_t *n)
{
	uint32_t len;
	if (take(m, &len, sizeof(len)) < 0)
		return -1;
	if (m->len - m->pos < len) {
		m->bad = 1;
		return -1;
	}
	*p = m->data + m->pos;
	*n = len;
	m->pos += len;
	return 0;
}

int ipc_get_str(struct ipc_msg *m, const char **s)
{
	const unsigned char *p;
	size_t n;
	if (ipc_get_bytes(m, &p, &n) < 0)
		return -1;
	/* Exactly one NUL, at the end. */
	if (n == 0 || p[n - 1] != '\0' || memchr(p, '\0', n - 1) != NULL) {
		m->bad = 1;
		return -1;
	}
	*s = (const char *)p;
	return 0;
}

int ipc_get_end(struct ipc_msg *m)
{
	return (m->bad || m->pos != m->len) ? -1 : 0;
}

int ipc_socketpair(int sv[2])
{
	int sz = 256 * 1024;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
	return 0;
}
