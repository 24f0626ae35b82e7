/* FRED series/observations (https://fred.stlouisfed.org/docs/api/fred/):
 * {"observations": [{"date": "2024-01-03", "value": "7713889"}, ...]}, values
 * as strings in the series' own unit, "." for a missing observation. */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

/* FRED answers in the series' unit; lav stores USD. A series whose unit lav
 * does not know is refused at start rather than stored with a wrong scale. */
static const struct lav_series_scale SERIES[] = {
	{"WALCL", 1e6},	    /* millions of USD, weekly (Wednesday) */
	{"WTREGEN", 1e9},   /* billions of USD (FRED rescaled the H.4.1 TGA), weekly */
	{"RRPONTSYD", 1e9}, /* billions of USD, business days */
};

#define NSERIES (sizeof(SERIES) / sizeof(SERIES[0]))

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	return lav_scale_match(SERIES, NSERIES, f, "FRED series", err, errlen);
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	char d0[11], d1[11];
	lav_format_date(ctx->since, d0);
	lav_format_date(ctx->until - 1, d1);
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/fred/series/observations");
	lav_url_param(&url, "series_id", ctx->feature->source_series);
	if (ctx->source->key)
		lav_url_param(&url, "api_key", ctx->source->key);
	lav_url_param(&url, "file_type", "json");
	lav_url_param(&url, "observation_start", d0);
	lav_url_param(&url, "observation_end", d1);
	lav_fetch_req_set(out, &url, "api_key");
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
	double scale = lav_scale_of(SERIES, NSERIES, ctx->feature)->scale;
	json_t *obs = json_object_get(doc, "observations");
	if (!json_is_array(obs)) {
		json_t *msg = json_object_get(doc, "error_message");
		lav_adapter_errf(err, errlen, "no \"observations\" array%s%s",
				 json_is_string(msg) ? ": " : "",
				 json_is_string(msg) ? json_string_value(msg) : "");
		goto done;
	}
	size_t from = out->n, i;
	json_t *o;
	json_array_foreach(obs, i, o)
	{
		const char *date = json_string_value(json_object_get(o, "date"));
		json_t *v = json_object_get(o, "value");
		int64_t ts;
		if (!date || !lav_parse_date(date, &ts)) {
			lav_adapter_errf(err, errlen, "observations[%zu].date: not a YYYY-MM-DD date",
					 i);
			goto done;
		}
		if (json_is_string(v) && strcmp(json_string_value(v), ".") == 0)
			continue; /* FRED's missing value: no observation, never 0 */
		double x;
		if (!lav_json_num(v, &x)) {
			lav_adapter_errf(err, errlen, "observations[%zu].value: not a number", i);
			goto done;
		}
		if (lav_in_range(ctx, ts))
			lav_obs_push(out, ts, 0, x * scale);
	}
	lav_obs_sort(out, from);
	ok = true;
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_fred = {
	.name = "fred/series/observations",
	.source_id = "fred",
	.history = LAV_HISTORY_RANGE,
	/* daily series follow the Fed's business days; weekly ones (Wednesdays)
	 * are not thinned by a calendar */
	.calendar = LAV_CAL_US_FEDERAL,
	.match = match,
	.request = request,
	.parse = parse,
};
