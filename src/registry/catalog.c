/* features.catalog.json: strict validation of every FeatureSpec. */
#include "lav/catalog.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/buf.h"
#include "lav/timefmt.h"

static const char *const ENTITY_NAMES[] = {"asset", "pair", "market", "macro", NULL};
static const char *const FREQ_NAMES[] = {"tick", "1m", "5m", "1h", "1d", "1w", NULL};
static const char *const CLASS_NAMES[] = {"onchain", "cex", "macro", "derived", NULL};
static const char *const VIOLATION_NAMES[] = {"flag", "reject", NULL};
static const char *const DTYPE_NAMES[] = {"float64", "int64", NULL};

const char *lav_entity_kind_name(enum lav_entity_kind k)
{
	return ENTITY_NAMES[k];
}

bool lav_entity_kind_parse(const char *s, enum lav_entity_kind *out)
{
	for (int i = 0; ENTITY_NAMES[i]; i++)
		if (strcmp(s, ENTITY_NAMES[i]) == 0) {
			*out = (enum lav_entity_kind)i;
			return true;
		}
	return false;
}

const char *lav_frequency_name(enum lav_frequency f)
{
	return FREQ_NAMES[f];
}

int64_t lav_frequency_ms(enum lav_frequency f)
{
	static const int64_t ms[] = {0, 60000, 300000, 3600000, 86400000, 604800000};
	return ms[f];
}

/* The derived-feature operators of DESIGN.md section 7 and what they take. */
static const struct op_spec {
	const char *name;
	int min_inputs, max_inputs;
	const char *params[3];
	bool params_required;
} OPS[] = {
	{"diff", 1, 1, {NULL}, false},
	{"pct_change", 1, 1, {"n", NULL}, false},
	{"log_return", 1, 1, {"n", NULL}, false},
	{"rolling_mean", 1, 1, {"window", NULL}, true},
	{"rolling_std", 1, 1, {"window", NULL}, true},
	{"rolling_zscore", 1, 1, {"window", NULL}, true},
	{"ema", 1, 1, {"alpha", NULL}, true},
	{"rsi", 1, 1, {"n", NULL}, false},
	{"atr_pct", 1, 1, {"n", NULL}, false},
	{"ratio", 2, 2, {NULL}, false},
	{"spread", 2, 2, {NULL}, false},
	{"yoy", 1, 1, {NULL}, false},
	{"weighted_sum", 1, 64, {"weights", NULL}, true},
};

struct ctx {
	const char *file;
	size_t index;
	const char *id;
	struct lav_errors *errs;
	bool bad;
};

static void ferr(struct ctx *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ferr(struct ctx *c, const char *field, const char *fmt, ...)
{
	struct lav_buf b = LAV_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	lav_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (c->id)
		lav_errors_add(c->errs, "%s: feature[%zu] \"%s\": field \"%s\": %s", c->file,
			       c->index, c->id, field, lav_buf_cstr(&b));
	else
		lav_errors_add(c->errs, "%s: feature[%zu]: field \"%s\": %s", c->file, c->index,
			       field, lav_buf_cstr(&b));
	lav_buf_free(&b);
	c->bad = true;
}

static bool valid_feature_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	int segments = 1;
	bool seg_empty = true;
	for (const char *p = s; *p; p++) {
		if (*p == '/') {
			if (seg_empty)
				return false;
			segments++;
			seg_empty = true;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_') {
			seg_empty = false;
		} else {
			return false;
		}
	}
	return !seg_empty && segments >= 2;
}

static int enum_index(const char *const *names, const char *s)
{
	for (int i = 0; s && names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static void check_unknown(struct ctx *c, const json_t *obj, const char *prefix,
			  const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (enum_index(allowed, key) < 0) {
			char field[160];
			snprintf(field, sizeof(field), "%s%s", prefix, key);
			ferr(c, field, "unknown field");
		}
	}
}

static const char *req_string(struct ctx *c, const json_t *obj, const char *key, const char *field,
			      bool nonempty)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		ferr(c, field, "is required");
		return NULL;
	}
	if (!json_is_string(v) || (nonempty && json_string_length(v) == 0)) {
		ferr(c, field, nonempty ? "must be a non-empty string" : "must be a string");
		return NULL;
	}
	return json_string_value(v);
}

