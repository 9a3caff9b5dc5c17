/* Sockets: listeners from "host:port" lists and peer address text. */
#ifndef HAVEN_NET_H
#define HAVEN_NET_H
#include <sys/socket.h>
#include "error.h"

#define NET_MAX_LISTENERS 16

/* Bind every host:port (or /path: a unix socket) of a comma-separated
 * list; returns the number of fds stored in fds (up to max) or -1. */
int net_listen_list(const char *list, int *fds, int max, struct error *err);
/* "ip" of a socket address into out. */
void net_addr_text(const struct sockaddr *sa, char *out, size_t outlen);
/* 1 for 127.0.0.0/8, ::1 and v4-mapped loopback. */
int net_addr_is_loopback(const char *ip);
int net_set_nonblock(int fd);
/* A blocking stream connection to "/path" (a unix socket), "host:port" or
 * "[v6]:port": the fd, or -1 with errno. */
int net_connect(const char *where);

#endif
