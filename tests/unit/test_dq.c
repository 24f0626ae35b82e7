/* Data quality of incoming points (DESIGN.md section 6): lav_point_parse
 * on a catalog built in the test (and the shipped one), every rejection
 * code with a message naming the field, defaults, the range policy, the
 * outlier rule and lav_dq_flag. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "lav/catalog.h"
#include "lav/codec.h"
#include "lav/dq.h"
#include "lav/timefmt.h"

/* ---- the catalog ---- */

static const char SOURCES[] =
	"[{\"id\":\"fred\",\"name\":\"FRED\",\"class\":\"macro\","
	"\"base_url\":\"https://api.stlouisfed.org\",\"rate_limit_rpm\":120,\"reliability\":0.99,"
	"\"auth\":\"api_key\",\"docs\":\"https://fred.stlouisfed.org/docs/api/fred/\"}]";

/* %s: id, %s: extra fields (leading comma) */
#define FEATURE                                                                                    \
	"{\"id\":\"%s\",\"entity\":\"macro\",\"description\":\"test\",\"unit\":\"USD\","         \
	"\"tags\":[],\"frequency\":\"1d\",\"ttl_ms\":86400000,\"source\":{\"id\":\"fred\","      \
	"\"class\":\"macro\",\"schema\":\"v1\",\"series\":\"X\"},\"version\":1%s}"

static struct lav_source *srcs;
static size_t nsrcs;
static struct lav_catalog cat;

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	cr_assert_not_null(v, "bad test JSON %s: %s", text, je.text);
	return v;
}

static void add_feature(json_t *arr, const char *id, const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), FEATURE, id, extra);
	json_array_append_new(arr, J(buf));
}

static void setup(void)
{
	memset(&cat, 0, sizeof(cat));
	json_t *doc = J(SOURCES);
	struct lav_errors e = {0};
	bool ok = lav_sources_parse(doc, "test/datasources.json", NULL, NULL, &srcs, &nsrcs, &e);
	json_decref(doc);
	cr_assert(ok, "%s", e.n ? e.msg[0] : "?");
	lav_errors_free(&e);

	json_t *arr = json_array();
	/* weekly, published a day late, flagged outside [0, 1e13] */
	add_feature(arr, "macro/us/walcl",
		    ",\"publication_delay\":\"1d\",\"quality\":{\"expected_range\":[0,1e13],"
		    "\"on_violation\":\"flag\"}");
	add_feature(arr, "macro/us/strict",
		    ",\"quality\":{\"expected_range\":[10,20],\"on_violation\":\"reject\"}");
	add_feature(arr, "macro/us/plain", "");
	add_feature(arr, "macro/us/count", ",\"dtype\":\"int64\"");
	add_feature(arr, "macro/us/default_policy", ",\"quality\":{\"expected_range\":[-1,1]}");
	ok = lav_catalog_parse_features(arr, "test/features.catalog.json", srcs, nsrcs, &cat, &e);
	json_decref(arr);
	cr_assert(ok, "catalog rejected: %s", e.n ? e.msg[0] : "?");
	lav_errors_free(&e);
	cr_assert_eq(cat.nfeatures, 5);
}

static void teardown(void)
{
	lav_catalog_free(&cat);
	lav_sources_free(srcs, nsrcs);
	srcs = NULL;
	nsrcs = 0;
}

TestSuite(dq_reject, .init = setup, .fini = teardown);
TestSuite(dq_accept, .init = setup, .fini = teardown);
TestSuite(dq_range, .init = setup, .fini = teardown);
TestSuite(dq_outlier);
TestSuite(dq_flag);
TestSuite(dq_shipped);

/* ---- parsing helpers ---- */

static int64_t T(const char *s)
{
	int64_t us = 0;
	const char *why = NULL;
	cr_assert(lav_time_parse(s, strlen(s), &us, &why), "%s: %s", s, why);
	return us;
}

#define NOW "2025-10-20T12:00:00Z"

static struct lav_point_in in;
static const char *code;
static char msg[256];

static bool parse_at(const char *text, int64_t now)
{
	json_t *obj = J(text);
	code = NULL;
	memset(msg, 0, sizeof(msg));
	memset(&in, 0x5A, sizeof(in)); /* must be fully (re)initialized */
	bool ok = lav_point_parse(obj, &cat, now, &in, &code, msg, sizeof(msg));
	json_decref(obj);
	return ok;
}

