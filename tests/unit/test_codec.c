/* The streaming writer (JSON and MessagePack), body decoding and content
 * negotiation. MessagePack output is checked with msgpack-c's own unpacker
 * and JSON output is parsed back with jansson. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/codec.h"
#include "lav/timefmt.h"

/* ---- helpers ---- */

static json_t *parse_json_out(const struct lav_buf *b)
{
	json_error_t je;
	json_t *v = json_loadb(b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	cr_assert_not_null(v, "writer output is not JSON (%s at %d:%d): %.*s", je.text, je.line,
			   je.column, (int)(b->len > 300 ? 300 : b->len), b->data);
	return v;
}

static void unpack_all(const struct lav_buf *b, msgpack_unpacked *u)
{
	msgpack_unpacked_init(u);
	size_t off = 0;
	msgpack_unpack_return r = msgpack_unpack_next(u, b->data, b->len, &off);
	cr_assert_eq(r, MSGPACK_UNPACK_SUCCESS, "msgpack_unpack_next returned %d", (int)r);
	cr_assert_eq(off, b->len, "msgpack value is %zu bytes but the buffer holds %zu", off,
		     b->len);
}

static const char *json_text(struct lav_buf *b)
{
	return lav_buf_cstr(b);
}

static bool str_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	       memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* ---- JSON writer ---- */

Test(writer_json, scalars_in_a_map)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "i");
	lav_w_int(&w, 42);
	lav_w_key(&w, "neg");
	lav_w_int(&w, INT64_MIN);
	lav_w_key(&w, "big");
	lav_w_int(&w, INT64_MAX);
	lav_w_key(&w, "t");
	lav_w_bool(&w, true);
	lav_w_key(&w, "f");
	lav_w_bool(&w, false);
	lav_w_key(&w, "n");
	lav_w_null(&w);
	lav_w_key(&w, "s");
	lav_w_str(&w, "hello");
	lav_w_key(&w, "d");
	lav_w_double(&w, 1.5);
	lav_w_map_end(&w);
	cr_assert_not(w.overflow);
	cr_assert_eq(w.depth, 0);
	cr_assert_str_eq(json_text(&b), "{\"i\":42,\"neg\":-9223372036854775808,\"big\":"
					"9223372036854775807,\"t\":true,\"f\":false,\"n\":null,"
					"\"s\":\"hello\",\"d\":1.5}");
	json_t *v = parse_json_out(&b);
	cr_assert_eq(json_integer_value(json_object_get(v, "i")), 42);
	cr_assert_eq(json_integer_value(json_object_get(v, "neg")), INT64_MIN);
	cr_assert_eq(json_integer_value(json_object_get(v, "big")), INT64_MAX);
	cr_assert(json_is_true(json_object_get(v, "t")));
	cr_assert(json_is_false(json_object_get(v, "f")));
	cr_assert(json_is_null(json_object_get(v, "n")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "s")), "hello");
	cr_assert_eq(json_real_value(json_object_get(v, "d")), 1.5);
	json_decref(v);
	lav_buf_free(&b);
}

Test(writer_json, nested_containers_and_separators)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_array_begin(&w);
	lav_w_array_begin(&w);
	lav_w_array_end(&w);
	lav_w_map_begin(&w);
	lav_w_map_end(&w);
	lav_w_array_begin(&w);
	lav_w_int(&w, 1);
	lav_w_array_begin(&w);
	lav_w_int(&w, 2);
	lav_w_int(&w, 3);
	lav_w_array_end(&w);
	lav_w_array_end(&w);
	lav_w_map_begin(&w);
	lav_w_key(&w, "k");
	lav_w_array_begin(&w);
	lav_w_array_end(&w);
	lav_w_key(&w, "m");
	lav_w_map_begin(&w);
	lav_w_key(&w, "x");
	lav_w_null(&w);
	lav_w_map_end(&w);
	lav_w_map_end(&w);
	lav_w_str(&w, "end");
	lav_w_array_end(&w);
	cr_assert_not(w.overflow);
	cr_assert_str_eq(json_text(&b), "[[],{},[1,[2,3]],{\"k\":[],\"m\":{\"x\":null}},\"end\"]");
	json_decref(parse_json_out(&b));
	lav_buf_free(&b);
}

Test(writer_json, time_is_rfc3339_string)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_array_begin(&w);
	lav_w_time(&w, 1760918400LL * LAV_US_PER_S);
	lav_w_time(&w, -1);
	lav_w_time(&w, 1760918400LL * LAV_US_PER_S + 123456);
	lav_w_array_end(&w);
	cr_assert_str_eq(json_text(&b), "[\"2025-10-20T00:00:00.000Z\",\"1969-12-31T23:59:59.999999Z\","
					"\"2025-10-20T00:00:00.123456Z\"]");
	lav_buf_free(&b);
}

static void expect_double_text(double d, const char *want)
{
	char out[32];
	size_t n = lav_format_double(d, out);
	cr_assert_str_eq(out, want, "lav_format_double(%.17g) = \"%s\", want \"%s\"", d, out, want);
	cr_assert_eq(n, strlen(want));
}

Test(writer_json, doubles_shortest_text)
{
	expect_double_text(0.1, "0.1");
	expect_double_text(0.3, "0.3");
	expect_double_text(1.5, "1.5");
	expect_double_text(-2.25, "-2.25");
	expect_double_text(100.0, "100");
	expect_double_text(1.0 / 3.0, "0.3333333333333333");
	expect_double_text(0.1 + 0.2, "0.30000000000000004");
	expect_double_text(1e21, "1e+21");
	expect_double_text(-0.0, "-0");
	expect_double_text(123456789.125, "123456789.125");
	expect_double_text(DBL_MAX, "1.7976931348623157e+308");
}

/* The smallest subnormal: "5e-324" is its shortest round-trip text
 * (codec.h promises the shortest decimal text). */
