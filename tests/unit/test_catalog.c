/* Feature catalog and data sources: one test per validation rule, and the
 * shipped config/ files. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lav/catalog.h"

#define FILE_NAME "test/features.catalog.json"

/* ---- environment table ---- */

struct env {
	const char *k[8];
	const char *v[8];
	int n;
};

static const char *env_get(const char *name, void *arg)
{
	struct env *e = arg;
	for (int i = 0; e && i < e->n; i++)
		if (strcmp(e->k[i], name) == 0)
			return e->v[i];
	return NULL;
}

/* ---- sources used by the synthetic catalogs ---- */

static const char SOURCES[] =
	"[{\"id\":\"fred\",\"name\":\"FRED\",\"class\":\"macro\","
	"\"base_url\":\"https://api.stlouisfed.org\",\"rate_limit_rpm\":120,\"reliability\":0.99,"
	"\"auth\":\"api_key\",\"docs\":\"https://fred.stlouisfed.org/docs/api/fred/\"},"
	"{\"id\":\"lav\",\"name\":\"lav itself\",\"class\":\"derived\","
	"\"base_url\":\"http://127.0.0.1:1\",\"rate_limit_rpm\":1,\"reliability\":1,\"auth\":\"none\"}]";

static struct lav_source *srcs;
static size_t nsrcs;
static struct lav_catalog cat;
static struct lav_errors errs;

static void setup(void)
{
	memset(&cat, 0, sizeof(cat));
	memset(&errs, 0, sizeof(errs));
	json_t *doc = json_loads(SOURCES, 0, NULL);
	cr_assert_not_null(doc);
	struct lav_errors e = {0};
	bool ok = lav_sources_parse(doc, "test/datasources.json", env_get, NULL, &srcs, &nsrcs, &e);
	json_decref(doc);
	cr_assert(ok, "%s", e.n ? e.msg[0] : "?");
	cr_assert_eq(nsrcs, 2);
}

static void teardown(void)
{
	lav_catalog_free(&cat);
	lav_errors_free(&errs);
	lav_sources_free(srcs, nsrcs);
	srcs = NULL;
	nsrcs = 0;
}

TestSuite(catalog, .init = setup, .fini = teardown);
TestSuite(catalog_derived, .init = setup, .fini = teardown);
TestSuite(catalog_shipped, .init = setup, .fini = teardown);

/* ---- building FeatureSpec documents ---- */

static json_t *feat(const char *id)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"%s\",\"entity\":\"macro\",\"description\":\"Fed total assets\","
		 "\"unit\":\"USD\",\"tags\":[\"macro\",\"liquidity\"],\"frequency\":\"1w\","
		 "\"ttl_ms\":777600000,\"source\":{\"id\":\"fred\",\"class\":\"macro\","
		 "\"schema\":\"v1\",\"series\":\"WALCL\"},\"quality\":{\"expected_range\":[0,10],"
		 "\"seasonal\":false},\"version\":1}",
		 id);
	json_error_t je;
	json_t *f = json_loads(buf, 0, &je);
	cr_assert_not_null(f, "%s", je.text);
	return f;
}

static json_t *derived(const char *id, const char *op, const char *inputs_json)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"%s\",\"entity\":\"macro\",\"description\":\"derived\",\"unit\":\"ratio\","
		 "\"tags\":[],\"frequency\":\"1d\",\"ttl_ms\":86400000,"
		 "\"source\":{\"id\":\"lav\",\"class\":\"derived\",\"schema\":\"v1\"},"
		 "\"derived\":{\"op\":\"%s\",\"inputs\":%s},\"version\":1}",
		 id, op, inputs_json);
	json_error_t je;
	json_t *f = json_loads(buf, 0, &je);
	cr_assert_not_null(f, "%s", je.text);
	return f;
}

static json_t *params(json_t *f, const char *params_json)
{
	json_t *p = json_loads(params_json, 0, NULL);
	cr_assert_not_null(p);
	json_object_set_new(json_object_get(f, "derived"), "params", p);
	return f;
}

static json_t *sub(json_t *f, const char *key)
{
	json_t *o = json_object_get(f, key);
	cr_assert_not_null(o);
	return o;
}

/* A catalog array of the given features (references are stolen). */
static json_t *cat_of(json_t *first, ...)
{
	json_t *arr = json_array();
	va_list ap;
	va_start(ap, first);
	for (json_t *f = first; f; f = va_arg(ap, json_t *))
		json_array_append_new(arr, f);
	va_end(ap);
	return arr;
}

static bool run(json_t *doc)
{
	lav_catalog_free(&cat);
	lav_errors_free(&errs);
	bool ok = lav_catalog_parse_features(doc, FILE_NAME, srcs, nsrcs, &cat, &errs);
	json_decref(doc);
	return ok;
}

static void dump_errors(char *out, size_t outlen)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < errs.n && n + 1 < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "\n  %s", errs.msg[i]);
}

static bool has_error(const char *a, const char *b, const char *c, const char *d)
{
	for (size_t i = 0; i < errs.n; i++) {
		const char *m = errs.msg[i];
		if ((!a || strstr(m, a)) && (!b || strstr(m, b)) && (!c || strstr(m, c)) &&
		    (!d || strstr(m, d)))
			return true;
	}
	return false;
}

static void run_ok(json_t *doc)
{
	bool ok = run(doc);
	char all[4096];
	dump_errors(all, sizeof(all));
	cr_assert(ok, "catalog rejected:%s", all);
	cr_assert_eq(errs.n, 0);
}

/* The catalog must be rejected with a message naming the file, feature[idx]
 * (with its "id" when id is not NULL), the field, and containing needle. */
static void expect_err(json_t *doc, size_t idx, const char *id, const char *field,
		       const char *needle)
{
	bool ok = run(doc);
	char all[4096];
	dump_errors(all, sizeof(all));
	cr_assert_not(ok, "catalog accepted; expected an error on field %s", field);
	cr_assert_null(cat.features);
	cr_assert_eq(cat.nfeatures, 0);
	char who[256], fld[160];
	if (id)
		snprintf(who, sizeof(who), "feature[%zu] \"%s\"", idx, id);
	else
		snprintf(who, sizeof(who), "feature[%zu]", idx);
	snprintf(fld, sizeof(fld), "field \"%s\"", field);
	cr_assert(has_error(FILE_NAME, who, fld, needle),
		  "no error naming %s, %s, %s and \"%s\"; got:%s", FILE_NAME, who, fld,
		  needle ? needle : "", all);
}

