/* Request bodies: JSON through jansson, MessagePack through msgpack-c, both
 * into one jansson tree so handlers validate fields once. */
#include "lav/codec.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "lav/timefmt.h"

#define MAX_DEPTH 64

static json_t *from_msgpack(const msgpack_object *o, int depth, char *err, size_t errlen);

static json_t *map_from_msgpack(const msgpack_object_map *m, int depth, char *err, size_t errlen)
{
	json_t *obj = json_object();
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object *k = &m->ptr[i].key;
		if (k->type != MSGPACK_OBJECT_STR) {
			snprintf(err, errlen, "map keys must be strings");
			json_decref(obj);
			return NULL;
		}
		json_t *valid = json_stringn(k->via.str.ptr, k->via.str.size);
		if (!valid) {
			snprintf(err, errlen, "map key is not valid UTF-8");
			json_decref(obj);
			return NULL;
		}
		json_decref(valid);
		char *key = lav_xstrndup(k->via.str.ptr, k->via.str.size);
		if (strlen(key) != k->via.str.size) {
			snprintf(err, errlen, "map key contains a NUL byte");
			free(key);
			json_decref(obj);
			return NULL;
		}
		if (json_object_get(obj, key)) {
			snprintf(err, errlen, "duplicate map key \"%.64s\"", key);
			free(key);
			json_decref(obj);
			return NULL;
		}
		json_t *v = from_msgpack(&m->ptr[i].val, depth + 1, err, errlen);
		if (!v || json_object_set_new_nocheck(obj, key, v) != 0) {
			if (v == NULL && !*err)
				snprintf(err, errlen, "invalid value for key \"%.64s\"", key);
			free(key);
			json_decref(obj);
			return NULL;
		}
		free(key);
	}
	return obj;
}

static json_t *from_msgpack(const msgpack_object *o, int depth, char *err, size_t errlen)
{
	if (depth > MAX_DEPTH) {
		snprintf(err, errlen, "nesting deeper than %d levels", MAX_DEPTH);
		return NULL;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		if (isnan(o->via.f64))
			return json_string("NaN");
		if (isinf(o->via.f64))
			return json_string(o->via.f64 > 0 ? "Infinity" : "-Infinity");
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR: {
		if (memchr(o->via.str.ptr, 0, o->via.str.size)) {
			/* as in JSON bodies: a NUL would cut ids and entities short */
			snprintf(err, errlen, "string contains a NUL byte");
			return NULL;
		}
		json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
		if (!s)
			snprintf(err, errlen, "string is not valid UTF-8");
		return s;
	}
	case MSGPACK_OBJECT_ARRAY: {
		json_t *arr = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			json_t *v = from_msgpack(&o->via.array.ptr[i], depth + 1, err, errlen);
			if (!v) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(arr, v);
		}
		return arr;
	}
	case MSGPACK_OBJECT_MAP:
		return map_from_msgpack(&o->via.map, depth, err, errlen);
	case MSGPACK_OBJECT_EXT: {
		msgpack_timestamp ts;
		if (o->via.ext.type == -1 && msgpack_object_to_timestamp(o, &ts)) {
			if (ts.tv_nsec >= 1000000000u || ts.tv_sec > 253402300799LL ||
			    ts.tv_sec < -62135596800LL) {
				snprintf(err, errlen, "timestamp out of range");
				return NULL;
			}
			char tmp[LAV_TIME_STRLEN];
			int64_t us = ts.tv_sec * LAV_US_PER_S + ts.tv_nsec / 1000;
			lav_time_format(us, tmp);
			return json_string(tmp);
		}
		snprintf(err, errlen, "unsupported MessagePack extension type %d",
			 (int)o->via.ext.type);
		return NULL;
	}
	case MSGPACK_OBJECT_BIN:
		snprintf(err, errlen, "binary values are not supported");
		return NULL;
	}
	snprintf(err, errlen, "unsupported MessagePack type");
	return NULL;
}

json_t *lav_decode_body(enum lav_format fmt, const char *data, size_t len, char *err,
			size_t errlen)
{
	err[0] = '\0';
	if (len == 0) {
		snprintf(err, errlen, "request body is empty");
		return NULL;
	}
	if (fmt == LAV_FMT_JSON) {
		json_error_t je;
		json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
		if (!v)
			snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line,
				 je.column, je.text);
		return v;
	}
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	json_t *v = NULL;
	msgpack_unpack_return r = msgpack_unpack_next(&u, data, len, &off);
	if (r == MSGPACK_UNPACK_SUCCESS) {
		if (off != len)
			snprintf(err, errlen, "%zu trailing bytes after the MessagePack value",
				 len - off);
		else
			v = from_msgpack(&u.data, 0, err, errlen);
	} else if (r == MSGPACK_UNPACK_CONTINUE) {
		snprintf(err, errlen, "truncated MessagePack body");
	} else if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
		snprintf(err, errlen, "MessagePack body too deeply nested or too large");
	} else {
		snprintf(err, errlen, "invalid MessagePack body");
	}
	msgpack_unpacked_destroy(&u);
	if (!v && !err[0])
		snprintf(err, errlen, "invalid MessagePack body");
	return v;
}
