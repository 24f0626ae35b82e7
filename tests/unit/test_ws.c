/* The pure side of the WebSocket push (proto/websocket.md): the opening
 * handshake, channel names, client messages, the per-connection seq spliced
 * into a frame, the re-encoding of events from other instances and the UTF-8
 * check of text frames. MessagePack output is checked with msgpack-c's own
 * unpacker and JSON output is parsed back with jansson. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/catalog.h"
#include "lav/codec.h"
#include "lav/http.h"
#include "lav/ws.h"

/* ---- helpers ---- */

static bool str_is(const msgpack_object *o, const char *s)
{
	return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Exactly one MessagePack value filling the whole buffer. */
static void unpack_one(const struct lav_buf *b, msgpack_unpacked *u)
{
	msgpack_unpacked_init(u);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(u, b->data, b->len, &off);
	cr_assert_eq(r, MSGPACK_UNPACK_SUCCESS, "msgpack_unpack_next returned %d", (int)r);
	cr_assert_eq(off, b->len, "msgpack value is %zu bytes but the buffer holds %zu", off,
		     b->len);
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key)
{
	cr_assert_eq(m->type, MSGPACK_OBJECT_MAP);
	for (uint32_t i = 0; i < m->via.map.size; i++)
		if (str_is(&m->via.map.ptr[i].key, key))
			return &m->via.map.ptr[i].val;
	return NULL;
}

static json_t *parse_json(const struct lav_buf *b)
{
	json_error_t je;
	json_t *v = json_loadb(b->data, b->len, 0, &je);
	cr_assert_not_null(v, "not JSON (%s at %d:%d): %.*s", je.text, je.line, je.column,
			   (int)(b->len > 300 ? 300 : b->len), b->data);
	return v;
}

/* ---- requests ---- */

#define MAXH 16

struct req {
	struct lav_request r;
	struct lav_header h[MAXH];
};

/* A request with the headers every good handshake carries; names are
 * lowercased as the parser leaves them. */
static void req_init(struct req *q)
{
	memset(q, 0, sizeof(*q));
	q->r.method = HTTP_GET;
	q->r.target = (char *)"/ws";
	q->r.path = (char *)"/ws";
	q->r.headers = q->h;
}

static void req_add(struct req *q, const char *name, const char *value)
{
	cr_assert_lt(q->r.nheaders, MAXH);
	q->h[q->r.nheaders].name = (char *)name;
	q->h[q->r.nheaders].value = (char *)value;
	q->r.nheaders++;
}

#define RFC_KEY	   "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void req_good(struct req *q, const char *key)
{
	req_init(q);
	req_add(q, "host", "127.0.0.1:8080");
	req_add(q, "upgrade", "websocket");
	req_add(q, "connection", "Upgrade");
	if (key)
		req_add(q, "sec-websocket-key", key);
	req_add(q, "sec-websocket-version", "13");
}

struct hs {
	bool ok;
	struct lav_ws_accept acc;
	int status;
	const char *code;
	const char *extra;
	char msg[256];
};

static void handshake(const struct req *q, struct hs *h)
{
	memset(h, 0, sizeof(*h));
	h->status = -1;
	h->code = "unset";
	h->extra = "unset";
	h->ok = lav_ws_handshake(&q->r, &h->acc, &h->status, &h->code, &h->extra, h->msg,
				 sizeof(h->msg));
}

static void expect_ok(const struct hs *h)
{
	cr_assert(h->ok, "handshake refused: %d %s: %s", h->status, h->code, h->msg);
	cr_assert_str_eq(h->acc.accept, RFC_ACCEPT);
}

static void expect_refused(const struct hs *h, int status, const char *code)
{
	cr_assert_not(h->ok, "handshake accepted");
	cr_assert_eq(h->status, status, "status %d, want %d (%s)", h->status, status, h->msg);
	cr_assert_str_eq(h->code, code);
	cr_assert_gt(strlen(h->msg), 0, "no message");
}

/* ---- accept key ---- */

Test(ws_accept, rfc6455_example)
{
	char out[32];
	memset(out, 'x', sizeof(out));
	lav_ws_accept_key(RFC_KEY, strlen(RFC_KEY), out);
	cr_assert_str_eq(out, RFC_ACCEPT);
	cr_assert_eq(strlen(out), 28);
}

Test(ws_accept, uses_only_len_bytes)
{
	char out[32];
	const char longer[] = RFC_KEY "trailing garbage";
	lav_ws_accept_key(longer, strlen(RFC_KEY), out);
	cr_assert_str_eq(out, RFC_ACCEPT);
}

/* ---- handshake ---- */

Test(ws_handshake, no_subprotocol_is_json)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_JSON);
	cr_assert_null(h.acc.protocol);
	cr_assert_null(h.extra);
}

Test(ws_handshake, msgpack_subprotocol)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "lav.msgpack.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_MSGPACK);
	cr_assert_not_null(h.acc.protocol);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_MSGPACK);
}

Test(ws_handshake, json_subprotocol_explicit)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "lav.json.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_JSON);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_JSON);
}

Test(ws_handshake, unknown_then_json_picks_json)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "foo, lav.json.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_JSON);
	cr_assert_not_null(h.acc.protocol);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_JSON);
}

Test(ws_handshake, first_lav_protocol_in_client_order)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "lav.msgpack.v1, lav.json.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_MSGPACK);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_MSGPACK);
}

Test(ws_handshake, two_protocol_headers)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "chat, superchat");
	req_add(&q, "sec-websocket-protocol", "lav.msgpack.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_MSGPACK);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_MSGPACK);
}