Test(writer_json, doubles_shortest_text_subnormal)
{
	expect_double_text(5e-324, "5e-324");
}

Test(writer_json, doubles_round_trip_exactly)
{
	const double vals[] = {0.1, 1e21, -0.0, 5e-324, DBL_MAX, -DBL_MAX, DBL_MIN, 2.2250738585072009e-308,
			       1.0 / 3.0, 9007199254740993.0, 123.456, -1e-300, 6.02214076e23, 1e-7};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		char out[32];
		size_t n = lav_format_double(vals[i], out);
		cr_assert_eq(n, strlen(out));
		cr_assert_eq(strtod(out, NULL), vals[i], "\"%s\" does not read back as %.17g", out,
			     vals[i]);
	}
	/* pseudo-random bit patterns */
	uint64_t s = 88172645463325252ULL;
	for (int i = 0; i < 20000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		double d;
		memcpy(&d, &s, sizeof(d));
		if (!isfinite(d))
			continue;
		char out[32];
		lav_format_double(d, out);
		cr_assert_eq(strtod(out, NULL), d, "\"%s\" does not read back as %a", out, d);
	}
}

Test(writer_json, doubles_parse_back_with_jansson)
{
	const double vals[] = {0.1, 1e21, 5e-324, DBL_MAX, -1e-300, 123.456, 1.0 / 3.0, 2.5};
	const size_t n = sizeof(vals) / sizeof(vals[0]);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_array_begin(&w);
	for (size_t i = 0; i < n; i++)
		lav_w_double(&w, vals[i]);
	lav_w_double(&w, -0.0);
	lav_w_array_end(&w);
	json_t *v = parse_json_out(&b);
	cr_assert_eq(json_array_size(v), n + 1);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(json_number_value(json_array_get(v, i)), vals[i], "item %zu: %s", i,
			     json_text(&b));
	cr_assert(json_is_number(json_array_get(v, n)));
	cr_assert_eq(json_number_value(json_array_get(v, n)), 0.0);
	json_decref(v);
	lav_buf_free(&b);
}

Test(writer_json, non_finite_doubles_are_null)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "nan");
	lav_w_double(&w, NAN);
	lav_w_key(&w, "inf");
	lav_w_double(&w, INFINITY);
	lav_w_key(&w, "ninf");
	lav_w_double(&w, -INFINITY);
	lav_w_key(&w, "ok");
	lav_w_double(&w, 2.5);
	lav_w_map_end(&w);
	cr_assert_str_eq(json_text(&b), "{\"nan\":null,\"inf\":null,\"ninf\":null,\"ok\":2.5}");
	lav_buf_free(&b);
}

Test(writer_json, string_escaping)
{
	struct lav_buf b = LAV_BUF_INIT;
	const char in[] = "q\"b\\s/n\nr\rt\tx\x01y\x1f\x7f";
	lav_json_escape(&b, in, strlen(in));
	cr_assert_str_eq(json_text(&b), "\"q\\\"b\\\\s/n\\nr\\rt\\tx\\u0001y\\u001f\x7f\"");
	json_t *v = parse_json_out(&b);
	cr_assert_str_eq(json_string_value(v), in);
	json_decref(v);
	lav_buf_free(&b);
}

Test(writer_json, control_chars_all_escaped)
{
	char in[32];
	for (int i = 0; i < 32; i++)
		in[i] = (char)i;
	struct lav_buf b = LAV_BUF_INIT;
	lav_json_escape(&b, in, sizeof(in));
	for (size_t i = 0; i < b.len; i++)
		cr_assert_geq((unsigned char)b.data[i], 0x20, "raw control byte in %s", json_text(&b));
	cr_assert_not_null(strstr(json_text(&b), "\\u0000"));
	cr_assert_not_null(strstr(json_text(&b), "\\u0008"));
	cr_assert_not_null(strstr(json_text(&b), "\\u000b"));
	cr_assert_not_null(strstr(json_text(&b), "\\u001f"));
	json_t *v = parse_json_out(&b);
	cr_assert_eq(json_string_length(v), sizeof(in));
	cr_assert_eq(memcmp(json_string_value(v), in, sizeof(in)), 0);
	json_decref(v);
	lav_buf_free(&b);
}

Test(writer_json, utf8_passes_through_and_nul_is_escaped)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_array_begin(&w);
	lav_w_str(&w, "semáforo € 🚦");
	lav_w_strn(&w, "a\0b", 3);
	lav_w_array_end(&w);
	cr_assert_str_eq(json_text(&b), "[\"semáforo € 🚦\",\"a\\u0000b\"]");
	json_t *v = parse_json_out(&b);
	cr_assert_str_eq(json_string_value(json_array_get(v, 0)), "semáforo € 🚦");
	cr_assert_eq(json_string_length(json_array_get(v, 1)), 3);
	cr_assert_eq(memcmp(json_string_value(json_array_get(v, 1)), "a\0b", 3), 0);
	json_decref(v);
	lav_buf_free(&b);
}

Test(writer_json, keys_are_escaped)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "a\"b\n");
	lav_w_int(&w, 1);
	lav_w_map_end(&w);
	cr_assert_str_eq(json_text(&b), "{\"a\\\"b\\n\":1}");
	lav_buf_free(&b);
}

static const char TREE[] =
	"{\"id\":\"macro/us/walcl_total_usd\",\"n\":-17,\"r\":0.25,\"t\":true,\"f\":false,"
	"\"z\":null,\"tags\":[\"a\",\"b\",[],{}],\"q\":{\"expected_range\":[1.5,2.5],"
	"\"nested\":{\"deep\":[[[\"x\"]]]}},\"u\":\"é\\n\\u0001\",\"big\":9007199254740993}";

