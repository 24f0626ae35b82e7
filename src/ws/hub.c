/* The hub: who subscribes to what, the client messages, snapshots, and the
 * events. An event is encoded once per format; each session splices its own
 * seq in front. Events of this instance go to its sessions directly and to
 * Redis for the others; events from Redis whose origin is this instance are
 * its own echo and are dropped, so no session sees an event twice. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/api.h"
#include "lav/redis.h"
#include "lav/regime.h"
#include "lav/semaforo.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"
#include "ws_impl.h"

static const char *const BUS_CHANNELS[] = {"lav:points", "lav:regime", "lav:dq"};

/* ---- subscriber lists ---- */

static void subs_add(struct lav_ws_subs *l, struct lav_ws_session *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = lav_xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

static void subs_remove(struct lav_ws_subs *l, const struct lav_ws_session *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == s) {
			l->v[i] = l->v[--l->n];
			return;
		}
}

static struct lav_ws_subs *subs_at(struct lav_strmap *m, const char *key, bool create)
{
	struct lav_ws_subs *l = lav_strmap_get(m, key);
	if (!l && create) {
		l = lav_xcalloc(1, sizeof(*l));
		lav_strmap_put(m, key, l);
	}
	return l;
}

/* The list a valid channel name lives in. */
static struct lav_ws_subs *channel_subs(struct lav_ws_hub *h, const char *name, bool create)
{
	if (strcmp(name, "regime") == 0)
		return &h->regime;
	if (strcmp(name, "dq") == 0)
		return &h->dq;
	if (strcmp(name, "feature:*") == 0)
		return &h->all_features;
	const char *key = name + 8; /* "feature:" */
	return subs_at(strchr(key, '|') ? &h->by_series : &h->by_feature, key, create);
}

static bool subscribed(const struct lav_ws_session *s, const char *name)
{
	for (size_t i = 0; i < s->nchannels; i++)
		if (strcmp(s->channels[i], name) == 0)
			return true;
	return false;
}

void lav_ws_hub_forget(struct lav_ws_session *s)
{
	for (size_t i = 0; i < s->nchannels; i++) {
		struct lav_ws_subs *l = channel_subs(s->hub, s->channels[i], false);
		if (l)
			subs_remove(l, s);
		free(s->channels[i]);
	}
	free(s->channels);
	s->channels = NULL;
	s->nchannels = 0;
}

/* ---- events ---- */

typedef void (*event_writer)(struct lav_writer *w, const void *arg);

struct ws_event {
	uint64_t serial;
	event_writer write;
	const void *arg;
	enum lav_ws_msg_type type; /* for /metrics */
	struct lav_buf body[2]; /* by enum lav_format, encoded on first use */
	bool has[2];
};

static void event_init(struct lav_ws_hub *h, struct ws_event *ev, event_writer write,
		       const void *arg, enum lav_ws_msg_type type)
{
	memset(ev, 0, sizeof(*ev));
	ev->serial = ++h->serial;
	ev->write = write;
	ev->arg = arg;
	ev->type = type;
}

static void send_counted(struct lav_ws_session *s, const struct lav_buf *body,
			 enum lav_ws_msg_type type)
{
	lav_ws_session_send(s, body);
	lav_metrics_ws_sent(&s->hub->srv->metrics, type);
}

static void ev_release(struct ws_event *ev)
{
	lav_buf_free(&ev->body[0]);
	lav_buf_free(&ev->body[1]);
}

static void deliver(struct ws_event *ev, const struct lav_ws_subs *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct lav_ws_session *s = l->v[i];
		if (s->mark == ev->serial)
			continue;
		s->mark = ev->serial;
		if (!ev->has[s->fmt]) {
			struct lav_writer w;
			lav_w_init(&w, s->fmt, &ev->body[s->fmt]);
			ev->write(&w, ev->arg);
			ev->has[s->fmt] = true;
		}
		send_counted(s, &ev->body[s->fmt], ev->type);
	}
}