Test(ws_handshake, two_protocol_headers_first_wins)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "lav.json.v1");
	req_add(&q, "sec-websocket-protocol", "lav.msgpack.v1");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_JSON);
	cr_assert_str_eq(h.acc.protocol, LAV_WS_PROTO_JSON);
}

Test(ws_handshake, only_unknown_protocols)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	req_add(&q, "sec-websocket-protocol", "chat, lav.json.v2");
	req_add(&q, "sec-websocket-protocol", "superchat");
	handshake(&q, &h);
	expect_refused(&h, 400, "bad_request");
	cr_assert_null(h.extra);
	cr_assert_not_null(strstr(h.msg, "Sec-WebSocket-Protocol"), "%s", h.msg);
}

Test(ws_handshake, missing_upgrade)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "connection", "Upgrade");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "13");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(h.extra);
	cr_assert_not_null(strstr(h.extra, "Upgrade: websocket\r\n"), "%s", h.extra);
}

Test(ws_handshake, upgrade_not_websocket)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "h2c");
	req_add(&q, "connection", "Upgrade");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "13");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(strstr(h.extra, "Upgrade: websocket\r\n"), "%s", h.extra);
}

Test(ws_handshake, missing_connection)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "websocket");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "13");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(strstr(h.extra, "Upgrade: websocket\r\n"), "%s", h.extra);
}

Test(ws_handshake, plain_get)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "host", "127.0.0.1:8080");
	req_add(&q, "connection", "keep-alive");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(strstr(h.extra, "Upgrade: websocket\r\n"), "%s", h.extra);
}

Test(ws_handshake, connection_list_with_upgrade)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "WebSocket");
	req_add(&q, "connection", "keep-alive, Upgrade");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "13");
	handshake(&q, &h);
	expect_ok(&h);
	cr_assert_eq(h.acc.fmt, LAV_FMT_JSON);
}

Test(ws_handshake, connection_token_is_whole_word)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "websocket");
	req_add(&q, "connection", "keep-alive, upgrades");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "13");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
}

Test(ws_handshake, version_12)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "websocket");
	req_add(&q, "connection", "Upgrade");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	req_add(&q, "sec-websocket-version", "12");
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(h.extra);
	cr_assert_not_null(strstr(h.extra, "Sec-WebSocket-Version: 13\r\n"), "%s", h.extra);
}

Test(ws_handshake, version_missing)
{
	struct req q;
	struct hs h;
	req_init(&q);
	req_add(&q, "upgrade", "websocket");
	req_add(&q, "connection", "Upgrade");
	req_add(&q, "sec-websocket-key", RFC_KEY);
	handshake(&q, &h);
	expect_refused(&h, 426, "upgrade_required");
	cr_assert_not_null(h.extra);
	cr_assert_not_null(strstr(h.extra, "Sec-WebSocket-Version: 13\r\n"), "%s", h.extra);
}

static void expect_bad_key(const char *key)
{
	struct req q;
	struct hs h;
	req_good(&q, key);
	handshake(&q, &h);
	expect_refused(&h, 400, "bad_request");
	cr_assert_null(h.extra);
	cr_assert_not_null(strstr(h.msg, "Sec-WebSocket-Key"), "%s", h.msg);
}

Test(ws_handshake, key_missing)
{
	expect_bad_key(NULL);
}

Test(ws_handshake, key_23_chars)
{
	expect_bad_key("dGhlIHNhbXBsZSBub25jZQ=");
}

Test(ws_handshake, key_25_chars)
{
	expect_bad_key("dGhlIHNhbXBsZSBub25jZQ===");
}

Test(ws_handshake, key_empty)
{
	expect_bad_key("");
}

Test(ws_handshake, key_invalid_char)
{
	expect_bad_key("dGhlIHNhbXBsZSBub25j*Q==");
}

Test(ws_handshake, key_padding_in_the_middle)
{
	expect_bad_key("dGhlIHNhbX=sZSBub25jZQ==");
}

Test(ws_handshake, key_last_symbol_low_bits)
{
	/* 'R' is 17: its low 4 bits would be an 17th byte */
	expect_bad_key("dGhlIHNhbXBsZSBub25jZR==");
}

Test(ws_handshake, key_last_symbols_with_clear_low_bits)
{
	/* A, Q, g, w are the only symbols allowed before "==" */
	const char *keys[] = {"AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAQ==",
			      "AAAAAAAAAAAAAAAAAAAAAg==", "AAAAAAAAAAAAAAAAAAAAAw=="};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct req q;
		struct hs h;
		req_good(&q, keys[i]);
		handshake(&q, &h);
		cr_assert(h.ok, "key %s refused: %s", keys[i], h.msg);
		char want[32];
		lav_ws_accept_key(keys[i], strlen(keys[i]), want);
		cr_assert_str_eq(h.acc.accept, want);
	}
}

Test(ws_handshake, body_present)
{
	struct req q;
	struct hs h;
	req_good(&q, RFC_KEY);
	char body[] = "{}";
	q.r.body.data = body;
	q.r.body.len = 2;
	q.r.body.cap = sizeof(body);
	handshake(&q, &h);
	expect_refused(&h, 400, "bad_request");
	cr_assert_null(h.extra);
}

/* ---- channels ---- */

static struct lav_feature feats[] = {
    {.id = (char *)"crypto/btc/price_usd"},
    {.id = (char *)"macro/us/walcl_total_usd"},
};
static const struct lav_catalog cat = {.features = feats,
				       .nfeatures = sizeof(feats) / sizeof(feats[0])};

struct chres {
	bool ok;
	enum lav_ws_channel_kind kind;
	const char *code;
	char msg[256];
};

