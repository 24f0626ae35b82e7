/* What travels on a lav WebSocket: client messages, channel names, the
 * per-connection seq spliced into events encoded once for every connection,
 * and events received from other instances re-encoded. Pure. */
#include <stdio.h>
#include <string.h>

#include "lav/timefmt.h"
#include "lav/ws.h"

bool lav_ws_channel_parse(const char *name, const struct lav_catalog *cat,
			  enum lav_ws_channel_kind *kind, const char **code, char *msg,
			  size_t msglen)
{
	if (strcmp(name, "regime") == 0) {
		*kind = LAV_WS_CH_REGIME;
		return true;
	}
	if (strcmp(name, "dq") == 0) {
		*kind = LAV_WS_CH_DQ;
		return true;
	}
	if (strcmp(name, "feature:*") == 0) {
		*kind = LAV_WS_CH_ALL_FEATURES;
		return true;
	}
	if (strncmp(name, "feature:", 8) == 0 && name[8] && name[8] != '|') {
		const char *id = name + 8;
		const char *bar = strchr(id, '|');
		size_t idlen = bar ? (size_t)(bar - id) : strlen(id);
		char buf[256];
		if (bar && strlen(bar + 1) > LAV_ENTITY_MAX) {
			*code = "bad_channel";
			snprintf(msg, msglen,
				 "channel \"%.80s\": the entity is longer than %d bytes", name,
				 LAV_ENTITY_MAX);
			return false;
		}
		if (idlen < sizeof(buf)) {
			memcpy(buf, id, idlen);
			buf[idlen] = '\0';
			if (lav_catalog_find(cat, buf)) {
				*kind = bar ? LAV_WS_CH_SERIES : LAV_WS_CH_FEATURE;
				return true;
			}
		}
		*code = "unknown_feature";
		snprintf(msg, msglen, "channel \"%.120s\": feature \"%.*s\" is not in the catalog",
			 name, (int)(idlen > 100 ? 100 : idlen), id);
		return false;
	}
	*code = "bad_channel";
	snprintf(msg, msglen,
		 "channel \"%.80s\" is not one of regime, dq, feature:<id>[|entity], feature:*",
		 name);
	return false;
}

static bool bad(char *msg, size_t msglen, const char *text)
{
	snprintf(msg, msglen, "%s", text);
	return false;
}

bool lav_ws_msg_parse(const void *data, size_t len, bool binary, struct lav_ws_msg *out, char *msg,
		      size_t msglen)
{
	memset(out, 0, sizeof(*out));
	char err[160];
	json_t *doc =
	    lav_decode_body(binary ? LAV_FMT_MSGPACK : LAV_FMT_JSON, data, len, err, sizeof(err));
	if (!doc) {
		snprintf(msg, msglen, "%s message: %s", binary ? "MessagePack" : "JSON", err);
		return false;
	}
	out->doc = doc;
	if (!json_is_object(doc))
		return bad(msg, msglen, "a message is an object with \"op\"");
	out->id = json_object_get(doc, "id"); /* echoed in the error too */
	const char *op = json_string_value(json_object_get(doc, "op"));
	if (!op)
		return bad(msg, msglen, "field \"op\" must be subscribe, unsubscribe or ping");
	if (strcmp(op, "subscribe") == 0) {
		out->op = LAV_WS_OP_SUBSCRIBE;
	} else if (strcmp(op, "unsubscribe") == 0) {
		out->op = LAV_WS_OP_UNSUBSCRIBE;
	} else if (strcmp(op, "ping") == 0) {
		out->op = LAV_WS_OP_PING;
	} else {
		snprintf(msg, msglen,
			 "field \"op\": \"%.40s\" is not subscribe, unsubscribe or ping", op);
		return false;
	}
	if (out->op != LAV_WS_OP_PING) {
		const json_t *ch = json_object_get(doc, "channels");
		bool ok = json_is_array(ch) && json_array_size(ch) > 0;
		for (size_t i = 0; ok && i < json_array_size(ch); i++)
			ok = json_is_string(json_array_get(ch, i));
		if (!ok)
			return bad(msg, msglen,
				   "field \"channels\" must be a non-empty array of strings");
		out->channels = ch;
	}
	return true;
}

