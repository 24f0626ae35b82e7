/* Source adapters: for one catalog feature, the HTTP request that fetches a
 * range of its upstream series, and the parser of the upstream's real
 * response format into observations normalized to the catalog's unit
 * (USD, not millions; EH/s, not TH/s) and UTC time (daily dates at 00:00).
 * Pure: no I/O, no clock; the caller fetches and passes the fetch time. */
#ifndef LAV_ADAPTER_H
#define LAV_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lav/calendar.h"
#include "lav/catalog.h"

/* How much history an upstream endpoint serves. */
enum lav_history {
	LAV_HISTORY_RANGE, /* any [since, until) on request (FRED, klines, charts) */
	LAV_HISTORY_FULL,  /* the whole history in every answer (Farside, DefiLlama) */
	LAV_HISTORY_NONE,  /* only the current value (gas oracle, scanner) */
};

struct lav_obs {
	int64_t ts;	      /* valid time, µs UTC */
	int64_t available_at; /* 0: ts + publication_delay, capped by the fetch time */
	double value;	      /* in the catalog unit */
};

struct lav_obs_vec {
	struct lav_obs *v;
	size_t n, cap;
};
void lav_obs_push(struct lav_obs_vec *o, int64_t ts, int64_t available_at, double value);
void lav_obs_free(struct lav_obs_vec *o);

/* One request to an upstream. url carries secrets (api keys); public_url is
 * the same with every secret replaced by "***": the only form logged or
 * stored as evidence. */
struct lav_fetch_req {
	char *url;
	char *public_url;
	char *body; /* NULL: GET; else POST with content_type */
	const char *content_type;
};
void lav_fetch_req_free(struct lav_fetch_req *r);

struct lav_adapter_ctx {
	const struct lav_feature *feature;
	const struct lav_source *source;
	int64_t since, until; /* wanted valid-time range [since, until), µs */
	int64_t fetched_at;   /* when the answer was received (parse only) */
};

/* The adapter of a feature, by source id and source.series; NULL with a
 * message when lav cannot fetch that series (checked at start). */
struct lav_adapter;
const struct lav_adapter *lav_adapter_for(const struct lav_feature *f, char *err, size_t errlen);
const char *lav_adapter_name(const struct lav_adapter *a);
enum lav_history lav_adapter_history(const struct lav_adapter *a);
/* The upstream's business days: a daily series expects no slot on the
 * calendar's closed days (weekends, holidays). */
enum lav_calendar lav_adapter_calendar(const struct lav_adapter *a);
/* The upstream's granularity for f: the period gap detection expects. */
int64_t lav_adapter_period_us(const struct lav_adapter *a, const struct lav_feature *f);

/* Builds the request for ctx's range (the first page). */
bool lav_adapter_request(const struct lav_adapter *a, const struct lav_adapter_ctx *ctx,
			 struct lav_fetch_req *out, char *err, size_t errlen);

/* Parses an answer. Appends the observations with since <= ts < until,
 * sorted by ts, skipping the upstream's missing values (FRED's "."). When
 * the upstream paginates and more of the range remains, *next_since is set
 * to where the next request starts (else -1). HTTP errors and malformed or
 * unexpected bodies return false with a message quoting the upstream's own
 * error text when it has one. */
bool lav_adapter_parse(const struct lav_adapter *a, const struct lav_adapter_ctx *ctx,
		       long http_status, const char *body, size_t len, struct lav_obs_vec *out,
		       int64_t *next_since, char *err, size_t errlen);

/* yoy: value(t) / value(t - 365 d) - 1, with value(t - 365 d) the newest
 * observation at or before t - 365 d; false when there is none or it is 0.
 * obs sorted by ts. */
bool lav_yoy_at(const struct lav_obs *obs, size_t n, size_t i, double *out);

#endif