static struct chres channel(const char *name)
{
	struct chres c;
	memset(&c, 0, sizeof(c));
	c.kind = (enum lav_ws_channel_kind)99;
	c.code = NULL;
	c.ok = lav_ws_channel_parse(name, &cat, &c.kind, &c.code, c.msg, sizeof(c.msg));
	return c;
}

static void expect_channel(const char *name, enum lav_ws_channel_kind kind)
{
	struct chres c = channel(name);
	cr_assert(c.ok, "channel \"%s\" refused: %s %s", name, c.code ? c.code : "?", c.msg);
	cr_assert_eq(c.kind, kind, "channel \"%s\": kind %d, want %d", name, (int)c.kind,
		     (int)kind);
}

static void expect_channel_error(const char *name, const char *code)
{
	struct chres c = channel(name);
	cr_assert_not(c.ok, "channel \"%s\" accepted (kind %d)", name, (int)c.kind);
	cr_assert_not_null(c.code, "channel \"%s\": no code", name);
	cr_assert_str_eq(c.code, code, "channel \"%s\": code %s, want %s", name, c.code, code);
	cr_assert_gt(strlen(c.msg), 0);
}

Test(ws_channel, regime)
{
	expect_channel("regime", LAV_WS_CH_REGIME);
}

Test(ws_channel, dq)
{
	expect_channel("dq", LAV_WS_CH_DQ);
}

Test(ws_channel, all_features)
{
	expect_channel("feature:*", LAV_WS_CH_ALL_FEATURES);
}

Test(ws_channel, feature)
{
	expect_channel("feature:macro/us/walcl_total_usd", LAV_WS_CH_FEATURE);
	expect_channel("feature:crypto/btc/price_usd", LAV_WS_CH_FEATURE);
}

Test(ws_channel, series)
{
	expect_channel("feature:crypto/btc/price_usd|binance", LAV_WS_CH_SERIES);
}

Test(ws_channel, series_empty_entity)
{
	expect_channel("feature:macro/us/walcl_total_usd|", LAV_WS_CH_SERIES);
}

Test(ws_channel, series_entity_of_64_bytes)
{
	char name[200];
	char ent[65];
	memset(ent, 'e', 64);
	ent[64] = '\0';
	snprintf(name, sizeof(name), "feature:crypto/btc/price_usd|%s", ent);
	expect_channel(name, LAV_WS_CH_SERIES);
}

Test(ws_channel, unknown_feature)
{
	expect_channel_error("feature:macro/us/nothing", "unknown_feature");
	struct chres c = channel("feature:macro/us/nothing");
	cr_assert_not_null(strstr(c.msg, "macro/us/nothing"), "%s", c.msg);
}

Test(ws_channel, unknown_feature_with_entity)
{
	expect_channel_error("feature:macro/us/nothing|x", "unknown_feature");
}

Test(ws_channel, feature_id_prefix_is_not_a_match)
{
	expect_channel_error("feature:macro/us/walcl", "unknown_feature");
	expect_channel_error("feature:macro/us/walcl_total_usd_x", "unknown_feature");
}

Test(ws_channel, weather)
{
	expect_channel_error("weather", "bad_channel");
	struct chres c = channel("weather");
	cr_assert_not_null(strstr(c.msg, "weather"), "%s", c.msg);
}

Test(ws_channel, empty_name)
{
	expect_channel_error("", "bad_channel");
}

Test(ws_channel, feature_colon_only)
{
	expect_channel_error("feature:", "bad_channel");
}

Test(ws_channel, feature_empty_id_with_entity)
{
	expect_channel_error("feature:|x", "bad_channel");
}

Test(ws_channel, entity_longer_than_64)
{
	char name[200];
	char ent[66];
	memset(ent, 'e', 65);
	ent[65] = '\0';
	snprintf(name, sizeof(name), "feature:crypto/btc/price_usd|%s", ent);
	expect_channel_error(name, "bad_channel");
}

Test(ws_channel, very_long_unknown_id)
{
	char name[600];
	memcpy(name, "feature:", 8);
	memset(name + 8, 'a', 500);
	name[508] = '\0';
	expect_channel_error(name, "unknown_feature");
}

Test(ws_channel, case_sensitive)
{
	expect_channel_error("Regime", "bad_channel");
	expect_channel_error("DQ", "bad_channel");
}

/* ---- client messages ---- */

struct msgres {
	bool ok;
	struct lav_ws_msg m;
	char msg[256];
};

static void parse_text(const char *text, struct msgres *r)
{
	memset(r, 0, sizeof(*r));
	r->ok = lav_ws_msg_parse(text, strlen(text), false, &r->m, r->msg, sizeof(r->msg));
}

static void expect_msg_ok(const struct msgres *r)
{
	cr_assert(r->ok, "refused: %s", r->msg);
	cr_assert_not_null(r->m.doc);
}

static void expect_msg_bad(const char *text)
{
	struct msgres r;
	parse_text(text, &r);
	cr_assert_not(r.ok, "%s accepted", text);
	cr_assert_gt(strlen(r.msg), 0, "%s: no message", text);
	json_decref(r.m.doc); /* the decoded message, kept so the error can echo its id */
}