Test(writer_json, json_tree_round_trip)
{
	json_t *tree = json_loads(TREE, 0, NULL);
	cr_assert_not_null(tree);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_json(&w, tree);
	cr_assert_not(w.overflow);
	json_t *back = parse_json_out(&b);
	cr_assert(json_equal(tree, back), "%s", json_text(&b));
	/* key order is kept */
	cr_assert_eq(strncmp(json_text(&b), "{\"id\":\"macro/us/walcl_total_usd\",\"n\":-17,", 41), 0,
		     "%s", json_text(&b));
	json_decref(back);
	json_decref(tree);
	lav_buf_free(&b);
}

Test(writer_json, json_tree_inside_writer_output)
{
	json_t *meta = json_pack("{s:i, s:[s, f]}", "k", 1, "arr", "v", 0.5);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_JSON, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "value");
	lav_w_double(&w, 3.5);
	lav_w_key(&w, "meta");
	lav_w_json(&w, meta);
	lav_w_key(&w, "after");
	lav_w_int(&w, 2);
	lav_w_map_end(&w);
	cr_assert_str_eq(json_text(&b), "{\"value\":3.5,\"meta\":{\"k\":1,\"arr\":[\"v\",0.5]},\"after\":2}");
	json_decref(meta);
	lav_buf_free(&b);
}

Test(writer, misuse_sets_overflow)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	for (int fmt = 0; fmt < 2; fmt++) {
		/* 32 levels are fine */
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		for (int i = 0; i < LAV_WRITER_MAX_DEPTH; i++)
			lav_w_array_begin(&w);
		for (int i = 0; i < LAV_WRITER_MAX_DEPTH; i++)
			lav_w_array_end(&w);
		cr_assert_not(w.overflow);
		/* 33 are not */
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		for (int i = 0; i <= LAV_WRITER_MAX_DEPTH; i++)
			lav_w_array_begin(&w);
		cr_assert(w.overflow);
		/* closing the wrong kind */
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		lav_w_array_begin(&w);
		lav_w_map_end(&w);
		cr_assert(w.overflow);
		/* closing at top level */
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		lav_w_array_end(&w);
		cr_assert(w.overflow);
		/* a key outside a map */
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		lav_w_array_begin(&w);
		lav_w_key(&w, "k");
		cr_assert(w.overflow);
		lav_buf_reset(&b);
		lav_w_init(&w, (enum lav_format)fmt, &b);
		lav_w_key(&w, "k");
		cr_assert(w.overflow);
	}
	lav_buf_free(&b);
}

Test(writer, mime_names)
{
	cr_assert_str_eq(lav_format_mime(LAV_FMT_JSON), "application/json");
	cr_assert_str_eq(lav_format_mime(LAV_FMT_MSGPACK), "application/msgpack");
}

/* ---- MessagePack writer ---- */

Test(writer_msgpack, scalars)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "i");
	lav_w_int(&w, 42);
	lav_w_key(&w, "neg");
	lav_w_int(&w, -100000);
	lav_w_key(&w, "min");
	lav_w_int(&w, INT64_MIN);
	lav_w_key(&w, "t");
	lav_w_bool(&w, true);
	lav_w_key(&w, "f");
	lav_w_bool(&w, false);
	lav_w_key(&w, "n");
	lav_w_null(&w);
	lav_w_key(&w, "s");
	lav_w_str(&w, "héllo");
	lav_w_key(&w, "d");
	lav_w_double(&w, 0.1);
	lav_w_key(&w, "nan");
	lav_w_double(&w, NAN);
	lav_w_key(&w, "inf");
	lav_w_double(&w, -INFINITY);
	lav_w_map_end(&w);
	cr_assert_not(w.overflow);
	cr_assert_eq((unsigned char)b.data[0], 0x8a, "fixmap with 10 keys, got 0x%02x",
		     (unsigned char)b.data[0]);

	msgpack_unpacked u;
	unpack_all(&b, &u);
	msgpack_object *o = &u.data;
	cr_assert_eq(o->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(o->via.map.size, 10);
	msgpack_object_kv *kv = o->via.map.ptr;
	cr_assert(str_is(&kv[0].key, "i"));
	cr_assert_eq(kv[0].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	cr_assert_eq(kv[0].val.via.u64, 42);
	cr_assert(str_is(&kv[1].key, "neg"));
	cr_assert_eq(kv[1].val.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	cr_assert_eq(kv[1].val.via.i64, -100000);
	cr_assert_eq(kv[2].val.type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	cr_assert_eq(kv[2].val.via.i64, INT64_MIN);
	cr_assert_eq(kv[3].val.type, MSGPACK_OBJECT_BOOLEAN);
	cr_assert(kv[3].val.via.boolean);
	cr_assert_eq(kv[4].val.type, MSGPACK_OBJECT_BOOLEAN);
	cr_assert_not(kv[4].val.via.boolean);
	cr_assert_eq(kv[5].val.type, MSGPACK_OBJECT_NIL);
	cr_assert(str_is(&kv[6].val, "héllo"));
	cr_assert_eq(kv[7].val.type, MSGPACK_OBJECT_FLOAT64);
	cr_assert_eq(kv[7].val.via.f64, 0.1);
	cr_assert_eq(kv[8].val.type, MSGPACK_OBJECT_NIL);
	cr_assert_eq(kv[9].val.type, MSGPACK_OBJECT_NIL);
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&b);
}

/* n elements (arrays) or keys (maps); checks the minimal header bytes. */
static void check_container(bool is_map, uint32_t n)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	if (is_map)
		lav_w_map_begin(&w);
	else
		lav_w_array_begin(&w);
	char key[16];
	for (uint32_t i = 0; i < n; i++) {
		if (is_map) {
			snprintf(key, sizeof(key), "k%u", i);
			lav_w_key(&w, key);
		}
		lav_w_int(&w, i % 100);
	}
	if (is_map)
		lav_w_map_end(&w);
	else
		lav_w_array_end(&w);
	cr_assert_not(w.overflow);

	const unsigned char *h = (const unsigned char *)b.data;
	size_t hs;
	if (n <= 15) {
		cr_assert_eq(h[0], (is_map ? 0x80 : 0x90) | n, "n=%u: header 0x%02x", n, h[0]);
		hs = 1;
	} else if (n <= 0xffff) {
		cr_assert_eq(h[0], is_map ? 0xde : 0xdc, "n=%u: header 0x%02x", n, h[0]);
		cr_assert_eq((uint32_t)(h[1] << 8 | h[2]), n);
		hs = 3;
	} else {
		cr_assert_eq(h[0], is_map ? 0xdf : 0xdd, "n=%u: header 0x%02x", n, h[0]);
		cr_assert_eq((uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4],
			     n);
		hs = 5;
	}
	/* body size: positive fixints, plus "k<i>" fixstr keys */
	size_t body = n;
	if (is_map)
		for (uint32_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			body += 1 + strlen(key);
		}
	cr_assert_eq(b.len, hs + body, "n=%u: %zu bytes, expected %zu", n, b.len, hs + body);

	msgpack_unpacked u;
	unpack_all(&b, &u);
	if (is_map) {
		cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
		cr_assert_eq(u.data.via.map.size, n);
		for (uint32_t i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "k%u", i);
			cr_assert(str_is(&u.data.via.map.ptr[i].key, key));
			cr_assert_eq(u.data.via.map.ptr[i].val.via.u64, i % 100);
		}
	} else {
		cr_assert_eq(u.data.type, MSGPACK_OBJECT_ARRAY);
		cr_assert_eq(u.data.via.array.size, n);
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(u.data.via.array.ptr[i].via.u64, i % 100);
	}
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&b);
}