/* Dependency-graph errors are reported after sorting, by id. */
static void expect_graph_err(json_t *doc, const char *id, const char *needle)
{
	bool ok = run(doc);
	char all[4096];
	dump_errors(all, sizeof(all));
	cr_assert_not(ok, "catalog accepted; expected a derived.inputs error on %s", id);
	cr_assert_null(cat.features);
	char who[256];
	snprintf(who, sizeof(who), "\"%s\"", id);
	cr_assert(has_error(FILE_NAME, who, "field \"derived.inputs\"", needle),
		  "no error naming %s, %s, derived.inputs and \"%s\"; got:%s", FILE_NAME, who,
		  needle, all);
}

/* ---- a valid catalog ---- */

Test(catalog, valid_feature_fields)
{
	json_t *f = feat("macro/us/walcl_total_usd");
	json_object_set_new(f, "publication_delay", json_string("2d"));
	run_ok(cat_of(f, NULL));
	cr_assert_eq(cat.nfeatures, 1);
	const struct lav_feature *x = &cat.features[0];
	cr_assert_str_eq(x->id, "macro/us/walcl_total_usd");
	cr_assert_eq(x->entity, LAV_ENTITY_MACRO);
	cr_assert_str_eq(x->description, "Fed total assets");
	cr_assert_str_eq(x->unit, "USD");
	cr_assert_eq(x->ntags, 2);
	cr_assert_str_eq(x->tags[0], "macro");
	cr_assert_str_eq(x->tags[1], "liquidity");
	cr_assert_eq(x->frequency, LAV_FREQ_1W);
	cr_assert_eq(x->ttl_ms, 777600000);
	cr_assert_str_eq(x->source_id, "fred");
	cr_assert_eq(x->source_class, LAV_CLASS_MACRO);
	cr_assert_str_eq(x->source_schema, "v1");
	cr_assert_str_eq(x->source_series, "WALCL");
	cr_assert(x->has_range);
	cr_assert_eq(x->range_lo, 0);
	cr_assert_eq(x->range_hi, 10);
	cr_assert_not(x->seasonal);
	cr_assert_eq(x->on_violation, LAV_VIOLATION_FLAG);
	cr_assert_eq(x->publication_delay_ms, 2 * 86400000LL);
	cr_assert_eq(x->dtype, LAV_DTYPE_FLOAT64);
	cr_assert_null(x->derived);
	cr_assert_eq(x->version, 1);
	cr_assert_not_null(lav_catalog_find(&cat, "macro/us/walcl_total_usd"));
}

Test(catalog, normalized_spec_fills_defaults)
{
	json_t *f = feat("macro/us/a");
	json_object_del(f, "quality");
	run_ok(cat_of(f, NULL));
	const struct lav_feature *x = &cat.features[0];
	cr_assert_not(x->has_range);
	cr_assert_eq(x->on_violation, LAV_VIOLATION_FLAG);
	cr_assert_str_eq(json_string_value(json_object_get(x->spec, "dtype")), "float64");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(x->spec, "quality"),
							   "on_violation")),
			 "flag");
	cr_assert_str_eq(json_string_value(json_object_get(x->spec, "id")), "macro/us/a");
	cr_assert_eq(json_integer_value(json_object_get(x->spec, "version")), 1);
}

Test(catalog, explicit_values_kept)
{
	json_t *f = feat("macro/us/a");
	json_object_set_new(f, "dtype", json_string("int64"));
	json_object_set_new(sub(f, "quality"), "on_violation", json_string("reject"));
	json_object_set_new(sub(f, "quality"), "seasonal", json_true());
	json_object_set_new(f, "publication_delay", json_string("0s"));
	json_object_set_new(f, "version", json_integer(7));
	run_ok(cat_of(f, NULL));
	const struct lav_feature *x = &cat.features[0];
	cr_assert_eq(x->dtype, LAV_DTYPE_INT64);
	cr_assert_eq(x->on_violation, LAV_VIOLATION_REJECT);
	cr_assert(x->seasonal);
	cr_assert_eq(x->publication_delay_ms, 0);
	cr_assert_eq(x->version, 7);
	cr_assert_str_eq(json_string_value(json_object_get(x->spec, "dtype")), "int64");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(x->spec, "quality"),
							   "on_violation")),
			 "reject");
}

Test(catalog, every_enum_value_accepted)
{
	const char *entities[] = {"asset", "pair", "market", "macro"};
	const char *freqs[] = {"tick", "1m", "5m", "1h", "1d", "1w"};
	for (int i = 0; i < 4; i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "entity", json_string(entities[i]));
		run_ok(cat_of(f, NULL));
		cr_assert_eq((int)cat.features[0].entity, i);
		cr_assert_str_eq(lav_entity_kind_name(cat.features[0].entity), entities[i]);
	}
	for (int i = 0; i < 6; i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "frequency", json_string(freqs[i]));
		run_ok(cat_of(f, NULL));
		cr_assert_eq((int)cat.features[0].frequency, i);
		cr_assert_str_eq(lav_frequency_name(cat.features[0].frequency), freqs[i]);
	}
	const char *classes[] = {"onchain", "cex", "macro"};
	for (int i = 0; i < 3; i++) {
		json_t *f = feat("a/b");
		json_object_set_new(sub(f, "source"), "class", json_string(classes[i]));
		run_ok(cat_of(f, NULL));
		cr_assert_eq((int)cat.features[0].source_class, i);
	}
}

Test(catalog, enum_helpers)
{
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_TICK), 0);
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_1M), 60000);
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_5M), 300000);
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_1H), 3600000);
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_1D), 86400000);
	cr_assert_eq(lav_frequency_ms(LAV_FREQ_1W), 604800000);
	enum lav_entity_kind k;
	cr_assert(lav_entity_kind_parse("pair", &k));
	cr_assert_eq(k, LAV_ENTITY_PAIR);
	cr_assert_not(lav_entity_kind_parse("Pair", &k));
	cr_assert_not(lav_entity_kind_parse("", &k));
}

