/* What an adapter file provides, and the helpers they share. Internal to
 * src/ingest/. */
#ifndef LAV_INGEST_ADAPTER_IMPL_H
#define LAV_INGEST_ADAPTER_IMPL_H

#include <jansson.h>

#include "lav/adapter.h"
#include "lav/buf.h"

struct lav_adapter {
	const char *name;
	const char *source_id;
	enum lav_history history;
	enum lav_calendar calendar; /* the upstream's business days; 0: every day */
	int64_t period_us;	    /* 0: the feature's frequency */
	/* 1: this adapter serves f; 0: not this one; -1: this source but a
	 * series it cannot serve (err says why) */
	int (*match)(const struct lav_feature *f, char *err, size_t errlen);
	bool (*request)(const struct lav_adapter_ctx *ctx, struct lav_fetch_req *out, char *err,
			size_t errlen);
	/* body is NUL-terminated; the status was checked (2xx) by the caller */
	bool (*parse)(const struct lav_adapter_ctx *ctx, const char *body, size_t len,
		      struct lav_obs_vec *out, int64_t *next_since, char *err, size_t errlen);
};

extern const struct lav_adapter lav_adapter_fred, lav_adapter_farside,
	lav_adapter_llama_stables, lav_adapter_llama_chaintvl, lav_adapter_llama_protocols,
	lav_adapter_binance_klines, lav_adapter_binance_funding, lav_adapter_binance_oi,
	lav_adapter_blockchain, lav_adapter_etherscan, lav_adapter_tradingview,
	lav_adapter_cexagg;

bool lav_adapter_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "<base>/<path>": base is the source's URL when it came from the
 * environment or default_host is NULL, else default_host (another host of
 * the same provider). Sets url and public_url; secret (may be NULL) is
 * the key appended by the caller through lav_url_param. */
void lav_url_begin(struct lav_buf *url, const struct lav_adapter_ctx *ctx,
		   const char *default_host, const char *path);
/* Appends "?k=v" or "&k=v", percent-encoding v. */
void lav_url_param(struct lav_buf *url, const char *k, const char *v);
void lav_url_param_int(struct lav_buf *url, const char *k, int64_t v);
/* Fills out from a URL whose secret parameter value (if any) is replaced
 * by *** in public_url. Takes url's storage. */
void lav_fetch_req_set(struct lav_fetch_req *out, struct lav_buf *url, const char *secret_param);

/* jansson document or a precise error. */
json_t *lav_adapter_json(const char *body, size_t len, char *err, size_t errlen);
/* A finite number from a JSON number or a numeric string. */
bool lav_json_num(const json_t *v, double *out);
/* int64 from a JSON integer, or an integer string. */
bool lav_json_int(const json_t *v, int64_t *out);

/* Rows of an upstream's JSON array, [{key_ts: time, key_value: number}]:
 * time counts ts_unit_us (1e6 for seconds, 1e3 for ms) and is floored to
 * floor_us; the value is multiplied by scale. Appends, sorted, the rows in
 * ctx's range and not after the fetch; *last is the last row's ts (-1 when
 * there is none), for paginating upstreams. where names the array in
 * errors ("values"). */
bool lav_rows_to_obs(const struct lav_adapter_ctx *ctx, const json_t *rows, const char *where,
		     const char *key_ts, int64_t ts_unit_us, int64_t floor_us, const char *key_value,
		     double scale, struct lav_obs_vec *out, int64_t *last, char *err,
		     size_t errlen);

/* Upstream unit → catalog unit, per series. */
struct lav_series_scale {
	const char *series;
	double scale;
};
/* The entry of f's source.series, or NULL. */
const struct lav_series_scale *lav_scale_of(const struct lav_series_scale *table, size_t n,
					    const struct lav_feature *f);
/* An adapter's match over its scale table: 1 when f's series is in it, else
 * -1 with an error naming what (e.g. "FRED series") and every known series. */
int lav_scale_match(const struct lav_series_scale *table, size_t n, const struct lav_feature *f,
		    const char *what, char *err, size_t errlen);

/* "2024-01-03" → µs at 00:00 UTC. */
bool lav_parse_date(const char *s, int64_t *out);
void lav_format_date(int64_t us, char out[11]);
int64_t lav_floor_us(int64_t t, int64_t period);

static inline bool lav_in_range(const struct lav_adapter_ctx *ctx, int64_t ts)
{
	return ts >= ctx->since && ts < ctx->until;
}
/* Sorts out's observations from index from by ts; a ts seen twice keeps the
 * later one (upstreams repeat the current period). */
void lav_obs_sort(struct lav_obs_vec *out, size_t from);

#endif