static void deliver_point(struct lav_ws_hub *h, struct ws_event *ev, const char *feature_id,
			  const char *entity)
{
	char key[512];
	snprintf(key, sizeof(key), "%s|%s", feature_id, entity);
	deliver(ev, &h->all_features);
	deliver(ev, lav_strmap_get(&h->by_feature, feature_id));
	deliver(ev, lav_strmap_get(&h->by_series, key));
}

bool lav_ws_wants_point(const struct lav_ws_hub *h, const char *feature_id, const char *entity)
{
	if (!h || h->nsessions == 0)
		return false;
	if (h->all_features.n)
		return true;
	const struct lav_ws_subs *l = lav_strmap_get(&h->by_feature, feature_id);
	if (l && l->n)
		return true;
	char key[512];
	snprintf(key, sizeof(key), "%s|%s", feature_id, entity);
	l = lav_strmap_get(&h->by_series, key);
	return l && l->n;
}

struct point_arg {
	const struct lav_feature *f;
	const char *entity;
	const struct lav_point *p;
	int64_t now;
};

static void write_point_event(struct lav_writer *w, const void *arg)
{
	const struct point_arg *a = arg;
	lav_w_map_begin(w);
	lav_w_key(w, "type");
	lav_w_str(w, "feature.point");
	lav_w_key(w, "point");
	lav_write_point(w, a->f->id, a->entity, a->p, a->f->ttl_ms, a->now);
	lav_w_map_end(w);
}

void lav_ws_emit_point(struct lav_ws_hub *h, const struct lav_feature *f, const char *entity,
		       const struct lav_point *p, int64_t now)
{
	if (!lav_ws_wants_point(h, f->id, entity))
		return;
	struct point_arg a = {f, entity, p, now};
	struct ws_event ev;
	event_init(h, &ev, write_point_event, &a, LAV_WSM_POINT);
	deliver_point(h, &ev, f->id, entity);
	ev_release(&ev);
}

static void write_update_event(struct lav_writer *w, const void *arg)
{
	const struct lav_regime_row *r = arg;
	lav_w_map_begin(w);
	lav_w_key(w, "type");
	lav_w_str(w, "regime.update");
	lav_api_write_row_fields(w, r);
	lav_w_key(w, "updated_at");
	lav_w_time(w, r->computed_at);
	lav_w_map_end(w);
}

/* The fields of a flip, shared by the event and the snapshot's list. */
static void write_flip_fields(struct lav_writer *w, const struct lav_regime_row *r)
{
	lav_w_key(w, "from");
	lav_w_str(w, lav_regime_name(r->from));
	lav_w_key(w, "to");
	lav_w_str(w, lav_regime_name(r->state));
	lav_w_key(w, "score");
	lav_w_double(w, r->score);
	lav_w_key(w, "confidence");
	lav_w_double(w, r->confidence);
	lav_w_key(w, "ts");
	lav_w_time(w, r->ts);
}

static void write_flip_event(struct lav_writer *w, const void *arg)
{
	const struct lav_regime_row *r = arg;
	lav_w_map_begin(w);
	lav_w_key(w, "type");
	lav_w_str(w, "regime.flip");
	write_flip_fields(w, r);
	lav_w_key(w, "updated_at");
	lav_w_time(w, r->computed_at);
	lav_w_map_end(w);
}

/* A JSON value received or remembered, re-encoded for the session. */
static void write_wire_event(struct lav_writer *w, const void *arg)
{
	lav_ws_write_wire_json(w, arg);
}

static json_t *encode_json(event_writer write, const void *arg)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	write(&w, arg);
	json_t *v = json_loadb(b.data, b.len, 0, NULL);
	lav_buf_free(&b);
	return v;
}

/* Newest first, at most max. Takes v. */
static void remember(json_t *ring, json_t *v, size_t max)
{
	json_array_insert_new(ring, 0, v);
	while (json_array_size(ring) > max)
		json_array_remove(ring, json_array_size(ring) - 1);
}

static void write_flip_entry(struct lav_writer *w, const void *arg)
{
	lav_w_map_begin(w);
	write_flip_fields(w, arg);
	lav_w_map_end(w);
}