Test(writer_msgpack, array_headers_minimal)
{
	const uint32_t sizes[] = {0, 1, 15, 16, 65535, 65536, 70000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_container(false, sizes[i]);
}

Test(writer_msgpack, map_headers_minimal)
{
	const uint32_t sizes[] = {0, 1, 15, 16, 65535, 65536};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		check_container(true, sizes[i]);
}

Test(writer_msgpack, nested_containers_shrink_correctly)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "a");
	lav_w_array_begin(&w);
	for (int i = 0; i < 16; i++)
		lav_w_int(&w, i);
	lav_w_array_end(&w);
	lav_w_key(&w, "b");
	lav_w_map_begin(&w);
	lav_w_key(&w, "x");
	lav_w_array_begin(&w);
	lav_w_array_end(&w);
	lav_w_key(&w, "y");
	lav_w_array_begin(&w);
	for (int i = 0; i < 20; i++) {
		lav_w_map_begin(&w);
		lav_w_key(&w, "i");
		lav_w_int(&w, i);
		lav_w_map_end(&w);
	}
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	lav_w_key(&w, "c");
	lav_w_str(&w, "end");
	lav_w_map_end(&w);
	cr_assert_not(w.overflow);

	msgpack_unpacked u;
	unpack_all(&b, &u);
	msgpack_object *o = &u.data;
	cr_assert_eq(o->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(o->via.map.size, 3);
	msgpack_object *a = &o->via.map.ptr[0].val;
	cr_assert_eq(a->type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(a->via.array.size, 16);
	for (uint32_t i = 0; i < 16; i++)
		cr_assert_eq(a->via.array.ptr[i].via.u64, i);
	msgpack_object *bb = &o->via.map.ptr[1].val;
	cr_assert_eq(bb->type, MSGPACK_OBJECT_MAP);
	cr_assert_eq(bb->via.map.size, 2);
	cr_assert_eq(bb->via.map.ptr[0].val.type, MSGPACK_OBJECT_ARRAY);
	cr_assert_eq(bb->via.map.ptr[0].val.via.array.size, 0);
	msgpack_object *y = &bb->via.map.ptr[1].val;
	cr_assert_eq(y->via.array.size, 20);
	for (uint32_t i = 0; i < 20; i++) {
		cr_assert_eq(y->via.array.ptr[i].type, MSGPACK_OBJECT_MAP);
		cr_assert_eq(y->via.array.ptr[i].via.map.size, 1);
		cr_assert_eq(y->via.array.ptr[i].via.map.ptr[0].val.via.u64, i);
	}
	cr_assert(str_is(&o->via.map.ptr[2].key, "c"));
	cr_assert(str_is(&o->via.map.ptr[2].val, "end"));
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&b);
}

Test(writer_msgpack, deep_nesting_32_levels)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	for (int i = 0; i < LAV_WRITER_MAX_DEPTH; i++)
		lav_w_array_begin(&w);
	lav_w_int(&w, 7);
	for (int i = 0; i < LAV_WRITER_MAX_DEPTH; i++)
		lav_w_array_end(&w);
	cr_assert_not(w.overflow);
	cr_assert_eq(b.len, LAV_WRITER_MAX_DEPTH + 1);
	for (int i = 0; i < LAV_WRITER_MAX_DEPTH; i++)
		cr_assert_eq((unsigned char)b.data[i], 0x91);
	cr_assert_eq(b.data[LAV_WRITER_MAX_DEPTH], 7);
	lav_buf_free(&b);
}

static void check_ts(int64_t us, int64_t want_sec, uint32_t want_nsec)
{
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_w_array_begin(&w);
	lav_w_time(&w, us);
	lav_w_array_end(&w);
	msgpack_unpacked u;
	unpack_all(&b, &u);
	cr_assert_eq(u.data.via.array.size, 1);
	msgpack_object *o = &u.data.via.array.ptr[0];
	cr_assert_eq(o->type, MSGPACK_OBJECT_EXT, "time %lld is not an ext", (long long)us);
	cr_assert_eq(o->via.ext.type, -1);
	msgpack_timestamp ts;
	cr_assert(msgpack_object_to_timestamp(o, &ts));
	cr_assert_eq(ts.tv_sec, want_sec, "time %lld: sec %lld", (long long)us, (long long)ts.tv_sec);
	cr_assert_eq(ts.tv_nsec, want_nsec, "time %lld: nsec %u", (long long)us, ts.tv_nsec);
	msgpack_unpacked_destroy(&u);
	lav_buf_free(&b);
}

