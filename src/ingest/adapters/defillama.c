/* DefiLlama (https://api-docs.defillama.com/): stablecoin supply history
 * (stablecoins.llama.fi/stablecoincharts/all), a chain's TVL history
 * (/v2/historicalChainTvl/<chain>) and the protocol list (/protocols). */
#include <string.h>

#include "../adapter_impl.h"
#include "lav/timefmt.h"

#define STABLES_HOST "https://stablecoins.llama.fi"

static bool series_is(const struct lav_feature *f, const char *s)
{
	return f->source_series && strcmp(f->source_series, s) == 0;
}

/* ---- stablecoincharts/all ---- */

static int match_stables(const struct lav_feature *f, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return series_is(f, "stablecoincharts/all");
}

static bool request_stables(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out,
			    char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, STABLES_HOST, "/stablecoincharts/all");
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

static bool is_yoy(const struct lav_feature *f)
{
	return f->derived && strcmp(f->derived->op, "yoy") == 0;
}

/* [{"date": "1609459200", "totalCirculatingUSD": {"peggedUSD": 2.8e10, ...}}]:
 * the market cap is the sum over pegs, in USD; the derived _yoy feature is
 * its year-over-year change computed from the same history. */
static bool parse_stables(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
			  struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	(void)next_since;
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	bool ok = false;
	struct lav_obs_vec all = {0};
	if (!json_is_array(doc)) {
		lav_adapter_errf(err, errlen, "expected an array of days");
		goto done;
	}
	size_t i;
	json_t *day;
	json_array_foreach(doc, i, day)
	{
		int64_t secs;
		json_t *usd = json_object_get(day, "totalCirculatingUSD");
		if (!lav_json_int(json_object_get(day, "date"), &secs) || !json_is_object(usd)) {
			lav_adapter_errf(err, errlen, "[%zu]: needs \"date\" and \"totalCirculatingUSD\"",
					 i);
			goto done;
		}
		double sum = 0;
		const char *peg;
		json_t *v;
		json_object_foreach(usd, peg, v)
		{
			double x;
			if (json_is_null(v))
				continue;
			if (!lav_json_num(v, &x)) {
				lav_adapter_errf(err, errlen, "[%zu].totalCirculatingUSD.%.32s: not a number",
						 i, peg);
				goto done;
			}
			sum += x;
		}
		lav_obs_push(&all, lav_floor_us(secs * LAV_US_PER_S, LAV_US_PER_DAY), 0, sum);
	}
	lav_obs_sort(&all, 0);
	size_t from = out->n;
	for (size_t k = 0; k < all.n; k++) {
		if (!lav_in_range(ctx, all.v[k].ts))
			continue;
		double v = all.v[k].value;
		if (is_yoy(ctx->feature) && !lav_yoy_at(all.v, all.n, k, &v))
			continue; /* less than a year of history: not invented */
		lav_obs_push(out, all.v[k].ts, 0, v);
	}
	lav_obs_sort(out, from);
	ok = true;
done:
	lav_obs_free(&all);
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_llama_stables = {
	.name = "defillama/stablecoincharts",
	.source_id = "defillama",
	.history = LAV_HISTORY_FULL,
	.period_us = LAV_US_PER_DAY,
	.match = match_stables,
	.request = request_stables,
	.parse = parse_stables,
};

/* ---- v2/historicalChainTvl/<chain> ---- */

static int match_chaintvl(const struct lav_feature *f, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	const char *p = "v2/historicalChainTvl/";
	return f->source_series && strncmp(f->source_series, p, strlen(p)) == 0 &&
	       f->source_series[strlen(p)] && !strchr(f->source_series + strlen(p), '/');
}

static bool request_chaintvl(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out,
			     char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/v2/historicalChainTvl/");
	const char *chain = ctx->feature->source_series + strlen("v2/historicalChainTvl/");
	for (const char *c = chain; *c; c++) /* chain names are letters, digits, spaces */
		if (*c == ' ')
			lav_buf_puts(&url, "%20");
		else
			lav_buf_putc(&url, *c);
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

/* [{"date": 1609459200, "tvl": 1.2e10}] */
static bool parse_chaintvl(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
			   struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	(void)next_since;
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	int64_t last;
	bool ok = lav_rows_to_obs(ctx, doc, "", "date", LAV_US_PER_S, 1, "tvl", 1.0, out, &last,
				  err, errlen);
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_llama_chaintvl = {
	.name = "defillama/historicalChainTvl",
	.source_id = "defillama",
	.history = LAV_HISTORY_FULL,
	.period_us = LAV_US_PER_DAY,
	.match = match_chaintvl,
	.request = request_chaintvl,
	.parse = parse_chaintvl,
};

/* ---- protocols?category=<category> ---- */

#define PROTOCOLS_PREFIX "protocols?category="

static int match_protocols(const struct lav_feature *f, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return f->source_series && strncmp(f->source_series, PROTOCOLS_PREFIX,
					   strlen(PROTOCOLS_PREFIX)) == 0 &&
	       f->source_series[strlen(PROTOCOLS_PREFIX)];
}

static bool request_protocols(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out,
			      char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct lav_buf url = LAV_BUF_INIT;
	lav_url_begin(&url, ctx, NULL, "/protocols");
	lav_fetch_req_set(out, &url, NULL);
	return true;
}

/* The current TVL of every protocol: the sum over one category, stamped at
 * the period the fetch fell in. */
static bool parse_protocols(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
			    struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen)
{
	(void)next_since;
	json_t *doc = lav_adapter_json(body, len, err, errlen);
	if (!doc)
		return false;
	bool ok = false;
	if (!json_is_array(doc)) {
		lav_adapter_errf(err, errlen, "expected an array of protocols");
		goto done;
	}
	const char *want = ctx->feature->source_series + strlen(PROTOCOLS_PREFIX);
	double sum = 0;
	size_t matched = 0, i;
	json_t *p;
	json_array_foreach(doc, i, p)
	{
		const char *cat = json_string_value(json_object_get(p, "category"));
		if (!cat || strcmp(cat, want) != 0)
			continue;
		json_t *tvl = json_object_get(p, "tvl");
		double x;
		if (json_is_null(tvl) || !tvl)
			continue; /* listed without a TVL yet */
		if (!lav_json_num(tvl, &x)) {
			lav_adapter_errf(err, errlen, "[%zu].tvl: not a number", i);
			goto done;
		}
		sum += x;
		matched++;
	}
	if (matched == 0) {
		lav_adapter_errf(err, errlen, "no protocol of category \"%.64s\" with a tvl", want);
		goto done;
	}
	int64_t period = lav_frequency_ms(ctx->feature->frequency) * LAV_US_PER_MS;
	int64_t ts = lav_floor_us(ctx->fetched_at, period ? period : 60 * LAV_US_PER_S);
	if (lav_in_range(ctx, ts))
		lav_obs_push(out, ts, ctx->fetched_at, sum);
	ok = true;
done:
	json_decref(doc);
	return ok;
}

const struct lav_adapter lav_adapter_llama_protocols = {
	.name = "defillama/protocols",
	.source_id = "defillama",
	.history = LAV_HISTORY_NONE,
	.match = match_protocols,
	.request = request_protocols,
	.parse = parse_protocols,
};