static bool parse(const char *text)
{
	return parse_at(text, T(NOW));
}

static void accept_ok(const char *text)
{
	bool ok = parse(text);
	cr_assert(ok, "rejected (%s: %s): %s", code ? code : "?", msg, text);
}

/* Rejected with code, and the message names "field". */
static void reject_as(const char *text, const char *want_code, const char *field)
{
	bool ok = parse(text);
	if (ok)
		lav_point_clear(&in.point);
	cr_assert_not(ok, "accepted, want %s: %s", want_code, text);
	cr_assert_not_null(code);
	cr_assert_str_eq(code, want_code, "code %s, want %s (%s): %s", code, want_code, msg, text);
	if (field) {
		char quoted[80];
		snprintf(quoted, sizeof(quoted), "\"%s\"", field);
		cr_assert(strstr(msg, quoted), "message \"%s\" does not name %s: %s", msg, quoted,
			  text);
	}
	/* out is cleared on failure */
	cr_assert_null(in.point.meta);
	cr_assert_null(in.point.evidence);
}

/* A valid point on feature fid with extra fields (leading comma). */
static const char *P(const char *fid, const char *extra)
{
	static char buf[4][1024];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]),
		 "{\"featureId\":\"%s\",\"ts\":\"2025-10-20T00:00:00Z\",\"value\":5%s}", fid,
		 extra);
	return buf[k];
}

/* Like P but without ts/value: the test supplies them. */
static const char *Q(const char *fid, const char *fields)
{
	static char buf[4][1024];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "{\"featureId\":\"%s\"%s}", fid, fields);
	return buf[k];
}

/* ---- every rejection ---- */

Test(dq_reject, not_an_object)
{
	reject_as("[]", "invalid_point", NULL);
	reject_as("42", "invalid_point", NULL);
	reject_as("null", "invalid_point", NULL);
}

Test(dq_reject, unknown_feature)
{
	reject_as(P("macro/us/nope", ""), "unknown_feature", "featureId");
	reject_as(P("MACRO/US/WALCL", ""), "unknown_feature", "featureId");
	reject_as(P("", ""), "unknown_feature", "featureId");
	cr_assert(strstr(msg, "is not in the catalog"));
}

Test(dq_reject, feature_id_missing_or_not_a_string)
{
	reject_as("{\"ts\":\"2025-10-20T00:00:00Z\",\"value\":1}", "invalid_field", "featureId");
	reject_as("{\"featureId\":5,\"ts\":\"2025-10-20T00:00:00Z\",\"value\":1}", "invalid_field",
	       "featureId");
	reject_as("{\"featureId\":null,\"ts\":\"2025-10-20T00:00:00Z\",\"value\":1}",
	       "invalid_field", "featureId");
}

Test(dq_reject, invalid_value)
{
	const char *ts = ",\"ts\":\"2025-10-20T00:00:00Z\"";
	char f[256];
	const char *bad[] = {"\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"5\"", "\"abc\"",
			     "true",	"null",	      "[1]",	       "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(f, sizeof(f), "%s,\"value\":%s", ts, bad[i]);
		reject_as(Q("macro/us/plain", f), "invalid_value", "value");
	}
	/* missing */
	reject_as(Q("macro/us/plain", ts), "invalid_value", "value");
	/* the decoder's spellings of non-finite values are named */
	snprintf(f, sizeof(f), "%s,\"value\":\"NaN\"", ts);
	reject_as(Q("macro/us/plain", f), "invalid_value", "value");
	cr_assert(strstr(msg, "NaN"), "%s", msg);
}

Test(dq_reject, huge_finite_values_accepted)
{
	/* jansson refuses to hold NaN/Infinity (json_real returns NULL), so the
	 * decoder turns them into the strings tested above; the largest finite
	 * doubles are values like any other */
	json_t *o = J(P("macro/us/plain", ""));
	json_object_set_new(o, "value", json_real(1e308));
	bool ok = lav_point_parse(o, &cat, T(NOW), &in, &code, msg, sizeof(msg));
	cr_assert(ok, "%s", msg);
	lav_point_clear(&in.point);
	json_decref(o);
}