Test(writer_msgpack, timestamps_are_ext_minus_one)
{
	check_ts(0, 0, 0);
	check_ts(1760918400LL * LAV_US_PER_S, 1760918400LL, 0);
	check_ts(1760918400LL * LAV_US_PER_S + 123456, 1760918400LL, 123456000);
	check_ts(500000, 0, 500000000);
	check_ts(1, 0, 1000);
	/* before 1970: seconds are floored and nanoseconds stay positive */
	check_ts(-1, -1, 999999000);
	check_ts(-LAV_US_PER_S, -1, 0);
	check_ts(-1500000, -2, 500000000);
	check_ts(-2208988800LL * LAV_US_PER_S, -2208988800LL, 0);
	/* beyond 32-bit seconds (timestamp 64 / 96) */
	check_ts(5000000000LL * LAV_US_PER_S + 7, 5000000000LL, 7000);
	check_ts(253402300799LL * LAV_US_PER_S + 999999, 253402300799LL, 999999000);
}

Test(writer_msgpack, json_tree_round_trip_via_decoder)
{
	json_t *tree = json_loads(TREE, 0, NULL);
	cr_assert_not_null(tree);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, LAV_FMT_MSGPACK, &b);
	lav_w_json(&w, tree);
	cr_assert_not(w.overflow);
	char err[256];
	json_t *back = lav_decode_body(LAV_FMT_MSGPACK, b.data, b.len, err, sizeof(err));
	cr_assert_not_null(back, "%s", err);
	cr_assert(json_equal(tree, back));
	json_decref(back);
	json_decref(tree);
	lav_buf_free(&b);
}

Test(writer_msgpack, same_keys_as_json)
{
	/* the same writer calls produce equal trees in both formats */
	struct lav_buf bj = LAV_BUF_INIT, bm = LAV_BUF_INIT;
	struct lav_writer wj, wm;
	lav_w_init(&wj, LAV_FMT_JSON, &bj);
	lav_w_init(&wm, LAV_FMT_MSGPACK, &bm);
	struct lav_writer *ws[2] = {&wj, &wm};
	for (int k = 0; k < 2; k++) {
		struct lav_writer *w = ws[k];
		lav_w_map_begin(w);
		lav_w_key(w, "featureId");
		lav_w_str(w, "macro/us/walcl_total_usd");
		lav_w_key(w, "ts");
		lav_w_time(w, 1760918400LL * LAV_US_PER_S);
		lav_w_key(w, "value");
		lav_w_double(w, 6.5e12);
		lav_w_key(w, "points");
		lav_w_array_begin(w);
		lav_w_int(w, 1);
		lav_w_null(w);
		lav_w_array_end(w);
		lav_w_map_end(w);
	}
	char err[256];
	json_t *a = lav_decode_body(LAV_FMT_JSON, bj.data, bj.len, err, sizeof(err));
	cr_assert_not_null(a, "%s", err);
	json_t *m = lav_decode_body(LAV_FMT_MSGPACK, bm.data, bm.len, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(m, "ts")), "2025-10-20T00:00:00.000Z");
	cr_assert_eq(json_number_value(json_object_get(a, "value")),
		     json_number_value(json_object_get(m, "value")));
	json_object_del(a, "value");
	json_object_del(m, "value");
	cr_assert(json_equal(a, m));
	json_decref(a);
	json_decref(m);
	lav_buf_free(&bj);
	lav_buf_free(&bm);
}

/* ---- lav_decode_body ---- */

static json_t *decode(enum lav_format f, const void *data, size_t len, char *err, size_t errlen)
{
	return lav_decode_body(f, data, len, err, errlen);
}

static void decode_fails(enum lav_format f, const void *data, size_t len, const char *needle)
{
	char err[256];
	memset(err, 'x', sizeof(err));
	json_t *v = decode(f, data, len, err, sizeof(err));
	cr_assert_null(v, "decoded although it should fail (%s)", needle);
	cr_assert(memchr(err, '\0', sizeof(err)) != NULL);
	cr_assert_not_null(strstr(err, needle), "error \"%s\" does not mention \"%s\"", err, needle);
}

