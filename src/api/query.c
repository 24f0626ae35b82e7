/* POST /api/features/v1/query: point-in-time range reads from PostgreSQL,
 * with aggregation, time-zone buckets and forward fill done in C (agg.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/agg.h"
#include "lav/api.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/strmap.h"
#include "lav/timefmt.h"
#include "lav/tz.h"

#define DEFAULT_LIMIT 10000
#define MAX_SERIES 256

/* DISTINCT ON keeps, per ts, the latest revision known at as_of ($5). */
static const char QUERY_SQL[] =
	"SELECT (extract(epoch FROM ts) * 1000000)::int8, (extract(epoch FROM available_at) *"
	" 1000000)::int8, value, confidence, meta::text, evidence::text FROM (SELECT DISTINCT ON"
	" (ts) ts, available_at, value, confidence, meta, evidence FROM features_values WHERE"
	" feature_id = $1 AND entity = $2 AND ts >= $3 AND ts < $4 AND available_at <= $5"
	" ORDER BY ts, available_at DESC) x ORDER BY ts LIMIT $6";

struct query_ctx;

struct series_result {
	const struct lav_feature *feature;
	char *entity;
	PGresult *rows; /* owned copy */
	struct query_ctx *ctx;
};

struct query_ctx {
	struct lav_server *srv;
	struct lav_request *req;
	struct series_result *series;
	size_t nseries, pending;
	char *error;
	int64_t since, until, as_of;
	enum lav_agg agg;
	int64_t bucket_us;
	const struct lav_tz *tz; /* owned by srv->zones; NULL = UTC */
	bool ffill;
	int64_t fill_max_age_us; /* 0: the feature's ttl */
	size_t limit;
	bool columnar;
};

static void ctx_free(struct query_ctx *c)
{
	for (size_t i = 0; i < c->nseries; i++) {
		free(c->series[i].entity);
		PQclear(c->series[i].rows);
	}
	free(c->series);
	free(c->error);
	free(c);
}

static json_t *json_col(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL
					: json_loads(PQgetvalue(r, row, col), JSON_DECODE_ANY, NULL);
}

static void write_raw(struct query_ctx *c, struct lav_writer *w, const struct series_result *s)
{
	int n = PQntuples(s->rows);
	bool truncated = (size_t)n > c->limit;
	if (truncated)
		n = (int)c->limit;
	int64_t now = lav_now_us();
	if (c->columnar) {
		lav_w_key(w, "ts");
		lav_w_array_begin(w);
		for (int i = 0; i < n; i++)
			lav_w_time(w, atoll(PQgetvalue(s->rows, i, 0)));
		lav_w_array_end(w);
		lav_w_key(w, "available_at");
		lav_w_array_begin(w);
		for (int i = 0; i < n; i++)
			lav_w_time(w, atoll(PQgetvalue(s->rows, i, 1)));
		lav_w_array_end(w);
		lav_w_key(w, "value");
		lav_w_array_begin(w);
		for (int i = 0; i < n; i++)
			lav_w_double(w, strtod(PQgetvalue(s->rows, i, 2), NULL));
		lav_w_array_end(w);
	} else {
		lav_w_key(w, "points");
		lav_w_array_begin(w);
		for (int i = 0; i < n; i++) {
			struct lav_point p = {
				.ts = atoll(PQgetvalue(s->rows, i, 0)),
				.available_at = atoll(PQgetvalue(s->rows, i, 1)),
				.value = strtod(PQgetvalue(s->rows, i, 2), NULL),
				.confidence = strtod(PQgetvalue(s->rows, i, 3), NULL),
				.meta = json_col(s->rows, i, 4),
				.evidence = json_col(s->rows, i, 5),
			};
			lav_write_point(w, s->feature->id, s->entity, &p, s->feature->ttl_ms, now);
			lav_point_clear(&p);
		}
		lav_w_array_end(w);
	}
	lav_w_key(w, "truncated");
	lav_w_bool(w, truncated);
}

