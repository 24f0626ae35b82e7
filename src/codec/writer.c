/* The streaming writer. JSON text is produced directly; MessagePack scalars go
 * through msgpack-c's packer, while container headers are reserved as 5 bytes
 * and shrunk to their minimal form when the container closes, so callers never
 * have to count elements up front. */
#include "lav/codec.h"

#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/timefmt.h"

static int pack_to_buf(void *data, const char *buf, size_t len)
{
	lav_buf_append(data, buf, len);
	return 0;
}

#define PACKER(w) msgpack_packer pk = {(w)->out, pack_to_buf}

void lav_w_init(struct lav_writer *w, enum lav_format fmt, struct lav_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->fmt = fmt;
	w->out = out;
}

/* Called before every value: JSON separators and element counting. */
static void before_value(struct lav_writer *w)
{
	if (w->depth == 0)
		return;
	typeof(w->stack[0]) *top = &w->stack[w->depth - 1];
	if (top->is_map) {
		top->after_key = false;
		return;
	}
	if (w->fmt == LAV_FMT_JSON && top->count > 0)
		lav_buf_putc(w->out, ',');
	top->count++;
}

static void open_container(struct lav_writer *w, bool is_map)
{
	before_value(w);
	if (w->depth == LAV_WRITER_MAX_DEPTH) {
		w->overflow = true;
		return;
	}
	typeof(w->stack[0]) *top = &w->stack[w->depth++];
	top->count = 0;
	top->is_map = is_map;
	top->after_key = false;
	if (w->fmt == LAV_FMT_JSON) {
		lav_buf_putc(w->out, is_map ? '{' : '[');
	} else {
		top->header_at = w->out->len;
		lav_buf_append(w->out, "\0\0\0\0\0", 5);
	}
}

static void close_container(struct lav_writer *w, bool is_map)
{
	if (w->depth == 0 || w->stack[w->depth - 1].is_map != is_map) {
		w->overflow = true;
		return;
	}
	typeof(w->stack[0]) *top = &w->stack[--w->depth];
	if (w->fmt == LAV_FMT_JSON) {
		lav_buf_putc(w->out, is_map ? '}' : ']');
		return;
	}
	uint32_t n = top->count;
	unsigned char hdr[5];
	size_t hs;
	if (n <= 15) {
		hdr[0] = (unsigned char)((is_map ? 0x80 : 0x90) | n);
		hs = 1;
	} else if (n <= 0xffff) {
		hdr[0] = is_map ? 0xde : 0xdc;
		hdr[1] = (unsigned char)(n >> 8);
		hdr[2] = (unsigned char)n;
		hs = 3;
	} else {
		hdr[0] = is_map ? 0xdf : 0xdd;
		hdr[1] = (unsigned char)(n >> 24);
		hdr[2] = (unsigned char)(n >> 16);
		hdr[3] = (unsigned char)(n >> 8);
		hdr[4] = (unsigned char)n;
		hs = 5;
	}
	char *at = w->out->data + top->header_at;
	if (hs < 5) {
		size_t body = w->out->len - top->header_at - 5;
		memmove(at + hs, at + 5, body);
		w->out->len -= 5 - hs;
	}
	memcpy(at, hdr, hs);
}

void lav_w_map_begin(struct lav_writer *w)
{
	open_container(w, true);
}

void lav_w_map_end(struct lav_writer *w)
{
	close_container(w, true);
}

void lav_w_array_begin(struct lav_writer *w)
{
	open_container(w, false);
}

void lav_w_array_end(struct lav_writer *w)
{
	close_container(w, false);
}

static void write_key(struct lav_writer *w, const char *key, size_t n)
{
	if (w->depth == 0 || !w->stack[w->depth - 1].is_map) {
		w->overflow = true;
		return;
	}
	typeof(w->stack[0]) *top = &w->stack[w->depth - 1];
	if (w->fmt == LAV_FMT_JSON) {
		if (top->count > 0)
			lav_buf_putc(w->out, ',');
		lav_json_escape(w->out, key, n);
		lav_buf_putc(w->out, ':');
	} else {
		PACKER(w);
		msgpack_pack_str(&pk, n);
		msgpack_pack_str_body(&pk, key, n);
	}
	top->count++;
	top->after_key = true;
}

void lav_w_key(struct lav_writer *w, const char *key)
{
	write_key(w, key, strlen(key));
}

