/* libFuzzer target for IPC framing and the decoders of every message a
 * Haven process accepts from another. The input travels as one SEQPACKET
 * message through a real ipc_socketpair:
 *   - as the payload behind a valid header (with and without an fd, to a
 *     receiver that allows fds or not), and
 *   - as-is, header bytes included (with and without an fd).
 * Received messages are decoded with the exact getter sequences of the real
 * receivers (copied below), and each decoder that succeeds must consume the
 * payload exactly and re-encode it byte for byte. Besides "no crash" it
 * checks that ipc_recv accepts precisely the well-framed packets and never
 * leaks a passed fd. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../auth/authmsg.h"
#include "../../lib/ipc.h"
#include "../../lib/log.h"
#include "../../lib/msg_login.h"
#include "../../lib/xmalloc.h"

static int sv[2] = { -1, -1 };
static int devnull = -1;

/* Re-encoding: the decoded fields, put back with ipc_put_*, must give the
 * very payload that was decoded. */
static void check_same(const struct ipc_msg *m, const struct ipc_out *o)
{
	if (o->payload.len != m->len ||
	    (m->len && memcmp(o->payload.data, m->data, m->len) != 0))
		abort();
}

static void check_str(const struct ipc_msg *m, const char *s)
{
	if ((const unsigned char *)s < m->data || (const unsigned char *)s >= m->data + m->len ||
	    (const unsigned char *)s + strlen(s) >= m->data + m->len)
		abort();
}