static void expect_channels(const struct lav_ws_msg *m, const char *const *names, size_t n)
{
	cr_assert_not_null(m->channels);
	cr_assert(json_is_array(m->channels));
	cr_assert_eq(json_array_size(m->channels), n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(json_string_value(json_array_get(m->channels, i)), names[i]);
}

Test(ws_msg, subscribe_with_number_id)
{
	struct msgres r;
	parse_text("{\"op\": \"subscribe\", \"channels\": [\"regime\", "
		   "\"feature:macro/us/walcl_total_usd\", \"dq\"], \"id\": 7}",
		   &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_SUBSCRIBE);
	const char *names[] = {"regime", "feature:macro/us/walcl_total_usd", "dq"};
	expect_channels(&r.m, names, 3);
	cr_assert_not_null(r.m.id);
	cr_assert(json_is_integer(r.m.id));
	cr_assert_eq(json_integer_value(r.m.id), 7);
	json_decref(r.m.doc);
}

Test(ws_msg, unsubscribe_without_id)
{
	struct msgres r;
	parse_text("{\"op\": \"unsubscribe\", \"channels\": [\"dq\"]}", &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_UNSUBSCRIBE);
	const char *names[] = {"dq"};
	expect_channels(&r.m, names, 1);
	cr_assert_null(r.m.id);
	json_decref(r.m.doc);
}

Test(ws_msg, unsubscribe_with_string_id)
{
	struct msgres r;
	parse_text("{\"id\": \"u1\", \"op\": \"unsubscribe\", \"channels\": [\"dq\", \"regime\"]}",
		   &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_UNSUBSCRIBE);
	cr_assert_str_eq(json_string_value(r.m.id), "u1");
	json_decref(r.m.doc);
}

Test(ws_msg, ping_with_string_id)
{
	struct msgres r;
	parse_text("{\"op\": \"ping\", \"id\": \"anything\"}", &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_PING);
	cr_assert_not_null(r.m.id);
	cr_assert(json_is_string(r.m.id));
	cr_assert_str_eq(json_string_value(r.m.id), "anything");
	json_decref(r.m.doc);
}

Test(ws_msg, ping_with_number_id)
{
	struct msgres r;
	parse_text("{\"op\":\"ping\",\"id\":42}", &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_PING);
	cr_assert_eq(json_integer_value(r.m.id), 42);
	json_decref(r.m.doc);
}

Test(ws_msg, ping_needs_no_channels)
{
	struct msgres r;
	parse_text("{\"op\":\"ping\"}", &r);
	expect_msg_ok(&r);
	cr_assert_eq(r.m.op, LAV_WS_OP_PING);
	cr_assert_null(r.m.id);
	json_decref(r.m.doc);
}

Test(ws_msg, msgpack_subscribe)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "op");
	lav_w_str(&w, "subscribe");
	lav_w_key(&w, "channels");
	lav_w_array_begin(&w);
	lav_w_str(&w, "regime");
	lav_w_str(&w, "feature:*");
	lav_w_array_end(&w);
	lav_w_key(&w, "id");
	lav_w_int(&w, 9);
	lav_w_map_end(&w);
	cr_assert_not(w.overflow);

	struct lav_ws_msg m;
	char msg[256] = "";
	bool ok = lav_ws_msg_parse(b.data, b.len, true, &m, msg, sizeof(msg));
	lav_buf_free(&b);
	cr_assert(ok, "refused: %s", msg);
	cr_assert_eq(m.op, LAV_WS_OP_SUBSCRIBE);
	const char *names[] = {"regime", "feature:*"};
	expect_channels(&m, names, 2);
	cr_assert_eq(json_integer_value(m.id), 9);
	json_decref(m.doc);
}

Test(ws_msg, msgpack_ping_bytes_from_the_spec)
{
	static const unsigned char ping[] = {0x81, 0xa2, 0x6f, 0x70, 0xa4, 0x70, 0x69, 0x6e, 0x67};
	struct lav_ws_msg m;
	char msg[256] = "";
	bool ok = lav_ws_msg_parse(ping, sizeof(ping), true, &m, msg, sizeof(msg));
	cr_assert(ok, "refused: %s", msg);
	cr_assert_eq(m.op, LAV_WS_OP_PING);
	cr_assert_null(m.id);
	json_decref(m.doc);
}

Test(ws_msg, json_in_a_binary_frame_is_refused)
{
	const char *text = "{\"op\":\"ping\"}";
	struct lav_ws_msg m;
	char msg[256] = "";
	bool ok = lav_ws_msg_parse(text, strlen(text), true, &m, msg, sizeof(msg));
	cr_assert_not(ok);
	cr_assert_null(m.doc);
	cr_assert_not_null(strstr(msg, "MessagePack"), "%s", msg);
}

Test(ws_msg, not_json)
{
	struct msgres r;
	parse_text("hello", &r);
	cr_assert_not(r.ok);
	cr_assert_null(r.m.doc);
	cr_assert_not_null(strstr(r.msg, "JSON"), "%s", r.msg);
	json_decref(r.m.doc);
}

Test(ws_msg, truncated_json)
{
	expect_msg_bad("{\"op\":\"ping\"");
}

Test(ws_msg, empty_text)
{
	expect_msg_bad("");
}

Test(ws_msg, json_array)
{
	expect_msg_bad("[{\"op\":\"ping\"}]");
}

Test(ws_msg, json_scalar)
{
	expect_msg_bad("\"ping\"");
}

Test(ws_msg, missing_op)
{
	expect_msg_bad("{\"channels\":[\"regime\"],\"id\":1}");
	struct msgres r;
	parse_text("{\"channels\":[\"regime\"]}", &r);
	cr_assert_not_null(strstr(r.msg, "op"), "%s", r.msg);
	json_decref(r.m.doc);
}

Test(ws_msg, op_not_a_string)
{
	expect_msg_bad("{\"op\":1,\"channels\":[\"regime\"]}");
}

Test(ws_msg, unknown_op)
{
	expect_msg_bad("{\"op\":\"dance\",\"channels\":[\"regime\"]}");
	struct msgres r;
	parse_text("{\"op\":\"dance\"}", &r);
	cr_assert_not_null(strstr(r.msg, "dance"), "%s", r.msg);
	json_decref(r.m.doc);
}