void lav_ws_frame(struct lav_buf *out, enum lav_format fmt, uint64_t seq,
		  const struct lav_buf *body)
{
	lav_buf_reset(out);
	if (fmt == LAV_FMT_JSON) {
		/* body is "{...}": "{" "seq":N then "," and the rest, or "}" */
		lav_buf_printf(out, "{\"seq\":%llu", (unsigned long long)seq);
		if (body->len > 2)
			lav_buf_putc(out, ',');
		lav_buf_append(out, body->data + 1, body->len - 1);
		return;
	}
	/* the writer closes every map with its smallest header */
	const unsigned char *b = (const unsigned char *)body->data;
	size_t hs;
	uint32_t n;
	if ((b[0] & 0xf0) == 0x80) {
		hs = 1, n = b[0] & 0x0f;
	} else if (b[0] == 0xde) {
		hs = 3, n = (uint32_t)b[1] << 8 | b[2];
	} else {
		hs = 5,
		n = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4];
	}
	n++;
	unsigned char head[5 + 4 + 9];
	size_t k = 0;
	if (n <= 15) {
		head[k++] = (unsigned char)(0x80 | n);
	} else if (n <= 0xffff) {
		head[k++] = 0xde;
		head[k++] = (unsigned char)(n >> 8);
		head[k++] = (unsigned char)n;
	} else {
		head[k++] = 0xdf;
		for (int i = 3; i >= 0; i--)
			head[k++] = (unsigned char)(n >> (8 * i));
	}
	memcpy(head + k, "\xa3seq", 4);
	k += 4;
	if (seq < 128) {
		head[k++] = (unsigned char)seq;
	} else if (seq <= 0xffffffffu) {
		head[k++] = 0xce;
		for (int i = 3; i >= 0; i--)
			head[k++] = (unsigned char)(seq >> (8 * i));
	} else {
		head[k++] = 0xcf;
		for (int i = 7; i >= 0; i--)
			head[k++] = (unsigned char)(seq >> (8 * i));
	}
	lav_buf_append(out, head, k);
	lav_buf_append(out, body->data + hs, body->len - hs);
}

static bool is_time_key(const char *k)
{
	return strcmp(k, "ts") == 0 || strcmp(k, "available_at") == 0 ||
	       strcmp(k, "updated_at") == 0;
}

static void write_wire(struct lav_writer *w, const json_t *v, int depth)
{
	if (json_is_array(v) && depth == 0) { /* a list of events, flips or alerts */
		size_t i;
		json_t *e;
		lav_w_array_begin(w);
		json_array_foreach(v, i, e) write_wire(w, e, 0);
		lav_w_array_end(w);
		return;
	}
	if (!json_is_object(v) || depth > 1) {
		lav_w_json(w, v);
		return;
	}
	const char *key;
	json_t *child;
	lav_w_map_begin(w);
	json_object_foreach((json_t *)v, key, child)
	{
		lav_w_key(w, key);
		int64_t us;
		if (is_time_key(key) && json_is_string(child) &&
		    lav_time_parse(json_string_value(child), json_string_length(child), &us, NULL))
			lav_w_time(w, us);
		else if (depth == 0 && (strcmp(key, "point") == 0 || strcmp(key, "regime") == 0))
			write_wire(w, child, depth + 1);
		else
			lav_w_json(w, child);
	}
	lav_w_map_end(w);
}

void lav_ws_write_wire_json(struct lav_writer *w, const json_t *v)
{
	write_wire(w, v, 0);
}

bool lav_utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s, *end = p + n;
	while (p < end) {
		unsigned c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t len;
		unsigned min, cp;
		if ((c & 0xe0) == 0xc0) {
			len = 2, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += len;
	}
	return true;
}
