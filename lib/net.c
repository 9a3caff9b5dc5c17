#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"

/* A unix socket at path, replacing a stale one (a socket left by a
 * previous run; anything else there is an error). Mode 0666: who may
 * connect is up to the directory, as with Dovecot's and Postfix's. */
static int listen_unix(const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		error_set(err, ERR_PARSE, "listen %s: path too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 1024) < 0) {
		error_set(err, ERR_INTERNAL, "listen %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Split "host:port" or "[v6]:port" in place at the last colon: *h is
 * left at the host, the port is returned; NULL without a colon. */
static char *split_hostport(char **h)
{
	char *port = strrchr(*h, ':');

	if (port == NULL)
		return NULL;
	*port++ = '\0';
	if (**h == '[' && port - 2 > *h && port[-2] == ']') {
		(*h)++;
		port[-2] = '\0';
	}
	return port;
}

static int listen_one(const char *spec, struct error *err)
{
	char *host = xstrdup(spec), *port;
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, rc;

	/* Trim blanks, split at the last colon, allow [v6]:port. */
	char *h = host;
	while (*h == ' ' || *h == '\t')
		h++;
	char *e = h + strlen(h);
	while (e > h && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	if (*h == '/') {
		fd = listen_unix(h, err);
		free(host);
		return fd;
	}
	port = split_hostport(&h);
	if (port == NULL) {
		error_set(err, ERR_PARSE, "listen: \"%s\" is not host:port", spec);
		free(host);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(strcmp(h, "*") == 0 ? NULL : h, port, &hints, &res);
	if (rc != 0) {
		error_set(err, ERR_PARSE, "listen %s: %s", spec, gai_strerror(rc));
		free(host);
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (res->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		error_set(err, ERR_INTERNAL, "listen %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	free(host);
	return fd;
}

int net_listen_list(const char *list, int *fds, int max, struct error *err)
{
	char *copy = xstrdup(list), *save = NULL, *tok;
	int n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strspn(tok, " \t") == strlen(tok))
			continue;  /* "a:1, b:2," */
		if (n == max) {
			error_set(err, ERR_LIMIT, "too many listeners (max %d)", max);
			goto fail;
		}
		int fd = listen_one(tok, err);
		if (fd < 0)
			goto fail;
		fds[n++] = fd;
	}
	free(copy);
	return n;
fail:
	while (n > 0)
		close(fds[--n]);
	free(copy);
	return -1;
}

void net_addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, outlen);
	else
		snprintf(out, outlen, "local");
}

int net_addr_is_loopback(const char *ip)
{
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	       strncmp(ip, "::ffff:127.", 11) == 0 || strcmp(ip, "local") == 0;
}

int net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	return fd;
}

/* Every address the name resolves to, in getaddrinfo's order, until one
 * accepts. */
static int connect_tcp(const char *hostport)
{
	char *copy = xstrdup(hostport), *h = copy, *port = split_hostport(&h);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int fd = -1, e = EINVAL;

	if (port && getaddrinfo(h, port, &hints, &res) == 0) {
		e = EHOSTUNREACH;
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				e = errno;
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(res);
	}
	free(copy);
	errno = fd < 0 ? e : errno;
	return fd;
}

int net_connect(const char *where)
{
	return where[0] == '/' ? connect_unix(where) : connect_tcp(where);
}