static int req_enum(struct ctx *c, const json_t *obj, const char *key, const char *field,
		    const char *const *names)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		ferr(c, field, "is required");
		return -1;
	}
	int i = enum_index(names, json_string_value(v));
	if (i < 0) {
		struct lav_buf b = LAV_BUF_INIT;
		for (int k = 0; names[k]; k++)
			lav_buf_printf(&b, "%s%s", k ? ", " : "", names[k]);
		ferr(c, field, "must be one of %s", lav_buf_cstr(&b));
		lav_buf_free(&b);
	}
	return i;
}

static void parse_source(struct ctx *c, const json_t *obj, struct lav_feature *f,
			 const struct lav_source *sources, size_t nsources)
{
	json_t *src = json_object_get(obj, "source");
	if (!src) {
		ferr(c, "source", "is required");
		return;
	}
	if (!json_is_object(src)) {
		ferr(c, "source", "must be an object {id, class, schema, series?}");
		return;
	}
	static const char *const allowed[] = {"id", "class", "schema", "series", NULL};
	check_unknown(c, src, "source.", allowed);
	const char *id = req_string(c, src, "id", "source.id", true);
	if (id && strcmp(id, LAV_SOURCE_SELF) == 0) {
		f->computed = true;
		f->source_id = lav_xstrdup(id);
	} else if (id) {
		bool found = false;
		for (size_t i = 0; i < nsources; i++)
			found |= strcmp(sources[i].id, id) == 0;
		if (!found)
			ferr(c, "source.id", "\"%s\" is not a source in datasources.json", id);
		f->source_id = lav_xstrdup(id);
	}
	int cls = req_enum(c, src, "class", "source.class", CLASS_NAMES);
	if (cls >= 0)
		f->source_class = (enum lav_source_class)cls;
	const char *schema = req_string(c, src, "schema", "source.schema", true);
	f->source_schema = lav_xstrdup(schema ? schema : "");
	json_t *series = json_object_get(src, "series");
	if (series) {
		if (!json_is_string(series) || json_string_length(series) == 0)
			ferr(c, "source.series", "must be a non-empty string");
		else
			f->source_series = lav_xstrdup(json_string_value(series));
	}
}

static void parse_quality(struct ctx *c, const json_t *obj, struct lav_feature *f)
{
	json_t *q = json_object_get(obj, "quality");
	f->on_violation = LAV_VIOLATION_FLAG;
	if (!q)
		return;
	if (!json_is_object(q)) {
		ferr(c, "quality", "must be an object");
		return;
	}
	static const char *const allowed[] = {"expected_range", "seasonal", "on_violation", NULL};
	check_unknown(c, q, "quality.", allowed);
	json_t *r = json_object_get(q, "expected_range");
	if (r) {
		if (!json_is_array(r) || json_array_size(r) != 2 ||
		    !json_is_number(json_array_get(r, 0)) || !json_is_number(json_array_get(r, 1))) {
			ferr(c, "quality.expected_range", "must be [lo, hi] with two numbers");
		} else {
			double lo = json_number_value(json_array_get(r, 0));
			double hi = json_number_value(json_array_get(r, 1));
			if (!(lo < hi))
				ferr(c, "quality.expected_range", "lo (%g) must be less than hi (%g)",
				     lo, hi);
			f->has_range = true;
			f->range_lo = lo;
			f->range_hi = hi;
		}
	}
	json_t *s = json_object_get(q, "seasonal");
	if (s) {
		if (!json_is_boolean(s))
			ferr(c, "quality.seasonal", "must be true or false");
		f->seasonal = json_is_true(s);
	}
	if (json_object_get(q, "on_violation")) {
		int v = req_enum(c, q, "on_violation", "quality.on_violation", VIOLATION_NAMES);
		if (v >= 0)
			f->on_violation = (enum lav_on_violation)v;
	}
}