Test(decode_json, ok)
{
	const char *s = "{\"a\":[1,2.5,\"x\",null,true],\"b\":{}}";
	char err[256];
	json_t *v = decode(LAV_FMT_JSON, s, strlen(s), err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	json_t *want = json_loads(s, 0, NULL);
	cr_assert(json_equal(v, want));
	json_decref(want);
	json_decref(v);
}

Test(decode_json, invalid_mentions_line_and_column)
{
	decode_fails(LAV_FMT_JSON, "{\"a\":}", 6, "line 1");
	decode_fails(LAV_FMT_JSON, "{\"a\":}", 6, "column");
	const char *two = "{\n  \"a\": ,\n}";
	decode_fails(LAV_FMT_JSON, two, strlen(two), "line 2");
	decode_fails(LAV_FMT_JSON, "[1,2", 4, "invalid JSON");
	decode_fails(LAV_FMT_JSON, "{\"a\":1} x", 9, "invalid JSON");
}

Test(decode_json, duplicate_keys_rejected)
{
	const char *s = "{\"a\":1,\"a\":2}";
	decode_fails(LAV_FMT_JSON, s, strlen(s), "duplicate");
	const char *nested = "{\"x\":{\"k\":1,\"k\":1}}";
	decode_fails(LAV_FMT_JSON, nested, strlen(nested), "duplicate");
}

Test(decode_json, empty_body)
{
	decode_fails(LAV_FMT_JSON, "", 0, "empty");
	decode_fails(LAV_FMT_MSGPACK, "", 0, "empty");
}

Test(decode_json, uses_len)
{
	const char *s = "[1,2]garbage";
	char err[256];
	json_t *v = decode(LAV_FMT_JSON, s, 5, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_eq(json_array_size(v), 2);
	json_decref(v);
}

Test(decode_json, invalid_utf8_rejected)
{
	const char s[] = "{\"a\":\"\xff\xfe\"}";
	decode_fails(LAV_FMT_JSON, s, sizeof(s) - 1, "invalid JSON");
}

/* msgpack bodies built with msgpack-c's packer */
struct pk {
	msgpack_sbuffer sb;
	msgpack_packer p;
};

static void pk_init(struct pk *k)
{
	msgpack_sbuffer_init(&k->sb);
	msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void pk_str(struct pk *k, const char *s)
{
	msgpack_pack_str(&k->p, strlen(s));
	msgpack_pack_str_body(&k->p, s, strlen(s));
}

static json_t *pk_decode(struct pk *k, char *err, size_t errlen)
{
	return decode(LAV_FMT_MSGPACK, k->sb.data, k->sb.size, err, errlen);
}

static void pk_fails(struct pk *k, const char *needle)
{
	decode_fails(LAV_FMT_MSGPACK, k->sb.data, k->sb.size, needle);
	msgpack_sbuffer_destroy(&k->sb);
}

Test(decode_msgpack, ok)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 8);
	pk_str(&k, "s");
	pk_str(&k, "x");
	pk_str(&k, "i");
	msgpack_pack_int64(&k.p, -5);
	pk_str(&k, "u");
	msgpack_pack_uint64(&k.p, 7);
	pk_str(&k, "f");
	msgpack_pack_double(&k.p, 1.5);
	pk_str(&k, "f32");
	msgpack_pack_float(&k.p, 0.25f);
	pk_str(&k, "b");
	msgpack_pack_true(&k.p);
	pk_str(&k, "n");
	msgpack_pack_nil(&k.p);
	pk_str(&k, "a");
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_int(&k.p, 1);
	msgpack_pack_map(&k.p, 0);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	json_t *want = json_loads(
		"{\"s\":\"x\",\"i\":-5,\"u\":7,\"f\":1.5,\"f32\":0.25,\"b\":true,\"n\":null,\"a\":[1,{}]}", 0,
		NULL);
	cr_assert(json_equal(v, want));
	cr_assert(json_is_integer(json_object_get(v, "i")));
	cr_assert(json_is_real(json_object_get(v, "f")));
	json_decref(want);
	json_decref(v);
	msgpack_sbuffer_destroy(&k.sb);
}

Test(decode_msgpack, uint64_beyond_int64)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_array(&k.p, 2);
	msgpack_pack_uint64(&k.p, UINT64_MAX);
	msgpack_pack_int64(&k.p, INT64_MIN);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert(json_is_real(json_array_get(v, 0)));
	cr_assert_eq(json_real_value(json_array_get(v, 0)), (double)UINT64_MAX);
	cr_assert_eq(json_integer_value(json_array_get(v, 1)), INT64_MIN);
	json_decref(v);
	msgpack_sbuffer_destroy(&k.sb);
}

static void expect_ts_string(int64_t sec, uint32_t nsec, const char *want)
{
	struct pk k;
	pk_init(&k);
	msgpack_timestamp ts = {.tv_sec = sec, .tv_nsec = nsec};
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_timestamp(&k.p, &ts);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(json_string_value(json_array_get(v, 0)), want, "ts %lld.%09u",
			 (long long)sec, nsec);
	json_decref(v);
	msgpack_sbuffer_destroy(&k.sb);
}

Test(decode_msgpack, timestamps_become_rfc3339)
{
	expect_ts_string(1760918400, 0, "2025-10-20T00:00:00.000Z");
	expect_ts_string(1760918400, 123000000, "2025-10-20T00:00:00.123Z");
	expect_ts_string(0, 1000, "1970-01-01T00:00:00.000001Z");
	expect_ts_string(0, 1999, "1970-01-01T00:00:00.000001Z");
	expect_ts_string(-1, 500000000, "1969-12-31T23:59:59.500Z");
	expect_ts_string(-2208988800LL, 0, "1900-01-01T00:00:00.000Z");
	expect_ts_string(5000000000LL, 0, "2128-06-11T08:53:20.000Z");
}

Test(decode_msgpack, writer_timestamps_decode_to_the_same_instant)
{
	const int64_t vals[] = {0, -1, 1, 1760918400123456LL, -2208988800000000LL, 999999,
				253402300799999999LL};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct lav_buf b = LAV_BUF_INIT;
		struct lav_writer w;
		lav_w_init(&w, LAV_FMT_MSGPACK, &b);
		lav_w_array_begin(&w);
		lav_w_time(&w, vals[i]);
		lav_w_array_end(&w);
		char err[256];
		json_t *v = lav_decode_body(LAV_FMT_MSGPACK, b.data, b.len, err, sizeof(err));
		cr_assert_not_null(v, "%s", err);
		const char *s = json_string_value(json_array_get(v, 0));
		cr_assert_not_null(s);
		int64_t back;
		cr_assert(lav_time_parse(s, strlen(s), &back, NULL), "%s", s);
		cr_assert_eq(back, vals[i], "%s", s);
		json_decref(v);
		lav_buf_free(&b);
	}
}

Test(decode_msgpack, timestamp_out_of_range)
{
	struct pk k;
	pk_init(&k);
	msgpack_timestamp ts = {.tv_sec = 253402300800LL, .tv_nsec = 0};
	msgpack_pack_timestamp(&k.p, &ts);
	pk_fails(&k, "timestamp out of range");
	pk_init(&k);
	ts.tv_sec = -62135596801LL;
	msgpack_pack_timestamp(&k.p, &ts);
	pk_fails(&k, "timestamp out of range");
}