Test(dq_reject, int64_feature_rejects_fractions)
{
	reject_as(Q("macro/us/count", ",\"ts\":\"2025-10-20T00:00:00Z\",\"value\":1.5"),
	       "invalid_value", "value");
	reject_as(Q("macro/us/count", ",\"ts\":\"2025-10-20T00:00:00Z\",\"value\":1e300"),
	       "invalid_value", "value");
	accept_ok(Q("macro/us/count", ",\"ts\":\"2025-10-20T00:00:00Z\",\"value\":2.0"));
	cr_assert_eq(in.point.value, 2);
	lav_point_clear(&in.point);
}

Test(dq_reject, invalid_timestamp)
{
	const char *bad[] = {"\"2025-10-20\"",		   "\"2025-10-20T00:00:00\"",
			     "\"not a time\"",		   "\"\"",
			     "\"2025-13-01T00:00:00Z\"",   "\"2025-02-30T00:00:00Z\"",
			     "\"2025-10-20 00:00:00Z x\"", "1760918400",
			     "null",			   "true"};
	char f[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(f, sizeof(f), ",\"ts\":%s,\"value\":1", bad[i]);
		reject_as(Q("macro/us/plain", f), "invalid_timestamp", "ts");
	}
	reject_as(Q("macro/us/plain", ",\"value\":1"), "invalid_timestamp", "ts");
	/* available_at: malformed, or before ts */
	reject_as(P("macro/us/plain", ",\"available_at\":\"yesterday\""), "invalid_timestamp",
	       "available_at");
	reject_as(P("macro/us/plain", ",\"available_at\":5"), "invalid_timestamp", "available_at");
	reject_as(P("macro/us/plain", ",\"available_at\":\"2025-10-19T23:59:59.999999Z\""),
	       "invalid_timestamp", "available_at");
}

Test(dq_reject, future_timestamp_beyond_five_minutes)
{
	/* now = 12:00:00; the limit is 12:05:00 inclusive */
	accept_ok(Q("macro/us/plain", ",\"ts\":\"2025-10-20T12:05:00Z\",\"value\":1"));
	cr_assert_eq(in.point.ts, T("2025-10-20T12:05:00Z"));
	lav_point_clear(&in.point);
	reject_as(Q("macro/us/plain", ",\"ts\":\"2025-10-20T12:05:00.000001Z\",\"value\":1"),
	       "future_timestamp", "ts");
	reject_as(Q("macro/us/plain", ",\"ts\":\"2026-01-01T00:00:00Z\",\"value\":1"),
	       "future_timestamp", "ts");
	/* offsets count: 14:05+02:00 is 12:05Z */
	accept_ok(Q("macro/us/plain", ",\"ts\":\"2025-10-20T14:05:00+02:00\",\"value\":1"));
	lav_point_clear(&in.point);

	accept_ok(P("macro/us/plain", ",\"available_at\":\"2025-10-20T12:05:00Z\""));
	cr_assert_eq(in.point.available_at, T("2025-10-20T12:05:00Z"));
	lav_point_clear(&in.point);
	reject_as(P("macro/us/plain", ",\"available_at\":\"2025-10-20T12:05:00.000001Z\""),
	       "future_timestamp", "available_at");
}

Test(dq_reject, invalid_confidence)
{
	const char *bad[] = {"-0.000001", "1.000001", "-1", "2", "\"0.5\"", "true", "[]", "{}"};
	char f[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(f, sizeof(f), ",\"confidence\":%s", bad[i]);
		reject_as(P("macro/us/plain", f), "invalid_confidence", "confidence");
	}
	const char *good[] = {"0", "1", "0.5", "0.0", "1.0"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(f, sizeof(f), ",\"confidence\":%s", good[i]);
		accept_ok(P("macro/us/plain", f));
		cr_assert_eq(in.point.confidence, strtod(good[i], NULL));
		lav_point_clear(&in.point);
	}
}

