/* WebSocket push (proto/websocket.md). The handshake check, client messages,
 * channel names and per-connection framing are pure and unit-tested;
 * sessions run wslay on the upgraded connection's bufferevent; the hub keeps
 * the subscriptions and fans events out to local sessions and, through Redis
 * pub/sub, to the other lavd instances. */
#ifndef LAV_WS_H
#define LAV_WS_H

#include <event2/bufferevent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/buf.h"
#include "lav/catalog.h"
#include "lav/codec.h"
#include "lav/http.h"
#include "lav/series.h"

#define LAV_WS_PROTO_JSON    "lav.json.v1"
#define LAV_WS_PROTO_MSGPACK "lav.msgpack.v1"
/* Subscriptions one connection may hold. */
#define LAV_WS_MAX_CHANNELS 1024
/* Flips and DQ alerts kept for snapshots. */
#define LAV_WS_RECENT_FLIPS  10
#define LAV_WS_RECENT_ALERTS 50

/* ---- pure ---- */

struct lav_ws_accept {
	enum lav_format fmt;
	const char *protocol; /* to echo in Sec-WebSocket-Protocol, NULL: none offered */
	char accept[32];      /* Sec-WebSocket-Accept */
};

/* Checks an upgrade request (RFC 6455 section 4.2.1). On failure returns
 * false with the HTTP status, error code, extra response headers (or NULL)
 * and a message naming the header. */
bool lav_ws_handshake(const struct lav_request *r, struct lav_ws_accept *out, int *status,
		      const char **code, const char **extra_headers, char *msg, size_t msglen);
/* base64(SHA-1(key + RFC 6455 GUID)). */
void lav_ws_accept_key(const char *key, size_t len, char out[32]);

enum lav_ws_channel_kind {
	LAV_WS_CH_REGIME,
	LAV_WS_CH_DQ,
	LAV_WS_CH_FEATURE,     /* feature:<id>: every entity */
	LAV_WS_CH_SERIES,      /* feature:<id>|<entity> */
	LAV_WS_CH_ALL_FEATURES /* feature:* */
};

/* Validates a channel name against the catalog; code is bad_channel or
 * unknown_feature on failure. */
bool lav_ws_channel_parse(const char *name, const struct lav_catalog *cat,
			  enum lav_ws_channel_kind *kind, const char **code, char *msg,
			  size_t msglen);

enum lav_ws_op { LAV_WS_OP_SUBSCRIBE, LAV_WS_OP_UNSUBSCRIBE, LAV_WS_OP_PING };

struct lav_ws_msg {
	enum lav_ws_op op;
	json_t *doc;		/* owned: json_decref when done */
	const json_t *id;	/* borrowed from doc, NULL when absent */
	const json_t *channels; /* array of strings (subscribe/unsubscribe) */
};

/* A client message: JSON in a text frame, MessagePack in a binary one. On
 * failure (code bad_message) doc still holds the message when it decoded, so
 * the error can echo its id. Either way the caller json_decrefs doc. */
bool lav_ws_msg_parse(const void *data, size_t len, bool binary, struct lav_ws_msg *out, char *msg,
		      size_t msglen);

/* One message for one connection: body is a map written by lav_writer in
 * fmt (without seq); out gets the same map with "seq" first. */
void lav_ws_frame(struct lav_buf *out, enum lav_format fmt, uint64_t seq,
		  const struct lav_buf *body);

/* Writes a JSON value received from another instance (or remembered) in
 * fmt: strings under the keys ts, available_at and updated_at of the
 * top-level map, of its "point" and "regime" maps, and of the maps of a
 * top-level array become timestamps (MessagePack timestamp extension). */
void lav_ws_write_wire_json(struct lav_writer *w, const json_t *v);

/* True when s is valid UTF-8 (text frames must be). */
bool lav_utf8_valid(const void *s, size_t n);

/* ---- hub and sessions (I/O) ---- */

struct lav_server;
struct lav_ws_hub;
struct lav_regime_row;

struct lav_ws_hub *lav_ws_hub_new(struct lav_server *srv);
/* Open sessions and their channel subscriptions, for /metrics. */
void lav_ws_hub_counts(const struct lav_ws_hub *h, size_t *sessions, size_t *subscriptions);
/* Subscribes to the other instances' events (Redis) and starts the pings. */
void lav_ws_hub_start(struct lav_ws_hub *h);
void lav_ws_hub_free(struct lav_ws_hub *h);
/* Start-up, before the loop: the last flips for regime snapshots. */
bool lav_ws_hub_load(struct lav_ws_hub *h, void *pgconn, char *err, size_t errlen);

/* Takes over an upgraded connection: the 101 answer is already in bev's
 * output and its input holds whatever the client sent after the request. */
void lav_ws_session_start(struct lav_ws_hub *h, struct bufferevent *bev, enum lav_format fmt);
/* Shutdown: every session is closed with 1001. */
void lav_ws_drain(struct lav_ws_hub *h);

/* Events that originate in this instance. Points are published on Redis by
 * the store (lav:points); regime and DQ events by the hub. */
void lav_ws_emit_point(struct lav_ws_hub *h, const struct lav_feature *f, const char *entity,
		       const struct lav_point *p, int64_t now);
/* True when someone here subscribes to this series (skip work otherwise). */
bool lav_ws_wants_point(const struct lav_ws_hub *h, const char *feature_id, const char *entity);
/* A stored grid point: regime.flip when it flipped, then regime.update when
 * update is true. */
void lav_ws_emit_regime(struct lav_ws_hub *h, const struct lav_regime_row *row, bool update);
/* ts INT64_MIN: unknown (null). */
void lav_ws_emit_dq(struct lav_ws_hub *h, const char *feature_id, const char *entity, int64_t ts,
		    const char *code, const char *message, bool rejected);

#endif
