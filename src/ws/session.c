/* One WebSocket connection: wslay's event API reading from and writing to
 * the connection's bufferevent. wslay checks the framing (masking, reserved
 * bits, opcodes, control frames), reassembles fragments, answers pings and
 * the close handshake and enforces the message size; this file adds the
 * UTF-8 check, the slow-consumer bound and the close timeout. */
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "lav/server.h"
#include "ws_impl.h"

/* How long a closing session waits for the peer's close frame. */
#define CLOSE_WAIT_S 5
/* How long a closed session reads what the peer still sends. */
#define LINGER_S 2

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *arg)
{
	struct lav_ws_session *s = arg;
	(void)flags;
	int n = evbuffer_remove(bufferevent_get_input(s->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	return n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *arg)
{
	struct lav_ws_session *s = arg;
	(void)flags;
	if (evbuffer_add(bufferevent_get_output(s->bev), data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *arg)
{
	(void)ctx;
	(void)arg;
	memset(buf, 0, len); /* a server never masks */
	return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *m,
		   void *arg)
{
	struct lav_ws_session *s = arg;
	(void)ctx;
	if (s->closing || (m->opcode != WSLAY_TEXT_FRAME && m->opcode != WSLAY_BINARY_FRAME))
		return; /* control frames: wslay answers pings and closes */
	if (m->opcode == WSLAY_TEXT_FRAME && !lav_utf8_valid(m->msg, m->msg_length)) {
		lav_ws_session_close(s, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
				     "text message is not UTF-8");
		return;
	}
	s->hub->srv->metrics.ws_received++;
	lav_ws_hub_message(s, m->msg, m->msg_length, m->opcode == WSLAY_BINARY_FRAME);
}

static const struct wslay_event_callbacks CALLBACKS = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .genmask_callback = genmask_cb,
    .on_msg_recv_callback = on_msg,
};

static void on_close_timer(evutil_socket_t fd, short what, void *arg);

/* Frees s from the loop rather than now: senders iterate subscriber lists
 * that freeing edits. */
static void free_soon(struct lav_ws_session *s)
{
	s->finished = true;
	if (!s->close_timer)
		s->close_timer = evtimer_new(s->hub->srv->base, on_close_timer, s);
	struct timeval zero = {0, 0};
	evtimer_add(s->close_timer, &zero);
}

/* The close frame is out: stop sending and read (and drop) what the peer
 * still sends until it closes, so it reads our close frame rather than a
 * reset. */
static void linger(struct lav_ws_session *s)
{
	s->lingering = true;
	shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	bufferevent_enable(s->bev, EV_READ);
	if (!s->close_timer)
		s->close_timer = evtimer_new(s->hub->srv->base, on_close_timer, s);
	struct timeval tv = {LINGER_S, 0};
	evtimer_add(s->close_timer, &tv);
}

/* Writes what wslay queued; a session whose close handshake is over lingers
 * once its output is written. On a write failure s is freed when now is
 * true, else from the loop. */
static void pump(struct lav_ws_session *s, bool now)
{
	if (wslay_event_send(s->ctx) != 0) {
		if (now)
			lav_ws_session_free(s);
		else
			free_soon(s);
		return;
	}
	if (!s->finished && !wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx)) {
		s->finished = true;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
			linger(s);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct lav_ws_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (s->lingering || s->finished) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	s->last_rx_us = lav_monotonic_us();
	s->in_recv = true;
	int rv = wslay_event_recv(s->ctx);
	s->in_recv = false;
	if (rv != 0) {
		/* wslay gave up on the stream (a fragmented control frame): say
		 * why ourselves, wslay no longer sends */
		static const char proto_error[] = {(char)0x88, 2, 0x03, (char)0xea}; /* 1002 */
		if (!wslay_event_get_close_sent(s->ctx))
			evbuffer_add(bufferevent_get_output(s->bev), proto_error,
				     sizeof(proto_error));
		s->closing = s->finished = true;
		return; /* on_write lingers once it is out */
	}
	pump(s, true);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct lav_ws_session *s = arg;
	(void)bev;
	if (s->finished && !s->lingering)
		linger(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what; /* EOF, error or a write stuck past the timeout */
	lav_ws_session_free(arg);
}

static void on_close_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lav_ws_session_free(arg);
}

void lav_ws_session_start(struct lav_ws_hub *h, struct bufferevent *bev, enum lav_format fmt)
{
	struct lav_ws_session *s = lav_xcalloc(1, sizeof(*s));
	s->hub = h;
	s->bev = bev;
	s->fmt = fmt;
	s->last_rx_us = lav_monotonic_us();
	wslay_event_context_server_init(&s->ctx, &CALLBACKS, s);
	wslay_event_config_set_max_recv_msg_length(s->ctx, h->srv->cfg.ws_max_message_bytes);
	s->next = h->sessions;
	if (h->sessions)
		h->sessions->prev = s;
	h->sessions = s;
	h->nsessions++;
	h->srv->metrics.ws_sessions_total++;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	/* frames the client sent right behind the handshake */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		on_read(bev, s);
}

/* A whole unfragmented server frame (unmasked: a 2 to 10 byte header, then
 * the payload), written straight to the socket when nothing waits before it:
 * a fan-out to thousands of sessions then costs one sendmsg each, without the
 * output buffer switching the socket's write event on and off. What the
 * socket does not take waits in the output buffer. */
static void write_frame(struct lav_ws_session *s, int opcode, const void *data, size_t len)
{
	unsigned char hdr[10];
	size_t hn;
	hdr[0] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[1] = (unsigned char)len;
		hn = 2;
	} else if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		hn = 4;
	} else {
		hdr[1] = 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hn = 10;
	}
	struct evbuffer *out = bufferevent_get_output(s->bev);
	size_t done = 0;
	if (evbuffer_get_length(out) == 0) {
		struct iovec iov[2] = {{hdr, hn}, {(void *)data, len}};
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
		ssize_t w = sendmsg(bufferevent_getfd(s->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			done = (size_t)w; /* else EAGAIN or an error the buffer's write reports */
	}
	if (done < hn)
		evbuffer_add(out, hdr + done, hn - done);
	size_t off = done > hn ? done - hn : 0;
	if (off < len)
		evbuffer_add(out, (const char *)data + off, len - off);
}

void lav_ws_session_send(struct lav_ws_session *s, const struct lav_buf *body)
{
	if (s->closing || s->finished)
		return;
	struct lav_ws_hub *h = s->hub;
	lav_ws_frame(&h->frame, s->fmt, s->seq + 1, body);
	size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev)) +
			wslay_event_get_queued_msg_length(s->ctx);
	if (queued + h->frame.len > h->srv->cfg.ws_max_queued_bytes) {
		lav_ws_session_close(s, WSLAY_CODE_POLICY_VIOLATION,
				     "slow consumer: too many unsent bytes");
		return;
	}
	if (s->in_recv || wslay_event_get_queued_msg_count(s->ctx) > 0) {
		/* wslay has frames of its own to send first: keep the order */
		struct wslay_event_msg m = {
		    .opcode = s->fmt == LAV_FMT_JSON ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
		    .msg = (const uint8_t *)h->frame.data,
		    .msg_length = h->frame.len,
		};
		if (wslay_event_queue_msg(s->ctx, &m) != 0)
			return;
		s->seq++;
		if (!s->in_recv)
			pump(s, false);
		return;
	}
	write_frame(s, s->fmt == LAV_FMT_JSON ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
		    h->frame.data, h->frame.len);
	s->seq++;
}

void lav_ws_session_ping(struct lav_ws_session *s)
{
	if (s->closing || s->finished)
		return;
	struct wslay_event_msg m = {.opcode = WSLAY_PING, .msg = NULL, .msg_length = 0};
	if (wslay_event_queue_msg(s->ctx, &m) == 0)
		pump(s, false);
}

void lav_ws_session_close(struct lav_ws_session *s, uint16_t code, const char *reason)
{
	if (s->closing || s->finished)
		return;
	s->closing = true;
	wslay_event_queue_close(s->ctx, code, (const uint8_t *)reason, strlen(reason));
	s->close_timer = evtimer_new(s->hub->srv->base, on_close_timer, s);
	struct timeval tv = {CLOSE_WAIT_S, 0};
	evtimer_add(s->close_timer, &tv);
	if (!s->in_recv)
		pump(s, false);
}

void lav_ws_session_free(struct lav_ws_session *s)
{
	struct lav_ws_hub *h = s->hub;
	struct lav_server *srv = h->srv;
	lav_ws_hub_forget(s);
	/* 1006: the connection ended without our close frame */
	lav_metrics_ws_closed(&srv->metrics, wslay_event_get_close_sent(s->ctx)
						 ? wslay_event_get_status_code_sent(s->ctx)
						 : 1006);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsessions--;
	if (s->close_timer)
		event_free(s->close_timer);
	wslay_event_context_free(s->ctx);
	bufferevent_free(s->bev);
	free(s);
	srv->nconns--;
	if (srv->draining && srv->nconns == 0)
		event_base_loopexit(srv->base, NULL);
}