static void write_buckets(struct query_ctx *c, struct lav_writer *w, const struct series_result *s)
{
	size_t n = (size_t)PQntuples(s->rows);
	bool truncated = n > c->srv->cfg.query_max_points;
	if (truncated)
		n = c->srv->cfg.query_max_points;
	int64_t *ts = lav_xcalloc(n + 1, sizeof(int64_t));
	double *v = lav_xcalloc(n + 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		ts[i] = atoll(PQgetvalue(s->rows, (int)i, 0));
		v[i] = strtod(PQgetvalue(s->rows, (int)i, 2), NULL);
	}
	int64_t *bts = lav_xcalloc(n + 1, sizeof(int64_t));
	double *bv = lav_xcalloc(n + 1, sizeof(double));
	uint32_t *bc = lav_xcalloc(n + 1, sizeof(uint32_t));
	const struct lav_tz *tz = c->tz;
	size_t m = lav_aggregate(ts, v, n, c->agg, c->bucket_us, tz, bts, bv, bc);
	size_t cap = c->limit;
	int64_t *ots = NULL;
	double *ov = NULL;
	bool *present = NULL;
	size_t k;
	if (c->ffill) {
		ots = lav_xcalloc(cap, sizeof(int64_t));
		ov = lav_xcalloc(cap, sizeof(double));
		present = lav_xcalloc(cap, sizeof(bool));
		bool more = false;
		int64_t max_age =
			c->fill_max_age_us ? c->fill_max_age_us : s->feature->ttl_ms * 1000;
		k = lav_fill_buckets(bts, bv, m, c->since, c->until, c->bucket_us, tz, true,
				     max_age, ots, ov, present, cap, &more);
		truncated |= more;
	} else {
		k = m < cap ? m : cap;
		truncated |= m > cap;
		ots = bts;
		ov = bv;
	}
	if (c->columnar) {
		lav_w_key(w, "ts");
		lav_w_array_begin(w);
		for (size_t i = 0; i < k; i++)
			lav_w_time(w, ots[i]);
		lav_w_array_end(w);
		lav_w_key(w, "value");
		lav_w_array_begin(w);
		for (size_t i = 0; i < k; i++)
			if (present && !present[i])
				lav_w_null(w);
			else
				lav_w_double(w, ov[i]);
		lav_w_array_end(w);
	} else {
		lav_w_key(w, "points");
		lav_w_array_begin(w);
		size_t j = 0;
		for (size_t i = 0; i < k; i++) {
			lav_w_map_begin(w);
			lav_w_key(w, "ts");
			lav_w_time(w, ots[i]);
			lav_w_key(w, "value");
			if (present && !present[i])
				lav_w_null(w);
			else
				lav_w_double(w, ov[i]);
			lav_w_key(w, "count");
			/* points that fell in this bucket (0 for a filled one) */
			while (j < m && bts[j] < ots[i])
				j++;
			lav_w_int(w, j < m && bts[j] == ots[i] ? bc[j] : 0);
			lav_w_map_end(w);
		}
		lav_w_array_end(w);
	}
	lav_w_key(w, "truncated");
	lav_w_bool(w, truncated);
	if (c->ffill) {
		free(ots);
		free(ov);
		free(present);
	}
	free(ts);
	free(v);
	free(bts);
	free(bv);
	free(bc);
}

static void finish(struct query_ctx *c)
{
	if (c->error) {
		lav_respond_error_ex(c->req, 503, "unavailable", "Retry-After: 1\r\n", NULL, 0,
				     "query failed: %s", c->error);
		ctx_free(c);
		return;
	}
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, c->req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "results");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < c->nseries; i++) {
		const struct series_result *s = &c->series[i];
		lav_w_map_begin(&w);
		lav_w_key(&w, "featureId");
		lav_w_str(&w, s->feature->id);
		lav_w_key(&w, "entity");
		lav_w_str(&w, s->entity);
		if (c->agg == LAV_AGG_NONE)
			write_raw(c, &w, s);
		else
			write_buckets(c, &w, s);
		lav_w_map_end(&w);
	}
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	lav_api_reply(c->req, 200, &b);
	lav_buf_free(&b);
	ctx_free(c);
}

static void on_rows(const PGresult *res, const char *err, void *arg)
{
	struct series_result *s = arg;
	struct query_ctx *c = s->ctx;
	if (err || !res) {
		if (!c->error)
			c->error = lav_xstrdup(err ? err : "no result");
	} else {
		s->rows = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	}
	if (--c->pending == 0)
		finish(c);
}