Test(dq_reject, invalid_entity)
{
	char longest[LAV_ENTITY_MAX + 1], too_long[LAV_ENTITY_MAX + 2];
	memset(longest, 'A', LAV_ENTITY_MAX);
	longest[LAV_ENTITY_MAX] = '\0';
	memset(too_long, 'A', LAV_ENTITY_MAX + 1);
	too_long[LAV_ENTITY_MAX + 1] = '\0';
	char f[256];
	snprintf(f, sizeof(f), ",\"entity\":\"%s\"", too_long);
	reject_as(P("macro/us/plain", f), "invalid_entity", "entity");
	const char *bad[] = {"\"BTC USD\"", "\"BTC\\n\"", "\"BTC\\t\"", "\"é\"",   "\"a\\\\b\"",
			     "\"a\\\"b\"", "\"a,b\"",	  "\"a|b\"",	"\"a\\u001fb\"", "5",
			     "true",	   "[]",	  "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(f, sizeof(f), ",\"entity\":%s", bad[i]);
		reject_as(P("macro/us/plain", f), "invalid_entity", "entity");
	}
	snprintf(f, sizeof(f), ",\"entity\":\"%s\"", longest);
	accept_ok(P("macro/us/plain", f));
	cr_assert_str_eq(in.entity, longest);
	lav_point_clear(&in.point);
	accept_ok(P("macro/us/plain", ",\"entity\":\"btc-usd:spot/X.y_9\""));
	cr_assert_str_eq(in.entity, "btc-usd:spot/X.y_9");
	lav_point_clear(&in.point);
}

/* MessagePack strings may hold NUL bytes (lav_decode_body keeps them: only
 * map keys are checked), and jansson stores them; C-string checks would see
 * a truncated "BTC" and accept it as another series. */
static bool parse_obj(json_t *obj)
{
	code = NULL;
	memset(msg, 0, sizeof(msg));
	bool ok = lav_point_parse(obj, &cat, T(NOW), &in, &code, msg, sizeof(msg));
	json_decref(obj);
	if (ok)
		lav_point_clear(&in.point);
	return ok;
}

Test(dq_reject, entity_with_nul_byte)
{
	json_t *o = J(P("macro/us/plain", ""));
	json_object_set_new(o, "entity", json_stringn("BTC\0X", 5));
	bool ok = parse_obj(o);
	cr_assert_not(ok, "entity \"BTC\\0X\" accepted as \"%s\"", in.entity);
	cr_assert_str_eq(code, "invalid_entity");
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

Test(dq_reject, entity_with_nul_byte_from_a_msgpack_body)
{
	msgpack_sbuffer sb;
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "featureId", 9);
	pack_str(&pk, "macro/us/plain", 14);
	pack_str(&pk, "entity", 6);
	pack_str(&pk, "BTC\0X", 5);
	pack_str(&pk, "ts", 2);
	pack_str(&pk, "2025-10-20T00:00:00Z", 20);
	pack_str(&pk, "value", 5);
	msgpack_pack_double(&pk, 5);
	char err[128] = "";
	json_t *o = lav_decode_body(LAV_FMT_MSGPACK, sb.data, sb.size, err, sizeof(err));
	msgpack_sbuffer_destroy(&sb);
	if (!o)
		return; /* the decoder refusing it is fine too */
	bool ok = parse_obj(o);
	cr_assert_not(ok, "MessagePack entity \"BTC\\0X\" accepted as \"%s\"", in.entity);
	cr_assert_str_eq(code, "invalid_entity");
}

Test(dq_reject, feature_id_with_nul_byte)
{
	json_t *o = J(P("macro/us/plain", ""));
	json_object_set_new(o, "featureId", json_stringn("macro/us/plain\0junk", 19));
	bool ok = parse_obj(o);
	cr_assert_not(ok, "featureId \"macro/us/plain\\0junk\" accepted");
	cr_assert(strcmp(code, "unknown_feature") == 0 || strcmp(code, "invalid_field") == 0,
		  "code %s", code);
}

Test(dq_reject, timestamp_with_nul_byte)
{
	json_t *o = J(P("macro/us/plain", ""));
	json_object_set_new(o, "ts", json_stringn("2025-10-20T00:00:00Z\0x", 22));
	cr_assert_not(parse_obj(o));
	cr_assert_str_eq(code, "invalid_timestamp");
}