static void parse_derived(struct ctx *c, const json_t *obj, struct lav_feature *f)
{
	json_t *d = json_object_get(obj, "derived");
	if (!d)
		return;
	if (!json_is_object(d)) {
		ferr(c, "derived", "must be an object {op, inputs, params?}");
		return;
	}
	static const char *const allowed[] = {"op", "inputs", "params", NULL};
	check_unknown(c, d, "derived.", allowed);
	const char *op = req_string(c, d, "op", "derived.op", true);
	const struct op_spec *spec = NULL;
	for (size_t i = 0; op && i < sizeof(OPS) / sizeof(OPS[0]); i++)
		if (strcmp(OPS[i].name, op) == 0)
			spec = &OPS[i];
	if (op && !spec) {
		struct lav_buf b = LAV_BUF_INIT;
		for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
			lav_buf_printf(&b, "%s%s", i ? ", " : "", OPS[i].name);
		ferr(c, "derived.op", "unknown operator \"%s\" (one of %s)", op,
		     lav_buf_cstr(&b));
		lav_buf_free(&b);
	}
	struct lav_derived *dv = lav_xcalloc(1, sizeof(*dv));
	f->derived = dv;
	dv->op = lav_xstrdup(op ? op : "");
	json_t *inputs = json_object_get(d, "inputs");
	if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
		ferr(c, "derived.inputs", "must be a non-empty array of feature ids");
	} else {
		size_t n = json_array_size(inputs);
		dv->inputs = lav_xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			const char *in = json_string_value(json_array_get(inputs, i));
			if (!in || !valid_feature_id(in)) {
				ferr(c, "derived.inputs", "item %zu must be a feature id", i);
				continue;
			}
			dv->inputs[dv->ninputs++] = lav_xstrdup(in);
		}
		if (spec && (n < (size_t)spec->min_inputs || n > (size_t)spec->max_inputs)) {
			if (spec->min_inputs == spec->max_inputs)
				ferr(c, "derived.inputs", "operator %s takes %d input(s), got %zu",
				     spec->name, spec->min_inputs, n);
			else
				ferr(c, "derived.inputs", "operator %s takes %d to %d inputs, got %zu",
				     spec->name, spec->min_inputs, spec->max_inputs, n);
		}
	}
	json_t *params = json_object_get(d, "params");
	if (params && !json_is_object(params)) {
		ferr(c, "derived.params", "must be an object");
		params = NULL;
	}
	dv->params = params ? json_deep_copy(params) : json_object();
	if (!spec)
		return;
	const char *key;
	json_t *v;
	json_object_foreach(dv->params, key, v)
	{
		if (enum_index(spec->params, key) < 0) {
			char field[96];
			snprintf(field, sizeof(field), "derived.params.%s", key);
			ferr(c, field, "operator %s takes no such parameter", spec->name);
		}
	}
	for (int i = 0; spec->params[i]; i++) {
		const char *p = spec->params[i];
		json_t *pv = json_object_get(dv->params, p);
		char field[96];
		snprintf(field, sizeof(field), "derived.params.%s", p);
		if (!pv) {
			if (spec->params_required)
				ferr(c, field, "is required by operator %s", spec->name);
			continue;
		}
		if (strcmp(p, "alpha") == 0) {
			double a = json_number_value(pv);
			if (!json_is_number(pv) || !(a > 0 && a <= 1))
				ferr(c, field, "must be a number in (0, 1]");
		} else if (strcmp(p, "weights") == 0) {
			if (!json_is_array(pv) || json_array_size(pv) != dv->ninputs) {
				ferr(c, field, "must be an array with one number per input");
			} else {
				for (size_t k = 0; k < json_array_size(pv); k++)
					if (!json_is_number(json_array_get(pv, k)))
						ferr(c, field, "item %zu must be a number", k);
			}
		} else {
			int64_t min = strcmp(p, "window") == 0 ? 2 : 1;
			if (!json_is_integer(pv) || json_integer_value(pv) < min ||
			    json_integer_value(pv) > 100000)
				ferr(c, field, "must be an integer between %lld and 100000",
				     (long long)min);
		}
	}
}

