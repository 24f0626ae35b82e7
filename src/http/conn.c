/* Client connections: read, parse, dispatch, answer in order, time out. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lav/http.h"
#include "lav/server.h"
#include "lav/ws.h"

/* Requests parsed ahead of their responses; past this the socket is not read. */
#define MAX_PIPELINE 32
/* Unsent response bytes past which reading pauses (a client that pipelines
 * but does not read must not grow our memory). */
#define MAX_PENDING_OUTPUT (4u << 20)
/* After an error response, how long unread request bytes are discarded
 * before the socket closes, so the client reads the error instead of a RST. */
#define LINGER_MS 2000

enum timer_mode { T_NONE, T_IDLE, T_REQUEST, T_LINGER };

struct lav_conn {
	struct lav_server *srv;
	struct bufferevent *bev;
	struct lav_reqparser rp;
	struct lav_request *head, *tail;
	int nqueued;
	struct event *timer;
	enum timer_mode tmode;
	bool closing;	/* no more requests; close once the output is written */
	bool lingering; /* output written and shut down; discarding input */
	bool read_paused;
	bool in_process; /* re-entrancy guard for process_input */
	bool upgrade;	 /* the head request switches to WebSocket */
	enum lav_format upgrade_fmt;
	struct lav_conn *prev, *next;
};

static void process_input(struct lav_conn *c);
static void conn_free(struct lav_conn *c);

static void arm(struct lav_conn *c, enum timer_mode mode, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	c->tmode = mode;
	evtimer_add(c->timer, &tv);
}

static void update_timer(struct lav_conn *c)
{
	if (c->closing)
		return;
	if (lav_reqparser_mid_message(&c->rp)) {
		if (c->tmode != T_REQUEST)
			arm(c, T_REQUEST, c->srv->cfg.request_timeout_ms);
	} else if (c->nqueued == 0) {
		if (c->tmode != T_IDLE)
			arm(c, T_IDLE, c->srv->cfg.idle_timeout_ms);
	} else if (c->tmode != T_NONE) {
		c->tmode = T_NONE;
		evtimer_del(c->timer);
	}
}

/* Requests still waiting for an async handler outlive the connection: the
 * handler's lav_respond() sees conn == NULL and frees them. */
static void orphan_queue(struct lav_conn *c)
{
	struct lav_request *r = c->head;
	while (r) {
		struct lav_request *next = r->next;
		r->next = NULL;
		if (r->done)
			lav_request_free(r);
		else
			r->conn = NULL;
		r = next;
	}
	c->head = c->tail = NULL;
	c->nqueued = 0;
}

static void start_linger(struct lav_conn *c)
{
	c->lingering = true;
	shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	bufferevent_enable(c->bev, EV_READ);
	arm(c, T_LINGER, LINGER_MS);
}

/* Writes finished responses in request order. */
static void flush(struct lav_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->head && c->head->done) {
		struct lav_request *r = c->head;
		c->head = r->next;
		if (!c->head)
			c->tail = NULL;
		c->nqueued--;
		evbuffer_add(out, r->out.data, r->out.len);
		bool keep = r->keep_alive;
		lav_request_free(r);
		if (!keep) {
			c->closing = true;
			orphan_queue(c);
			break;
		}
	}
	if (c->closing && !c->lingering && evbuffer_get_length(out) == 0)
		start_linger(c);
}

static void enqueue(struct lav_conn *c, struct lav_request *r)
{
	r->conn = c;
	r->next = NULL;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->nqueued++;
}

static void dispatch(struct lav_conn *c, struct lav_request *r)
{
	struct lav_server *srv = c->srv;
	r->start_us = lav_monotonic_us();
	lav_server_assign_cid(srv, r);
	srv->requests_total++;
	enqueue(c, r);
	srv->dispatch(srv, r);
}

/* An unparseable request: answer with the error after any earlier responses,
 * then close. */
static void respond_parse_error(struct lav_conn *c, int status, const char *code, const char *msg)
{
	struct lav_request *r = c->rp.cur;
	c->rp.cur = NULL;
	if (!r)
		r = lav_xcalloc(1, sizeof(*r));
	r->start_us = lav_monotonic_us();
	lav_server_assign_cid(c->srv, r);
	r->keep_alive = false;
	r->out_fmt = LAV_FMT_JSON;
	lav_format_from_accept(lav_request_header(r, "accept"), &r->out_fmt);
	enqueue(c, r);
	c->closing = true; /* read nothing more */
	lav_respond_error(r, status, code, "%s", msg);
}

/* The request target for the log, with a ?token= value (a bearer token from a
 * browser) replaced by ***. */