static void bus_publish(struct lav_ws_hub *h, const char *channel, json_t *msg)
{
	struct lav_redis *r = h->srv->redis;
	if (!r || lav_redis_state(r) != LAV_REDIS_CONNECTED)
		return;
	json_object_set_new(msg, "origin", json_string(lav_store_app_name(h->srv->store)));
	char *text = json_dumps(msg, JSON_COMPACT);
	const char *argv[] = {"PUBLISH", channel, text};
	size_t lens[] = {7, strlen(channel), strlen(text)};
	lav_redis_send(r, 3, argv, lens);
	free(text);
}

void lav_ws_emit_regime(struct lav_ws_hub *h, const struct lav_regime_row *row, bool update)
{
	if (!h)
		return;
	json_t *events = json_array();
	if (row->flip) {
		remember(h->flips, encode_json(write_flip_entry, row), LAV_WS_RECENT_FLIPS);
		struct ws_event ev;
		event_init(h, &ev, write_flip_event, row, LAV_WSM_REGIME_FLIP);
		deliver(&ev, &h->regime);
		ev_release(&ev);
		json_array_append_new(events, encode_json(write_flip_event, row));
	}
	if (update) {
		struct ws_event ev;
		event_init(h, &ev, write_update_event, row, LAV_WSM_REGIME_UPDATE);
		deliver(&ev, &h->regime);
		ev_release(&ev);
		json_array_append_new(events, encode_json(write_update_event, row));
	}
	json_t *msg = json_object();
	json_object_set_new(msg, "events", events);
	bus_publish(h, "lav:regime", msg);
	json_decref(msg);
}

static void deliver_alert(struct lav_ws_hub *h, json_t *alert)
{
	remember(h->alerts, json_incref(alert), LAV_WS_RECENT_ALERTS);
	json_t *ev_json = json_pack("{s:s}", "type", "dq.alert"); /* the type first */
	json_object_update(ev_json, alert);
	struct ws_event ev;
	event_init(h, &ev, write_wire_event, ev_json, LAV_WSM_DQ_ALERT);
	deliver(&ev, &h->dq);
	ev_release(&ev);
	json_decref(ev_json);
}

void lav_ws_emit_dq(struct lav_ws_hub *h, const char *feature_id, const char *entity, int64_t ts,
		    const char *code, const char *message, bool rejected)
{
	if (!h)
		return;
	char at[LAV_TIME_STRLEN];
	if (ts != INT64_MIN)
		lav_time_format(ts, at);
	json_t *alert =
	    json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "featureId", feature_id, "entity", entity,
		      "ts", ts != INT64_MIN ? json_string(at) : json_null(), "code", code,
		      "message", message, "action", rejected ? "rejected" : "flagged");
	if (!alert)
		return; /* not UTF-8: nothing a client could read either */
	deliver_alert(h, alert);
	json_t *msg = json_pack("{s:O}", "alert", alert);
	bus_publish(h, "lav:dq", msg);
	json_decref(msg);
	json_decref(alert);
}

/* ---- events from the other instances ---- */

static void bus_points(struct lav_ws_hub *h, json_t *msg)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(msg, "points"), i, p)
	{
		const char *f = json_string_value(json_object_get(p, "featureId"));
		const char *e = json_string_value(json_object_get(p, "entity"));
		if (!f || !e || !lav_ws_wants_point(h, f, e))
			continue;
		json_t *ev_json = json_pack("{s:s, s:O}", "type", "feature.point", "point", p);
		struct ws_event ev;
		event_init(h, &ev, write_wire_event, ev_json, LAV_WSM_POINT);
		deliver_point(h, &ev, f, e);
		ev_release(&ev);
		json_decref(ev_json);
	}
}

static void bus_regime(struct lav_ws_hub *h, json_t *msg)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(msg, "events"), i, e)
	{
		const char *type = json_string_value(json_object_get(e, "type"));
		bool flip = type && strcmp(type, "regime.flip") == 0;
		if (flip) {
			json_t *entry = json_deep_copy(e);
			json_object_del(entry, "type");
			json_object_del(entry, "updated_at");
			remember(h->flips, entry, LAV_WS_RECENT_FLIPS);
		}
		struct ws_event ev;
		event_init(h, &ev, write_wire_event, e,
			   flip ? LAV_WSM_REGIME_FLIP : LAV_WSM_REGIME_UPDATE);
		deliver(&ev, &h->regime);
		ev_release(&ev);
	}
	/* the leader stored the grid point: take it as the latest here */
	lav_semaforo_refresh(h->srv->semaforo);
}