/* Builds the normalized spec: the input with defaults made explicit. */
static json_t *normalized_spec(const json_t *obj, const struct lav_feature *f)
{
	json_t *spec = json_deep_copy(obj);
	if (!json_object_get(spec, "dtype"))
		json_object_set_new(spec, "dtype", json_string(DTYPE_NAMES[f->dtype]));
	json_t *q = json_object_get(spec, "quality");
	if (!q) {
		q = json_object();
		json_object_set_new(spec, "quality", q);
	}
	if (!json_object_get(q, "on_violation"))
		json_object_set_new(q, "on_violation",
				    json_string(VIOLATION_NAMES[f->on_violation]));
	return spec;
}

static void parse_feature(struct ctx *c, const json_t *obj, struct lav_feature *f,
			  const struct lav_source *sources, size_t nsources)
{
	static const char *const allowed[] = {
		"id",	 "entity",	      "description", "unit",  "tags",	 "frequency",
		"ttl_ms", "source",	      "quality",     "dtype", "derived", "version",
		"publication_delay", NULL};
	const char *id = json_string_value(json_object_get(obj, "id"));
	if (id && valid_feature_id(id))
		c->id = id;
	check_unknown(c, obj, "", allowed);
	if (!json_object_get(obj, "id"))
		ferr(c, "id", "is required");
	else if (!id || !valid_feature_id(id))
		ferr(c, "id",
		     "must match [a-z0-9_]+(/[a-z0-9_]+)+ and be at most 128 characters");
	f->id = lav_xstrdup(c->id ? c->id : "");

	int e = req_enum(c, obj, "entity", "entity", ENTITY_NAMES);
	if (e >= 0)
		f->entity = (enum lav_entity_kind)e;
	const char *desc = req_string(c, obj, "description", "description", true);
	f->description = lav_xstrdup(desc ? desc : "");
	const char *unit = req_string(c, obj, "unit", "unit", true);
	f->unit = lav_xstrdup(unit ? unit : "");

	json_t *tags = json_object_get(obj, "tags");
	if (!tags) {
		ferr(c, "tags", "is required");
	} else if (!json_is_array(tags)) {
		ferr(c, "tags", "must be an array of strings");
	} else {
		size_t n = json_array_size(tags);
		f->tags = lav_xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			const char *t = json_string_value(json_array_get(tags, i));
			if (!t || !*t) {
				ferr(c, "tags", "item %zu must be a non-empty string", i);
				continue;
			}
			for (size_t j = 0; j < f->ntags; j++)
				if (strcmp(f->tags[j], t) == 0)
					ferr(c, "tags", "duplicate tag \"%s\"", t);
			f->tags[f->ntags++] = lav_xstrdup(t);
		}
	}

	int fr = req_enum(c, obj, "frequency", "frequency", FREQ_NAMES);
	if (fr >= 0)
		f->frequency = (enum lav_frequency)fr;
	json_t *ttl = json_object_get(obj, "ttl_ms");
	if (!ttl)
		ferr(c, "ttl_ms", "is required");
	else if (!json_is_integer(ttl) || json_integer_value(ttl) <= 0)
		ferr(c, "ttl_ms", "must be an integer > 0");
	else
		f->ttl_ms = json_integer_value(ttl);

	parse_source(c, obj, f, sources, nsources);
	parse_quality(c, obj, f);

	json_t *delay = json_object_get(obj, "publication_delay");
	if (delay) {
		if (!json_is_string(delay) ||
		    !lav_duration_parse(json_string_value(delay), true, &f->publication_delay_ms))
			ferr(c, "publication_delay",
			     "must be a duration like \"1d\", \"12h\" or \"0s\"");
	}
	json_t *dtype = json_object_get(obj, "dtype");
	if (dtype) {
		int d = req_enum(c, obj, "dtype", "dtype", DTYPE_NAMES);
		if (d >= 0)
			f->dtype = (enum lav_dtype)d;
	}
	parse_derived(c, obj, f);
	if (f->derived && f->source_class != LAV_CLASS_DERIVED && json_object_get(obj, "source"))
		ferr(c, "source.class", "must be \"derived\" for a feature with \"derived\"");

	json_t *ver = json_object_get(obj, "version");
	if (!ver)
		ferr(c, "version", "is required");
	else if (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
		 json_integer_value(ver) > 1000000000)
		ferr(c, "version", "must be an integer >= 1");
	else
		f->version = (int)json_integer_value(ver);
	f->spec = normalized_spec(obj, f);
}

