/* Shared between the WebSocket sessions (session.c) and the hub (hub.c). */
#ifndef LAV_WS_IMPL_H
#define LAV_WS_IMPL_H

#include <event2/event.h>
#include <wslay/wslay.h>

#include "lav/strmap.h"
#include "lav/ws.h"

struct lav_ws_session {
	struct lav_ws_hub *hub;
	struct bufferevent *bev;
	wslay_event_context_ptr ctx;
	enum lav_format fmt;
	uint64_t seq;	    /* of the last message sent */
	uint64_t mark;	    /* serial of the last event delivered: once per event */
	int64_t last_rx_us; /* monotonic: any byte from the peer */
	bool in_recv;	    /* inside wslay_event_recv: sends wait for it */
	bool closing;	    /* our close frame is queued: nothing more is sent */
	bool finished;	    /* close handshake over: lingers once the output is written */
	bool lingering;	    /* output shut down; input dropped until EOF or a timeout */
	struct event *close_timer;
	char **channels; /* subscribed channel names */
	size_t nchannels;
	struct lav_ws_session *prev, *next;
};

/* Sessions subscribed to one channel. */
struct lav_ws_subs {
	struct lav_ws_session **v;
	size_t n, cap;
};

struct lav_ws_hub {
	struct lav_server *srv;
	struct lav_ws_session *sessions;
	size_t nsessions;
	struct lav_ws_subs regime, dq, all_features;
	struct lav_strmap by_feature; /* feature id → struct lav_ws_subs */
	struct lav_strmap by_series;  /* "id|entity" → struct lav_ws_subs */
	uint64_t serial;	      /* of the last event */
	struct lav_buf frame;	      /* scratch: one framed message */
	struct event *ping_timer;
	struct lav_redis *bus; /* subscriber connection, NULL without Redis */
	json_t *flips;	       /* newest first, at most LAV_WS_RECENT_FLIPS */
	json_t *alerts;	       /* newest first, at most LAV_WS_RECENT_ALERTS */
};

/* Sends one message (a map written without seq) unless the session is
 * closing; a session whose unsent bytes pass the bound is closed with 1008. */
void lav_ws_session_send(struct lav_ws_session *s, const struct lav_buf *body);
/* Queues a close frame; the session is freed after the peer's close or 5 s. */
void lav_ws_session_close(struct lav_ws_session *s, uint16_t code, const char *reason);
void lav_ws_session_free(struct lav_ws_session *s);
void lav_ws_session_ping(struct lav_ws_session *s);

/* A text or binary message from the client (hub.c). */
void lav_ws_hub_message(struct lav_ws_session *s, const uint8_t *data, size_t len, bool binary);
/* Drops every subscription of s (hub.c). */
void lav_ws_hub_forget(struct lav_ws_session *s);

#endif
