/* IPC between Haven's processes.
 *
 * Every channel is a SOCK_SEQPACKET socketpair, so one sendmsg() is one
 * message and a file descriptor travels with exactly the message it belongs
 * to. A message is a fixed header (version, type, payload length, request
 * id) followed by a payload built from typed fields. Receivers decode with
 * the ipc_get_* readers, which check every length, require NUL-terminated
 * strings without embedded NULs, and fail if bytes are left over: nothing
 * is ever copied straight off a socket into a struct.
 *
 * Message types are declared per process pair in ipc_msgs.h. */
#ifndef HAVEN_IPC_H
#define HAVEN_IPC_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Every process checks it in every header. Any change to the layout or
 * the meaning of a message of any pair bumps it, so that a new helper
 * program on disk (a package upgrade) and a master still running the old
 * code refuse each other instead of misreading each other.
 * 2: MSG_AUTH_CONFIG, AUTH_BLOCKED, MSG_LOGIN_FAIL's kind.
 * 3: SASL exchanges of several steps (msg_sasl.h), the user record with
 *    id and quotas, AUTH_EXPIRED.
 * 4: MSG_WORKER_WHO, _SESSIONS, _KICK, _KICKED (haven-admin who, kick).
 * 5: MSG_WORKER_UNAUTH, MSG_LOGIN_CLIENT_BACK (UNAUTHENTICATE). */
#define IPC_VERSION 5
#define IPC_MAX_PAYLOAD (96 * 1024)

struct ipc_hdr {
	uint32_t version;
	uint32_t type;
	uint32_t len;
	uint32_t id;
};

/* An outgoing message under construction. */
struct ipc_out {
	uint32_t type, id;
	struct buf payload;
};

/* A received message. fd is -1 unless one arrived with it. */
struct ipc_msg {
	uint32_t type, id;
	unsigned char *data;
	size_t len, pos;
	int fd;
	int bad;  /* sticky: a getter failed */
};

void ipc_out_init(struct ipc_out *o, uint32_t type, uint32_t id);
void ipc_out_free(struct ipc_out *o);
void ipc_out_free_secret(struct ipc_out *o);
void ipc_put_u32(struct ipc_out *o, uint32_t v);
void ipc_put_u64(struct ipc_out *o, uint64_t v);
void ipc_put_str(struct ipc_out *o, const char *s);      /* NULL sends "" */
void ipc_put_bytes(struct ipc_out *o, const void *p, size_t n);

/* Send o (and fd unless -1). Blocking; retries EINTR. Returns 0 or -1. */
int ipc_send(int sock, const struct ipc_out *o, int fd);
/* Convenience: a message with an empty payload. */
int ipc_send_empty(int sock, uint32_t type, uint32_t id, int fd);

/* Receive one message. Returns 1 on a message, 0 on EOF, -1 on error or
 * malformed framing (bad version, truncated, length mismatch, more than one
 * fd, or an fd where allow_fd is 0 -- such fds are closed). -2 means
 * EAGAIN on a non-blocking socket. */
int ipc_recv(int sock, struct ipc_msg *m, int allow_fd);
void ipc_msg_free(struct ipc_msg *m);
/* ipc_msg_free after overwriting the payload (passwords, keys). */
void ipc_msg_free_secret(struct ipc_msg *m);
/* Read n bytes at p (a field of another message) with the getters;
 * nothing to free. */
void ipc_msg_view(struct ipc_msg *m, const void *p, size_t n);

int ipc_get_u32(struct ipc_msg *m, uint32_t *v);
int ipc_get_u64(struct ipc_msg *m, uint64_t *v);
/* Points into the message; valid until ipc_msg_free. */
int ipc_get_str(struct ipc_msg *m, const char **s);
int ipc_get_bytes(struct ipc_msg *m, const unsigned char **p, size_t *n);
/* 0 if every getter succeeded and the payload is fully consumed. */
int ipc_get_end(struct ipc_msg *m);

/* SEQPACKET socketpair, close-on-exec, larger buffers. */
int ipc_socketpair(int sv[2]);

#endif