Test(ws_msg, op_is_case_sensitive)
{
	expect_msg_bad("{\"op\":\"Subscribe\",\"channels\":[\"regime\"]}");
}

Test(ws_msg, channels_missing)
{
	expect_msg_bad("{\"op\":\"subscribe\"}");
	expect_msg_bad("{\"op\":\"unsubscribe\",\"id\":3}");
	struct msgres r;
	parse_text("{\"op\":\"subscribe\"}", &r);
	cr_assert_not_null(strstr(r.msg, "channels"), "%s", r.msg);
	json_decref(r.m.doc);
}

Test(ws_msg, channels_empty)
{
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":[]}");
	expect_msg_bad("{\"op\":\"unsubscribe\",\"channels\":[]}");
}

Test(ws_msg, channels_not_strings)
{
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":[1]}");
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":[\"regime\",null]}");
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":[[\"regime\"]]}");
}

Test(ws_msg, channels_not_an_array)
{
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":\"regime\"}");
	expect_msg_bad("{\"op\":\"subscribe\",\"channels\":{\"regime\":true}}");
}

Test(ws_msg, bad_msgpack)
{
	static const unsigned char junk[] = {0xc1, 0x00};
	struct lav_ws_msg m;
	char msg[256] = "";
	cr_assert_not(lav_ws_msg_parse(junk, sizeof(junk), true, &m, msg, sizeof(msg)));
	cr_assert_null(m.doc);
	cr_assert_gt(strlen(msg), 0);
}

Test(ws_msg, a_refused_message_keeps_its_id_for_the_error)
{
	struct msgres r;
	parse_text("{\"op\":\"dance\",\"id\":\"x\"}", &r);
	cr_assert_not(r.ok);
	cr_assert_not_null(r.m.doc);
	cr_assert_str_eq(json_string_value(r.m.id), "x");
	json_decref(r.m.doc);
}

/* ---- frames: JSON ---- */

static void frame_json(const char *body, uint64_t seq, struct lav_buf *out)
{
	struct lav_buf b = LAV_BUF_INIT;
	lav_buf_puts(&b, body);
	lav_ws_frame(out, LAV_FMT_JSON, seq, &b);
	lav_buf_free(&b);
}

Test(ws_frame_json, empty_body)
{
	struct lav_buf out = LAV_BUF_INIT;
	frame_json("{}", 1, &out);
	cr_assert_str_eq(lav_buf_cstr(&out), "{\"seq\":1}");
	lav_buf_free(&out);
}

Test(ws_frame_json, body_with_keys)
{
	struct lav_buf body = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &body);
	lav_w_map_begin(&w);
	lav_w_key(&w, "type");
	lav_w_str(&w, "subscribed");
	lav_w_key(&w, "channels");
	lav_w_array_begin(&w);
	lav_w_str(&w, "regime");
	lav_w_str(&w, "dq");
	lav_w_array_end(&w);
	lav_w_key(&w, "id");
	lav_w_int(&w, 7);
	lav_w_map_end(&w);

	struct lav_buf out = LAV_BUF_INIT;
	lav_buf_printf(&out, "stale bytes that the frame must drop");
	lav_ws_frame(&out, LAV_FMT_JSON, 12345, &body);
	const char *s = lav_buf_cstr(&out);
	cr_assert(strncmp(s, "{\"seq\":12345,", 13) == 0, "%s", s);

	json_t *v = parse_json(&out);
	cr_assert(json_is_object(v));
	cr_assert_eq(json_object_size(v), 4);
	cr_assert_eq(json_integer_value(json_object_get(v, "seq")), 12345);
	cr_assert_str_eq(json_string_value(json_object_get(v, "type")), "subscribed");
	json_t *ch = json_object_get(v, "channels");
	cr_assert_eq(json_array_size(ch), 2);
	cr_assert_str_eq(json_string_value(json_array_get(ch, 1)), "dq");
	cr_assert_eq(json_integer_value(json_object_get(v, "id")), 7);

	/* seq first, then the body's keys in order */
	json_t *ordered = json_loadb(out.data, out.len, JSON_PRESERVE_ORDER, NULL);
	cr_assert_not_null(ordered);
	const char *want[] = {"seq", "type", "channels", "id"};
	size_t i = 0;
	const char *key;
	json_t *val;
	json_object_foreach(ordered, key, val)
	{
		cr_assert_lt(i, 4);
		cr_assert_str_eq(key, want[i], "key %zu is %s, want %s", i, key, want[i]);
		i++;
	}
	json_decref(ordered);
	json_decref(v);
	lav_buf_free(&out);
	lav_buf_free(&body);
}

Test(ws_frame_json, large_seq)
{
	struct lav_buf out = LAV_BUF_INIT;
	frame_json("{\"type\":\"pong\"}", UINT64_MAX, &out);
	cr_assert_str_eq(lav_buf_cstr(&out), "{\"seq\":18446744073709551615,\"type\":\"pong\"}");
	lav_buf_free(&out);
}

Test(ws_frame_json, body_is_not_modified)
{
	struct lav_buf body = LAV_BUF_INIT;
	lav_buf_puts(&body, "{\"type\":\"x\"}");
	struct lav_buf a = LAV_BUF_INIT, b = LAV_BUF_INIT;
	lav_ws_frame(&a, LAV_FMT_JSON, 1, &body);
	lav_ws_frame(&b, LAV_FMT_JSON, 2, &body);
	cr_assert_str_eq(lav_buf_cstr(&body), "{\"type\":\"x\"}");
	cr_assert_str_eq(lav_buf_cstr(&a), "{\"seq\":1,\"type\":\"x\"}");
	cr_assert_str_eq(lav_buf_cstr(&b), "{\"seq\":2,\"type\":\"x\"}");
	lav_buf_free(&a);
	lav_buf_free(&b);
	lav_buf_free(&body);
}