Test(catalog, sorted_by_id_and_object_form)
{
	json_t *doc = json_object();
	json_object_set_new(doc, "version", json_integer(3));
	json_object_set_new(doc, "features",
			    cat_of(feat("z/last"), feat("a/first"), feat("m/middle/x"), NULL));
	run_ok(doc);
	cr_assert_eq(cat.nfeatures, 3);
	cr_assert_str_eq(cat.features[0].id, "a/first");
	cr_assert_str_eq(cat.features[1].id, "m/middle/x");
	cr_assert_str_eq(cat.features[2].id, "z/last");
	cr_assert_not_null(lav_catalog_find(&cat, "z/last"));
	cr_assert_not_null(lav_catalog_find(&cat, "a/first"));
	cr_assert_null(lav_catalog_find(&cat, "a/none"));
}

Test(catalog, empty_catalog)
{
	run_ok(json_array());
	cr_assert_eq(cat.nfeatures, 0);
	cr_assert_null(lav_catalog_find(&cat, "a/b"));
}

Test(catalog, document_shape)
{
	cr_assert_not(run(json_string("nope")));
	cr_assert(has_error(FILE_NAME, "must be a JSON array", NULL, NULL));
	cr_assert_not(run(json_pack("{s:i}", "features", 1)));
	cr_assert(has_error(FILE_NAME, "must be a JSON array", NULL, NULL));
	json_t *doc = json_pack("{s:o, s:i}", "features", json_array(), "extra", 1);
	cr_assert_not(run(doc));
	cr_assert(has_error(FILE_NAME, "unknown top-level field \"extra\"", NULL, NULL));
}

Test(catalog, feature_not_an_object)
{
	cr_assert_not(run(cat_of(feat("a/b"), json_integer(5), NULL)));
	cr_assert(has_error(FILE_NAME, "feature[1]", "must be an object", NULL));
}

Test(catalog, errors_report_the_right_index)
{
	json_t *bad = feat("c/bad");
	json_object_set_new(bad, "ttl_ms", json_integer(0));
	expect_err(cat_of(feat("a/one"), feat("b/two"), bad, feat("d/four"), NULL), 2, "c/bad",
		   "ttl_ms", "> 0");
	cr_assert_eq(errs.n, 1, "only one error expected, got %zu", errs.n);
}

Test(catalog, all_errors_collected)
{
	json_t *f = feat("a/b");
	json_object_set_new(f, "entity", json_string("planet"));
	json_object_set_new(f, "frequency", json_string("2h"));
	json_object_set_new(f, "version", json_integer(0));
	cr_assert_not(run(cat_of(f, NULL)));
	cr_assert_eq(errs.n, 3);
}

/* ---- unknown fields ---- */

Test(catalog, unknown_top_level_field)
{
	json_t *f = feat("a/b");
	json_object_set_new(f, "color", json_string("red"));
	expect_err(cat_of(f, NULL), 0, "a/b", "color", "unknown field");
}

Test(catalog, unknown_source_field)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "source"), "url", json_string("x"));
	expect_err(cat_of(f, NULL), 0, "a/b", "source.url", "unknown field");
}

Test(catalog, unknown_quality_field)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "quality"), "max_gap", json_integer(3));
	expect_err(cat_of(f, NULL), 0, "a/b", "quality.max_gap", "unknown field");
}

Test(catalog_derived, unknown_derived_field)
{
	json_t *d = derived("a/d", "diff", "[\"a/b\"]");
	json_object_set_new(sub(d, "derived"), "window", json_integer(3));
	expect_err(cat_of(feat("a/b"), d, NULL), 1, "a/d", "derived.window", "unknown field");
}

/* ---- required fields ---- */

Test(catalog, missing_required_fields)
{
	const char *req[] = {"entity", "description", "unit", "tags", "frequency",
			     "ttl_ms", "source",      "version"};
	for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		json_t *f = feat("a/b");
		json_object_del(f, req[i]);
		expect_err(cat_of(f, NULL), 0, "a/b", req[i], "is required");
	}
}

Test(catalog, missing_id)
{
	json_t *f = feat("a/b");
	json_object_del(f, "id");
	expect_err(cat_of(f, NULL), 0, NULL, "id", "is required");
}

Test(catalog, missing_source_fields)
{
	const char *req[] = {"id", "class", "schema"};
	for (size_t i = 0; i < 3; i++) {
		json_t *f = feat("a/b");
		json_object_del(sub(f, "source"), req[i]);
		char field[32];
		snprintf(field, sizeof(field), "source.%s", req[i]);
		expect_err(cat_of(f, NULL), 0, "a/b", field, "is required");
	}
	json_t *f = feat("a/b");
	json_object_del(sub(f, "source"), "series");
	run_ok(cat_of(f, NULL));
	cr_assert_null(cat.features[0].source_series);
}

Test(catalog, empty_strings_rejected)
{
	const char *keys[] = {"description", "unit"};
	for (int i = 0; i < 2; i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, keys[i], json_string(""));
		expect_err(cat_of(f, NULL), 0, "a/b", keys[i], "non-empty string");
	}
	json_t *f = feat("a/b");
	json_object_set_new(f, "description", json_integer(1));
	expect_err(cat_of(f, NULL), 0, "a/b", "description", "string");
	f = feat("a/b");
	json_object_set_new(sub(f, "source"), "schema", json_string(""));
	expect_err(cat_of(f, NULL), 0, "a/b", "source.schema", "non-empty string");
	f = feat("a/b");
	json_object_set_new(sub(f, "source"), "series", json_string(""));
	expect_err(cat_of(f, NULL), 0, "a/b", "source.series", "non-empty string");
	f = feat("a/b");
	json_object_set_new(f, "source", json_string("fred"));
	expect_err(cat_of(f, NULL), 0, "a/b", "source", "must be an object");
	f = feat("a/b");
	json_object_set_new(f, "quality", json_array());
	expect_err(cat_of(f, NULL), 0, "a/b", "quality", "must be an object");
}

/* ---- id ---- */

Test(catalog, id_regex)
{
	const char *bad[] = {"Macro/us/walcl", "macro",	   "macro/us/",	 "/macro/us", "macro//us",
			     "macro/us-walcl", "macro/us.x", "macro/ us", "",	       "macro/ü"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_err(cat_of(feat(bad[i]), NULL), 0, NULL, "id", "must match");
		/* an invalid id is not echoed as if it were the feature's id */
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "feature[0] \"%s\"", bad[i]);
		cr_assert_not(has_error(quoted, NULL, NULL, NULL), "%s", bad[i]);
	}
	json_t *f = feat("a/b");
	json_object_set_new(f, "id", json_integer(5));
	expect_err(cat_of(f, NULL), 0, NULL, "id", "must match");
}