static void bus_dq(struct lav_ws_hub *h, json_t *msg)
{
	json_t *alert = json_object_get(msg, "alert");
	if (json_is_object(alert))
		deliver_alert(h, alert);
}

static void on_bus(const char *channel, const char *payload, size_t len, void *arg)
{
	struct lav_ws_hub *h = arg;
	json_t *msg = json_loadb(payload, len, 0, NULL);
	if (!json_is_object(msg)) {
		json_decref(msg);
		return;
	}
	const char *origin = json_string_value(json_object_get(msg, "origin"));
	if (!origin || strcmp(origin, lav_store_app_name(h->srv->store)) != 0) {
		if (strcmp(channel, "lav:points") == 0)
			bus_points(h, msg);
		else if (strcmp(channel, "lav:regime") == 0)
			bus_regime(h, msg);
		else if (strcmp(channel, "lav:dq") == 0)
			bus_dq(h, msg);
	}
	json_decref(msg);
}

/* ---- client messages ---- */

static void reply_begin(struct lav_writer *w, struct lav_buf *b, const struct lav_ws_session *s,
			const char *type)
{
	lav_buf_reset(b);
	lav_w_init(w, s->fmt, b);
	lav_w_map_begin(w);
	lav_w_key(w, "type");
	lav_w_str(w, type);
}

static void reply_id(struct lav_writer *w, const json_t *id)
{
	if (id) {
		lav_w_key(w, "id");
		lav_w_json(w, id);
	}
}

static void send_error(struct lav_ws_session *s, const char *code, const char *message,
		       const json_t *id)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	reply_begin(&w, &b, s, "error");
	lav_w_key(&w, "code");
	lav_w_str(&w, code);
	lav_w_key(&w, "message");
	lav_w_str(&w, message);
	reply_id(&w, id);
	lav_w_map_end(&w);
	send_counted(s, &b, LAV_WSM_ERROR);
	lav_buf_free(&b);
}

static void snapshot_regime(struct lav_ws_session *s, struct lav_writer *w)
{
	struct lav_ws_hub *h = s->hub;
	lav_w_key(w, "regime");
	int64_t at;
	const struct lav_regime_point *p = lav_semaforo_latest(h->srv->semaforo, &at);
	if (p)
		lav_api_write_regime(w, p, at, false);
	else
		lav_w_null(w);
	lav_w_key(w, "flips");
	lav_ws_write_wire_json(w, h->flips);
}

static void snapshot_points(struct lav_ws_session *s, struct lav_writer *w, const char *name)
{
	struct lav_server *srv = s->hub->srv;
	struct lav_series_index *ix = lav_store_series(srv->store);
	int64_t now = lav_now_us();
	const char *id = strcmp(name, "feature:*") == 0 ? NULL : name + 8;
	const char *bar = id ? strchr(id, '|') : NULL;
	size_t idlen = id ? (bar ? (size_t)(bar - id) : strlen(id)) : 0;
	lav_w_key(w, "points");
	lav_w_array_begin(w);
	lav_strmap_foreach(&ix->map, i)
	{
		const struct lav_series *ser = ix->map.slots[i].value;
		if (id &&
		    (strlen(ser->feature_id) != idlen || strncmp(ser->feature_id, id, idlen) != 0 ||
		     (bar && strcmp(ser->entity, bar + 1) != 0)))
			continue;
		const struct lav_point *p = lav_series_asof(ser, now);
		if (p)
			lav_write_point(w, ser->feature_id, ser->entity, p, ser->feature->ttl_ms,
					now);
	}
	lav_w_array_end(w);
}