Test(decode_msgpack, non_finite_floats_become_strings)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_array(&k.p, 4);
	msgpack_pack_double(&k.p, NAN);
	msgpack_pack_double(&k.p, INFINITY);
	msgpack_pack_double(&k.p, -INFINITY);
	msgpack_pack_float(&k.p, NAN);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	cr_assert_str_eq(json_string_value(json_array_get(v, 0)), "NaN");
	cr_assert_str_eq(json_string_value(json_array_get(v, 1)), "Infinity");
	cr_assert_str_eq(json_string_value(json_array_get(v, 2)), "-Infinity");
	cr_assert_str_eq(json_string_value(json_array_get(v, 3)), "NaN");
	json_decref(v);
	msgpack_sbuffer_destroy(&k.sb);
}

Test(decode_msgpack, trailing_bytes)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 0);
	msgpack_pack_int(&k.p, 1);
	msgpack_pack_int(&k.p, 2);
	pk_fails(&k, "2 trailing bytes");
}

Test(decode_msgpack, truncated)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	pk_str(&k, "key");
	pk_str(&k, "a longer value");
	decode_fails(LAV_FMT_MSGPACK, k.sb.data, k.sb.size - 3, "truncated");
	decode_fails(LAV_FMT_MSGPACK, k.sb.data, 1, "truncated");
	msgpack_sbuffer_destroy(&k.sb);
}

Test(decode_msgpack, invalid_byte)
{
	const unsigned char bad[] = {0xc1};
	decode_fails(LAV_FMT_MSGPACK, bad, sizeof(bad), "invalid MessagePack");
}

Test(decode_msgpack, non_string_keys_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	msgpack_pack_int(&k.p, 1);
	msgpack_pack_int(&k.p, 2);
	pk_fails(&k, "map keys must be strings");
	pk_init(&k);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_map(&k.p, 1);
	msgpack_pack_nil(&k.p);
	msgpack_pack_int(&k.p, 2);
	pk_fails(&k, "map keys must be strings");
}

Test(decode_msgpack, duplicate_and_nul_keys_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 2);
	pk_str(&k, "a");
	msgpack_pack_int(&k.p, 1);
	pk_str(&k, "a");
	msgpack_pack_int(&k.p, 2);
	pk_fails(&k, "duplicate map key \"a\"");
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	msgpack_pack_str(&k.p, 3);
	msgpack_pack_str_body(&k.p, "a\0b", 3);
	msgpack_pack_int(&k.p, 1);
	pk_fails(&k, "NUL");
}

Test(decode_msgpack, bin_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	pk_str(&k, "blob");
	msgpack_pack_bin(&k.p, 3);
	msgpack_pack_bin_body(&k.p, "abc", 3);
	pk_fails(&k, "binary values are not supported");
}

Test(decode_msgpack, other_ext_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_ext(&k.p, 4, 5);
	msgpack_pack_ext_body(&k.p, "abcd", 4);
	pk_fails(&k, "extension type 5");
}

Test(decode_msgpack, invalid_utf8_string_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	pk_str(&k, "s");
	msgpack_pack_str(&k.p, 2);
	msgpack_pack_str_body(&k.p, "\xc3\x28", 2);
	pk_fails(&k, "UTF-8");
	pk_init(&k);
	msgpack_pack_array(&k.p, 1);
	msgpack_pack_str(&k.p, 1);
	msgpack_pack_str_body(&k.p, "\xff", 1);
	pk_fails(&k, "UTF-8");
}

/* Keys end up in JSON error messages and responses just like values do. */
Test(decode_msgpack, invalid_utf8_key_rejected)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_map(&k.p, 1);
	msgpack_pack_str(&k.p, 2);
	msgpack_pack_str_body(&k.p, "\xc3\x28", 2);
	msgpack_pack_int(&k.p, 1);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	if (v) {
		json_decref(v);
		msgpack_sbuffer_destroy(&k.sb);
		cr_assert_fail("a map key with invalid UTF-8 (c3 28) was accepted");
	}
	cr_assert_not_null(strstr(err, "UTF-8"), "%s", err);
	msgpack_sbuffer_destroy(&k.sb);
}

static void pack_nested(struct pk *k, int depth)
{
	for (int i = 0; i < depth; i++)
		msgpack_pack_array(&k->p, 1);
	msgpack_pack_int(&k->p, 1);
}

Test(decode_msgpack, nesting)
{
	struct pk k;
	pk_init(&k);
	pack_nested(&k, 20);
	char err[256];
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_not_null(v, "%s", err);
	json_decref(v);
	msgpack_sbuffer_destroy(&k.sb);

	pk_init(&k);
	pack_nested(&k, 65);
	v = pk_decode(&k, err, sizeof(err));
	cr_assert_null(v);
	cr_assert_gt(strlen(err), 0);
	msgpack_sbuffer_destroy(&k.sb);

	pk_init(&k);
	pack_nested(&k, 1000);
	v = pk_decode(&k, err, sizeof(err));
	cr_assert_null(v);
	cr_assert_gt(strlen(err), 0);
	msgpack_sbuffer_destroy(&k.sb);

	/* maps too */
	pk_init(&k);
	for (int i = 0; i < 100; i++) {
		msgpack_pack_map(&k.p, 1);
		pk_str(&k, "k");
	}
	msgpack_pack_nil(&k.p);
	v = pk_decode(&k, err, sizeof(err));
	cr_assert_null(v);
	msgpack_sbuffer_destroy(&k.sb);
}

Test(decode_msgpack, small_error_buffer_is_terminated)
{
	struct pk k;
	pk_init(&k);
	msgpack_pack_bin(&k.p, 1);
	msgpack_pack_bin_body(&k.p, "x", 1);
	char err[8];
	memset(err, 'x', sizeof(err));
	json_t *v = pk_decode(&k, err, sizeof(err));
	cr_assert_null(v);
	cr_assert_eq(strlen(err), sizeof(err) - 1);
	msgpack_sbuffer_destroy(&k.sb);
}