Test(catalog, id_length)
{
	char id[200];
	/* "a/" + 126 x 'b' = 128 characters: accepted */
	memset(id, 'b', sizeof(id));
	id[0] = 'a';
	id[1] = '/';
	id[128] = '\0';
	run_ok(cat_of(feat(id), NULL));
	cr_assert_eq(strlen(cat.features[0].id), 128);
	/* 129: rejected */
	id[128] = 'b';
	id[129] = '\0';
	expect_err(cat_of(feat(id), NULL), 0, NULL, "id", "at most 128");
}

Test(catalog, id_forms_accepted)
{
	run_ok(cat_of(feat("a/b"), feat("liquidity/score/lav_liq_score"), feat("x_1/2/3_y/z"), NULL));
	cr_assert_eq(cat.nfeatures, 3);
}

Test(catalog, duplicate_ids)
{
	expect_err(cat_of(feat("a/b"), feat("c/d"), feat("a/b"), NULL), 2, "a/b", "id",
		   "duplicate of feature[0]");
}

/* ---- enums ---- */

Test(catalog, entity_enum)
{
	json_t *f = feat("a/b");
	json_object_set_new(f, "entity", json_string("planet"));
	expect_err(cat_of(f, NULL), 0, "a/b", "entity", "asset, pair, market, macro");
	f = feat("a/b");
	json_object_set_new(f, "entity", json_string("Macro"));
	expect_err(cat_of(f, NULL), 0, "a/b", "entity", "must be one of");
	f = feat("a/b");
	json_object_set_new(f, "entity", json_integer(3));
	expect_err(cat_of(f, NULL), 0, "a/b", "entity", "must be one of");
}

Test(catalog, frequency_enum)
{
	const char *bad[] = {"2h", "1M", "daily", "15m", "1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "frequency", json_string(bad[i]));
		expect_err(cat_of(f, NULL), 0, "a/b", "frequency", "tick, 1m, 5m, 1h, 1d, 1w");
	}
}

Test(catalog, source_class_enum)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "source"), "class", json_string("exchange"));
	expect_err(cat_of(f, NULL), 0, "a/b", "source.class", "onchain, cex, macro, derived");
}

Test(catalog, on_violation_enum)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "quality"), "on_violation", json_string("drop"));
	expect_err(cat_of(f, NULL), 0, "a/b", "quality.on_violation", "flag, reject");
	f = feat("a/b");
	json_object_set_new(sub(f, "quality"), "on_violation", json_true());
	expect_err(cat_of(f, NULL), 0, "a/b", "quality.on_violation", "flag, reject");
}

Test(catalog, dtype_enum)
{
	json_t *f = feat("a/b");
	json_object_set_new(f, "dtype", json_string("float32"));
	expect_err(cat_of(f, NULL), 0, "a/b", "dtype", "float64, int64");
	f = feat("a/b");
	json_object_set_new(f, "dtype", json_null());
	expect_err(cat_of(f, NULL), 0, "a/b", "dtype", "must be one of");
}

/* ---- numbers ---- */

Test(catalog, ttl_ms)
{
	json_t *bad[] = {json_integer(0), json_integer(-5), json_real(1.5), json_string("1000"),
			 json_real(1000.0), json_null()};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "ttl_ms", bad[i]);
		expect_err(cat_of(f, NULL), 0, "a/b", "ttl_ms", "integer > 0");
	}
	json_t *f = feat("a/b");
	json_object_set_new(f, "ttl_ms", json_integer(1));
	run_ok(cat_of(f, NULL));
	cr_assert_eq(cat.features[0].ttl_ms, 1);
}

Test(catalog, version)
{
	json_t *bad[] = {json_integer(0), json_integer(-1), json_real(1.5), json_string("1"),
			 json_integer(10000000000LL)};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "version", bad[i]);
		expect_err(cat_of(f, NULL), 0, "a/b", "version", "integer >= 1");
	}
}

/* ---- tags ---- */

Test(catalog, tags)
{
	json_t *f = feat("a/b");
	json_object_set_new(f, "tags", json_pack("[s, i]", "ok", 1));
	expect_err(cat_of(f, NULL), 0, "a/b", "tags", "item 1");
	f = feat("a/b");
	json_object_set_new(f, "tags", json_pack("[s, s, s]", "x", "y", "x"));
	expect_err(cat_of(f, NULL), 0, "a/b", "tags", "duplicate tag \"x\"");
	f = feat("a/b");
	json_object_set_new(f, "tags", json_string("macro"));
	expect_err(cat_of(f, NULL), 0, "a/b", "tags", "array of strings");
	f = feat("a/b");
	json_object_set_new(f, "tags", json_pack("[s]", ""));
	expect_err(cat_of(f, NULL), 0, "a/b", "tags", "item 0");
	f = feat("a/b");
	json_object_set_new(f, "tags", json_array());
	run_ok(cat_of(f, NULL));
	cr_assert_eq(cat.features[0].ntags, 0);
}

/* ---- source ---- */

Test(catalog, dangling_source_id)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "source"), "id", json_string("bloomberg"));
	expect_err(cat_of(f, NULL), 0, "a/b", "source.id", "\"bloomberg\" is not a source");
}

/* ---- quality ---- */

Test(catalog, expected_range)
{
	const char *bad_order[] = {"[5,5]", "[6,5]", "[0.5,-0.5]"};
	for (int i = 0; i < 3; i++) {
		json_t *f = feat("a/b");
		json_object_set_new(sub(f, "quality"), "expected_range",
				    json_loads(bad_order[i], 0, NULL));
		expect_err(cat_of(f, NULL), 0, "a/b", "quality.expected_range", "less than");
	}
	const char *bad_shape[] = {"[1]", "[1,2,3]", "[]", "[\"a\",1]", "[1,null]", "{\"lo\":1}",
				   "5"};
	for (int i = 0; i < 7; i++) {
		json_t *f = feat("a/b");
		json_t *v = json_loads(bad_shape[i], JSON_DECODE_ANY, NULL);
		cr_assert_not_null(v);
		json_object_set_new(sub(f, "quality"), "expected_range", v);
		expect_err(cat_of(f, NULL), 0, "a/b", "quality.expected_range", "two numbers");
	}
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "quality"), "expected_range", json_pack("[f, i]", -0.003, 3));
	run_ok(cat_of(f, NULL));
	cr_assert_eq(cat.features[0].range_lo, -0.003);
	cr_assert_eq(cat.features[0].range_hi, 3);
}