/* daemon/login_auth.c step_decode (MSG_LOGIN_AUTH, login -> master). */
static int decode_login_auth(struct ipc_msg *m)
{
	const char *mech, *tag, *enabled;
	const unsigned char *sasl, *left;
	size_t sasl_len, leftlen;
	uint32_t step, tls;

	if (ipc_get_u32(m, &step) < 0 || ipc_get_str(m, &mech) < 0 ||
	    ipc_get_bytes(m, &sasl, &sasl_len) < 0 || ipc_get_str(m, &tag) < 0 ||
	    ipc_get_u32(m, &tls) < 0 || ipc_get_str(m, &enabled) < 0 ||
	    ipc_get_bytes(m, &left, &leftlen) < 0 || ipc_get_end(m) < 0)
		return -1;
	check_str(m, mech);
	check_str(m, tag);
	check_str(m, enabled);
	if (left < m->data || left + leftlen > m->data + m->len || sasl < m->data ||
	    sasl + sasl_len > m->data + m->len)
		abort();
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_u32(&o, step);
	ipc_put_str(&o, mech);
	ipc_put_bytes(&o, sasl, sasl_len);
	ipc_put_str(&o, tag);
	ipc_put_u32(&o, tls);
	ipc_put_str(&o, enabled);
	ipc_put_bytes(&o, left, leftlen);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* daemon/login_auth.c result_decode (MSG_AUTH_RESULT, auth -> master). */
static int decode_auth_result(struct ipc_msg *m)
{
	uint32_t status, uid, gid;
	uint64_t id, qb, qm;
	const char *user, *home, *reason;

	if (ipc_get_u32(m, &status) < 0 || ipc_get_str(m, &user) < 0 ||
	    ipc_get_u32(m, &uid) < 0 || ipc_get_u32(m, &gid) < 0 ||
	    ipc_get_str(m, &home) < 0 || ipc_get_str(m, &reason) < 0 ||
	    ipc_get_u64(m, &id) < 0 || ipc_get_u64(m, &qb) < 0 || ipc_get_u64(m, &qm) < 0 ||
	    ipc_get_end(m) < 0)
		return -1;
	check_str(m, user);
	check_str(m, home);
	check_str(m, reason);
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_u32(&o, status);
	ipc_put_str(&o, user);
	ipc_put_u32(&o, uid);
	ipc_put_u32(&o, gid);
	ipc_put_str(&o, home);
	ipc_put_str(&o, reason);
	ipc_put_u64(&o, id);
	ipc_put_u64(&o, qb);
	ipc_put_u64(&o, qm);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* daemon/login_auth.c logins_auth_challenge (MSG_AUTH_CHALLENGE, auth ->
 * master) and protocol/login_main.c (MSG_LOGIN_CHALLENGE, master ->
 * login): the same layout. */
static int decode_challenge(struct ipc_msg *m)
{
	const unsigned char *data;
	size_t len;

	if (m->fd >= 0 || ipc_get_bytes(m, &data, &len) < 0 || ipc_get_end(m) < 0)
		return -1;
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_bytes(&o, data, len);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* daemon/workers.c worker_read (MSG_WORKER_QUIT_REQ, worker -> master). */
static int decode_worker_quit_req(struct ipc_msg *m)
{
	if (ipc_get_end(m) != 0)
		return -1;
	if (m->len != 0)
		abort();
	return 0;
}

/* protocol/worker_main.c new_session (MSG_WORKER_SESSION, master ->
 * worker, with fd). */
static int decode_worker_session(struct ipc_msg *m)
{
	const char *sid, *tag, *remote, *enabled;
	const unsigned char *left;
	size_t leftlen;
	uint32_t tls, proto;

	if (m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_str(m, &tag) < 0 ||
	    ipc_get_str(m, &remote) < 0 || ipc_get_u32(m, &tls) < 0 ||
	    ipc_get_str(m, &enabled) < 0 || ipc_get_bytes(m, &left, &leftlen) < 0 ||
	    ipc_get_u32(m, &proto) < 0 || ipc_get_end(m) < 0)
		return -1;
	check_str(m, sid);
	check_str(m, remote);
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_str(&o, sid);
	ipc_put_str(&o, tag);
	ipc_put_str(&o, remote);
	ipc_put_u32(&o, tls);
	ipc_put_str(&o, enabled);
	ipc_put_bytes(&o, left, leftlen);
	ipc_put_u32(&o, proto);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* protocol/login_main.c master_read (MSG_LOGIN_FAIL and MSG_LOGIN_PROXY,
 * master -> login). */
static int decode_login_fail(struct ipc_msg *m)
{
	uint32_t kind;
	const char *reason;

	if (m->fd >= 0 || ipc_get_u32(m, &kind) < 0 || ipc_get_str(m, &reason) < 0 ||
	    ipc_get_end(m) < 0 || kind > LOGIN_FAIL_EXPIRED)
		return -1;
	check_str(m, reason);
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_u32(&o, kind);
	ipc_put_str(&o, reason);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

static int decode_login_proxy(struct ipc_msg *m)
{
	if (m->fd < 0 || ipc_get_end(m) < 0)
		return -1;
	if (m->len != 0)
		abort();
	return 0;
}

/* auth/main.c reconfigure (MSG_AUTH_CONFIG, master -> auth): an fd and
 * nothing else. */
static int decode_auth_config(struct ipc_msg *m)
{
	if (m->fd < 0 || ipc_get_end(m) < 0)
		return -1;
	if (m->len != 0)
		abort();
	return 0;
}

/* auth/authmsg.c authmsg_request (MSG_AUTH_REQUEST, master -> auth): the
 * real reader. */
static int decode_auth_request(struct ipc_msg *m)
{
	struct request_in q;

	if (authmsg_request(m, &q) < 0)
		return -1;
	check_str(m, q.mech);
	check_str(m, q.remote);
	check_str(m, q.sid);
	struct ipc_out o;
	ipc_out_init(&o, m->type, m->id);
	ipc_put_u32(&o, q.step);
	ipc_put_str(&o, q.mech);
	ipc_put_bytes(&o, q.sasl, q.sasl_len);
	ipc_put_str(&o, q.remote);
	ipc_put_str(&o, q.sid);
	ipc_put_u32(&o, q.tls);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* daemon/admin.c list_add (MSG_WORKER_SESSIONS, worker -> master) and, with
 * the user in front of each entry and the counts before them, admin/live.c
 * who_print (MSG_ADMIN_SESSIONS, master -> haven-admin). */
static int decode_session_list(struct ipc_msg *m, int admin)
{
	uint32_t silent = 0, omitted = 0, n, tls;
	const char *user = NULL, *remote, *mailbox;
	uint64_t since;
	struct ipc_out o;

	if ((admin && (ipc_get_u32(m, &silent) < 0 || ipc_get_u32(m, &omitted) < 0)) ||
	    ipc_get_u32(m, &n) < 0)
		return -1;
	ipc_out_init(&o, m->type, m->id);
	if (admin) {
		ipc_put_u32(&o, silent);
		ipc_put_u32(&o, omitted);
	}
	ipc_put_u32(&o, n);
	for (uint32_t i = 0; i < n; i++) {
		if ((admin && ipc_get_str(m, &user) < 0) || ipc_get_str(m, &remote) < 0 ||
		    ipc_get_u64(m, &since) < 0 || ipc_get_u32(m, &tls) < 0 ||
		    ipc_get_str(m, &mailbox) < 0)
			break;
		if (admin)
			ipc_put_str(&o, user);
		ipc_put_str(&o, remote);
		ipc_put_u64(&o, since);
		ipc_put_u32(&o, tls);
		ipc_put_str(&o, mailbox);
	}
	if (ipc_get_end(m) < 0) {
		ipc_out_free(&o);
		return -1;
	}
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

static int decode_worker_sessions(struct ipc_msg *m)
{
	return decode_session_list(m, 0);
}

static int decode_admin_sessions(struct ipc_msg *m)
{
	return decode_session_list(m, 1);
}

/* daemon/admin.c client_read (MSG_ADMIN_KICK, haven-admin -> master) and
 * protocol/worker_admin.c worker_admin_kick (MSG_WORKER_KICK, master ->
 * worker): one string. */
static int decode_kick(struct ipc_msg *m)
{
	const char *user;
	struct ipc_out o;

	if (ipc_get_str(m, &user) < 0 || ipc_get_end(m) < 0)
		return -1;
	check_str(m, user);
	ipc_out_init(&o, m->type, m->id);
	ipc_put_str(&o, user);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* daemon/workers.c worker_unauth (MSG_WORKER_UNAUTH, worker -> master):
 * the session's fd, its name (the master's sid form only), the client's
 * pipelined bytes. */
static int decode_worker_unauth(struct ipc_msg *m)
{
	const char *sid;
	const unsigned char *left;
	size_t len;
	struct ipc_out o;

	if (m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_bytes(m, &left, &len) < 0 ||
	    ipc_get_end(m) < 0 || strlen(sid) >= 32 || sid[strspn(sid, "s0123456789.")] != '\0')
		return -1;
	check_str(m, sid);
	ipc_out_init(&o, m->type, m->id);
	ipc_put_str(&o, sid);
	ipc_put_bytes(&o, left, len);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

/* protocol/login_main.c take_client_back (MSG_LOGIN_CLIENT_BACK, master
 * -> login). */
static int decode_login_client_back(struct ipc_msg *m)
{
	const char *sid, *remote;
	const unsigned char *left;
	size_t len;
	uint32_t secured;
	struct ipc_out o;

	if (m->fd < 0 || ipc_get_str(m, &sid) < 0 || ipc_get_str(m, &remote) < 0 ||
	    ipc_get_u32(m, &secured) < 0 || ipc_get_bytes(m, &left, &len) < 0 ||
	    ipc_get_end(m) < 0 || secured > 1)
		return -1;
	check_str(m, sid);
	check_str(m, remote);
	ipc_out_init(&o, m->type, m->id);
	ipc_put_str(&o, sid);
	ipc_put_str(&o, remote);
	ipc_put_u32(&o, secured);
	ipc_put_bytes(&o, left, len);
	check_same(m, &o);
	ipc_out_free(&o);
	return 0;
}

typedef int (*decoder)(struct ipc_msg *);

static const decoder decoders[] = {
	decode_login_auth,      decode_auth_result, decode_worker_quit_req,
	decode_worker_session,  decode_login_fail,  decode_login_proxy,
	decode_auth_request,    decode_auth_config, decode_challenge,
	decode_worker_sessions, decode_admin_sessions, decode_kick,
	decode_worker_unauth,   decode_login_client_back,
};

/* Every decoder sees the message from the start, as its receiver would. */
static void decode_all(struct ipc_msg *m)
{
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++) {
		m->pos = 0;
		m->bad = 0;
		int r = decoders[i](m);
		if (r == 0 && (m->bad || m->pos != m->len))
			abort();
		/* A getter failure is sticky. */
		if (m->bad && ipc_get_end(m) == 0)
			abort();
	}
}

static int lowest_free_fd(void)
{
	int fd = dup(devnull);
	if (fd < 0)
		abort();
	close(fd);
	return fd;
}

static void send_packet(const void *hdr, size_t hlen, const void *p, size_t n, int fd)
{
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;

	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = hlen;
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
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
	if (sendmsg(sv[0], &mh, MSG_NOSIGNAL) != (ssize_t)(hlen + n))
		abort();
}

/* expect: 1 must be accepted, -1 must be rejected, 0: EOF-like (empty). */
static void one(const void *hdr, size_t hlen, const uint8_t *p, size_t n, int with_fd,
		int allow_fd, int expect)
{
	struct ipc_msg m;
	int lowest = lowest_free_fd();

	send_packet(hdr, hlen, p, n, with_fd ? devnull : -1);
	int r = ipc_recv(sv[1], &m, allow_fd);
	if (with_fd && !allow_fd && expect == 1)
		expect = -1;
	if (r != expect)
		abort();
	if (r == 1) {
		if ((m.fd >= 0) != with_fd || m.len != (hlen + n) - sizeof(struct ipc_hdr))
			abort();
		decode_all(&m);
		ipc_msg_free(&m);
	} else if (m.fd != -1 || m.data != NULL) {
		abort();
	}
	/* Whatever happened, no fd was left behind. */
	if (lowest_free_fd() != lowest)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_hdr h;
	uint32_t x = 2166136261u;

	if (sv[0] < 0) {
		log_set_level(LOG_LVL_ERR);
		if (ipc_socketpair(sv) < 0)
			abort();
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0)
			abort();
	}
	if (size > IPC_MAX_PAYLOAD)
		return 0;
	for (size_t i = 0; i < size; i++)
		x = (x ^ data[i]) * 16777619u;

	/* 1. The input as the payload of a well-formed message. */
	h.version = IPC_VERSION;
	h.type = 0x100 + (x & 0x3ff);
	h.len = (uint32_t)size;
	h.id = x;
	one(&h, sizeof(h), data, size, 0, 0, 1);
	one(&h, sizeof(h), data, size, 1, 1, 1);

	/* 2. The input as the whole packet. */
	int expect;
	if (size == 0) {
		expect = 0;  /* an empty datagram reads like end of file */
	} else if (size < sizeof(h)) {
		expect = -1;
	} else {
		struct ipc_hdr rh;
		memcpy(&rh, data, sizeof(rh));
		expect = rh.version == IPC_VERSION && rh.len == size - sizeof(rh) ? 1 : -1;
	}
	one(data, size, NULL, 0, 0, 0, expect);
	one(data, size, NULL, 0, 1, x & 1, expect);
	return 0;
}