/* ---- content negotiation ---- */

static void ct_is(const char *ct, enum lav_format want)
{
	enum lav_format f = (enum lav_format)99;
	cr_assert(lav_format_from_content_type(ct, &f), "Content-Type \"%s\" rejected",
		  ct ? ct : "(null)");
	cr_assert_eq(f, want, "Content-Type \"%s\"", ct ? ct : "(null)");
}

static void ct_bad(const char *ct)
{
	enum lav_format f;
	cr_assert_not(lav_format_from_content_type(ct, &f), "Content-Type \"%s\" accepted", ct);
}

Test(negotiate, content_type)
{
	ct_is(NULL, LAV_FMT_JSON);
	ct_is("", LAV_FMT_JSON);
	ct_is("application/json", LAV_FMT_JSON);
	ct_is("application/json; charset=utf-8", LAV_FMT_JSON);
	ct_is("application/json;charset=UTF-8", LAV_FMT_JSON);
	ct_is("APPLICATION/JSON", LAV_FMT_JSON);
	ct_is("  Application/Json  ; charset=utf-8", LAV_FMT_JSON);
	ct_is("application/msgpack", LAV_FMT_MSGPACK);
	ct_is("application/x-msgpack", LAV_FMT_MSGPACK);
	ct_is("Application/X-MsgPack; foo=bar", LAV_FMT_MSGPACK);
	ct_is("application/msgpack ;", LAV_FMT_MSGPACK);
	ct_bad("text/plain");
	ct_bad("text/json");
	ct_bad("application/jsonx");
	ct_bad("application/json-patch+json");
	ct_bad("application/x-www-form-urlencoded");
	ct_bad("multipart/form-data; boundary=x");
	ct_bad("application/");
	ct_bad("msgpack");
	ct_bad(";charset=utf-8");
}

static void accept_is(const char *accept, enum lav_format want)
{
	enum lav_format f = (enum lav_format)99;
	cr_assert(lav_format_from_accept(accept, &f), "Accept \"%s\" rejected",
		  accept ? accept : "(null)");
	cr_assert_eq(f, want, "Accept \"%s\": got %s", accept ? accept : "(null)",
		     f == LAV_FMT_JSON ? "JSON" : "msgpack");
}

static void accept_bad(const char *accept)
{
	enum lav_format f;
	cr_assert_not(lav_format_from_accept(accept, &f), "Accept \"%s\" accepted", accept);
}

Test(negotiate, accept_basics)
{
	accept_is(NULL, LAV_FMT_JSON);
	accept_is("", LAV_FMT_JSON);
	accept_is("application/json", LAV_FMT_JSON);
	accept_is("application/msgpack", LAV_FMT_MSGPACK);
	accept_is("application/x-msgpack", LAV_FMT_MSGPACK);
	accept_is("Application/MsgPack", LAV_FMT_MSGPACK);
	accept_is("*/*", LAV_FMT_JSON);
	accept_is("application/*", LAV_FMT_JSON);
	accept_is("text/html, */*;q=0.8", LAV_FMT_JSON);
	accept_is("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", LAV_FMT_JSON);
}

Test(negotiate, accept_q_values)
{
	/* ties prefer JSON */
	accept_is("application/msgpack, application/json", LAV_FMT_JSON);
	accept_is("application/json;q=0.9, application/msgpack;q=0.9", LAV_FMT_JSON);
	/* msgpack only when its q is higher */
	accept_is("application/json;q=0.9, application/msgpack", LAV_FMT_MSGPACK);
	accept_is("application/json;q=0.5, application/msgpack;q=0.6", LAV_FMT_MSGPACK);
	accept_is("application/json;q=0.6, application/msgpack;q=0.5", LAV_FMT_JSON);
	accept_is("application/msgpack;Q=1, application/json;Q=0.1", LAV_FMT_MSGPACK);
	accept_is("application/json; charset=utf-8; q=0.4, application/msgpack; q=0.3",
		  LAV_FMT_JSON);
	accept_is("application/msgpack, */*;q=0.1", LAV_FMT_MSGPACK);
	accept_is("*/*;q=0.1, application/msgpack", LAV_FMT_MSGPACK);
	accept_is("application/x-msgpack;q=0.8, application/*;q=0.5", LAV_FMT_MSGPACK);
	/* the most specific range decides, whatever its q */
	accept_is("application/msgpack;q=0.2, */*", LAV_FMT_JSON);
}

Test(negotiate, accept_exclusions)
{
	accept_bad("application/json;q=0");
	accept_bad("application/json;q=0, application/msgpack;q=0");
	accept_is("application/json;q=0, application/msgpack", LAV_FMT_MSGPACK);
	accept_is("*/*, application/json;q=0", LAV_FMT_MSGPACK);
	accept_is("application/json;q=0, */*", LAV_FMT_MSGPACK);
	accept_is("application/msgpack;q=0, */*", LAV_FMT_JSON);
	accept_bad("*/*;q=0");
	accept_bad("application/*;q=0.0");
}

Test(negotiate, accept_nothing_acceptable)
{
	accept_bad("text/html");
	accept_bad("text/html, application/xhtml+xml");
	accept_bad("image/*");
	accept_bad("text/*;q=1");
}

Test(negotiate, accept_malformed_q_ignored)
{
	accept_bad("application/json;q=abc");
	accept_bad("application/json;q=2");
	accept_bad("application/json;q=-1");
	accept_is("application/json;q=abc, application/msgpack;q=0.5", LAV_FMT_MSGPACK);
	accept_is("application/msgpack;q=x, application/json;q=0.1", LAV_FMT_JSON);
	accept_is("application/json;q=1.5, */*;q=0.3", LAV_FMT_JSON);
}