Test(catalog, seasonal_must_be_bool)
{
	json_t *f = feat("a/b");
	json_object_set_new(sub(f, "quality"), "seasonal", json_string("yes"));
	expect_err(cat_of(f, NULL), 0, "a/b", "quality.seasonal", "true or false");
}

/* ---- publication_delay ---- */

Test(catalog, publication_delay)
{
	json_t *bad[] = {json_string("1x"), json_string(""), json_string("-1d"), json_string("1.5d"),
			 json_integer(86400000), json_string("1 d")};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *f = feat("a/b");
		json_object_set_new(f, "publication_delay", bad[i]);
		expect_err(cat_of(f, NULL), 0, "a/b", "publication_delay", "duration");
	}
	json_t *f = feat("a/b");
	json_object_set_new(f, "publication_delay", json_string("18h"));
	run_ok(cat_of(f, NULL));
	cr_assert_eq(cat.features[0].publication_delay_ms, 18 * 3600000LL);
}

/* ---- derived ---- */

Test(catalog_derived, valid_chain)
{
	json_t *ema = params(derived("a/ema", "ema", "[\"a/base\"]"), "{\"alpha\":0.5}");
	json_t *z = params(derived("a/z", "rolling_zscore", "[\"a/ema\"]"), "{\"window\":30}");
	json_t *r = derived("a/ratio", "ratio", "[\"a/base\",\"a/z\"]");
	json_t *ws = params(derived("a/ws", "weighted_sum", "[\"a/base\",\"a/ema\",\"a/z\"]"),
			    "{\"weights\":[1,-0.5,2]}");
	json_t *pc = derived("a/pc", "pct_change", "[\"a/base\"]");
	run_ok(cat_of(z, ema, feat("a/base"), r, ws, pc, NULL));
	cr_assert_eq(cat.nfeatures, 6);
	const struct lav_feature *x = lav_catalog_find(&cat, "a/ratio");
	cr_assert_not_null(x);
	cr_assert_not_null(x->derived);
	cr_assert_str_eq(x->derived->op, "ratio");
	cr_assert_eq(x->derived->ninputs, 2);
	cr_assert_str_eq(x->derived->inputs[0], "a/base");
	cr_assert_str_eq(x->derived->inputs[1], "a/z");
	cr_assert(json_is_object(x->derived->params));
	cr_assert_eq(x->source_class, LAV_CLASS_DERIVED);
	x = lav_catalog_find(&cat, "a/ema");
	cr_assert_eq(json_real_value(json_object_get(x->derived->params, "alpha")), 0.5);
	x = lav_catalog_find(&cat, "a/pc");
	cr_assert_eq(json_object_size(x->derived->params), 0);
}

Test(catalog_derived, every_operator_accepted)
{
	struct {
		const char *op, *inputs, *params;
	} ops[] = {
		{"diff", "[\"a/b\"]", NULL},
		{"pct_change", "[\"a/b\"]", "{\"n\":1}"},
		{"log_return", "[\"a/b\"]", "{\"n\":24}"},
		{"rolling_mean", "[\"a/b\"]", "{\"window\":2}"},
		{"rolling_std", "[\"a/b\"]", "{\"window\":100000}"},
		{"rolling_zscore", "[\"a/b\"]", "{\"window\":30}"},
		{"ema", "[\"a/b\"]", "{\"alpha\":1}"},
		{"rsi", "[\"a/b\"]", "{\"n\":14}"},
		{"atr_pct", "[\"a/b\"]", "{\"n\":14}"},
		{"ratio", "[\"a/b\",\"a/c\"]", NULL},
		{"spread", "[\"a/b\",\"a/c\"]", NULL},
		{"yoy", "[\"a/b\"]", NULL},
		{"weighted_sum", "[\"a/b\"]", "{\"weights\":[2]}"},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		json_t *d = derived("z/d", ops[i].op, ops[i].inputs);
		if (ops[i].params)
			params(d, ops[i].params);
		bool ok = run(cat_of(feat("a/b"), feat("a/c"), d, NULL));
		char all[2048];
		dump_errors(all, sizeof(all));
		cr_assert(ok, "operator %s rejected:%s", ops[i].op, all);
	}
}

