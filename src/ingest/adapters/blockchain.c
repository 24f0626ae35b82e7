/* Blockchain.com charts (https://www.blockchain.com/explorer/api/charts_api):
 * /charts/<name>?timespan=&start=&format=json&sampled=false answers
 * {"status": "ok", "unit": "Hash Rate TH/s", "period": "day",
 *  "values": [{"x": <unix seconds>, "y": <value>}]}. */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

static const struct lav_series_scale CHARTS[] = {
	{"hash-rate", 1e-6},	 /* TH/s → EH/s */
	{"total-bitcoins", 1.0}, /* BTC */
};
#define NCHARTS (sizeof(CHARTS) / sizeof(CHARTS[0]))

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	return lav_scale_match(CHARTS, NCHARTS, f, "blockchain.com chart", err, errlen);
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	char d0[11], path[96];
	lav_format_date(ctx->since, d0);
	int64_t days = (ctx->until - lav_floor_us(ctx->since, LAV_US_PER_DAY) + LAV_US_PER_DAY - 1) /
		       LAV_US_PER_DAY;
	char span[32];
	snprintf(span, sizeof(span), "%llddays", (long long)days);
	snprintf(path, sizeof(path), "/charts/%s", ctx->feature->source_series);
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, path);
	lav_url_param(&url, "timespan", span);
	lav_url_param(&url, "start", d0);
	lav_url_param(&url, "format", "json");
	lav_url_param(&url, "sampled", "false");
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
	const char *status = json_string_value(json_object_get(doc, "status"));
	json_t *values = json_object_get(doc, "values");
	if (!status || strcmp(status, "ok") != 0 || !json_is_array(values)) {
		lav_adapter_errf(err, errlen, "expected {\"status\": \"ok\", \"values\": [...]}%s%s",
				 status ? ", got status " : "", status ? status : "");
		goto done;
	}
	int64_t last;
	ok = lav_rows_to_obs(ctx, values, "values", "x", LAV_US_PER_S, LAV_US_PER_DAY, "y",
			     lav_scale_of(CHARTS, NCHARTS, ctx->feature)->scale, out, &last, err,
			     errlen);
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_blockchain = {
	.name = "blockchain-com/charts",
	.source_id = "blockchain-com",
	.history = LAV_HISTORY_RANGE,
	.period_us = LAV_US_PER_DAY,
	.match = match,
	.request = request,
	.parse = parse,
};