static void feature_free(struct lav_feature *f)
{
	free(f->id);
	free(f->description);
	free(f->unit);
	for (size_t i = 0; i < f->ntags; i++)
		free(f->tags[i]);
	free(f->tags);
	free(f->source_id);
	free(f->source_schema);
	free(f->source_series);
	if (f->derived) {
		free(f->derived->op);
		for (size_t i = 0; i < f->derived->ninputs; i++)
			free(f->derived->inputs[i]);
		free(f->derived->inputs);
		json_decref(f->derived->params);
		free(f->derived);
	}
	json_decref(f->spec);
}

static int cmp_feature(const void *a, const void *b)
{
	return strcmp(((const struct lav_feature *)a)->id, ((const struct lav_feature *)b)->id);
}

static const struct lav_feature *find(const struct lav_feature *fs, size_t n, const char *id)
{
	struct lav_feature key = {.id = (char *)id};
	return bsearch(&key, fs, n, sizeof(*fs), cmp_feature);
}

/* Depth-first search for dependency cycles among derived features. */
static bool has_cycle(const struct lav_feature *fs, size_t n, size_t i, unsigned char *mark,
		      const char **where)
{
	if (mark[i] == 1) {
		*where = fs[i].id;
		return true;
	}
	if (mark[i] == 2 || !fs[i].derived)
		return false;
	mark[i] = 1;
	for (size_t k = 0; k < fs[i].derived->ninputs; k++) {
		const struct lav_feature *in = find(fs, n, fs[i].derived->inputs[k]);
		if (in && has_cycle(fs, n, (size_t)(in - fs), mark, where))
			return true;
	}
	mark[i] = 2;
	return false;
}