static void add_series(struct query_ctx *c, const struct lav_feature *f, const char *entity)
{
	c->series = lav_xrealloc(c->series, (c->nseries + 1) * sizeof(*c->series));
	c->series[c->nseries++] = (struct series_result){f, lav_xstrdup(entity), NULL, c};
}

/* Zones are read from /usr/share/zoneinfo once per name and kept: the loop
 * does not touch the disk again for the same zone. Unknown names are not
 * cached (a client must not grow the map). */
static const struct lav_tz *zone(struct lav_server *srv, const char *name)
{
	struct lav_tz *tz = lav_strmap_get(&srv->zones, name);
	if (tz)
		return tz;
	tz = lav_xcalloc(1, sizeof(*tz));
	if (!lav_tz_load(name, tz)) {
		free(tz);
		return NULL;
	}
	lav_strmap_put(&srv->zones, name, tz);
	return tz;
}

#define BAD(status, code, ...)                                                                     \
	do {                                                                                       \
		lav_respond_error(req, status, code, __VA_ARGS__);                                 \
		goto fail;                                                                         \
	} while (0)

void lav_api_query(struct lav_server *srv, struct lav_request *req)
{
	if (!lav_api_store_ready(srv, req))
		return;
	json_t *doc = lav_api_body(req);
	if (!doc)
		return;
	struct query_ctx *c = lav_xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->req = req;
	c->limit = DEFAULT_LIMIT;
	int64_t now = lav_now_us();
	c->since = 0;
	c->until = now + 5 * 60 * LAV_US_PER_S + 1;
	c->as_of = now;
	if (!json_is_object(doc))
		BAD(400, "malformed_body", "body must be an object {featureIds, ...}");
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v)
	{
		static const char *const allowed[] = {"featureIds", "entity", "since", "until",
						      "as_of",	    "agg",    "bucket", "tz",
						      "fill",	    "limit",  "format", NULL};
		bool ok = false;
		for (int i = 0; allowed[i]; i++)
			ok |= strcmp(allowed[i], key) == 0;
		if (!ok)
			BAD(400, "bad_parameter", "unknown field \"%.64s\"", key);
	}
	json_t *ids = json_object_get(doc, "featureIds");
	if (!json_is_array(ids) || json_array_size(ids) == 0)
		BAD(400, "bad_parameter", "field \"featureIds\": a non-empty array of feature ids");
	json_t *ent = json_object_get(doc, "entity");
	if (ent && !json_is_null(ent) && !json_is_string(ent))
		BAD(400, "bad_parameter", "field \"entity\": must be a string");
	if (!lav_api_time_field(req, doc, "since", false, &c->since) ||
	    !lav_api_time_field(req, doc, "until", false, &c->until) ||
	    !lav_api_time_field(req, doc, "as_of", false, &c->as_of))
		goto fail_quiet;
	if (c->since >= c->until)
		BAD(422, "invalid_query", "since must be before until (the range is since <= ts < until)");
	json_t *agg = json_object_get(doc, "agg");
	if (agg && !json_is_null(agg) &&
	    (!json_is_string(agg) || !lav_agg_parse(json_string_value(agg), &c->agg)))
		BAD(422, "invalid_query",
		    "field \"agg\": one of sum, avg, min, max, first, last, count, none");
	json_t *bucket = json_object_get(doc, "bucket");
	if (bucket && !json_is_null(bucket)) {
		if (!json_is_string(bucket) ||
		    !lav_duration_parse(json_string_value(bucket), false, &c->bucket_us) ||
		    c->bucket_us < 1000)
			BAD(422, "invalid_query", "field \"bucket\": a duration of at least 1s (\"1h\", \"1d\")");
		c->bucket_us *= 1000;
	}
	if ((c->agg != LAV_AGG_NONE) != (c->bucket_us != 0))
		BAD(422, "invalid_query", "\"agg\" and \"bucket\" go together");
	json_t *tz = json_object_get(doc, "tz");
	if (tz && !json_is_null(tz)) {
		if (!c->bucket_us)
			BAD(422, "invalid_query", "field \"tz\": needs agg and bucket");
		c->tz = json_is_string(tz) ? zone(srv, json_string_value(tz)) : NULL;
		if (!c->tz)
			BAD(422, "invalid_query", "field \"tz\": unknown time zone (an IANA name such as America/Mexico_City)");
	}
	json_t *fill = json_object_get(doc, "fill");
	if (fill && !json_is_null(fill)) {
		const char *method = json_is_string(fill) ? json_string_value(fill)
							  : json_string_value(json_object_get(fill, "method"));
		json_t *age = json_is_object(fill) ? json_object_get(fill, "max_age") : NULL;
		if (!method || (strcmp(method, "none") && strcmp(method, "ffill")) ||
		    (json_is_object(fill) && json_object_size(fill) > (age ? 2u : 1u)))
			BAD(422, "invalid_query",
			    "field \"fill\": \"none\", \"ffill\" or {\"method\": \"ffill\", \"max_age\": \"2d\"}");
		c->ffill = strcmp(method, "ffill") == 0;
		if (age && (!json_is_string(age) ||
			    !lav_duration_parse(json_string_value(age), false, &c->fill_max_age_us)))
			BAD(422, "invalid_query", "field \"fill.max_age\": a duration such as \"2d\"");
		c->fill_max_age_us *= 1000;
		if (c->ffill && (!c->bucket_us || !json_object_get(doc, "since")))
			BAD(422, "invalid_query", "fill \"ffill\" needs agg, bucket and since");
	}
	json_t *limit = json_object_get(doc, "limit");
	if (limit && !json_is_null(limit)) {
		if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
		    (size_t)json_integer_value(limit) > srv->cfg.query_max_points)
			BAD(422, "invalid_query", "field \"limit\": an integer from 1 to %zu",
			    srv->cfg.query_max_points);
		c->limit = (size_t)json_integer_value(limit);
	}
	json_t *format = json_object_get(doc, "format");
	if (format && !json_is_null(format)) {
		const char *f = json_string_value(format);
		if (!f || (strcmp(f, "rows") && strcmp(f, "columnar")))
			BAD(422, "invalid_query", "field \"format\": \"rows\" or \"columnar\"");
		c->columnar = strcmp(f, "columnar") == 0;
	}
	/* the series to read */
	struct lav_series_index *ix = lav_store_series(srv->store);
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
	{
		const struct lav_feature *f =
			json_is_string(id) ? lav_catalog_find(&srv->catalog, json_string_value(id))
					   : NULL;
		if (!f) {
			if (!json_is_string(id))
				BAD(400, "bad_parameter", "field \"featureIds[%zu]\": must be a string", i);
			lav_respond_error(req, 404, "unknown_feature",
					  "featureId \"%.128s\" is not in the catalog",
					  json_string_value(id));
			goto fail;
		}
		if (ent && json_is_string(ent)) {
			if (c->nseries == MAX_SERIES)
				BAD(422, "invalid_query", "at most %d series per query", MAX_SERIES);
			add_series(c, f, json_string_value(ent));
			continue;
		}
		/* no entity: every series of the feature */
		lav_strmap_foreach(&ix->map, k)
		{
			struct lav_series *s = ix->map.slots[k].value;
			if (s->feature != f)
				continue;
			if (c->nseries == MAX_SERIES)
				BAD(422, "invalid_query", "at most %d series per query; name an entity",
				    MAX_SERIES);
			add_series(c, f, s->entity);
		}
	}
	json_decref(doc);
	doc = NULL;
	if (c->nseries == 0) {
		finish(c);
		return;
	}
	char since[LAV_TIME_STRLEN], until[LAV_TIME_STRLEN], as_of[LAV_TIME_STRLEN], lim[24];
	lav_time_format(c->since, since);
	lav_time_format(c->until, until);
	lav_time_format(c->as_of, as_of);
	/* one more row than asked tells whether the answer was truncated */
	snprintf(lim, sizeof(lim), "%zu",
		 (c->agg == LAV_AGG_NONE ? c->limit : srv->cfg.query_max_points) + 1);
	/* one extra hold: a query failing synchronously must not finish c mid-loop */
	c->pending = c->nseries + 1;
	for (size_t k = 0; k < c->nseries; k++) {
		const char *params[] = {c->series[k].feature->id, c->series[k].entity, since, until,
					as_of, lim};
		if (!lav_store_query(srv->store, QUERY_SQL, 6, params, on_rows, &c->series[k]))
			on_rows(NULL, "PostgreSQL is unavailable", &c->series[k]);
	}
	if (--c->pending == 0)
		finish(c);
	return;
fail:
fail_quiet:
	json_decref(doc);
	ctx_free(c);
}
