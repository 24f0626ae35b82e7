/* Binance public market data (https://developers.binance.com/): spot klines
 * on api.binance.com, funding rates and open interest history on the USDⓈ-M
 * futures host fapi.binance.com. Series: "klines/BTCUSDT/1m/close",
 * "klines/BTCUSDT/1h/quote_volume", "fundingRate/BTCUSDT",
 * "openInterestHist/BTCUSDT/1h". */
#include <stdio.h>
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

#define FUTURES_HOST "https://fapi.binance.com"
#define KLINES_LIMIT 1000
#define FUNDING_LIMIT 1000
#define OI_LIMIT 500

static bool symbol_ok(const char *s, size_t n)
{
	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* "1m" … "1d" as Binance spells them, in µs. */
static int64_t interval_us(const char *s)
{
	static const struct {
		const char *name;
		int64_t us;
	} I[] = {{"1m", 60 * LAV_US_PER_S},	  {"5m", 300 * LAV_US_PER_S},
		 {"15m", 900 * LAV_US_PER_S},	  {"1h", 3600 * LAV_US_PER_S},
		 {"4h", 4 * 3600 * LAV_US_PER_S}, {"1d", LAV_US_PER_DAY}};
	for (size_t i = 0; i < sizeof(I) / sizeof(I[0]); i++)
		if (strcmp(s, I[i].name) == 0)
			return I[i].us;
	return 0;
}

/* Splits "a/b/c/d" into at most 4 parts of at most 31 chars; returns count. */
static int split(const char *s, char parts[4][32])
{
	int n = 0;
	while (n < 4) {
		const char *slash = strchr(s, '/');
		size_t len = slash ? (size_t)(slash - s) : strlen(s);
		if (len >= 32)
			return -1;
		memcpy(parts[n], s, len);
		parts[n][len] = '\0';
		n++;
		if (!slash)
			return n;
		s = slash + 1;
	}
	return -1;
}

/* ---- klines ---- */

enum kline_field { KF_CLOSE, KF_QUOTE_VOLUME, KF_VOLUME };

static bool kline_series(const struct lav_feature *f, char sym[32], int64_t *iv,
			 enum kline_field *field)
{
	char p[4][32];
	if (!f->source_series || split(f->source_series, p) != 4 || strcmp(p[0], "klines") != 0)
		return false;
	if (!symbol_ok(p[1], strlen(p[1])) || !(*iv = interval_us(p[2])))
		return false;
	if (strcmp(p[3], "close") == 0)
		*field = KF_CLOSE;
	else if (strcmp(p[3], "quote_volume") == 0)
		*field = KF_QUOTE_VOLUME;
	else if (strcmp(p[3], "volume") == 0)
		*field = KF_VOLUME;
	else
		return false;
	memcpy(sym, p[1], 32);
	return true;
}

static int match_klines(const struct lav_feature *f, char *err, size_t errlen)
{
	char sym[32];
	int64_t iv;
	enum kline_field fld;
	if (!f->source_series || strncmp(f->source_series, "klines/", 7) != 0)
		return 0;
	if (kline_series(f, sym, &iv, &fld))
		return 1;
	lav_adapter_errf(err, errlen,
			 "feature \"%s\": Binance series must be klines/SYMBOL/INTERVAL/"
			 "close|quote_volume|volume",
			 f->id);
	return -1;
}

/* A candle is stamped at its close (open + interval): the price at ts is the
 * last trade before ts, the volume at ts covers the interval ending at ts. */
static bool request_klines(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out,
			   char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	char sym[32], ivname[32];
	int64_t iv;
	enum kline_field fld;
	kline_series(ctx->feature, sym, &iv, &fld);
	char p[4][32];
	split(ctx->feature->source_series, p);
	memcpy(ivname, p[2], sizeof(ivname));
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/api/v3/klines");
	lav_url_param(&url, "symbol", sym);
	lav_url_param(&url, "interval", ivname);
	lav_url_param_int(&url, "startTime", (ctx->since - iv) / LAV_US_PER_MS);
	lav_url_param_int(&url, "endTime", (ctx->until - iv) / LAV_US_PER_MS - 1);
	lav_url_param_int(&url, "limit", KLINES_LIMIT);
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

static bool parse_klines(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
			 struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	char sym[32];
	int64_t iv;
	enum kline_field fld;
	kline_series(ctx->feature, sym, &iv, &fld);
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	bool ok = false;
	if (!json_is_array(doc)) {
		json_t *msg = json_object_get(doc, "msg");
		lav_adapter_errf(err, errlen, "expected an array of klines%s%s",
				 json_is_string(msg) ? ": " : "",
				 json_is_string(msg) ? json_string_value(msg) : "");
		goto done;
	}
	size_t from = out->n, i;
	int64_t last_close = -1;
	json_t *k;
	json_array_foreach(doc, i, k)
	{
		int64_t open_ms, close_ms;
		double v;
		int col = fld == KF_CLOSE ? 4 : fld == KF_VOLUME ? 5 : 7;
		if (!json_is_array(k) || json_array_size(k) < 8 ||
		    !lav_json_int(json_array_get(k, 0), &open_ms) ||
		    !lav_json_int(json_array_get(k, 6), &close_ms) ||
		    !lav_json_num(json_array_get(k, (size_t)col), &v)) {
			lav_adapter_errf(err, errlen,
					 "[%zu]: not a kline [openTime, open, high, low, close, "
					 "volume, closeTime, quoteVolume, ...]",
					 i);
			goto done;
		}
		int64_t ts = (close_ms + 1) * LAV_US_PER_MS;
		last_close = ts;
		if (ts > ctx->fetched_at)
			continue; /* still open: its close is not a close yet */
		if (lav_in_range(ctx, ts))
			lav_obs_push(out, ts, 0, v);
	}
	if (json_array_size(doc) >= KLINES_LIMIT && last_close >= 0 && last_close + iv < ctx->until)
		*next_since = last_close + iv;
	lav_obs_sort(out, from);
	ok = true;
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_binance_klines = {
	.name = "binance/klines",
	.source_id = "binance-api",
	.history = LAV_HISTORY_RANGE,
	.match = match_klines,
	.request = request_klines,
	.parse = parse_klines,
};

/* ---- fundingRate/SYMBOL ---- */

static bool simple_series(const struct lav_feature *f, const char *kind, int nparts,
			  char p[4][32])
{
	return f->source_series && split(f->source_series, p) == nparts &&
	       strcmp(p[0], kind) == 0 && symbol_ok(p[1], strlen(p[1]));
}

static int match_funding(const struct lav_feature *f, char *err, size_t errlen)
{
	char p[4][32];
	if (!f->source_series || strncmp(f->source_series, "fundingRate/", 12) != 0)
		return 0;
	if (simple_series(f, "fundingRate", 2, p))
		return 1;
	lav_adapter_errf(err, errlen, "feature \"%s\": expected fundingRate/SYMBOL", f->id);
	return -1;
}

static bool request_funding(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out,
			    char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	char p[4][32];
	split(ctx->feature->source_series, p);
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, FUTURES_HOST, "/fapi/v1/fundingRate");
	lav_url_param(&url, "symbol", p[1]);
	lav_url_param_int(&url, "startTime", ctx->since / LAV_US_PER_MS);
	lav_url_param_int(&url, "endTime", (ctx->until - 1) / LAV_US_PER_MS);
	lav_url_param_int(&url, "limit", FUNDING_LIMIT);
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

/* An array of rows, {key_ts (ms), key_value}, paginated by limit. */
static bool parse_rows(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
		       const char *key_ts, const char *key_value, size_t limit,
		       struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	int64_t last;
	json_t *msg = json_object_get(doc, "msg");
	bool ok = json_is_string(msg)
			  ? lav_adapter_errf(err, errlen, "expected an array: %s",
					     json_string_value(msg))
			  : lav_rows_to_obs(ctx, doc, "", key_ts, LAV_US_PER_MS, LAV_US_PER_S,
					    key_value, 1.0, out, &last, err, errlen);
	if (ok && json_array_size(doc) >= limit && last >= 0 && last + 1 < ctx->until)
		*next_since = last + 1;
	json_decref(doc);
	return ok;
}

/* fundingTime carries a few ms of jitter (…000008): stamped to the second */
static bool parse_funding(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
			  struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	return parse_rows(ctx, body, len, "fundingTime", "fundingRate", FUNDING_LIMIT, out,
			  next_since, err, errlen);
}

const struct lav_adapter lav_adapter_binance_funding = {
	.name = "binance/fundingRate",
	.source_id = "binance-api",
	.history = LAV_HISTORY_RANGE,
	.period_us = 8 * 3600 * LAV_US_PER_S, /* funding every 8 h */
	.match = match_funding,
	.request = request_funding,
	.parse = parse_funding,
};

/* ---- openInterestHist/SYMBOL/PERIOD ---- */

static int match_oi(const struct lav_feature *f, char *err, size_t errlen)
{
	char p[4][32];
	if (!f->source_series || strncmp(f->source_series, "openInterestHist/", 17) != 0)
		return 0;
	if (simple_series(f, "openInterestHist", 3, p) && interval_us(p[2]))
		return 1;
	lav_adapter_errf(err, errlen, "feature \"%s\": expected openInterestHist/SYMBOL/PERIOD",
			 f->id);
	return -1;
}

static bool request_oi(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
		       size_t errlen)
{
	(void)err;
	(void)errlen;
	char p[4][32];
	split(ctx->feature->source_series, p);
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, FUTURES_HOST, "/futures/data/openInterestHist");
	lav_url_param(&url, "symbol", p[1]);
	lav_url_param(&url, "period", p[2]);
	lav_url_param_int(&url, "startTime", ctx->since / LAV_US_PER_MS);
	lav_url_param_int(&url, "endTime", (ctx->until - 1) / LAV_US_PER_MS);
	lav_url_param_int(&url, "limit", OI_LIMIT);
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

static bool parse_oi(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
		     struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	return parse_rows(ctx, body, len, "timestamp", "sumOpenInterestValue", OI_LIMIT, out,
			  next_since, err, errlen);
}

const struct lav_adapter lav_adapter_binance_oi = {
	.name = "binance/openInterestHist",
	.source_id = "binance-api",
	.history = LAV_HISTORY_RANGE,
	.match = match_oi,
	.request = request_oi,
	.parse = parse_oi,
};
