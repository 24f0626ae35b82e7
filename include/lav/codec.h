/* Wire codecs: one streaming writer with a JSON and a MessagePack backend, so
 * every API type is written once and both encodings carry the same keys; and a
 * decoder that turns either body format into a jansson tree for the handlers.
 * Pure: no I/O, no globals. */
#ifndef LAV_CODEC_H
#define LAV_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/buf.h"

enum lav_format {
	LAV_FMT_JSON = 0,
	LAV_FMT_MSGPACK = 1,
};

const char *lav_format_mime(enum lav_format f);

/* Content-Type of a request body. NULL/empty means JSON (curl -d users).
 * Returns false for anything that is neither JSON nor MessagePack. */
bool lav_format_from_content_type(const char *content_type, enum lav_format *out);

/* Best response format for an Accept header (NULL/empty: JSON). Honours
 * q-values; ties prefer JSON. Returns false when neither is acceptable. */
bool lav_format_from_accept(const char *accept, enum lav_format *out);

#define LAV_WRITER_MAX_DEPTH 32

struct lav_writer {
	enum lav_format fmt;
	struct lav_buf *out;
	int depth;
	bool overflow; /* nesting deeper than LAV_WRITER_MAX_DEPTH: output is invalid */
	struct {
		size_t header_at; /* msgpack: offset of the provisional 5-byte header */
		uint32_t count;   /* elements (arrays) or keys (maps) so far */
		bool is_map;
		bool after_key; /* map: a key was written, its value is next */
	} stack[LAV_WRITER_MAX_DEPTH];
};

void lav_w_init(struct lav_writer *w, enum lav_format fmt, struct lav_buf *out);
void lav_w_map_begin(struct lav_writer *w);
void lav_w_map_end(struct lav_writer *w);
void lav_w_array_begin(struct lav_writer *w);
void lav_w_array_end(struct lav_writer *w);
void lav_w_key(struct lav_writer *w, const char *key);
void lav_w_str(struct lav_writer *w, const char *s);
void lav_w_strn(struct lav_writer *w, const char *s, size_t n);
void lav_w_int(struct lav_writer *w, int64_t v);
/* Non-finite doubles are written as null: JSON has no NaN. */
void lav_w_double(struct lav_writer *w, double v);
void lav_w_bool(struct lav_writer *w, bool v);
void lav_w_null(struct lav_writer *w);
/* JSON: RFC 3339 string; MessagePack: timestamp extension (type -1). */
void lav_w_time(struct lav_writer *w, int64_t us);
/* Any jansson value (e.g. a point's meta or a catalog spec). */
void lav_w_json(struct lav_writer *w, const json_t *v);

/* Shortest decimal text that reads back as exactly d (finite d only). */
size_t lav_format_double(double d, char out[32]);

/* JSON string literal with quotes and escapes. */
void lav_json_escape(struct lav_buf *b, const char *s, size_t n);

/* Decodes a request body. MessagePack timestamps become RFC 3339 strings and
 * non-finite floats become the strings "NaN"/"Infinity"/"-Infinity" so that
 * field validation reports them precisely. On failure returns NULL and writes
 * a message into err. Caller owns the result (json_decref). */
json_t *lav_decode_body(enum lav_format fmt, const char *data, size_t len, char *err,
			size_t errlen);

#endif
