/* TradingView's screener endpoint (scanner.tradingview.com/<market>/scan):
 * POST {"symbols": {"tickers": ["TVC:DXY"]}, "columns": ["close"]} answers
 * {"totalCount": 1, "data": [{"s": "TVC:DXY", "d": [104.23]}]}. Only the
 * current value: stamped at the fetch day, known at the fetch time. */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

static bool ticker_ok(const char *s)
{
	const char *colon = s ? strchr(s, ':') : NULL;
	if (!colon || colon == s || !colon[1] || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == ':' ||
		      *p == '_' || *p == '.' || *p == '!'))
			return false;
	return true;
}

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	if (ticker_ok(f->source_series))
		return 1;
	lav_adapter_errf(err, errlen,
			 "feature \"%s\": TradingView series must be EXCHANGE:SYMBOL (TVC:DXY)",
			 f->id);
	return -1;
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/global/scan");
	lav_fetch_req_set(out, &url, NULL);
	json_t *body = json_pack("{s:{s:[s],s:{s:[]}},s:[s]}", "symbols", "tickers",
				 ctx->feature->source_series, "query", "types", "columns", "close");
	out->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	out->content_type = "application/json";
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
	json_t *data = json_object_get(doc, "data");
	if (!json_is_array(data)) {
		lav_adapter_errf(err, errlen, "expected {\"data\": [...]}");
		goto done;
	}
	size_t i;
	json_t *row;
	json_array_foreach(data, i, row)
	{
		const char *s = json_string_value(json_object_get(row, "s"));
		if (!s || strcmp(s, ctx->feature->source_series) != 0)
			continue;
		double v;
		json_t *d = json_object_get(row, "d");
		if (!json_is_array(d) || !lav_json_num(json_array_get(d, 0), &v)) {
			lav_adapter_errf(err, errlen, "data[%zu].d[0]: no close for %s", i, s);
			goto done;
		}
		int64_t ts = lav_floor_us(ctx->fetched_at, LAV_US_PER_DAY);
		if (lav_in_range(ctx, ts))
			lav_obs_push(out, ts, ctx->fetched_at, v);
		ok = true;
		goto done;
	}
	lav_adapter_errf(err, errlen, "%s is not in the answer", ctx->feature->source_series);
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_tradingview = {
	.name = "tradingview/scan",
	.source_id = "tradingview",
	.history = LAV_HISTORY_NONE,
	/* DXY trades on US holidays that close SPX and VIX: weekdays fits all three */
	.calendar = LAV_CAL_WEEKDAYS,
	.period_us = LAV_US_PER_DAY,
	.match = match,
	.request = request,
	.parse = parse,
};