bool lav_catalog_parse_features(const json_t *doc, const char *file,
				const struct lav_source *sources, size_t nsources,
				struct lav_catalog *out, struct lav_errors *errs)
{
	size_t before = errs->n + errs->dropped;
	out->features = NULL;
	out->nfeatures = 0;
	const json_t *arr = doc;
	if (json_is_object(doc)) {
		arr = json_object_get(doc, "features");
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)doc, key, v)
		{
			if (strcmp(key, "features") != 0 && strcmp(key, "version") != 0)
				lav_errors_add(errs, "%s: unknown top-level field \"%s\"", file, key);
		}
	}
	if (!json_is_array(arr)) {
		lav_errors_add(errs, "%s: must be a JSON array of features (or {\"features\": [...]})",
			       file);
		return false;
	}
	size_t n = json_array_size(arr);
	struct lav_feature *fs = lav_xcalloc(n, sizeof(*fs));
	for (size_t i = 0; i < n; i++) {
		const json_t *obj = json_array_get(arr, i);
		struct ctx c = {file, i, NULL, errs, false};
		if (!json_is_object(obj)) {
			lav_errors_add(errs, "%s: feature[%zu]: must be an object", file, i);
			fs[i].id = lav_xstrdup("");
			continue;
		}
		parse_feature(&c, obj, &fs[i], sources, nsources);
		for (size_t j = 0; j < i; j++)
			if (*fs[i].id && strcmp(fs[j].id, fs[i].id) == 0)
				lav_errors_add(errs,
					       "%s: feature[%zu] \"%s\": field \"id\": duplicate of "
					       "feature[%zu]",
					       file, i, fs[i].id, j);
	}
	if (errs->n + errs->dropped == before) {
		qsort(fs, n, sizeof(*fs), cmp_feature);
		for (size_t i = 0; i < n; i++) {
			const struct lav_derived *d = fs[i].derived;
			for (size_t k = 0; d && k < d->ninputs; k++) {
				if (!find(fs, n, d->inputs[k]))
					lav_errors_add(errs,
						       "%s: feature \"%s\": field "
						       "\"derived.inputs\": \"%s\" is not in the "
						       "catalog",
						       file, fs[i].id, d->inputs[k]);
				else if (strcmp(d->inputs[k], fs[i].id) == 0)
					lav_errors_add(errs,
						       "%s: feature \"%s\": field "
						       "\"derived.inputs\": a feature cannot depend "
						       "on itself",
						       file, fs[i].id);
			}
		}
		unsigned char *mark = lav_xcalloc(n, 1);
		const char *where = NULL;
		for (size_t i = 0; i < n && errs->n + errs->dropped == before; i++)
			if (has_cycle(fs, n, i, mark, &where))
				lav_errors_add(errs,
					       "%s: feature \"%s\": field \"derived.inputs\": "
					       "dependency cycle through \"%s\"",
					       file, fs[i].id, where);
		free(mark);
	}
	if (errs->n + errs->dropped != before) {
		for (size_t i = 0; i < n; i++)
			feature_free(&fs[i]);
		free(fs);
		return false;
	}
	out->features = fs;
	out->nfeatures = n;
	return true;
}

json_t *lav_json_load_file(const char *path, struct lav_errors *errs)
{
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		lav_errors_add(errs, "%s: line %d column %d: %s", path, je.line, je.column,
			       je.text);
	return doc;
}

bool lav_catalog_load(const char *dir, lav_env_get env, void *env_arg, struct lav_catalog *out,
		      struct lav_errors *errs)
{
	memset(out, 0, sizeof(*out));
	char path[4096];
	snprintf(path, sizeof(path), "%s/datasources.json", dir);
	json_t *doc = lav_json_load_file(path, errs);
	if (!doc)
		return false;
	bool ok = lav_sources_parse(doc, path, env, env_arg, &out->sources, &out->nsources, errs);
	json_decref(doc);
	if (!ok)
		return false;
	snprintf(path, sizeof(path), "%s/features.catalog.json", dir);
	doc = lav_json_load_file(path, errs);
	if (!doc) {
		lav_catalog_free(out);
		return false;
	}
	ok = lav_catalog_parse_features(doc, path, out->sources, out->nsources, out, errs);
	json_decref(doc);
	if (!ok)
		lav_catalog_free(out);
	return ok;
}

void lav_catalog_free(struct lav_catalog *c)
{
	for (size_t i = 0; i < c->nfeatures; i++)
		feature_free(&c->features[i]);
	free(c->features);
	lav_sources_free(c->sources, c->nsources);
	memset(c, 0, sizeof(*c));
}

const struct lav_feature *lav_catalog_find(const struct lav_catalog *c, const char *id)
{
	return find(c->features, c->nfeatures, id);
}

const struct lav_source *lav_catalog_source(const struct lav_catalog *c, const char *id)
{
	for (size_t i = 0; i < c->nsources; i++)
		if (strcmp(c->sources[i].id, id) == 0)
			return &c->sources[i];
	return NULL;
}