Test(catalog_derived, unknown_operator)
{
	expect_err(cat_of(feat("a/b"), derived("a/d", "median", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.op", "unknown operator \"median\"");
	expect_err(cat_of(feat("a/b"), derived("a/d", "", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.op", "non-empty");
}

Test(catalog_derived, wrong_arity)
{
	expect_err(cat_of(feat("a/b"), derived("a/d", "ratio", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.inputs", "takes 2 input(s), got 1");
	expect_err(cat_of(feat("a/b"), feat("a/c"), derived("a/d", "diff", "[\"a/b\",\"a/c\"]"),
			  NULL),
		   2, "a/d", "derived.inputs", "takes 1 input(s), got 2");
	expect_err(cat_of(feat("a/b"), derived("a/d", "yoy", "[]"), NULL), 1, "a/d",
		   "derived.inputs", "non-empty array");
	expect_err(cat_of(feat("a/b"), derived("a/d", "yoy", "\"a/b\""), NULL), 1, "a/d",
		   "derived.inputs", "non-empty array");
	expect_err(cat_of(feat("a/b"), derived("a/d", "yoy", "[\"A/B\"]"), NULL), 1, "a/d",
		   "derived.inputs", "item 0");
}

Test(catalog_derived, missing_params)
{
	expect_err(cat_of(feat("a/b"), derived("a/d", "rolling_mean", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.params.window", "is required");
	expect_err(cat_of(feat("a/b"), derived("a/d", "ema", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.params.alpha", "is required");
	expect_err(cat_of(feat("a/b"), derived("a/d", "weighted_sum", "[\"a/b\"]"), NULL), 1, "a/d",
		   "derived.params.weights", "is required");
}

Test(catalog_derived, extra_params)
{
	expect_err(cat_of(feat("a/b"), params(derived("a/d", "diff", "[\"a/b\"]"), "{\"n\":1}"),
			  NULL),
		   1, "a/d", "derived.params.n", "no such parameter");
	expect_err(cat_of(feat("a/b"),
			  params(derived("a/d", "rolling_mean", "[\"a/b\"]"),
				 "{\"window\":5,\"min_periods\":2}"),
			  NULL),
		   1, "a/d", "derived.params.min_periods", "no such parameter");
}

Test(catalog_derived, bad_param_values)
{
	const struct {
		const char *op, *params, *field, *needle;
	} bad[] = {
		{"ema", "{\"alpha\":0}", "derived.params.alpha", "(0, 1]"},
		{"ema", "{\"alpha\":1.5}", "derived.params.alpha", "(0, 1]"},
		{"ema", "{\"alpha\":\"0.5\"}", "derived.params.alpha", "(0, 1]"},
		{"rolling_mean", "{\"window\":1}", "derived.params.window", "between 2 and 100000"},
		{"rolling_mean", "{\"window\":100001}", "derived.params.window", "between 2"},
		{"rolling_mean", "{\"window\":2.5}", "derived.params.window", "integer"},
		{"pct_change", "{\"n\":0}", "derived.params.n", "between 1 and 100000"},
		{"weighted_sum", "{\"weights\":[1,2]}", "derived.params.weights", "one number per input"},
		{"weighted_sum", "{\"weights\":[\"x\"]}", "derived.params.weights", "item 0"},
		{"weighted_sum", "{\"weights\":1}", "derived.params.weights", "one number per input"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(cat_of(feat("a/b"), params(derived("a/d", bad[i].op, "[\"a/b\"]"),
						      bad[i].params),
				  NULL),
			   1, "a/d", bad[i].field, bad[i].needle);
	json_t *d = derived("a/d", "diff", "[\"a/b\"]");
	json_object_set_new(sub(d, "derived"), "params", json_array());
	expect_err(cat_of(feat("a/b"), d, NULL), 1, "a/d", "derived.params", "must be an object");
	d = feat("a/d");
	json_object_set_new(d, "derived", json_string("diff"));
	expect_err(cat_of(feat("a/b"), d, NULL), 1, "a/d", "derived", "must be an object");
}

Test(catalog_derived, input_not_in_catalog)
{
	expect_graph_err(cat_of(feat("a/b"), derived("a/d", "diff", "[\"a/missing\"]"), NULL), "a/d",
			 "\"a/missing\" is not in the catalog");
}

Test(catalog_derived, self_dependency)
{
	expect_graph_err(cat_of(feat("a/b"), derived("a/d", "diff", "[\"a/d\"]"), NULL), "a/d",
			 "cannot depend on itself");
}

Test(catalog_derived, two_cycle)
{
	expect_graph_err(cat_of(derived("a/x", "diff", "[\"a/y\"]"),
				derived("a/y", "diff", "[\"a/x\"]"), NULL),
			 "a/x", "dependency cycle");
}

Test(catalog_derived, three_cycle_behind_a_valid_prefix)
{
	bool ok = run(cat_of(feat("a/base"), derived("a/p", "diff", "[\"a/q\"]"),
			     derived("a/q", "ratio", "[\"a/base\",\"a/r\"]"),
			     derived("a/r", "diff", "[\"a/p\"]"),
			     derived("a/ok", "diff", "[\"a/base\"]"), NULL));
	cr_assert_not(ok);
	cr_assert(has_error(FILE_NAME, "dependency cycle", "derived.inputs", NULL));
}

Test(catalog_derived, diamond_is_not_a_cycle)
{
	run_ok(cat_of(feat("a/base"), derived("a/l", "diff", "[\"a/base\"]"),
		      derived("a/r", "yoy", "[\"a/base\"]"),
		      derived("a/top", "spread", "[\"a/l\",\"a/r\"]"), NULL));
	cr_assert_eq(cat.nfeatures, 4);
}

Test(catalog_derived, source_class_must_be_derived)
{
	json_t *d = derived("a/d", "diff", "[\"a/b\"]");
	json_object_set_new(sub(d, "source"), "class", json_string("macro"));
	expect_err(cat_of(feat("a/b"), d, NULL), 1, "a/d", "source.class", "\"derived\"");
}

/* ---- data sources ---- */

static bool sources_run(const char *doc_json, struct env *e)
{
	json_t *doc = json_loads(doc_json, 0, NULL);
	cr_assert_not_null(doc, "%s", doc_json);
	struct lav_source *s = NULL;
	size_t n = 99;
	lav_errors_free(&errs);
	bool ok = lav_sources_parse(doc, "test/datasources.json", env_get, e, &s, &n, &errs);
	json_decref(doc);
	if (ok) {
		lav_sources_free(s, n);
	} else {
		cr_assert_null(s);
		cr_assert_eq(n, 0);
	}
	return ok;
}

#define SRC(extra)                                                                                 \
	"[{\"id\":\"fred\",\"name\":\"FRED\",\"class\":\"macro\",\"base_url\":\"https://x.org\","    \
	"\"rate_limit_rpm\":120,\"reliability\":0.9,\"auth\":\"none\"" extra "}]"

Test(catalog, sources_validation)
{
	cr_assert(sources_run(SRC(""), NULL));
	cr_assert_not(sources_run("{}", NULL));
	cr_assert(has_error("test/datasources.json", "JSON array", NULL, NULL));
	cr_assert_not(sources_run(SRC(",\"extra\":1"), NULL));
	cr_assert(has_error("test/datasources.json", "source[0]", "unknown field \"extra\"", NULL));
	cr_assert_not(sources_run(SRC(",\"docs\":5"), NULL));
	cr_assert(has_error("source[0] \"fred\"", "field \"docs\"", NULL, NULL));
	cr_assert_not(sources_run(
		"[{\"id\":\"Fred\",\"name\":\"x\",\"class\":\"macro\",\"base_url\":\"https://x.org\","
		"\"rate_limit_rpm\":1,\"reliability\":1,\"auth\":\"none\"}]",
		NULL));
	cr_assert(has_error("source[0]", "field \"id\"", NULL, NULL));
	cr_assert_not(sources_run(
		"[{\"id\":\"a\",\"name\":\"x\",\"class\":\"oracle\",\"base_url\":\"ftp://x\","
		"\"rate_limit_rpm\":0,\"reliability\":1.5,\"auth\":\"oauth\"}]",
		NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"class\"", NULL, NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"base_url\"", NULL, NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"rate_limit_rpm\"", NULL, NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"reliability\"", NULL, NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"auth\"", NULL, NULL));
	cr_assert_not(sources_run("[" "{\"id\":\"a\",\"name\":\"x\",\"class\":\"macro\","
				  "\"base_url\":\"https://x.org\",\"rate_limit_rpm\":1,"
				  "\"reliability\":1,\"auth\":\"none\"},"
				  "{\"id\":\"a\",\"name\":\"y\",\"class\":\"macro\","
				  "\"base_url\":\"https://y.org\",\"rate_limit_rpm\":1,"
				  "\"reliability\":1,\"auth\":\"none\"}]",
				  NULL));
	cr_assert(has_error("source[1] \"a\"", "duplicate id", NULL, NULL));
	cr_assert_not(sources_run(
		"[{\"id\":\"a\",\"name\":\"\",\"class\":\"macro\",\"base_url\":\"https:///path\","
		"\"rate_limit_rpm\":1,\"reliability\":1,\"auth\":\"none\"}]",
		NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"name\"", NULL, NULL));
	cr_assert(has_error("source[0] \"a\"", "field \"base_url\"", NULL, NULL));
}

Test(catalog, source_env_name)
{
	char out[128];
	lav_source_env_name("binance-api", "URL", out, sizeof(out));
	cr_assert_str_eq(out, "LAV_SOURCE_BINANCE_API_URL");
	lav_source_env_name("fred", "KEY", out, sizeof(out));
	cr_assert_str_eq(out, "LAV_SOURCE_FRED_KEY");
	lav_source_env_name("cex-aggregator", "URL", out, sizeof(out));
	cr_assert_str_eq(out, "LAV_SOURCE_CEX_AGGREGATOR_URL");
	lav_source_env_name("blockchain-com", "KEY", out, sizeof(out));
	cr_assert_str_eq(out, "LAV_SOURCE_BLOCKCHAIN_COM_KEY");
	/* a short buffer is never overrun and stays terminated */
	char small[16];
	memset(small, '#', sizeof(small));
	lav_source_env_name("binance-api", "URL", small, 12);
	cr_assert_lt(strlen(small), 12);
	cr_assert_eq(small[15], '#');
	cr_assert_eq(strncmp(small, "LAV_SOURCE_", strlen(small)), 0);
}

/* ---- the shipped config/ files ---- */

static void config_dir(char *out, size_t outlen)
{
	const char *repo = getenv("LAV_REPO");
	if (repo && *repo) {
		snprintf(out, outlen, "%s/config", repo);
		return;
	}
	const char *cands[] = {"../config", "../../config", "../../../config", "config"};
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/features.catalog.json", cands[i]);
		if (access(p, R_OK) == 0) {
			snprintf(out, outlen, "%s", cands[i]);
			return;
		}
	}
	cr_assert_fail("config/ not found: set LAV_REPO");
}

static bool load_shipped(struct env *e)
{
	char dir[512];
	config_dir(dir, sizeof(dir));
	lav_catalog_free(&cat);
	lav_errors_free(&errs);
	return lav_catalog_load(dir, env_get, e, &cat, &errs);
}

Test(catalog_shipped, loads_26_sorted_features)
{
	bool ok = load_shipped(NULL);
	char all[4096];
	dump_errors(all, sizeof(all));
	cr_assert(ok, "shipped catalog rejected:%s", all);
	cr_assert_eq(cat.nfeatures, 26);
	cr_assert_eq(cat.nsources, 8);
	size_t computed = 0;
	for (size_t i = 1; i < cat.nfeatures; i++)
		cr_assert_lt(strcmp(cat.features[i - 1].id, cat.features[i].id), 0, "%s >= %s",
			     cat.features[i - 1].id, cat.features[i].id);
	for (size_t i = 0; i < cat.nfeatures; i++) {
		const struct lav_feature *f = &cat.features[i];
		json_t *spec = f->spec;
		cr_assert_str_eq(json_string_value(json_object_get(spec, "dtype")), "float64", "%s",
				 f->id);
		const char *ov =
			json_string_value(json_object_get(json_object_get(spec, "quality"), "on_violation"));
		cr_assert_not_null(ov, "%s: no quality.on_violation", f->id);
		cr_assert(strcmp(ov, "flag") == 0 || strcmp(ov, "reject") == 0, "%s: %s", f->id, ov);
		cr_assert_str_eq(json_string_value(json_object_get(spec, "id")), f->id);
		cr_assert_gt(f->ttl_ms, 0);
		cr_assert_geq(f->version, 1);
		/* the semáforo's outputs name lavd itself, everything else a datasource */
		if (strncmp(f->id, "liquidity/", 10) == 0) {
			cr_assert(f->computed, "%s", f->id);
			cr_assert_str_eq(f->source_id, LAV_SOURCE_SELF);
			computed++;
		} else {
			cr_assert_not(f->computed, "%s", f->id);
			cr_assert_not_null(lav_catalog_source(&cat, f->source_id), "%s: source %s",
					   f->id, f->source_id);
		}
		cr_assert_eq(lav_catalog_find(&cat, f->id), f);
	}
	cr_assert_eq(computed, 4);
	lav_catalog_free(&cat);
}

Test(catalog_shipped, find_and_fields)
{
	cr_assert(load_shipped(NULL));
	const struct lav_feature *w = lav_catalog_find(&cat, "macro/us/walcl_total_usd");
	cr_assert_not_null(w);
	cr_assert_eq(w->entity, LAV_ENTITY_MACRO);
	cr_assert_eq(w->frequency, LAV_FREQ_1W);
	cr_assert_str_eq(w->source_id, "fred");
	cr_assert_str_eq(w->source_series, "WALCL");
	cr_assert_eq(w->publication_delay_ms, 2 * 86400000LL);
	cr_assert(w->has_range);
	cr_assert_eq(w->range_lo, 6e12);
	cr_assert_eq(w->range_hi, 1e13);
	cr_assert_eq(w->on_violation, LAV_VIOLATION_FLAG);
	const struct lav_feature *s = lav_catalog_find(&cat, "onchain/btc/supply_btc");
	cr_assert_not_null(s);
	cr_assert_eq(s->on_violation, LAV_VIOLATION_REJECT);
	const struct lav_feature *y = lav_catalog_find(&cat, "crypto/stables/mcap_total_usd_yoy");
	cr_assert_not_null(y);
	cr_assert_not_null(y->derived);
	cr_assert_str_eq(y->derived->op, "yoy");
	cr_assert_eq(y->derived->ninputs, 1);
	cr_assert_str_eq(y->derived->inputs[0], "crypto/stables/mcap_total_usd");
	cr_assert_null(lav_catalog_find(&cat, "macro/us/nope"));
	cr_assert_null(lav_catalog_find(&cat, ""));
	cr_assert_null(lav_catalog_find(&cat, "macro/us/walcl_total_usd/"));
	const struct lav_source *fred = lav_catalog_source(&cat, "fred");
	cr_assert_not_null(fred);
	cr_assert_str_eq(fred->base_url, "https://api.stlouisfed.org");
	cr_assert(fred->needs_key);
	cr_assert_null(fred->key);
	cr_assert_eq(fred->cls, LAV_CLASS_MACRO);
	cr_assert_not_null(lav_catalog_source(&cat, "binance-api"));
	cr_assert_null(lav_catalog_source(&cat, "bloomberg"));
}

Test(catalog_shipped, source_url_and_key_overrides)
{
	struct env e = {{"LAV_SOURCE_FRED_URL", "LAV_SOURCE_BINANCE_API_URL", "LAV_SOURCE_FRED_KEY"},
			{"http://127.0.0.1:18080", "http://localhost:9/api", "s3cr3t"},
			3};
	bool ok = load_shipped(&e);
	char all[4096];
	dump_errors(all, sizeof(all));
	cr_assert(ok, "%s", all);
	cr_assert_str_eq(lav_catalog_source(&cat, "fred")->base_url, "http://127.0.0.1:18080");
	cr_assert_str_eq(lav_catalog_source(&cat, "fred")->key, "s3cr3t");
	cr_assert_str_eq(lav_catalog_source(&cat, "binance-api")->base_url, "http://localhost:9/api");
	cr_assert_str_eq(lav_catalog_source(&cat, "farside")->base_url, "https://farside.co.uk");
	cr_assert_null(lav_catalog_source(&cat, "farside")->key);
}

Test(catalog_shipped, bad_source_url_override)
{
	const char *bad[] = {"ftp://127.0.0.1", "127.0.0.1:8080", "http://", "http:///x",
			     "http://host name"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct env e = {{"LAV_SOURCE_FRED_URL"}, {bad[i]}, 1};
		bool ok = load_shipped(&e);
		cr_assert_not(ok, "LAV_SOURCE_FRED_URL=%s accepted", bad[i]);
		cr_assert_eq(cat.nfeatures, 0);
		cr_assert_eq(cat.nsources, 0);
		cr_assert(has_error("LAV_SOURCE_FRED_URL", NULL, NULL, NULL), "LAV_SOURCE_FRED_URL=%s: %s",
			  bad[i], errs.n ? errs.msg[0] : "(no error)");
	}
}

/* ---- lav_catalog_load error paths, on temporary files ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void tmp_setup(void)
{
	setup();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lav-catalog-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/datasources.json", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/features.catalog.json", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	teardown();
}

TestSuite(catalog_files, .init = tmp_setup, .fini = tmp_teardown);

Test(catalog_files, missing_directory)
{
	cr_assert_not(lav_catalog_load("/nonexistent/lav", env_get, NULL, &cat, &errs));
	cr_assert(has_error("/nonexistent/lav/datasources.json", NULL, NULL, NULL));
}

Test(catalog_files, invalid_json_names_file_and_line)
{
	write_file("datasources.json", SOURCES);
	write_file("features.catalog.json", "[\n  {\"id\": }\n]\n");
	cr_assert_not(lav_catalog_load(tmpdir, env_get, NULL, &cat, &errs));
	cr_assert_eq(cat.nsources, 0);
	char p[256];
	snprintf(p, sizeof(p), "%s/features.catalog.json", tmpdir);
	cr_assert(has_error(p, "line 2", NULL, NULL), "%s", errs.n ? errs.msg[0] : "");
}

Test(catalog_files, duplicate_json_keys_rejected)
{
	write_file("datasources.json", SOURCES);
	write_file("features.catalog.json", "[{\"id\":\"a/b\",\"id\":\"a/c\"}]");
	cr_assert_not(lav_catalog_load(tmpdir, env_get, NULL, &cat, &errs));
	cr_assert(has_error("features.catalog.json", "duplicate", NULL, NULL),
		  "%s", errs.n ? errs.msg[0] : "");
}

Test(catalog_files, invalid_feature_names_the_path)
{
	write_file("datasources.json", SOURCES);
	write_file("features.catalog.json",
		   "[{\"id\":\"a/b\",\"entity\":\"macro\",\"description\":\"d\",\"unit\":\"u\","
		   "\"tags\":[],\"frequency\":\"1d\",\"ttl_ms\":1,\"source\":{\"id\":\"fred\","
		   "\"class\":\"macro\",\"schema\":\"v1\"},\"version\":1,\"colour\":1}]");
	cr_assert_not(lav_catalog_load(tmpdir, env_get, NULL, &cat, &errs));
	char p[256];
	snprintf(p, sizeof(p), "%s/features.catalog.json: feature[0] \"a/b\"", tmpdir);
	cr_assert(has_error(p, "field \"colour\"", NULL, NULL), "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cat.nsources, 0);
	cr_assert_null(cat.sources);
}

Test(catalog_files, valid_small_catalog)
{
	write_file("datasources.json", SOURCES);
	write_file("features.catalog.json",
		   "{\"features\":[{\"id\":\"a/b\",\"entity\":\"macro\",\"description\":\"d\","
		   "\"unit\":\"u\",\"tags\":[],\"frequency\":\"1d\",\"ttl_ms\":1,\"source\":{\"id\":"
		   "\"fred\",\"class\":\"macro\",\"schema\":\"v1\"},\"version\":1}]}");
	bool ok = lav_catalog_load(tmpdir, env_get, NULL, &cat, &errs);
	cr_assert(ok, "%s", errs.n ? errs.msg[0] : "");
	cr_assert_eq(cat.nfeatures, 1);
	cr_assert_eq(cat.nsources, 2);
	cr_assert_eq(cat.version, 0);
}