/* ---- frames: MessagePack ---- */

/* A body of n keys k0..k{n-1}; key i holds i (even i) or "v<i>" (odd i). */
static void body_msgpack(struct lav_buf *b, unsigned n)
{
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, b);
	lav_w_map_begin(&w);
	for (unsigned i = 0; i < n; i++) {
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%u", i);
		lav_w_key(&w, k);
		if (i % 2 == 0) {
			lav_w_int(&w, i);
		} else {
			snprintf(v, sizeof(v), "v%u", i);
			lav_w_str(&w, v);
		}
	}
	lav_w_map_end(&w);
	cr_assert_not(w.overflow);
}

static void check_msgpack_frame(unsigned n, uint64_t seq)
{
	struct lav_buf body = LAV_BUF_INIT, out = LAV_BUF_INIT;
	body_msgpack(&body, n);
	lav_ws_frame(&out, LAV_FMT_MSGPACK, seq, &body);

	/* the smallest map header for n + 1 keys */
	const unsigned char *o = (const unsigned char *)out.data;
	if (n + 1 <= 15)
		cr_assert_eq(o[0], 0x80 | (n + 1), "n=%u: header 0x%02x", n, o[0]);
	else
		cr_assert(o[0] == 0xde && o[1] == 0 && o[2] == n + 1, "n=%u: header %02x %02x %02x",
			  n, o[0], o[1], o[2]);

	msgpack_unpacked u;
	unpack_one(&out, &u);
	const msgpack_object *m = &u.data;
	cr_assert_eq(m->type, MSGPACK_OBJECT_MAP, "n=%u: not a map", n);
	cr_assert_eq(m->via.map.size, n + 1, "n=%u seq=%llu: %u keys", n, (unsigned long long)seq,
		     m->via.map.size);
	cr_assert(str_is(&m->via.map.ptr[0].key, "seq"), "n=%u: first key is not seq", n);
	const msgpack_object *s = &m->via.map.ptr[0].val;
	cr_assert_eq(s->type, MSGPACK_OBJECT_POSITIVE_INTEGER, "n=%u: seq type %d", n,
		     (int)s->type);
	cr_assert_eq(s->via.u64, seq, "n=%u: seq %llu, want %llu", n,
		     (unsigned long long)s->via.u64, (unsigned long long)seq);
	for (unsigned i = 0; i < n; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i + 1];
		char k[16], v[16];
		snprintf(k, sizeof(k), "k%u", i);
		cr_assert(str_is(&kv->key, k), "n=%u: key %u is not %s", n, i + 1, k);
		if (i % 2 == 0) {
			cr_assert_eq(kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
			cr_assert_eq(kv->val.via.u64, i);
		} else {
			snprintf(v, sizeof(v), "v%u", i);
			cr_assert(str_is(&kv->val, v), "n=%u: value of %s is not %s", n, k, v);
		}
	}
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&out);
	lav_buf_free(&body);
}

static const unsigned frame_sizes[] = {0, 1, 14, 15, 16, 17};
static const uint64_t frame_seqs[] = {1, 127, 128, 255, 65536, 0xffffffffu, 1ull << 32, UINT64_MAX};

Test(ws_frame_msgpack, sizes_and_seqs)
{
	for (size_t i = 0; i < sizeof(frame_sizes) / sizeof(frame_sizes[0]); i++)
		for (size_t j = 0; j < sizeof(frame_seqs) / sizeof(frame_seqs[0]); j++)
			check_msgpack_frame(frame_sizes[i], frame_seqs[j]);
}

Test(ws_frame_msgpack, empty_body_seq_1)
{
	struct lav_buf body = LAV_BUF_INIT, out = LAV_BUF_INIT;
	body_msgpack(&body, 0);
	cr_assert_eq(body.len, 1);
	lav_ws_frame(&out, LAV_FMT_MSGPACK, 1, &body);
	static const unsigned char want[] = {0x81, 0xa3, 's', 'e', 'q', 0x01};
	cr_assert_eq(out.len, sizeof(want));
	cr_assert_arr_eq(out.data, want, sizeof(want));
	lav_buf_free(&out);
	lav_buf_free(&body);
}

Test(ws_frame_msgpack, fixmap_15_becomes_map16)
{
	/* 15 keys fit a fixmap; with seq the frame needs map16 */
	check_msgpack_frame(15, 1);
	check_msgpack_frame(15, 1ull << 32);
}

Test(ws_frame_msgpack, map16_body)
{
	check_msgpack_frame(16, 127);
	check_msgpack_frame(16, 128);
}

Test(ws_frame_msgpack, large_map16_body)
{
	/* 300 keys: map16 with a two-byte count */
	struct lav_buf body = LAV_BUF_INIT, out = LAV_BUF_INIT;
	body_msgpack(&body, 300);
	lav_ws_frame(&out, LAV_FMT_MSGPACK, 5, &body);
	const unsigned char *o = (const unsigned char *)out.data;
	cr_assert(o[0] == 0xde && o[1] == 0x01 && o[2] == 0x2d, "%02x %02x %02x", o[0], o[1], o[2]);
	msgpack_unpacked u;
	unpack_one(&out, &u);
	cr_assert_eq(u.data.via.map.size, 301);
	cr_assert(str_is(&u.data.via.map.ptr[0].key, "seq"));
	cr_assert_eq(u.data.via.map.ptr[0].val.via.u64, 5);
	cr_assert(str_is(&u.data.via.map.ptr[300].key, "k299"));
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&out);
	lav_buf_free(&body);
}

