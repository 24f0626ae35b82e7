/* GET /api/features/v1/latest (from memory) and POST .../publish (durable). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lav/api.h"
#include "lav/dq.h"
#include "lav/router.h"
#include "lav/server.h"
#include "lav/store.h"
#include "lav/timefmt.h"
#include "lav/ws.h"

bool lav_api_store_ready(struct lav_server *srv, struct lav_request *req)
{
	int retry;
	if (lav_store_available(srv->store, &retry))
		return true;
	char hdr[40];
	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry);
	lav_respond_error_ex(req, 503, "unavailable", hdr, NULL, 0,
			     "PostgreSQL is unavailable or failing; retry in %d s", retry);
	return false;
}

void lav_api_latest(struct lav_server *srv, struct lav_request *req)
{
	static const char *const allowed[] = {"featureId", "entity", NULL};
	struct lav_query q;
	if (!lav_query_parse(req->query, &q)) {
		lav_respond_error(req, 400, "bad_parameter", "malformed query string");
		return;
	}
	const char *unknown = lav_query_unknown(&q, allowed);
	bool dup;
	const char *entity = lav_query_get(&q, "entity", &dup);
	size_t nids = 0;
	for (size_t i = 0; i < q.n; i++)
		nids += strcmp(q.p[i].key, "featureId") == 0;
	if (unknown || dup || nids == 0) {
		if (unknown)
			lav_respond_error(
			    req, 400, "bad_parameter",
			    "unknown query parameter \"%.64s\" (use featureId, entity)", unknown);
		else if (dup)
			lav_respond_error(req, 400, "bad_parameter",
					  "query parameter \"entity\" given more than once");
		else
			lav_respond_error(req, 400, "bad_parameter",
					  "featureId is required (repeat it for several)");
		lav_query_free(&q);
		return;
	}
	if (!entity)
		entity = "";
	for (size_t i = 0; i < q.n; i++) {
		if (strcmp(q.p[i].key, "featureId") == 0 &&
		    !lav_catalog_find(&srv->catalog, q.p[i].value)) {
			lav_respond_error(req, 404, "unknown_feature",
					  "featureId \"%.128s\" is not in the catalog",
					  q.p[i].value);
			lav_query_free(&q);
			return;
		}
	}
	int64_t now = lav_now_us();
	struct lav_series_index *ix = lav_store_series(srv->store);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, req->out_fmt, &b);
	if (nids == 1) {
		const char *id = lav_query_get(&q, "featureId", NULL);
		const struct lav_series *s = lav_series_get(ix, id, entity);
		const struct lav_point *p = s ? lav_series_asof(s, now) : NULL;
		if (!p) {
			lav_respond_error(req, 404, "no_data", "no data for \"%.128s\"%s%.64s%s",
					  id, *entity ? " entity \"" : "", entity,
					  *entity ? "\"" : "");
		} else {
			lav_write_point(&w, s->feature_id, s->entity, p, s->feature->ttl_ms, now);
			lav_api_reply(req, 200, &b);
		}
		lav_buf_free(&b);
		lav_query_free(&q);
		return;
	}
	lav_w_map_begin(&w);
	lav_w_key(&w, "points");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < q.n; i++) {
		if (strcmp(q.p[i].key, "featureId") != 0)
			continue;
		const struct lav_series *s = lav_series_get(ix, q.p[i].value, entity);
		const struct lav_point *p = s ? lav_series_asof(s, now) : NULL;
		if (p)
			lav_write_point(&w, s->feature_id, s->entity, p, s->feature->ttl_ms, now);
	}
	lav_w_array_end(&w);
	lav_w_key(&w, "missing");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < q.n; i++) {
		if (strcmp(q.p[i].key, "featureId") != 0)
			continue;
		const struct lav_series *s = lav_series_get(ix, q.p[i].value, entity);
		if (!s || !lav_series_asof(s, now))
			lav_w_str(&w, q.p[i].value);
	}
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	lav_api_reply(req, 200, &b);
	lav_buf_free(&b);
	lav_query_free(&q);
}

/* ---- publish ---- */

struct pub_error {
	size_t index;
	const char *code;
	char *message;
};

struct publish_ctx {
	struct lav_request *req;
	size_t total;
	size_t *orig; /* accepted[i] came from body index orig[i] */
	size_t naccepted;
	struct pub_error *errors;
	size_t nerrors;
};

static void add_error(struct publish_ctx *c, size_t index, const char *code, const char *msg)
{
	c->errors = lav_xrealloc(c->errors, (c->nerrors + 1) * sizeof(*c->errors));
	c->errors[c->nerrors].index = index;
	c->errors[c->nerrors].code = code;
	c->errors[c->nerrors].message = lav_xstrdup(msg);
	c->nerrors++;
}