void lav_w_strn(struct lav_writer *w, const char *s, size_t n)
{
	before_value(w);
	if (w->fmt == LAV_FMT_JSON) {
		lav_json_escape(w->out, s, n);
	} else {
		PACKER(w);
		msgpack_pack_str(&pk, n);
		msgpack_pack_str_body(&pk, s, n);
	}
}

void lav_w_str(struct lav_writer *w, const char *s)
{
	lav_w_strn(w, s, strlen(s));
}

void lav_w_int(struct lav_writer *w, int64_t v)
{
	before_value(w);
	if (w->fmt == LAV_FMT_JSON) {
		lav_buf_printf(w->out, "%lld", (long long)v);
	} else {
		PACKER(w);
		msgpack_pack_int64(&pk, v);
	}
}

void lav_w_double(struct lav_writer *w, double v)
{
	if (!isfinite(v)) {
		lav_w_null(w);
		return;
	}
	before_value(w);
	if (w->fmt == LAV_FMT_JSON) {
		char tmp[32];
		size_t n = lav_format_double(v, tmp);
		lav_buf_append(w->out, tmp, n);
	} else {
		PACKER(w);
		msgpack_pack_double(&pk, v);
	}
}

void lav_w_bool(struct lav_writer *w, bool v)
{
	before_value(w);
	if (w->fmt == LAV_FMT_JSON) {
		lav_buf_puts(w->out, v ? "true" : "false");
	} else {
		PACKER(w);
		if (v)
			msgpack_pack_true(&pk);
		else
			msgpack_pack_false(&pk);
	}
}

void lav_w_null(struct lav_writer *w)
{
	before_value(w);
	if (w->fmt == LAV_FMT_JSON) {
		lav_buf_puts(w->out, "null");
	} else {
		PACKER(w);
		msgpack_pack_nil(&pk);
	}
}

void lav_w_time(struct lav_writer *w, int64_t us)
{
	if (w->fmt == LAV_FMT_JSON) {
		char tmp[LAV_TIME_STRLEN];
		size_t n = lav_time_format(us, tmp);
		lav_w_strn(w, tmp, n);
		return;
	}
	before_value(w);
	int64_t sec = us / LAV_US_PER_S;
	int64_t sub = us % LAV_US_PER_S;
	if (sub < 0) {
		sub += LAV_US_PER_S;
		sec -= 1;
	}
	msgpack_timestamp ts = {.tv_sec = sec, .tv_nsec = (uint32_t)(sub * 1000)};
	PACKER(w);
	msgpack_pack_timestamp(&pk, &ts);
}

void lav_w_json(struct lav_writer *w, const json_t *v)
{
	const char *key;
	json_t *child;
	size_t i;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lav_w_map_begin(w);
		json_object_foreach((json_t *)v, key, child)
		{
			lav_w_key(w, key);
			lav_w_json(w, child);
		}
		lav_w_map_end(w);
		break;
	case JSON_ARRAY:
		lav_w_array_begin(w);
		json_array_foreach(v, i, child) lav_w_json(w, child);
		lav_w_array_end(w);
		break;
	case JSON_STRING:
		lav_w_strn(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lav_w_int(w, json_integer_value(v));
		break;
	case JSON_REAL:
		lav_w_double(w, json_real_value(v));
		break;
	case JSON_TRUE:
		lav_w_bool(w, true);
		break;
	case JSON_FALSE:
		lav_w_bool(w, false);
		break;
	case JSON_NULL:
		lav_w_null(w);
		break;
	}
}

size_t lav_format_double(double d, char out[32])
{
	int n = 0;
	/* 15 digits always suffice to start from for normal doubles; subnormals
	 * carry fewer significant digits, so search them from 1 */
	for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		n = snprintf(out, 32, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	/* "1e+20" and "-0" are valid JSON numbers; keep integers-as-doubles
	 * recognisable as numbers with no fraction, which JSON allows. */
	return n > 0 ? (size_t)n : 0;
}

void lav_json_escape(struct lav_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	lav_buf_reserve(b, n + 2);
	lav_buf_putc(b, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		lav_buf_append(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			lav_buf_append(b, "\\\"", 2);
			break;
		case '\\':
			lav_buf_append(b, "\\\\", 2);
			break;
		case '\n':
			lav_buf_append(b, "\\n", 2);
			break;
		case '\r':
			lav_buf_append(b, "\\r", 2);
			break;
		case '\t':
			lav_buf_append(b, "\\t", 2);
			break;
		default: {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			lav_buf_append(b, esc, 6);
		}
		}
	}
	lav_buf_append(b, s + run, n - run);
	lav_buf_putc(b, '"');
}