Test(ws_frame_msgpack, nested_maps_untouched)
{
	struct lav_buf body = LAV_BUF_INIT, out = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &body);
	lav_w_map_begin(&w);
	lav_w_key(&w, "type");
	lav_w_str(&w, "feature.point");
	lav_w_key(&w, "point");
	lav_w_map_begin(&w);
	lav_w_key(&w, "value");
	lav_w_double(&w, 6.61e12);
	lav_w_key(&w, "ts");
	lav_w_time(&w, 1767225600000000);
	lav_w_map_end(&w);
	lav_w_map_end(&w);
	lav_ws_frame(&out, LAV_FMT_MSGPACK, 9, &body);
	msgpack_unpacked u;
	unpack_one(&out, &u);
	cr_assert_eq(u.data.via.map.size, 3);
	cr_assert_eq(map_get(&u.data, "seq")->via.u64, 9);
	cr_assert(str_is(map_get(&u.data, "type"), "feature.point"));
	const msgpack_object *p = map_get(&u.data, "point");
	cr_assert_not_null(p);
	cr_assert_eq(p->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(p->via.map.size, 2);
	cr_assert_float_eq(map_get(p, "value")->via.f64, 6.61e12, 1);
	cr_assert_eq(map_get(p, "ts")->type, MSGPACK_OBJECT_EXT);
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&out);
	lav_buf_free(&body);
}

/* ---- events from other instances ---- */

static void expect_timestamp(const msgpack_object *o, int64_t sec, uint32_t nsec, const char *what)
{
	cr_assert_not_null(o, "%s: missing", what);
	cr_assert_eq(o->type, MSGPACK_OBJECT_EXT, "%s: type %d, not ext", what, (int)o->type);
	cr_assert_eq(o->via.ext.type, -1, "%s: ext type %d", what, (int)o->via.ext.type);
	msgpack_timestamp ts;
	cr_assert(msgpack_object_to_timestamp(o, &ts), "%s: not a timestamp", what);
	cr_assert_eq(ts.tv_sec, sec, "%s: %lld s, want %lld", what, (long long)ts.tv_sec,
		     (long long)sec);
	cr_assert_eq(ts.tv_nsec, nsec, "%s: %u ns, want %u", what, ts.tv_nsec, nsec);
}

static const char WIRE[] =
    "{\"type\":\"x\",\"ts\":\"2026-01-01T00:00:00.000Z\","
    "\"point\":{\"ts\":\"2026-01-02T03:04:05.250Z\",\"available_at\":\"2026-01-02T03:04:06.000Z\","
    "\"value\":1.5,\"meta\":{\"ts\":\"not a time\",\"updated_at\":\"2026-01-01T00:00:00.000Z\"}},"
    "\"updated_at\":\"2026-01-01T00:00:00.412Z\",\"available_at\":\"garbage\","
    "\"regime\":{\"updated_at\":\"2026-01-01T00:00:00.000Z\",\"state\":\"verde\"},"
    "\"other\":{\"ts\":\"2026-01-01T00:00:00.000Z\"},"
    "\"flips\":[{\"ts\":\"2026-01-01T00:00:00.000Z\"}]}";

Test(ws_wire, msgpack_timestamps)
{
	json_t *v = json_loads(WIRE, 0, NULL);
	cr_assert_not_null(v);
	struct lav_buf out = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &out);
	lav_ws_write_wire_json(&w, v);
	cr_assert_not(w.overflow);
	cr_assert_eq(w.depth, 0);

	msgpack_unpacked u;
	unpack_one(&out, &u);
	const msgpack_object *m = &u.data;
	cr_assert_eq(m->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(m->via.map.size, json_object_size(v));
	cr_assert(str_is(map_get(m, "type"), "x"));
	expect_timestamp(map_get(m, "ts"), 1767225600, 0, "ts");
	expect_timestamp(map_get(m, "updated_at"), 1767225600, 412000000, "updated_at");
	/* a time key whose string is not a time stays a string */
	cr_assert(str_is(map_get(m, "available_at"), "garbage"));

	const msgpack_object *p = map_get(m, "point");
	cr_assert_not_null(p);
	cr_assert_eq(p->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(p->via.map.size, 4);
	expect_timestamp(map_get(p, "ts"), 1767323045, 250000000, "point.ts");
	expect_timestamp(map_get(p, "available_at"), 1767323046, 0, "point.available_at");
	cr_assert_eq(map_get(p, "value")->type, MSGPACK_OBJECT_FLOAT64);
	cr_assert_float_eq(map_get(p, "value")->via.f64, 1.5, 0);

	/* below point: meta is written as it is */
	const msgpack_object *meta = map_get(p, "meta");
	cr_assert_not_null(meta);
	cr_assert_eq(meta->type, MSGPACK_OBJECT_MAP);
	cr_assert(str_is(map_get(meta, "ts"), "not a time"));
	cr_assert(str_is(map_get(meta, "updated_at"), "2026-01-01T00:00:00.000Z"));

	/* regime is the other map whose times are converted */
	const msgpack_object *rg = map_get(m, "regime");
	expect_timestamp(map_get(rg, "updated_at"), 1767225600, 0, "regime.updated_at");
	cr_assert(str_is(map_get(rg, "state"), "verde"));

	/* any other nested map or array keeps its strings */
	cr_assert(str_is(map_get(map_get(m, "other"), "ts"), "2026-01-01T00:00:00.000Z"));
	const msgpack_object *fl = map_get(m, "flips");
	cr_assert_eq(fl->type, MSGPACK_OBJECT_ARRAY);
	cr_assert(str_is(map_get(&fl->via.array.ptr[0], "ts"), "2026-01-01T00:00:00.000Z"));

	msgpack_unpacked_destroy(&u);
	lav_buf_free(&out);
	json_decref(v);
}

Test(ws_wire, json_round_trip)
{
	json_t *v = json_loads(WIRE, 0, NULL);
	cr_assert_not_null(v);
	struct lav_buf out = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &out);
	lav_ws_write_wire_json(&w, v);
	json_t *back = parse_json(&out);
	cr_assert(json_equal(v, back), "%s", lav_buf_cstr(&out));
	json_decref(back);
	lav_buf_free(&out);
	json_decref(v);
}