static void send_snapshot(struct lav_ws_session *s, const char *name)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	reply_begin(&w, &b, s, "snapshot");
	lav_w_key(&w, "channel");
	lav_w_str(&w, name);
	if (strcmp(name, "regime") == 0) {
		snapshot_regime(s, &w);
	} else if (strcmp(name, "dq") == 0) {
		lav_w_key(&w, "alerts");
		lav_ws_write_wire_json(&w, s->hub->alerts);
	} else {
		snapshot_points(s, &w, name);
	}
	lav_w_map_end(&w);
	send_counted(s, &b, LAV_WSM_SNAPSHOT);
	lav_buf_free(&b);
}

static void send_channels(struct lav_ws_session *s, const char *type, const json_t *channels,
			  const json_t *id)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	reply_begin(&w, &b, s, type);
	lav_w_key(&w, "channels");
	lav_w_json(&w, channels);
	reply_id(&w, id);
	lav_w_map_end(&w);
	send_counted(s, &b,
		     strcmp(type, "subscribed") == 0 ? LAV_WSM_SUBSCRIBED : LAV_WSM_UNSUBSCRIBED);
	lav_buf_free(&b);
}

/* All channels valid, or an error naming the first bad one. */
static bool check_channels(struct lav_ws_session *s, const json_t *channels, const json_t *id)
{
	size_t i;
	json_t *c;
	json_array_foreach(channels, i, c)
	{
		enum lav_ws_channel_kind kind;
		const char *code;
		char msg[256];
		if (!lav_ws_channel_parse(json_string_value(c), &s->hub->srv->catalog, &kind, &code,
					  msg, sizeof(msg))) {
			send_error(s, code, msg, id);
			return false;
		}
	}
	return true;
}

static void subscribe(struct lav_ws_session *s, const json_t *channels, const json_t *id)
{
	if (!check_channels(s, channels, id))
		return;
	size_t i, fresh = 0;
	json_t *c;
	json_array_foreach(channels, i, c) fresh += !subscribed(s, json_string_value(c));
	if (s->nchannels + fresh > LAV_WS_MAX_CHANNELS) {
		char msg[128];
		snprintf(msg, sizeof(msg), "a connection holds at most %d subscriptions",
			 LAV_WS_MAX_CHANNELS);
		send_error(s, "too_many_channels", msg, id);
		return;
	}
	size_t first = s->nchannels;
	s->channels = lav_xrealloc(s->channels, (s->nchannels + fresh + 1) * sizeof(char *));
	json_array_foreach(channels, i, c)
	{
		const char *name = json_string_value(c);
		if (subscribed(s, name))
			continue;
		s->channels[s->nchannels++] = lav_xstrdup(name);
		subs_add(channel_subs(s->hub, name, true), s);
	}
	send_channels(s, "subscribed", channels, id);
	for (size_t k = first; k < s->nchannels; k++)
		send_snapshot(s, s->channels[k]);
}

static void unsubscribe(struct lav_ws_session *s, const json_t *channels, const json_t *id)
{
	if (!check_channels(s, channels, id))
		return;
	size_t i;
	json_t *c;
	json_array_foreach(channels, i, c)
	{
		const char *name = json_string_value(c);
		for (size_t k = 0; k < s->nchannels; k++) {
			if (strcmp(s->channels[k], name) != 0)
				continue;
			struct lav_ws_subs *l = channel_subs(s->hub, name, false);
			if (l)
				subs_remove(l, s);
			free(s->channels[k]);
			s->channels[k] = s->channels[--s->nchannels];
			break;
		}
	}
	send_channels(s, "unsubscribed", channels, id);
}

void lav_ws_hub_message(struct lav_ws_session *s, const uint8_t *data, size_t len, bool binary)
{
	struct lav_ws_msg m;
	char msg[256];
	if (!lav_ws_msg_parse(data, len, binary, &m, msg, sizeof(msg))) {
		send_error(s, "bad_message", msg, m.id);
		json_decref(m.doc);
		return;
	}
	switch (m.op) {
	case LAV_WS_OP_SUBSCRIBE:
		subscribe(s, m.channels, m.id);
		break;
	case LAV_WS_OP_UNSUBSCRIBE:
		unsubscribe(s, m.channels, m.id);
		break;
	case LAV_WS_OP_PING: {
		struct lav_buf b = LAV_BUF_INIT;
		struct lav_writer w;
		reply_begin(&w, &b, s, "pong");
		reply_id(&w, m.id);
		lav_w_map_end(&w);
		send_counted(s, &b, LAV_WSM_PONG);
		lav_buf_free(&b);
		break;
	}
	}
	json_decref(m.doc);
}