static const char *log_target(const struct lav_request *r, char *buf, size_t n)
{
	if (!r->target)
		return "-";
	snprintf(buf, n, "%s", r->target);
	char *q = strchr(buf, '?');
	for (char *p = q; p && *p;) {
		p++;
		if (strncmp(p, "token=", 6) == 0) {
			char *end = strchr(p, '&');
			char rest[256];
			snprintf(rest, sizeof(rest), "%s", end ? end : "");
			snprintf(p + 6, n - (size_t)(p + 6 - buf), "***%s", rest);
		}
		p = strchr(p, '&');
	}
	return buf;
}

static void unlink_conn(struct lav_conn *c)
{
	struct lav_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* The 101 answer goes out and the socket (with whatever the client sent
 * behind the request) becomes a WebSocket session, which inherits this
 * connection's place in srv->nconns. */
static void hand_over(struct lav_conn *c)
{
	struct lav_request *r = c->head;
	struct bufferevent *bev = c->bev;
	evbuffer_add(bufferevent_get_output(bev), r->out.data, r->out.len);
	lav_request_free(r);
	lav_reqparser_free(&c->rp);
	event_free(c->timer);
	unlink_conn(c);
	struct lav_ws_hub *hub = c->srv->ws;
	enum lav_format fmt = c->upgrade_fmt;
	free(c);
	bufferevent_set_timeouts(bev, NULL, NULL);
	lav_ws_session_start(hub, bev, fmt);
}

bool lav_http_upgrade(struct lav_request *r, const char *head, enum lav_format fmt)
{
	struct lav_conn *c = r->conn;
	if (!c || c->head != r || r->next || c->srv->draining || !c->srv->ws)
		return false;
	lav_buf_reset(&r->out);
	lav_buf_puts(&r->out, head);
	r->status = 101;
	lav_metrics_request(c->srv, r, 101);
	c->upgrade = true;
	c->upgrade_fmt = fmt;
	char target[256];
	lav_log(&c->srv->log, LAV_LOG_DEBUG, r->cid, "GET %s -> 101",
		log_target(r, target, sizeof(target)));
	return true;
}

static void process_input(struct lav_conn *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (!c->closing) {
		if (c->nqueued >= MAX_PIPELINE || evbuffer_get_length(out) > MAX_PENDING_OUTPUT) {
			bufferevent_disable(c->bev, EV_READ);
			c->read_paused = true;
			break;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		size_t n = lav_reqparser_feed(&c->rp, v.iov_base, v.iov_len);
		evbuffer_drain(in, n);
		if (c->rp.err_status) {
			respond_parse_error(c, c->rp.err_status, c->rp.err_code, c->rp.err_msg);
			break;
		}
		if (c->rp.want_continue && c->nqueued == 0) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			evbuffer_add(out, cont, sizeof(cont) - 1);
			c->rp.want_continue = false;
		}
		struct lav_request *r = lav_reqparser_take(&c->rp);
		if (r) {
			dispatch(c, r);
			if (c->upgrade) {
				hand_over(c); /* c is gone */
				return;
			}
		} else if (n == 0) {
			break;
		}
	}
	c->in_process = false;
	if (c->closing && c->head == NULL && !c->lingering && evbuffer_get_length(out) == 0)
		start_linger(c);
	update_timer(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct lav_conn *c = arg;
	if (c->lingering || c->closing) {
		evbuffer_drain(bufferevent_get_input(bev),
			       evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	process_input(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct lav_conn *c = arg;
	(void)bev;
	if (c->closing) {
		if (!c->lingering && c->head == NULL)
			start_linger(c);
		return;
	}
	if (c->read_paused) {
		c->read_paused = false;
		bufferevent_enable(c->bev, EV_READ);
		process_input(c);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lav_conn *c = arg;
	(void)bev;
	if ((what & BEV_EVENT_EOF) && !c->lingering && c->head && !(what & BEV_EVENT_ERROR)) {
		/* half-close: the client is done sending but still reads answers */
		c->closing = true;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	conn_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lav_conn *c = arg;
	(void)fd;
	(void)what;
	switch (c->tmode) {
	case T_REQUEST:
		c->tmode = T_NONE;
		respond_parse_error(c, 408, "request_timeout", "request not received in time");
		flush(c);
		return;
	case T_IDLE:
	case T_LINGER:
	case T_NONE:
		conn_free(c);
		return;
	}
}

static void conn_free(struct lav_conn *c)
{
	struct lav_server *srv = c->srv;
	orphan_queue(c);
	lav_reqparser_free(&c->rp);
	event_free(c->timer);
	bufferevent_free(c->bev);
	unlink_conn(c);
	srv->nconns--;
	free(c);
	if (srv->draining && srv->nconns == 0)
		event_base_loopexit(srv->base, NULL);
}

void lav_respond(struct lav_request *r, int status, const char *content_type, const void *body,
		 size_t len, const char *extra_headers)
{
	struct lav_conn *c = r->conn;
	if (!c) {
		lav_request_free(r); /* the client is gone */
		return;
	}
	struct lav_server *srv = c->srv;
	if (srv->draining)
		r->keep_alive = false;
	r->status = status;
	struct lav_buf *o = &r->out;
	lav_buf_reset(o);
	lav_buf_reserve(o, 256 + len);
	lav_buf_printf(o, "HTTP/1.1 %d %s\r\nServer: lavd\r\nDate: %s\r\n", status,
		       lav_http_reason(status), lav_server_date(srv));
	if (content_type)
		lav_buf_printf(o, "Content-Type: %s\r\n", content_type);
	lav_buf_printf(o, "Content-Length: %zu\r\nx-correlation-id: %s\r\n", len, r->cid);
	if (!r->keep_alive)
		lav_buf_puts(o, "Connection: close\r\n");
	if (extra_headers)
		lav_buf_puts(o, extra_headers);
	lav_buf_puts(o, "\r\n");
	if (r->method != HTTP_HEAD)
		lav_buf_append(o, body, len);
	r->done = true;
	lav_metrics_request(srv, r, status);
	/* 5xx are ours to look at, 4xx are the client's, 2xx only when debugging */
	enum lav_log_level lvl = status >= 500	 ? LAV_LOG_ERROR
				 : status >= 400 ? LAV_LOG_INFO
						 : LAV_LOG_DEBUG;
	char target[256];
	lav_log(&srv->log, lvl, r->cid, "%s %s -> %d", http_method_str(r->method),
		log_target(r, target, sizeof(target)), status);
	flush(c);
}

static void reject_overload(struct lav_server *srv, evutil_socket_t fd)
{
	struct lav_request tmp = {0};
	lav_server_assign_cid(srv, &tmp);
	struct lav_buf body = LAV_BUF_INIT;
	lav_error_body(&body, LAV_FMT_JSON, "unavailable", "too many connections", tmp.cid, NULL,
		       0);
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 503 Service Unavailable\r\nServer: lavd\r\nContent-Type: "
			 "application/json\r\nContent-Length: %zu\r\nx-correlation-id: "
			 "%s\r\nRetry-After: 1\r\nConnection: close\r\n\r\n",
			 body.len, tmp.cid);
	/* best effort on a fresh socket: its send buffer is empty */
	ssize_t w = send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w == n)
		w = send(fd, body.data, body.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	lav_buf_free(&body);
	shutdown(fd, SHUT_WR);
	evutil_closesocket(fd);
	lav_warn(&srv->log, "connection refused: %d connections open (LAV_MAX_CONNECTIONS)",
		 srv->nconns);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct lav_server *srv = arg;
	(void)l;
	(void)sa;
	(void)socklen;
	if (srv->draining || srv->nconns >= srv->cfg.max_connections) {
		reject_overload(srv, fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct lav_conn *c = lav_xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	lav_reqparser_init(&c->rp, srv->cfg.max_header_bytes, srv->cfg.max_body_bytes);
	c->timer = evtimer_new(srv->base, on_timer, c);
	struct timeval wt = {(time_t)(srv->cfg.request_timeout_ms / 1000),
			     (suseconds_t)(srv->cfg.request_timeout_ms % 1000) * 1000};
	bufferevent_set_timeouts(c->bev, NULL, &wt);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->connections_total++;
	update_timer(c);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct lav_server *srv = arg;
	(void)l;
	/* EMFILE and friends: keep serving the connections we have */
	lav_error(&srv->log, "accept failed: %s", strerror(errno));
}

bool lav_http_listen(struct lav_server *srv, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char addr[128];
	const char *host =
	    strcmp(srv->cfg.listen_host, "localhost") == 0 ? "127.0.0.1" : srv->cfg.listen_host;
	if (strchr(host, ':'))
		snprintf(addr, sizeof(addr), "[%s]:%d", host, srv->cfg.listen_port);
	else
		snprintf(addr, sizeof(addr), "%s:%d", host, srv->cfg.listen_port);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) != 0) {
		snprintf(err, errlen, "LAV_LISTEN: cannot parse %s", addr);
		return false;
	}
	srv->listener = evconnlistener_new_bind(srv->base, on_accept, srv,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
						    LEV_OPT_CLOSE_ON_EXEC,
						1024, (struct sockaddr *)&ss, sslen);
	if (!srv->listener) {
		snprintf(err, errlen, "LAV_LISTEN: cannot listen on %s: %s", addr, strerror(errno));
		return false;
	}
	evconnlistener_set_error_cb(srv->listener, on_accept_error);
	return true;
}

void lav_http_drain(struct lav_server *srv)
{
	if (srv->listener)
		evconnlistener_disable(srv->listener);
	struct lav_conn *c = srv->conns;
	while (c) {
		struct lav_conn *next = c->next;
		if (c->nqueued == 0 && !lav_reqparser_mid_message(&c->rp))
			conn_free(c);
		c = next;
	}
}

void lav_http_close_all(struct lav_server *srv)
{
	while (srv->conns)
		conn_free(srv->conns);
	if (srv->listener) {
		evconnlistener_free(srv->listener);
		srv->listener = NULL;
	}
}