Test(ws_wire, not_an_object)
{
	json_t *v = json_loads("[1,\"2026-01-01T00:00:00.000Z\"]", 0, NULL);
	struct lav_buf out = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &out);
	lav_ws_write_wire_json(&w, v);
	msgpack_unpacked u;
	unpack_one(&out, &u);
	cr_assert_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(u.data.via.array.size, 2);
	cr_assert(str_is(&u.data.via.array.ptr[1], "2026-01-01T00:00:00.000Z"));
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&out);
	json_decref(v);
}

/* ---- UTF-8 ---- */

static bool utf8(const char *s)
{
	return lav_utf8_valid(s, strlen(s));
}

Test(ws_utf8, ascii)
{
	cr_assert(utf8("hello, world {\"op\":\"ping\"}"));
	cr_assert(lav_utf8_valid("", 0));
	cr_assert(lav_utf8_valid("a\0b", 3), "NUL is a valid code point");
	cr_assert(utf8("\x7f"));
}

Test(ws_utf8, multibyte)
{
	cr_assert(utf8("\xc3\xa1rbol"), "2 bytes (U+00E1)");
	cr_assert(utf8("\xc2\x80"), "U+0080, smallest 2-byte");
	cr_assert(utf8("\xdf\xbf"), "U+07FF");
	cr_assert(utf8("\xe2\x82\xac"), "3 bytes (U+20AC)");
	cr_assert(utf8("\xe0\xa0\x80"), "U+0800, smallest 3-byte");
	cr_assert(utf8("\xed\x9f\xbf"), "U+D7FF, just below the surrogates");
	cr_assert(utf8("\xee\x80\x80"), "U+E000, just above the surrogates");
	cr_assert(utf8("\xef\xbf\xbf"), "U+FFFF");
	cr_assert(utf8("\xf0\x9f\x98\x80"), "4 bytes (U+1F600)");
	cr_assert(utf8("\xf0\x90\x80\x80"), "U+10000, smallest 4-byte");
	cr_assert(utf8("\xf4\x8f\xbf\xbf"), "U+10FFFF, the last code point");
	cr_assert(utf8("a\xc3\xa1\xe2\x82\xac\xf0\x9f\x98\x80z"), "mixed");
}

Test(ws_utf8, overlong)
{
	cr_assert_not(utf8("\xc0\xaf"), "overlong '/'");
	cr_assert_not(utf8("\xc1\xbf"), "overlong U+007F");
	cr_assert_not(utf8("\xe0\x80\xaf"), "3-byte overlong");
	cr_assert_not(utf8("\xe0\x9f\xbf"), "3-byte overlong U+07FF");
	cr_assert_not(utf8("\xf0\x80\x80\xaf"), "4-byte overlong");
	cr_assert_not(utf8("\xf0\x8f\xbf\xbf"), "4-byte overlong U+FFFF");
	cr_assert_not(lav_utf8_valid("\xc0\x80", 2), "overlong NUL");
}

Test(ws_utf8, surrogates)
{
	cr_assert_not(utf8("\xed\xa0\x80"), "U+D800");
	cr_assert_not(utf8("\xed\xbf\xbf"), "U+DFFF");
	cr_assert_not(utf8("\xed\xa0\xbd\xed\xb8\x80"), "CESU-8 pair");
}

Test(ws_utf8, above_max)
{
	cr_assert_not(utf8("\xf4\x90\x80\x80"), "U+110000");
	cr_assert_not(utf8("\xf5\x80\x80\x80"));
	cr_assert_not(utf8("\xf7\xbf\xbf\xbf"));
	cr_assert_not(utf8("\xf8\x88\x80\x80\x80"), "5-byte form");
	cr_assert_not(utf8("\xfc\x84\x80\x80\x80\x80"), "6-byte form");
	cr_assert_not(utf8("\xfe"));
	cr_assert_not(utf8("\xff"));
}

Test(ws_utf8, truncated)
{
	cr_assert_not(utf8("\xc3"), "2-byte cut after 1");
	cr_assert_not(utf8("\xe2\x82"), "3-byte cut after 2");
	cr_assert_not(utf8("\xf0\x9f\x98"), "4-byte cut after 3");
	cr_assert_not(utf8("abc\xe2"), "cut at the end");
	cr_assert_not(utf8("\xe2\x82z"), "3-byte interrupted by ASCII");
	/* the length bounds the check even when more bytes follow in memory */
	cr_assert_not(lav_utf8_valid("\xe2\x82\xac", 2));
	cr_assert(lav_utf8_valid("\xe2\x82\xac", 3));
}

Test(ws_utf8, stray_continuation)
{
	cr_assert_not(utf8("\x80"));
	cr_assert_not(utf8("\xbf"));
	cr_assert_not(utf8("a\x80z"));
	cr_assert_not(utf8("\xc3\xa1\xa1"), "one continuation too many");
}