Test(dq_reject, invalid_field)
{
	reject_as(P("macro/us/plain", ",\"foo\":1"), "invalid_field", "foo");
	reject_as(P("macro/us/plain", ",\"featureid\":\"x\""), "invalid_field", "featureid");
	reject_as(P("macro/us/plain", ",\"meta\":\"x\""), "invalid_field", "meta");
	reject_as(P("macro/us/plain", ",\"meta\":[1]"), "invalid_field", "meta");
	reject_as(P("macro/us/plain", ",\"meta\":3"), "invalid_field", "meta");
	reject_as(P("macro/us/plain", ",\"evidence\":{\"source\":\"fred\"}"), "invalid_field",
	       "evidence");
	reject_as(P("macro/us/plain", ",\"evidence\":[{\"ref\":\"x\"}]"), "invalid_field",
	       "evidence[0]");
	reject_as(P("macro/us/plain", ",\"evidence\":[{\"source\":\"fred\"},\"fred\"]"),
	       "invalid_field", "evidence[1]");
	reject_as(P("macro/us/plain", ",\"evidence\":[{\"source\":5}]"), "invalid_field",
	       "evidence[0]");
	reject_as(P("macro/us/plain", ",\"stale\":\"yes\""), "invalid_field", "stale");
	reject_as(P("macro/us/plain", ",\"stale\":0"), "invalid_field", "stale");
}

Test(dq_reject, failure_after_copies_leaks_nothing)
{
	/* meta and evidence are copied before stale / available_at / the range
	 * are checked: a later rejection must release them (ASan checks) */
	reject_as(P("macro/us/plain", ",\"meta\":{\"a\":[1,2]},\"evidence\":[{\"source\":\"fred\"}],"
				   "\"stale\":\"no\""),
	       "invalid_field", "stale");
	reject_as(P("macro/us/plain", ",\"meta\":{\"a\":1},\"available_at\":\"bad\""),
	       "invalid_timestamp", "available_at");
	reject_as(Q("macro/us/strict",
		 ",\"ts\":\"2025-10-20T00:00:00Z\",\"value\":25,\"meta\":{\"a\":1},"
		 "\"evidence\":[{\"source\":\"fred\"}]"),
	       "out_of_range", "value");
}

/* ---- accepted points and defaults ---- */

Test(dq_accept, defaults)
{
	accept_ok(P("macro/us/plain", ""));
	cr_assert_str_eq(in.feature->id, "macro/us/plain");
	cr_assert_str_eq(in.entity, "");
	cr_assert_eq(in.point.ts, T("2025-10-20T00:00:00Z"));
	cr_assert_eq(in.point.available_at, in.point.ts, "no publication delay: known at ts");
	cr_assert_eq(in.point.value, 5);
	cr_assert_eq(in.point.confidence, 1);
	cr_assert_null(in.point.meta);
	cr_assert_null(in.point.evidence);
	cr_assert_not(in.flagged);
	lav_point_clear(&in.point);
	/* explicit nulls mean the same */
	accept_ok(P("macro/us/plain", ",\"entity\":null,\"confidence\":null,\"meta\":null,"
				   "\"evidence\":null,\"available_at\":null,\"stale\":null"));
	cr_assert_str_eq(in.entity, "");
	cr_assert_eq(in.point.confidence, 1);
	cr_assert_null(in.point.meta);
	cr_assert_eq(in.point.available_at, in.point.ts);
	lav_point_clear(&in.point);
	/* stale is accepted and ignored */
	accept_ok(P("macro/us/plain", ",\"stale\":true"));
	lav_point_clear(&in.point);
}

Test(dq_accept, all_fields)
{
	accept_ok(Q("macro/us/plain",
		 ",\"entity\":\"BTC\",\"ts\":\"2025-10-20T01:02:03.456789Z\","
		 "\"available_at\":\"2025-10-20T03:00:00+01:00\",\"value\":-1.25,"
		 "\"confidence\":0.8,\"meta\":{\"k\":[1,\"x\"]},"
		 "\"evidence\":[{\"source\":\"fred\",\"ref\":\"WALCL\","
		 "\"fetched_at\":\"2025-10-20T00:00:00Z\",\"sha256\":\"ab\"}]"));
	cr_assert_str_eq(in.entity, "BTC");
	cr_assert_eq(in.point.ts, T("2025-10-20T01:02:03.456789Z"));
	cr_assert_eq(in.point.available_at, T("2025-10-20T02:00:00Z"));
	cr_assert_eq(in.point.value, -1.25);
	cr_assert_eq(in.point.confidence, 0.8);
	json_t *want_meta = J("{\"k\":[1,\"x\"]}");
	cr_assert(json_equal(in.point.meta, want_meta));
	json_decref(want_meta);
	cr_assert_eq(json_array_size(in.point.evidence), 1);
	lav_point_clear(&in.point);
}

