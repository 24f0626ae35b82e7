/* The internal CEX aggregator: lav's own contract for it,
 * GET /v1/series/<name>?since=<RFC 3339>&until=<RFC 3339> →
 * {"series": "<name>", "unit": "USD", "points": [{"ts": "...", "value": 1.0}]}. */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	if (name_ok(f->source_series))
		return 1;
	lav_adapter_errf(err, errlen, "feature \"%s\": aggregator series must be [a-z0-9_]+",
			 f->id);
	return -1;
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	char path[96], t0[LAV_TIME_STRLEN], t1[LAV_TIME_STRLEN];
	snprintf(path, sizeof(path), "/v1/series/%s", ctx->feature->source_series);
	lav_time_format(ctx->since, t0);
	lav_time_format(ctx->until, t1);
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, path);
	lav_url_param(&url, "since", t0);
	lav_url_param(&url, "until", t1);
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

static bool parse(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
		  struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	(void)next_since;
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	bool ok = false;
	json_t *pts = json_object_get(doc, "points");
	if (!json_is_array(pts)) {
		lav_adapter_errf(err, errlen, "expected {\"points\": [...]}");
		goto done;
	}
	size_t from = out->n, i;
	json_t *p;
	json_array_foreach(pts, i, p)
	{
		json_t *tsj = json_object_get(p, "ts");
		int64_t ts;
		double v;
		const char *why = NULL;
		if (!json_is_string(tsj) ||
		    !lav_time_parse(json_string_value(tsj), json_string_length(tsj), &ts, &why) ||
		    !lav_json_num(json_object_get(p, "value"), &v)) {
			lav_adapter_errf(err, errlen, "points[%zu]: needs an RFC 3339 \"ts\" and a "
						      "numeric \"value\"",
					 i);
			goto done;
		}
		if (lav_in_range(ctx, ts) && ts <= ctx->fetched_at)
			lav_obs_push(out, ts, 0, v);
	}
	lav_obs_sort(out, from);
	ok = true;
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_cexagg = {
	.name = "cex-aggregator/series",
	.source_id = "cex-aggregator",
	.history = LAV_HISTORY_RANGE,
	.match = match,
	.request = request,
	.parse = parse,
};
