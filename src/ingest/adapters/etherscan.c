/* Etherscan gas oracle, API v2 (https://docs.etherscan.io/):
 * {"status": "1", "message": "OK", "result": {"ProposeGasPrice": "12.5", ...}}
 * in gwei; errors come with HTTP 200 as {"status": "0", "message": "NOTOK",
 * "result": "Invalid API Key"}. Only the current value is served. */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

static int match(const struct lav_feature *f, char *err, size_t errlen)
{
	if (f->source_series && strcmp(f->source_series, "gastracker") == 0)
		return 1;
	lav_adapter_errf(err, errlen, "feature \"%s\": Etherscan series must be \"gastracker\"",
			 f->id);
	return -1;
}

static bool request(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		    size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/v2/api");
	lav_url_param(&url, "chainid", "1");
	lav_url_param(&url, "module", "gastracker");
	lav_url_param(&url, "action", "gasoracle");
	if (ctx->source->key)
		lav_url_param(&url, "apikey", ctx->source->key);
	lav_fetch_req_set(out, &url, "apikey");
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
	json_t *result = json_object_get(doc, "result");
	if (!status || strcmp(status, "1") != 0) {
		const char *why = json_string_value(result);
		if (!why)
			why = json_string_value(json_object_get(doc, "message"));
		lav_adapter_errf(err, errlen, "status %s: %s", status ? status : "missing",
				 why ? why : "no message");
		goto done;
	}
	double gwei;
	if (!lav_json_num(json_object_get(result, "ProposeGasPrice"), &gwei)) {
		lav_adapter_errf(err, errlen, "result.ProposeGasPrice: not a number");
		goto done;
	}
	int64_t ts = lav_floor_us(ctx->fetched_at,
				  lav_frequency_ms(ctx->feature->frequency) * LAV_US_PER_MS);
	if (lav_in_range(ctx, ts))
		lav_obs_push(out, ts, ctx->fetched_at, gwei);
	ok = true;
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_etherscan = {
	.name = "etherscan/gasoracle",
	.source_id = "etherscan",
	.history = LAV_HISTORY_NONE,
	.match = match,
	.request = request,
	.parse = parse,
};