Test(dq_accept, meta_and_evidence_are_copies)
{
	json_t *obj = J(P("macro/us/plain", ",\"meta\":{\"a\":1},\"evidence\":[{\"source\":\"s\"}]"));
	cr_assert(lav_point_parse(obj, &cat, T(NOW), &in, &code, msg, sizeof(msg)));
	json_object_set_new(json_object_get(obj, "meta"), "a", json_integer(2));
	json_array_clear(json_object_get(obj, "evidence"));
	json_decref(obj);
	cr_assert_eq(json_integer_value(json_object_get(in.point.meta, "a")), 1);
	cr_assert_eq(json_array_size(in.point.evidence), 1);
	lav_point_clear(&in.point);
}

Test(dq_accept, available_at_from_publication_delay)
{
	/* walcl: published 1 day after ts */
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":5"));
	cr_assert_eq(in.point.available_at, T("2025-10-18T00:00:00Z"));
	lav_point_clear(&in.point);
	/* not yet due: known to lav now */
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-20T06:00:00Z\",\"value\":5"));
	cr_assert_eq(in.point.available_at, T(NOW));
	lav_point_clear(&in.point);
	/* exactly due now */
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-19T12:00:00Z\",\"value\":5"));
	cr_assert_eq(in.point.available_at, T(NOW));
	lav_point_clear(&in.point);
	/* ts slightly in the future: never before ts */
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-20T12:03:00Z\",\"value\":5"));
	cr_assert_eq(in.point.available_at, T("2025-10-20T12:03:00Z"));
	lav_point_clear(&in.point);
	accept_ok(Q("macro/us/plain", ",\"ts\":\"2025-10-20T12:03:00Z\",\"value\":5"));
	cr_assert_eq(in.point.available_at, T("2025-10-20T12:03:00Z"));
	lav_point_clear(&in.point);
	/* an explicit available_at wins */
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":5,"
				   "\"available_at\":\"2025-10-17T00:00:00Z\""));
	cr_assert_eq(in.point.available_at, T("2025-10-17T00:00:00Z"));
	lav_point_clear(&in.point);
}

/* ---- the range policy ---- */

Test(dq_range, flag_halves_confidence_and_marks_meta)
{
	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":-5"));
	cr_assert(in.flagged);
	cr_assert_eq(in.point.value, -5, "a flagged value is stored as is");
	cr_assert_eq(in.point.confidence, 0.5);
	json_t *want = J("{\"dq\":[\"out_of_range\"]}");
	cr_assert(json_equal(in.point.meta, want), "meta %s",
		  json_dumps(in.point.meta, JSON_COMPACT));
	json_decref(want);
	lav_point_clear(&in.point);

	accept_ok(Q("macro/us/walcl", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":2e13,"
				   "\"confidence\":0.8,\"meta\":{\"src\":\"x\",\"dq\":[\"manual\"]}"));
	cr_assert(in.flagged);
	cr_assert_eq(in.point.confidence, 0.4);
	want = J("{\"src\":\"x\",\"dq\":[\"manual\",\"out_of_range\"]}");
	cr_assert(json_equal(in.point.meta, want), "existing meta not kept");
	json_decref(want);
	lav_point_clear(&in.point);

	/* the default policy is flag */
	accept_ok(Q("macro/us/default_policy", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":1.5"));
	cr_assert(in.flagged);
	cr_assert_eq(in.point.confidence, 0.5);
	lav_point_clear(&in.point);
}

Test(dq_range, bounds_are_inclusive)
{
	const char *in_range[] = {"0", "1e13", "5000"};
	char f[128];
	for (size_t i = 0; i < 3; i++) {
		snprintf(f, sizeof(f), ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":%s", in_range[i]);
		accept_ok(Q("macro/us/walcl", f));
		cr_assert_not(in.flagged, "%s flagged", in_range[i]);
		cr_assert_eq(in.point.confidence, 1);
		cr_assert_null(in.point.meta);
		lav_point_clear(&in.point);
	}
	accept_ok(Q("macro/us/strict", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":10"));
	lav_point_clear(&in.point);
	accept_ok(Q("macro/us/strict", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":20"));
	lav_point_clear(&in.point);
}

