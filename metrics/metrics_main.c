/* haven-metrics: the OpenMetrics endpoint. Started by the master with the
 * metrics_listen socket at fd 5; chrooted and unprivileged like a login
 * worker before it accepts anything, under a seccomp filter. Each
 * request (GET /metrics) is answered with the text the master gives for
 * it; the master never sees HTTP. One request per connection. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "../lib/child.h"
#include "../lib/ipc.h"
#include "../lib/log.h"
#include "../lib/msg_metrics.h"
#include "../lib/privdrop.h"
#include "../lib/sandbox.h"
#include "http.h"

/* Connections at once (a scraper or two, and a curl). */
#define MAX_CONNS 8
#define REQUEST_TIMEOUT_S 10

struct conn {
	struct conn *next;
	struct bufferevent *bev;
	uint32_t id;
	int head_only;           /* HEAD: the answer without its body */
	int waiting;             /* for the master's text */
};

static struct config cfg;
static struct event_base *base;
static struct conn *conns;
static unsigned nconns;
static uint32_t next_id;

static void conn_free(struct conn *c)
{
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	bufferevent_free(c->bev);
	free(c);
	nconns--;
}

/* Lingering close: a client still sending (a request too long) would
 * get a reset that destroys the reply it has not read yet; so after the
 * reply the connection half-closes and reads until the client is done. */
#define LINGER_S 2

static void on_flushed(struct bufferevent *bev, void *arg)
{
	struct timeval tv = { LINGER_S, 0 };

	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void drain(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	conn_free(arg);  /* closed, broken or silent too long */
}

/* The reply, then the end of the connection. */
static void respond(struct conn *c, int status, const char *reason, const char *type,
		    const void *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "%sConnection: close\r\n\r\n", status, reason, type, len,
			    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!c->head_only)
		evbuffer_add(out, body, len);
	bufferevent_setcb(c->bev, drain, on_flushed, on_event, c);
	drain(c->bev, c);
}

static void respond_text(struct conn *c, int status, const char *reason)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	respond(c, status, reason, "text/plain; charset=utf-8", body, (size_t)n);
}

static void ask_master(struct conn *c)
{
	c->id = ++next_id ? next_id : ++next_id;
	c->waiting = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (ipc_send_empty(CHILD_FD_MASTER, MSG_METRICS_REQ, c->id, -1) < 0)
		respond_text(c, 503, "Service Unavailable");
}

static void request(struct conn *c, const char *head, size_t len)
{
	struct http_request r;
	int status;

	if (http_parse_head(head, len, &r, &status) < 0)
		respond_text(c, status, status == 414 ? "URI Too Long" : status == 505
				? "HTTP Version Not Supported" : "Bad Request");
	else if (r.method == HTTP_OTHER)
		respond_text(c, 405, "Method Not Allowed");
	else if (strcmp(r.path, "/metrics") != 0)
		respond_text(c, 404, "Not Found");
	else {
		c->head_only = r.method == HTTP_HEAD;
		ask_master(c);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	size_t want = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	const char *head = (const char *)evbuffer_pullup(in, (ssize_t)want);
	size_t end = http_head_end(head, want);

	if (end > 0)
		request(c, head, end);
	else if (len >= HTTP_HEAD_MAX)
		respond_text(c, 431, "Request Header Fields Too Large");
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct timeval tv = { REQUEST_TIMEOUT_S, 0 };
	struct conn *c;

	if (nconns >= MAX_CONNS) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		close(fd);
		return;
	}
	nconns++;
	c->next = conns;
	conns = c;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void master_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m;
	const unsigned char *text;
	size_t len;
	int r = ipc_recv(fd, &m, 0);

	if (r == -2)
		return;
	if (r <= 0)
		event_base_loopbreak(base);
	if (r <= 0 || m.type != MSG_METRICS_TEXT || ipc_get_bytes(&m, &text, &len) < 0 ||
	    ipc_get_end(&m) < 0) {
		if (r > 0)
			ipc_msg_free(&m);
		return;
	}
	for (struct conn *c = conns; c; c = c->next) {
		if (c->waiting && c->id == m.id) {
			c->waiting = 0;
			respond(c, 200, "OK", "application/openmetrics-text; version=1.0.0; charset=utf-8",
				text, len);
			break;
		}
	}
	ipc_msg_free(&m);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	struct child_args args;
	struct evconnlistener *l;
	struct event *master_ev, *term_ev;

	child_init("metrics", argc, argv, &args, &cfg);
	signal(SIGPIPE, SIG_IGN);
	privdrop_to_login_user(&cfg);
	base = event_base_new();
	if (base == NULL)
		fatal("event_base_new failed");
	l = evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, 0, CHILD_FD_CLIENT);
	if (l == NULL)
		fatal("cannot listen on the metrics socket");
	master_ev = event_new(base, CHILD_FD_MASTER, EV_READ | EV_PERSIST, master_read, NULL);
	event_add(master_ev, NULL);
	term_ev = evsignal_new(base, SIGTERM, on_term, NULL);
	event_add(term_ev, NULL);
	sandbox_enter(SANDBOX_METRICS, cfg.seccomp);
	event_base_dispatch(base);
	_exit(0);  /* as a login worker: nothing to flush, no leak check in a chroot */
}