static int cmp_error(const void *a, const void *b)
{
	const struct pub_error *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void reply_publish(struct publish_ctx *c)
{
	if (c->nerrors > 1)
		qsort(c->errors, c->nerrors, sizeof(*c->errors), cmp_error);
	struct lav_buf b = LAV_BUF_INIT;
	struct lav_writer w;
	lav_w_init(&w, c->req->out_fmt, &b);
	lav_w_map_begin(&w);
	lav_w_key(&w, "accepted");
	lav_w_int(&w, (int64_t)c->naccepted);
	lav_w_key(&w, "rejected");
	lav_w_int(&w, (int64_t)c->nerrors);
	lav_w_key(&w, "errors");
	lav_w_array_begin(&w);
	for (size_t i = 0; i < c->nerrors; i++) {
		lav_w_map_begin(&w);
		lav_w_key(&w, "index");
		lav_w_int(&w, (int64_t)c->errors[i].index);
		lav_w_key(&w, "code");
		lav_w_str(&w, c->errors[i].code);
		lav_w_key(&w, "message");
		lav_w_str(&w, c->errors[i].message);
		lav_w_map_end(&w);
	}
	lav_w_array_end(&w);
	lav_w_map_end(&w);
	lav_api_reply(c->req, c->naccepted ? 200 : 422, &b);
	lav_buf_free(&b);
}

static void ctx_free(struct publish_ctx *c)
{
	for (size_t i = 0; i < c->nerrors; i++)
		free(c->errors[i].message);
	free(c->errors);
	free(c->orig);
	free(c);
}

static void on_published(void *arg, const char *err, const size_t *conflicts, size_t nconf)
{
	struct publish_ctx *c = arg;
	if (err) {
		lav_respond_error_ex(c->req, 503, "unavailable", "Retry-After: 1\r\n", NULL, 0,
				     "nothing was stored (%s); retry the whole batch: publishing "
				     "is idempotent",
				     err);
		ctx_free(c);
		return;
	}
	for (size_t i = 0; i < nconf; i++)
		add_error(c, c->orig[conflicts[i]], "conflict",
			  "a point with this featureId, entity, ts and available_at is stored "
			  "with another value; publish a revision with a later available_at");
	c->naccepted -= nconf;
	reply_publish(c);
	ctx_free(c);
}

/* The outlier rule against the newest points in memory. */
static void check_outlier(struct lav_store *st, struct lav_point_in *in)
{
	struct lav_series *s = lav_series_get(lav_store_series(st), in->feature->id, in->entity);
	if (!s || s->n < LAV_DQ_OUTLIER_MIN)
		return;
	size_t n = s->n < LAV_DQ_OUTLIER_WINDOW ? s->n : LAV_DQ_OUTLIER_WINDOW;
	double window[LAV_DQ_OUTLIER_WINDOW];
	for (size_t i = 0; i < n; i++)
		window[i] = s->pts[s->n - n + i].value;
	if (lav_dq_is_outlier(window, n, in->point.value, LAV_DQ_OUTLIER_K)) {
		lav_dq_flag(&in->point, "outlier");
		in->flagged = true;
	}
}

/* A point of a catalog feature refused by the DQ rules is a dq.alert; a
 * body that does not even name a known feature is the publisher's error
 * alone. */
static void alert_rejected(struct lav_server *srv, const json_t *pt, const char *code,
			   const char *msg)
{
	const char *id = json_string_value(json_object_get(pt, "featureId"));
	const struct lav_feature *f = id ? lav_catalog_find(&srv->catalog, id) : NULL;
	lav_metrics_rejected(&srv->metrics, &srv->catalog, f, code);
	if (!f)
		return;
	const char *entity = json_string_value(json_object_get(pt, "entity"));
	const char *ts = json_string_value(json_object_get(pt, "ts"));
	int64_t us = INT64_MIN;
	if (ts && !lav_time_parse(ts, strlen(ts), &us, NULL))
		us = INT64_MIN;
	lav_ws_emit_dq(srv->ws, id, entity ? entity : "", us, code, msg, true);
}

void lav_api_publish(struct lav_server *srv, struct lav_request *req)
{
	if (!lav_api_store_ready(srv, req))
		return;
	json_t *doc = lav_api_body(req);
	if (!doc)
		return;
	json_t *arr = doc;
	if (json_is_object(doc)) {
		arr = json_object_get(doc, "points");
		if (json_object_size(doc) != 1)
			arr = NULL;
	}
	if (!json_is_array(arr)) {
		json_decref(doc);
		lav_respond_error(req, 400, "malformed_body",
				  "body must be an array of points or {\"points\": [...]}");
		return;
	}
	size_t n = json_array_size(arr);
	struct publish_ctx *c = lav_xcalloc(1, sizeof(*c));
	c->req = req;
	c->total = n;
	c->orig = lav_xcalloc(n ? n : 1, sizeof(size_t));
	struct lav_point_in *acc = lav_xcalloc(n ? n : 1, sizeof(*acc));
	int64_t now = lav_now_us();
	for (size_t i = 0; i < n; i++) {
		const char *code;
		char msg[256];
		if (!lav_point_parse(json_array_get(arr, i), &srv->catalog, now, &acc[c->naccepted],
				     &code, msg, sizeof(msg))) {
			add_error(c, i, code, msg);
			alert_rejected(srv, json_array_get(arr, i), code, msg);
			continue;
		}
		struct lav_point_in *in = &acc[c->naccepted];
		check_outlier(srv->store, in);
		if (in->flagged)
			lav_ws_emit_dq(
			    srv->ws, in->feature->id, in->entity, in->point.ts, "outlier",
			    "value is an outlier against the newest points (meta.dq)", false);
		c->orig[c->naccepted++] = i;
	}
	json_decref(doc);
	if (c->naccepted == 0) {
		free(acc);
		reply_publish(c);
		ctx_free(c);
		return;
	}
	lav_store_publish(srv->store, acc, c->naccepted, on_published, c);
}