Test(dq_range, reject_policy)
{
	reject_as(Q("macro/us/strict", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":20.000001"),
	       "out_of_range", "value");
	cr_assert(strstr(msg, "expected_range"), "%s", msg);
	reject_as(Q("macro/us/strict", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":-3"),
	       "out_of_range", "value");
}

Test(dq_range, no_range_no_flag)
{
	accept_ok(Q("macro/us/plain", ",\"ts\":\"2025-10-17T00:00:00Z\",\"value\":-1e300"));
	cr_assert_not(in.flagged);
	lav_point_clear(&in.point);
}

/* ---- outliers ---- */

/* median 0, MAD 1 (sigma 1.4826) */
static const double W10[10] = {-2, -1, -1, 0, 0, 0, 0, 1, 1, 2};

Test(dq_outlier, too_few_points)
{
	double w[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
	cr_assert_not(lav_dq_is_outlier(w, 9, 1e12, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(w, 0, 1e12, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(W10, 9, 1e12, LAV_DQ_OUTLIER_K));
	cr_assert(lav_dq_is_outlier(W10, 10, 1e12, LAV_DQ_OUTLIER_K));
}

Test(dq_outlier, sigma_multiples)
{
	double sigma = 1.4826;
	cr_assert(lav_dq_is_outlier(W10, 10, 7 * sigma, LAV_DQ_OUTLIER_K), "7 sigma not flagged");
	cr_assert(lav_dq_is_outlier(W10, 10, -7 * sigma, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(W10, 10, 5 * sigma, LAV_DQ_OUTLIER_K), "5 sigma flagged");
	cr_assert_not(lav_dq_is_outlier(W10, 10, -5 * sigma, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(W10, 10, 0, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(W10, 10, 6 * sigma * 0.999, LAV_DQ_OUTLIER_K));
	cr_assert(lav_dq_is_outlier(W10, 10, 6 * sigma * 1.001, LAV_DQ_OUTLIER_K));
	/* k is honoured */
	cr_assert(lav_dq_is_outlier(W10, 10, 5 * sigma, 4));
}

Test(dq_outlier, shifted_and_scaled_window)
{
	/* 30 points around 1000 with MAD 10: x - median over 14.826 */
	double w[30];
	for (int i = 0; i < 30; i++)
		w[i] = 1000 + 10 * W10[i % 10];
	cr_assert(lav_dq_is_outlier(w, 30, 1000 + 7 * 14.826, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(w, 30, 1000 + 5 * 14.826, LAV_DQ_OUTLIER_K));
	/* the window is not modified */
	for (int i = 0; i < 30; i++)
		cr_assert_eq(w[i], 1000 + 10 * W10[i % 10]);
}

Test(dq_outlier, mad_zero)
{
	double w[12];
	for (int i = 0; i < 12; i++)
		w[i] = 3;
	cr_assert_not(lav_dq_is_outlier(w, 12, 3, LAV_DQ_OUTLIER_K));
	cr_assert(lav_dq_is_outlier(w, 12, 3.000001, LAV_DQ_OUTLIER_K));
	cr_assert(lav_dq_is_outlier(w, 12, 2, LAV_DQ_OUTLIER_K));
	/* most equal, a few others: MAD still 0 */
	w[0] = 100;
	w[1] = -100;
	cr_assert_not(lav_dq_is_outlier(w, 12, 3, LAV_DQ_OUTLIER_K));
	cr_assert(lav_dq_is_outlier(w, 12, 4, LAV_DQ_OUTLIER_K));
}

Test(dq_outlier, even_count_median_is_the_mean_of_the_middle_two)
{
	/* 10 values: middle two 10 and 20 → median 15; deviations 5,5,... */
	double w[10] = {10, 10, 10, 10, 10, 20, 20, 20, 20, 20};
	/* MAD = 5, sigma 7.413: 15 + 7*7.413 flagged, 15 + 5*7.413 not */
	cr_assert(lav_dq_is_outlier(w, 10, 15 + 7 * 7.413, LAV_DQ_OUTLIER_K));
	cr_assert_not(lav_dq_is_outlier(w, 10, 15 + 5 * 7.413, LAV_DQ_OUTLIER_K));
}

/* ---- lav_dq_flag ---- */

Test(dq_flag, creates_and_does_not_duplicate)
{
	struct lav_point p = {0};
	lav_dq_flag(&p, "outlier");
	lav_dq_flag(&p, "outlier");
	lav_dq_flag(&p, "out_of_range");
	lav_dq_flag(&p, "outlier");
	json_t *want = J("{\"dq\":[\"outlier\",\"out_of_range\"]}");
	cr_assert(json_equal(p.meta, want), "%s", json_dumps(p.meta, JSON_COMPACT));
	json_decref(want);
	lav_point_clear(&p);
}

Test(dq_flag, keeps_existing_meta)
{
	struct lav_point p = {0};
	p.meta = J("{\"a\":1,\"dq\":[\"stale_source\",5]}");
	lav_dq_flag(&p, "stale_source");
	lav_dq_flag(&p, "outlier");
	json_t *want = J("{\"a\":1,\"dq\":[\"stale_source\",5,\"outlier\"]}");
	cr_assert(json_equal(p.meta, want), "%s", json_dumps(p.meta, JSON_COMPACT));
	json_decref(want);
	lav_point_clear(&p);
	/* dq that is not an array becomes one */
	p.meta = J("{\"dq\":\"x\"}");
	lav_dq_flag(&p, "outlier");
	want = J("{\"dq\":[\"outlier\"]}");
	cr_assert(json_equal(p.meta, want), "%s", json_dumps(p.meta, JSON_COMPACT));
	json_decref(want);
	lav_point_clear(&p);
}

/* ---- the shipped catalog ---- */

static const char *no_env(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

Test(dq_shipped, a_mid_range_point_for_every_feature)
{
	const char *repo = getenv("LAV_REPO");
	cr_assert(repo && *repo, "LAV_REPO not set (meson sets it)");
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/config", repo);
	struct lav_catalog c = {0};
	struct lav_errors e = {0};
	bool ok = lav_catalog_load(dir, no_env, NULL, &c, &e);
	cr_assert(ok, "%s", e.n ? e.msg[0] : "?");
	lav_errors_free(&e);
	int64_t now = T(NOW);
	for (size_t i = 0; i < c.nfeatures; i++) {
		const struct lav_feature *f = &c.features[i];
		double v = f->has_range ? (f->range_lo + f->range_hi) / 2 : 1;
		if (f->dtype == LAV_DTYPE_INT64)
			v = floor(v);
		json_t *o = json_pack("{s:s,s:s,s:s,s:f}", "featureId", f->id, "entity",
				      f->entity == LAV_ENTITY_MACRO ? "" : "BTC", "ts",
				      "2025-10-10T00:00:00Z", "value", v);
		struct lav_point_in pin;
		const char *cd = NULL;
		char m[256] = "";
		ok = lav_point_parse(o, &c, now, &pin, &cd, m, sizeof(m));
		if (f->computed) {
			/* the semáforo's outputs are written by lavd only */
			cr_assert_not(ok, "%s accepted from a publisher", f->id);
			cr_assert_str_eq(cd, "computed_feature");
			cr_assert(strstr(m, f->id), "%s", m);
			json_decref(o);
			continue;
		}
		cr_assert(ok, "%s: %s %s", f->id, cd, m);
		cr_assert_not(pin.flagged, "%s flagged", f->id);
		cr_assert_eq(pin.feature, f);
		cr_assert_eq(pin.point.available_at,
			     T("2025-10-10T00:00:00Z") + f->publication_delay_ms * 1000);
		lav_point_clear(&pin.point);
		/* and far outside the range */
		if (f->has_range) {
			json_object_set_new(o, "value",
					    json_real(f->range_hi + (f->range_hi - f->range_lo) * 10));
			ok = lav_point_parse(o, &c, now, &pin, &cd, m, sizeof(m));
			if (f->on_violation == LAV_VIOLATION_REJECT) {
				cr_assert_not(ok, "%s: out of range accepted", f->id);
				cr_assert_str_eq(cd, "out_of_range");
			} else {
				cr_assert(ok, "%s: %s %s", f->id, cd, m);
				cr_assert(pin.flagged);
				lav_point_clear(&pin.point);
			}
		}
		json_decref(o);
	}
	lav_catalog_free(&c);
}