/* ---- life cycle ---- */

static void on_ping_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lav_ws_hub *h = arg;
	(void)fd;
	(void)what;
	int64_t now = lav_monotonic_us();
	int64_t silent = 2 * h->srv->cfg.ws_ping_ms * 1000;
	struct lav_ws_session *s = h->sessions;
	while (s) {
		struct lav_ws_session *next = s->next;
		if (now - s->last_rx_us > silent)
			lav_ws_session_free(s); /* a dead peer: no close handshake */
		else
			lav_ws_session_ping(s);
		s = next;
	}
}

struct lav_ws_hub *lav_ws_hub_new(struct lav_server *srv)
{
	struct lav_ws_hub *h = lav_xcalloc(1, sizeof(*h));
	h->srv = srv;
	lav_strmap_init(&h->by_feature);
	lav_strmap_init(&h->by_series);
	h->flips = json_array();
	h->alerts = json_array();
	return h;
}

bool lav_ws_hub_load(struct lav_ws_hub *h, void *pgconn, char *err, size_t errlen)
{
	PGresult *r = PQexec(pgconn, LAV_REGIME_FLIPS_SQL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "regime_history flips: %s", PQresultErrorMessage(r));
		PQclear(r);
		return false;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct lav_regime_row row;
		if (lav_regime_row_parse(r, i, &row))
			json_array_append_new(h->flips, encode_json(write_flip_entry, &row));
	}
	PQclear(r);
	return true;
}

void lav_ws_hub_start(struct lav_ws_hub *h)
{
	struct lav_server *srv = h->srv;
	h->ping_timer = event_new(srv->base, -1, EV_PERSIST, on_ping_timer, h);
	struct timeval tv = {(time_t)(srv->cfg.ws_ping_ms / 1000),
			     (suseconds_t)(srv->cfg.ws_ping_ms % 1000) * 1000};
	event_add(h->ping_timer, &tv);
	if (srv->cfg.redis_url) {
		h->bus = lav_redis_new(srv->base, srv->cfg.redis_host, srv->cfg.redis_port,
				       srv->cfg.redis_db, &srv->log);
		lav_redis_subscribe(h->bus, BUS_CHANNELS,
				    sizeof(BUS_CHANNELS) / sizeof(BUS_CHANNELS[0]), on_bus, h);
	}
}

void lav_ws_drain(struct lav_ws_hub *h)
{
	if (!h)
		return;
	for (struct lav_ws_session *s = h->sessions; s; s = s->next)
		lav_ws_session_close(s, WSLAY_CODE_GOING_AWAY, "lavd is shutting down");
}

static void free_subs_map(struct lav_strmap *m)
{
	lav_strmap_foreach(m, i)
	{
		struct lav_ws_subs *l = m->slots[i].value;
		free(l->v);
		free(l);
	}
	lav_strmap_free(m);
}

void lav_ws_hub_free(struct lav_ws_hub *h)
{
	if (!h)
		return;
	while (h->sessions)
		lav_ws_session_free(h->sessions);
	if (h->ping_timer)
		event_free(h->ping_timer);
	lav_redis_free(h->bus);
	free(h->regime.v);
	free(h->dq.v);
	free(h->all_features.v);
	free_subs_map(&h->by_feature);
	free_subs_map(&h->by_series);
	lav_buf_free(&h->frame);
	json_decref(h->flips);
	json_decref(h->alerts);
	free(h);
}

void lav_ws_hub_counts(const struct lav_ws_hub *h, size_t *sessions, size_t *subscriptions)
{
	*sessions = *subscriptions = 0;
	if (!h)
		return;
	*sessions = h->nsessions;
	for (const struct lav_ws_session *s = h->sessions; s; s = s->next)
		*subscriptions += s->nchannels;
}
